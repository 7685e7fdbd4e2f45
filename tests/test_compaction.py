"""Compaction core (mm/compaction.c v5.0): suitability, deferral, compact_zone, scanners.

Every expected number below was worked out by hand from the v5.0 source (the
comments give the steps, with the function that decides each) or taken from
``tests/data/golden-examples.json`` (a copy of the shared v5.0 notes' file); none
was copied from a run.

The scanner scenarios use the hand-made layouts of ``compaction_layouts``: a
4096-page Normal zone (8 pageblocks, pfn 0..4095, min/low/high 128/160/192,
per-cpu ``high`` 0 so freed pages reach the buddy at once).

Kernel facts used throughout (compaction-core.md; mm/compaction.c):

* kcompactd-like control: order 9, GFP_KERNEL (=> cc.migratetype Unmovable),
  MIGRATE_SYNC_LIGHT, not direct. A fresh zone's cached scanner positions are
  out of range, so the free scanner starts at the last pageblock (3584) and
  the migrate scanner at the zone start, which sets ``whole_zone``.
* isolate_migratepages_block visits pfns upward, a free buddy counts one
  scanned pfn and is jumped over, stops right after the 32nd isolated page
  (``++low_pfn; break``).
* isolate_freepages_block visits pfns upward from where it stopped last time,
  takes free blocks until ``nr_freepages >= nr_migratepages``.
* cc->migratepages is built with ``list_add`` (newest at the head) and
  migrate_pages walks it from the head; map_pages reverses the isolated free
  pages, so the *highest* source page gets the *highest* target: within a
  batch, pages keep their relative order.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from compaction_layouts import (
    PAGEBLOCK,
    build_layout,
    codes_of,
    drive,
    evens_file_odds_free,
    events_delta,
)

from mmsim import Node, Sysctl, scenarios
from mmsim.mm import compaction as C
from mmsim.mm import gfp as G
from mmsim.mm.debug import check_node
from mmsim.mm.mmzone import FRAME_ISOLATED, FRAME_KERNEL, FRAME_SLAB, MIGRATE_MOVABLE
from mmsim.mm.page_alloc import ALLOC_NO_WATERMARKS, alloc_pages, alloc_pages_bulk, free_pages_bulk
from mmsim.mm.slowpath import alloc_pages_task
from mmsim.mm.swap import get_lruvec
from mmsim.mm.vmstat import fragmentation_index, unusable_free_index
from mmsim.trace import Tracer

GOLDEN = json.loads((Path(__file__).parent / "data" / "golden-examples.json").read_text())
CASES = {c["name"]: c for c in GOLDEN["cases"]}

COUNTERS = ["compact_migrate_scanned", "compact_free_scanned", "compact_isolated",
            "pgmigrate_success", "pgmigrate_fail", "pgfree", "compact_stall",
            "compact_success", "compact_fail"]


def kcompactd_cc(zone, order=9):
    """The compact_control kcompactd_do_work builds (L1943-1952)."""
    return C.CompactControl(order, G.GFP_KERNEL, C.MIGRATE_SYNC_LIGHT, classzone_idx=zone.idx)


def odd_free_pfns(block: int, skip: set[int] = frozenset()) -> list[int]:
    """The odd pfns of pageblock ``block`` in scan (ascending) order, minus ``skip``."""
    lo = block * PAGEBLOCK
    return [p for p in range(lo + 1, lo + PAGEBLOCK, 2) if p not in skip]


# --------------------------------------------------------------------------
# constants, golden tables
# --------------------------------------------------------------------------
def test_compact_gap_table_golden():
    case = CASES["compact_gap_table"]
    assert [C.compact_gap(o) for o in case["inputs"]["orders"]] == case["expected"]["gap_pages"]


def test_result_enum_order_and_helpers():
    # include/linux/compaction.h: callers take max() of results, so the order matters
    assert tuple(range(9)) == (C.COMPACT_NOT_SUITABLE_ZONE, C.COMPACT_SKIPPED, C.COMPACT_DEFERRED,
            C.COMPACT_NO_SUITABLE_PAGE, C.COMPACT_CONTINUE, C.COMPACT_COMPLETE,
            C.COMPACT_PARTIAL_SKIPPED, C.COMPACT_CONTENDED, C.COMPACT_SUCCESS)
    assert C.COMPACT_INACTIVE == C.COMPACT_DEFERRED
    assert C.COMPACT_MAX_DEFER_SHIFT == 6 and C.COMPACT_CLUSTER_MAX == 32


# --------------------------------------------------------------------------
# compaction_suitable on the real box's Normal zone (golden watermarks)
# --------------------------------------------------------------------------
def golden_box() -> tuple[Node, object]:
    """The golden cases' machine: Normal min/low/high = 2439/3048/3657, every page taken."""
    node = Node.build(zones={"DMA": 3840, "DMA32": 772808, "Normal": 131072},
                      sysctl=Sysctl(min_free_kbytes=67584), pcp=False)
    z = node.zone("Normal")
    assert (z.min_wmark_pages, z.low_wmark_pages, z.high_wmark_pages) == (2439, 3048, 3657)
    assert z.lowmem_reserve[z.idx] == 0
    got = alloc_pages_bulk(node, z.nr_free_pages, "GFP_HIGHUSER_MOVABLE", kind="anon",
                           alloc_flags=ALLOC_NO_WATERMARKS)
    assert z.nr_free_pages == 0 and node.page_zone(int(got[0])) is z
    return node, z


def shape_free_lists(node, z, buddyinfo: list[int]) -> None:
    """Free blocks so that the zone's buddyinfo reads ``buddyinfo``.

    A block of order o is freed at a pfn aligned to 2**(o+1); its buddy (the
    next 2**o pages) stays allocated, so it cannot merge. Placing the larger
    orders first keeps every later cursor aligned for the smaller ones.
    """
    cursor = -(-z.zone_start_pfn // 2048) * 2048
    runs = []
    for order in range(len(buddyinfo) - 1, -1, -1):
        for _ in range(buddyinfo[order]):
            runs.append(np.arange(cursor, cursor + (1 << order)))
            cursor += 2 << order
    assert cursor <= z.zone_end_pfn
    if runs:
        free_pages_bulk(node, np.concatenate(runs))
    assert z.nr_free_by_order() == list(buddyinfo)


@pytest.fixture(scope="module")
def box():
    return golden_box()


@pytest.fixture
def shaped(box):
    """The golden box with its Normal zone's free blocks reset for each test."""
    node, z = box

    def shape(buddyinfo):
        # take back whatever a previous test freed, then free the new shape
        if z.nr_free_pages:
            alloc_pages_bulk(node, z.nr_free_pages, "GFP_HIGHUSER_MOVABLE", kind="anon",
                             alloc_flags=ALLOC_NO_WATERMARKS)
        assert z.nr_free_pages == 0
        shape_free_lists(node, z, buddyinfo)
        return z

    yield shape
    node.machine.sysctl.extfrag_threshold = 500


@pytest.mark.parametrize("name", ["compaction_suitable_order9_skipped_watermark",
                                  "compaction_suitable_order9_success"])
def test_compaction_suitable_golden(shaped, name):
    case = CASES[name]
    inp = case["inputs"]
    z = shaped(inp["zone"]["buddyinfo"])
    assert z.nr_free_pages == inp["zone"]["free_pages"]
    want = getattr(C, case["expected"]["result"])
    assert C.compaction_suitable(z, inp["order"], inp["alloc_flags"], inp["classzone_idx"]) == want
    _ret, fragindex = C.compaction_suitable_verdict(z, inp["order"], inp["alloc_flags"],
                                                   inp["classzone_idx"])
    assert fragindex == case["expected"]["fragindex"]  # null: never consulted
    if "order0_mark" in case["expected"]:
        # low 3048 + compact_gap(9) 1024
        assert z.low_wmark_pages + C.compact_gap(9) == case["expected"]["order0_mark"]


def test_compaction_suitable_fragindex_boundary_golden(shaped):
    case = CASES["compaction_suitable_fragindex_threshold_boundary"]
    inp = case["inputs"]
    z = shaped(inp["zone"]["buddyinfo"])
    assert z.nr_free_pages == inp["zone"]["free_pages"]
    assert fragmentation_index(z, 9) == case["expected"]["fragindex"] == 500
    tr = Tracer(None)
    z.node.machine.tracer = tr
    try:
        for threshold, key in zip(inp["extfrag_threshold"],
                                  ("result_threshold_500", "result_threshold_499")):
            z.node.machine.sysctl.extfrag_threshold = threshold
            got = C.compaction_suitable(z, 9, 0, inp["classzone_idx"])
            assert got == getattr(C, case["expected"][key])
    finally:
        z.node.machine.tracer = None
    # the tracepoint still shows the internal NOT_SUITABLE_ZONE (L1496-1498)
    assert [r[5]["ret"] for r in tr.records] == ["not_suitable_zone", "continue"]


@pytest.mark.parametrize("buddyinfo, fragindex, expected", [
    # compaction-core.md §2: 4352 free pages in 18 big blocks (2 order-7, 16 order-8):
    # 1000 - (1000 + 4352000/512)/18 = 1000 - 9500/18 = 1000 - 527 = 473 <= 500 -> SKIPPED
    ([0, 0, 0, 0, 0, 0, 0, 2, 16, 0, 0], 473, C.COMPACT_SKIPPED),
    # 4400 free pages in 4200 small blocks: 1000 - (1000 + 8593)/4200 = 1000 - 2 = 998 -> CONTINUE
    ([4000, 200, 0, 0, 0, 0, 0, 0, 0, 0, 0], 998, C.COMPACT_CONTINUE),
    # a single free order-8 block passes the watermark steps only with enough order-0 pages:
    # 4096 order-0 + 1 order-8 = 4352 > 4072; index = 1000 - (1000 + 8500)/4097 = 998
    ([4096, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0], 998, C.COMPACT_CONTINUE),
])
def test_compaction_suitable_by_fragindex(shaped, buddyinfo, fragindex, expected):
    z = shaped(buddyinfo)
    _ret, fi = C.compaction_suitable_verdict(z, 9, 0, z.idx)
    assert fi == fragindex
    assert C.compaction_suitable(z, 9, 0, z.idx) == expected


@pytest.mark.parametrize("free, expected", [(2448, C.COMPACT_CONTINUE),
                                            (2447, C.COMPACT_SKIPPED)])
def test_compaction_suitable_order2_uses_min_plus_gap_and_no_fragindex(shaped, free, expected):
    # order 2 <= PAGE_ALLOC_COSTLY_ORDER: mark = min 2439 + compact_gap(2) 8 = 2447, and the
    # order-0 check is "free <= mark -> fail" (__zone_watermark_ok); fragindex not consulted
    z = shaped([free] + [0] * 10)
    assert C.compaction_suitable_verdict(z, 2, 0, z.idx) == (expected, None)


@pytest.mark.parametrize("name", ["fragindex_unusable_row1_order3",
                                  "fragindex_unusable_row1_order7",
                                  "fragindex_unusable_row1_order9"])
def test_fragmentation_indices_on_a_zone_golden(shaped, name):
    case = CASES[name]
    z = shaped(case["inputs"]["buddyinfo_row"])
    order = case["inputs"]["order"]
    assert z.nr_free_pages == case["expected"]["free_pages"]
    assert fragmentation_index(z, order) == case["expected"]["fragmentation_index"]
    assert unusable_free_index(z, order) == case["expected"]["unusable_free_index"]


@pytest.mark.parametrize("name", ["fragindex_many_tiny_blocks_order9",
                                  "fragindex_single_block_negative_quirk"])
def test_fragmentation_index_quirks_on_a_zone_golden(shaped, name):
    case = CASES[name]
    z = shaped(case["inputs"]["buddyinfo_row"])
    assert fragmentation_index(z, case["inputs"]["order"]) == \
        case["expected"]["fragmentation_index"]


# --------------------------------------------------------------------------
# deferral (L142-202), golden defer_sequence_basic and the full back-off
# --------------------------------------------------------------------------
def fresh_zone():
    return Node.build(zones={"Normal": 1024}).zone("Normal")


def test_defer_sequence_basic_golden():
    case = CASES["defer_sequence_basic"]
    z = fresh_zone()
    init = case["inputs"]["zone_initial"]
    assert (z.compact_considered, z.compact_defer_shift, z.compact_order_failed) == (
        init["compact_considered"], init["compact_defer_shift"], init["compact_order_failed"])
    for op, want in zip(case["inputs"]["events"], case["expected"]["trace"]):
        assert op == want["op"]
        if op.startswith("compaction_deferred"):
            assert C.compaction_deferred(z, 9) is want["returns"]
        else:
            C.defer_compaction(z, 9)
        assert (z.compact_considered, z.compact_defer_shift, z.compact_order_failed) == (
            want["compact_considered"], want["compact_defer_shift"],
            want["compact_order_failed"])


def test_deferral_backs_off_to_63_skipped_calls():
    # After k consecutive failures the next 2**k - 1 calls are skipped; the shift stops
    # at COMPACT_MAX_DEFER_SHIFT = 6, so from then on 63 calls are skipped each time.
    z = fresh_zone()
    skipped_runs = []
    restarting_at_runs = []
    skipped = 0
    runs = 0
    while runs < 9:
        if C.compaction_deferred(z, 9):
            skipped += 1
            continue
        runs += 1
        restarting_at_runs.append(C.compaction_restarting(z, 9))
        if runs > 1:
            skipped_runs.append(skipped)
        skipped = 0
        C.defer_compaction(z, 9)  # every attempt fails
        assert z.compact_considered == 0
        assert z.compact_defer_shift == min(runs, 6)
    assert skipped_runs == [1, 3, 7, 15, 31, 63, 63, 63]
    # compaction_restarting: shift == 6 and considered >= 64 - from the 7th run on
    assert restarting_at_runs == [False] * 6 + [True] * 3
    assert z.compact_order_failed == 0  # starts at 0, so min(0, 9) keeps it at 0


def test_deferral_considered_saturates_and_lower_orders_are_never_deferred():
    z = fresh_zone()
    C.defer_compaction(z, 4)
    C.defer_compaction(z, 4)  # shift 2, limit 4, order_failed min(0, 4) = 0
    assert [C.compaction_deferred(z, 4) for _ in range(6)] == [True, True, True,
                                                               False, False, False]
    assert z.compact_considered == 4  # capped at the limit ("avoid possible overflow")
    C.compaction_defer_reset(z, 4, False)  # order_failed = 5, shift kept
    assert (z.compact_order_failed, z.compact_defer_shift, z.compact_considered) == (5, 2, 4)
    before = z.compact_considered
    assert C.compaction_deferred(z, 3) is False  # 3 < order_failed 5: not even counted
    assert z.compact_considered == before
    C.compaction_defer_reset(z, 4, True)  # an allocation succeeded: shift and count reset
    assert (z.compact_order_failed, z.compact_defer_shift, z.compact_considered) == (5, 0, 0)


# --------------------------------------------------------------------------
# compact_zone on hand-made layouts
# --------------------------------------------------------------------------
def test_order9_fails_before_and_succeeds_after_compaction_exact():
    """Even pfns file pages, odd pfns free, 8 pageblocks: kcompactd-like order-9 run.

    Hand derivation:
    * suitable: 2048 free (all order 0); no order-9 block; order-0 check
      2048 > low 160 + 1024; fragindex = 1000 - (1000 + 2048000/512)/2048 = 998 > 500.
    * batch 1: the migrate scanner isolates pfns 0, 2, ..., 62 (32nd at 62, low_pfn 63,
      63 scanned); the free scanner starts at 3584 and takes 3585, 3587, ..., 3647
      (64 pfns visited, stops at 3648). Later batches: 64 visited pfns on each side.
    * 8 batches move the 256 file pages of block 0; block 0 (now 512 free pages)
      merges into one order-9 block on the Movable list. compact_finished sees it as
      a fallback for an Unmovable request; migrate_pfn 511 is not pageblock aligned
      -> finishing_block. The next isolate call scans pfn 511 (nothing isolated,
      skip bit of block 0 set), migrate_pfn 512 -> COMPACT_SUCCESS.
    * the 8th free batch ends exactly at the block end 4096 -> free_pfn = 3584 - 512.
    * batch b moves source 64b + 2j to 3584 + 64b + 2j + 1: every page moves by +3585.
    """
    node, z, f = build_layout(evens_file_odds_free(8))
    check_node(node)
    assert z.nr_free_by_order() == [2048] + [0] * 10
    assert fragmentation_index(z, 9) == 998
    assert unusable_free_index(z, 9) == 1000
    assert alloc_pages(node, 9, "GFP_HIGHUSER_MOVABLE") is None  # no order-9 block

    before = dict(node.machine.vm_events)
    tr = Tracer(None)
    node.machine.tracer = tr
    assert C.run_compact_zone(z, kcompactd_cc(z)) == C.COMPACT_SUCCESS
    check_node(node)
    assert events_delta(node, before, COUNTERS) == {
        "compact_migrate_scanned": 512, "compact_free_scanned": 512,
        "compact_isolated": 256 + 256, "pgmigrate_success": 256, "pgmigrate_fail": 0,
        "pgfree": 256, "compact_stall": 0, "compact_success": 0, "compact_fail": 0}
    # the 256 freed sources and the 1536 untouched odd pages: 2048 free as before
    assert z.nr_free_by_order() == [1536, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]
    assert z.free_area[9].free_list(MIGRATE_MOVABLE) == [0]
    assert fragmentation_index(z, 9) == -1000
    assert unusable_free_index(z, 9) == (2048 - 512) * 1000 // 2048 == 750
    # where every page went: block 0 moved by +3585, the rest stayed
    moved = np.arange(0, 512, 2)
    assert np.array_equal(f.pfn[moved], moved + 3585)
    stay = np.arange(512, 4096, 2)
    assert np.array_equal(f.pfn[stay], stay)
    assert (node.state[3584:4096] == node.state[3584]).all()  # block 7 now all file
    # scanner bookkeeping
    assert z.compact_cached_migrate_pfn == [511, 511]
    assert z.compact_cached_free_pfn == 3584
    assert node.pageblock_skip[:8].tolist() == [1, 0, 0, 0, 0, 0, 0, 0]
    scans = [(r[5]["start_pfn"], r[5]["end_pfn"], r[5]["nr_scanned"], r[5]["nr_taken"])
             for r in tr.records if r[4] == "mm_compaction_isolate_freepages"]
    assert scans == [(3584 + 64 * b, 3648 + 64 * b, 64, 32) for b in range(8)]
    # each batch: migrate_pages' own line, then compact_zone's
    from mmsim.trace import format_line

    moves = [format_line(*r).split(": ", 1)[1] for r in tr.records
             if r[4] in ("mm_migrate_pages", "mm_compaction_migratepages")]
    assert moves == ["mm_migrate_pages: nr_succeeded=32 nr_failed=0 mode=MIGRATE_SYNC_LIGHT "
                     "reason=compaction",
                     "mm_compaction_migratepages: nr_migrated=32 nr_failed=0"] * 8
    # and an order-9 allocation now succeeds, with the block compaction made
    assert alloc_pages(node, 9, "GFP_HIGHUSER_MOVABLE") == 0


def layout_unmovable_in_every_block() -> np.ndarray:
    """Even pfns file; pfn 512b+1 unmovable (kernel in even blocks, slab in odd ones); free."""
    c = evens_file_odds_free(8)
    for b in range(8):
        c[b * PAGEBLOCK + 1] = "K" if b % 2 == 0 else "S"
    return c


def test_no_block_possible_scanners_meet_complete_exact():
    """An unmovable page in every pageblock: the scanners meet -> COMPACT_COMPLETE.

    Hand derivation (kcompactd-like order 9):
    * each block has 256 file pages and 255 free pages (odd pfns but 512b+1);
      free 2040 > 1184, fragindex = 1000 - (1000 + 3984)/2040 = 998 -> CONTINUE.
    * migrate side: 8 batches of 32 per block; block b (< 3) is fully visited:
      63 + 7*64 + 1 (the lone pfn 512b+511, which sets the block's skip bit) = 512.
    * free side: each call isolates exactly 32 order-0 pages, walking block 7 up,
      then 6, 5, 4 (255 free each). Blocks 7..5 give 765 = 23 calls + 29 pages, block 4
      the other 3 of call 23 and calls 24..30 (224), so call 31 (block 3's 8th batch,
      sources 1984..2046) gets only the last 28 pages of block 4; the scanner then
      reaches low_pfn = pageblock_end(2047) = 2048 and stops at free_pfn 1536.
    * the 28 highest sources migrate (list order), 1990..1984 find no target: -ENOMEM
      (pgmigrate_fail += 1, mm/migrate.c "case -ENOMEM: nr_failed++"), put back. The
      scanners met (1536>>9 == 2047>>9 == 3), so no CONTENDED; compact_finished ->
      reset_cached_positions, whole_zone -> COMPLETE.
    * migrate scanned 3*512 + 511 = 2047, free scanned 4*512 = 2048,
      isolated 32*32 + 1020, migrated 31*32 + 28 = 1020.
    """
    codes = layout_unmovable_in_every_block()
    node, z, f = build_layout(codes)
    check_node(node)
    unmovable = np.flatnonzero(np.isin(node.state, (FRAME_KERNEL, FRAME_SLAB)))
    assert unmovable.tolist() == [b * PAGEBLOCK + 1 for b in range(8)]
    assert z.nr_free_pages == 2040 and fragmentation_index(z, 9) == 998

    before = dict(node.machine.vm_events)
    # invariants after every migration batch (compact_zone yields once per batch)
    assert drive(C.compact_zone(z, kcompactd_cc(z)), lambda: check_node(node)) \
        == C.COMPACT_COMPLETE
    check_node(node)
    assert events_delta(node, before, COUNTERS) == {
        "compact_migrate_scanned": 2047, "compact_free_scanned": 2048,
        "compact_isolated": 1024 + 1020, "pgmigrate_success": 1020, "pgmigrate_fail": 1,
        "pgfree": 1020, "compact_stall": 0, "compact_success": 0, "compact_fail": 0}
    # no unmovable page moved
    assert np.flatnonzero(node.state == FRAME_KERNEL).tolist() == [0 * 512 + 1, 2 * 512 + 1,
                                                                    4 * 512 + 1, 6 * 512 + 1]
    assert np.flatnonzero(node.state == FRAME_SLAB).tolist() == [1 * 512 + 1, 3 * 512 + 1,
                                                                  5 * 512 + 1, 7 * 512 + 1]
    # pages kept their order: the k-th migrated source went to the k-th target in scan order
    unmigrated = [1984, 1986, 1988, 1990]
    sources = [p for p in range(0, 2048, 2) if p not in unmigrated]
    targets = [p for b in (7, 6, 5, 4) for p in odd_free_pfns(b, {b * PAGEBLOCK + 1})]
    assert len(sources) == len(targets) == 1020
    assert np.array_equal(f.pfn[sources], targets)
    assert np.array_equal(f.pfn[unmigrated], unmigrated)
    # blocks 0..2: only the unmovable page left, the rest in 9 blocks of orders 0..8;
    # block 3 also keeps 1984..1990 (see the docstring for the split)
    assert z.nr_free_by_order() == [8, 4, 4, 5, 5, 5, 5, 5, 3, 0, 0]
    assert z.nr_free_pages == 2040
    assert fragmentation_index(z, 9) == 1000 - (1000 + 2040 * 1000 // 512) // 44 == 887
    # COMPLETE: both cached positions back at the zone ends
    assert z.compact_cached_migrate_pfn == [0, 0] and z.compact_cached_free_pfn == 3584
    assert node.pageblock_skip[:8].tolist() == [1, 1, 1, 0, 0, 0, 0, 0]
    assert not z.compact_blockskip_flush  # only direct compaction sets it
    assert node.node_stat.get("nr_isolated_compaction", 0) == 0


def test_release_freepages_frees_unused_targets_through_pcp():
    """Unused isolated free pages are freed one by one with __free_page (L52-65).

    Block 0: file pages at 0, 2, ..., 14, everything else free; block 7: file pages
    at 3584..3839 and one free order-8 block at 3840. The migrate scanner isolates
    the 8 file pages (visited: 0..15 = 16, then the free blocks at 16, 32, 64, 128,
    256 = 5 -> 21). The free scanner visits 3584..3839 (256) and takes the order-8
    block (1 more visited): 256 targets for 8 sources. 14 -> 4095, 12 -> 4094, ...,
    0 -> 4088; block 0 becomes one free order-9 block, migrate_pfn 512 -> SUCCESS.
    The other 248 targets are freed as order-0 pages (pgfree 8 + 248) and merge
    back into 3840 (o7), 3968 (o6), 4032 (o5), 4064 (o4), 4080 (o3).
    """
    c = codes_of(4096, ".")
    c[0:16:2] = "F"
    c[512:3584] = evens_file_odds_free(6)
    c[3584:3840] = "F"
    node, z, f = build_layout(c)
    before = dict(node.machine.vm_events)
    assert C.run_compact_zone(z, kcompactd_cc(z)) == C.COMPACT_SUCCESS
    check_node(node)
    assert events_delta(node, before, COUNTERS) == {
        "compact_migrate_scanned": 21, "compact_free_scanned": 257,
        "compact_isolated": 8 + 256, "pgmigrate_success": 8, "pgmigrate_fail": 0,
        "pgfree": 8 + 248, "compact_stall": 0, "compact_success": 0, "compact_fail": 0}
    assert f.pfn[0:16:2].tolist() == list(range(4088, 4096))
    assert z.free_area[9].free_list(MIGRATE_MOVABLE) == [0]
    tails = {o: z.free_area[o].free_list(MIGRATE_MOVABLE) for o in (3, 4, 5, 6, 7)}
    assert tails == {3: [4080], 4: [4064], 5: [4032], 6: [3968], 7: [3840]}
    # the order-8 block re-typed its pageblock Movable (it already was)
    assert node.get_pageblock_migratetype(3840) == MIGRATE_MOVABLE


def test_async_direct_compaction_skip_on_failure_exact():
    """Async direct compaction skips a whole order-aligned chunk at the first failure.

    Same layout as the COMPLETE test, request GFP_TRANSHUGE order 9 at
    COMPACT_PRIO_ASYNC. skip_on_failure with order 9 (L731-735): the chunk is the
    pageblock. In each block pfn 512b is isolated, pfn 512b+1 is unmovable: the
    page is put back, the scanner jumps to the block end; 2 pfns scanned, nothing
    isolated -> the block's skip bit is set. Blocks 0..6 (block 7 is the free
    scanner's), then migrate_pfn 3584 meets free_pfn 3584 -> COMPLETE (whole zone:
    cached async migrate pfn was the zone start); direct -> compact_blockskip_flush.
    """
    node, z, f = build_layout(layout_unmovable_in_every_block())
    before = dict(node.machine.vm_events)
    ret = drive(C.compact_zone_order(z, 9, G.GFP_TRANSHUGE, C.COMPACT_PRIO_ASYNC, 0, z.idx))
    assert ret == C.COMPACT_COMPLETE
    check_node(node)
    assert events_delta(node, before, COUNTERS) == {
        "compact_migrate_scanned": 7 * 2, "compact_free_scanned": 0, "compact_isolated": 0,
        "pgmigrate_success": 0, "pgmigrate_fail": 0, "pgfree": 0, "compact_stall": 0,
        "compact_success": 0, "compact_fail": 0}
    assert node.pageblock_skip[:8].tolist() == [1] * 7 + [0]
    assert z.compact_blockskip_flush
    # nothing moved, the put-back pages are on the LRU again
    assert np.array_equal(f.pfn[0:4096:2], np.arange(0, 4096, 2))
    lv = get_lruvec(node)
    assert (lv.lru[0:4096:2] != 0xFF).all()
    assert node.node_stat.get("nr_isolated_compaction", 0) == 0


def test_direct_compaction_success_resets_the_shift():
    """GFP_TRANSHUGE order 9 through the slow path: async direct compaction succeeds.

    Layout: block 0 file pages at 0..63 and free 64..511 (orders 6, 7, 8); blocks 1-7
    even file / odd free. Free 448 + 7*256 = 2240, fragindex 998. The zone has
    failed 3 times (shift 3) and 7 attempts were skipped: this one is the 8th and runs.
    * batch 1: 0..31 (cap at 31, low_pfn 32, 32 scanned) -> 3585..3647 odd;
      batch 2: 32..63 -> 3649..3711 (a failure would skip the rest of the block only
      after an error, L1623-1644: none here). Block 0 merges to order 9 -> SUCCESS.
    * try_to_compact_pages: compaction_defer_reset(order 9, false): order_failed 10;
      __alloc_pages_direct_compact: COMPACTSTALL, allocation succeeds ->
      compaction_defer_reset(order 9, true): shift 0, considered 0; COMPACTSUCCESS.
    """
    c = codes_of(4096, ".")
    c[0:64] = "F"
    c[512:] = evens_file_odds_free(7)
    node, z, f = build_layout(c)
    assert z.nr_free_pages == 2240 and fragmentation_index(z, 9) == 998
    for _ in range(3):
        C.defer_compaction(z, 9)
    assert [C.compaction_deferred(z, 9) for _ in range(7)] == [True] * 7
    before = dict(node.machine.vm_events)
    pfns = drive(alloc_pages_task(node, 1, "GFP_TRANSHUGE", order=9, kind="anon"))
    assert pfns.tolist() == [0]
    check_node(node)
    assert events_delta(node, before, COUNTERS) == {
        "compact_migrate_scanned": 64, "compact_free_scanned": 128, "compact_isolated": 128,
        "pgmigrate_success": 64, "pgmigrate_fail": 0, "pgfree": 64, "compact_stall": 1,
        "compact_success": 1, "compact_fail": 0}
    assert (z.compact_defer_shift, z.compact_considered, z.compact_order_failed) == (0, 0, 10)
    assert np.array_equal(f.pfn[0:64], 3585 + 2 * np.arange(64))
    assert not z.compact_blockskip_flush


def test_kcompactd_like_success_keeps_the_shift():
    """kcompactd_do_work on a success calls compaction_defer_reset(order, false) (L1988)."""
    node, z, _f = build_layout(evens_file_odds_free(8))
    for _ in range(3):
        C.defer_compaction(z, 9)
    for _ in range(7):
        assert C.compaction_deferred(z, 9)
    C.wakeup_kcompactd(node, 9, z.idx)  # nobody sleeps: only records the request
    drive(C.kcompactd_do_work(node))
    # the 8th call ran (considered 8 = limit 8) and succeeded
    assert (z.compact_defer_shift, z.compact_considered, z.compact_order_failed) == (3, 8, 10)
    assert z.free_area[9].nr_free == 1


# --------------------------------------------------------------------------
# counters and invariants in the scenarios
# --------------------------------------------------------------------------
def owners_consistent(node) -> None:
    """Each mapping's pfn array points at frames whose owner/index point back."""
    lv = get_lruvec(node)
    for m in node.machine.mappings:
        idx = np.flatnonzero(m.pfn >= 0)
        pf = m.pfn[idx]
        assert (lv.owner[pf] == m.id).all(), m.name
        assert np.array_equal(lv.index[pf], idx), m.name
        assert (lv.lru[pf] != 0xFF).all(), m.name  # resident pages are on an LRU list
    owned = np.flatnonzero(lv.owner >= 0)
    for oid in np.unique(lv.owner[owned]).tolist():
        m = node.machine.mappings[oid]
        sel = owned[lv.owner[owned] == oid]
        assert np.array_equal(m.pfn[lv.index[sel]], sel)


def run_to_quiet(sim, seconds):
    """Run ``seconds``, then on until no compact_zone is half-way (at most 0.5 s more)."""
    res = sim.run(seconds)
    for _ in range(50):
        log = getattr(sim.node, "compaction_log", [])
        if all("end" in r for r in log):
            break
        res = sim.run(0.01)
    return res


@pytest.mark.parametrize("name, seconds", [("thp-burst", 1.25), ("fragment", 0.3)])
def test_scenarios_keep_invariants_after_every_migration(name, seconds):
    """check_node after every step in which compaction isolated or migrated pages.

    The scenario is built with ``check_invariants=True``; its per-step check
    (``check_node``) is kept but only called on the steps that changed
    ``compact_isolated``/``pgmigrate_*`` - every migration batch, including the
    moments when isolated free pages wait on ``cc->freepages`` - which keeps
    the test fast; the fill phase is covered by the invariant tests.
    """
    sim = scenarios.build(name, mem="64MiB", seed=3, check_invariants=True,
                          sample_interval=0.25)
    full_check = sim.sched.after_step
    assert full_check is not None
    ev = sim.machine.vm_events
    seen = {"mark": 0, "checks": 0}

    def after_migration():
        mark = ev["compact_isolated"] + ev["pgmigrate_success"] + ev["pgmigrate_fail"]
        if mark != seen["mark"]:
            seen["mark"] = mark
            seen["checks"] += 1
            full_check()

    sim.sched.after_step = after_migration
    res = run_to_quiet(sim, seconds)
    node = res.node
    check_node(node)
    owners_consistent(node)
    assert ev["compact_stall"] == ev["compact_success"] + ev["compact_fail"]
    assert ev["pgmigrate_success"] > 0 and seen["checks"] >= 2
    assert ev["compact_isolated"] >= 2 * ev["pgmigrate_success"]
    if name == "thp-burst":
        assert ev["compact_stall"] > 0
    assert node.node_stat.get("nr_isolated_compaction", 0) == 0


def test_thp_burst_compaction_counters_add_up():
    sim = scenarios.build("thp-burst", mem="128MiB", seed=1, trace=True)
    res = run_to_quiet(sim, 1.5)
    ev = res.node.machine.vm_events
    assert ev["compact_stall"] == ev["compact_success"] + ev["compact_fail"]
    assert ev["compact_stall"] >= 1
    df = res.trace
    ends = df[df.event == "mm_compaction_end"]
    begins = df[df.event == "mm_compaction_begin"]
    assert len(ends) == len(begins) >= 1
    # every migrated page was isolated first; sources and targets are both counted
    assert ev["compact_isolated"] >= 2 * ev["pgmigrate_success"]
    iso = df[df.event == "mm_compaction_isolate_migratepages"]
    fre = df[df.event == "mm_compaction_isolate_freepages"]
    assert iso["nr_scanned"].sum() == ev["compact_migrate_scanned"]
    assert fre["nr_scanned"].sum() == ev["compact_free_scanned"]
    assert iso["nr_taken"].sum() + fre["nr_taken"].sum() == ev["compact_isolated"]
    mig = df[df.event == "mm_compaction_migratepages"]
    assert mig["nr_migrated"].sum() == ev["pgmigrate_success"]
    owners_consistent(res.node)


# --------------------------------------------------------------------------
# trace text
# --------------------------------------------------------------------------
def test_compaction_begin_end_trace_text():
    node, z, _f = build_layout(evens_file_odds_free(8))
    tr = Tracer(None)
    node.machine.tracer = tr
    C.run_compact_zone(z, kcompactd_cc(z))
    lines = tr.ftrace().splitlines()
    begin = [ln for ln in lines if "mm_compaction_begin:" in ln]
    end = [ln for ln in lines if "mm_compaction_end:" in ln]
    # include/trace/events/compaction.h v5.0:
    # "zone_start=0x%lx migrate_pfn=0x%lx free_pfn=0x%lx zone_end=0x%lx, mode=%s"
    assert begin == ["          <idle>-0     [000] ....     0.000000: mm_compaction_begin: "
                     "zone_start=0x0 migrate_pfn=0x0 free_pfn=0xe00 zone_end=0x1000, mode=sync"]
    assert end == ["          <idle>-0     [000] ....     0.000000: mm_compaction_end: "
                   "zone_start=0x0 migrate_pfn=0x200 free_pfn=0xc00 zone_end=0x1000, "
                   "mode=sync status=success"]
    suitable = [ln.split(": ", 2)[2] for ln in lines if "mm_compaction_suitable:" in ln]
    assert suitable == ["node=0 zone=Normal   order=9 ret=continue"]


def test_async_begin_trace_says_async():
    node, z, _f = build_layout(layout_unmovable_in_every_block())
    tr = Tracer(None)
    node.machine.tracer = tr
    drive(C.compact_zone_order(z, 9, G.GFP_TRANSHUGE, C.COMPACT_PRIO_ASYNC, 0, z.idx))
    text = tr.ftrace()
    assert ("mm_compaction_end: zone_start=0x0 migrate_pfn=0xe00 free_pfn=0xe00 "
            "zone_end=0x1000, mode=async status=complete") in text
    assert "mm_compaction_begin: zone_start=0x0 migrate_pfn=0x0 free_pfn=0xe00 " \
           "zone_end=0x1000, mode=async" in text


def test_reset_isolation_suitable_keeps_thp_sized_blocks_skipped():
    """``__reset_isolation_suitable`` leaves the skip bit of a pageblock whose first page
    is part of a compound page of order >= pageblock_order (``pageblock_skip_persistent``).

    A 16 MiB Normal zone (pageblocks 0-7): an order-10 block and an order-9 block are
    allocated (pageblocks 0-1 and 2), an order-8 block after them; every skip bit is set,
    then the reset clears all but pageblocks 0, 1 and 2.
    """
    node = Node.build(zones={"Normal": "16MiB"}, pcp=False)
    z = node.zone("Normal")
    p10 = alloc_pages(node, 10, "GFP_TRANSHUGE", alloc_flags=ALLOC_NO_WATERMARKS)
    p9 = alloc_pages(node, 9, "GFP_TRANSHUGE", alloc_flags=ALLOC_NO_WATERMARKS)
    p8 = alloc_pages(node, 8, "GFP_TRANSHUGE", alloc_flags=ALLOC_NO_WATERMARKS)
    pb = {p: (p >> 9) - node.pb_base for p in (p10, p9, p8)}
    assert len({pb[p10], pb[p10] + 1, pb[p9], pb[p8]}) == 4
    node.pageblock_skip[:] = 1
    z.compact_blockskip_flush = True
    C.reset_isolation_suitable(node)
    kept = sorted(np.flatnonzero(node.pageblock_skip).tolist())
    assert kept == sorted([pb[p10], pb[p10] + 1, pb[p9]])
    assert not z.compact_blockskip_flush


def test_nofs_compaction_does_not_isolate_swap_cache_pages():
    """Without __GFP_FS, ``isolate_migratepages_block`` refuses pages with a mapping
    (``page_mapping()``): page cache, and anonymous pages in the swap cache."""
    from mmsim.mm.swap import LRU_INACTIVE_ANON, PG_swapcache, lru_cache_add

    node = Node.build(zones={"Normal": "16MiB"}, pcp=False)
    z = node.zone("Normal")
    pfns = np.sort(alloc_pages_bulk(node, 8, "GFP_HIGHUSER_MOVABLE", kind="anon",
                                    alloc_flags=ALLOC_NO_WATERMARKS))
    assert (np.diff(pfns) == 1).all()
    lv = get_lruvec(node)
    lru_cache_add(node, pfns, LRU_INACTIVE_ANON)
    lv.set_flags(pfns[::2], PG_swapcache)
    lo, hi = int(pfns[0]), int(pfns[-1]) + 1
    for gfp, expect in ((G.GFP_KERNEL, [True] * 8), (G.GFP_NOFS, [False, True] * 4)):
        cc = C.CompactControl(3, gfp, C.MIGRATE_SYNC_LIGHT, classzone_idx=z.idx)
        cc.zone = z
        _visited, ok = C._migrate_candidates(cc, lv, lo, hi)
        assert ok.tolist() == expect


@pytest.mark.parametrize("order,result,prio,retries,expect,line", [
    # failed (complete) at async: priority goes up one, retries start again
    (9, "COMPACT_COMPLETE", "COMPACT_PRIO_ASYNC", 0, (True, "COMPACT_PRIO_SYNC_LIGHT", 0),
     "order=9 priority=COMPACT_PRIO_ASYNC compaction_result=failed retries=0 max_retries=16 "
     "should_retry=1"),
    # failed at the lowest priority a costly order may use: give up
    (9, "COMPACT_COMPLETE", "COMPACT_PRIO_SYNC_LIGHT", 2, (False, "COMPACT_PRIO_SYNC_LIGHT", 2),
     "order=9 priority=COMPACT_PRIO_SYNC_LIGHT compaction_result=failed retries=2 "
     "max_retries=16 should_retry=0"),
    # progress: a costly order gets 16 / 4 = 4 retries; the 5th raises the priority
    (9, "COMPACT_SUCCESS", "COMPACT_PRIO_ASYNC", 3, (True, "COMPACT_PRIO_ASYNC", 4),
     "order=9 priority=COMPACT_PRIO_ASYNC compaction_result=progress retries=3 max_retries=4 "
     "should_retry=1"),
    (9, "COMPACT_SUCCESS", "COMPACT_PRIO_ASYNC", 4, (True, "COMPACT_PRIO_SYNC_LIGHT", 0),
     "order=9 priority=COMPACT_PRIO_ASYNC compaction_result=progress retries=4 max_retries=4 "
     "should_retry=1"),
    (3, "COMPACT_SUCCESS", "COMPACT_PRIO_SYNC_FULL", 16, (False, "COMPACT_PRIO_SYNC_FULL", 17),
     "order=3 priority=COMPACT_PRIO_SYNC_FULL compaction_result=progress retries=16 "
     "max_retries=16 should_retry=0"),
])
def test_should_compact_retry_decisions_and_compact_retry_trace(order, result, prio, retries,
                                                                expect, line):
    """``should_compact_retry`` worked by hand (v5.0 page_alloc.c), with its
    ``compact_retry`` line: the priority and retries the call started with, the
    result as failed / withdrawn / progress, the retry budget it used."""
    from mmsim.mm.slowpath import should_compact_retry
    from mmsim.trace import format_line

    node = Node.build(zones={"Normal": "64MiB"})
    tr = Tracer(None)
    node.machine.tracer = tr
    got = should_compact_retry(node, G.GFP_KERNEL, order, 0, getattr(C, result),
                               getattr(C, prio), retries)
    assert got == (expect[0], getattr(C, expect[1]), expect[2])
    assert [format_line(*r).split("compact_retry: ", 1)[1] for r in tr.records] == [line]


def test_should_compact_retry_order0_is_silent():
    from mmsim.mm.slowpath import should_compact_retry

    node = Node.build(zones={"Normal": "64MiB"})
    tr = Tracer(None)
    node.machine.tracer = tr
    assert should_compact_retry(node, G.GFP_KERNEL, 0, 0, C.COMPACT_COMPLETE,
                                C.COMPACT_PRIO_ASYNC, 0) == (False, C.COMPACT_PRIO_ASYNC, 0)
    assert tr.records == []


def test_compact_zone_killed_mid_run_ends_as_contended():
    """A task killed while it compacts (OOM victim): the run ends as the kernel's would when
    its next isolation step sees the fatal signal - unused targets freed, the scan counts
    added, ``mm_compaction_end`` with status contended - and the kill goes on unwinding."""
    from mmsim.kthread import Run
    from mmsim.mm.slowpath import OOMKilled

    node, z, _f = build_layout(evens_file_odds_free(8))
    tr = Tracer(None)
    node.machine.tracer = tr
    before = dict(node.machine.vm_events)
    cc = kcompactd_cc(z)
    gen = C.compact_zone(z, cc)
    cmd = next(gen)
    while not isinstance(cmd, Run):  # the first round's cost: suspended in the loop
        cmd = gen.send(None)
    with pytest.raises(OOMKilled):
        gen.throw(OOMKilled(9, G.GFP_KERNEL, 1, 1))
    assert cc.freepages == []
    assert not (node.state == FRAME_ISOLATED).any()  # nothing left isolated
    check_node(node)
    delta = events_delta(node, before, ["compact_migrate_scanned", "compact_free_scanned"])
    assert delta == {"compact_migrate_scanned": cc.total_migrate_scanned,
                     "compact_free_scanned": cc.total_free_scanned}
    assert delta["compact_migrate_scanned"] > 0
    ends = [r[5] for r in tr.records if r[4] == "mm_compaction_end"]
    assert len(ends) == 1 and ends[0]["status"] == "contended"
