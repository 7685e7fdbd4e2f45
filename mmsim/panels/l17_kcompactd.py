"""Lesson 17: the ``kcompactd`` thread - what wakes it, and what does not.

Every situation runs on the same small node (see
:func:`mmsim.panels.l19_wakeup_kcompactd.shaped_lru_node` with
``normal_kind="anon"``): DMA32 16 MiB of page cache with one free order-9
block; Normal 64 MiB of anonymous memory (no swap, so kswapd cannot reclaim
it; compaction can move it) with 8 MiB free in order-4 blocks. kcompactd and
kswapd sleep. At t=0 one task does one thing - a THP fault, slab
allocations, a big read... - and the simulation runs on for 0.25 s with the
real kswapd and kcompactd threads. 40-300 ms per situation (cached).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mmsim import exercises
from mmsim.widgets import Control, Panel, PanelOutput, figure

SITUATIONS = {
    "THP fault, defrag=defer": (
        "order-9 GFP_TRANSHUGE_LIGHT|__GFP_KSWAPD_RECLAIM: may wake kswapd, may not reclaim "
        "or compact itself", "kswapd_try_to_sleep (before the HZ/10 nap)"),
    "slab allocations steal a pageblock": (
        "64 GFP_KERNEL slab pages; no free Unmovable pages, so the allocator steals a Movable "
        "pageblock and boosts the watermarks", "balance_pgdat (end of a boosted run)"),
    "kswapd hopeless, THP fault defrag=defer": (
        "the same THP fault, but kswapd has failed 16 runs in a row (kswapd_failures = 16)",
        "wakeup_kswapd (caller without __GFP_DIRECT_RECLAIM)"),
    "big read (order 0)": (
        "a 4000-page file read that takes free memory below low: kswapd is woken for "
        "order 0", "nobody: order 0 is ignored"),
    "GFP_KERNEL order 9": (
        "an order-9 GFP_KERNEL request: the task may reclaim and compact itself",
        "kswapd_try_to_sleep"),
    "THP fault, defrag=madvise": (
        "order-9 GFP_TRANSHUGE_LIGHT without __GFP_KSWAPD_RECLAIM", "nobody"),
}

KEEP = ("mm_vmscan_wakeup_kswapd", "mm_vmscan_kswapd_wake", "mm_vmscan_kswapd_sleep",
        "kcompactd", "mm_compaction_begin", "mm_compaction_end")


def run_situation(situation: str = "THP fault, defrag=defer",
                  seconds: float = 0.25) -> dict[str, Any]:
    """Set up the node, let one task act at t=0, run ``seconds``; events and counters."""
    from mmsim.kthread import NSEC_PER_SEC, Sleep
    from mmsim.mm.filemap import FileMapping
    from mmsim.mm.slowpath import alloc_pages_task
    from mmsim.panels.l19_wakeup_kcompactd import shaped_lru_node
    from mmsim.workloads import Script

    if situation not in SITUATIONS:
        raise ValueError(f"situation: {situation!r}; allowed {', '.join(SITUATIONS)}")
    node, sim = shaped_lru_node(normal_kind="anon")
    machine = node.machine
    n0 = len(sim.tracer.records)
    t0 = sim.sched.now_ns
    ev0 = dict(machine.vm_events)

    def task(_sim: Any) -> Any:
        thp = "GFP_TRANSHUGE_LIGHT|__GFP_KSWAPD_RECLAIM"
        if situation == "THP fault, defrag=defer":
            got = yield from alloc_pages_task(node, 1, thp, order=9, kind="anon")
        elif situation == "kswapd hopeless, THP fault defrag=defer":
            node.kswapd_failures = 16
            got = yield from alloc_pages_task(node, 1, thp, order=9, kind="anon")
        elif situation == "slab allocations steal a pageblock":
            got = yield from alloc_pages_task(node, 64, "GFP_KERNEL", order=0, kind="slab")
        elif situation == "big read (order 0)":
            f = FileMapping(node, 4000, name="big")
            n = yield from f.read(np.arange(4000))
            got = np.arange(n)
        elif situation == "GFP_KERNEL order 9":
            got = yield from alloc_pages_task(node, 1, "GFP_KERNEL", order=9, kind="kernel")
        else:
            got = yield from alloc_pages_task(node, 1, "GFP_TRANSHUGE_LIGHT", order=9,
                                              kind="anon")
        sim.stats["got"] = int(got.size)
        yield Sleep(NSEC_PER_SEC)

    sim.sched.spawn(sim._run_workload, "app", Script(fn=task), None, cpu=1, pid=960)
    sim.run(seconds)
    recs = [r for r in sim.tracer.records[n0:] if any(k in r[4] for k in KEEP)]
    ev = machine.vm_events
    counters = {k: int(ev[k] - ev0.get(k, 0)) for k in
                ("compact_daemon_wake", "compact_stall", "pgsteal_kswapd", "pgmigrate_success")}
    wakers = [(r[1], (r[0] - t0) / 1e6) for r in recs
              if r[4] == "mm_compaction_wakeup_kcompactd"]
    results = [c.get("result", "running") for c in getattr(node, "compaction_log", [])
               if not c["direct"]]
    return {"situation": situation, "records": recs, "t0": t0, "counters": counters,
            "wakers": wakers, "kcompactd_results": results, "got": sim.stats.get("got", 0),
            "seconds": seconds}


def summary_row(r: dict[str, Any]) -> dict[str, Any]:
    wakes = r["wakers"]
    return {"situation": r["situation"],
            "wakeup_kcompactd from": ", ".join(sorted({w[0] for w in wakes})) or "-",
            "kcompactd passes": r["counters"]["compact_daemon_wake"],
            "pass results": ", ".join(r["kcompactd_results"]) or "-",
            "kswapd reclaimed": r["counters"]["pgsteal_kswapd"],
            "task got its pages": bool(r["got"])}


def summary_table() -> pd.DataFrame:
    """All situations side by side."""
    return pd.DataFrame([summary_row(run_situation(s)) for s in SITUATIONS]) \
        .set_index("situation")


def ftrace_for(r: dict[str, Any], limit: int = 14) -> str:
    """The wake/sleep lines of a run, with long runs of kswapd wake-ups folded."""
    from mmsim.trace import format_line

    lines = [format_line(*rec) for rec in r["records"]]
    if len(lines) > limit:
        lines = [*lines[:limit - 2], f"   ... {len(lines) - limit + 1} more lines ...",
                 lines[-1]]
    return "\n".join(lines)


ROWS = {"app": 2, "kswapd0": 1, "kcompactd0": 0}


def figure_for(r: dict[str, Any]) -> Any:
    fig = figure(figsize=(9.5, 3.0))
    ax = fig.add_subplot()
    style = {
        "mm_vmscan_wakeup_kswapd": ("^", "#2166ac", "wakeup_kswapd()"),
        "mm_vmscan_kswapd_wake": ("o", "#2166ac", "kswapd wakes"),
        "mm_vmscan_kswapd_sleep": ("v", "#92c5de", "kswapd sleeps"),
        "mm_compaction_wakeup_kcompactd": ("*", "#762a83", "wakeup_kcompactd() wakes it"),
        "mm_compaction_kcompactd_wake": ("D", "#762a83", "kcompactd pass starts"),
        "mm_compaction_kcompactd_sleep": ("v", "#c2a5cf", "kcompactd back in its wait"),
    }
    seen: set[str] = set()
    begin: float | None = None
    for t_ns, comm, _pid, _cpu, event, _f in r["records"]:
        t = (t_ns - r["t0"]) / 1e6
        y = ROWS.get(comm, 2)
        if event == "mm_compaction_begin":
            begin = t
            continue
        if event == "mm_compaction_end" and begin is not None:
            ax.barh(y, max(t - begin, 0.02), left=begin, height=0.35, color="#fee08b",
                    label=None if "compact_zone" in seen else "compact_zone")
            seen.add("compact_zone")
            begin = None
            continue
        if event not in style:
            continue
        m, c, label = style[event]
        if event.startswith(("mm_vmscan_wakeup", "mm_compaction_wakeup")):
            y += 0.22  # calls into another thread: drawn just above the caller's row
        ax.plot(t, y, m, color=c, ms=10 if m == "*" else 7, ls="none",
                label=None if event in seen else label)
        seen.add(event)
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(-0.05, r["seconds"] * 1000)
    ax.set_yticks(list(ROWS.values()), list(ROWS))
    ax.set_ylim(-0.6, 2.6)
    ax.set_xlabel("ms after the task acted (linear to 1 ms, then log)")
    if seen:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        ax.text(0.5, 0.5, "no wake-up of any kind: the request fails in the fast path and "
                "nobody is asked to help", transform=ax.transAxes, ha="center", fontsize=9)
    ax.set_title(r["situation"], fontsize=10)
    return fig


def text_for(r: dict[str, Any]) -> str:
    what, waker = SITUATIONS[r["situation"]]
    row = summary_row(r)
    return "\n".join([
        f"{r['situation']}: {what}.",
        f"expected waker of kcompactd: {waker}",
        f"wakeup_kcompactd tracepoints from: {row['wakeup_kcompactd from']}; kcompactd "
        f"passes (compact_daemon_wake): {row['kcompactd passes']} "
        f"[{row['pass results']}]; kswapd reclaimed {row['kswapd reclaimed']} pages",
        "", ftrace_for(r)])


CONTROLS = [Control("situation", "choice", "THP fault, defrag=defer",
                    options=tuple(SITUATIONS), label="what happens at t=0",
                    help="one task acts; kswapd and kcompactd react")]


def update(situation: str = "THP fault, defrag=defer") -> PanelOutput:
    r = run_situation(situation)
    return PanelOutput(figure=figure_for(r), text=text_for(r))


PANELS = [Panel("kcompactd: who wakes it", CONTROLS, update)]


# --------------------------------------------------------------------------
# check yourself
# --------------------------------------------------------------------------
_CASES = [
    ("kswapd was woken for order 9 and has reclaimed enough; it is about to take its HZ/10 "
     "nap", "yes", "kswapd_try_to_sleep calls wakeup_kcompactd(alloc_order = 9) before the nap "
     "(if the node is suitable)"),
    ("kswapd was woken for order 0 and is about to take its nap", "no",
     "wakeup_kcompactd(order 0) returns at once"),
    ("kswapd just finished a balance_pgdat run that reclaimed for a watermark boost", "yes",
     "the end of a boosted run calls wakeup_kcompactd(pageblock_order)"),
    ("an order-3 GFP_KERNEL request finds kswapd asleep and the node balanced", "no",
     "wakeup_kswapd only wakes kcompactd for callers without __GFP_DIRECT_RECLAIM; "
     "GFP_KERNEL can compact directly"),
    ("an order-9 GFP_TRANSHUGE_LIGHT|__GFP_KSWAPD_RECLAIM fault finds kswapd asleep and "
     "hopeless (16 failed runs)", "yes",
     "wakeup_kswapd: hopeless node and no __GFP_DIRECT_RECLAIM -> wakeup_kcompactd"),
    ("500 ms have passed since kcompactd's last pass and nothing asked for compaction", "no",
     "v5.0 kcompactd has no timer (proactive compaction with a 500 ms timeout came in 5.9)"),
    ("a request arrives while kcompactd is in the middle of a pass", "no",
     "there is no sleeper to wake; the request is recorded and kcompactd runs another "
     "pass when its current one ends (if the order is higher than the pass's)"),
]


def _q_wakers(rng: np.random.Generator, seed: int) -> exercises.Question:
    text, ans, why = _CASES[int(rng.integers(0, len(_CASES)))]
    return exercises.Question(
        "kcompactd_wake", seed,
        f"v5.0, a node whose zones would benefit from compaction: {text}. Does this wake "
        "kcompactd (a wake_up with the mm_compaction_wakeup_kcompactd tracepoint)? (yes/no)",
        ans, why + ".")


exercises.register("kcompactd_wake", _q_wakers)
