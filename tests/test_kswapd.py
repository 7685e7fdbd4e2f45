"""kswapd (mm/vmscan.c, Linux v5.0): wake-up, balance_pgdat, the HZ/10 nap, giving up.

The scenarios run on tiny nodes with a zero cost model, so that kswapd's work
takes no simulated time and every number can be worked out by hand from the
kernel rules (kswapd.md, balance-pgdat.md, wakeup-paths.md of the shared v5.0
notes). The 16 MiB Normal-only node used throughout has (watermarks.md):

* ``min_free_kbytes = int_sqrt(16384 kB * 16) = 512`` → min = 512 kB / 4 kB = **128** pages;
* low = min + max(min/4, managed * watermark_scale_factor / 10000) = 128 + max(32, 4) = **160**;
* high = 128 + 2 * 32 = **192**.

The zone has no lowmem reserve for any classzone (no higher zone), and the
zones DMA and DMA32 are empty, which matters for v5.0's "classzone 0" quirk
(kswapd.md §5 step 7). Every file page read here is clean and unmapped, so
reclaim frees each page it scans: priority ``p`` scans ``inactive_file >> p``
pages (get_scan_count, SCAN_FILE because there is no swap).

A reader task that allocates pages yields once inside the allocator before
it puts them on the LRU, so a kswapd it woke runs first and does not see the
last chunk on the LRU - as on a real machine, where those pages still sit in a
per-cpu pagevec.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import pytest

from mmsim import Node
from mmsim.cost import CostModel
from mmsim.kthread import TASK_INTERRUPTIBLE, Sleep, waitqueue_active, wake_up_interruptible
from mmsim.mm import gfp as G
from mmsim.mm import vmscan
from mmsim.mm.filemap import AnonRegion, FileMapping
from mmsim.mm.mmzone import MAX_NR_ZONES
from mmsim.mm.slowpath import alloc_pages_task
from mmsim.mm.swap import PG_dirty, PG_reclaim, activate_pages, get_lruvec
from mmsim.simulation import Simulation
from mmsim.sysctl import Sysctl
from mmsim.workloads import Script

MS = 1_000_000
ZERO_COST = CostModel(**{f.name: 0 for f in fields(CostModel) if f.name.endswith("_ns")})
KSWAPD_EVENTS = ("mm_vmscan_wakeup_kswapd", "mm_vmscan_kswapd_wake", "mm_vmscan_kswapd_sleep",
                 "mm_vmscan_lru_shrink_inactive")
GOLDEN = Path(__file__).parent / "data" / "golden-examples.json"


def golden(name: str) -> dict:
    for case in json.loads(GOLDEN.read_text())["cases"]:
        if case["name"] == name:
            return case
    raise AssertionError(f"golden case {name} is missing")


def small_node(size: str = "16MiB", **sysctl) -> Node:
    return Node.build(zones={"Normal": size}, sysctl=Sysctl(**sysctl) if sysctl else None)


def run_script(node: Node, fn, seconds: float, *, cost: CostModel = ZERO_COST, **kw):
    sim = Simulation(node, [Script(fn=fn, name="reader")], seed=0, cost=cost, **kw)
    sim.run(seconds)
    return sim


def log(sim: Simulation, events=KSWAPD_EVENTS) -> list[tuple]:
    """(time ns, comm, event, key fields) of the kswapd-related trace records."""
    out = []
    for t, comm, _pid, _cpu, event, f in sim.tracer.records:
        if event not in events:
            continue
        if event == "mm_vmscan_lru_shrink_inactive":
            key = (f["priority"], f["nr_scanned"], f["nr_reclaimed"])
        elif event == "mm_vmscan_wakeup_kswapd":
            key = (f["nid"], f["zid"], f["order"], f["gfp_flags"])
        elif event == "mm_vmscan_kswapd_wake":
            key = (f["nid"], f["zid"], f["order"])
        else:
            key = (f["nid"],)
        out.append((t, comm, event, key))
    return out


def shrinks(t_ns: int, per_priority: list[tuple[int, int]]) -> list[tuple]:
    """kswapd's mm_vmscan_lru_shrink_inactive lines for clean pages: all scanned are freed."""
    return [(t_ns, "kswapd0", "mm_vmscan_lru_shrink_inactive", (p, n, n))
            for p, n in per_priority]


def counters(node: Node, *names: str) -> dict[str, int]:
    ev = node.machine.vm_events
    return {n: int(ev[n]) for n in names}


def wake_sleep(t, zid=3, order=0, gfp=G.GFP_HIGHUSER_MOVABLE):
    return [(t, "reader", "mm_vmscan_wakeup_kswapd", (0, zid, order, gfp)),
            (t, "kswapd0", "mm_vmscan_kswapd_wake", (0, zid, order))]


SLEEP_100MS = (100 * MS, "kswapd0", "mm_vmscan_kswapd_sleep", (0,))
# free = 150 and 3926 inactive file pages (3 reads below): priorities 12..7 scan
# 3926>>12 = 0, 3926>>11 = 1, 3925>>10 = 3, 3922>>9 = 7, 3915>>8 = 15, 3900>>7 = 30;
# free becomes 151, 154, 161, 176, 206 > high = 192 → balanced at the top of priority 6
FIRST_RUN = [(11, 1), (10, 3), (9, 7), (8, 15), (7, 30)]


def test_small_node_watermarks():
    z = small_node().zone("Normal")
    assert (z.min_wmark_pages, z.low_wmark_pages, z.high_wmark_pages) == (128, 160, 192)
    assert z.managed_pages == z.nr_free_pages == 4096
    assert z.lowmem_reserve == [0] * MAX_NR_ZONES


def _fill_then_cross_low(sim):
    """Fill to 170 free pages (fast path only), then cross low at 148 ms = jiffy 37."""
    f = FileMapping(sim.node, 100_000, name="f")
    sim.f = f
    yield Sleep(120 * MS)
    yield from f.read(range(0, 3926))  # 4096 - 3926 = 170 > low: no wake-up
    yield Sleep(28 * MS)
    # 20 pages: 10 at the low watermark (to 160), then the slow path wakes kswapd and
    # takes 10 more at min → free = 150
    yield from f.read(range(3926, 3946))


# --------------------------------------------------------------------------
# 1. crossing low → wakeup_kswapd, kswapd_wake, balance at high, nap, sleep
# --------------------------------------------------------------------------
def test_crossing_low_wakes_kswapd_which_balances_at_high_then_sleeps_after_the_nap():
    node = small_node()
    zone = node.zone("Normal")

    def steps(sim):
        yield from _fill_then_cross_low(sim)
        assert zone.nr_free_pages == 206  # kswapd already ran (zero cost)
        yield Sleep(1000 * MS)

    sim = run_script(node, steps, 0.6)
    assert log(sim) == [
        SLEEP_100MS,  # boot: balanced, HZ/10 nap from jiffy 0, full sleep at jiffy 25
        *wake_sleep(148 * MS),  # classzone = gfp_zone(GFP_HIGHUSER_MOVABLE) = ZONE_MOVABLE
        *shrinks(148 * MS, FIRST_RUN),
        # balance_pgdat ended at 148 ms = jiffy 37; nap until jiffy 37 + 25 = 62 = 248 ms
        (248 * MS, "kswapd0", "mm_vmscan_kswapd_sleep", (0,)),
    ]
    assert counters(node, "pageoutrun", "pgscan_kswapd", "pgsteal_kswapd",
                    "kswapd_low_wmark_hit_quickly", "kswapd_high_wmark_hit_quickly",
                    "allocstall_movable") == {
        "pageoutrun": 1, "pgscan_kswapd": 56, "pgsteal_kswapd": 56,
        "kswapd_low_wmark_hit_quickly": 0, "kswapd_high_wmark_hit_quickly": 0,
        "allocstall_movable": 0}
    assert zone.nr_free_pages == 206 > zone.high_wmark_pages
    assert vmscan.pgdat_balanced(node, 0, 3)
    assert node.kswapd_failures == 0
    assert node.kswapd_order == 0 and node.kswapd_classzone_idx == MAX_NR_ZONES
    assert node.kswapd.state == TASK_INTERRUPTIBLE and node.kswapd._blocked  # asleep on kswapd_wait
    assert waitqueue_active(node.kswapd_wait)
    lines = sim.tracer.ftrace().splitlines()
    assert lines[-1].endswith("     0.248000: mm_vmscan_kswapd_sleep: nid=0")
    assert lines[-1].lstrip().startswith("kswapd0-")


def test_kswapd_sleeps_25_jiffies_after_balance_pgdat_ended_with_real_costs(monkeypatch):
    """Default cost model: balance_pgdat takes time; the nap is HZ/10 from its end."""
    ends = []
    orig = vmscan.balance_pgdat

    def spy(pgdat, order, classzone_idx):
        r = yield from orig(pgdat, order, classzone_idx)
        ends.append(pgdat.machine.sched.now_ns)
        return r

    monkeypatch.setattr(vmscan, "balance_pgdat", spy)
    node = small_node("128MiB")  # min/low/high 362/452/542
    zone = node.zone("Normal")
    assert (zone.min_wmark_pages, zone.low_wmark_pages, zone.high_wmark_pages) == \
        (362, 452, 542)

    def steps(sim):
        f = FileMapping(sim.node, 100_000, name="f")
        yield Sleep(150 * MS)
        for i in range(0, 32_400, 32):
            yield from f.read(range(i, i + 32))
        yield Sleep(1000 * MS)

    sim = run_script(node, steps, 0.6, cost=CostModel())
    sched = sim.sched
    sleeps = [t for t, _c, e, _k in log(sim) if e == "mm_vmscan_kswapd_sleep"]
    assert len(ends) == 1 and len(sleeps) == 2
    assert sleeps[0] == 100 * MS
    end_jiffy = ends[0] * 250 // 10**9
    assert sleeps[1] == sched.ns_of_jiffy(end_jiffy + 25)  # exactly 25 jiffies later
    assert sleeps[1] - ends[0] <= 100 * MS
    assert counters(node, "pageoutrun")["pageoutrun"] == 1
    assert zone.nr_free_pages > zone.high_wmark_pages  # balanced when it went to sleep
    assert counters(node, "kswapd_low_wmark_hit_quickly", "kswapd_high_wmark_hit_quickly") \
        == {"kswapd_low_wmark_hit_quickly": 0, "kswapd_high_wmark_hit_quickly": 0}


# --------------------------------------------------------------------------
# 2. a wake-up during the nap → kswapd_low_wmark_hit_quickly, no sleep line
# --------------------------------------------------------------------------
def test_wake_during_the_nap_counts_low_wmark_hit_quickly_and_merges_the_request():
    node = small_node()
    zone = node.zone("Normal")
    gfp = G.GFP_USER | G.__GFP_MOVABLE  # movable (no pageblock steal), classzone Normal (2)

    def steps(sim):
        yield from _fill_then_cross_low(sim)
        yield Sleep(52 * MS)  # 200 ms = jiffy 50, inside the nap (jiffy 37..62)
        # 46 pages at low (206 → 160), the slow path wakes the napping kswapd, 10 more at
        # min → 150 free again
        yield from alloc_pages_task(sim.node, 56, gfp, kind="anon")
        yield Sleep(1000 * MS)

    sim = run_script(node, steps, 0.6)
    # the nap was cut short with 62 - 50 = 12 jiffies left: kswapd_try_to_sleep merges
    # its classzone (3) into the request (2) → max = 3, and does not trace a sleep.
    # LRU now: 3926 - 56 + 20 = 3890 pages: 1, 3889>>10 = 3, 3886>>9 = 7,
    # 3879>>8 = 15, 3864>>7 = 30 → 206 free again
    assert log(sim) == [
        SLEEP_100MS,
        *wake_sleep(148 * MS),
        *shrinks(148 * MS, FIRST_RUN),
        (200 * MS, "reader", "mm_vmscan_wakeup_kswapd", (0, 2, 0, gfp)),
        (200 * MS, "kswapd0", "mm_vmscan_kswapd_wake", (0, 3, 0)),
        *shrinks(200 * MS, FIRST_RUN),
        (300 * MS, "kswapd0", "mm_vmscan_kswapd_sleep", (0,)),  # jiffy 50 + 25
    ]
    assert counters(node, "kswapd_low_wmark_hit_quickly", "kswapd_high_wmark_hit_quickly",
                    "pageoutrun", "pgsteal_kswapd") == {
        "kswapd_low_wmark_hit_quickly": 1, "kswapd_high_wmark_hit_quickly": 0,
        "pageoutrun": 2, "pgsteal_kswapd": 112}
    assert zone.nr_free_pages == 206


# --------------------------------------------------------------------------
# 3. unbalanced after the nap → kswapd_high_wmark_hit_quickly (and the classzone-0 read)
# --------------------------------------------------------------------------
def test_node_unbalanced_after_the_nap_counts_high_wmark_hit_quickly():
    node = small_node()
    zone = node.zone("Normal")

    def steps(sim):
        yield from _fill_then_cross_low(sim)
        yield Sleep(52 * MS)
        # 206 → 186: still above low (no wake-up) but no longer above high
        yield from sim.f.read(range(3946, 3966))
        assert zone.nr_free_pages == 186
        yield Sleep(1000 * MS)

    sim = run_script(node, steps, 0.6)
    assert log(sim) == [
        SLEEP_100MS,
        *wake_sleep(148 * MS),
        *shrinks(148 * MS, FIRST_RUN),
        # 248 ms: nap over, 186 <= 192: HIGH_WMARK_HIT_QUICKLY; no request was recorded,
        # so kswapd reads classzone kswapd_classzone_idx(pgdat, 0) = 0 (v5.0) - zone DMA,
        # which is empty, so balance_pgdat finds the node "balanced" at once (no shrink)
        (248 * MS, "kswapd0", "mm_vmscan_kswapd_wake", (0, 0, 0)),
        (348 * MS, "kswapd0", "mm_vmscan_kswapd_sleep", (0,)),
    ]
    assert counters(node, "kswapd_low_wmark_hit_quickly", "kswapd_high_wmark_hit_quickly",
                    "pageoutrun", "pgsteal_kswapd") == {
        "kswapd_low_wmark_hit_quickly": 0, "kswapd_high_wmark_hit_quickly": 1,
        "pageoutrun": 2, "pgsteal_kswapd": 56}
    assert zone.nr_free_pages == 186 < zone.high_wmark_pages  # left unbalanced, asleep
    assert node.kswapd._blocked


# --------------------------------------------------------------------------
# 4. 16 failed runs: the hopeless node
# --------------------------------------------------------------------------
def test_sixteen_failed_runs_make_the_node_hopeless():
    from mmsim import procfs

    node = small_node()  # no swap: anonymous memory cannot be reclaimed
    zone = node.zone("Normal")

    def steps(sim):
        a = AnonRegion(sim.node, 100_000, name="a")
        yield Sleep(120 * MS)
        yield from a.touch(range(0, 4096 - 160))  # free = low: fast path only
        for i in range(20):
            yield Sleep(200 * MS)
            yield from a.touch([4096 - 160 + i])  # below low: slow path, one page at min
        yield Sleep(10_000 * MS)

    sim = run_script(node, steps, 4.5)
    got = log(sim)
    # each of the first 15 tries: wake (classzone 3) → balance_pgdat reclaims nothing at
    # priorities 12..1 (kswapd_failures++) → unbalanced: HIGH_WMARK_HIT_QUICKLY, no nap →
    # no new request: classzone 0 (empty DMA: balanced) → nap → full sleep 100 ms later
    expected = [SLEEP_100MS]
    for k in range(1, 16):
        t = (120 + 200 * k) * MS
        expected += [*wake_sleep(t), (t, "kswapd0", "mm_vmscan_kswapd_wake", (0, 0, 0)),
                     (t + 100 * MS, "kswapd0", "mm_vmscan_kswapd_sleep", (0,))]
    # 16th failure: prepare_kswapd_sleep is true for a hopeless node → nap and sleep
    t16 = (120 + 200 * 16) * MS
    expected += [*wake_sleep(t16), (t16 + 100 * MS, "kswapd0", "mm_vmscan_kswapd_sleep", (0,))]
    # tries 17..20: wakeup_kswapd leaves a hopeless node alone (no line, no kcompactd:
    # the caller can direct-reclaim)
    assert got == expected
    assert node.kswapd_failures == vmscan.MAX_RECLAIM_RETRIES == 16
    assert counters(node, "pageoutrun", "kswapd_high_wmark_hit_quickly",
                    "kswapd_low_wmark_hit_quickly", "pgscan_kswapd", "allocstall_movable") == {
        "pageoutrun": 31, "kswapd_high_wmark_hit_quickly": 15,
        "kswapd_low_wmark_hit_quickly": 0, "pgscan_kswapd": 0, "allocstall_movable": 0}
    assert zone.nr_free_pages == 140 and not vmscan.pgdat_balanced(node, 0, 3)
    assert vmscan.prepare_kswapd_sleep(node, 0, 3)  # sleeps although unbalanced
    assert vmscan.allow_direct_reclaim(node)  # and direct reclaimers are not throttled
    zi = procfs.zoneinfo_data(node)[0].zones["Normal"]
    assert zi.node_unreclaimable == 1
    # requests still record themselves (tries 17..20 left order 0, classzone 3) but wake
    # nobody
    assert (node.kswapd_order, node.kswapd_classzone_idx) == (0, 3)
    n_lines = len(sim.tracer.records)
    vmscan.wakeup_kswapd(zone, G.GFP_KERNEL, 2, 2)
    assert (node.kswapd_order, node.kswapd_classzone_idx) == (2, 3)
    assert len(sim.tracer.records) == n_lines and node.kswapd._blocked


def test_progress_by_anyone_revives_a_hopeless_node():
    """shrink_node resets kswapd_failures on any progress (L2857), e.g. direct reclaim."""
    node = small_node()
    zone = node.zone("Normal")

    def steps(sim):
        f = FileMapping(sim.node, 1000, name="f")
        yield Sleep(120 * MS)
        yield from f.read(range(1000))
        sim.node.kswapd_failures = 16  # as if kswapd had given up
        sim.reclaimed = yield from vmscan.try_to_free_pages(sim.node, 0,
                                                             G.GFP_HIGHUSER_MOVABLE)
        yield Sleep(1000 * MS)

    sim = run_script(node, steps, 0.3)
    # direct reclaim: priority 12..6 scans 1000>>p = 0,0,0,1,3,7,15 → 26 < 32, then
    # 974>>5 = 30 → 56 >= 32
    assert sim.reclaimed == 56
    assert node.kswapd_failures == 0
    assert zone.nr_free_pages == 4096 - 1000 + 56


# --------------------------------------------------------------------------
# 5. boosted reclaim: no writeback, no swap, no slab; boost paid back, kcompactd asked
# --------------------------------------------------------------------------
def _boost_setup(boost: int):
    """128 MiB node: 2000 anon pages, 10000 inactive file pages (every third one dirty and
    already marked PG_reclaim) and 12000 active file pages; swap on; PGDAT_DIRTY set.

    The inactive file list is "low" (10000 < 12000), so with swapping allowed
    get_scan_count would pick SCAN_FRACT; and kswapd would write the dirty pages
    (PG_reclaim on a PGDAT_DIRTY node) if it were allowed to write.
    """
    node = small_node("128MiB")
    zone = node.zone("Normal")

    def steps(sim):
        n = sim.node
        a = AnonRegion(n, 100_000, name="a")
        f = FileMapping(n, 100_000, name="f")
        yield Sleep(120 * MS)
        yield from a.touch(range(2000))
        yield from f.read(range(22_000))
        activate_pages(n, f.pfn[10_000:22_000])
        dirty = f.pfn[0:10_000:3]
        # as left by an earlier reclaim pass: page_check_references consumed the
        # PG_referenced of the read, the dirty page was marked PG_reclaim
        get_lruvec(n).flags[dirty] = PG_dirty | PG_reclaim
        n.node_stat["nr_dirty"] = n.node_stat.get("nr_dirty", 0) + int(dirty.size)
        yield Sleep(28 * MS)
        zone.watermark_boost = boost
        n.pgdat_flags |= vmscan.PGDAT_DIRTY
        sim.free_at_wake = zone.nr_free_pages
        # what the rmqueue boost hook does after a fallback steal
        vmscan.wakeup_kswapd(zone, 0, 0, zone.idx)
        yield Sleep(1000 * MS)

    return node, zone, steps


@pytest.fixture
def reclaim_spies(monkeypatch):
    passes, balances, kcompactd = [], [], []
    orig_ksn = vmscan.kswapd_shrink_node
    orig_gsc = vmscan.get_scan_count
    orig_kc = vmscan.wakeup_kcompactd

    def ksn(pgdat, sc):
        before = sc.nr_reclaimed
        flags = (sc.priority, sc.may_writepage, sc.may_swap, sc.may_shrinkslab)
        r = yield from orig_ksn(pgdat, sc)
        passes.append((*flags, sc.nr_reclaimed - before))
        return r

    def gsc(lv, sc, swappiness):
        nr, balance = orig_gsc(lv, sc, swappiness)
        balances.append(balance)
        return nr, balance

    def kc(pgdat, order, classzone_idx):
        kcompactd.append((order, classzone_idx))
        return orig_kc(pgdat, order, classzone_idx)

    monkeypatch.setattr(vmscan, "kswapd_shrink_node", ksn)
    monkeypatch.setattr(vmscan, "get_scan_count", gsc)
    monkeypatch.setattr(vmscan, "wakeup_kcompactd", kc)
    return passes, balances, kcompactd


def test_boosted_reclaim_never_writes_or_swaps(reclaim_spies):
    passes, balances, kcompactd = reclaim_spies
    node, zone, steps = _boost_setup(300)
    assert (zone.min_wmark_pages, zone.high_wmark_pages) == (362, 542)
    sim = run_script(node, steps, 0.5, swap="64MiB")
    # free = 32768 - 24000 = 8768 > high + boost = 842: balanced, so the boost is reclaimed
    # gently (balance-pgdat.md §1 d-g); the boost hook wakes a balanced node (boosted)
    assert sim.free_at_wake == 8768
    assert log(sim, ("mm_vmscan_wakeup_kswapd", "mm_vmscan_kswapd_wake")) == [
        (148 * MS, "reader", "mm_vmscan_wakeup_kswapd", (0, 2, 0, 0)),
        (148 * MS, "kswapd0", "mm_vmscan_kswapd_wake", (0, 2, 0))]
    assert "gfp_flags=none" in sim.tracer.ftrace()
    prios = [p[0] for p in passes]
    # priority 12, 11, then it stays at DEF_PRIORITY - 2 = 10 while there is progress
    assert prios[:2] == [12, 11] and set(prios[2:]) == {10} and len(prios) > 3
    assert all(p[1:4] == (False, False, False) for p in passes)  # no write, swap, slab
    assert set(balances) == {vmscan.SCAN_FILE}  # may_swap = 0 → anon never scanned
    reclaimed = [p[4] for p in passes]
    # priority 12: 10000>>12 = 2 pages from the tail: a dirty one (kept) and a clean one
    assert reclaimed[0] == 1
    # the loop stops as soon as the 300 boost pages are reclaimed (then: balanced → out)
    assert sum(reclaimed[:-1]) < 300 <= sum(reclaimed)
    assert all(r > 0 for r in reclaimed)
    ev = node.machine.vm_events
    assert ev["pgsteal_kswapd"] == sum(reclaimed)
    assert ev["pswpout"] == 0 and ev["pageoutrun"] == 1 and ev["slabs_scanned"] == 0
    assert node.node_stat.get("nr_vmscan_write", 0) == 0
    assert node.node_stat.get("nr_vmscan_immediate_reclaim", 0) == 0
    assert zone.watermark_boost == 0  # paid back at "out"
    assert node.kswapd_failures == 0
    # balance_pgdat's end wakes kcompactd for pageblock_order, classzone 2; then the nap's
    # wakeup_kcompactd for the (order-0) request
    assert kcompactd == [(0, 4), (9, 2), (0, 2)]


def test_boost_on_an_unbalanced_node_becomes_normal_reclaim_that_writes(reclaim_spies):
    """Same node, but high + boost >= free: the boost is dropped (goto restart) and
    ordinary kswapd reclaim writes the dirty PG_reclaim page at once."""
    passes, balances, kcompactd = reclaim_spies
    node, zone, steps = _boost_setup(8768 - 542)
    run_script(node, steps, 0.5, swap="64MiB")
    # priority 12: 2 tail pages: the dirty one is written (kswapd, PG_reclaim, PGDAT_DIRTY,
    # may_writepage) and stays on the list, the clean one is freed → 8769 > 8768: balanced
    assert passes == [(12, True, True, True, 1)]
    assert balances == [vmscan.SCAN_FRACT]  # the inactive file list is low
    assert node.node_stat["nr_vmscan_write"] == 1
    assert node.machine.vm_events["pgsteal_kswapd"] == 1
    assert node.machine.vm_events["pgscan_kswapd"] == 2
    assert zone.watermark_boost == 0  # "zone watermarks will be still reset" (before L3611)
    assert kcompactd == [(0, 4), (9, 2), (0, 2)]


# --------------------------------------------------------------------------
# 6. a high-order wake-up: reclaim_order drops to 0 after compact_gap(order) pages
# --------------------------------------------------------------------------
def test_reclaim_order_drops_to_zero_after_compact_gap_and_kcompactd_gets_the_order(
        monkeypatch, reclaim_spies):
    passes, _balances, kcompactd = reclaim_spies
    sleeps = []
    orig = vmscan.kswapd_try_to_sleep

    def spy(pgdat, alloc_order, reclaim_order, classzone_idx):
        sleeps.append((alloc_order, reclaim_order, classzone_idx))
        return (yield from orig(pgdat, alloc_order, reclaim_order, classzone_idx))

    monkeypatch.setattr(vmscan, "kswapd_try_to_sleep", spy)
    node = small_node()
    zone = node.zone("Normal")

    def steps(sim):
        f = FileMapping(sim.node, 100_000, name="f")
        yield Sleep(120 * MS)
        yield from f.read(range(3931))  # 165 free
        yield Sleep(28 * MS)
        # order 3, movable: 165 - 7 = 158 <= low fails the fast path; the slow path wakes
        # kswapd for order 3, then gets a block at min → 157 free
        yield from alloc_pages_task(sim.node, 1, "GFP_HIGHUSER_MOVABLE", order=3)
        yield Sleep(1000 * MS)

    sim = run_script(node, steps, 0.5)
    # balance_pgdat(order 3): 3931>>12 = 0, >>11 = 1, 3930>>10 = 3, 3927>>9 = 7 (11 so far);
    # priority 9 < 10 makes it reclaim/compaction: should_continue_reclaim repeats the
    # pass (11 < compact_gap(3) = 16): 3920>>9 = 7 → 18 >= 16, and compaction would now
    # succeed, so it stops; kswapd_shrink_node sets sc.order = 0. Order-0 balancing:
    # 3913>>8 = 15 (190 free), 3898>>7 = 30 (220 > 192) → returns 0 < 3
    assert log(sim) == [
        SLEEP_100MS,
        *wake_sleep(148 * MS, zid=3, order=3),
        *shrinks(148 * MS, [(11, 1), (10, 3), (9, 7), (9, 7), (8, 15), (7, 30)]),
        (248 * MS, "kswapd0", "mm_vmscan_kswapd_sleep", (0,)),
    ]
    assert [p[0] for p in passes] == [12, 11, 10, 9, 8, 7]
    assert zone.nr_free_pages == 220
    # goto kswapd_try_sleep with the original alloc_order and reclaim_order 0: the sleep
    # check uses order 0, kcompactd is asked for order 3
    assert sleeps == [(0, 0, MAX_NR_ZONES - 1), (3, 0, 3)]
    assert kcompactd == [(0, MAX_NR_ZONES - 1), (3, 3)]
    # (the request keeps the lowest classzone: kcompactd starts from nr_zones - 1 = 2)
    assert node.kcompactd_max_order == 3 and node.kcompactd_classzone_idx == 2
    assert counters(node, "pageoutrun", "kswapd_high_wmark_hit_quickly",
                    "kswapd_low_wmark_hit_quickly", "pgsteal_kswapd") == {
        "pageoutrun": 1, "kswapd_high_wmark_hit_quickly": 0,
        "kswapd_low_wmark_hit_quickly": 0, "pgsteal_kswapd": 63}


# --------------------------------------------------------------------------
# 7. golden cases
# --------------------------------------------------------------------------
def test_golden_kswapd_request_merging():
    case = golden("kswapd_request_merging")
    node = Node.build(zones={"DMA32": "16MiB", "Normal": "16MiB"})
    assert node.kswapd_order == 0 and node.kswapd_classzone_idx == MAX_NR_ZONES == 5
    for req, want in zip(case["inputs"]["requests"], case["expected"]["after_each_request"]):
        zone = node.zones[req["classzone_idx"]]
        vmscan.wakeup_kswapd(zone, G.GFP_KERNEL, req["order"], req["classzone_idx"])
        assert (node.kswapd_order, node.kswapd_classzone_idx) == \
            (want["kswapd_order"], want["kswapd_classzone_idx"])
    # kswapd() step 7: read the request, then reset it
    reads = case["expected"]["kswapd_reads"]
    assert node.kswapd_order == reads["alloc_order"]
    assert vmscan.kswapd_classzone_idx(node, 0) == reads["classzone_idx"]
    node.kswapd_order, node.kswapd_classzone_idx = 0, MAX_NR_ZONES
    assert vmscan.kswapd_classzone_idx(node, 0) == \
        case["expected"]["if_no_request_recorded_classzone_read_is"]
    assert vmscan.kswapd_classzone_idx(node, 3) == 3  # the loop-top merge keeps "prev"


def test_request_merging_in_a_running_simulation():
    """Four requests in one instant: kswapd wakes once, reads order 9, classzone 2."""
    node = Node.build(zones={"DMA32": "16MiB", "Normal": "16MiB"})

    def steps(sim):
        yield Sleep(150 * MS)  # kswapd asleep since 100 ms
        sim.node.zone("Normal").watermark_boost = 100  # still balanced, but boosted
        for order, cz in ((0, 2), (3, 1), (9, 2), (2, 2)):
            vmscan.wakeup_kswapd(sim.node.zones[cz], G.GFP_KERNEL, order, cz)
        yield Sleep(1000 * MS)

    sim = run_script(node, steps, 0.2)
    got = log(sim, ("mm_vmscan_wakeup_kswapd", "mm_vmscan_kswapd_wake"))
    # the first request (classzone 2, boosted) wakes kswapd; its wait entry leaves
    # kswapd_wait at once (DEFINE_WAIT: autoremove_wake_function), so the next requests
    # find waitqueue_active() false and are only recorded - max order 9, max classzone 2
    assert got == [(150 * MS, "reader", "mm_vmscan_wakeup_kswapd", (0, 2, 0, G.GFP_KERNEL)),
                   (150 * MS, "kswapd0", "mm_vmscan_kswapd_wake", (0, 2, 9))]


@pytest.mark.parametrize("row", range(6))
def test_golden_kswapd_try_to_sleep_decision_table(row, monkeypatch):
    want = golden("kswapd_try_to_sleep_decision_table")["expected"]["table"][row]
    answers = [want["first_prepare_kswapd_sleep"], want["second_prepare_kswapd_sleep"]]
    calls = {"prepare": 0, "reset": 0, "kcompactd": []}

    def prepare(pgdat, order, classzone_idx):
        calls["prepare"] += 1
        return answers.pop(0)

    def reset(pgdat):
        calls["reset"] += 1

    def kcompactd(pgdat, order, classzone_idx):
        calls["kcompactd"].append((order, classzone_idx))

    monkeypatch.setattr(vmscan, "prepare_kswapd_sleep", prepare)
    monkeypatch.setattr(vmscan, "reset_isolation_suitable", reset)
    monkeypatch.setattr(vmscan, "wakeup_kcompactd", kcompactd)
    node = small_node()
    sim = Simulation(node, [], seed=0, daemons=False)
    sched = sim.sched
    out = {}

    def fake_kswapd():
        sched.current.flags |= vmscan.PF_KSWAPD
        yield from vmscan.kswapd_try_to_sleep(node, 3, 0, 2)
        out["returned"] = sched.now_ns

    def waker():
        yield Sleep(40 * MS)  # jiffy 10 of the 25-jiffy nap
        if want["woken_during_HZ/10_nap"]:
            wake_up_interruptible(node.kswapd_wait)

    task = sched.spawn(fake_kswapd, "kswapd0")
    sched.spawn(waker, "waker")
    sim.run(1.0)
    napped = calls["reset"] == 1
    assert napped == want["napped"] == want["reset_isolation_suitable"]
    assert bool(calls["kcompactd"]) == want["wakeup_kcompactd_called"]
    if calls["kcompactd"]:
        assert calls["kcompactd"] == [(3, 2)]  # alloc_order, not reclaim_order
    # the second check is skipped when the nap was cut short
    assert calls["prepare"] == (1 if want["woken_during_HZ/10_nap"] else 2)
    events = [r[4] for r in sim.tracer.records if r[4].startswith("mm_vmscan")]
    assert events == want["trace"]
    ev = node.machine.vm_events
    for name in ("kswapd_low_wmark_hit_quickly", "kswapd_high_wmark_hit_quickly"):
        assert ev[name] == (1 if want["counter"] == name else 0)
    if want["full_sleep"]:
        assert task._blocked and "returned" not in out
    else:
        assert not task._blocked
        nap_end = 40 * MS if want["woken_during_HZ/10_nap"] else 100 * MS
        assert out["returned"] == (nap_end if napped else 0)
        assert not waitqueue_active(node.kswapd_wait)
    if want["woken_during_HZ/10_nap"]:
        # kswapd_try_to_sleep merged its state back: classzone max(none→2), order max(0, 0)
        assert (node.kswapd_classzone_idx, node.kswapd_order) == (2, 0)


def test_golden_kswapd_nr_to_reclaim_real_box(monkeypatch):
    case = golden("kswapd_nr_to_reclaim_real_box")
    node = Node.build(zones={"DMA": 3840, "DMA32": 772808, "Normal": 131072},
                      sysctl=Sysctl(min_free_kbytes=67584))
    highs = [z.high_wmark_pages for z in node.zones]
    assert highs == case["inputs"]["high_wmark_pages"]
    assert [z.managed_pages for z in node.zones] == case["inputs"]["managed"]

    def no_shrink(pgdat, sc):
        return False
        yield

    monkeypatch.setattr(vmscan, "shrink_node", no_shrink)
    for reclaim_idx, key in ((case["inputs"]["reclaim_idx"], "nr_to_reclaim"),
                             (1, "nr_to_reclaim_if_reclaim_idx_1")):
        sc = vmscan.ScanControl(reclaim_idx=reclaim_idx)
        gen = vmscan.kswapd_shrink_node(node, sc)
        with pytest.raises(StopIteration) as stop:
            next(gen)
        assert sc.nr_to_reclaim == case["expected"][key]
        assert stop.value.value is False  # scanned 0 < nr_to_reclaim
    # a zone whose high watermark is below SWAP_CLUSTER_MAX counts as 32
    tiny = Node.build(zones={"Normal": "1MiB"}, sysctl=Sysctl(min_free_kbytes=64))
    assert tiny.zone("Normal").high_wmark_pages < vmscan.SWAP_CLUSTER_MAX
    sc = vmscan.ScanControl(reclaim_idx=2)
    with pytest.raises(StopIteration):
        next(vmscan.kswapd_shrink_node(tiny, sc))
    assert sc.nr_to_reclaim == vmscan.SWAP_CLUSTER_MAX


def test_prepare_kswapd_sleep_wakes_throttled_tasks_and_clears_the_pgdat_flags():
    """prepare_kswapd_sleep (L3448-3476): wake pfmemalloc_wait, then balanced → clear
    PGDAT_CONGESTED/DIRTY/WRITEBACK and allow sleep; unbalanced → keep them, no sleep."""
    node = small_node()
    sim = Simulation(node, [], seed=0, daemons=False)
    woken = []

    def throttled():
        from mmsim.kthread import Schedule, finish_wait, prepare_to_wait

        prepare_to_wait(node.pfmemalloc_wait, sim.sched.current)
        yield Schedule()
        finish_wait(node.pfmemalloc_wait, sim.sched.current)
        woken.append(sim.sched.now_ns)

    sim.sched.spawn(throttled, "reader")
    sim.run(0.01)
    all_flags = vmscan.PGDAT_CONGESTED | vmscan.PGDAT_DIRTY | vmscan.PGDAT_WRITEBACK
    node.pgdat_flags = all_flags
    node.zone("Normal").watermark_boost = 4096  # high = 4288 > free: unbalanced
    assert not vmscan.prepare_kswapd_sleep(node, 0, 2)
    assert node.pgdat_flags == all_flags
    sim.run(0.01)
    assert woken == [10 * MS]  # woken although kswapd may not sleep
    node.zone("Normal").watermark_boost = 0
    assert vmscan.prepare_kswapd_sleep(node, 0, 2)
    assert node.pgdat_flags == 0


def test_kswapd_stop_ends_the_thread():
    node = small_node()
    sim = Simulation(node, [], seed=0, cost=ZERO_COST)
    sim.run(0.2)
    task = node.kswapd
    assert task._blocked and task.flags & vmscan.PF_KSWAPD
    vmscan.kswapd_stop(node)
    sim.run(0.1)
    assert node.kswapd is None and not task.alive and task.result == 0
    assert not task.flags & (vmscan.PF_KSWAPD | vmscan.PF_MEMALLOC)
    assert not waitqueue_active(node.kswapd_wait)
    # kswapd_run starts a new one, which naps and sleeps like the first
    vmscan.kswapd_run(node)
    sim.run(0.2)
    assert node.kswapd is not task and node.kswapd._blocked
    assert sum(1 for r in sim.tracer.records if r[4] == "mm_vmscan_kswapd_sleep") == 2


def test_an_idle_kswapd_naps_once_then_sleeps_for_good():
    node = small_node()
    sim = Simulation(node, [], seed=0, cost=ZERO_COST)
    sim.run(5.0)
    # boot nap, then one full sleep; nothing else in five seconds
    assert [(r[0], r[4]) for r in sim.tracer.records if r[1] == "kswapd0"] == \
        [(100 * MS, "mm_vmscan_kswapd_sleep")]
    assert node.machine.vm_events["pageoutrun"] == 0
    assert node.kswapd._blocked and sim.sched.now_ns == 5000 * MS
