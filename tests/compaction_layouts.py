"""Hand-made page layouts for the compaction and kcompactd tests (not a test module).

``build_layout(codes)`` builds a Normal-only node of ``len(codes)`` pages
(zone starting at pfn 0) whose frames follow ``codes``, one character per pfn:

* ``F`` - a page-cache page of the mapping ``"layout"`` on the inactive file
  LRU, whose file index equals its pfn (so ``mapping.pfn[i]`` tells where
  the page that started at pfn ``i`` lives now);
* ``K`` - an unmovable kernel page (``FRAME_KERNEL``, not on any LRU);
* ``S`` - a reclaimable slab page (``FRAME_SLAB``, not on any LRU);
* ``.`` - free (the buddy allocator merges free neighbours as the kernel does).

Every frame is first allocated as an order-0 page, so free frames end up in
exactly the blocks that freeing those pfns gives. A 4096-page zone has
min/low/high = 128/160/192 and per-cpu lists with ``high`` 0 and ``batch`` 1
(``zone_batchsize``: 4096/1024/4 = 1, rounddown_pow_of_two(1) - 1 = 0), so a
freed page reaches the buddy lists at once.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np

from mmsim import Node
from mmsim.kthread import Run
from mmsim.mm.filemap import FileMapping
from mmsim.mm.mmzone import FRAME_FILE, FRAME_KERNEL, FRAME_SLAB, Zone
from mmsim.mm.page_alloc import ALLOC_NO_WATERMARKS, alloc_pages_bulk, free_pages_bulk
from mmsim.mm.swap import LRU_INACTIVE_FILE, get_lruvec

PAGEBLOCK = 512


def codes_of(n: int, default: str = "F") -> np.ndarray:
    """An array of ``n`` one-character codes, all ``default``."""
    return np.full(n, default, dtype="<U1")


def evens_file_odds_free(nblocks: int) -> np.ndarray:
    """Every even pfn a file page, every odd pfn free: the worst order-0 fragmentation."""
    c = codes_of(nblocks * PAGEBLOCK)
    c[1::2] = "."
    return c


def build_layout(codes: np.ndarray, **build_kw: Any) -> tuple[Node, Zone, FileMapping]:
    """Node, its Normal zone and the file mapping of the ``F`` pages (see module doc)."""
    codes = np.asarray(codes)
    n = int(codes.size)
    node = Node.build(zones={"Normal": n}, **build_kw)
    zone = node.zone("Normal")
    assert zone.zone_start_pfn == 0 and zone.spanned_pages == n
    pfns = alloc_pages_bulk(node, n, "GFP_HIGHUSER_MOVABLE", kind="file",
                            alloc_flags=ALLOC_NO_WATERMARKS)
    assert np.array_equal(np.sort(pfns), np.arange(n))
    f = FileMapping(node, n, name="layout")
    for code, kind in (("K", FRAME_KERNEL), ("S", FRAME_SLAB)):
        sel = np.flatnonzero(codes == code)
        node.state[sel] = kind
        zone.nr_state[FRAME_FILE] -= int(sel.size)
        zone.nr_state[kind] += int(sel.size)
    file_pfns = np.flatnonzero(codes == "F")
    f._adopt(file_pfns, f._check(file_pfns))  # _check grows the per-page arrays
    get_lruvec(node).add(file_pfns, LRU_INACTIVE_FILE)
    free = np.flatnonzero(codes == ".")
    if free.size:
        free_pages_bulk(node, free)
    return node, zone, f


def drive(gen: Generator[Any, Any, Any], each: Any = None) -> Any:
    """Run a task generator outside a simulation; returns its value.

    ``each()`` is called after every step (e.g. an invariant check).
    """
    try:
        while True:
            step = next(gen)
            assert isinstance(step, Run), f"unexpected {step!r} outside a simulation"
            if each is not None:
                each()
    except StopIteration as stop:
        return stop.value


def events_delta(node: Node, before: dict[str, int], names: list[str]) -> dict[str, int]:
    """How much each vmstat event grew since ``before``."""
    ev = node.machine.vm_events
    return {k: ev[k] - before.get(k, 0) for k in names}
