"""do_shrink_slab (v5.0 mm/vmscan.c L452-580) on a hand-sized cache."""

from __future__ import annotations

from mmsim import Node
from mmsim.mm.page_alloc import alloc_pages_bulk
from mmsim.mm.slab import get_slab_cache


def _cache(pages: int):
    node = Node.build(zones={"Normal": "64MiB"})
    cache = get_slab_cache(node)
    cache.add(alloc_pages_bulk(node, pages, "GFP_KERNEL|__GFP_RECLAIMABLE", kind="slab"))
    return node, cache


def test_small_cache_at_priority_zero_scans_one_batch_and_defers_the_rest() -> None:
    # 5 pages x 21 = 105 objects. delta = 105 * 4 / 2 = 210 (not < 105/4: no half-cache
    # clamp), capped at 2 x 105 = 210. Loop: 128 scanned (>= batch), then 82 left: below
    # both the batch and freeable -> stop. slabs_scanned counts the whole batch (128); all
    # 105 objects go, so the 5 pages are freed; 210 - 128 = 82 is deferred
    node, cache = _cache(5)
    assert cache.shrink(node, 0) == 5
    assert node.machine.vm_events["slabs_scanned"] == 128
    assert cache.nr_deferred == 82 and cache.nr_pages == 0 and cache.count_objects() == 0


def test_dropped_objects_carry_to_the_next_page() -> None:
    # 100 pages = 2100 objects; priority 4: delta = (2100 >> 4) * 2 = 262 < 525, so
    # total_scan = min(262, 1050) = 262: two batches (256), 6 deferred. 256 objects =
    # 12 pages + 4 objects dropped from the 13th
    node, cache = _cache(100)
    assert cache.shrink(node, 4) == 12
    assert (cache.nr_deferred, cache.dropped, cache.count_objects()) == (6, 4, 88 * 21 - 4)
    # next call: delta = (1844 >> 4) * 2 = 230, + 6 deferred = 236 -> one batch of 128,
    # 108 deferred; 4 + 128 = 132 objects = 6 pages and 6 objects
    assert cache.shrink(node, 4) == 6
    assert (cache.nr_deferred, cache.dropped) == (108, 6)
