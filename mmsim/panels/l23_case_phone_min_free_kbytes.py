"""Lesson 23 (case study): a 2 GiB phone, a failing kzalloc, and min_free_kbytes.

The numbers come from a reader's question under the seed article: zone DMA
shows free 6985, min 1342, low 4204, high 4540 with min_free_kbytes 5368, and a
``kzalloc(GFP_KERNEL)`` fails; should min_free_kbytes be raised to 107216?
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from mmsim import Node, Sysctl
from mmsim.mm.layout import build_paper_node
from mmsim.widgets import Control, Panel, PanelOutput, figure

PHONE = {"free": 6985, "min": 1342, "low": 4204, "high": 4540, "min_free_kbytes": 5368}
#: a 2 GiB arm64 phone: everything in one zone (ZONE_DMA on that kernel); managed pages
#: are a little under 2 GiB after the kernel, firmware carve-outs and the memmap
PHONE_MANAGED = 480_000


def mainline_marks(min_free_kbytes: int, managed: int = PHONE_MANAGED,
                   watermark_scale_factor: int = 10) -> dict[str, int]:
    """v5.0's watermarks for a one-zone machine (the zone holds all lowmem)."""
    node = build_paper_node(zones={"DMA": managed},
                            sysctl=Sysctl(min_free_kbytes=min_free_kbytes,
                                          watermark_scale_factor=watermark_scale_factor))
    z = node.zone("DMA")
    return {"min": z.min_wmark_pages, "low": z.low_wmark_pages, "high": z.high_wmark_pages}


def android_marks(min_free_kbytes: int, extra_free_kbytes: int,
                  managed: int = PHONE_MANAGED) -> dict[str, int]:
    """Watermarks of a pre-4.6 Android kernel with the ``extra_free_kbytes`` patch.

    Before ``watermark_scale_factor`` (4.6) low and high were min + min/4 and
    min + min/2; Android's out-of-tree ``extra_free_kbytes`` sysctl adds the
    zone's share of the extra pages to both (so kswapd starts earlier and
    stops later, while min - the emergency reserve - stays the same).
    """
    mn = min_free_kbytes >> 2
    # each zone gets its managed share of the extra pages; a one-zone phone gets all of them
    extra = (extra_free_kbytes >> 2) * managed // PHONE_MANAGED
    return {"min": mn, "low": mn + extra + (mn >> 2), "high": mn + extra + (mn >> 1)}


def solve_extra_free_kbytes() -> int:
    """The extra_free_kbytes that reproduces the phone's low/high (2527 pages)."""
    mn = PHONE["min_free_kbytes"] >> 2
    extra_pages = PHONE["low"] - mn - (mn >> 2)
    assert PHONE["high"] - mn - (mn >> 1) == extra_pages
    return extra_pages * 4


def marks_table(min_free_kbytes: int, extra_free_kbytes: int) -> pd.DataFrame:
    rows = {"phone (/proc/zoneinfo)": {k: PHONE[k] for k in ("min", "low", "high")},
            f"v5.0 mainline, min_free_kbytes={min_free_kbytes}": mainline_marks(min_free_kbytes),
            f"Android extra_free_kbytes={extra_free_kbytes}":
                android_marks(min_free_kbytes, extra_free_kbytes)}
    df = pd.DataFrame(rows).T
    df["kept free (MiB, ~high)"] = (df["high"] * 4 / 1024).round(1)
    return df


#: a fragmented free list with the phone's 6985 free pages: plenty of order-0..2
#: blocks, a few order-3, nothing larger (free blocks per order, as /proc/buddyinfo)
PHONE_BUDDYINFO = (2385, 1150, 420, 85, 0, 0, 0, 0, 0, 0, 0)


@lru_cache(maxsize=8)
def phone_node(min_free_kbytes: int = 5368):
    """The phone's zone rebuilt from zoneinfo + buddyinfo text, watermarks recomputed."""
    from mmsim.procfs import node_from_proc

    base = Node.build(zones={"DMA": PHONE_MANAGED}, sysctl=Sysctl(min_free_kbytes=5368,
                                                                  transparent_hugepage="never"))
    zoneinfo = base.render("zoneinfo")
    buddy = "Node 0, zone      DMA " + "".join(f"{n:6d} " for n in PHONE_BUDDYINFO) + "\n"
    return node_from_proc(zoneinfo=zoneinfo, buddyinfo=buddy,
                          sysctl=Sysctl(min_free_kbytes=min_free_kbytes,
                                        transparent_hugepage="never"))


def order_table(min_free_kbytes: int = 5368, extra_free_kbytes: int = 0) -> pd.DataFrame:
    """Per order: the fast-path check at low, and whether compaction is suitable.

    ``extra_free_kbytes`` > 0 applies the Android formula to the zone's marks
    (a what-if on the rebuilt zone: mainline v5.0 has no such sysctl).
    """
    from mmsim.mm.compaction import compact_result_names, compaction_suitable_verdict
    from mmsim.mm.page_alloc import ALLOC_WMARK_LOW, _watermark_check

    node = phone_node(min_free_kbytes)
    z = node.zone("DMA")
    saved = list(z._watermark)
    if extra_free_kbytes:
        m = android_marks(min_free_kbytes, extra_free_kbytes)
        z._watermark[:] = [m["min"], m["low"], m["high"]]
    try:
        rows = []
        for order in range(0, 6):
            ok, reason, _f, _m, _o, _mt = _watermark_check(z, order, z.low_wmark_pages, 0,
                                                           ALLOC_WMARK_LOW, z.nr_free_pages)
            verdict, fragindex = compaction_suitable_verdict(z, order, 0, 0)
            rows.append({"order": order, "KiB": 4 << order, "fast path at low": ok,
                         "why": reason,
                         "compaction_suitable": compact_result_names[verdict]
                         if order else "-",
                         "fragindex": fragindex if fragindex is not None else ""})
        return pd.DataFrame(rows).set_index("order")
    finally:
        z._watermark[:] = saved


def update(min_free_kbytes: int = 5368, extra_free_kbytes: int = 10108,
           order: int = 4) -> PanelOutput:
    df = marks_table(min_free_kbytes, extra_free_kbytes)
    ot = order_table(min_free_kbytes, extra_free_kbytes)
    fig = figure(figsize=(9, 3.4))
    ax1, ax2 = fig.subplots(1, 2)
    x = range(len(df))
    for i, (w, c) in enumerate((("min", "#d7191c"), ("low", "#fdae61"), ("high", "#1a9641"))):
        ax1.bar([v + (i - 1) * 0.27 for v in x], df[w], width=0.27, color=c, label=w)
    ax1.axhline(PHONE["free"], color="#333333", ls=":", lw=1, label="phone's free 6985")
    ax1.set_xticks(list(x), ["phone", "v5.0", "Android"])
    ax1.set_ylabel("pages")
    ax1.set_title("watermarks of the 2 GiB phone zone")
    ax1.legend(fontsize=7)
    ax2.bar(range(11), PHONE_BUDDYINFO, color="#92c5de")
    ax2.axvline(order - 0.5, color="#d7191c", ls="--", lw=1, label=f"order {order} needs this")
    ax2.set_yscale("symlog", linthresh=1)
    ax2.set_xlabel("order")
    ax2.set_ylabel("free blocks")
    ax2.set_title("the phone zone's free blocks (6985 pages)")
    ax2.legend(fontsize=7)
    row = df.iloc[1]
    r = ot.loc[order]
    text = (f"v5.0 with min_free_kbytes={min_free_kbytes}: min {int(row['min'])} "
            f"low {int(row['low'])} high {int(row['high'])} pages, "
            f"{row['kept free (MiB, ~high)']} MiB kept free at high\n"
            f"order {order} ({4 << order} KiB) at low: {'OK' if r['fast path at low'] else 'FAILS'}"
            f" ({r['why']}); compaction_suitable: {r['compaction_suitable']}")
    return PanelOutput(figure=fig, text=text)


PANELS = [Panel("phone: min_free_kbytes, extra_free_kbytes, order", [
    Control("min_free_kbytes", "choice", 5368, options=(5368, 16384, 45056, 107216),
            label="min_free_kbytes"),
    Control("extra_free_kbytes", "int", 10108, 0, 40000, step=4, label="extra_free_kbytes"),
    Control("order", "int", 4, 0, 5, label="order"),
], update)]


def _precompute() -> None:
    for m in (5368, 16384, 45056, 107216):
        phone_node(m)


PRECOMPUTE = (_precompute,)
