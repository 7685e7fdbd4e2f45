"""kcompactd (mm/compaction.c v5.0 L1915-2083): requests, wake-ups, passes, deferral.

Expected values are worked out by hand from the v5.0 source (kcompactd.md and
compaction-core.md restate it with line numbers); none was copied from a run.
The layouts come from ``compaction_layouts`` (4096-page Normal zone, pfn 0..4095,
min/low/high 128/160/192; ``nr_zones`` is 3, so "no request" is classzone 2).

The rules under test:

* wakeup_kcompactd(pgdat, order, classzone): order 0 -> return; max order kept,
  *lowest* classzone kept; wakes only a kcompactd sleeping on kcompactd_wait
  and only if kcompactd_node_suitable (compaction_suitable == CONTINUE for
  some zone 0..classzone, with the merged order and classzone); the trace
  prints the arguments of this call.
* wait_event_freezable uses autoremove_wake_function: once woken, kcompactd is
  off the wait queue, so a second wakeup_kcompactd before it runs finds no
  sleeper (records only, no second trace).
* kcompactd_do_work: trace + compact_daemon_wake once per pass; per zone
  compaction_deferred, compaction_suitable(zone's own index), compact_zone;
  SUCCESS -> compaction_defer_reset(order, false); COMPLETE/PARTIAL_SKIPPED ->
  drain_all_pages + defer_compaction; daemon scan counters += the zone's.
  At the end max_order is cleared only if no larger order arrived, classzone
  only if no lower one arrived.
* kcompactd traces mm_compaction_kcompactd_sleep every time it enters the
  wait, even when work is pending.
"""

from __future__ import annotations

import numpy as np
from compaction_layouts import PAGEBLOCK, build_layout, drive, evens_file_odds_free

from mmsim import Node
from mmsim.kthread import Run, Sleep
from mmsim.mm import compaction as C
from mmsim.mm import gfp as G
from mmsim.mm.debug import check_node
from mmsim.mm.vmscan import wakeup_kswapd
from mmsim.simulation import Simulation
from mmsim.trace import Tracer, format_line
from mmsim.workloads import Script

DAEMON_EVENTS = ("mm_compaction_kcompactd_sleep", "mm_compaction_wakeup_kcompactd",
                 "mm_compaction_kcompactd_wake", "mm_vmscan_kswapd_wake",
                 "mm_vmscan_kswapd_sleep", "mm_vmscan_wakeup_kswapd")


def daemon_log(res, events=DAEMON_EVENTS) -> list[tuple[str, str]]:
    """(comm, "event: fields") of the daemon events of a run, in order."""
    out = []
    for line in res.ftrace().splitlines():
        head, _, rest = line.partition("]")
        comm = head.split("[")[0].strip().rsplit("-", 1)[0]
        text = rest.split(": ", 1)[1]
        if text.split(":", 1)[0] in events:
            out.append((comm, text))
    return out


def unmovable_every_block() -> np.ndarray:
    """Even pfns file, pfn 512b+1 unmovable, other odd pfns free: no order-9 block possible."""
    c = evens_file_odds_free(8)
    for b in range(8):
        c[b * PAGEBLOCK + 1] = "K"
    return c


def poke(*actions):
    """A Script that performs ``actions``: callables, or ints = nanoseconds to sleep."""

    def fn(sim):
        for a in actions:
            if isinstance(a, int):
                yield Sleep(a)
            else:
                a(sim)
        yield Run(0)

    return Script(fn=fn, name="poke")


# --------------------------------------------------------------------------
# the request fields
# --------------------------------------------------------------------------
def test_wakeup_kcompactd_order0_does_nothing():
    node, _z, _ = build_layout(evens_file_odds_free(8))
    tr = Tracer(None)
    node.machine.tracer = tr
    fields = (node.kcompactd_max_order, node.kcompactd_classzone_idx)
    C.wakeup_kcompactd(node, 0, 0)
    assert (node.kcompactd_max_order, node.kcompactd_classzone_idx) == fields
    assert len(tr) == 0
    # and with a sleeping kcompactd in a simulation: no trace, no pass
    node, _z, _ = build_layout(evens_file_odds_free(8))
    res = Simulation(node, [poke(50_000_000, lambda sim: C.wakeup_kcompactd(node, 0, 0))],
                     seed=0).run(0.2)
    assert (node.kcompactd_max_order, node.kcompactd_classzone_idx) == (0, 2)
    assert daemon_log(res, ("mm_compaction_wakeup_kcompactd", "mm_compaction_kcompactd_wake",
                            "mm_compaction_suitable")) == []
    assert node.machine.vm_events["compact_daemon_wake"] == 0


def test_wakeup_kcompactd_keeps_highest_order_and_lowest_classzone():
    node = Node.build(zones={"Normal": 4096})
    tr = Tracer(None)
    node.machine.tracer = tr
    seen = []
    for order, cz in [(3, 2), (2, 2), (9, 1), (4, 2), (1, 0)]:
        C.wakeup_kcompactd(node, order, cz)
        seen.append((node.kcompactd_max_order, node.kcompactd_classzone_idx))
    assert seen == [(3, 2), (3, 2), (9, 1), (9, 1), (9, 0)]
    assert len(tr) == 0  # nobody sleeps on kcompactd_wait: nothing else happens


def test_kcompactd_node_suitable():
    # fresh zone: order-9 blocks exist -> SUCCESS for every zone -> not suitable
    fresh = Node.build(zones={"Normal": 4096})
    fresh.kcompactd_max_order, fresh.kcompactd_classzone_idx = 9, 2
    assert not C.kcompactd_node_suitable(fresh)
    node, _z, _ = build_layout(evens_file_odds_free(8))
    node.kcompactd_max_order, node.kcompactd_classzone_idx = 9, 2
    assert C.kcompactd_node_suitable(node)  # 2048 order-0 pages, fragindex 998
    node.kcompactd_classzone_idx = 1  # zones 0..1 are empty: nothing to compact
    assert not C.kcompactd_node_suitable(node)
    # too little free memory: 1024 free <= low 160 + compact_gap(9) -> SKIPPED
    c = evens_file_odds_free(8)
    c[1:2048:2] = "F"
    small, _, _ = build_layout(c)
    small.kcompactd_max_order, small.kcompactd_classzone_idx = 9, 2
    assert not C.kcompactd_node_suitable(small)


# --------------------------------------------------------------------------
# kswapd hands over to kcompactd
# --------------------------------------------------------------------------
def test_kswapd_nap_wakes_kcompactd_for_the_recorded_order():
    """kswapd woken for order 9 on a zone where no order-9 block can form.

    balance_pgdat(order 9) is never balanced at order 9 (an unmovable page in
    every pageblock); after compact_gap(9) = 1024 reclaimed pages sc.order
    drops to 0, the node is balanced at order 0, balance_pgdat returns 0 < 9,
    and kswapd goes back to kswapd_try_to_sleep(alloc_order 9, reclaim_order 0,
    classzone 2): prepare_kswapd_sleep passes, so before its HZ/10 nap it calls
    wakeup_kcompactd(pgdat, 9, 2). kcompactd sleeps, the zone is suitable
    (plenty of free order-0 pages, fragindex > 500) -> trace and wake; kcompactd
    runs one pass for order 9, classzone 2 (compact_daemon_wake = 1), fails
    (COMPLETE: no block can be made) and defers the zone, then sleeps again.
    """
    node, z, _ = build_layout(unmovable_every_block())
    sim = Simulation(node, [poke(200_000_000,
                                 lambda sim: wakeup_kswapd(z, G.GFP_KERNEL, 9, z.idx))],
                     seed=0)
    res = sim.run(0.5)
    assert daemon_log(res) == [
        ("kcompactd0", "mm_compaction_kcompactd_sleep: nid=0"),
        ("kswapd0", "mm_vmscan_kswapd_sleep: nid=0"),
        ("poke", "mm_vmscan_wakeup_kswapd: nid=0 zid=2 order=9 gfp_flags=GFP_KERNEL"),
        ("kswapd0", "mm_vmscan_kswapd_wake: nid=0 zid=2 order=9"),
        ("kswapd0", "mm_compaction_wakeup_kcompactd: nid=0 order=9 classzone_idx=Normal  "),
        ("kcompactd0", "mm_compaction_kcompactd_wake: nid=0 order=9 classzone_idx=Normal  "),
        ("kcompactd0", "mm_compaction_kcompactd_sleep: nid=0"),
        ("kswapd0", "mm_vmscan_kswapd_sleep: nid=0"),
    ]
    df = res.trace
    woke = df[df.event == "mm_compaction_wakeup_kcompactd"]
    ran = df[df.event == "mm_compaction_kcompactd_wake"]
    assert (woke.order.tolist(), woke.classzone_idx.tolist()) == ([9], [2])
    assert (ran.order.tolist(), ran.classzone_idx.tolist()) == ([9], [2])
    # kcompactd ran at once, inside kswapd's HZ/10 nap
    naps = df[(df.event == "mm_vmscan_kswapd_sleep")].time.tolist()
    assert ran.time.iloc[0] == woke.time.iloc[0] < naps[1]
    ev = node.machine.vm_events
    assert ev["compact_daemon_wake"] == 1
    assert ev["compact_daemon_migrate_scanned"] == ev["compact_migrate_scanned"] > 0
    assert ev["compact_daemon_free_scanned"] == ev["compact_free_scanned"] > 0
    assert ev["compact_stall"] == ev["compact_success"] == ev["compact_fail"] == 0
    ends = df[df.event == "mm_compaction_end"]
    assert ends.status.tolist() == ["complete"]
    assert (z.compact_defer_shift, z.compact_considered, z.compact_order_failed) == (1, 0, 0)
    assert (node.kcompactd_max_order, node.kcompactd_classzone_idx) == (0, 2)
    assert (node.state[1::PAGEBLOCK] == 4).all()  # FRAME_KERNEL pages never moved
    check_node(node)


def test_wakeup_kswapd_hands_hopeless_node_to_kcompactd_without_direct_reclaim():
    """wakeup_kswapd: hopeless node (16 failures) -> kcompactd, if the caller cannot reclaim."""
    node, z, _ = build_layout(evens_file_odds_free(8))

    def hopeless(sim):
        node.kswapd_failures = 16

    light = G.GFP_TRANSHUGE_LIGHT | G.__GFP_KSWAPD_RECLAIM
    res = Simulation(node, [poke(200_000_000, hopeless,
                                 lambda sim: wakeup_kswapd(z, G.GFP_TRANSHUGE, 9, z.idx),
                                 10_000_000,
                                 lambda sim: wakeup_kswapd(z, light, 9, z.idx))],
                     seed=0).run(0.3)
    log = [x for x in daemon_log(res) if "kcompactd" in x[1]]
    assert log == [
        ("kcompactd0", "mm_compaction_kcompactd_sleep: nid=0"),
        ("poke", "mm_compaction_wakeup_kcompactd: nid=0 order=9 classzone_idx=Normal  "),
        ("kcompactd0", "mm_compaction_kcompactd_wake: nid=0 order=9 classzone_idx=Normal  "),
        ("kcompactd0", "mm_compaction_kcompactd_sleep: nid=0"),
    ]
    assert res.trace[res.trace.event == "mm_compaction_wakeup_kcompactd"].time.tolist() == [0.21]
    assert not any(e == "mm_vmscan_kswapd_wake: nid=0 zid=2 order=9" for _, e in daemon_log(res))


# --------------------------------------------------------------------------
# who gets woken
# --------------------------------------------------------------------------
def test_only_a_suitable_node_wakes_the_sleeping_kcompactd():
    """An order-9 block already exists: order 9 is SUCCESS, not suitable -> no wake.

    Block 0 free (one order-9 block; block 1 is not free, so no order 10),
    blocks 1..7 even file / odd free: 512 + 7*256 = 2304 free.
    * wakeup(9, 2): recorded (max 9, classzone 2), compaction_suitable(9) = SUCCESS
      -> kcompactd stays asleep; the request stays recorded.
    * wakeup(10, 2): merged order 10: no order-10 block, 2304 > low 160 + 2048,
      fragindex(10) = 1000 - (1000 + 2250)/1793 = 999 -> CONTINUE -> wake;
      the trace prints this call's order 10, kcompactd runs the merged request.
    """
    c = evens_file_odds_free(8)
    c[0:PAGEBLOCK] = "."
    node, z, _ = build_layout(c)
    assert z.nr_free_by_order()[9:] == [1, 0] and z.nr_free_pages == 2304
    seen = {}

    def first(sim):
        C.wakeup_kcompactd(node, 9, 2)
        seen["after_first"] = (node.kcompactd_max_order, node.kcompactd_classzone_idx)

    res = Simulation(node, [poke(50_000_000, first, 100_000_000,
                                 lambda sim: seen.setdefault(
                                     "later", (node.kcompactd_max_order,
                                               node.machine.vm_events["compact_daemon_wake"])),
                                 lambda sim: C.wakeup_kcompactd(node, 10, 2))],
                     seed=0).run(0.3)
    assert seen == {"after_first": (9, 2), "later": (9, 0)}
    log = [x for x in daemon_log(res) if "kcompactd" in x[1]]
    assert log == [
        ("kcompactd0", "mm_compaction_kcompactd_sleep: nid=0"),
        ("poke", "mm_compaction_wakeup_kcompactd: nid=0 order=10 classzone_idx=Normal  "),
        ("kcompactd0", "mm_compaction_kcompactd_wake: nid=0 order=10 classzone_idx=Normal  "),
        ("kcompactd0", "mm_compaction_kcompactd_sleep: nid=0"),
    ]
    suit = res.trace[res.trace.event == "mm_compaction_suitable"]
    assert suit.ret.iloc[0] == "success" and suit.order.iloc[0] == 9  # the first check
    assert node.machine.vm_events["compact_daemon_wake"] == 1


def test_second_wakeup_before_kcompactd_runs_finds_no_sleeper():
    """autoremove_wake_function took kcompactd off the queue: one trace, one pass."""
    node, _z, _ = build_layout(evens_file_odds_free(8))

    def twice(sim):
        C.wakeup_kcompactd(node, 9, 2)
        C.wakeup_kcompactd(node, 9, 2)

    res = Simulation(node, [poke(50_000_000, twice)], seed=0).run(0.2)
    log = [x for x in daemon_log(res) if "kcompactd" in x[1]]
    assert log == [
        ("kcompactd0", "mm_compaction_kcompactd_sleep: nid=0"),
        ("poke", "mm_compaction_wakeup_kcompactd: nid=0 order=9 classzone_idx=Normal  "),
        ("kcompactd0", "mm_compaction_kcompactd_wake: nid=0 order=9 classzone_idx=Normal  "),
        ("kcompactd0", "mm_compaction_kcompactd_sleep: nid=0"),
    ]
    assert node.machine.vm_events["compact_daemon_wake"] == 1


def test_request_arriving_during_a_pass_runs_another_pass_without_a_wakeup():
    """A busy kcompactd is not on the wait queue: the request is only recorded.

    Layout: even file / odd free. Pass 1 (order 9) takes 8 migration batches of
    simulated time; 100 us into it wakeup(10, 2) arrives: no sleeper, no trace,
    max_order becomes 10. At the end of pass 1 max_order 10 > 9 is kept, so
    kcompactd traces kcompactd_sleep, finds work pending and runs pass 2 for
    order 10 at once. Pass 2: order 10 >= order_failed 10 (pass 1 succeeded:
    defer_reset), not deferred (shift 0); 2048 free <= 160 + 2048 -> SKIPPED:
    no compact_zone. Then max_order 10 <= 10 -> cleared, kcompactd sleeps.
    """
    node, z, _ = build_layout(evens_file_odds_free(8))
    res = Simulation(node, [poke(50_000_000, lambda sim: C.wakeup_kcompactd(node, 9, 2),
                                 100_000, lambda sim: C.wakeup_kcompactd(node, 10, 2))],
                     seed=0).run(0.2)
    log = [x for x in daemon_log(res) if "kcompactd" in x[1]]
    assert log == [
        ("kcompactd0", "mm_compaction_kcompactd_sleep: nid=0"),
        ("poke", "mm_compaction_wakeup_kcompactd: nid=0 order=9 classzone_idx=Normal  "),
        ("kcompactd0", "mm_compaction_kcompactd_wake: nid=0 order=9 classzone_idx=Normal  "),
        ("kcompactd0", "mm_compaction_kcompactd_sleep: nid=0"),
        ("kcompactd0", "mm_compaction_kcompactd_wake: nid=0 order=10 classzone_idx=Normal  "),
        ("kcompactd0", "mm_compaction_kcompactd_sleep: nid=0"),
    ]
    df = res.trace
    assert df[df.event == "mm_compaction_end"].status.tolist() == ["success"]
    assert node.machine.vm_events["compact_daemon_wake"] == 2
    assert (node.kcompactd_max_order, node.kcompactd_classzone_idx) == (0, 2)
    assert (z.compact_order_failed, z.compact_defer_shift) == (10, 0)


# --------------------------------------------------------------------------
# kcompactd_do_work
# --------------------------------------------------------------------------
def run_pass_with_request_midway(order: int, classzone: int) -> tuple[int, int]:
    node, _z, _ = build_layout(evens_file_odds_free(8))
    C.wakeup_kcompactd(node, 9, 2)  # no sleeper: records (9, 2)
    gen = C.kcompactd_do_work(node)
    assert isinstance(next(gen), Run)  # inside compact_zone, after the first batch
    C.wakeup_kcompactd(node, order, classzone)
    drive(gen)
    assert node.machine.vm_events["compact_daemon_wake"] == 1
    return node.kcompactd_max_order, node.kcompactd_classzone_idx


def test_do_work_keeps_a_bigger_request_that_arrived_during_the_pass():
    assert run_pass_with_request_midway(10, 2) == (10, 2)  # higher order survives
    assert run_pass_with_request_midway(10, 1) == (10, 1)  # and a lower classzone
    assert run_pass_with_request_midway(9, 1) == (0, 1)  # same order: cleared
    assert run_pass_with_request_midway(3, 2) == (0, 2)  # smaller order: cleared
    assert run_pass_with_request_midway(9, 2) == (0, 2)  # nr_zones - 1 = 2


def test_kcompactd_passes_follow_the_deferral_back_off():
    """kcompactd passes on a zone where no order-9 block can be made.

    compact_daemon_wake counts every pass; compaction_deferred decides which
    ones run compact_zone: passes 1, 3, 7, 15, 31, 63, 127 (after k failures
    2**k - 1 passes are skipped; the shift stops at 6 -> 63 skipped).
    * run 1: the full scan of the COMPLETE test in test_compaction.py: migrate
      2047, free 2048 pfns; skip bits of blocks 0..2 set, cached positions reset.
    * run 2: blocks 0..2 skipped; block 3 holds the 4 file pages 1984..1990:
      22 pfns visited (free heads 1536, 1538, 1540, 1544, 1552, 1568, 1600, 1664,
      1792, 1920, the unmovable 1537, 1984..1991, and 1992, 2000, 2016), 4 isolated.
      The free scanner stops above pageblock_end(2048) = 2560: blocks 7, 6, 5 are full,
      1536 pfns, nothing isolated -> their skip bits set; -ENOMEM, scanners met.
    * runs 3..6: block 3 again (22); blocks 7..5 skipped by their bits: 0 free pfns.
    * run 7: compaction_restarting (shift 6, considered 64) clears every skip bit:
      blocks 0..2 are visited again (10 pfns each: 9 free heads and the unmovable
      page), then block 3 (22); free side 1536 again.
    """
    node, z, _ = build_layout(unmovable_every_block())
    tr = Tracer(None)
    node.machine.tracer = tr
    ev = node.machine.vm_events
    runs = []
    for p in range(1, 128):
        before = (ev["compact_daemon_migrate_scanned"], ev["compact_daemon_free_scanned"],
                  tr.count("mm_compaction_begin"))
        C.wakeup_kcompactd(node, 9, 2)
        drive(C.kcompactd_do_work(node))
        if tr.count("mm_compaction_begin") > before[2]:
            runs.append((p, ev["compact_daemon_migrate_scanned"] - before[0],
                         ev["compact_daemon_free_scanned"] - before[1]))
        tr.records.clear()
    assert runs == [(1, 2047, 2048), (3, 22, 1536), (7, 22, 0), (15, 22, 0), (31, 22, 0),
                    (63, 22, 0), (127, 3 * 10 + 22, 1536)]
    assert ev["compact_daemon_wake"] == 127
    assert ev["compact_daemon_migrate_scanned"] == ev["compact_migrate_scanned"]
    assert ev["compact_daemon_free_scanned"] == ev["compact_free_scanned"]
    assert (z.compact_defer_shift, z.compact_considered, z.compact_order_failed) == (6, 0, 0)
    assert ev["compact_stall"] == ev["compact_success"] == ev["compact_fail"] == 0
    check_node(node)


def test_kcompactd_success_resets_order_failed_not_the_shift():
    node, z, _ = build_layout(evens_file_odds_free(8))
    C.defer_compaction(z, 9)
    C.defer_compaction(z, 9)  # shift 2, limit 4
    for _ in range(3):
        assert C.compaction_deferred(z, 9)
    C.wakeup_kcompactd(node, 9, 2)
    drive(C.kcompactd_do_work(node))  # the 4th call runs and succeeds
    assert (z.compact_defer_shift, z.compact_considered, z.compact_order_failed) == (2, 4, 10)
    # order 9 is now below order_failed: the next pass is not deferred even with shift 2
    assert C.compaction_deferred(z, 9) is False and z.compact_considered == 4


# --------------------------------------------------------------------------
# trace text
# --------------------------------------------------------------------------
def test_classzone_is_printed_by_name_left_justified_in_8():
    # "nid=%d order=%d classzone_idx=%-8s" with the zone name (include/trace/events/compaction.h)
    assert format_line(0, "kswapd0", 97, 3, "mm_compaction_wakeup_kcompactd",
                       {"nid": 0, "order": 3, "classzone_idx": 2}).endswith(
        "mm_compaction_wakeup_kcompactd: nid=0 order=3 classzone_idx=Normal  ")
    assert format_line(0, "kcompactd0", 98, 0, "mm_compaction_kcompactd_wake",
                       {"nid": 1, "order": 9, "classzone_idx": 1}).endswith(
        "mm_compaction_kcompactd_wake: nid=1 order=9 classzone_idx=DMA32   ")
    assert format_line(0, "kcompactd0", 98, 0, "mm_compaction_kcompactd_wake",
                       {"nid": 0, "order": 2, "classzone_idx": 0}).endswith(
        "classzone_idx=DMA     ")
    assert format_line(0, "kcompactd0", 98, 0, "mm_compaction_kcompactd_sleep",
                       {"nid": 0}).endswith("mm_compaction_kcompactd_sleep: nid=0")
