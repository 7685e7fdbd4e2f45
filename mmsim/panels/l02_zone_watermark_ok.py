"""Lesson 02: ``__zone_watermark_ok``, the count check and the per-order free-area walk.

The panel builds a zone of the golden "real box" (DMA 3840, DMA32 772808,
Normal 131072 managed pages; ``min_free_kbytes`` 67584) on paper, gives it a
free-area shape you choose, and runs mmsim's twin of ``__zone_watermark_ok``
(:func:`mmsim.mm.page_alloc._watermark_check`, which also says *why*). The
figure marks the step that decided the verdict.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from mmsim.exercises import Question, register
from mmsim.mm.mmzone import (
    MAX_ORDER,
    MIGRATE_CMA,
    MIGRATE_HIGHATOMIC,
    MIGRATE_MOVABLE,
    MIGRATE_RECLAIMABLE,
    MIGRATE_UNMOVABLE,
    NIL,
    ZONE_DMA32,
    ZONE_MOVABLE,
    ZONE_NORMAL,
    migratetype_names,
    pageblock_nr_pages,
)
from mmsim.mm.page_alloc import (
    ALLOC_CMA,
    ALLOC_HARDER,
    ALLOC_HIGH,
    ALLOC_OOM,
    _watermark_check,
    zone_watermark_fast,
)
from mmsim.widgets import Control, Panel, PanelOutput, figure

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from mmsim.mm.mmzone import Node, Zone

#: the machine of the golden cases (watermarks.md §5: a real x86_64 box)
REAL_BOX = {"DMA": 3840, "DMA32": 772808, "Normal": 131072}
REAL_BOX_MFK = 67584

#: the lists the walk looks at, in the kernel's order
LISTS = ("Unmovable", "Movable", "Reclaimable", "HighAtomic", "CMA")
LIST_MT = {"Unmovable": MIGRATE_UNMOVABLE, "Movable": MIGRATE_MOVABLE,
           "Reclaimable": MIGRATE_RECLAIMABLE, "HighAtomic": MIGRATE_HIGHATOMIC,
           "CMA": MIGRATE_CMA}
LIST_COLOURS = {"Unmovable": "#b2182b", "Movable": "#2166ac", "Reclaimable": "#ef8a62",
                "HighAtomic": "#762a83", "CMA": "#1b7837"}
CLASSZONES = {"DMA32": ZONE_DMA32, "Normal": ZONE_NORMAL, "Movable": ZONE_MOVABLE}
#: the flag sets the panel offers (one choice: the browser check drives dropdowns, and
#: option texts without spaces read back exactly)
FLAG_CHOICES = ("none", "ALLOC_HIGH", "ALLOC_HARDER", "ALLOC_HIGH|ALLOC_HARDER", "ALLOC_OOM",
                "ALLOC_CMA", "ALLOC_HIGH|ALLOC_HARDER|ALLOC_CMA", "ALLOC_OOM|ALLOC_CMA")

#: the steps of __zone_watermark_ok in our own words (v5.0; see the notebook)
STEPS = (
    "1  min = mark;  harder = ALLOC_HARDER or ALLOC_OOM",
    "2  free_pages -= 2^order - 1",
    "3  ALLOC_HIGH: min -= min/2",
    "4  not harder: free_pages -= nr_reserved_highatomic\n"
    "   ALLOC_OOM: min -= min/2    ALLOC_HARDER: min -= min/4",
    "5  no ALLOC_CMA: free_pages -= free CMA pages",
    "6  free_pages <= min + lowmem_reserve[classzone]  ->  false",
    "7  order == 0  ->  true",
    "8  for o in order..10: a block on Unmovable/Movable/Reclaimable -> true;\n"
    "   on CMA with ALLOC_CMA -> true;  on HighAtomic if harder -> true",
    "9  ->  false",
)
#: which step a reason of _watermark_check stands for
REASON_STEP = {
    "free_pages <= min + lowmem_reserve": 6,
    "order 0 and enough free pages": 7,
    "free block on an ordinary list": 8,
    "free block on the CMA list": 8,
    "free block on the HighAtomic list": 8,
    "no suitable free block >= order": 9,
}

#: the golden __zone_watermark_ok cases of the shared v5.0 notes (inputs and answers)
GOLDEN = (
    {"name": "wmark_ok_order0_dma32_low_fail_reserve", "free_pages": 18400, "order": 0,
     "mark": 17980, "lowmem_reserve": 512, "alloc_flags": 1, "highatomic": 0,
     "lists": {}, "ok": False, "free_after": 18400, "min_after": 17980},
    {"name": "wmark_ok_alloc_high_halves_min", "free_pages": 8000, "order": 0,
     "mark": 14384, "lowmem_reserve": 0, "alloc_flags": ALLOC_HIGH, "highatomic": 0,
     "lists": {}, "ok": True, "free_after": 8000, "min_after": 7192},
    {"name": "wmark_ok_no_harder_subtracts_highatomic", "free_pages": 11000, "order": 0,
     "mark": 10788, "lowmem_reserve": 0, "alloc_flags": 0, "highatomic": 512,
     "lists": {}, "ok": False, "free_after": 10488, "min_after": 10788},
    {"name": "wmark_ok_order9_only_highatomic_normal", "free_pages": 4512, "order": 9,
     "mark": 3048, "lowmem_reserve": 0, "alloc_flags": 1, "highatomic": 512,
     "lists": {(0, "Movable"): 4000, (9, "HighAtomic"): 1}, "ok": False,
     "free_after": 3489, "min_after": 3048},
    {"name": "wmark_ok_order4_higher_block_ok", "free_pages": 3172, "order": 4,
     "mark": 3048, "lowmem_reserve": 0, "alloc_flags": 1, "highatomic": 0,
     "lists": {(0, "Movable"): 100, (10, "Movable"): 3}, "ok": True,
     "free_after": 3157, "min_after": 3048},
)


# --------------------------------------------------------------------------
# a zone on paper with a chosen free area
# --------------------------------------------------------------------------
def real_box() -> Node:
    """The golden real box, booted on paper (zone sizes and watermarks, no frames)."""
    from mmsim.mm.layout import build_paper_node
    from mmsim.sysctl import Sysctl

    return build_paper_node(zones=dict(REAL_BOX), sysctl=Sysctl(min_free_kbytes=REAL_BOX_MFK))


def set_free_area(zone: Zone, lists: dict[tuple[int, str], int], *, highatomic: int = 0,
                  free_pages: int | None = None) -> Zone:
    """Give a paper zone a free area: ``{(order, list name): blocks}``.

    Only what ``__zone_watermark_ok`` reads is set: each list's emptiness,
    ``nr_free`` per order, ``NR_FREE_PAGES`` (the sum of the blocks unless
    ``free_pages`` is given), ``NR_FREE_CMA_PAGES`` and ``nr_reserved_highatomic``.
    A paper zone has no frames, so the lists hold a placeholder pfn.
    """
    for key in range(len(zone._head)):
        zone._head[key] = zone._tail[key] = NIL
        zone._nr_list[key] = 0
    zone._nr_free[:] = [0] * MAX_ORDER
    total = cma = 0
    for (order, name), n in lists.items():
        if n <= 0:
            continue
        key = (order << 3) | LIST_MT[name]
        zone._head[key] = zone._tail[key] = zone.zone_start_pfn  # placeholder
        zone._nr_list[key] += n
        zone._nr_free[order] += n
        total += n << order
        if name == "CMA":
            cma += n << order
    zone.nr_free_pages = total if free_pages is None else free_pages
    zone.nr_free_cma = cma
    zone.nr_reserved_highatomic = highatomic
    return zone


def shaped_lists(free_pages: int, largest_order: int,
                 largest_list: str) -> dict[tuple[int, str], int]:
    """A free area of ``free_pages`` pages: one block of ``largest_order`` on
    ``largest_list``, the rest on the Movable list in smaller blocks (about the
    same number of pages at each order below)."""
    out: dict[tuple[int, str], int] = {}
    if free_pages <= 0:
        return out
    top = min(largest_order, free_pages.bit_length() - 1)
    out[(top, largest_list)] = 1
    rest = free_pages - (1 << top)
    if top:
        share = rest // top
        for o in range(top):
            n = share >> o
            if n:
                out[(o, "Movable")] = out.get((o, "Movable"), 0) + n
                rest -= n << o
    if rest:
        out[(0, "Movable")] = out.get((0, "Movable"), 0) + rest
    return out


def flags_text(alloc_flags: int) -> str:
    names = [n for n, v in (("ALLOC_HIGH", ALLOC_HIGH), ("ALLOC_HARDER", ALLOC_HARDER),
                            ("ALLOC_OOM", ALLOC_OOM), ("ALLOC_CMA", ALLOC_CMA))
             if alloc_flags & v]
    return "|".join(names) or "no flags"


def verdict(zone: Zone, order: int, mark: int, classzone_idx: int,
            alloc_flags: int) -> dict[str, Any]:
    """Run the twin and return its reasoning, with the deciding step."""
    ok, reason, free_after, min_after, o, mt = _watermark_check(
        zone, order, mark, classzone_idx, alloc_flags, zone.nr_free_pages)
    return {"ok": ok, "reason": reason, "step": REASON_STEP[reason],
            "free_after": free_after, "min_after": min_after,
            "reserve": zone.lowmem_reserve[classzone_idx],
            "found_order": o, "found_list": migratetype_names[mt] if mt >= 0 else ""}


def golden_table() -> pd.DataFrame:
    """The golden cases through mmsim's twin: expected against computed."""
    import pandas as pd

    zone = real_box().zone("Normal")
    rows = []
    for case in GOLDEN:
        set_free_area(zone, case["lists"], highatomic=case["highatomic"],
                      free_pages=case["free_pages"])
        # the golden cases give lowmem_reserve[classzone] directly
        zone.lowmem_reserve[ZONE_MOVABLE] = case["lowmem_reserve"]
        v = verdict(zone, case["order"], case["mark"], ZONE_MOVABLE, case["alloc_flags"])
        rows.append({"case": case["name"].removeprefix("wmark_ok_"),
                     "expected": case["ok"], "mmsim": v["ok"],
                     "free_after": v["free_after"], "min_after": v["min_after"],
                     "decided at": f"step {v['step']}: {v['reason']}"})
        assert v["free_after"] == case["free_after"] and v["min_after"] == case["min_after"]
    return pd.DataFrame(rows).set_index("case")


#: typical callers: (label, watermark, classzone, alloc_flags)
CALLERS = (
    ("GFP_KERNEL, fast path", "low", ZONE_NORMAL, 0),
    ("GFP_DMA32, fast path", "low", ZONE_DMA32, 0),
    ("GFP_HIGHUSER_MOVABLE, fast path", "low", ZONE_MOVABLE, ALLOC_CMA),
    ("GFP_KERNEL, slow path", "min", ZONE_NORMAL, 0),
    ("GFP_ATOMIC, slow path", "min", ZONE_NORMAL, ALLOC_HIGH | ALLOC_HARDER),
    ("kswapd, pgdat_balanced", "high", ZONE_NORMAL, 0),
)


def callers_table(free_pages: int = 18400, largest_order: int = 8,
                  orders: tuple[int, ...] = (0, 9)) -> pd.DataFrame:
    """One DMA32 free area seen by typical callers: mark, threshold and verdicts."""
    import pandas as pd

    zone = real_box().zone("DMA32")
    set_free_area(zone, shaped_lists(free_pages, largest_order, "Movable"))
    rows = []
    for label, wm, cz, flags in CALLERS:
        mark = {"min": zone.min_wmark_pages, "low": zone.low_wmark_pages,
                "high": zone.high_wmark_pages}[wm]
        row: dict[str, Any] = {"caller": label, "mark": f"{wm} {mark}"}
        for o in orders:
            v = verdict(zone, o, mark, cz, flags)
            row["needs free >"] = v["min_after"] + v["reserve"]
            row[f"order {o}"] = f"{v['ok']} (step {v['step']})"
        rows.append(row)
    return pd.DataFrame(rows).set_index("caller")


# --------------------------------------------------------------------------
# the figure
# --------------------------------------------------------------------------
def _count_axes(ax: Any, free: int, order: int, zone: Zone, alloc_flags: int,
                v: dict[str, Any]) -> None:
    harder = bool(alloc_flags & (ALLOC_HARDER | ALLOC_OOM))
    parts = [("2^order − 1", (1 << order) - 1)]
    if not harder:
        parts.append(("HighAtomic reserve", zone.nr_reserved_highatomic))
    if not alloc_flags & ALLOC_CMA:
        parts.append(("free CMA", zone.nr_free_cma))
    need = v["min_after"] + v["reserve"]
    after = max(v["free_after"], 0)
    ax.barh(1, free, color="#dddddd", edgecolor="#999999", label="NR_FREE_PAGES")
    ax.barh(1, after, color="#1a9641" if after > need else "#d7191c",
            label="free_pages counted (after steps 2, 4, 5)")
    ax.barh(0, v["min_after"], color="#fdae61", label="min after steps 3-4")
    ax.barh(0, v["reserve"], left=v["min_after"], color="#9e9ac8",
            label="lowmem_reserve[classzone]")
    ax.set_yticks([0, 1], ["needed", "free"])
    top = max(free, need, 1) * 1.15
    ax.set_xlim(0, top)
    ax.axvline(need, color="#333333", lw=1, ls=":")
    sub = " ".join(f"− {n} ({label})" for label, n in parts if n)
    ax.text(0.01 * top, 1.58, f"{free} {sub} = {v['free_after']}" if sub else
            f"{free} counted as is", fontsize=8, va="center")
    ax.text(0.01 * top, -0.58, f"{v['min_after']} + {v['reserve']} = {need}  "
            f"(step 6 needs free > this)", fontsize=8, va="center")
    ax.set_ylim(-0.9, 1.9)
    ax.set_xlabel("pages")
    ax.set_title("steps 2–6: the page count", fontsize=10)
    ax.legend(fontsize=7, loc="lower right", bbox_to_anchor=(1.0, 1.12), ncol=2,
              frameon=False)


def _walk_axes(ax: Any, zone: Zone, order: int, alloc_flags: int,
               v: dict[str, Any]) -> None:
    orders = np.arange(MAX_ORDER)
    counts = {name: np.array([zone._nr_list[(o << 3) | LIST_MT[name]] for o in orders])
              for name in LISTS}
    bottom = np.zeros(MAX_ORDER)
    for name in LISTS:
        c = counts[name]
        if c.any():
            ax.bar(orders, np.log2(1 + c), bottom=bottom, color=LIST_COLOURS[name],
                   label=name)
            bottom += np.log2(1 + c)
    ymax = max(float(bottom.max()), 1.0) * 1.3
    ax.axvspan(-0.5, order - 0.5, color="#eeeeee", zorder=0, lw=0)
    if order:
        ax.text((order - 1) / 2, ymax * 0.97, "below the\nrequested order", ha="center",
                va="top", fontsize=7, color="#777777")
    for o in orders:
        n = int(sum(counts[name][o] for name in LISTS))
        if n:
            ax.text(o, bottom[o], str(n), ha="center", va="bottom", fontsize=7)
    if v["step"] == 8:
        ax.annotate(f"step 8: order {v['found_order']}, {v['found_list']} list",
                    xy=(v["found_order"], bottom[v["found_order"]] + 0.3),
                    xytext=(v["found_order"], ymax * 0.8), ha="center", fontsize=8,
                    color="#1a9641", arrowprops={"arrowstyle": "->", "color": "#1a9641"})
    elif v["step"] == 9:
        harder = bool(alloc_flags & (ALLOC_HARDER | ALLOC_OOM))
        skipped = [n for n, ok in (("CMA", alloc_flags & ALLOC_CMA), ("HighAtomic", harder))
                   if not ok]
        ax.text(5, ymax * 0.62, "step 9: no usable block of order ≥ " + str(order)
                + (f"\n({', '.join(skipped)} lists not allowed)" if skipped else ""),
                ha="center", fontsize=8, color="#d7191c",
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8})
    elif v["step"] in (6, 7):
        ax.text(5, ymax * 0.62, f"walk not reached (decided at step {v['step']})",
                ha="center", fontsize=8, color="#777777",
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8})
    ax.set_ylim(0, ymax)
    ax.set_xticks(orders)
    ax.set_xlabel("order")
    ticks = [n for n in (0, 1, 10, 100, 1000, 10000, 100000) if np.log2(1 + n) <= ymax]
    ax.set_yticks([np.log2(1 + n) for n in ticks], [str(n) for n in ticks])
    ax.set_ylabel("free blocks (log scale)")
    ax.set_title("step 8: the free-area walk", fontsize=10)
    if any(c.any() for c in counts.values()):
        ax.legend(fontsize=7, loc="upper right")


def step_values(zone: Zone, order: int, mark: int, classzone_idx: int, alloc_flags: int,
                v: dict[str, Any]) -> list[str]:
    """What each step did in this call, with the numbers ("" after the deciding step)."""
    harder = bool(alloc_flags & (ALLOC_HARDER | ALLOC_OOM))
    free = zone.nr_free_pages
    out = [f"min = {mark}; harder = {harder}"]
    f2 = free - ((1 << order) - 1)
    out.append(f"free_pages = {free} − {(1 << order) - 1} = {f2}")
    m = mark
    if alloc_flags & ALLOC_HIGH:
        m -= m // 2
        out.append(f"min = {m}")
    else:
        out.append("(no ALLOC_HIGH)")
    f3 = f2
    if not harder:
        f3 = f2 - zone.nr_reserved_highatomic
        out.append(f"free_pages = {f2} − {zone.nr_reserved_highatomic} = {f3}")
    elif alloc_flags & ALLOC_OOM:
        m -= m // 2
        out.append(f"min = {m} (ALLOC_OOM)")
    else:
        m -= m // 4
        out.append(f"min = {m} (ALLOC_HARDER)")
    if alloc_flags & ALLOC_CMA:
        out.append("(ALLOC_CMA: CMA pages count)")
    else:
        out.append(f"free_pages = {f3} − {zone.nr_free_cma} = {f3 - zone.nr_free_cma}")
    need = v["min_after"] + v["reserve"]
    fails = v["free_after"] <= need
    out.append(f"{v['free_after']} <= {v['min_after']} + {v['reserve']} = {need}?  "
               + ("yes: false" if fails else "no: go on"))
    out.append("order 0: true" if order == 0 else f"order {order}: go on")
    if v["step"] == 8:
        out.append(f"order {v['found_order']}, {v['found_list']} list: true")
    else:
        out.append(f"no usable block at orders {order}..10")
    out.append("false")
    return [t if i < v["step"] else "" for i, t in enumerate(out)]


def _steps_axes(ax: Any, step: int, ok: bool, values: list[str]) -> None:
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    y = 0.97
    for i, text in enumerate(STEPS, start=1):
        lines = text.count("\n") + 1
        hot = i == step
        colour = ("#1a9641" if ok else "#d7191c") if hot else \
            ("#444444" if i < step else "#aaaaaa")
        ax.text(0.0, y, text, family="monospace", fontsize=8, va="top", color=colour,
                fontweight="bold" if hot else "normal",
                bbox={"facecolor": "#ffffcc", "edgecolor": "none", "pad": 1.5} if hot else None)
        ax.text(0.66, y, values[i - 1] or "(not reached)", family="monospace", fontsize=8,
                va="top", color=colour if values[i - 1] else "#aaaaaa",
                fontweight="bold" if hot else "normal")
        y -= 0.075 * lines + 0.025
    ax.text(0.66, 1.04, "this call", fontsize=9, va="bottom", style="italic")
    ax.set_title("__zone_watermark_ok, v5.0, in our words (the deciding step highlighted)",
                 fontsize=10, loc="left")


def check_figure(zone: Zone, order: int, mark: int, classzone_idx: int, alloc_flags: int,
                 title: str = "") -> PanelOutput:
    """The verdict, with the page count, the walk and the deciding step."""
    v = verdict(zone, order, mark, classzone_idx, alloc_flags)
    fig = figure(figsize=(11, 6.6))
    gs = fig.add_gridspec(2, 2, height_ratios=(1, 1.15), width_ratios=(1, 1.1))
    _count_axes(fig.add_subplot(gs[0, 0]), zone.nr_free_pages, order, zone, alloc_flags, v)
    _walk_axes(fig.add_subplot(gs[0, 1]), zone, order, alloc_flags, v)
    _steps_axes(fig.add_subplot(gs[1, :]), v["step"], v["ok"],
                step_values(zone, order, mark, classzone_idx, alloc_flags, v))
    fig.suptitle(title or f"zone {zone.name}, order {order}, mark {mark}, "
                 f"{flags_text(alloc_flags)}: {'true' if v['ok'] else 'false'}", fontsize=11)
    fast = zone_watermark_fast(zone, order, mark, classzone_idx, alloc_flags)
    text = [f"__zone_watermark_ok -> {v['ok']}, decided at step {v['step']}: {v['reason']}",
            f"  free_pages counted {v['free_after']}, min {v['min_after']}, "
            f"lowmem_reserve {v['reserve']}"]
    if v["step"] == 8:
        text.append(f"  found order {v['found_order']} on the {v['found_list']} list")
    text.append(f"zone_watermark_fast (the fast path's wrapper) -> {fast}")
    return PanelOutput(figure=fig, text="\n".join(text))


def golden_figure(name: str = "wmark_ok_order9_only_highatomic_normal") -> PanelOutput:
    """One golden case drawn."""
    case = next(c for c in GOLDEN if c["name"] == name)
    zone = real_box().zone("Normal")
    set_free_area(zone, case["lists"], highatomic=case["highatomic"],
                  free_pages=case["free_pages"])
    zone.lowmem_reserve[ZONE_MOVABLE] = case["lowmem_reserve"]
    return check_figure(zone, case["order"], case["mark"], ZONE_MOVABLE, case["alloc_flags"],
                        title=f"golden case {name}")


# --------------------------------------------------------------------------
# the panel
# --------------------------------------------------------------------------
CONTROLS = [
    Control("order", "int", 0, 0, MAX_ORDER - 1, label="order",
            help="the request: 2^order pages"),
    Control("watermark", "choice", "low", options=("min", "low", "high"), label="watermark",
            help="low: allocation fast path; min: slow path; high: kswapd's balance check"),
    Control("classzone", "choice", "Normal", options=tuple(CLASSZONES),
            label="classzone",
            help="highest zone the caller may use (GFP_DMA32: DMA32, GFP_KERNEL: Normal, "
                 "GFP_HIGHUSER_MOVABLE: Movable): picks lowmem_reserve"),
    Control("free_pages", "int", 18400, 0, 30000, step=50, label="NR_FREE_PAGES",
            help="free pages of DMA32 (min 14384, low 17980, high 21576)"),
    Control("largest_order", "int", 10, 0, MAX_ORDER - 1, label="largest free order",
            help="one free block of this order; the rest in smaller Movable blocks"),
    Control("largest_list", "choice", "Movable", options=LISTS, label="largest block's list",
            help="the free list that holds the largest block"),
    Control("highatomic", "int", 0, 0, 2048, step=512, label="nr_reserved_highatomic",
            help="pages in HighAtomic pageblocks (whole pageblocks)"),
    Control("alloc_flags", "choice", "none", options=FLAG_CHOICES, label="alloc_flags",
            help="ALLOC_HIGH: min/2; ALLOC_HARDER: min/4 off, HighAtomic usable; ALLOC_OOM: "
                 "min/2 off, HighAtomic usable; ALLOC_CMA: CMA pages and list count"),
]


def panel_zone(free_pages: int, largest_order: int, largest_list: str,
               highatomic: int) -> tuple[Zone, int]:
    """DMA32 of the real box with the panel's free area; returns (zone, reserve used)."""
    zone = real_box().zone("DMA32")
    lists = shaped_lists(free_pages, largest_order, largest_list)
    if largest_list == "HighAtomic" and lists:
        top = max(o for o, _name in lists)
        highatomic = max(highatomic, -(-(1 << top) // pageblock_nr_pages) * pageblock_nr_pages)
    set_free_area(zone, lists, highatomic=highatomic)
    return zone, highatomic


def parse_flags(text: str) -> int:
    """``"ALLOC_HIGH|ALLOC_HARDER"`` -> the flag bits (``"none"`` -> 0)."""
    names = {"ALLOC_HIGH": ALLOC_HIGH, "ALLOC_HARDER": ALLOC_HARDER, "ALLOC_OOM": ALLOC_OOM,
             "ALLOC_CMA": ALLOC_CMA}
    return 0 if text == "none" else sum(names[t] for t in text.split("|"))


def update(order: int = 0, watermark: str = "low", classzone: str = "Normal",
           free_pages: int = 18400, largest_order: int = 10, largest_list: str = "Movable",
           highatomic: int = 0, alloc_flags: str = "none") -> PanelOutput:
    zone, used_ha = panel_zone(free_pages, largest_order, largest_list, highatomic)
    mark = {"min": zone.min_wmark_pages, "low": zone.low_wmark_pages,
            "high": zone.high_wmark_pages}[watermark]
    flags = parse_flags(alloc_flags)
    out = check_figure(zone, order, mark, CLASSZONES[classzone], flags,
                       title=f"DMA32, order {order} against {watermark} ({mark}), classzone "
                             f"{classzone}, {flags_text(flags)}")
    if used_ha != highatomic:
        out.text += (f"\n(nr_reserved_highatomic raised to {used_ha}: the HighAtomic block "
                     "lives in a reserved pageblock)")
    return out


PANELS = [Panel("__zone_watermark_ok", CONTROLS, update)]


# --------------------------------------------------------------------------
# your machine
# --------------------------------------------------------------------------
def host_verdicts(node: Node, watermark: str = "low", classzone_idx: int = ZONE_NORMAL,
                  alloc_flags: int = 0) -> pd.DataFrame:
    """For each populated zone and order: would the check pass right now?"""
    import pandas as pd

    rows = {}
    for z in node.zones:
        if not z.managed_pages or z.idx > classzone_idx:
            continue
        mark = {"min": z.min_wmark_pages, "low": z.low_wmark_pages,
                "high": z.high_wmark_pages}[watermark]
        row = {}
        for o in range(MAX_ORDER):
            v = verdict(z, o, mark, classzone_idx, alloc_flags)
            row[o] = "ok" if v["ok"] else f"no ({v['step']})"
        rows[z.name] = row
    df = pd.DataFrame(rows).T
    df.columns.name = "order"
    return df


# --------------------------------------------------------------------------
# check yourself: the effective mark under the ALLOC_* flags
# --------------------------------------------------------------------------
_FLAG_SETS = (("no flags (GFP_KERNEL)", 0),
              ("ALLOC_HIGH (__GFP_HIGH)", ALLOC_HIGH),
              ("ALLOC_HIGH|ALLOC_HARDER (GFP_ATOMIC)", ALLOC_HIGH | ALLOC_HARDER),
              ("ALLOC_HARDER (a real-time task)", ALLOC_HARDER),
              ("ALLOC_OOM (an OOM victim)", ALLOC_OOM))


def _q_watermark_flags(rng: np.random.Generator, seed: int) -> Question:
    mark = int(rng.integers(500, 20000))
    label, flags = _FLAG_SETS[int(rng.integers(0, len(_FLAG_SETS)))]
    m = mark
    how = [f"min = {mark}"]
    if flags & ALLOC_HIGH:
        m -= m // 2
        how.append(f"ALLOC_HIGH: min -= min/2 -> {m}")
    if flags & ALLOC_OOM:
        m -= m // 2
        how.append(f"ALLOC_OOM: min -= min/2 -> {m}")
    elif flags & ALLOC_HARDER:
        m -= m // 4
        how.append(f"ALLOC_HARDER: min -= min/4 -> {m}")
    return Question("watermark_flags", seed,
                    f"__zone_watermark_ok is called with mark {mark} and {label}. What value "
                    "of min does step 6 compare against (before adding lowmem_reserve)?", m,
                    "; ".join(how) + " (integer division; ALLOC_HIGH stacks with ALLOC_HARDER, "
                    "ALLOC_OOM replaces the ALLOC_HARDER cut).")


register("watermark_flags", _q_watermark_flags)
