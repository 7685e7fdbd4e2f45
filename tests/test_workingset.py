"""Workingset shadows, refaults, writes, swap-ins and the LRU statistics (v5.0).

Each test works a small case by hand from the kernel functions it names
(mm/workingset.c, mm/swap.c, mm/filemap.c, mm/memory.c of v5.0). Reclaim is
stood in for by taking pages off their lists and handing them to
``vmscan._free_reclaimed`` in a chosen order, which is what ``shrink_page_list``
does with the pages it frees.
"""

from __future__ import annotations

import numpy as np
from compaction_layouts import drive as run

from mmsim import Node
from mmsim.mm import vmscan
from mmsim.mm.filemap import AnonRegion, FileMapping
from mmsim.mm.swap import (
    LRU_ACTIVE_ANON,
    LRU_ACTIVE_FILE,
    LRU_INACTIVE_FILE,
    PG_dirty,
    PG_referenced,
    PG_workingset,
    SwapArea,
    get_lruvec,
)


def evict(node: Node, pfns: list[int]) -> None:
    """Reclaim frees these pages, in this order."""
    lv = get_lruvec(node)
    arr = np.asarray(pfns, dtype=np.int64)
    lv.remove(arr)
    vmscan._free_reclaimed(node, lv, arr)


def test_eviction_ticks_the_clock_per_page_and_keeps_the_workingset_bit() -> None:
    # workingset_eviction: eviction = atomic_long_inc_return(&inactive_age), packed with
    # PageWorkingset; mmsim's shadow is age * 2 + bit
    node = Node.build(zones={"Normal": "16MiB"})
    lv = get_lruvec(node)
    f = FileMapping(node, 100, name="f")
    run(f.read([0, 1, 2, 3]))
    lv.flags[int(f.pfn[1])] |= PG_workingset
    evict(node, [int(f.pfn[i]) for i in (0, 1, 2, 3)])
    assert f.shadow[:4].tolist() == [1 * 2, 2 * 2 + 1, 3 * 2, 4 * 2]
    assert lv.inactive_age == 4


def test_refaults_one_by_one_activate_restore_and_tick_the_clock() -> None:
    node = Node.build(zones={"Normal": "16MiB"})
    lv = get_lruvec(node)
    g = FileMapping(node, 100, name="g")
    run(g.read([0, 1]))
    run(g.read([0, 1]))  # second read: mark_page_accessed activates both -> clock 2
    assert lv.node_lru_pages(LRU_ACTIVE_FILE) == 2 and lv.inactive_age == 2
    f = FileMapping(node, 100, name="f")
    run(f.read([0, 1, 2, 3]))
    lv.flags[int(f.pfn[1])] |= PG_workingset  # page 1 was in the workingset
    # evicted last-to-first: page 3 at clock 3, page 2 at 4, page 1 at 5, page 0 at 6
    evict(node, [int(f.pfn[i]) for i in (3, 2, 1, 0)])
    assert lv.inactive_age == 6
    run(f.read([0, 1, 2, 3]))
    # active file = 2. page 0: 6 - 6 = 0 <= 2, activate, clock 7; page 1: 7 - 5 = 2,
    # activate, clock 8, and it was workingset: restore; page 2: 8 - 4 = 4 > 2, stays
    # inactive (with one clock for the whole batch it would have been 6 - 4 = 2: active);
    # page 3: 8 - 3 = 5
    lru = [int(lv.lru[int(f.pfn[i])]) for i in range(4)]
    assert lru == [LRU_ACTIVE_FILE, LRU_ACTIVE_FILE, LRU_INACTIVE_FILE, LRU_INACTIVE_FILE]
    ws = [bool(lv.flags[int(f.pfn[i])] & PG_workingset) for i in range(4)]
    assert ws == [False, True, False, False]
    stat = node.node_stat
    assert (stat["workingset_refault"], stat["workingset_activate"],
            stat["workingset_restore"]) == (4, 2, 1)
    assert lv.inactive_age == 8


def test_lru_additions_and_activations_feed_the_scan_balance() -> None:
    # __pagevec_lru_add_fn and __activate_page call update_page_reclaim_stat: every page
    # added is "scanned" for its type, every page added active or activated "rotated"
    node = Node.build(zones={"Normal": "16MiB"})
    lv = get_lruvec(node)
    f = FileMapping(node, 100, name="f")
    run(f.read(range(5)))
    assert (lv.recent_scanned, lv.recent_rotated) == ([0, 5], [0, 0])
    run(f.read(range(5)))  # PG_referenced from the first read: all five activated
    assert (lv.recent_scanned, lv.recent_rotated) == ([0, 10], [0, 5])
    a = AnonRegion(node, 10, name="a")
    run(a.touch(range(3)))  # do_anonymous_page: straight onto the active list
    assert (lv.recent_scanned, lv.recent_rotated) == ([3, 10], [3, 5])


def test_write_neither_marks_accessed_nor_refaults() -> None:
    # grab_cache_page_write_begin: no FGP_ACCESSED; add_to_page_cache_lru skips
    # workingset_refault for __GFP_WRITE; a whole-page write reads nothing
    node = Node.build(zones={"Normal": "16MiB"})
    lv = get_lruvec(node)
    f = FileMapping(node, 100, name="f")
    assert run(f.write([0, 1])) == 2
    pfn0 = int(f.pfn[0])
    assert lv.flags[pfn0] == PG_dirty and lv.lru[pfn0] == LRU_INACTIVE_FILE
    run(f.write([0]))
    run(f.write([0]))
    assert lv.lru[int(f.pfn[0])] == LRU_INACTIVE_FILE  # writes never activate
    assert not lv.flags[int(f.pfn[0])] & PG_referenced
    ev = node.machine.vm_events
    assert ev["pgpgin"] == 0 and ev["pgactivate"] == 0
    evict(node, [int(f.pfn[0])])
    assert f.shadow[0] >= 0
    run(f.write([0]))
    assert node.node_stat.get("workingset_refault", 0) == 0
    assert f.shadow[0] == -1
    assert node.node_stat["nr_dirtied"] == 3  # 0 and 1, then 0 again after eviction


def test_swap_in_goes_active_and_counts_a_major_fault() -> None:
    # do_swap_page: the page read back (on the inactive list after swap readahead's
    # lru_add_drain) is activated with activate_page; handle_mm_fault counts PGFAULT for
    # every fault and PGMAJFAULT for this one
    node = Node.build(zones={"Normal": "16MiB"})
    node.machine.swap = SwapArea(64)
    lv = get_lruvec(node)
    a = AnonRegion(node, 10, name="a")
    run(a.touch([0]))
    assert node.machine.swap.get_swap_pages(1) == 1
    evict(node, [int(a.pfn[0])])  # swapped out: the pte holds a swap entry
    assert a.swapped[0] and a.pfn[0] == -1
    run(a.touch([0]))
    pfn = int(a.pfn[0])
    ev = node.machine.vm_events
    assert lv.lru[pfn] == LRU_ACTIVE_ANON
    assert (ev["pswpin"], ev["pgactivate"], ev["pgfault"], ev["pgmajfault"]) == (1, 1, 2, 1)
    # scan balance: the first fault (active) 1/1, the swap-in's add 1/0, its activation 1/1
    assert (lv.recent_scanned[0], lv.recent_rotated[0]) == (3, 2)
