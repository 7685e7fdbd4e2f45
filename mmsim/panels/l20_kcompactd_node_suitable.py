"""Lesson 20: ``kcompactd_node_suitable``, ``compaction_suitable`` and the fragmentation index.

The panel builds a two-zone node (DMA32 16 MiB, nearly full; Normal 64 MiB)
whose Normal zone has an exact free-area shape: ``free_mib`` of free memory,
all in blocks of one order (aligned, with allocated neighbours so that they do
not merge). The shape is made with the real allocator (every page allocated,
then the chosen pages freed through the buddy allocator), cached per shape;
``min_free_kbytes`` and ``extfrag_threshold`` are then written through the
sysctl handlers for each update, so an update costs a few milliseconds.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from mmsim import exercises
from mmsim.widgets import Control, Panel, PanelOutput, figure

ZONES = {"DMA32": "16MiB", "Normal": "64MiB"}
#: the boot default for ZONES (int_sqrt(16 * lowmem KiB); THP is off below 512 MiB)
DEFAULT_MFK = 1144
CLASSZONES = ("DMA32", "Normal")

#: where each verdict is decided in v5.0 mm/compaction.c
BRANCH = {
    "success": "__compaction_suitable L1424-1465: zone_watermark_ok(order, min wmark) "
               "passes - a free block of this order exists",
    "skipped": "__compaction_suitable L1457-1459: order-0 check at (low or min) + "
               "compact_gap(order) fails - reclaim first",
    "not_suitable_zone": "compaction_suitable L1494: 0 <= fragindex <= extfrag_threshold - "
                         "failure is from lack of memory, not fragmentation (returned as "
                         "COMPACT_SKIPPED)",
    "continue": "compaction_suitable: CONTINUE - compaction can help",
    "not asked": "order 0 is never compacted for: wakeup_kcompactd (L2025-2049) returns first",
}


@lru_cache(maxsize=64)
def shaped_node(block_order: int = 7, free_mib: int = 8) -> Any:
    """The two-zone node with Normal's free memory in ``block_order`` blocks."""
    from mmsim import Node, Sysctl
    from mmsim.mm.page_alloc import ALLOC_NO_WATERMARKS, alloc_pages_bulk, free_pages_bulk

    node = Node.build(zones=ZONES, sysctl=Sysctl(min_free_kbytes=DEFAULT_MFK), pcp=False)
    total = node.nr_free_pages
    alloc_pages_bulk(node, total, "GFP_HIGHUSER_MOVABLE", kind="anon",
                     alloc_flags=ALLOC_NO_WATERMARKS)
    normal = node.zone("Normal")
    size = 1 << block_order
    want = (free_mib << 20) >> 12
    nblocks = min(want // size, normal.managed_pages // (2 * size))
    starts = normal.zone_start_pfn + np.arange(nblocks, dtype=np.int64) * 2 * size
    pfns = (starts[:, None] + np.arange(size, dtype=np.int64)[None, :]).ravel()
    dma32 = node.zone("DMA32")
    # DMA32: 48 scattered single pages - far below its watermarks
    pfns = np.concatenate([pfns, dma32.zone_start_pfn + 1 + 64 * np.arange(48)])
    free_pages_bulk(node, pfns)
    return node


def evaluate(order: int = 9, extfrag_threshold: int = 500, block_order: int = 7,
             free_mib: int = 8, min_free_kbytes: int = DEFAULT_MFK,
             classzone: str = "Normal") -> dict[str, Any]:
    """Per-zone suitability and the kcompactd_node_suitable answer for one setting."""
    from mmsim.mm import compaction as C
    from mmsim.mm.vmstat import fill_contig_page_info

    node = shaped_node(block_order, free_mib)
    sc = node.machine.sysctl
    if sc.min_free_kbytes != min_free_kbytes:
        sc.min_free_kbytes = min_free_kbytes
    if sc.extfrag_threshold != extfrag_threshold:
        sc.extfrag_threshold = extfrag_threshold
    cz = node.zone(classzone).idx
    rows = []
    for z in node.zones[:cz + 1]:
        if not z.populated_zone():
            continue
        if order > 0:
            ret, fi = C.compaction_suitable_verdict(z, order, 0, cz)
            name = C.compact_result_names[ret]
        else:
            fi, name = None, "not asked"
        gap = C.compact_gap(order)
        base = z.low_wmark_pages if order > 3 else z.min_wmark_pages
        info = fill_contig_page_info(list(z._nr_free), order)
        rows.append({
            "zone": z.name, "free": z.nr_free_pages, "min": z.min_wmark_pages,
            "low": z.low_wmark_pages, "high": z.high_wmark_pages,
            "reserve": z.lowmem_reserve[cz], "gap": gap,
            "order0_mark": base + gap, "base": "low" if order > 3 else "min",
            "largest": max([o for o in range(11) if z._nr_free[o]], default=-1),
            "fragindex": fi, "suitable_blocks": info.free_blocks_suitable,
            "verdict": name, "branch": BRANCH[name],
            "buddy": [int(n) for n in z._nr_free],
        })
    node.kcompactd_max_order = order
    node.kcompactd_classzone_idx = cz
    answer = C.kcompactd_node_suitable(node) if order > 0 else False
    # the twin and the per-zone walk must agree
    assert answer == any(r["verdict"] == "continue" for r in rows) or order == 0
    return {"rows": rows, "suitable": answer, "order": order,
            "threshold": extfrag_threshold, "min_free_kbytes": node.min_free_kbytes,
            "classzone": classzone}


def text_for(r: dict[str, Any]) -> str:
    lines = [f"kcompactd_max_order = {r['order']}, kcompactd_classzone_idx = {r['classzone']}, "
             f"min_free_kbytes = {r['min_free_kbytes']}, extfrag_threshold = {r['threshold']}"]
    if r["order"] == 0:
        lines.append("order 0: wakeup_kcompactd returns before asking (nothing to compact "
                     "for); kcompactd_node_suitable is never called with max_order 0")
    for z in r["rows"]:
        fi = "not consulted" if z["fragindex"] is None else str(z["fragindex"])
        lines.append(
            f"{z['zone']:6s} free {z['free']:5d} | watermarks min {z['min']} low {z['low']} "
            f"high {z['high']} | lowmem_reserve[{r['classzone']}] {z['reserve']} | "
            f"order-0 mark {z['base']} + gap {z['gap']} = {z['order0_mark']} | "
            f"fragindex {fi} -> {z['verdict'].upper()}")
        lines.append(f"       {z['branch']}")
    lines.append(f"kcompactd_node_suitable -> {str(r['suitable']).lower()} "
                 + ("(a zone says CONTINUE: wakeup_kcompactd wakes kcompactd)" if r["suitable"]
                    else "(no zone says CONTINUE: a sleeping kcompactd is left asleep)"))
    return "\n".join(lines)


def figure_for(r: dict[str, Any]) -> Any:
    fig = figure(figsize=(10, 3.4), layout=None)
    gs = fig.add_gridspec(1, 3, width_ratios=[1.25, 1.1, 0.9], left=0.06, right=0.98,
                          bottom=0.17, top=0.85, wspace=0.35)
    normal = r["rows"][-1] if r["rows"][-1]["zone"] == "Normal" else None
    ax = fig.add_subplot(gs[0])
    z = normal or r["rows"][0]
    orders = np.arange(11)
    colours = ["#2166ac" if o >= r["order"] else "#92c5de" for o in orders]
    ax.bar(orders, z["buddy"], color=colours)
    for o, n in zip(orders, z["buddy"]):
        if n:
            ax.text(o, n * 1.15, str(n), ha="center", fontsize=7)
    ax.axvline(r["order"] - 0.5, color="#d7191c", ls="--", lw=1)
    ax.set_yscale("symlog", linthresh=1)
    ax.set_ylim(0, max(max(z["buddy"]), 1) * 4)
    from mmsim.panels.l21_compact_zone import _plain_log_ticks

    _plain_log_ticks(ax, max(max(z["buddy"]), 1) * 4)
    ax.set_xticks(orders)
    ax.set_xlabel("order")
    ax.set_ylabel("free blocks")
    ax.set_title(f"{z['zone']} free area (dark: order >= {r['order']})", fontsize=9)
    ax = fig.add_subplot(gs[1])
    names = [row["zone"] for row in r["rows"]]
    x = np.arange(len(names))
    ax.bar(x - 0.2, [row["free"] for row in r["rows"]], width=0.4, color="#4d4d4d",
           label="free pages")
    ax.bar(x + 0.2, [row["order0_mark"] + row["reserve"] for row in r["rows"]], width=0.4,
           color="#fdae61", label="order-0 mark + gap + reserve")
    ax.scatter(x + 0.2, [row["min"] + row["reserve"] for row in r["rows"]], marker="_",
               s=300, color="#d7191c", zorder=3, label="order-N mark: min + reserve")
    for i, row in enumerate(r["rows"]):
        ax.text(i, max(row["free"], row["order0_mark"] + row["reserve"]) * 1.04,
                row["verdict"].upper().replace("_", " "), ha="center", fontsize=7)
    ax.set_xticks(x, names)
    ax.set_ylabel("pages")
    top = max(max(row["free"], row["order0_mark"] + row["reserve"]) for row in r["rows"])
    ax.set_ylim(0, top * 1.6 + 10)
    ax.legend(fontsize=7, loc="upper left", frameon=False)
    ax.set_title(f"watermark steps, order {r['order']}", fontsize=9)
    ax = fig.add_subplot(gs[2])
    vals = [row["fragindex"] if row["fragindex"] is not None else np.nan for row in r["rows"]]
    ax.bar(x, vals, color=["#762a83" if v == v else "#dddddd" for v in vals])
    ax.axhline(r["threshold"], color="#d7191c", ls="--", lw=1.2,
               label=f"extfrag_threshold {r['threshold']}")
    ax.axhline(0, color="#999999", lw=0.8)
    for i, v in enumerate(vals):
        ax.text(i, (v if v == v else 0) + 40, "not\nconsulted" if v != v else str(int(v)),
                ha="center", fontsize=7)
    ax.set_ylim(-1050, 1150)
    ax.set_xlim(-0.6, len(names) - 0.4)  # keep unconsulted (NaN) zones in view
    ax.set_xticks(x, names)
    ax.set_ylabel("fragmentation index")
    ax.legend(fontsize=7, loc="lower left")
    ax.set_title("fragindex (only order > 3)", fontsize=9)
    fig.suptitle(f"kcompactd_node_suitable -> {str(r['suitable']).lower()}   "
                 f"(order {r['order']}, classzone {r['classzone']}, min_free_kbytes "
                 f"{r['min_free_kbytes']})", fontsize=10)
    return fig


CONTROLS = [
    Control("order", "int", 9, 0, 10, label="order (kcompactd_max_order)",
            help="the highest order requested since kcompactd's last pass"),
    Control("extfrag_threshold", "int", 500, 0, 1000, step=10, label="extfrag_threshold",
            help="vm.extfrag_threshold: fragindex at or below it vetoes compaction"),
    Control("block_order", "int", 7, 0, 10, label="free blocks of order (shape)",
            help="all of Normal's free memory is in blocks of this order: small = fragmented"),
    Control("free_mib", "int", 8, 0, 24, label="Normal free (MiB)",
            help="how much of the 64 MiB Normal zone is free"),
    Control("min_free_kbytes", "int", DEFAULT_MFK, 128, 16384, step=8, label="min_free_kbytes",
            help="vm.min_free_kbytes (boot default for this 80 MiB node: 1144)"),
    Control("classzone", "choice", "Normal", options=CLASSZONES,
            label="classzone (kcompactd_classzone_idx)",
            help="the lowest classzone requested: zones above it are not looked at"),
]


def update(order: int = 9, extfrag_threshold: int = 500, block_order: int = 7,
           free_mib: int = 8, min_free_kbytes: int = DEFAULT_MFK,
           classzone: str = "Normal") -> PanelOutput:
    r = evaluate(order, extfrag_threshold, block_order, free_mib, min_free_kbytes, classzone)
    return PanelOutput(figure=figure_for(r), text=text_for(r))


PANELS = [Panel("kcompactd_node_suitable: watermarks, fragindex, verdict", CONTROLS, update)]


# --------------------------------------------------------------------------
# check yourself
# --------------------------------------------------------------------------
def _q_compaction_suitable(rng: np.random.Generator, seed: int) -> exercises.Question:
    from mmsim.mm.vmstat import __fragmentation_index, fill_contig_page_info

    order = int(rng.choice([2, 4, 6, 9, 9]))
    mn = int(rng.integers(200, 3000))
    low = mn + mn // 4
    k = int(rng.integers(max(0, order - 4), order + 1))
    gap = 2 << order
    mark = (low if order > 3 else mn) + gap
    n = max(1, int(mark * rng.uniform(0.6, 3.0)) >> k)
    free = n << k
    row = [0] * 11
    row[k] = n
    if k >= order and free - ((1 << order) - 1) > mn:
        ans, why = "success", (f"a free block of order {k} >= {order} exists and free {free} "
                               f"minus {(1 << order) - 1} exceeds min {mn}: "
                               "zone_watermark_ok passes, nothing to compact")
    elif free <= mark:
        ans, why = "skipped", (f"no free block of order {order} (or too little memory); "
                               f"free {free} must exceed {'low' if order > 3 else 'min'} + "
                               f"compact_gap = {mark} at order 0: it does not")
    elif order <= 3:
        ans, why = "continue", (f"no block of order {order}; free {free} > {mark}; order "
                                f"{order} <= 3, so the fragmentation index is not consulted")
    else:
        fi = __fragmentation_index(order, fill_contig_page_info(row, order))
        ans = "skipped" if 0 <= fi <= 500 else "continue"
        why = (f"no block of order {order}; free {free} > low + gap = {mark}; fragindex = "
               f"1000 - (1000 + {free}*1000/{1 << order}) / {n} = {fi}, "
               + ("<= 500: vetoed" if ans == "skipped" else "> 500: compaction can help"))
    return exercises.Question(
        "compaction_suitable", seed,
        f"A zone has min {mn}, low {low} (no boost, lowmem_reserve 0) and all its free memory "
        f"in {n} blocks of order {k} ({free} pages). kcompactd asks compaction_suitable for "
        f"order {order} (alloc_flags 0, extfrag_threshold 500). Answer 'success', 'skipped' "
        "or 'continue'.", ans, why + ".")


exercises.register("compaction_suitable", _q_compaction_suitable)


def sweep(order: int = 9, free_mib: int = 8, threshold: int = 500) -> Any:
    """Fragindex and verdict of the Normal zone for every free-block order (a table)."""
    import pandas as pd

    rows = []
    for k in range(11):
        r = evaluate(order, threshold, k, free_mib)
        z = r["rows"][-1]
        rows.append({"free blocks of order": k, "blocks": z["buddy"][k],
                     "fragindex": "-" if z["fragindex"] is None else z["fragindex"],
                     "verdict": z["verdict"].upper(), "node suitable": r["suitable"]})
    return pd.DataFrame(rows).set_index("free blocks of order")
