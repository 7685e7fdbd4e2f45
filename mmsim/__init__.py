"""mmsim: Linux v5.0 kswapd and kcompactd, visible and playable.

A page-granular model of a machine's memory-management state as Linux v5.0
keeps it - nodes, zones, the buddy allocator with migratetypes and
pageblocks, watermarks - with the reclaim and compaction daemons run against
workloads in simulated time, and Jupyter lessons on top.

Public names
------------
Node, Zone, Sysctl, KernelConfig
    The machine model (``mmsim.mm``).
Simulation, Result, CostModel
    Running daemons and workloads in simulated time.
scenarios, workloads, plots, widgets, exercises, lessons, sweep
    Loaded on first use.
parse_pages, format_pages
    Sizes.
"""

from __future__ import annotations

from typing import Any

from mmsim.cost import CostModel
from mmsim.mm.mmzone import KernelConfig, Machine, Node, Zone
from mmsim.simulation import Result, Simulation
from mmsim.sysctl import Sysctl
from mmsim.units import format_pages, parse_pages

__version__ = "0.1.0"

_LAZY = {"scenarios", "workloads", "plots", "widgets", "exercises", "lessons", "memmap",
         "trace", "procfs"}


def __getattr__(name: str) -> Any:
    """Submodules that pull in matplotlib or pandas are imported on first use."""
    import importlib

    if name in _LAZY:
        return importlib.import_module(f"mmsim.{name}")
    if name == "sweep":
        from mmsim.sweep import sweep

        return sweep
    raise AttributeError(f"module 'mmsim' has no attribute {name!r}")


__all__ = [
    "CostModel",
    "KernelConfig",
    "Machine",
    "Node",
    "Result",
    "Simulation",
    "Sysctl",
    "Zone",
    "__version__",
    "format_pages",
    "parse_pages",
]
