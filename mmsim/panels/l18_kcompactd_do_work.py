"""Lesson 18: ``kcompactd_do_work`` - one kcompactd pass over the zones of a node.

The panel builds a small three-zone node (DMA 16 MiB, DMA32 16 MiB, Normal
32 MiB), fragments it with page cache and punched holes
(:func:`mmsim.panels.l21_compact_zone.fragmented_node`), starts kcompactd and
kswapd, sets the request (``kcompactd_max_order``, ``kcompactd_classzone_idx``)
and wakes kcompactd's wait queue directly; the real kcompactd thread then runs
one ``kcompactd_do_work`` pass in simulated time. The per-zone decisions are
read back from the pass's tracepoints. About 60-90 ms per update (the node is
rebuilt: a pass changes it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mmsim import exercises
from mmsim.widgets import Control, Panel, PanelOutput, figure

ZONES = {"DMA": "16MiB", "DMA32": "16MiB", "Normal": "32MiB"}
COUNTERS = ("compact_daemon_wake", "compact_daemon_migrate_scanned",
            "compact_daemon_free_scanned", "compact_migrate_scanned", "compact_free_scanned",
            "compact_isolated", "pgmigrate_success")


def one_pass(order: int = 9, extfrag_threshold: int = 500, deferred_zone: str = "none",
             classzone: str = "Normal", punch: float = 0.4) -> dict[str, Any]:
    """Run one kcompactd pass for the request ``(order, classzone)``; per-zone outcome."""
    from mmsim.kthread import wake_up_interruptible
    from mmsim.mm.compaction import defer_compaction
    from mmsim.panels.l21_compact_zone import buddy_row, fragmented_node

    node, sim = fragmented_node(ZONES, punch=punch, daemons=True)
    machine = node.machine
    machine.sysctl.extfrag_threshold = extfrag_threshold
    if deferred_zone != "none":  # one earlier failure of this zone: defer_shift 1
        defer_compaction(node.zone(deferred_zone), order)
    before = {z.name: buddy_row(z) for z in node.zones if z.managed_pages}
    pcp_before = {z.name: sum(p.count for p in z.pageset) for z in node.zones if z.managed_pages}
    ev0 = {k: machine.vm_events[k] for k in COUNTERS}
    n0 = len(sim.tracer.records)
    cz = node.zone(classzone).idx
    node.kcompactd_max_order = order
    node.kcompactd_classzone_idx = cz
    woken = wake_up_interruptible(node.kcompactd_wait)
    sim.run(0.05)
    recs = [r for r in sim.tracer.records[n0:] if r[1].startswith("kcompactd")]
    rows = []
    for z in node.zones[:cz + 1]:
        row: dict[str, Any] = {"zone": z.name, "populated": z.populated_zone()}
        if not row["populated"]:
            rows.append(row)
            continue
        zr = [r for r in recs if r[5].get("zid") == z.idx]
        row["deferred"] = any(r[4] == "mm_compaction_deferred" for r in zr)
        suit = [r for r in zr if r[4] == "mm_compaction_suitable"]
        row["suitable"] = str(suit[0][5]["ret"]) if suit and not row["deferred"] else None
        runs = [c for c in getattr(node, "compaction_log", []) if c["zone"] == z.name]
        row["result"] = runs[-1].get("result") if runs else None
        row["reset"] = any(r[4] == "mm_compaction_defer_reset" for r in zr)
        row["defer"] = any(r[4] == "mm_compaction_defer_compaction" for r in zr)
        row["drain"] = row["result"] in ("complete", "partial_skipped")
        row["shift"] = z.compact_defer_shift
        row["order_failed"] = z.compact_order_failed
        row["considered"] = z.compact_considered
        row["buddy_before"] = before[z.name]
        row["buddy_after"] = buddy_row(z)
        row["pcp_before"] = pcp_before[z.name]
        row["pcp_after"] = sum(p.count for p in z.pageset)
        rows.append(row)
    ev = {k: int(machine.vm_events[k] - ev0[k]) for k in COUNTERS}
    from mmsim.trace import format_line

    return {"rows": rows, "order": order, "classzone": classzone, "woken": woken,
            "threshold": extfrag_threshold, "deferred_zone": deferred_zone, "counters": ev,
            "after": (node.kcompactd_max_order, node.zones[node.kcompactd_classzone_idx].name),
            "ftrace": [format_line(*r) for r in recs]}


def _decision(row: dict[str, Any]) -> list[tuple[str, str]]:
    """(text, colour) for each step of the loop for one zone."""
    grey, green, blue, red, amber = "#d9d9d9", "#a6dba0", "#92c5de", "#f4a582", "#fee08b"
    if not row["populated"]:
        return [("not populated: skip", grey)]
    out = [("populated", green)]
    if row["deferred"]:
        return [*out, ("compaction_deferred: true -> skip", amber)]
    out.append(("not deferred", green))
    s = row["suitable"]
    if s != "continue":
        label = {"success": "SUCCESS: block exists", "skipped": "SKIPPED: too little free",
                 "not_suitable_zone": "fragindex veto"}.get(s, str(s))
        return [*out, (f"suitable: {label} -> skip", grey)]
    out.append(("suitable: CONTINUE", green))
    res = row["result"] or "?"
    out.append((f"compact_zone: {res.upper()}", blue if res == "success" else red))
    if res == "success":
        out.append(("defer_reset(false)", blue))
    elif row["drain"]:
        out.append(("drain_all_pages + defer", red))
    else:
        out.append(("nothing", grey))
    return out


def figure_for(r: dict[str, Any]) -> Any:
    from matplotlib.patches import FancyBboxPatch

    rows = r["rows"]
    fig = figure(figsize=(10, 0.9 + 0.75 * len(rows)), layout=None)
    ax = fig.add_axes((0.01, 0.02, 0.98, 0.74))
    ax.set_xlim(0, 6)
    ax.set_ylim(len(rows), 0)
    ax.axis("off")
    heads = ("populated_zone", "compaction_deferred", "compaction_suitable(zone, zoneid)",
             "compact_zone", "then (L1988 / L1996-2002)")
    for j, h in enumerate(heads):
        ax.text(0.7 + j * 1.06 + 0.49, -0.05, h, ha="center", va="bottom", fontsize=7.5,
                color="#444444")
    for i, row in enumerate(rows):
        ax.text(0.02, i + 0.5, row["zone"], va="center", fontsize=10, weight="bold")
        ax.set_clip_on(False)
        for j, (text, colour) in enumerate(_decision(row)):
            x = 0.7 + j * 1.06
            ax.add_patch(FancyBboxPatch((x, i + 0.15), 0.98, 0.7,
                                        boxstyle="round,pad=0.02", fc=colour, ec="#555555",
                                        lw=0.6))
            ax.text(x + 0.49, i + 0.5, text.replace(": ", ":\n", 1), ha="center",
                    va="center", fontsize=7)
    fig.suptitle(f"kcompactd_do_work: order {r['order']}, zones DMA..{r['classzone']}, "
                 f"extfrag_threshold {r['threshold']}", fontsize=10)
    return fig


def text_for(r: dict[str, Any]) -> str:
    lines = []
    for row in r["rows"]:
        if not row["populated"]:
            lines.append(f"{row['zone']:6s}: not populated")
            continue
        b0, b1 = row["buddy_before"], row["buddy_after"]
        lines.append(
            f"{row['zone']:6s}: deferred={str(row['deferred']).lower():5s} "
            f"suitable={row['suitable'] or '-':17s} compact_zone={row['result'] or '-':15s} "
            f"-> defer_shift {row['shift']}, order_failed {row['order_failed']}; "
            f"blocks >= order {r['order']}: {sum(b0[r['order']:])} -> {sum(b1[r['order']:])}")
    c = r["counters"]
    lines.append("counters: " + ", ".join(f"{k} +{v}" for k, v in c.items()))
    lines.append(f"after the pass: kcompactd_max_order {r['after'][0]}, "
                 f"kcompactd_classzone_idx {r['after'][1]}")
    return "\n".join(lines)


CONTROLS = [
    Control("order", "int", 9, 1, 10, label="order (kcompactd_max_order)",
            help="cc.order of the pass"),
    Control("extfrag_threshold", "int", 500, 0, 1000, step=10, label="extfrag_threshold",
            help="vm.extfrag_threshold"),
    Control("deferred_zone", "choice", "none", options=("none", "DMA", "DMA32", "Normal"),
            label="zone that failed once before",
            help="defer_compaction() was called once for this zone (defer_shift 1)"),
    Control("classzone", "choice", "Normal", options=("DMA", "DMA32", "Normal"),
            label="classzone (kcompactd_classzone_idx)",
            help="the pass covers zones 0..classzone"),
]


def show(r: dict[str, Any]) -> PanelOutput:
    """The figure of one pass, for display in a notebook."""
    return PanelOutput(figure=figure_for(r))


def update(order: int = 9, extfrag_threshold: int = 500, deferred_zone: str = "none",
           classzone: str = "Normal") -> PanelOutput:
    r = one_pass(order, extfrag_threshold, deferred_zone, classzone)
    return PanelOutput(figure=figure_for(r), text=text_for(r))


PANELS = [Panel("kcompactd_do_work: which zones are compacted, and why", CONTROLS, update)]


# --------------------------------------------------------------------------
# the experiment: kcompactd woken by kswapd in a running system
# --------------------------------------------------------------------------
def scenario_run(seconds: float = 1.2) -> Any:
    """``kcompactd-after-kswapd`` on 128 MiB: a file reader keeps kswapd busy, THP-like
    order-9 requests that may not reclaim directly (``GFP_TRANSHUGE_LIGHT |
    __GFP_KSWAPD_RECLAIM``) make kswapd hand over to kcompactd."""
    from mmsim import scenarios

    return scenarios.build("kcompactd-after-kswapd", mem="128MiB", seed=0).run(seconds)


KEEP = ("kcompactd_sleep", "wakeup_kcompactd", "kcompactd_wake", "mm_compaction_suitable",
        "mm_compaction_begin", "mm_compaction_end", "defer_", "mm_compaction_deferred")


def kcompactd_log(res: Any) -> list[str]:
    """The kcompactd-related ftrace lines of a run (no per-batch scanner lines)."""
    return [ln for ln in res.ftrace().splitlines() if any(k in ln for k in KEEP)
            and ("kcompactd" in ln)]


def passes_figure(res: Any) -> PanelOutput:
    """Free pages of DMA32 against its watermarks, with kcompactd's passes marked."""
    from mmsim.memmap import scanner_runs
    from mmsim.plots import fragindex_timeline, watermark_timeline

    fig = figure(figsize=(10.5, 5.4))
    ax1, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=[1.6, 1])
    t_end = float(res.vmstat.time.iloc[-1])
    watermark_timeline(res, "DMA32", ax=ax1, markers=False, window=(0.4, t_end))
    tr = res.trace
    wakes = tr.time[tr.event == "mm_compaction_kcompactd_wake"].to_numpy()
    v = res.vmstat[res.vmstat.time >= 0.4]
    top = float(v["free_DMA32"].max()) * 1.35
    for i, run in enumerate(r for r in scanner_runs(res.node) if not r["direct"]):
        ax1.axvline(run["start"], color="#762a83", lw=1, ls=":")
        ax1.text(run["start"], top * (0.93 - 0.08 * (i % 2)), f" {run['result']}",
                 fontsize=8, color="#762a83")
    ax1.plot(wakes, np.full(len(wakes), top * 0.75), "D", color="#762a83", ms=5, ls="none",
             label="kcompactd wake (one pass)")
    ax1.set_ylim(0, top)
    ax1.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
    ax1.set_xlabel("")
    ax1.set_title("Zone DMA32: free pages, watermarks and kcompactd passes (result of "
                  "compact_zone)", fontsize=10)
    fragindex_timeline(res, "DMA32", orders=(9,), ax=ax2)
    ax2.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
    ax2.set_xlim(0.4, t_end)
    return PanelOutput(figure=fig)


# --------------------------------------------------------------------------
# check yourself
# --------------------------------------------------------------------------
def _q_do_work(rng: np.random.Generator, seed: int) -> exercises.Question:
    res = str(rng.choice(["success", "complete", "partial_skipped", "skipped", "deferred"]))
    k = int(rng.integers(1 if res == "deferred" else 0, 4))  # shift 0 never defers
    order = int(rng.choice([4, 9]))
    if res == "success":
        ans = k
        why = (f"COMPACT_SUCCESS -> compaction_defer_reset(zone, {order}, false): the shift "
               f"stays {k}; only order_failed rises to {order + 1}")
    elif res in ("complete", "partial_skipped"):
        ans = min(k + 1, 6)
        why = (f"COMPACT_{res.upper()} -> drain_all_pages(zone), then defer_compaction: "
               f"shift {k} + 1 = {ans}")
    elif res == "skipped":
        ans = k
        why = ("compaction_suitable said SKIPPED: the zone is passed over, no defer, no "
               "drain")
    else:
        ans = k
        why = "compaction_deferred said skip: nothing else happens to the zone this pass"
    what = {"deferred": "is skipped because compaction_deferred() says so",
            "skipped": "is skipped because compaction_suitable() is not CONTINUE"}.get(
        res, f"is compacted and compact_zone returns COMPACT_{res.upper()}")
    return exercises.Question(
        "kcompactd_do_work", seed,
        f"A zone has compact_defer_shift {k}. In a kcompactd pass for order {order} it {what}. "
        "What is its compact_defer_shift afterwards?", ans, why + ".")


exercises.register("kcompactd_do_work", _q_do_work)
