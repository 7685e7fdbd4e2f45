"""Exact buddy-allocator scenarios on tiny nodes, worked by hand from the v5.0 source.

Each test builds a node small enough that every free list can be written down,
walks the kernel's steps by hand (the comments give the reasoning, with the
function of mm/page_alloc.c v5.0 that decides each step) and compares the
*exact* free lists: which pfns are on which ``free_area[order].free_list[mt]``,
head first.

Conventions used in the hand calculations: a freshly built ``{"Normal": 1024}``
node is one free order-10 Movable block at pfn 0; with THP off (below 512 MiB)
its ``min_free_kbytes`` is ``int_sqrt(1024*4*16) = 256`` -> pages_min 64, so
min/low/high = 64/80/96 (dist = max(64/4, 1024*10/10000) = 16).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mmsim import Node
from mmsim.mm import gfp as G
from mmsim.mm import page_alloc as pa
from mmsim.mm.debug import check_node
from mmsim.mm.mmzone import (
    FRAME_FREE,
    FRAME_PCP,
    MAX_ORDER,
    MIGRATE_HIGHATOMIC,
    MIGRATE_MOVABLE,
    MIGRATE_RECLAIMABLE,
    MIGRATE_TYPES,
    MIGRATE_UNMOVABLE,
    NOT_BUDDY,
    ZONE_BOOSTED_WATERMARK,
    ZONE_DMA32,
    migratetype_names,
)

NOWM = pa.ALLOC_NO_WATERMARKS
U, M, R, HA = "Unmovable", "Movable", "Reclaimable", "HighAtomic"


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def lists(zone) -> dict[tuple[int, str], list[int]]:
    """Every non-empty free list of ``zone``: (order, migratetype name) -> pfns, head first."""
    out = {}
    for o in range(MAX_ORDER):
        for mt in range(MIGRATE_TYPES):
            if zone.free_area[o].nr_free_list(mt):
                out[(o, migratetype_names[mt])] = zone.free_area[o].free_list(mt)
    return out


def halves(base: int, low: int, high: int, mt: str) -> dict[tuple[int, str], list[int]]:
    """What ``expand`` leaves after taking an order-``low`` block at the start of an
    order-``high`` block at ``base``: the upper half of every level, one per order."""
    return {(k, mt): [base + (1 << k)] for k in range(low, high)}


def free_blocks(zone) -> set[tuple[int, int]]:
    """Set of (pfn, order) of every free buddy block of the zone."""
    node = zone.node
    lo = zone.zone_start_pfn - node.node_start_pfn
    hi = lo + zone.spanned_pages
    heads = np.flatnonzero(node.buddy_order[lo:hi] != NOT_BUDDY) + lo
    return {(int(h) + node.node_start_pfn, int(node.buddy_order[h])) for h in heads}


def node1024(name: str = "Normal", pcp: bool = False) -> Node:
    node = Node.build(zones={name: 1024}, pcp=pcp)
    z = node.zone(name)
    # the hand calculations rely on these
    assert (z.min_wmark_pages, z.low_wmark_pages, z.high_wmark_pages) == (64, 80, 96)
    assert lists(z) == {(10, M): [0]}
    return node


class Recorder:
    def __init__(self):
        self.calls = []

    def __call__(self, *args):
        self.calls.append(args)


# --------------------------------------------------------------------------
# split and merge
# --------------------------------------------------------------------------
def test_order0_movable_split_and_merge_back():
    node = node1024()
    z = node.zone("Normal")
    # __rmqueue_smallest(Movable): the order-10 block; expand puts 512, 256, ..., 1 back
    assert node.alloc_pages(0, "GFP_HIGHUSER_MOVABLE") == 0
    assert lists(z) == halves(0, 0, 10, M)
    assert z.nr_free_pages == 1023
    assert z.nr_free_by_order() == [1] * 10 + [0]
    check_node(node)
    node.free_pages(0)
    # __free_one_page merges 0+1, 0+2, ... up to order 10
    assert lists(z) == {(10, M): [0]}
    assert z.nr_free_pages == 1024
    check_node(node)


def test_order0_unmovable_claims_both_pageblocks_and_frees_to_unmovable():
    node = node1024()
    z = node.zone("Normal")
    # no Unmovable block: __rmqueue_fallback finds the order-10 Movable block;
    # steal_suitable_fallback: order >= pageblock_order -> both pageblocks become
    # Unmovable, no boost; then __rmqueue_smallest(Unmovable) splits it
    assert node.alloc_pages(0, "GFP_KERNEL") == 0
    assert lists(z) == halves(0, 0, 10, U)
    assert [node.get_pageblock_migratetype(p) for p in (0, 512)] == [MIGRATE_UNMOVABLE] * 2
    assert z.watermark_boost == 0
    # freeing uses the pageblock's migratetype: the merged block is Unmovable now
    node.free_pages(0)
    assert lists(z) == {(10, U): [0]}
    check_node(node)


def test_higher_order_split():
    node = node1024()
    z = node.zone("Normal")
    assert node.alloc_pages(3, "GFP_HIGHUSER_MOVABLE") == 0
    assert lists(z) == halves(0, 3, 10, M)
    assert node.alloc_pages(3, "GFP_HIGHUSER_MOVABLE") == 8  # the order-3 block at 8
    assert lists(z) == halves(0, 4, 10, M)
    assert node.alloc_pages(2, "GFP_HIGHUSER_MOVABLE") == 16  # splits the order-4 block 16
    assert lists(z) == {**halves(0, 5, 10, M), (2, M): [20], (3, M): [24]}
    check_node(node)


def _five_pages(node):
    # 0 -> halves of 0; 1 -> order-0 head; 2 -> order-1 block 2 split, 3 left;
    # 3; 4 -> order-2 block 4 split: 6 (order 1) and 5 (order 0) go back
    got = [node.alloc_pages(0, "GFP_HIGHUSER_MOVABLE") for _ in range(5)]
    assert got == [0, 1, 2, 3, 4]
    z = node.zone("Normal")
    assert lists(z) == {**halves(0, 3, 10, M), (0, M): [5], (1, M): [6]}


def test_free_one_page_tail_insertion_when_next_larger_buddy_is_free():
    node = node1024()
    z = node.zone("Normal")
    _five_pages(node)
    # free 0: buddy 1 busy -> order 0; higher buddy 0^2 = 2 (order 1) busy -> head
    node.free_pages(0)
    assert lists(z)[(0, M)] == [0, 5]
    # free 1: merges with 0 -> order 1 at 0; buddy 2 busy; higher buddy 4 (order 2) busy -> head
    node.free_pages(1)
    assert lists(z)[(0, M)] == [5]
    assert lists(z)[(1, M)] == [0, 6]
    # free 2: buddy 3 busy -> order 0; the next larger buddy, the order-1 block at
    # (2 & 3) ^ 2 = 0, is free -> list_add_tail: 2 goes *behind* 5
    node.free_pages(2)
    assert lists(z)[(0, M)] == [5, 2]
    check_node(node)


def test_free_one_page_head_insertion_when_next_larger_buddy_is_busy():
    node = node1024()
    z = node.zone("Normal")
    _five_pages(node)
    # free 2 alone: higher buddy 0 is allocated -> list_add at the head
    node.free_pages(2)
    assert lists(z)[(0, M)] == [2, 5]
    check_node(node)


@pytest.mark.parametrize("free_4_first", [True, False])
def test_merged_block_goes_to_the_tail_when_next_larger_buddy_is_free(free_4_first):
    node = node1024()
    z = node.zone("Normal")
    got = [node.alloc_pages(0, "GFP_HIGHUSER_MOVABLE", alloc_flags=NOWM) for _ in range(1024)]
    assert got == list(range(1024))  # smallest-first splitting hands out pfns in order
    # 16+17 -> order-1 block 16 (buddy 18 busy; next larger buddy 20 busy -> head)
    node.free_pages(16)
    node.free_pages(17)
    assert lists(z) == {(1, M): [16]}
    if free_4_first:
        # 4..7 -> order-2 block 4 (buddy 0 busy)
        for p in (4, 5, 6, 7):
            node.free_pages(p)
    node.free_pages(0)
    node.free_pages(1)
    # 0+1 merge into an order-1 block at 0; its buddy 2 is busy, so merging stops. The
    # next larger buddy is (0 & 2) ^ 4 = 4: if it is a free order-2 block, the new block
    # is added at the tail, else at the head
    want = [16, 0] if free_4_first else [0, 16]
    assert lists(z)[(1, M)] == want
    check_node(node)


# --------------------------------------------------------------------------
# fallback and steal
# --------------------------------------------------------------------------
def test_rmqueue_fallback_takes_the_largest_block_first():
    node = Node.build(zones={"Normal": 2048}, pcp=False)
    z = node.zone("Normal")
    # boot frees 0 then 1024 (both order 10, no merge at MAX_ORDER-1): head is 1024
    assert lists(z) == {(10, M): [1024, 0]}
    assert node.alloc_pages(0, "GFP_HIGHUSER_MOVABLE") == 1024
    assert lists(z) == {**halves(1024, 0, 10, M), (10, M): [0]}
    # Unmovable: the fallback search runs from order 10 down, so it takes the order-10
    # block at 0 rather than the order-0 Movable block at 1025
    assert node.alloc_pages(0, "GFP_KERNEL") == 0
    assert lists(z) == {**halves(1024, 0, 10, M), **halves(0, 0, 10, U)}
    assert [node.get_pageblock_migratetype(p) for p in (0, 512, 1024, 1536)] == \
        [MIGRATE_UNMOVABLE, MIGRATE_UNMOVABLE, MIGRATE_MOVABLE, MIGRATE_MOVABLE]
    assert z.watermark_boost == 0  # >= pageblock steal: no boost
    check_node(node)


def test_movable_fallback_takes_the_smallest_when_it_cannot_steal():
    node = node1024()
    z = node.zone("Normal")
    assert node.alloc_pages(0, "GFP_KERNEL") == 0  # whole zone Unmovable now
    # eat every Unmovable block except the order-1 block at 2 and the order-3 block at 8
    for order, pfn in ((0, 1), (2, 4), (4, 16), (5, 32), (6, 64), (7, 128), (8, 256), (9, 512)):
        assert node.alloc_pages(order, "GFP_KERNEL", alloc_flags=NOWM) == pfn
    assert lists(z) == {(1, U): [2], (3, U): [8]}
    # Movable order 0: largest fallback is order 3 < pageblock_order/2, so can_steal is
    # false and __rmqueue_fallback goes to find_smallest: the order-1 block at 2. It is
    # moved alone (single_page) to the Movable list and split there.
    assert node.alloc_pages(0, "GFP_HIGHUSER_MOVABLE", alloc_flags=NOWM) == 2
    assert lists(z) == {(0, M): [3], (3, U): [8]}
    assert node.get_pageblock_migratetype(0) == MIGRATE_UNMOVABLE
    # a sub-pageblock fallback boosts: high 96 -> max_boost max(512, 96*1.5) = 512
    assert z.watermark_boost == 512
    # no ALLOC_KSWAPD in the flags -> ZONE_BOOSTED_WATERMARK was never set
    assert z.flags & ZONE_BOOSTED_WATERMARK == 0
    check_node(node)


def _pageblock_512_half_free(node, first_kind="anon", extra_order=None):
    """Movable order 9 at 0, order 8 at 512 (``first_kind``), optionally one more
    Movable block of ``extra_order`` carved from the order-8 block at 768."""
    (z,) = node.managed_zones()
    assert node.alloc_pages(9, "GFP_HIGHUSER_MOVABLE") == 0
    assert node.alloc_pages(8, "GFP_HIGHUSER_MOVABLE", kind=first_kind) == 512
    assert lists(z) == {(8, M): [768]}
    if extra_order is not None:
        assert node.alloc_pages(extra_order, "GFP_HIGHUSER_MOVABLE") == 768
        assert lists(z) == halves(768, extra_order, 8, M)
    return z


def test_steal_claims_pageblock_at_exactly_half_and_wakes_kswapd_via_rmqueue():
    node = node1024("DMA32")
    hook = Recorder()
    node.machine.hooks["wakeup_kswapd"] = hook
    z = _pageblock_512_half_free(node)
    # GFP_KERNEL fast path: ALLOC_WMARK_LOW|ALLOC_KSWAPD; free 256 > low 80 -> rmqueue.
    # Fallback: the order-8 Movable block at 768. steal_suitable_fallback: order 8 < 9 ->
    # boost_watermark (512) and, with ALLOC_KSWAPD, ZONE_BOOSTED_WATERMARK; whole_block:
    # move_freepages_block moves 256 free pages, 256 are on the LRU (movable), alike =
    # 512 - (256 + 256) = 0; 256 + 0 >= 256 -> the pageblock is claimed.
    assert node.alloc_pages(0, "GFP_KERNEL") == 768
    assert lists(z) == halves(768, 0, 8, U)
    assert node.get_pageblock_migratetype(512) == MIGRATE_UNMOVABLE
    assert node.get_pageblock_migratetype(0) == MIGRATE_MOVABLE
    assert z.watermark_boost == 512
    # rmqueue saw ZONE_BOOSTED_WATERMARK, cleared it and woke kswapd for this zone
    assert z.flags & ZONE_BOOSTED_WATERMARK == 0
    assert hook.calls == [(z, 0, 0, ZONE_DMA32)]
    # the boost lifted low to 80 + 512: the next GFP_KERNEL fast-path allocation fails
    assert z.low_wmark_pages == 592
    assert node.alloc_pages(0, "GFP_KERNEL") is None
    assert hook.calls == [(z, 0, 0, ZONE_DMA32)]
    check_node(node)


def test_steal_does_not_claim_below_half():
    node = node1024("DMA32")
    hook = Recorder()
    node.machine.hooks["wakeup_kswapd"] = hook
    z = _pageblock_512_half_free(node, extra_order=0)
    # 255 free pages in pageblock 512, 257 on the LRU: 255 + 0 < 256 -> not claimed,
    # but every free block of the pageblock has moved to the Unmovable lists
    assert node.alloc_pages(0, "GFP_KERNEL") == 769
    assert lists(z) == {(k, U): [768 + (1 << k)] for k in range(1, 8)}
    assert node.get_pageblock_migratetype(512) == MIGRATE_MOVABLE
    assert z.watermark_boost == 512
    assert hook.calls == [(z, 0, 0, ZONE_DMA32)]
    check_node(node)


@pytest.mark.parametrize(("kind", "claimed"), [("kernel", True), ("anon", False)])
def test_steal_counts_non_lru_pages_as_alike(kind, claimed):
    node = node1024()
    # pageblock 512: 256 pages of ``kind`` at 512, 32 anon at 768, 224 free
    z = _pageblock_512_half_free(node, first_kind=kind, extra_order=5)
    # Unmovable into a Movable pageblock: alike = 512 - (free + LRU pages).
    # kernel pages: 512 - (224 + 32) = 256 -> 224 + 256 >= 256 -> claimed;
    # anon pages:   512 - (224 + 288) = 0  -> 224 < 256 -> not claimed.
    # Either way the free blocks 800 (o5), 832 (o6), 896 (o7) are now Unmovable and the
    # smallest, 800, is split.
    assert node.alloc_pages(0, "GFP_KERNEL") == 800
    assert lists(z) == {**halves(800, 0, 5, U), (6, U): [832], (7, U): [896]}
    want = MIGRATE_UNMOVABLE if claimed else MIGRATE_MOVABLE
    assert node.get_pageblock_migratetype(512) == want
    check_node(node)


def test_steal_suitable_fallback_return_value_and_boost_flag():
    # direct call on the same state as the claim test
    for flags, flag_set in ((pa.ALLOC_WMARK_LOW | pa.ALLOC_KSWAPD, True),
                            (pa.ALLOC_WMARK_LOW, False)):
        node = node1024()
        z = _pageblock_512_half_free(node)
        assert pa.steal_suitable_fallback(z, 768, flags, MIGRATE_UNMOVABLE, True) is True
        assert bool(z.flags & ZONE_BOOSTED_WATERMARK) is flag_set
        assert z.watermark_boost == 512
        assert lists(z) == {(8, U): [768]}
    # not whole_block: only the block moves, the pageblock keeps its type
    node = node1024()
    z = _pageblock_512_half_free(node)
    assert pa.steal_suitable_fallback(z, 768, 0, MIGRATE_RECLAIMABLE, False) is False
    assert node.get_pageblock_migratetype(512) == MIGRATE_MOVABLE
    assert lists(z) == {(8, R): [768]}
    assert z.watermark_boost == 512 and z.flags == 0


def test_boost_without_alloc_kswapd_sets_no_flag_and_wakes_nobody():
    node = node1024("DMA32")
    hook = Recorder()
    node.machine.hooks["wakeup_kswapd"] = hook
    z = _pageblock_512_half_free(node)
    assert node.alloc_pages(0, "GFP_KERNEL", alloc_flags=pa.ALLOC_WMARK_LOW) == 768
    assert z.watermark_boost == 512
    assert hook.calls == []
    assert z.flags & ZONE_BOOSTED_WATERMARK == 0


def test_pageblock_steal_does_not_boost_even_with_alloc_kswapd():
    node = node1024("DMA32")
    hook = Recorder()
    node.machine.hooks["wakeup_kswapd"] = hook
    z = node.zone("DMA32")
    assert node.alloc_pages(0, "GFP_KERNEL") == 0  # order-10 steal, ALLOC_KSWAPD set
    assert z.watermark_boost == 0
    assert hook.calls == []
    assert z.flags == 0


def test_boost_factor_zero_disables_boosting():
    node = node1024()
    node.sysctl.watermark_boost_factor = 0
    z = _pageblock_512_half_free(node)
    assert node.alloc_pages(0, "GFP_KERNEL") == 768
    assert z.watermark_boost == 0
    # ZONE_BOOSTED_WATERMARK is still set by steal_suitable_fallback (it does not look at
    # whether boost_watermark did anything) and then cleared by rmqueue
    assert z.flags == 0


def test_boosted_wakeup_on_order1_path_too():
    node = node1024("DMA32")
    hook = Recorder()
    node.machine.hooks["wakeup_kswapd"] = hook
    z = _pageblock_512_half_free(node)
    assert node.alloc_pages(1, "GFP_KERNEL") == 768
    assert lists(z) == halves(768, 1, 8, U)
    assert hook.calls == [(z, 0, 0, ZONE_DMA32)]


# --------------------------------------------------------------------------
# per-cpu pages
# --------------------------------------------------------------------------
def _pcp_node():
    # Normal 16384: batch = 16384/1024 = 16; /4 = 4; rounddown_pow_of_two(6) - 1 = 3;
    # high = 18
    node = Node.build(zones={"Normal": 16384}, nr_cpus=1)
    z = node.zone("Normal")
    assert (z.pageset[0].high, z.pageset[0].batch) == (18, 3)
    return node, z


def _pages_in_three_pageblocks(node):
    """Allocate (without pcp) pages in pageblocks 30, 31 and 28 and retype those blocks."""
    node.pcp_enabled = False
    got = [node.alloc_pages(0, "GFP_HIGHUSER_MOVABLE") for _ in range(1030)]
    # boot: 16 order-10 blocks freed in pfn order, each added at the head -> 15360 first
    assert got[:3] == [15360, 15361, 15362]
    assert got[512:514] == [15872, 15873]
    assert got[1024:1027] == [14336, 14337, 14338]
    node.set_pageblock_migratetype(15360, MIGRATE_UNMOVABLE)
    node.set_pageblock_migratetype(15872, MIGRATE_MOVABLE)
    node.set_pageblock_migratetype(14336, MIGRATE_RECLAIMABLE)
    node.pcp_enabled = True


@pytest.fixture
def record_frees(monkeypatch):
    calls = []
    orig = pa.__free_one_page

    def spy(zone, pfn, order, mt):
        calls.append((pfn, migratetype_names[mt]))
        return orig(zone, pfn, order, mt)

    monkeypatch.setattr(pa, "__free_one_page", spy)
    return calls


def test_free_pcppages_bulk_round_robin_movable_first(record_frees):
    node, z = _pcp_node()
    _pages_in_three_pageblocks(node)
    for p in (15360, 15361, 15362, 15872, 15873, 14336):
        node.free_pages(p)
    pcp = z.pageset[0]
    assert [list(pcp.lists[mt]) for mt in range(3)] == \
        [[15362, 15361, 15360], [15873, 15872], [14336]]
    assert pcp.count == 6
    record_frees.clear()  # forget the boot-time frees
    # migratetype starts at 0 and is pre-incremented: Movable, Reclaimable, Unmovable,
    # Movable ... one page from each list's tail per turn (batch_free 1)
    pa.free_pcppages_bulk(z, 4, pcp)
    assert record_frees == [(15872, M), (14336, R), (15360, U), (15873, M)]
    assert [list(pcp.lists[mt]) for mt in range(3)] == [[15362, 15361], [], []]
    assert pcp.count == 2
    record_frees.clear()
    # only one list left: batch_free reaches MIGRATE_PCPTYPES -> free them all from there
    pa.free_pcppages_bulk(z, 2, pcp)
    assert record_frees == [(15361, U), (15362, U)]
    assert pcp.count == 0
    check_node(node)


def test_free_pcppages_bulk_batch_grows_past_empty_lists(record_frees):
    node, z = _pcp_node()
    _pages_in_three_pageblocks(node)
    for p in (15360, 15361, 15362, 14336, 14337, 14338):
        node.free_pages(p)
    pcp = z.pageset[0]
    record_frees.clear()  # forget the boot-time frees
    # Movable is empty: the Reclaimable turn comes with batch_free 2 (two tail pages)
    pa.free_pcppages_bulk(z, 4, pcp)
    assert record_frees == [(14336, R), (14337, R), (15360, U), (14338, R)]
    assert [list(pcp.lists[mt]) for mt in range(3)] == [[15362, 15361], [], []]
    check_node(node)


def test_pcp_free_flushes_batch_at_high():
    node, z = _pcp_node()
    pcp = z.pageset[0]
    node.pcp_enabled = False
    pages = [node.alloc_pages(0, "GFP_HIGHUSER_MOVABLE") for _ in range(20)]
    node.pcp_enabled = True
    counts = []
    for p in pages:
        node.free_pages(p)
        counts.append(pcp.count)
    # free_unref_page_commit: count >= high (18) -> free_pcppages_bulk(batch = 3)
    assert counts == [*range(1, 18), 15, 16, 17]
    assert z.nr_state[FRAME_PCP] == 17
    assert z.nr_free_pages == 16384 - 17
    check_node(node)


def test_pcp_alloc_refills_batch():
    node, z = _pcp_node()
    pcp = z.pageset[0]
    counts = []
    got = []
    for _ in range(7):
        got.append(node.alloc_pages(0, "GFP_HIGHUSER_MOVABLE"))
        counts.append(pcp.count)
    # rmqueue_bulk takes 3 pages (tail-added, in __rmqueue order); allocation pops the head
    assert counts == [2, 1, 0, 2, 1, 0, 2]
    assert got == list(range(15360, 15367))
    assert list(pcp.lists[MIGRATE_MOVABLE]) == [15367, 15368]
    assert z.nr_free_pages == 16384 - 9  # pages on pcp lists are not NR_FREE_PAGES
    check_node(node)


def test_dma_zone_with_pcp_high_zero_frees_immediately():
    node = Node.build(zones={"DMA": 3840, "Normal": 16384})
    dma = node.zone("DMA")
    pcp = dma.pageset[0]
    # zone_batchsize: 3840/1024 = 3; /4 = 0 -> 1; rounddown_pow_of_two(1) - 1 = 0
    assert (pcp.high, pcp.batch) == (0, 1)
    before = free_blocks(dma)
    p = node.alloc_pages(0, "GFP_DMA")
    assert dma.zone_start_pfn <= p < dma.zone_end_pfn
    assert pcp.count == 0  # the refill of one page was handed out at once
    node.free_pages(p)
    assert pcp.count == 0
    assert node.state[p - node.node_start_pfn] == FRAME_FREE
    assert free_blocks(dma) == before  # merged back (the pageblock is Unmovable now)
    check_node(node)


def test_drain_all_pages_returns_every_pcp_page():
    node = Node.build(zones={"DMA32": 16384, "Normal": 16384}, nr_cpus=2)
    before = {z.name: lists(z) for z in node.managed_zones()}
    held = []
    for cpu in (0, 1):
        for gfp in ("GFP_KERNEL", "GFP_HIGHUSER_MOVABLE", "GFP_DMA32"):
            held += [(node.alloc_pages(0, gfp, cpu=cpu), cpu) for _ in range(10)]
    for p, cpu in held:
        node.free_pages(p, cpu=1 - cpu)
    assert sum(pcp.count for z in node.zones for pcp in z.pageset) > 0
    pa.drain_all_pages(node)
    for z in node.zones:
        assert all(pcp.count == 0 and not any(pcp.lists) for pcp in z.pageset)
        assert z.nr_state[FRAME_PCP] == 0
    for z in node.managed_zones():
        assert z.nr_free_pages == z.managed_pages
        # everything merged back; stolen pageblocks keep their new type, so compare blocks
        assert {(o, p) for (o, _mt), ps in lists(z).items() for p in ps} == \
            {(o, p) for (o, _mt), ps in before[z.name].items() for p in ps}
    check_node(node)


def test_drain_all_pages_single_zone():
    node = Node.build(zones={"DMA32": 16384, "Normal": 16384}, nr_cpus=1)
    a = node.alloc_pages(0, "GFP_DMA32")
    b = node.alloc_pages(0, "GFP_KERNEL")
    assert node.page_zone(a).name == "DMA32" and node.page_zone(b).name == "Normal"
    dma32, normal = node.zone("DMA32"), node.zone("Normal")
    pa.drain_all_pages(node, dma32)
    assert dma32.pageset[0].count == 0
    assert normal.pageset[0].count > 0
    check_node(node)


# --------------------------------------------------------------------------
# zonelist fallback, lowmem_reserve, classzone
# --------------------------------------------------------------------------
def test_zonelist_fallback_respects_lowmem_reserve():
    node = Node.build(zones={"DMA32": 4096, "Normal": 8192}, pcp=False)
    d32, nrm = node.zone("DMA32"), node.zone("Normal")
    # 12288 pages: min_free_kbytes = int_sqrt(49152 * 16) = 886 -> pages_min 221
    # DMA32: min 221*4096/12288 = 73, dist max(18, 4) = 18 -> low 91
    # Normal: min 221*8192/12288 = 147, dist max(36, 8) = 36 -> low 183
    # DMA32.lowmem_reserve[Normal] = 8192 / 256 = 32
    assert node.machine.min_free_kbytes == 886
    assert (d32.min_wmark_pages, d32.low_wmark_pages) == (73, 91)
    assert (nrm.min_wmark_pages, nrm.low_wmark_pages) == (147, 183)
    assert d32.lowmem_reserve == [0, 0, 32, 32, 32]
    ac = pa.prepare_alloc_pages(node, G.GFP_KERNEL)
    assert ac.classzone_idx == 2 and [z.name for z in ac.zonelist] == ["Normal", "DMA32"]
    where = []
    while (p := node.alloc_pages(0, "GFP_KERNEL")) is not None:
        where.append(node.page_zone(p).name)
    # Normal while free > 183; then DMA32 while free > 91 + 32
    assert where == ["Normal"] * (8192 - 183) + ["DMA32"] * (4096 - 91 - 32)
    assert (nrm.nr_free_pages, d32.nr_free_pages) == (183, 123)
    assert d32.watermark_boost == nrm.watermark_boost == 0  # only whole-block steals
    # a GFP_DMA32 request has classzone DMA32: reserve[1] = 0, so it may go down to low
    n = 0
    while (p := node.alloc_pages(0, "GFP_DMA32")) is not None:
        assert node.page_zone(p) is d32
        n += 1
    assert n == 32
    check_node(node)


def test_classzone_is_the_preferred_zone_without_normal():
    node = Node.build(zones={"DMA": 1024, "DMA32": 4096}, pcp=False)
    dma, d32 = node.zone("DMA"), node.zone("DMA32")
    ac = pa.prepare_alloc_pages(node, G.GFP_KERNEL)
    # gfp_zone(GFP_KERNEL) is Normal, but the zonelist holds populated zones only:
    # the preferred zone, and so the classzone, is DMA32
    assert ac.high_zoneidx == 2
    assert ac.classzone_idx == 1
    assert [z.name for z in ac.zonelist] == ["DMA32", "DMA"]
    # 5120 pages: min_free_kbytes = int_sqrt(20480*16) = 572 -> pages_min 143
    # DMA32 low = 114 + 28 = 142; DMA low = 28 + 7 = 35; DMA.lowmem_reserve[1] = 4096/256
    assert (d32.low_wmark_pages, dma.low_wmark_pages, dma.lowmem_reserve[1]) == (142, 35, 16)
    where = []
    while (p := node.alloc_pages(0, "GFP_KERNEL")) is not None:
        where.append(node.page_zone(p).name)
    assert where == ["DMA32"] * (4096 - 142) + ["DMA"] * (1024 - 35 - 16)
    check_node(node)


# --------------------------------------------------------------------------
# high-atomic reserve
# --------------------------------------------------------------------------
ATOMIC_SLOW = pa.ALLOC_WMARK_MIN | pa.ALLOC_HARDER | pa.ALLOC_HIGH | pa.ALLOC_KSWAPD


@pytest.mark.parametrize("pcp", [False, True])
def test_highatomic_reserve(pcp):
    node = node1024(pcp=pcp)
    z = node.zone("Normal")
    # GFP_ATOMIC order 2 with the slow path's ALLOC_HARDER: no HighAtomic block yet ->
    # __rmqueue(Unmovable) steals the order-10 block and splits it; then
    # reserve_highatomic_pageblock (1024/100 + 512 = 522 > 0 reserved) retypes pageblock
    # 0 and moves its free blocks (4..256) to the HighAtomic lists
    assert node.alloc_pages(2, "GFP_ATOMIC", alloc_flags=ATOMIC_SLOW) == 0
    assert z.nr_reserved_highatomic == 512
    assert node.get_pageblock_migratetype(0) == MIGRATE_HIGHATOMIC
    assert node.get_pageblock_migratetype(512) == MIGRATE_UNMOVABLE
    assert lists(z) == {**halves(0, 2, 9, HA), (9, U): [512]}
    # the next ALLOC_HARDER high-order request is served from the HighAtomic list
    assert node.alloc_pages(2, "GFP_ATOMIC", alloc_flags=ATOMIC_SLOW) == 4
    assert z.nr_reserved_highatomic == 512
    # an ordinary request never touches it
    assert node.alloc_pages(2, "GFP_KERNEL") == 512
    assert lists(z) == {**halves(0, 3, 9, HA), **halves(512, 2, 9, U)}
    # order 0 goes through rmqueue_pcplist -> __rmqueue in v5.0, never the HighAtomic
    # list, even for ALLOC_HARDER callers
    assert node.alloc_pages(0, "GFP_ATOMIC", alloc_flags=ATOMIC_SLOW) == 516
    # normal callers see the reserve subtracted from free pages
    free = z.nr_free_pages
    _ok, _r, free_after, *_ = pa._watermark_check(z, 0, 0, 2, 0, free)
    assert free_after == free - 512
    check_node(node)


def test_highatomic_reserve_is_capped_at_one_percent_plus_a_pageblock():
    node = Node.build(zones={"Normal": 2048}, pcp=False)
    z = node.zone("Normal")
    assert lists(z) == {(10, M): [1024, 0]}
    # max_managed = 2048/100 + 512 = 532: a pageblock is reserved while the reserve is
    # below it, so the second one is still taken (512 < 532), the third not (1024 >= 532)
    got, reserved = [], []
    for _ in range(3):
        got.append(node.alloc_pages(9, "GFP_ATOMIC", alloc_flags=ATOMIC_SLOW))
        reserved.append(z.nr_reserved_highatomic)
    # 1024: order-10 steal, split; 1536: the other half; 0: the next order-10 steal
    assert got == [1024, 1536, 0]
    assert reserved == [512, 1024, 1024]
    assert [node.get_pageblock_migratetype(p) for p in (0, 512, 1024, 1536)] == \
        [MIGRATE_UNMOVABLE, MIGRATE_UNMOVABLE, MIGRATE_HIGHATOMIC, MIGRATE_HIGHATOMIC]
    check_node(node)


# --------------------------------------------------------------------------
# bulk paths against the single-page paths
# --------------------------------------------------------------------------
ZONES = {"DMA": 1324, "DMA32": 2565, "Normal": 3077}  # unaligned zone edges
GFPS = ["GFP_KERNEL", "GFP_HIGHUSER_MOVABLE", "GFP_KERNEL|__GFP_RECLAIMABLE",
        "GFP_DMA32", "GFP_NOWAIT"]


def snapshot(node) -> dict:
    return {
        "lists": [lists(z) for z in node.zones],
        "pageblock_mt": node.pageblock_mt.tolist(),
        "state": node.state.tobytes(),
        "head_order": node.head_order.tobytes(),
        "boost": [z.watermark_boost for z in node.zones],
        "flags": [z.flags for z in node.zones],
        "free": [z.nr_free_pages for z in node.zones],
        "nr_state": [list(z.nr_state) for z in node.zones],
        "pgalloc": {k: v for k, v in node.machine.vm_events.items() if k.startswith("pgalloc")},
    }


def _prepare(ops, gfps=GFPS):
    """Two identical pcp-less nodes after the same random allocations and frees."""
    nodes = []
    for _ in range(2):
        node = Node.build(zones=ZONES, pcp=False)
        hook = Recorder()
        node.machine.hooks["wakeup_kswapd"] = hook
        held = []
        for kind, a, b in ops:
            if kind == "alloc":
                p = node.alloc_pages(a, gfps[b % len(gfps)], alloc_flags=NOWM)
                if p is not None:
                    held.append((p, a))
            elif held:
                p, o = held.pop(a % len(held))
                node.free_pages(p, o)
        nodes.append((node, hook))
    assert snapshot(nodes[0][0]) == snapshot(nodes[1][0])
    return nodes


op_strategy = st.lists(
    st.tuples(st.sampled_from(["alloc", "alloc", "free"]), st.integers(0, 10),
              st.integers(0, 20)), max_size=40)
flag_strategy = st.sampled_from([NOWM, None, pa.ALLOC_WMARK_MIN, NOWM | pa.ALLOC_KSWAPD,
                                 pa.ALLOC_WMARK_MIN | pa.ALLOC_HARDER | pa.ALLOC_HIGH])


def _compare_bulk_and_single(ops, gfp, nr, flags):
    (a, hook_a), (b, hook_b) = _prepare(ops)
    single = []
    for _ in range(nr):
        p = a.alloc_pages(0, gfp, alloc_flags=flags)
        if p is None:
            break
        single.append(p)
    bulk = pa.alloc_pages_bulk(b, nr, gfp, alloc_flags=flags)
    assert bulk.tolist() == single
    sa, sb = snapshot(a), snapshot(b)
    for key in sa:
        assert sa[key] == sb[key], key
    # the bulk path wakes kswapd once per zone, the single path once per steal
    assert {c[0].idx for c in hook_a.calls} == {c[0].idx for c in hook_b.calls}
    check_node(a)
    check_node(b)


nr_strategy = st.one_of(st.integers(0, 64), st.integers(1000, 7000))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=op_strategy, gfp=st.sampled_from(GFPS), nr=nr_strategy)
def test_alloc_pages_bulk_matches_single_allocations_no_watermarks(ops, gfp, nr):
    _compare_bulk_and_single(ops, gfp, nr, NOWM)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=op_strategy, gfp=st.sampled_from(GFPS), nr=nr_strategy, flags=flag_strategy)
# found by this test: the bulk path stopped before the page whose rmqueue boosted the zone
@example(ops=[], gfp="GFP_KERNEL", nr=2561, flags=None)
def test_alloc_pages_bulk_matches_single_allocations_with_watermarks(ops, gfp, nr, flags):
    _compare_bulk_and_single(ops, gfp, nr, flags)


def test_alloc_pages_bulk_takes_the_page_whose_check_passed_before_a_boosting_steal():
    """The watermark check comes before rmqueue: a steal inside rmqueue that boosts the
    watermark does not take back the page being allocated (v5.0 get_page_from_freelist)."""
    for bulk in (False, True):
        node = node1024("DMA32")
        hook = Recorder()
        node.machine.hooks["wakeup_kswapd"] = hook
        z = _pageblock_512_half_free(node)
        if bulk:
            got = pa.alloc_pages_bulk(node, 10, "GFP_KERNEL").tolist()
        else:
            got = []
            while len(got) < 10 and (p := node.alloc_pages(0, "GFP_KERNEL")) is not None:
                got.append(p)
        # free 256 > low 80: the first page passes; its rmqueue steals and boosts (low
        # becomes 592) and takes 768; the second check fails
        assert got == [768], bulk
        assert z.watermark_boost == 512
        assert z.flags & ZONE_BOOSTED_WATERMARK == 0
        assert hook.calls == [(z, 0, 0, ZONE_DMA32)]
        check_node(node)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=op_strategy, data=st.data(), pcp=st.booleans())
def test_free_pages_bulk_gives_the_same_blocks_as_single_frees(ops, data, pcp):
    (a, _), (b, _) = _prepare(ops)
    for node in (a, b):
        node.pcp_enabled = pcp
    # allocate a good part of memory as order-0 pages, identically on both nodes
    gfp = data.draw(st.sampled_from(GFPS))
    n = data.draw(nr_strategy)
    pa_ = pa.alloc_pages_bulk(a, n, gfp, alloc_flags=NOWM).tolist()
    pb_ = pa.alloc_pages_bulk(b, n, gfp, alloc_flags=NOWM).tolist()
    assert pa_ == pb_
    chosen = data.draw(st.lists(st.sampled_from(pa_), unique=True) if pa_ else st.just([]))
    order = data.draw(st.permutations(chosen))
    for p in order:
        a.free_pages(p)
    pa.drain_all_pages(a)
    pa.free_pages_bulk(b, chosen)
    for za, zb in zip(a.zones, b.zones, strict=True):
        assert free_blocks(za) == free_blocks(zb), za.name
        assert za.nr_free_pages == zb.nr_free_pages
        assert za.nr_state == zb.nr_state
    assert a.state.tobytes() == b.state.tobytes()
    check_node(a)
    check_node(b)


def test_free_pages_bulk_merges_into_existing_blocks():
    node = node1024()
    z = node.zone("Normal")
    pfns = pa.alloc_pages_bulk(node, 1024, "GFP_HIGHUSER_MOVABLE", alloc_flags=NOWM)
    assert pfns.tolist() == list(range(1024))
    assert z.nr_free_pages == 0
    node.free_pages(5)
    pa.free_pages_bulk(node, [p for p in range(1024) if p != 5])
    assert lists(z) == {(10, M): [0]}
    check_node(node)


def test_nofragment_walk_that_finds_nothing_is_retried_without_the_flag():
    # get_page_from_freelist: "It's possible on a UMA machine to get through all zones that
    # are fragmented. If avoiding fragmentation, reset and try again." With
    # ALLOC_NOFRAGMENT, __rmqueue_fallback may only steal whole pageblocks (order >= 9);
    # here the only free memory is Movable order 0..8 blocks, so the first walk fails and
    # the retry without the flag falls back to the largest one (order 8 at 768)
    node = Node.build(zones={"Normal": 1024}, pcp=False)
    z = node.zone("Normal")
    assert node.alloc_pages(9, "GFP_HIGHUSER_MOVABLE", alloc_flags=NOWM) == 0
    assert node.alloc_pages(8, "GFP_HIGHUSER_MOVABLE", alloc_flags=NOWM) == 512
    assert lists(z) == {(8, M): [768]}
    flags = pa.ALLOC_NO_WATERMARKS | pa.ALLOC_NOFRAGMENT
    assert node.alloc_pages(0, "GFP_KERNEL", alloc_flags=flags) == 768
    check_node(node)


def test_boot_counts_pgfree_for_every_page_handed_to_the_buddy():
    # memblock_free_all -> __free_pages_core -> __free_pages: PGFREE per page
    node = Node.build(mem="256MiB")
    assert node.machine.vm_events["pgfree"] == sum(z.managed_pages for z in node.zones)
