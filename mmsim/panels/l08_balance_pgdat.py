"""Lesson 08: balance_pgdat and kswapd_shrink_node (mm/vmscan.c L3534-3738, L3486-3519, v5.0).

One simulated second on a 256 MiB node filled with page cache: a reader
streams a file at 16 MiB/s (order-0 page cache), a kernel task allocates
reclaimable slab at 8 MiB/s (its fallbacks into movable pageblocks raise
watermark boosts), and, for ``order`` > 0, a task asks every 0.15 s for one
block of that order that may wake kswapd but not reclaim itself
(``GFP_TRANSHUGE_LIGHT|__GFP_KSWAPD_RECLAIM``, as a THP fault with
``defrag=defer``). Every ``balance_pgdat`` run is listed with the priorities its
passes used, what it reclaimed and the order it returned.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mmsim.panels.l06_kswapd import LEGEND, THP_GFP, LessonRun, simulate
from mmsim.widgets import Control, Panel, PanelOutput, figure

ZONE = "DMA32"


def balance_run(min_free_kbytes: int = 2048, order: int = 9,
                watermark_boost_factor: int = 15000, seconds: float = 1.0,
                seed: int = 0) -> LessonRun:
    """The lesson's workload (see the module docstring) for one setting of the knobs."""
    from mmsim.workloads import FileStream, HighOrderBurst, KernelAlloc

    wl: list[Any] = [FileStream(rate="16MiB", start=0.1, name="reader"),
                     KernelAlloc(rate="8MiB", kind="slab", lifetime=0.5, start=0.1,
                                 name="dentries")]
    if order:
        wl.append(HighOrderBurst(order=order, count=1, interval=0.15, lifetime=None,
                                 gfp=THP_GFP, kind="anon", name="thp", start=0.12))
    run = simulate(wl, mem="256MiB", min_free_kbytes=min_free_kbytes,
                   watermark_boost_factor=watermark_boost_factor, seconds=seconds, seed=seed)
    run.notes.update(order=order, min_free_kbytes=min_free_kbytes,
                     watermark_boost_factor=watermark_boost_factor)
    return run


def _passes(run: LessonRun, r: dict[str, Any]) -> list[int]:
    """Priorities of the passes of run ``r`` (attributed by run, not by time: runs that
    take no time can share a timestamp)."""
    key = "_passes"
    if key not in run.notes:
        run.notes[key] = run.passes()
    return run.notes[key][run.runs.index(r)]


def _kind(r: dict[str, Any]) -> str:
    if r["boosted"]:
        return "boosted"
    return "order > 0" if r["order"] else "order 0"


def runs_table(run: LessonRun) -> pd.DataFrame:
    """One row per balance_pgdat run."""
    rows = []
    for r in run.runs:
        prios = _passes(run, r)
        boost = sum(r.get("boost_start", {}).values())
        rows.append({
            "start (s)": round(r["start"], 4),
            "order": r["order"],
            "classzone": r["classzone_idx"],
            "boost": boost,
            "passes": len(prios),
            "priorities": (f"{prios[0]}..{prios[-1]}" if len(set(prios)) > 1 else
                           str(prios[0]) if prios else "-"),
            "reclaimed": r["reclaimed"],
            "returned order": r["reclaim_order"],
            "balanced by": r["balanced_by"] or "-",
        })
    df = pd.DataFrame(rows)
    df.index = pd.RangeIndex(1, len(df) + 1, name="run")
    return df


def nr_to_reclaim(node: Any, reclaim_idx: int) -> int:
    """``sc->nr_to_reclaim`` as kswapd_shrink_node sets it (L3493-3500)."""
    return sum(max(z.high_wmark_pages, 32) for z in node.zones[:reclaim_idx + 1]
               if z.managed_pages)


def summary(run: LessonRun) -> list[str]:
    """The numbers under the panel's figure."""
    z = run.node.zone(ZONE)
    order = run.notes.get("order", 0)
    runs = run.runs
    kinds: dict[str, list[dict[str, Any]]] = {"order 0": [], "order > 0": [], "boosted": []}
    for r in runs:
        kinds[_kind(r)].append(r)
    lines = [f"min_free_kbytes {run.notes.get('min_free_kbytes')}: {ZONE} min/low/high = "
             f"{z.min_wmark_pages}/{z.low_wmark_pages}/{z.high_wmark_pages}; "
             f"nr_to_reclaim per pass = {nr_to_reclaim(run.node, 3)} pages"]
    if order:
        lines.append(f"wake order {order}: compact_gap({order}) = {2 << order} pages, after which"
                     " kswapd_shrink_node sets sc.order = 0")
    else:
        lines.append("wake order 0: only the reader's and the slab's order-0 requests")
    for kind, rs in kinds.items():
        if not rs:
            if kind == "order > 0" and order:
                lines.append(f"order > 0 runs:   0  (every order-{order} request found a free "
                             "block above the low watermark)")
            continue
        rec = [r["reclaimed"] for r in rs]
        prios = [p for r in rs for p in _passes(run, r)]
        lines.append(f"{kind:9s} runs: {len(rs):3d}  reclaimed per run: mean {np.mean(rec):6.0f}"
                     f", max {max(rec):5d}  lowest priority {min(prios) if prios else '-'}")
    lines.append(f"runs returning a lower order (goto kswapd_try_sleep): "
                 f"{sum(r['reclaim_order'] < r['order'] for r in runs)}; kswapd_failures "
                 f"{run.node.kswapd_failures}; pgscan_kswapd {run.counter('pgscan_kswapd')}, "
                 f"pgsteal_kswapd {run.counter('pgsteal_kswapd')}, compact_daemon_wake "
                 f"{run.counter('compact_daemon_wake')}")
    stall = sum(run.counter(f"allocstall_{z}") for z in ("dma", "dma32", "normal", "movable"))
    if stall:
        lines.append(f"direct reclaim (boosted min watermark, or kswapd too slow): allocstall "
                     f"{stall}, pgsteal_direct {run.counter('pgsteal_direct')}")
    stats = run.result.sim.stats
    if order:
        lines.append(f"order-{order} requests: {stats.get('thp.requested', 0)}, failed "
                     f"{stats.get('thp.failed', 0)}")
    return lines


KIND_STYLE = {"order 0": "#4393c3", "order > 0": "#762a83", "boosted": "#e08214"}


def direct_reclaims(run: LessonRun) -> list[tuple[float, float]]:
    """(start, end) of every direct reclaim, from the begin/end tracepoints."""
    open_: dict[int, float] = {}
    out = []
    for t, _comm, pid, _cpu, ev, _f in run.result.sim.tracer.records:
        if ev == "mm_vmscan_direct_reclaim_begin":
            open_[pid] = t / 1e9
        elif ev == "mm_vmscan_direct_reclaim_end" and pid in open_:
            out.append((open_.pop(pid), t / 1e9))
    return out


def balance_figure(run: LessonRun, title: str = "") -> PanelOutput:
    """Free pages of DMA32 against min/low/high with the runs shaded by kind, and the
    priority of every pass below."""
    fig = figure(figsize=(9.5, 5.0), layout=None)
    fig.subplots_adjust(left=0.08, right=0.72, top=0.93, bottom=0.1, hspace=0.1)
    ax1, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=(2.4, 1.3))
    v = run.result.vmstat
    t = v.time.to_numpy()
    top = float(max(v[f"free_{ZONE}"].max(), v[f"high_{ZONE}"].max())) * 1.12
    span = run.seconds * 0.003
    for kind, colour in KIND_STYLE.items():
        bars = [(r["start"], max(r["end"] - r["start"], span)) for r in run.runs
                if _kind(r) == kind]
        if bars:
            ax1.broken_barh(bars, (0, top), color=colour, alpha=0.3, lw=0,
                            label=f"balance_pgdat ({kind})")
    dr = direct_reclaims(run)
    if dr:
        ax1.broken_barh([(a, max(b - a, span)) for a, b in dr], (0, top * 0.08),
                        color="#d6604d", lw=0, label="direct reclaim")
    ax1.plot(t, v[f"free_{ZONE}"], color="#333333", lw=1.3, label=f"free ({ZONE})")
    for w, colour in (("high", "#1a9641"), ("low", "#fdae61"), ("min", "#d7191c")):
        ax1.plot(t, v[f"{w}_{ZONE}"], color=colour, ls="--", lw=1.1, label=w)
    for r in run.runs:
        b = r.get("boost_start", {}).get(ZONE, 0)
        if r["boosted"] and b:
            ax1.annotate(f"boost +{b}", (r["start"], top * 0.97), xytext=(3, 0),
                         textcoords="offset points", fontsize=7, color=KIND_STYLE["boosted"],
                         va="top")
    ax1.set_ylim(0, top)
    ax1.set_ylabel("pages")
    ax1.set_title(title or f"{ZONE}: free pages, watermarks and kswapd's runs", fontsize=10)
    ax1.legend(**LEGEND)
    for kind, colour in KIND_STYLE.items():
        xs: list[float] = []
        ys: list[int] = []
        for r in run.runs:
            if _kind(r) != kind:
                continue
            prios = _passes(run, r)
            n = len(prios)
            dur = max(r["end"] - r["start"], 1e-9)
            xs += [r["start"] + dur * i / max(n, 1) for i in range(n)]
            ys += prios
        if xs:
            ax2.plot(xs, ys, "o", ms=3.5, color=colour, ls="none", label=f"pass ({kind})")
    ax2.set_ylim(12.6, 0.4)
    ax2.set_yticks([12, 10, 8, 6, 4, 2])
    ax2.set_ylabel("priority\n(lower = harder)")
    ax2.set_xlabel("time (s)")
    ax2.set_xlim(0, run.seconds)
    ax2.grid(axis="y", lw=0.3, alpha=0.5)
    ax2.legend(**LEGEND)
    return PanelOutput(figure=fig)


CONTROLS = [
    Control("min_free_kbytes", "int", 2048, 512, 16384, step=256, label="min_free_kbytes",
            help="vm.min_free_kbytes: the three watermarks, and nr_to_reclaim with them"),
    Control("order", "int", 0, 0, 10, label="order",
            help="order of the requests that wake kswapd (0: only order-0 page cache and slab)"),
    Control("watermark_boost_factor", "int", 15000, 0, 30000, step=2500,
            label="watermark_boost_factor",
            help="vm.watermark_boost_factor: a pageblock per fallback steal, capped at "
                 "factor/10000 of high"),
]


def update(min_free_kbytes: int = 2048, order: int = 0,
           watermark_boost_factor: int = 15000) -> PanelOutput:
    run = balance_run(min_free_kbytes, order, watermark_boost_factor)
    out = balance_figure(run, title=f"min_free_kbytes={min_free_kbytes}, wake order {order}, "
                         f"watermark_boost_factor={watermark_boost_factor}")
    out.text = "\n".join(summary(run))
    return out


PANELS = [Panel("balance_pgdat: runs, priorities, pages reclaimed", CONTROLS, update)]


# --------------------------------------------------------------------------
# check yourself
# --------------------------------------------------------------------------
def _q_priority(rng: np.random.Generator, seed: int) -> Any:
    from mmsim.exercises import Question

    prio = int(rng.integers(2, 13))
    target = int(rng.choice([765, 1424, 25338]))
    scanned = int(target * rng.choice([0.2, 0.6, 1.0, 1.7]))
    reclaimed = int(rng.choice([0, 0, scanned // 3, scanned]))
    raise_p = scanned < target
    ans = prio - 1 if (raise_p or reclaimed == 0) else prio
    why = (f"kswapd_shrink_node returns scanned >= nr_to_reclaim: {scanned} >= {target} is "
           f"{'true' if not raise_p else 'false'}, so raise_priority is "
           f"{'false' if not raise_p else 'true'}; the pass reclaimed {reclaimed}. The priority "
           "drops if raise_priority or nothing was reclaimed (L3698-3699): "
           + (f"{prio} -> {ans}." if ans != prio else f"it stays {prio}."))
    return Question("balance_pgdat_priority", seed,
                    f"A normal (not boosted) balance_pgdat pass at priority {prio} scanned "
                    f"{scanned} pages against nr_to_reclaim {target} and reclaimed {reclaimed}; "
                    "the node is still unbalanced. At which priority does the next pass run?",
                    ans, why)


def _register() -> None:
    from mmsim.exercises import register

    register("balance_pgdat_priority", _q_priority)


_register()
