"""Memory maps: what every page frame of a zone holds, for pictures of fragmentation.

``snapshot(node, "Normal")`` copies a zone's per-frame state (free, anon, file,
kernel, slab, reserved, ...), its pageblocks' migratetypes and skip bits at
the current simulated time. ``scanner_runs(node)`` lists the compaction runs
with the migrate and free scanners' positions over time, so a lesson can draw
the two scanners closing in on each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from mmsim.mm.mmzone import frame_state_names, migratetype_names, pageblock_order

if TYPE_CHECKING:  # pragma: no cover
    from mmsim.mm.mmzone import Node


@dataclass
class MemoryMap:
    """A zone's frames at one moment.

    Attributes
    ----------
    time : float
        Simulated seconds.
    zone : str
    start_pfn : int
        pfn of ``states[0]``.
    states : numpy.ndarray
        ``FRAME_*`` per frame (see ``mmsim.mm.mmzone.frame_state_names``).
    pageblock_start : int
        pfn of the first pageblock (aligned down).
    pageblock_mt : numpy.ndarray
        Migratetype per pageblock.
    pageblock_skip : numpy.ndarray
        Compaction skip bit per pageblock.
    """

    time: float
    zone: str
    start_pfn: int
    states: np.ndarray
    pageblock_start: int
    pageblock_mt: np.ndarray
    pageblock_skip: np.ndarray

    def counts(self) -> dict[str, int]:
        """Frames per state."""
        c = np.bincount(self.states, minlength=len(frame_state_names))
        return {name: int(c[i]) for i, name in enumerate(frame_state_names) if c[i]}

    def pageblock_types(self) -> dict[str, int]:
        c = np.bincount(self.pageblock_mt, minlength=len(migratetype_names))
        return {name: int(c[i]) for i, name in enumerate(migratetype_names) if c[i]}


def snapshot(node: Node, zone: str = "Normal") -> MemoryMap:
    """Copy the frame map of ``zone`` now."""
    z = node.zone(zone)
    base = node.node_start_pfn
    lo = z.zone_start_pfn - base
    states = node.state[lo:lo + z.spanned_pages].copy()
    pb0 = z.zone_start_pfn >> pageblock_order
    pb1 = ((z.zone_end_pfn - 1) >> pageblock_order) + 1 if z.spanned_pages else pb0
    sched = node.machine.sched
    return MemoryMap(
        time=sched.now if sched is not None else 0.0,
        zone=z.name,
        start_pfn=z.zone_start_pfn,
        states=states,
        pageblock_start=pb0 << pageblock_order,
        pageblock_mt=node.pageblock_mt[pb0 - node.pb_base:pb1 - node.pb_base].copy(),
        pageblock_skip=node.pageblock_skip[pb0 - node.pb_base:pb1 - node.pb_base].copy(),
    )


def scanner_runs(node: Node, zone: str | None = None) -> list[dict[str, Any]]:
    """Compaction runs so far: zone, order, direct?, start/end (s), result, positions.

    ``positions`` is a list of ``(time_s, migrate_pfn, free_pfn)``.
    """
    out = []
    for run in getattr(node, "compaction_log", []):
        if zone is not None and run["zone"] != zone:
            continue
        out.append({
            "zone": run["zone"], "order": run["order"], "direct": run["direct"],
            "start": run["start"] / 1e9, "end": run.get("end", run["start"]) / 1e9,
            "result": run.get("result", "running"),
            "positions": [(t / 1e9, m, f) for t, m, f in run["positions"]],
        })
    return out
