"""Lesson 16: ``kcompactd_run`` / ``kcompactd_stop`` - idempotent start, stop on hot-remove.

The panel boots the two-node machine of lesson 15 with node 1 memoryless (so
only kcompactd0 and kswapd0 exist), then applies a sequence of operations
through the mmsim twins: ``kcompactd_run``/``kcompactd_stop`` directly, and
the pair of calls that memory hotplug makes (``online_pages`` ends with
``kswapd_run(nid); kcompactd_run(nid)``; offlining a node's last memory calls
``kswapd_stop(node); kcompactd_stop(node)``). The threads are created and
stopped but the event loop is not run, so nothing else happens. ~1 ms/update.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mmsim import exercises
from mmsim.widgets import Control, Panel, PanelOutput, figure

OPS = ("none", "kcompactd_run(node 0)", "kcompactd_stop(node 0)",
       "online memory on node 1", "offline node 1's memory", "kcompactd_run(node 1)")


def apply_ops(ops: list[str]) -> pd.DataFrame:
    """Boot (kcompactd_init, kswapd_init), then each operation; one row per step."""
    from mmsim.kthread import Scheduler
    from mmsim.mm.compaction import kcompactd_init, kcompactd_run, kcompactd_stop
    from mmsim.mm.vmscan import kswapd_init, kswapd_run, kswapd_stop
    from mmsim.panels.l15_kcompactd_init import numa_machine

    machine = numa_machine(2, memoryless=1)
    machine.sched = Scheduler(hz=machine.config.hz)
    kcompactd_init(machine)
    kswapd_init(machine)
    n0, n1 = machine.nodes

    def alive() -> str:
        names = []
        for pgdat in machine.nodes:
            for kind in ("kcompactd", "kswapd"):
                t = getattr(pgdat, kind, None)
                if t is not None:
                    names.append(f"{t.comm}(pid {t.pid})")
        return ", ".join(names) or "-"

    rows = [{"step": 0, "operation": "boot: kcompactd_init, kswapd_init",
             "result": "node 1 has no memory: skipped", "threads": alive()}]
    for i, op in enumerate(ops, 1):
        if op == "none":
            continue
        before = len(machine.sched.tasks)
        if op == "kcompactd_run(node 0)":
            t = kcompactd_run(n0)
            res = (f"started {t.comm}" if len(machine.sched.tasks) > before else
                   f"already running ({t.comm}, pid {t.pid}): returns 0, nothing started")
        elif op == "kcompactd_run(node 1)":
            t = kcompactd_run(n1)
            res = (f"started {t.comm} (kcompactd_run does not check for memory: its "
                   "callers do)" if len(machine.sched.tasks) > before else
                   f"already running ({t.comm}): nothing started")
        elif op == "kcompactd_stop(node 0)":
            had = n0.kcompactd
            kcompactd_stop(n0)
            res = (f"kthread_stop({had.comm}); pgdat->kcompactd = NULL" if had is not None
                   else "no kcompactd: nothing to do")
        elif op == "online memory on node 1":
            kswapd_run(n1)
            kcompactd_run(n1)
            new = [t.comm for t in machine.sched.tasks[before:]]
            res = ("online_pages: kswapd_run(1), kcompactd_run(1) -> started "
                   + (", ".join(new) if new else "nothing (both already run)"))
        else:
            had = [t.comm for t in (getattr(n1, "kswapd", None), n1.kcompactd)
                   if t is not None]
            kswapd_stop(n1)
            kcompactd_stop(n1)
            res = ("offline_pages: kswapd_stop(1), kcompactd_stop(1) -> stopped "
                   + (", ".join(had) if had else "nothing"))
        rows.append({"step": i, "operation": op, "result": res, "threads": alive()})
    return pd.DataFrame(rows).set_index("step")


def figure_for(df: pd.DataFrame) -> Any:
    """Thread lifetimes across the steps."""
    import re

    fig = figure(figsize=(9, 2.6))
    ax = fig.add_subplot()
    steps = list(df.index)
    lanes: dict[str, list[int]] = {}
    for step, threads in zip(steps, df.threads):
        for name in re.findall(r"(\w+\d)\(pid (\d+)\)", threads):
            lanes.setdefault(f"{name[0]} pid {name[1]}", []).append(step)
    for y, (name, on) in enumerate(sorted(lanes.items())):
        colour = "#762a83" if name.startswith("kcompactd") else "#2166ac"
        for s in on:
            ax.barh(y, 0.9, left=s - 0.45, color=colour, alpha=0.8)
        ax.text(max(on) + 0.5, y, name, va="center", fontsize=8)
    ax.set_yticks([])
    ax.set_xticks(steps, [f"{s}" for s in steps])
    ax.set_xlabel("step (0 = boot)")
    ax.set_xlim(-0.6, max(steps) + 2.2)
    ax.set_ylim(-0.7, max(len(lanes), 1) - 0.3)
    ax.set_title("threads alive after each step (purple: kcompactd, blue: kswapd)",
                 fontsize=10)
    return fig


CONTROLS = [
    Control(f"step{i}", "choice", d, options=OPS, label=f"step {i}")
    for i, d in ((1, "kcompactd_run(node 0)"), (2, "online memory on node 1"),
                 (3, "online memory on node 1"), (4, "offline node 1's memory"))
]


def update(step1: str = OPS[1], step2: str = OPS[3], step3: str = OPS[3],
           step4: str = OPS[4]) -> PanelOutput:
    df = apply_ops([step1, step2, step3, step4])
    text = "\n".join(f"{i}: {r.operation:34s} {r.result}\n   alive: {r.threads}"
                     for i, r in df.iterrows())
    return PanelOutput(figure=figure_for(df), text=text)


PANELS = [Panel("kcompactd_run: start, start again, stop", CONTROLS, update)]


def _q_run(rng: np.random.Generator, seed: int) -> exercises.Question:
    runs = int(rng.integers(1, 5))
    stops = int(rng.integers(0, 2))
    after = int(rng.integers(0, 2)) if stops else 0
    n = 1 if runs else 0
    seq = [f"kcompactd_run(0) x{runs}"]
    if stops:
        seq.append("kcompactd_stop(0)")
        n = 0
        if after:
            seq.append("kcompactd_run(0)")
            n = 1
    started = 1 + (1 if stops and after else 0)
    return exercises.Question(
        "kcompactd_run", seed,
        f"Node 0 has memory but, unusually, no kcompactd yet. These calls happen: "
        f"{', then '.join(seq)}. How many kcompactd threads does kthread_run start in all?",
        started,
        f"kcompactd_run returns at once when pgdat->kcompactd is set, so {runs} call(s) start "
        "one thread; kcompactd_stop stops it and clears the pointer, so a later "
        f"kcompactd_run starts a new one. Threads started in all: {started}; alive: {n}.")


exercises.register("kcompactd_run", _q_run)
