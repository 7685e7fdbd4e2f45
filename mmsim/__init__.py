"""mmsim: Linux v5.0 kswapd and kcompactd, visible and playable.

A page-granular model of a machine's memory-management state as Linux v5.0
keeps it - nodes, zones, the buddy allocator with migratetypes and
pageblocks, watermarks - with the reclaim and compaction daemons run against
workloads in simulated time, and Jupyter lessons on top.

Public names
------------
Node, Zone, Sysctl, KernelConfig
    The machine model (``mmsim.mm``).
parse_pages, format_pages
    Sizes.
"""

from __future__ import annotations

from mmsim.mm.mmzone import KernelConfig, Machine, Node, Zone
from mmsim.sysctl import Sysctl
from mmsim.units import format_pages, parse_pages

__version__ = "0.1.0"

__all__ = [
    "KernelConfig",
    "Machine",
    "Node",
    "Sysctl",
    "Zone",
    "__version__",
    "format_pages",
    "parse_pages",
]
