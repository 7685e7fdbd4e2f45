"""Lesson 12: ``current_is_kswapd`` and the task flags that make kswapd different.

Every experiment here runs one task in a simulation without daemons, on a
fresh one-zone node (Normal, 256 MiB) whose memory is full of page cache: the
oldest 512 cached pages (the tail of the inactive list) are dirty, the rest
clean, and free memory sits 64 pages below the min watermark. The task first
sets its own ``PF_*`` flags, then either allocates pages
(``alloc_pages_task``, the allocator's fast and slow path) or runs one
``shrink_node`` pass the way reclaim does. Everything reported is read back
from the engine: vmstat counters, ``pgdat->flags``, the zone's free pages.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mmsim.widgets import Control, Panel, PanelOutput, figure

ZONES = {"Normal": "256MiB"}
DIRTY = 512
BELOW_MIN = 64
GFP_CHOICES = ("GFP_KERNEL", "GFP_ATOMIC", "GFP_NOWAIT", "GFP_HIGHUSER_MOVABLE")


def flag_values() -> dict[str, int]:
    from mmsim.kthread import PF_KSWAPD, PF_KTHREAD, PF_MEMALLOC, PF_SWAPWRITE

    return {"PF_MEMALLOC": PF_MEMALLOC, "PF_KSWAPD": PF_KSWAPD, "PF_KTHREAD": PF_KTHREAD,
            "PF_SWAPWRITE": PF_SWAPWRITE}


def flag_names(flags: int) -> str:
    names = [n for n, v in flag_values().items() if flags & v]
    return "|".join(names) if names else "0"


def pgdat_flag_names(flags: int) -> str:
    from mmsim.mm.vmscan import PGDAT_CONGESTED, PGDAT_DIRTY, PGDAT_WRITEBACK

    names = [n for n, v in (("PGDAT_CONGESTED", PGDAT_CONGESTED), ("PGDAT_DIRTY", PGDAT_DIRTY),
                            ("PGDAT_WRITEBACK", PGDAT_WRITEBACK)) if flags & v]
    return "|".join(names) if names else "none"


def _drive(gen: Any) -> Any:
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        return stop.value


def build_node() -> Any:
    """Page cache everywhere (the oldest 512 pages dirty), free 64 pages below min."""
    from mmsim import Node
    from mmsim.mm.filemap import FileMapping
    from mmsim.panels.l11_wakeup_kswapd import _drain_zone

    node = Node.build(zones=ZONES)
    z = node.zone("Normal")
    n = node.nr_free_pages - 4 * z.high_wmark_pages
    cache = FileMapping(node, n, name="cache")
    _drive(cache.read(np.arange(n)))
    _drive(cache.write(np.arange(DIRTY)))
    _drain_zone(node, z, z.min_wmark_pages - BELOW_MIN)
    return node


def run_task(flags: int = 0, action: str = "allocate", gfp: str = "GFP_KERNEL",
             pages: int = 256) -> dict[str, Any]:
    """Run one task with ``flags`` doing ``action`` ("allocate" or "shrink_node")."""
    from mmsim import Simulation
    from mmsim.mm import gfp as G
    from mmsim.mm.slowpath import OutOfMemory, alloc_pages_task
    from mmsim.mm.vmscan import ScanControl, current_is_kswapd, shrink_node
    from mmsim.workloads import Script

    node = build_node()
    z = node.zone("Normal")
    out: dict[str, Any] = {"flags": flag_names(flags), "free before": z.nr_free_pages,
                           "low": z.low_wmark_pages, "high": z.high_wmark_pages}

    def task(sim: Any) -> Any:
        sim.sched.current.flags |= flags
        out["current_is_kswapd"] = current_is_kswapd(node)
        if action == "allocate":
            try:
                pfns = yield from alloc_pages_task(node, pages, gfp, kind="kernel")
                out["got"] = int(pfns.size)
            except OutOfMemory:
                out["got"] = "OOM"
        else:
            sc = ScanControl(nr_to_reclaim=32, gfp_mask=G.GFP_KERNEL, priority=10,
                             reclaim_idx=2, may_writepage=True, may_unmap=True, may_swap=True)
            yield from shrink_node(node, sc)
            out["got"] = f"reclaimed {sc.nr_reclaimed}"

    sim = Simulation(node, [Script(fn=task, name="task")], seed=0, daemons=False,
                     sample_interval=0.05)
    res = sim.run(0.2)
    last = res.vmstat.iloc[-1]
    out.update({
        "free after": z.nr_free_pages, "min": z.min_wmark_pages,
        "allocstall_normal": int(last["allocstall_normal"]),
        "pgscan_kswapd": int(last["pgscan_kswapd"]), "pgscan_direct": int(last["pgscan_direct"]),
        "pgsteal_kswapd": int(last["pgsteal_kswapd"]),
        "pgsteal_direct": int(last["pgsteal_direct"]),
        "nr_vmscan_immediate_reclaim": int(node.node_stat.get("nr_vmscan_immediate_reclaim",
                                                              0)),
        "pgdat flags": pgdat_flag_names(node.pgdat_flags),
    })
    return out


def flags_table() -> pd.DataFrame:
    """Five tasks on identical nodes: what their flags change."""
    f = flag_values()
    kswapd_flags = f["PF_MEMALLOC"] | f["PF_SWAPWRITE"] | f["PF_KSWAPD"]
    cases = (
        ("an ordinary task allocates 256 pages", dict(flags=0)),
        ("a PF_MEMALLOC task allocates 256 pages", dict(flags=f["PF_MEMALLOC"])),
        ("kswapd's flags, asking for 2048 pages", dict(flags=kswapd_flags, pages=2048)),
        ("an ordinary task runs shrink_node", dict(flags=0, action="shrink_node")),
        ("a PF_KSWAPD task runs shrink_node", dict(flags=f["PF_KSWAPD"], action="shrink_node")),
    )
    rows = []
    for name, kw in cases:
        r = run_task(**kw)
        rows.append({"task": name, "flags": r["flags"],
                     "current_is_kswapd": bool(r["current_is_kswapd"]), "result": r["got"],
                     "free after (min)": f"{r['free after']} ({r['min']})",
                     "allocstall": r["allocstall_normal"],
                     "pgscan_kswapd": r["pgscan_kswapd"], "pgscan_direct": r["pgscan_direct"],
                     "pgdat flags": r["pgdat flags"]})
    return pd.DataFrame(rows).set_index("task")


def kernel_task_flags(seconds: float = 0.3) -> pd.DataFrame:
    """The flags of every task in a short file-stream simulation."""
    from mmsim import Node, Simulation
    from mmsim.mm.vmscan import current_is_kswapd
    from mmsim.workloads import FileStream

    node = Node.build(zones=ZONES)
    sim = Simulation(node, [FileStream(rate="100MiB", name="reader")], seed=0)
    sim.run(seconds)
    rows = []
    for t in sim.sched.tasks:
        if t.comm == "sampler":
            continue
        prev = sim.sched.current
        sim.sched.current = t
        is_kswapd = current_is_kswapd(node)
        sim.sched.current = prev
        rows.append({"task": t.comm, "flags": f"{t.flags:#010x}", "names": flag_names(t.flags),
                     "current_is_kswapd()": is_kswapd})
    return pd.DataFrame(rows).set_index("task")


# --------------------------------------------------------------------------
# the panel
# --------------------------------------------------------------------------
CONTROLS = [
    Control("PF_KSWAPD", "bool", False, label="PF_KSWAPD"),
    Control("PF_MEMALLOC", "bool", False, label="PF_MEMALLOC"),
    Control("PF_SWAPWRITE", "bool", False, label="PF_SWAPWRITE"),
    Control("action", "choice", "allocate", options=("allocate", "shrink_node"),
            label="the task", help="allocate pages, or run one shrink_node pass"),
    Control("gfp", "choice", "GFP_KERNEL", options=GFP_CHOICES, label="gfp (allocate)"),
    Control("pages", "int", 256, 32, 4096, step=32, label="pages (allocate)"),
]


def update(PF_KSWAPD: bool = False, PF_MEMALLOC: bool = False,  # noqa: N803
           PF_SWAPWRITE: bool = False, action: str = "allocate",  # noqa: N803
           gfp: str = "GFP_KERNEL", pages: int = 256) -> PanelOutput:
    f = flag_values()
    flags = (f["PF_KSWAPD"] if PF_KSWAPD else 0) | (f["PF_MEMALLOC"] if PF_MEMALLOC else 0) | \
        (f["PF_SWAPWRITE"] if PF_SWAPWRITE else 0)
    r = run_task(flags, action, gfp, pages)
    fig = figure(figsize=(8.4, 3.4))
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[1, 1.4])
    ax1.bar(["before", "after"], [r["free before"], r["free after"]], color="#92c5de")
    for name, val, colour in (("min", r["min"], "#d7191c"), ("low", r["low"], "#fdae61"),
                              ("high", r["high"], "#1a9641")):
        ax1.axhline(val, color=colour, ls="--", lw=1, label=name)
    ax1.set_ylabel("free pages (Normal)")
    ax1.legend(fontsize=7)
    ax1.set_title(f"flags {r['flags']}", fontsize=9)
    names = ["allocstall_normal", "pgscan_direct", "pgsteal_direct", "pgscan_kswapd",
             "pgsteal_kswapd", "nr_vmscan_immediate_reclaim"]
    vals = [r[n] for n in names]
    ax2.barh(names, vals, color=["#b2182b", "#d6604d", "#f4a582", "#2166ac", "#4393c3",
                                 "#999999"])
    ax2.invert_yaxis()
    ax2.set_title("counters after the task", fontsize=9)
    for i, v in enumerate(vals):
        ax2.text(v, i, f" {v}", va="center", fontsize=8)
    ax2.set_xlim(0, max([*vals, 1]) * 1.3)
    ax2.tick_params(labelsize=8)
    lines = [f"current_is_kswapd() = {bool(r['current_is_kswapd'])}",
             f"result: {r['got']} (free {r['free before']} -> {r['free after']}, "
             f"min {r['min']})", f"pgdat->flags after: {r['pgdat flags']}"]
    if action == "allocate":
        if PF_MEMALLOC:
            lines.append("PF_MEMALLOC: the slow path uses ALLOC_NO_WATERMARKS and never enters "
                         "direct reclaim (it would recurse)")
        elif r["allocstall_normal"]:
            lines.append("no PF_MEMALLOC: below min the task reclaims by itself (allocstall)")
    else:
        lines.append("counters go to pgscan_kswapd/pgsteal_kswapd only if PF_KSWAPD is set; "
                     "only then may shrink_node set PGDAT_* flags")
    if PF_SWAPWRITE:
        lines.append("PF_SWAPWRITE only matters when a backing device is congested "
                     "(may_write_to_inode); mmsim has no congestion, so it changes nothing here")
    return PanelOutput(figure=fig, text="\n".join(lines))


PANELS = [Panel("task flags: what current_is_kswapd and PF_MEMALLOC change", CONTROLS, update)]


def _q_flags(rng: Any, seed: int) -> Any:
    from mmsim.exercises import Question

    case = int(rng.integers(0, 4))
    if case == 0:
        return Question("task_flags", seed,
                        "kswapd's own allocation (say, a bio to write a page out) finds every "
                        "zone below min. Does it enter direct reclaim? (True/False)", False,
                        "kswapd has PF_MEMALLOC: the slow path gives it ALLOC_NO_WATERMARKS, "
                        "and if that fails it goes to 'nopage' before direct reclaim "
                        "('Avoid recursion of direct reclaim').")
    if case == 1:
        return Question("task_flags", seed,
                        "A task in direct reclaim isolates 32 pages from the inactive file "
                        "list. Which /proc/vmstat counter grows: pgscan_kswapd or "
                        "pgscan_direct?", "pgscan_direct",
                        "shrink_inactive_list picks PGSCAN_KSWAPD only when current_is_kswapd(), "
                        "i.e. PF_KSWAPD is set; direct reclaimers have PF_MEMALLOC (set by "
                        "__perform_reclaim) but not PF_KSWAPD.")
    if case == 2:
        return Question("task_flags", seed,
                        "Which reclaimer may set PGDAT_DIRTY, PGDAT_WRITEBACK and "
                        "PGDAT_CONGESTED on a node: 'kswapd', 'direct' or 'both'?", "kswapd",
                        "shrink_node sets them only if current_is_kswapd(); direct reclaimers "
                        "only read them (and wait_iff_congested).")
    return Question("task_flags", seed,
                    "Which flag does the allocator test to decide that a task may ignore the "
                    "watermarks: PF_KSWAPD, PF_MEMALLOC or PF_SWAPWRITE?", "PF_MEMALLOC",
                    "__gfp_pfmemalloc_flags returns ALLOC_NO_WATERMARKS for PF_MEMALLOC tasks "
                    "outside interrupts (and for __GFP_MEMALLOC), unless __GFP_NOMEMALLOC.")


def _register() -> None:
    from mmsim.exercises import register

    register("task_flags", _q_flags)


_register()
