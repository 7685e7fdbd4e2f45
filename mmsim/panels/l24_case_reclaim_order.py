"""Lesson 24 (case study): what ``reclaim_order < alloc_order`` in kswapd() really means.

The setting: a 256 MiB node whose page cache was read once, after which every
other run of ``stripe`` pages was read twice more (so those runs sit on the
active list); one unmovable kernel page breaks the only free pageblock. Then,
every 0.3 s from t=0.25 s, one request of ``order`` that may wake kswapd but
may not reclaim or compact itself (``GFP_TRANSHUGE_LIGHT|__GFP_KSWAPD_RECLAIM``,
a THP fault with ``defrag=defer``).

Reclaim frees the cold runs - ``stripe``-page pieces - so kswapd's
``balance_pgdat`` reclaims ``compact_gap(order)`` pages, drops to order 0,
finds the node balanced and returns 0; kswapd() takes the ``goto
kswapd_try_sleep``, and ``kswapd_try_to_sleep`` wakes kcompactd for the
original order before its nap. kcompactd's single pass assembles the block,
and the next request is served without waking anybody.

The buddy state of DMA32 is captured at three exact moments by a tap on the
tracer: when the request fails (its ``mm_vmscan_wakeup_kswapd``), when kswapd
wakes kcompactd, and when kcompactd's ``compact_zone`` ends.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mmsim.panels.l06_kswapd import (
    LEGEND,
    STATE_STYLE,
    THP_GFP,
    LessonRun,
    simulate,
)
from mmsim.widgets import Control, Panel, PanelOutput, figure

ZONE = "DMA32"
STORY_EVENTS = ("mm_vmscan_wakeup_kswapd", "mm_vmscan_kswapd_wake", "mm_vmscan_kswapd_sleep",
                "mm_compaction_wakeup_kcompactd", "mm_compaction_kcompactd_wake",
                "mm_compaction_begin", "mm_compaction_migratepages", "mm_compaction_end",
                "mm_compaction_kcompactd_sleep", "mm_vmscan_lru_shrink_inactive")


class TraceTap:
    """Stands in for ``machine.tracer``: passes every event on, and snapshots
    DMA32's free blocks per order when one of ``events`` is emitted."""

    def __init__(self, sim: Any, events: tuple[str, ...]):
        self.sim = sim
        self.inner = sim.tracer
        self.events = frozenset(events)
        self.snaps: list[tuple[float, str, dict[str, Any], list[int]]] = []

    def __call__(self, event: str, **fields: Any) -> None:
        self.inner(event, **fields)
        if event in self.events:
            z = self.sim.node.zone(ZONE)
            self.snaps.append((self.sim.sched.now, event, fields, list(z._nr_free)))


class StatLog(dict):
    """``sim.stats`` that remembers when each workload statistic changed (to tell which
    request of the burst got its block)."""

    def __init__(self, base: dict[str, int], sim: Any):
        super().__init__(base)
        self._sim = sim
        self.log: list[tuple[float, str, int]] = []

    def __setitem__(self, key: str, value: int) -> None:
        self.log.append((self._sim.sched.now, key, value - self.get(key, 0)))
        super().__setitem__(key, value)


def _pin(sim: Any):
    """At 90 ms, take unmovable kernel pages until DMA32 has no free block of order >= 9."""
    from mmsim.kthread import Sleep
    from mmsim.mm.slowpath import alloc_pages_task

    yield Sleep(90_000_000)
    z = sim.node.zone(ZONE)
    n = 0
    while z._nr_free[9] or z._nr_free[10]:
        yield from alloc_pages_task(sim.node, 1, "GFP_KERNEL", kind="kernel")
        n += 1
    sim.stats["pinned kernel pages"] = n


def case_run(order: int = 9, stripe: int = 32, seconds: float = 1.0, seed: int = 0) -> LessonRun:
    """The case study's simulation (see the module docstring)."""
    from mmsim.workloads import HighOrderBurst, Script

    taps: dict[str, TraceTap] = {}

    def setup(sim: Any) -> None:
        tap = TraceTap(sim, ("mm_vmscan_wakeup_kswapd", "mm_compaction_wakeup_kcompactd",
                             "mm_compaction_end"))
        sim.machine.tracer = tap
        taps["tap"] = tap
        sim.stats = StatLog(sim.stats, sim)
        taps["stats"] = sim.stats

    wl = [Script(fn=_pin, name="pin"),
          HighOrderBurst(order=order, count=1, interval=0.3, lifetime=None, gfp=THP_GFP,
                         kind="anon", name="thp", start=0.25)]
    run = simulate(wl, mem="256MiB", hot_stripe=stripe, seconds=seconds, seed=seed,
                   sample_buddyinfo=True, setup=setup)
    run.notes.update(order=order, stripe=stripe, snaps=taps["tap"].snaps,
                     stat_log=taps["stats"].log)
    return run


def _anon_fill(sim: Any):
    """Fill the node to its low watermarks with anonymous memory (there is no swap)."""
    from mmsim.mm.filemap import AnonRegion
    from mmsim.mm.gfp import GFP_HIGHUSER_MOVABLE, gfp_zone

    node = sim.node
    cz = gfp_zone(GFP_HIGHUSER_MOVABLE)
    room = sum(max(0, z.nr_free_pages - z.low_wmark_pages - z.lowmem_reserve[cz])
               for z in node.zones if z.managed_pages)
    heap = AnonRegion(node, room, name="heap")
    yield from heap.touch(np.arange(room))


def failure_run(order: int = 9, seconds: float = 1.0, seed: int = 0) -> LessonRun:
    """The same requests on a node full of anonymous memory and no swap: nothing to reclaim."""
    from mmsim.workloads import HighOrderBurst, Script

    wl = [Script(fn=_anon_fill, name="heap"),
          HighOrderBurst(order=order, count=1, interval=0.3, lifetime=None, gfp=THP_GFP,
                         kind="anon", name="thp", start=0.25)]
    run = simulate(wl, mem="256MiB", seconds=seconds, seed=seed, fill=False)
    run.notes.update(order=order)
    return run


# --------------------------------------------------------------------------
# what happened, request by request
# --------------------------------------------------------------------------
def _records(run: LessonRun) -> list[tuple[float, str, int, str, dict[str, Any], int]]:
    return [(t / 1e9, comm, pid, ev, f, cpu) for t, comm, pid, cpu, ev, f in
            run.result.sim.tracer.records]


def requests_table(run: LessonRun) -> pd.DataFrame:
    """One row per request of the burst: did it get a block, and what kswapd and kcompactd did."""
    order = run.notes["order"]
    recs = _records(run)
    times = [0.25 + 0.3 * i for i in range(10) if 0.25 + 0.3 * i < run.seconds]
    rows = []
    for i, t0 in enumerate(times):
        t1 = times[i + 1] if i + 1 < len(times) else run.seconds
        ks = [r for r in run.runs if t0 - 1e-9 <= r["start"] < t1 and r["order"] == order]
        kc = [r for r in recs if t0 - 1e-9 <= r[0] < t1 and r[3] == "mm_compaction_end"]
        wk = [r for r in recs
              if t0 - 1e-9 <= r[0] < t1 and r[3] == "mm_compaction_wakeup_kcompactd"]
        failed = sum(d for t, k, d in run.notes.get("stat_log", [])
                     if k == "thp.failed" and t0 - 1e-9 <= t < t1)
        row = {"request at (s)": round(t0, 2),
               "result": "failed" if failed else "allocated",
               "kswapd woken": "yes" if ks else "no"}
        if ks:
            r = ks[0]
            row.update({"reclaimed": r["reclaimed"], "compact_gap": 2 << order,
                        "balance_pgdat returned": r["reclaim_order"],
                        "next": "goto kswapd_try_sleep" if r["reclaim_order"] < order
                        else "loop top"})
        else:
            row.update({"reclaimed": "-", "compact_gap": 2 << order,
                        "balance_pgdat returned": "-", "next": "-"})
        row["wakeup_kcompactd"] = f"order {wk[0][4]['order']}" if wk else "-"
        row["compact_zone"] = kc[0][4]["status"] if kc else "-"
        rows.append(row)
    df = pd.DataFrame(rows)
    df.index = pd.RangeIndex(1, len(df) + 1, name="request")
    return df


def _fmt(rec: tuple[float, str, int, str, dict[str, Any], int]) -> str:
    from mmsim.trace import format_line

    t, comm, pid, ev, f, cpu = rec
    return format_line(round(t * 1e9), comm, pid, cpu, ev, f)


def story(run: LessonRun, t0: float = 0.25, t1: float = 0.4) -> str:
    """The trace between ``t0`` and ``t1``, with runs of the same event collapsed and
    ``#`` lines for what no tracepoint shows (balance_pgdat's result, the goto)."""
    recs = [r for r in _records(run) if t0 - 1e-9 <= r[0] <= t1 and r[3] in STORY_EVENTS]
    runs = [r for r in run.runs if t0 - 1e-9 <= r["start"] <= t1]
    out: list[str] = []
    i = 0
    while i < len(recs):
        r = recs[i]
        j = i
        while j + 1 < len(recs) and recs[j + 1][3] == r[3] and recs[j + 1][1] == r[1]:
            j += 1
        # before the first record after a run ended, say what balance_pgdat returned
        for k in runs:
            if k.get("_told"):
                continue
            if k["end"] <= r[0] + 1e-12 and r[0] >= k["end"] - 1e-12 and r[1].startswith(
                    ("kswapd", "kcompactd")) and r[3] != "mm_vmscan_lru_shrink_inactive":
                k["_told"] = True
                goto = k["reclaim_order"] < k["order"]
                out.append(f"#  balance_pgdat(order={k['order']}) reclaimed {k['reclaimed']} "
                           f"pages (compact_gap({k['order']}) = {2 << k['order']}) and returned "
                           f"{k['reclaim_order']}")
                if goto:
                    out.append(f"#  {k['reclaim_order']} < {k['order']}: goto kswapd_try_sleep;"
                               f" kswapd_try_to_sleep(alloc_order={k['order']}, "
                               f"reclaim_order={k['reclaim_order']}): balanced at order "
                               f"{k['reclaim_order']} -> wakeup_kcompactd(order {k['order']}),"
                               " then the HZ/10 nap")
        if j > i:
            if r[3] == "mm_vmscan_lru_shrink_inactive":
                n = sum(x[4]["nr_reclaimed"] for x in recs[i:j + 1])
                pr = sorted({x[4]["priority"] for x in recs[i:j + 1]})
                out.append(f"#  ... {j - i + 1} x mm_vmscan_lru_shrink_inactive, {n} pages "
                           f"reclaimed, priority {'/'.join(map(str, pr))}")
            elif r[3] == "mm_compaction_migratepages":
                n = sum(x[4]["nr_migrated"] for x in recs[i:j + 1])
                out.append(f"#  ... {j - i + 1} x mm_compaction_migratepages, {n} pages "
                           "migrated")
            else:
                out.append(_fmt(r))
                out.append(f"#  ... and {j - i} more")
        elif r[3] == "mm_vmscan_lru_shrink_inactive":
            out.append(f"#  ... 1 x mm_vmscan_lru_shrink_inactive, {r[4]['nr_reclaimed']} pages "
                       f"reclaimed, priority {r[4]['priority']}")
        else:
            out.append(_fmt(r))
        i = j + 1
    for k in runs:
        k.pop("_told", None)
    return "\n".join(out)


def snapshots(run: LessonRun, t0: float = 0.25, t1: float = 0.4) -> list[tuple[str, list[int]]]:
    """DMA32's free blocks per order: request failed, kcompactd woken, compaction done."""
    labels = {"mm_vmscan_wakeup_kswapd": "request fails",
              "mm_compaction_wakeup_kcompactd": "kswapd wakes kcompactd",
              "mm_compaction_end": "compact_zone done"}
    out: list[tuple[str, list[int]]] = []
    seen: set[str] = set()
    for t, ev, _f, free in run.notes["snaps"]:
        if t0 - 1e-9 <= t <= t1 and ev not in seen:
            seen.add(ev)
            out.append((f"{labels[ev]} ({t:.4f} s)", free))
    return out


def case_figure(run: LessonRun) -> PanelOutput:
    """Top: DMA32 free pages and watermarks, kswapd runs and kcompactd passes shaded,
    request outcomes marked. Bottom: free blocks per order at the three moments."""
    order = run.notes["order"]
    fig = figure(figsize=(9.5, 6.2), layout=None)
    fig.subplots_adjust(left=0.08, right=0.7, top=0.95, bottom=0.08, hspace=0.45)
    ax1, ax2 = fig.subplots(2, 1, height_ratios=(1.4, 1.0))
    v = run.result.vmstat
    t = v.time.to_numpy()
    top = float(max(v[f"free_{ZONE}"].max(), v[f"high_{ZONE}"].max())) * 1.15
    span = run.seconds * 0.004
    runs = [(r["start"], max(r["end"] - r["start"], span)) for r in run.runs]
    if runs:
        ax1.broken_barh(runs, (0, top), color=STATE_STYLE["balance"][0], alpha=0.3, lw=0,
                        label="kswapd balance_pgdat")
    recs = _records(run)
    passes = []
    cb = None
    for r in recs:
        if r[3] == "mm_compaction_begin":
            cb = r[0]
        elif r[3] == "mm_compaction_end" and cb is not None:
            passes.append((cb, max(r[0] - cb, span)))
            cb = None
    if passes:
        ax1.broken_barh(passes, (0, top * 0.5), color="#1b7837", alpha=0.45, lw=0,
                        label="kcompactd compact_zone")
    ax1.plot(t, v[f"free_{ZONE}"], color="#333333", lw=1.3, label=f"free ({ZONE})")
    for w, colour in (("high", "#1a9641"), ("low", "#fdae61"), ("min", "#d7191c")):
        ax1.plot(t, v[f"{w}_{ZONE}"], color=colour, ls="--", lw=1.1, label=w)
    df = requests_table(run)
    ok = [r["request at (s)"] for _, r in df.iterrows() if r["result"] == "allocated"]
    bad = [r["request at (s)"] for _, r in df.iterrows() if r["result"] == "failed"]
    if ok:
        ax1.plot(ok, [top * 0.93] * len(ok), "o", color="#1a9641", ms=7, ls="none",
                 label=f"order-{order} request served")
    if bad:
        ax1.plot(bad, [top * 0.93] * len(bad), "X", color="#d7191c", ms=8, ls="none",
                 label=f"order-{order} request failed")
    ax1.set_ylim(0, top)
    ax1.set_xlim(0, run.seconds)
    ax1.set_xlabel("time (s)")
    ax1.set_ylabel("pages")
    ax1.set_title(f"{ZONE}: free pages; kswapd and kcompactd at work (order {order})",
                  fontsize=10)
    ax1.legend(**LEGEND)
    snaps = snapshots(run)
    orders = np.arange(11)
    colours = ("#d9d9d9", "#92c5de", "#2166ac")
    w = 0.8 / max(len(snaps), 1)
    for k, (label, free) in enumerate(snaps):
        ax2.bar(orders + (k - (len(snaps) - 1) / 2) * w, free, width=w, color=colours[k % 3],
                label=label)
    ax2.axvline(order - 0.5, color="#d7191c", ls=":", lw=1)
    ax2.annotate(f"order >= {order}", (order - 0.45, 0.95), xycoords=("data", "axes fraction"),
                 fontsize=8, color="#d7191c", va="top")
    ax2.set_yscale("symlog", linthresh=1)
    ax2.set_xticks(orders)
    ax2.set_xlabel("order")
    ax2.set_ylabel("free blocks (log)")
    ax2.set_title(f"{ZONE}: free blocks per order, first request", fontsize=10)
    if snaps:
        ax2.legend(**LEGEND)
    return PanelOutput(figure=fig)


CONTROLS = [
    Control("order", "int", 9, 1, 10, label="order",
            help="order of the requests (they may wake kswapd, not reclaim or compact)"),
]


def update(order: int = 9) -> PanelOutput:
    stripe = 32
    run = case_run(order, stripe)
    out = case_figure(run)
    df = requests_table(run)
    lines = [f"order {order}: compact_gap = {2 << order} pages; reclaim frees pieces of up to "
             f"{stripe} pages (order <= {int(np.log2(stripe))})"]
    for i, r in df.iterrows():
        line = f"request {i} at {r['request at (s)']:.2f} s: {r['result']}"
        if r["kswapd woken"] == "yes":
            line += (f"; kswapd reclaimed {r['reclaimed']}, balance_pgdat returned "
                     f"{r['balance_pgdat returned']} -> {r['next']}")
        if r["wakeup_kcompactd"] != "-":
            line += f"; kcompactd woken ({r['wakeup_kcompactd']}), compact_zone {r['compact_zone']}"
        elif r["next"] == "goto kswapd_try_sleep":
            line += "; kcompactd not woken (kcompactd_node_suitable: a free block is already there)"
        lines.append(line)
    lines.append(f"pageoutrun {run.counter('pageoutrun')}, compact_daemon_wake "
                 f"{run.counter('compact_daemon_wake')}, kswapd_failures "
                 f"{run.node.kswapd_failures}")
    out.text = "\n".join(lines)
    return out


PANELS = [Panel("reclaim_order < alloc_order: kswapd hands over to kcompactd", CONTROLS, update)]


# --------------------------------------------------------------------------
# check yourself
# --------------------------------------------------------------------------
def _q_handover(rng: np.random.Generator, seed: int) -> Any:
    from mmsim.exercises import Question

    alloc = int(rng.choice([3, 4, 6, 9, 10]))
    goto = bool(rng.integers(0, 2))
    pending = int(rng.choice([0, 0, 2, 9]))
    ret = 0 if goto else alloc
    if goto:
        ans = alloc
        why = (f"balance_pgdat returned {ret} < {alloc}: goto kswapd_try_sleep keeps "
               f"alloc_order = {alloc}, so wakeup_kcompactd gets order {alloc} (the sleep check "
               f"uses reclaim_order {ret}). A request recorded during the run is read only when "
               "kswapd_try_to_sleep returns (L3893).")
    else:
        ans = pending
        why = (f"balance_pgdat returned {alloc}, not lower: the loop top re-reads "
               f"pgdat->kswapd_order, which L3895 reset to 0 and "
               + (f"a new request raised to {pending}" if pending else "nothing has raised since")
               + f": kswapd_try_to_sleep gets alloc_order {pending}"
               + (" and wakeup_kcompactd ignores order 0." if not pending else "."))
    return Question("kswapd_handover", seed,
                    f"kswapd was woken for order {alloc}. Its balance_pgdat run "
                    + ("reclaimed compact_gap(order) pages and finished balanced at order 0"
                       if goto else "found the node balanced at that order")
                    + ". Meanwhile "
                    + (f"an allocation recorded order {pending}" if pending else
                       "no allocation recorded a request")
                    + ". Which order does the next kswapd_try_to_sleep() pass to "
                    "wakeup_kcompactd() (if its first check passes)?", ans, why)


def _register() -> None:
    from mmsim.exercises import register

    register("kswapd_handover", _q_handover)


_register()
