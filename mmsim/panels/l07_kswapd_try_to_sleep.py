"""Lesson 07: kswapd_try_to_sleep, prepare_kswapd_sleep, pgdat_balanced (mm/vmscan.c, v5.0).

* :func:`decision_table` runs mmsim's own ``kswapd_try_to_sleep`` once for
  each reachable combination of (first check, woken during the nap, second
  check), with the two ``prepare_kswapd_sleep`` answers forced, and records
  what it did: nap, ``reset_isolation_suitable``, ``wakeup_kcompactd``,
  tracepoint, full sleep, counter.
* :func:`sleep_run` / :func:`sleep_figure` / :func:`sleep_summary`: a reader
  streaming a file at a given rate on a 256 MiB node, and kswapd's naps,
  full sleeps and wake-ups over one simulated second.
"""

from __future__ import annotations

from typing import Any
from unittest import mock

import numpy as np
import pandas as pd

from mmsim.panels.l06_kswapd import (
    LessonRun,
    draw_states,
    free_axes,
    kswapd_states,
    simulate,
)
from mmsim.widgets import Control, Panel, PanelOutput, figure

#: every reachable (first check, woken during the nap, second check) triple
CASES = ((False, False, False), (False, False, True), (True, False, False),
         (True, False, True), (True, True, False), (True, True, True))


def try_to_sleep_once(first: bool, woken: bool, second: bool) -> dict[str, Any]:
    """Run mmsim's ``kswapd_try_to_sleep`` once with both checks' answers forced.

    A fresh node and scheduler; a task standing in for kswapd is made current
    and the generator is stepped by hand: a ``ScheduleTimeout`` (the ``HZ/10``
    nap) is answered with 5 jiffies left when ``woken`` (a wake-up cut it
    short) or 0 otherwise; a ``Schedule`` is the full sleep.
    ``prepare_kswapd_sleep``, ``reset_isolation_suitable`` and
    ``wakeup_kcompactd`` are replaced by recorders for this call only.
    """
    from mmsim.kthread import Schedule, ScheduleTimeout
    from mmsim.mm import vmscan
    from mmsim.mm.mmzone import Node
    from mmsim.simulation import Simulation

    node = Node.build(mem="64MiB")
    sim = Simulation(node, [], seed=0, daemons=False)

    def idle():
        yield from ()

    task = sim.sched.spawn(idle, "kswapd0", pid=101)
    answers = iter([first, second])
    calls: list[str] = []

    def fake_prepare(pgdat: Any, order: int, classzone_idx: int) -> bool:
        calls.append("prepare_kswapd_sleep")
        return next(answers)

    before = dict(sim.machine.vm_events)
    out: dict[str, Any] = {"first check": first, "woken in nap": woken if first else None,
                           "second check": None, "napped": False, "full sleep": False}
    with mock.patch.object(vmscan, "prepare_kswapd_sleep", fake_prepare), \
            mock.patch.object(vmscan, "reset_isolation_suitable",
                              lambda pgdat: calls.append("reset_isolation_suitable")), \
            mock.patch.object(vmscan, "wakeup_kcompactd",
                              lambda pgdat, o, cz: calls.append("wakeup_kcompactd")):
        sim.sched.current = task
        gen = vmscan.kswapd_try_to_sleep(node, 9, 0, 1)
        send: Any = None
        try:
            while True:
                y = gen.send(send)
                send = None
                if isinstance(y, ScheduleTimeout):
                    out["napped"] = True
                    send = 5 if woken else 0
                elif isinstance(y, Schedule):
                    out["full sleep"] = True
        except StopIteration:
            pass
        finally:
            sim.sched.current = None
    if calls.count("prepare_kswapd_sleep") == 2:
        out["second check"] = second
    if not first:
        out["woken in nap"] = None
    out["reset_isolation_suitable"] = "reset_isolation_suitable" in calls
    out["wakeup_kcompactd"] = "wakeup_kcompactd" in calls
    out["tracepoint"] = ", ".join(r[4] for r in sim.tracer.records) or "-"
    moved = [k for k, v in sim.machine.vm_events.items() if v != before.get(k, 0)]
    out["counter"] = ", ".join(moved) or "-"
    return out


def decision_table() -> pd.DataFrame:
    """The six reachable paths through ``kswapd_try_to_sleep`` (golden case
    ``kswapd_try_to_sleep_decision_table`` of the project's kernel notes)."""
    rows = [try_to_sleep_once(*c) for c in CASES]
    df = pd.DataFrame(rows)

    def yn(v: Any) -> str:
        return "-" if v is None else ("yes" if v else "no")

    for col in ("first check", "woken in nap", "second check", "napped",
                "reset_isolation_suitable", "wakeup_kcompactd", "full sleep"):
        df[col] = df[col].map(yn)
    df.index = pd.RangeIndex(1, len(df) + 1, name="case")
    return df


# --------------------------------------------------------------------------
# the timeline
# --------------------------------------------------------------------------
def sleep_run(rate_mib: int = 8, min_free_kbytes: int = 4096, seconds: float = 1.0,
              seed: int = 0) -> LessonRun:
    """A reader at ``rate_mib`` MiB/s from t=0.1 s on a 256 MiB node filled with cache."""
    from mmsim.workloads import FileStream

    return simulate([FileStream(rate=f"{rate_mib}MiB", start=0.1, name="reader")],
                    mem="256MiB", min_free_kbytes=min_free_kbytes, seconds=seconds, seed=seed)


def sleep_summary(run: LessonRun) -> dict[str, Any]:
    """How kswapd's sleep attempts ended, from the rebuilt states and the counters."""
    states = kswapd_states(run)
    naps = [s for s in states if s["kind"] == "nap"]
    asleep = sum(s["end"] - s["start"] for s in states if s["kind"] == "sleep")
    napping = sum(s["end"] - s["start"] for s in naps)
    running = sum(s["end"] - s["start"] for s in states if s["kind"] == "balance")
    return {
        "balance_pgdat runs (pageoutrun)": run.counter("pageoutrun"),
        "sleep attempts": len(naps) + sum(s["kind"] == "no nap" for s in states),
        "  no nap (not balanced at once)": sum(s["kind"] == "no nap" for s in states),
        "  nap cut short by a wake-up": sum(s.get("outcome") == "low" for s in naps),
        "  nap, then not balanced": sum(s.get("outcome") == "high" for s in naps),
        "  nap, then full sleep": sum(s.get("outcome") == "sleep" for s in naps),
        "  still napping at the end": sum(s.get("outcome") is None for s in naps),
        "kswapd_low_wmark_hit_quickly": run.counter("kswapd_low_wmark_hit_quickly"),
        "kswapd_high_wmark_hit_quickly": run.counter("kswapd_high_wmark_hit_quickly"),
        "mm_vmscan_kswapd_sleep": int((run.result.trace.event ==
                                       "mm_vmscan_kswapd_sleep").sum()),
        "time: reclaiming / napping / asleep (ms)":
            f"{running * 1e3:.1f} / {napping * 1e3:.0f} / {asleep * 1e3:.0f}",
    }


def sleep_figure(run: LessonRun, title: str = "") -> PanelOutput:
    fig = figure(figsize=(9.5, 4.6), layout=None)
    fig.subplots_adjust(left=0.08, right=0.66, top=0.92, bottom=0.11, hspace=0.08)
    ax1, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=(2.6, 1.2))
    free_axes(ax1, run)
    ax1.set_title(title or "DMA32: free pages and watermarks; kswapd's sleep attempts below",
                  fontsize=10)
    draw_states(ax2, run)
    return PanelOutput(figure=fig)


CONTROLS = [
    Control("rate_mib", "log2", 8, 1, 32, label="reader rate (MiB/s)",
            help="how fast a FileStream allocates page cache"),
    Control("min_free_kbytes", "int", 4096, 1024, 16384, step=512, label="min_free_kbytes",
            help="vm.min_free_kbytes: min, and with it the gaps low-min and high-low"),
]


def update(rate_mib: int = 8, min_free_kbytes: int = 4096) -> PanelOutput:
    run = sleep_run(rate_mib, min_free_kbytes)
    out = sleep_figure(run, title=f"reader {rate_mib} MiB/s, min_free_kbytes={min_free_kbytes}")
    z = run.node.zone("DMA32")
    gap = z.high_wmark_pages - z.low_wmark_pages
    lines = [f"DMA32 min/low/high = {z.min_wmark_pages}/{z.low_wmark_pages}/"
             f"{z.high_wmark_pages}: high-low = {gap} pages, eaten in "
             f"{gap / (rate_mib * 256) * 1e3:.0f} ms at {rate_mib} MiB/s (a nap is 100 ms)"]
    lines += [f"{k:42s} {v}" for k, v in sleep_summary(run).items()]
    out.text = "\n".join(lines)
    return out


PANELS = [Panel("kswapd_try_to_sleep: naps, sleeps and wake-ups", CONTROLS, update)]


# --------------------------------------------------------------------------
# check yourself
# --------------------------------------------------------------------------
def _q_prepare_sleep(rng: np.random.Generator, seed: int) -> Any:
    from mmsim.exercises import Question

    hopeless = bool(rng.integers(0, 5) == 0)
    failures = 16 if hopeless else int(rng.integers(0, 4))
    dma_high, dma32_high = 54, int(rng.integers(600, 1500))
    reserve = int(rng.choice([0, 200]))
    dma_free = int(rng.integers(150, 320))
    dma32_free = int(dma32_high + rng.integers(-300, 120))
    cz = int(rng.choice([0, 1, 3]))
    dma_ok = dma_free > dma_high + (reserve if cz > 0 else 0)
    dma32_ok = cz >= 1 and dma32_free > dma32_high
    balanced = dma_ok or dma32_ok
    ans = hopeless or balanced
    if hopeless:
        why = "kswapd_failures >= MAX_RECLAIM_RETRIES (16): a hopeless node may always sleep."
    else:
        why = (f"pgdat_balanced checks zones 0..{cz} bottom-up: DMA needs free {dma_free} > high "
               f"{dma_high} + lowmem_reserve[{cz}] {reserve if cz > 0 else 0}: "
               f"{'yes' if dma_ok else 'no'}")
        if cz >= 1:
            why += f"; DMA32 needs {dma32_free} > {dma32_high}: {'yes' if dma32_ok else 'no'}"
        why += (". One balanced zone is enough." if balanced else
                ". No zone is balanced: kswapd may not sleep.")
    return Question("prepare_kswapd_sleep", seed,
                    f"Order-0 sleep check, classzone_idx {cz}, kswapd_failures {failures}. DMA: "
                    f"free {dma_free}, high {dma_high}, lowmem_reserve for classzones above DMA "
                    f"{reserve}. DMA32: free {dma32_free}, high {dma32_high}. Does "
                    "prepare_kswapd_sleep() return True? (True/False)", ans, why)


def _register() -> None:
    from mmsim.exercises import register

    register("prepare_kswapd_sleep", _q_prepare_sleep)


_register()
