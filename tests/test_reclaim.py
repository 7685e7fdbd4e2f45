"""The reclaim engine of mm/vmscan.c (v5.0): scan targets, page outcomes, direct reclaim.

Expected values are worked out from the kernel rules in balance-pgdat.md and
wakeup-paths.md of the shared v5.0 notes (and mm/vmscan.c itself), on tiny
nodes where every number can be followed by hand. The 16 MiB Normal-only node
has min/low/high = 128/160/192 pages (see tests/test_kswapd.py).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import fields
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from mmsim import Node
from mmsim.cost import CostModel
from mmsim.kthread import PF_KSWAPD, Scheduler, Sleep, Task
from mmsim.mm import gfp as G
from mmsim.mm import vmscan
from mmsim.mm.debug import check_node
from mmsim.mm.filemap import AnonRegion, FileMapping
from mmsim.mm.mmzone import FRAME_ANON, FRAME_FREE
from mmsim.mm.page_alloc import ALLOC_NO_WATERMARKS, alloc_pages_bulk, free_pages_bulk
from mmsim.mm.slowpath import alloc_pages_task, gfp_to_alloc_flags
from mmsim.mm.swap import (
    LRU_ACTIVE_ANON,
    LRU_ACTIVE_FILE,
    LRU_INACTIVE_ANON,
    LRU_INACTIVE_FILE,
    PG_dirty,
    PG_mapped,
    PG_reclaim,
    PG_referenced,
    PG_swapcache,
    PG_writeback,
    PG_young,
    SwapArea,
    get_lruvec,
)
from mmsim.simulation import Simulation
from mmsim.workloads import AnonGrowth, Script

MS = 1_000_000
ZERO_COST = CostModel(**{f.name: 0 for f in fields(CostModel) if f.name.endswith("_ns")})
GOLDEN = Path(__file__).parent / "data" / "golden-examples.json"


def golden(name: str) -> dict:
    for case in json.loads(GOLDEN.read_text())["cases"]:
        if case["name"] == name:
            return case
    raise AssertionError(f"golden case {name} is missing")


def small_node(size: str = "16MiB") -> Node:
    return Node.build(zones={"Normal": size})


def fill_lru(node: Node, sizes: dict[int, int], *, no_watermarks: bool = False) -> None:
    """Put freshly allocated pages of the right kind on the given LRU lists."""
    lv = get_lruvec(node)
    for lru, n in sizes.items():
        if not n:
            continue
        kind = "file" if lru in (LRU_INACTIVE_FILE, LRU_ACTIVE_FILE) else "anon"
        flags = ALLOC_NO_WATERMARKS if no_watermarks else None
        pfns = alloc_pages_bulk(node, n, "GFP_HIGHUSER_MOVABLE", kind=kind, alloc_flags=flags)
        assert pfns.size == n
        lv.add(pfns, lru)


def sc_for(priority: int, **kw) -> vmscan.ScanControl:
    kw.setdefault("reclaim_idx", 3)
    kw.setdefault("may_swap", True)
    return vmscan.ScanControl(priority=priority, **kw)


def trace_log(sim, events, comm=None):
    return [(t, c, e, f) for t, c, _p, _cpu, e, f in sim.tracer.records
            if e in events and (comm is None or c == comm)]


# --------------------------------------------------------------------------
# golden: scan targets by priority, inactive ratio
# --------------------------------------------------------------------------
def test_golden_scan_targets_by_priority(monkeypatch):
    case = golden("scan_targets_by_priority")
    node = Node.build(zones={"Normal": "4GiB"})
    n = case["inputs"]["lru_size"]
    fill_lru(node, {LRU_INACTIVE_FILE: n})
    lv = get_lruvec(node)
    calls = []

    def count_batches(lru, nr_to_scan, lv_, sc):
        calls.append((lru, nr_to_scan))
        return 0

    monkeypatch.setattr(vmscan, "shrink_list", count_batches)
    for prio, scan, batches in zip(case["inputs"]["priorities"], case["expected"]["scan"],
                                   case["expected"]["batches_of_SWAP_CLUSTER_MAX"]):
        nr, balance = vmscan.get_scan_count(lv, sc_for(prio), 60)
        assert balance == vmscan.SCAN_FILE  # no swap
        assert nr[LRU_INACTIVE_FILE] == scan == n >> prio
        assert nr[LRU_INACTIVE_ANON] == nr[LRU_ACTIVE_ANON] == nr[LRU_ACTIVE_FILE] == 0
        # shrink_node_memcg scans it in chunks of min(left, SWAP_CLUSTER_MAX)
        calls.clear()
        for _ in vmscan.shrink_node_memcg(node, sc_for(prio, nr_to_reclaim=10**9)):
            pass
        assert len(calls) == batches == math.ceil(scan / 32)
        assert sum(c[1] for c in calls) == scan
        assert {c[0] for c in calls} == {LRU_INACTIVE_FILE}
        assert all(c[1] == 32 for c in calls[:-1])


class _Lv:
    """Just what inactive_list_is_low reads of a lruvec."""

    def __init__(self, sizes, refaults=0, activate=0, swap=0):
        self.sizes = sizes
        self.refaults = refaults
        machine = SimpleNamespace(swap=SwapArea(swap) if swap else None)
        self.node = SimpleNamespace(machine=machine,
                                    node_stat={"workingset_activate": activate})

    def lru_size(self, lru, max_zone=4):
        return self.sizes.get(lru, 0)


@pytest.mark.parametrize("i", range(3))
def test_golden_inactive_ratio_examples(i):
    case = golden("inactive_ratio_examples")
    inactive, active = case["inputs"]["cases_pages"][i]
    ratio = case["expected"]["inactive_ratio"][i]
    assert vmscan.inactive_ratio_for(inactive + active) == ratio
    sc = sc_for(12)
    lv = _Lv({LRU_INACTIVE_FILE: inactive, LRU_ACTIVE_FILE: active})
    for actual in (False, True):
        assert vmscan.inactive_list_is_low(lv, True, sc, actual) == case["expected"]["is_low"][i]
    # with swap the anon lists follow the same rule; without swap never "low"
    anon = {LRU_INACTIVE_ANON: inactive, LRU_ACTIVE_ANON: active}
    assert vmscan.inactive_list_is_low(_Lv(anon, swap=1), False, sc, True) == \
        case["expected"]["is_low"][i]
    assert vmscan.inactive_list_is_low(_Lv(anon), False, sc, True) is False
    # refaults since the last snapshot: ratio 0 for file lists during actual reclaim
    refaulting = _Lv({LRU_INACTIVE_FILE: inactive, LRU_ACTIVE_FILE: active}, activate=1)
    assert vmscan.inactive_list_is_low(refaulting, True, sc, True) == (active > 0)
    assert vmscan.inactive_list_is_low(refaulting, True, sc, False) == \
        case["expected"]["is_low"][i]


# --------------------------------------------------------------------------
# get_scan_count branches
# --------------------------------------------------------------------------
FRACT_SIZES = {LRU_INACTIVE_ANON: 1024, LRU_ACTIVE_ANON: 1024,
               LRU_INACTIVE_FILE: 512, LRU_ACTIVE_FILE: 1536}


def _fract_node(swap: int = 4096) -> Node:
    node = small_node("32MiB")  # 8192 pages: room for the 4096 LRU pages above
    fill_lru(node, FRACT_SIZES)
    if swap:
        node.machine.swap = SwapArea(swap)
    return node


def test_get_scan_count_scan_file_without_swap():
    node = _fract_node(swap=0)
    nr, balance = vmscan.get_scan_count(get_lruvec(node), sc_for(4), 60)
    assert balance == vmscan.SCAN_FILE
    assert nr[:4] == [0, 0, 512 >> 4, 1536 >> 4]


def test_get_scan_count_scan_file_when_reclaim_may_not_swap_or_swap_is_full():
    node = _fract_node()
    lv = get_lruvec(node)
    assert vmscan.get_scan_count(lv, sc_for(4, may_swap=False), 60)[1] == vmscan.SCAN_FILE
    node.machine.swap.used = node.machine.swap.pages  # no free slot
    assert vmscan.get_scan_count(lv, sc_for(4), 60)[1] == vmscan.SCAN_FILE


def test_get_scan_count_scan_fract_splits_by_swappiness():
    node = _fract_node()
    lv = get_lruvec(node)
    # inactive file 512 < active 1536 (ratio 1): the file list is low → SCAN_FRACT
    # swappiness 60: anon_prio 60, file_prio 140; no history: ap = 60, fp = 140,
    # denominator 201; priority 4: size >> 4 = 64, 64, 32, 96;
    # scan = ceil(scan * fraction / 201): 64*60/201 = 19.1 → 20, 32*140/201 = 22.3 → 23,
    # 96*140/201 = 66.9 → 67
    nr, balance = vmscan.get_scan_count(lv, sc_for(4), 60)
    assert balance == vmscan.SCAN_FRACT
    assert nr[:4] == [20, 20, 23, 67]
    # swappiness 100: equal priorities → 64*100/201 = 31.8 → 32
    assert vmscan.get_scan_count(lv, sc_for(4), 100)[0][:4] == [32, 32, 16, 48]
    # swappiness 0 in global reclaim: anon gets 0 but is still SCAN_FRACT
    nr, balance = vmscan.get_scan_count(lv, sc_for(4), 0)
    assert balance == vmscan.SCAN_FRACT and nr[:4] == [0, 0, 32, 96]
    # history: recent_scanned[anon] 1000 > anon/4 = 512 → halved with rotated: 500/150;
    # ap = 60 * 501 // 151 = 199, fp = 140, denominator 340: 64*199/340 = 37.5 → 38,
    # 32*140/340 = 13.2 → 14, 96*140/340 = 39.5 → 40
    lv.recent_scanned[:] = [1000, 0]
    lv.recent_rotated[:] = [300, 0]
    nr, balance = vmscan.get_scan_count(lv, sc_for(4), 60)
    assert (balance, nr[:4]) == (vmscan.SCAN_FRACT, [38, 38, 14, 40])
    assert (lv.recent_scanned, lv.recent_rotated) == ([500, 0], [150, 0])


def test_get_scan_count_scan_file_when_the_inactive_file_list_is_big_enough():
    node = small_node()
    fill_lru(node, {LRU_INACTIVE_ANON: 1024, LRU_INACTIVE_FILE: 1536, LRU_ACTIVE_FILE: 512})
    node.machine.swap = SwapArea(4096)
    lv = get_lruvec(node)
    assert vmscan.get_scan_count(lv, sc_for(4), 60) == ([0, 0, 96, 32, 0], vmscan.SCAN_FILE)
    # ... unless the inactive list has nothing to scan at this priority (1536 >> 11 = 0)
    assert vmscan.get_scan_count(lv, sc_for(11), 60)[1] == vmscan.SCAN_FRACT


def test_get_scan_count_scan_anon_when_file_plus_free_is_below_the_high_watermarks():
    node = small_node()
    zone = node.zone("Normal")
    fill_lru(node, {LRU_INACTIVE_FILE: 40}, no_watermarks=True)
    fill_lru(node, {LRU_INACTIVE_ANON: 4096 - 40 - 152}, no_watermarks=True)
    node.machine.swap = SwapArea(8192)
    lv = get_lruvec(node)
    assert zone.nr_free_pages == 152 and zone.high_wmark_pages == 192
    # file 40 + free 152 = 192 <= Σ high 192; inactive anon not low (active 0) and
    # 3904 >> 4 = 244 > 0 → SCAN_ANON
    nr, balance = vmscan.get_scan_count(lv, sc_for(4), 60)
    assert (balance, nr[:4]) == (vmscan.SCAN_ANON, [3904 >> 4, 0, 0, 0])
    # one page more free: 193 > 192 → the file rules apply again (40 >> 4 = 2 > 0)
    last = lv.peek_tail(LRU_INACTIVE_ANON, 1)
    lv.remove(last)
    free_pages_bulk(node, last)
    assert vmscan.get_scan_count(lv, sc_for(4), 60)[1] == vmscan.SCAN_FILE
    # nothing to scan at this priority on the inactive anon list → not SCAN_ANON
    assert vmscan.get_scan_count(lv, sc_for(12), 60)[1] != vmscan.SCAN_ANON


def test_get_scan_count_scan_equal_at_priority_zero():
    node = _fract_node()
    lv = get_lruvec(node)
    assert vmscan.get_scan_count(lv, sc_for(0), 60) == ([1024, 1024, 512, 1536, 0],
                                                        vmscan.SCAN_EQUAL)
    # swappiness 0 disagrees with swapping: no SCAN_EQUAL
    assert vmscan.get_scan_count(lv, sc_for(0), 0)[1] == vmscan.SCAN_FRACT


# --------------------------------------------------------------------------
# shrink_page_list outcomes
# --------------------------------------------------------------------------
def _page_env(kswapd: bool, swap: int = 16):
    node = small_node()
    node.machine.swap = SwapArea(swap) if swap else None
    sched = Scheduler(hz=250)
    node.machine.sched = sched
    task = Task(sched, "kswapd0" if kswapd else "reader", 1, 0)
    task.flags = PF_KSWAPD if kswapd else 0
    sched.current = task
    return node


CASES = {
    # name: (kind, flags, kswapd, pgdat_flags, may_writepage,
    #        outcome, flags afterwards, counters)
    "referenced mapped anon → activate": (
        "anon", PG_mapped | PG_young | PG_dirty, False, 0, True,
        "activate", PG_mapped | PG_dirty, {"pgactivate": 1}),
    "file page referenced once (pte) → keep with PG_referenced": (
        "file", PG_mapped | PG_young, False, 0, True,
        "keep", PG_mapped | PG_referenced, {}),
    "file page referenced twice → activate, PG_referenced kept": (
        "file", PG_mapped | PG_young | PG_referenced, False, 0, True,
        "activate", PG_mapped | PG_referenced, {"pgactivate": 1}),
    "dirty file page, direct reclaim → activate, PG_reclaim": (
        "file", PG_dirty, False, vmscan.PGDAT_DIRTY, True,
        "activate", PG_dirty | PG_reclaim, {"pgactivate": 1, "nr_vmscan_immediate_reclaim": 1}),
    "dirty file page, kswapd, not yet PG_reclaim → activate, PG_reclaim": (
        "file", PG_dirty, True, vmscan.PGDAT_DIRTY, True,
        "activate", PG_dirty | PG_reclaim, {"pgactivate": 1, "nr_vmscan_immediate_reclaim": 1}),
    "dirty PG_reclaim file page, kswapd, node not PGDAT_DIRTY → activate": (
        "file", PG_dirty | PG_reclaim, True, 0, True,
        "activate", PG_dirty | PG_reclaim, {"pgactivate": 1, "nr_vmscan_immediate_reclaim": 1}),
    "dirty PG_reclaim file page, kswapd on a PGDAT_DIRTY node → written": (
        "file", PG_dirty | PG_reclaim, True, vmscan.PGDAT_DIRTY, True,
        "keep", PG_writeback | PG_reclaim, {"nr_vmscan_write": 1}),
    "... but not when writepage is not allowed (boost reclaim)": (
        "file", PG_dirty | PG_reclaim, True, vmscan.PGDAT_DIRTY, False,
        "keep", PG_dirty | PG_reclaim, {}),
    "... nor when it was referenced (PAGEREF_RECLAIM_CLEAN)": (
        "file", PG_dirty | PG_reclaim | PG_referenced, True, vmscan.PGDAT_DIRTY, True,
        "keep", PG_dirty | PG_reclaim, {}),
    "writeback → activate, marked PG_reclaim": (
        "file", PG_writeback, False, 0, True,
        "activate", PG_writeback | PG_reclaim, {"pgactivate": 1}),
    "writeback + PG_reclaim, kswapd on a PGDAT_WRITEBACK node → activate (immediate)": (
        "file", PG_writeback | PG_reclaim, True, vmscan.PGDAT_WRITEBACK, True,
        "activate", PG_writeback | PG_reclaim, {"pgactivate": 1}),
    "clean unreferenced file page → freed": (
        "file", 0, False, 0, True, "freed", 0, {}),
    "clean file page seen once by read() → freed (PAGEREF_RECLAIM_CLEAN)": (
        "file", PG_referenced, True, 0, True, "freed", 0, {}),
    "clean unreferenced mapped file page → unmapped and freed": (
        "file", PG_mapped, False, 0, True, "freed", 0, {}),
    "unreferenced anon → swap cache, written to swap": (
        "anon", PG_mapped | PG_dirty, True, 0, True,
        "keep", PG_swapcache | PG_writeback | PG_reclaim, {"pswpout": 1, "nr_vmscan_write": 1}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_shrink_page_list_outcome(name):
    kind, flags, kswapd, pgdat_flags, may_writepage, outcome, after, counts = CASES[name]
    node = _page_env(kswapd)
    node.pgdat_flags = pgdat_flags
    lv = get_lruvec(node)
    pfns = alloc_pages_bulk(node, 1, "GFP_HIGHUSER_MOVABLE", kind=kind)
    lv.flags[pfns] = flags
    sc = vmscan.ScanControl(gfp_mask=G.GFP_KERNEL, may_writepage=may_writepage, may_swap=True,
                            reclaim_idx=3)
    free0 = node.nr_free_pages
    keep, act, st = vmscan.shrink_page_list(node, lv, pfns, sc, kind == "file")
    got = "activate" if act.size else "keep" if keep.size else "freed"
    assert got == outcome
    assert st["nr_reclaimed"] == (1 if outcome == "freed" else 0)
    if outcome == "freed":
        assert node.nr_free_pages == free0 + 1
        assert node.state[pfns[0]] == FRAME_FREE
    else:
        assert int(lv.flags[pfns[0]]) == after, (bin(int(lv.flags[pfns[0]])), bin(after))
    # sc->nr_scanned counts pages mapped or in the swap cache when examined twice
    assert sc.nr_scanned == (2 if flags & (PG_mapped | PG_swapcache) else 1)
    ev = node.machine.vm_events
    for name_ in ("pgactivate", "pswpout"):
        assert ev[name_] == counts.get(name_, 0), name_
    for name_ in ("nr_vmscan_write", "nr_vmscan_immediate_reclaim"):
        assert node.node_stat.get(name_, 0) == counts.get(name_, 0), name_


def test_shrink_page_list_anon_without_a_swap_slot_is_activated():
    node = _page_env(kswapd=True, swap=0)
    lv = get_lruvec(node)
    pfns = alloc_pages_bulk(node, 1, "GFP_HIGHUSER_MOVABLE", kind="anon")
    lv.flags[pfns] = PG_mapped | PG_dirty
    sc = vmscan.ScanControl(gfp_mask=G.GFP_KERNEL, may_writepage=True, may_swap=True)
    keep, act, st = vmscan.shrink_page_list(node, lv, pfns, sc, False)
    assert act.tolist() == pfns.tolist() and not keep.size and st["nr_activate"] == 1
    # and without __GFP_IO the page is not even tried: kept
    node.machine.swap = SwapArea(16)
    sc = vmscan.ScanControl(gfp_mask=G.GFP_NOIO, may_writepage=True, may_swap=True)
    keep, act, _st = vmscan.shrink_page_list(node, lv, pfns, sc, False)
    assert keep.tolist() == pfns.tolist() and not act.size
    assert node.machine.swap.used == 0


def test_shrink_page_list_stats_for_the_tracepoint():
    """The per-list stats of shrink_page_list (L1100-1505) that the tracepoint prints."""
    node = _page_env(kswapd=False)
    lv = get_lruvec(node)
    pfns = alloc_pages_bulk(node, 5, "GFP_HIGHUSER_MOVABLE", kind="file")
    lv.flags[pfns] = [PG_dirty, PG_writeback, PG_writeback | PG_reclaim,
                      PG_mapped | PG_young, 0]
    sc = vmscan.ScanControl(gfp_mask=G.GFP_KERNEL, may_writepage=True)
    keep, act, st = vmscan.shrink_page_list(node, lv, pfns, sc, True)
    assert {k: st[k] for k in ("nr_dirty", "nr_unqueued_dirty", "nr_writeback",
                               "nr_congested", "nr_immediate", "nr_activate",
                               "nr_ref_keep", "nr_reclaimed")} == {
        "nr_dirty": 3, "nr_unqueued_dirty": 1, "nr_writeback": 2, "nr_congested": 1,
        "nr_immediate": 0, "nr_activate": 3, "nr_ref_keep": 1, "nr_reclaimed": 1}
    assert sorted(act.tolist()) == pfns[:3].tolist() and keep.tolist() == [pfns[3]]


# --------------------------------------------------------------------------
# page-cache reads (mm/filemap.c + mm/swap.c)
# --------------------------------------------------------------------------
def test_a_file_page_read_twice_is_activated():
    """generic_file_buffered_read calls mark_page_accessed on every page it copies,
    including the page it has just read in: PG_referenced after one read, the active list
    after the second (v5.0 mm/filemap.c, "page_ok:" - mark_page_accessed)."""
    node = small_node()
    sim = Simulation(node, [], seed=0, daemons=False)
    lv = get_lruvec(node)
    f = FileMapping(node, 100, name="f")
    for _ in f.read([7]):
        pass
    pfn = int(f.pfn[7])
    assert lv.lru[pfn] == LRU_INACTIVE_FILE
    assert lv.flags[pfn] & PG_referenced
    for _ in f.read([7]):
        pass
    assert lv.lru[pfn] == LRU_ACTIVE_FILE
    assert node.machine.vm_events["pgactivate"] == 1
    # a mapped file: a fault sets the pte accessed bit only (filemap_fault)
    m = FileMapping(node, 100, name="m", mapped=True)
    for _ in m.read([3]):
        pass
    assert lv.flags[int(m.pfn[3])] == PG_mapped | PG_young
    assert sim.sched.now_ns == 0


# --------------------------------------------------------------------------
# direct reclaim
# --------------------------------------------------------------------------
def test_direct_reclaim_counts_allocstall_movable_and_pgscan_pgsteal_direct():
    node = small_node()
    zone = node.zone("Normal")

    def steps(sim):
        f = FileMapping(sim.node, 100_000, name="f")
        yield Sleep(120 * MS)
        yield from f.read(range(3926))  # 170 free
        yield Sleep(28 * MS)
        # 62 pages: 10 at low (→ 160), wake kswapd, 32 at min (→ 128), then direct reclaim
        # (kswapd has not run yet: same instant, zero cost). The retry's wake_all_kswapds
        # finds kswapd off its wait queue (already woken): no second line
        yield from f.read(range(3926, 3988))
        yield Sleep(1000 * MS)

    sim = Simulation(node, [Script(fn=steps, name="reader")], seed=0, cost=ZERO_COST)
    sim.run(0.5)
    t = 148 * MS
    wake = (t, "reader", "mm_vmscan_wakeup_kswapd",
            {"nid": 0, "zid": 3, "order": 0, "gfp_flags": G.GFP_HIGHUSER_MOVABLE})
    # direct reclaim: sc.nr_to_reclaim 32, reclaim_idx = gfp_zone = MOVABLE; priority 12
    # scans 3926>>12 = 0, then 1, 3, 7, 15, 30 → 56 >= 32 after priority 7
    direct = [(t, "reader", "mm_vmscan_lru_shrink_inactive", p) for p in (11, 10, 9, 8, 7)]
    got = [(r[0], r[1], r[2], r[3] if r[2] != "mm_vmscan_lru_shrink_inactive"
            else r[3]["priority"]) for r in trace_log(sim, (
                "mm_vmscan_wakeup_kswapd", "mm_vmscan_direct_reclaim_begin",
                "mm_vmscan_direct_reclaim_end", "mm_vmscan_lru_shrink_inactive",
                "mm_vmscan_kswapd_wake"))]
    assert got[:9] == [
        wake,
        (t, "reader", "mm_vmscan_direct_reclaim_begin",
         {"order": 0, "may_writepage": 1, "gfp_flags": G.GFP_HIGHUSER_MOVABLE,
          "classzone_idx": 3}),
        *direct,
        (t, "reader", "mm_vmscan_direct_reclaim_end", {"nr_reclaimed": 56}),
        (t, "kswapd0", "mm_vmscan_kswapd_wake", {"nid": 0, "zid": 3, "order": 0}),
    ]
    # the reader got its last 20 pages at min: 128 + 56 - 20 = 164; kswapd then takes the
    # node from 164 to 220 (3870 on the LRU: 1, 3, 7, 15, 30)
    ev = node.machine.vm_events
    assert {k: ev[k] for k in ("allocstall_movable", "allocstall_normal", "pgscan_direct",
                               "pgsteal_direct", "pgscan_kswapd", "pgsteal_kswapd",
                               "pgscan_direct_throttle")} == {
        "allocstall_movable": 1, "allocstall_normal": 0, "pgscan_direct": 56,
        "pgsteal_direct": 56, "pgscan_kswapd": 56, "pgsteal_kswapd": 56,
        "pgscan_direct_throttle": 0}
    assert zone.nr_free_pages == 220



def test_direct_reclaim_runs_with_pf_memalloc_and_restores_it(monkeypatch):
    # __perform_reclaim: memalloc_noreclaim_save() around try_to_free_pages, then restore
    from mmsim.kthread import PF_MEMALLOC
    from mmsim.mm import vmscan

    node = small_node()
    seen = []
    real = vmscan.try_to_free_pages

    def spy(*args, **kwargs):
        seen.append(bool(sim.sched.current.flags & PF_MEMALLOC))
        return (yield from real(*args, **kwargs))

    monkeypatch.setattr(vmscan, "try_to_free_pages", spy)
    after = []

    def steps(sim):
        f = FileMapping(sim.node, 100_000, name="f")
        yield Sleep(120 * MS)
        yield from f.read(range(3926))
        yield Sleep(28 * MS)
        yield from f.read(range(3926, 3988))  # falls into direct reclaim (test above)
        after.append(bool(sim.sched.current.flags & PF_MEMALLOC))

    sim = Simulation(node, [Script(fn=steps, name="reader")], seed=0, cost=ZERO_COST)
    sim.run(0.5)
    assert seen == [True]
    assert after == [False]
    assert node.machine.vm_events["allocstall_movable"] == 1

def test_direct_reclaim_takes_a_refault_snapshot():
    """do_try_to_free_pages ends with snapshot_refaults() for the node (L3061)."""
    node = small_node()

    def steps(sim):
        f = FileMapping(sim.node, 1000, name="f")
        yield from f.read(range(1000))
        sim.node.node_stat["workingset_activate"] = 5  # refaults since the last snapshot
        assert get_lruvec(sim.node).refaults == 0
        yield from vmscan.try_to_free_pages(sim.node, 0, G.GFP_KERNEL)
        yield Sleep(1000 * MS)

    Simulation(node, [Script(fn=steps, name="reader")], seed=0, cost=ZERO_COST).run(0.01)
    assert node.machine.vm_events["allocstall_normal"] == 1
    assert get_lruvec(node).refaults == 5


def test_throttle_direct_reclaim_below_half_the_min_reserve():
    node = small_node()
    zone = node.zone("Normal")
    atomic = G.GFP_ATOMIC | G.__GFP_MOVABLE  # movable: no pageblock steal, no boost
    no_kswapd = G.GFP_HIGHUSER_MOVABLE & ~G.__GFP_KSWAPD_RECLAIM

    def steps(sim):
        f = FileMapping(sim.node, 100_000, name="f")
        yield Sleep(120 * MS)
        yield from f.read(range(3926))  # 170 free
        yield Sleep(28 * MS)
        # an atomic allocation may go below min: ALLOC_HIGH halves 128 to 64, ALLOC_HARDER
        # takes a quarter off → 48 (the bulk path wakes nobody)
        got = alloc_pages_bulk(sim.node, 200, atomic, kind="anon",
                               alloc_flags=gfp_to_alloc_flags(atomic))
        assert got.size == 122 and zone.nr_free_pages == 48
        # free 48 <= Σmin / 2 = 64: the direct reclaimer is throttled until kswapd has
        # brought free above 64. Without __GFP_KSWAPD_RECLAIM the slow path does not wake
        # kswapd: allow_direct_reclaim does (no tracepoint on that path)
        yield from alloc_pages_task(sim.node, 1, no_kswapd, kind="file")
        sim.done_at = sim.sched.now_ns
        yield Sleep(1000 * MS)

    sim = Simulation(node, [Script(fn=steps, name="reader")], seed=0, cost=ZERO_COST)
    sim.run(0.5)
    assert node.machine.vm_events["pgscan_direct_throttle"] == 1
    t = 148 * MS
    events = [(r[1], r[2], r[3].get("priority", r[3].get("zid")))
              for r in trace_log(sim, ("mm_vmscan_kswapd_wake", "mm_vmscan_direct_reclaim_begin",
                                       "mm_vmscan_lru_shrink_inactive"))]
    # allow_direct_reclaim found kswapd asleep and set its classzone to
    # min(MAX_NR_ZONES "none", ZONE_NORMAL) = 2 before waking it.
    # kswapd: 3926 on the LRU, 48 free: 1 (49), 3 (52), 7 (59), 15 (74 > 64: the reader is
    # woken), 30 (104), 60 = 32+28 (164), 119 = 3*32+23 (283 > 192: balanced)
    kswapd = [("kswapd0", "mm_vmscan_lru_shrink_inactive", p)
              for p in (11, 10, 9, 8, 7, 6, 6, 5, 5, 5, 5)]
    # then the reader's own reclaim: 3691 on the LRU: 1, 3, 7, 14, 28 → 53
    reader = [("reader", "mm_vmscan_lru_shrink_inactive", p) for p in (11, 10, 9, 8, 7)]
    assert events == [("kswapd0", "mm_vmscan_kswapd_wake", 2), *kswapd,
                      ("reader", "mm_vmscan_direct_reclaim_begin", None), *reader]
    assert not trace_log(sim, ("mm_vmscan_wakeup_kswapd",))
    assert all(r[0] == t for r in trace_log(sim, ("mm_vmscan_lru_shrink_inactive",)))
    ev = node.machine.vm_events
    assert (ev["pgsteal_kswapd"], ev["pgsteal_direct"], ev["allocstall_movable"]) == \
        (235, 53, 1)
    assert sim.done_at == t and zone.nr_free_pages == 283 + 53 - 1


def test_throttle_without_gfp_fs_ends_after_one_second():
    """No __GFP_FS: wait_event_interruptible_timeout(pfmemalloc_wait, ..., HZ) (L3198-3200)."""
    node = small_node()
    zone = node.zone("Normal")
    atomic = G.GFP_ATOMIC | G.__GFP_MOVABLE
    nofs = G.GFP_NOFS | G.__GFP_MOVABLE

    def steps(sim):
        f = FileMapping(sim.node, 100_000, name="f")
        yield Sleep(120 * MS)
        yield from f.read(range(3926))
        vmscan.kswapd_stop(sim.node)  # nobody will restore the reserve
        yield Sleep(28 * MS)
        alloc_pages_bulk(sim.node, 200, atomic, kind="anon",
                         alloc_flags=gfp_to_alloc_flags(atomic))
        yield from alloc_pages_task(sim.node, 1, nofs, kind="file")
        sim.done_at = sim.sched.now_ns
        yield Sleep(10_000 * MS)

    sim = Simulation(node, [Script(fn=steps, name="reader")], seed=0, cost=ZERO_COST)
    sim.run(2.0)
    assert node.machine.vm_events["pgscan_direct_throttle"] == 1
    begins = trace_log(sim, ("mm_vmscan_direct_reclaim_begin",))
    # throttled from 148 ms for HZ = 1 s; the first reclaim brings 48 + 56 = 104 free, not
    # enough for min (128): should_reclaim_retry → a second reclaim, not throttled any more
    # (104 > 64): 3870 on the LRU → 56 more → 160, one page taken
    assert [r[0] for r in begins] == [1148 * MS, 1148 * MS]
    assert sim.done_at == 1148 * MS
    ev = node.machine.vm_events
    assert (ev["allocstall_normal"], ev["pgsteal_direct"]) == (2, 112)
    assert zone.nr_free_pages == 159


# --------------------------------------------------------------------------
# OOM
# --------------------------------------------------------------------------
def test_oom_kills_the_failing_task_and_the_run_goes_on():
    node = small_node()
    sim = Simulation(node, [AnonGrowth(rate="64MiB", size="32MiB", name="hog")], seed=0)
    t0 = time.perf_counter()
    res = sim.run(2.0)
    assert time.perf_counter() - t0 < 30  # no endless retry loop
    assert sim.sched.now_ns == 2000 * MS
    assert len(res.oom_killed) == 1 and res.oom_killed[0].startswith("hog: out of memory")
    ev = node.machine.vm_events
    assert ev["oom_kill"] == 1
    victims = trace_log(sim, ("mark_victim",))
    assert len(victims) == 1 and victims[0][1] == "hog"
    hog = next(t for t in sim.sched.tasks if t.comm == "hog")
    assert not hog.alive
    # no swap: the anonymous memory was never reclaimable - kswapd gave up on the node
    assert ev["pgsteal_kswapd"] == ev["pgsteal_direct"] == 0
    assert node.kswapd_failures >= 1
    assert ev["allocstall_movable"] >= 1
    # the allocation that failed held nothing afterwards: the chunk's pages went back
    assert node.nr_free_pages >= node.zone("Normal").min_wmark_pages
    assert np.count_nonzero(node.state == FRAME_FREE) == node.nr_free_pages
    # and the victim's address space went with it (exit_mmap): no anonymous page is left,
    # the hog's memory is free again
    assert np.count_nonzero(node.state == FRAME_ANON) == 0
    hog_rows = res.vmstat[res.vmstat.oom_kill > 0]
    assert hog_rows.nr_free_pages.iloc[0] > res.vmstat.nr_free_pages.iloc[0] - 64


def test_oom_victim_frees_its_partial_allocation():
    node = small_node()
    zone = node.zone("Normal")

    def steps(sim):
        a = AnonRegion(sim.node, 100_000, name="a")
        yield from a.touch(range(3900))  # 196 free, nothing reclaimable (no swap)
        sim.before = zone.nr_free_pages
        yield from a.touch(range(3900, 4100))  # 200 more: cannot be satisfied

    sim = Simulation(node, [Script(fn=steps, name="hog")], seed=0, cost=ZERO_COST)
    res = sim.run(1.0)
    assert sim.before == 196
    assert res.oom_killed == [
        f"hog: out of memory: order 0, gfp {G.show_gfp_flags(G.GFP_HIGHUSER_MOVABLE)}, "
        "132 pages still wanted"]
    # it had got 68 of the 200 pages (down to min = 128); they are given back. (The kernel
    # would also free the victim's address space on exit - mmsim's OOM killer keeps the
    # region's pages, a documented simplification - hence ">=")
    assert zone.nr_free_pages >= 196


def _hog_and_grower(oom_kill_allocating_task: int | None):
    """16 MiB node without swap: "hog" touches 2500 anonymous pages and sleeps; at 0.1 s
    "grower" asks for 1500 more (``sim.grown``: its resident pages if it finishes).
    ``None`` keeps mmsim's default setting. Returns ``(node, sim, result)`` after 1 s."""
    node = small_node()
    if oom_kill_allocating_task is not None:
        node.machine.sysctl.oom_kill_allocating_task = oom_kill_allocating_task

    def hog(sim):
        a = AnonRegion(sim.node, 4096, name="hog")
        yield from a.touch(range(2500))
        yield Sleep(10 * 1000 * MS)

    def grower(sim):
        yield Sleep(100 * MS)
        b = AnonRegion(sim.node, 4096, name="grower")
        yield from b.touch(range(1500))
        sim.grown = b.nr_resident

    sim = Simulation(node, [Script(fn=hog, name="hog"), Script(fn=grower, name="grower")],
                     seed=0, cost=ZERO_COST)
    return node, sim, sim.run(1.0)


def test_oom_badness_picks_the_biggest_task_when_not_killing_the_allocator():
    """``vm.oom_kill_allocating_task = 0`` (the kernel's default): the OOM killer kills the
    task with the highest ``oom_badness`` - here a sleeping hog - and the allocation that
    ran out retries and succeeds with the memory the kill gave back.

    16 MiB node (4096 pages, no swap: anonymous memory cannot be reclaimed). The hog
    touches 2500 pages and sleeps; at 0.1 s the grower asks for 1500 more. Badness: the
    hog 2500 resident + 5 PTE pages (2500 pages span five 512-page stretches) = 2505; the
    grower, with nothing yet, 1.
    """
    node, sim, res = _hog_and_grower(oom_kill_allocating_task=0)
    assert sim.grown == 1500
    assert res.oom_killed == [
        "hog: killed by the OOM killer (oom_badness 2505) for pid 1001's allocation: "
        f"order 0, gfp {G.show_gfp_flags(G.GFP_HIGHUSER_MOVABLE)}"]
    assert node.machine.vm_events["oom_kill"] == 1
    victims = trace_log(sim, ("mark_victim",))
    assert [(r[1], r[3]["pid"]) for r in victims] == [("grower", 1000)]
    hog_task = next(t for t in sim.sched.tasks if t.comm == "hog")
    grower_task = next(t for t in sim.sched.tasks if t.comm == "grower")
    assert not hog_task.alive and hog_task.pending_exc is None
    assert not grower_task.alive and grower_task.result is None  # it ended normally
    # only the grower's pages are anonymous now; the hog's came back
    assert np.count_nonzero(node.state == FRAME_ANON) == 1500
    check_node(node)


def test_oom_kill_allocating_task_default_keeps_killing_the_allocator():
    """mmsim's default (1): the same run kills the grower, whose allocation failed."""
    node, _sim, res = _hog_and_grower(oom_kill_allocating_task=None)
    assert node.machine.sysctl.oom_kill_allocating_task == 1
    assert len(res.oom_killed) == 1 and res.oom_killed[0].startswith("grower: out of memory")
    assert np.count_nonzero(node.state == FRAME_ANON) == 2500
    check_node(node)


def test_out_of_memory_rules_before_a_kill():
    """``out_of_memory``'s early exits and ``select_bad_process``'s abort, one by one:
    a request without __GFP_FS kills nobody; a victim that has not exited yet stops the
    search (no second kill in the same instant); a task that has not run is not chosen;
    kernel threads never are; the kill cannot be caught as an allocation failure."""
    from mmsim.mm.slowpath import (
        OOM_NO_FS,
        OOM_WAIT_VICTIM,
        OOMKilled,
        OutOfMemory,
        out_of_memory,
        select_bad_process,
    )

    node = small_node()
    m = node.machine
    m.sysctl.oom_kill_allocating_task = 0
    sched = Scheduler(hz=250)
    m.sched = sched

    def user(n):
        def fn():
            a = AnonRegion(node, 4096, name=f"u{n}")
            yield from a.touch(range(n))
            yield Sleep(10**12)
        return fn

    big = sched.spawn(user(300), "big", pid=1)
    small = sched.spawn(user(100), "small", pid=2)
    kthread = sched.spawn(user(500), "kworker", pid=3, flags=0x00200000)
    sched.run_until(MS)  # every fault done: the pages are mapped
    late = sched.spawn(user(50), "late", pid=4)  # spawned, not run yet
    assert select_bad_process(m) == (big, 300 + 1)  # 300 resident + 1 PTE page
    assert out_of_memory(m, small, G.GFP_NOFS) == (OOM_NO_FS, 0)
    m.sysctl.oom_kill_allocating_task = 1
    assert out_of_memory(m, small, G.GFP_KERNEL) == (small, 0)
    assert out_of_memory(m, kthread, G.GFP_KERNEL) == (big, 301)  # no mm: search instead
    m.sysctl.oom_kill_allocating_task = 0
    sched.kill(big, OOMKilled(0, G.GFP_KERNEL, 2, 301))
    assert select_bad_process(m) == (OOM_WAIT_VICTIM, 0)
    sched.run_until(MS)  # the victim runs and exits
    assert not big.alive
    assert select_bad_process(m) == (small, 101)
    assert late.alive and not isinstance(OOMKilled(0, 0, 0, 0), OutOfMemory)
    # a scheduler whose only user task has not run yet: nobody to choose
    m.sched = Scheduler(hz=250)
    m.sched.spawn(user(10), "unstarted", pid=5)
    assert select_bad_process(m) == (None, 0)
