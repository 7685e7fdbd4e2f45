"""Lesson 05: ``kswapd_run`` - an idempotent start, and what hot-plug does with it.

A story on a machine with several nodes (built with the lesson-03 helpers):
boot starts the daemons; ``kswapd_run`` is called again for a node that has
its thread; a node loses its memory (``kswapd_stop``, as memory hot-remove
does) and gets it back (``kswapd_run`` again, as memory hot-add does). mmsim
has no memory hot-plug, so the story calls the functions the hot-plug code
calls and leaves the node's pages in place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mmsim.exercises import Question, register
from mmsim.panels.l03_kswapd_init import Booted, numa_machine, start_daemons
from mmsim.widgets import Control, Panel, PanelOutput, figure


@dataclass
class Story:
    """The booted machine, the calls made (time, text) and each thread's life."""

    booted: Booted
    calls: list[tuple[float, str]] = field(default_factory=list)
    #: pid -> [comm, created (s), exited (s) or None]
    lives: dict[int, list[Any]] = field(default_factory=dict)
    end: float = 0.0

    def log(self) -> str:
        """The calls and the tracepoints, in time order, ftrace-style."""
        lines = [(t, 0, f"{'# call':>22s}  {t:12.6f}: {text}") for t, text in self.calls]
        for ln in self.booted.ftrace().splitlines():
            t = float(ln.split(":")[0].split()[-1])
            lines.append((t, 1, ln))
        lines.sort(key=lambda x: (x[0], x[1]))
        return "\n".join(text for _t, _k, text in lines)


def _note_threads(story: Story, now: float) -> None:
    for t in story.booted.threads():
        life = story.lives.setdefault(t.pid, [t.comm, now, None])
        if not t.alive and life[2] is None:
            life[2] = now


def kcompactd_stop_and_wait(booted: Booted, pgdat: Any) -> None:
    """``kcompactd_stop`` as the kernel does it: ``kthread_stop`` waits for the exit.

    mmsim's ``kcompactd_stop`` clears ``pgdat->kcompactd`` before the thread has
    run again, and its ``kcompactd_work_requested`` looks for the stop request
    through that pointer, so the woken thread goes back to sleep instead of
    exiting. Here the thread is stopped, allowed to run at the same instant
    (it exits), and only then is the pointer cleared.
    """
    task = pgdat.kcompactd
    if task is None:
        return
    booted.sched.kthread_stop(task)
    booted.sched.run_until(booted.sched.now_ns)
    pgdat.kcompactd = None


def tell(node_mib: tuple[int, ...] = (64, 64, 0), second_call: bool = True,
         hotplug: bool = True, end: float = 0.5) -> Story:
    """Boot, then (optionally) a second kswapd_run(0) and a remove/add of node 1's memory."""
    from mmsim.mm.compaction import kcompactd_run
    from mmsim.mm.vmscan import kswapd_run, kswapd_stop

    machine = numa_machine(node_mib)
    booted = start_daemons(machine)
    story = Story(booted, end=end)
    story.calls.append((0.0, "kcompactd_init(), then kswapd_init(): kswapd_run(nid) for "
                             "every node with memory"))
    _note_threads(story, 0.0)
    booted.run(0.2)
    n0 = machine.nodes[0]
    if second_call:
        first = n0.kswapd
        again = kswapd_run(n0)
        same = again is first
        story.calls.append((0.2, f"kswapd_run(0) again -> pgdat->kswapd is set: return 0 "
                                 f"(mmsim returns the same task: {again.comm}-{again.pid}, "
                                 f"same={same})"))
    n1 = machine.nodes[1] if len(machine.nodes) > 1 else None
    if hotplug and n1 is not None and n1.node_present_pages:
        story.calls.append((0.2, "node 1 loses its last memory block (offline_pages): "
                                 "kswapd_stop(1), kcompactd_stop(1)"))
        kswapd_stop(n1)
        kcompactd_stop_and_wait(booted, n1)
        booted.run(0.3)
        _note_threads(story, 0.2)
        t1 = kswapd_run(n1)
        c1 = kcompactd_run(n1)
        story.calls.append((0.3, f"a memory block of node 1 comes online (online_pages): "
                                 f"kswapd_run(1) -> new thread {t1.comm}-{t1.pid}, "
                                 f"kcompactd_run(1) -> {c1.comm}-{c1.pid}"))
        _note_threads(story, 0.3)
        again = kswapd_run(n1)
        story.calls.append((0.3, f"a second block of node 1 comes online: kswapd_run(1) -> "
                                 f"already running, return 0 ({again.comm}-{again.pid})"))
    elif hotplug:
        story.calls.append((0.2, "(no node 1 with memory: nothing to hot-plug)"))
    booted.run(end)
    _note_threads(story, end)
    return story


def threads_table(story: Story) -> Any:
    """Every kswapd/kcompactd thread the story created: pid, created, exited."""
    import pandas as pd

    rows = [{"pid": pid, "comm": comm, "created (s)": a,
             "exited (s)": "-" if b is None else b}
            for pid, (comm, a, b) in sorted(story.lives.items())]
    return pd.DataFrame(rows).set_index("pid")


def timeline(story: Story, title: str = "", with_log: bool = True) -> PanelOutput:
    """One row per thread: its life, its sleep tracepoints, and the calls (and the log)."""
    fig = figure(figsize=(10, 1.2 + 0.42 * max(len(story.lives), 1)))
    ax = fig.add_subplot()
    tr = story.booted.machine.tracer.dataframe()
    rows = sorted(story.lives.items(), key=lambda kv: (kv[1][0], kv[0]))
    for y, (pid, (comm, a, b)) in enumerate(rows):
        colour = "#2166ac" if comm.startswith("kswapd") else "#1b7837"
        ax.barh(y, (b if b is not None else story.end) - a, left=a, height=0.5, color=colour,
                alpha=0.25)
        ax.plot([a], [y], "o", color=colour, ms=6)
        if b is not None and b < story.end:
            ax.plot([b], [y], "x", color="#d7191c", ms=9, mew=2)
        if len(tr):
            sel = tr[(tr.pid == pid) & tr.event.str.endswith("_sleep")]
            ax.plot(sel.time, np.full(len(sel), y), "v", color=colour, ms=7)
    ax.set_yticks(range(len(rows)), [f"{comm} (pid {pid})" for pid, (comm, _a, _b) in rows],
                  fontsize=8)
    ax.invert_yaxis()
    seen = set()
    for t, _text in story.calls:
        if t in seen:
            continue
        seen.add(t)
        ax.axvline(t, color="#999999", ls=":", lw=1)
    ax.set_xlim(-0.02, story.end + 0.02)
    ax.set_xlabel("time (s)")
    ax.plot([], [], "o", color="#666666", label="created (kthread_run)")
    ax.plot([], [], "v", color="#666666", label="…_sleep tracepoint")
    ax.plot([], [], "x", color="#d7191c", mew=2, label="exited (kthread_stop)")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.35), ncol=3,
              frameon=False)
    ax.set_title(title or "kswapd and kcompactd threads (dotted: calls, see the log)",
                 fontsize=10)
    return PanelOutput(figure=fig, text=story.log() if with_log else "")


# --------------------------------------------------------------------------
# the panel
# --------------------------------------------------------------------------
CONTROLS = [
    Control("nodes", "int", 2, 1, 4, label="nodes with memory (64 MiB each)"),
    Control("memoryless", "int", 1, 0, 2, label="CPU-only nodes"),
    Control("second_call", "choice", "yes", options=("yes", "no"),
            label="call kswapd_run(0) again at 0.2 s"),
    Control("hotplug", "choice", "yes", options=("yes", "no"),
            label="node 1: remove its memory, then add it back"),
]


def update(nodes: int = 2, memoryless: int = 1, second_call: str = "yes",
           hotplug: str = "yes") -> PanelOutput:
    story = tell((64,) * nodes + (0,) * memoryless, second_call == "yes", hotplug == "yes")
    created = len(story.lives)
    alive = sum(1 for _c, _a, b in story.lives.values() if b is None)
    out = timeline(story, title=f"{nodes} node(s) with memory, {memoryless} CPU-only: "
                               f"{created} threads created, {alive} alive at {story.end} s")
    return out


PANELS = [Panel("kswapd_run", CONTROLS, update)]


# --------------------------------------------------------------------------
# check yourself
# --------------------------------------------------------------------------
def _q_kswapd_run(rng: np.random.Generator, seed: int) -> Question:
    n = int(rng.integers(2, 5))
    mem = [True] + [bool(rng.integers(0, 2)) for _ in range(n - 1)]
    at_boot = list(mem)
    running = list(mem)
    created = sum(mem)
    events = []
    for _ in range(int(rng.integers(3, 6))):
        k = int(rng.integers(0, n))
        if mem[k] and rng.integers(0, 3) == 0 and k != 0:
            events.append(f"node {k} loses its last memory block")
            mem[k] = False
            running[k] = False
        else:
            events.append(f"a memory block of node {k} comes online")
            mem[k] = True
            if not running[k]:
                running[k] = True
                created += 1
    ask_created = bool(rng.integers(0, 2))
    boot = ", ".join(f"node {i} {'with memory' if m else 'CPU-only'}"
                     for i, m in enumerate(at_boot))
    ans = created if ask_created else sum(running)
    return Question("kswapd_run", seed,
                    f"A machine boots with {boot}. Then: " + "; ".join(events) + ". "
                    + ("How many kswapd threads were created in all (boot included)?"
                       if ask_created else "How many kswapd threads exist at the end?"),
                    ans,
                    "Boot: kswapd_run for each node with memory. Every memory online calls "
                    "kswapd_run(nid), which creates a thread only if pgdat->kswapd is NULL; "
                    "losing a node's last memory calls kswapd_stop(nid), which stops the thread "
                    "and clears the pointer, so the next online creates a new one.")


register("kswapd_run", _q_kswapd_run)
