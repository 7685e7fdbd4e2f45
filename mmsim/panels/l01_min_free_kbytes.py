"""Lesson 01: from ``min_free_kbytes`` to per-zone min/low/high and protection."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mmsim.mm.layout import build_paper_node
from mmsim.mm.page_alloc import calculate_min_free_kbytes
from mmsim.sysctl import Sysctl
from mmsim.widgets import Control, Panel, PanelOutput, figure

CONTROLS = [
    Control("mem_gib", "log2", 8, 1, 256, label="memory (GiB)",
            help="RAM of an x86_64 box, laid out as DMA / DMA32 / Normal"),
    Control("min_free_kbytes", "int", 67584, 128, 262144, step=128, label="min_free_kbytes",
            help="vm.min_free_kbytes as written by the administrator"),
    Control("watermark_scale_factor", "int", 10, 1, 1000, label="watermark_scale_factor",
            help="vm.watermark_scale_factor: gap between the watermarks, in 1/10000 of the zone"),
]


def watermark_table(mem_gib: int = 8, min_free_kbytes: int | None = 67584,
                    watermark_scale_factor: int = 10) -> pd.DataFrame:
    """Per-zone managed pages, min/low/high and protection for a laid-out machine."""
    node = build_paper_node(mem=f"{mem_gib}GiB",
                            sysctl=Sysctl(min_free_kbytes=min_free_kbytes,
                                          watermark_scale_factor=watermark_scale_factor))
    rows = []
    for z in node.zones:
        if not z.managed_pages:
            continue
        rows.append({"zone": z.name, "managed": z.managed_pages, "min": z.min_wmark_pages,
                     "low": z.low_wmark_pages, "high": z.high_wmark_pages,
                     "protection": tuple(z.lowmem_reserve)})
    df = pd.DataFrame(rows).set_index("zone")
    df.attrs["min_free_kbytes"] = node.min_free_kbytes
    return df


def update(mem_gib: int = 8, min_free_kbytes: int = 67584,
           watermark_scale_factor: int = 10) -> PanelOutput:
    df = watermark_table(mem_gib, min_free_kbytes, watermark_scale_factor)
    fig = figure(figsize=(8, 3.6))
    ax = fig.add_subplot()
    x = np.arange(len(df))
    for i, (w, colour) in enumerate((("min", "#d7191c"), ("low", "#fdae61"),
                                     ("high", "#1a9641"))):
        ax.bar(x + (i - 1) * 0.27, df[w], width=0.27, color=colour, label=w)
    ax.set_xticks(x, df.index)
    ax.set_yscale("log")
    ax.set_ylabel("pages (log scale)")
    ax.set_title(f"{mem_gib} GiB, min_free_kbytes={min_free_kbytes}, "
                 f"watermark_scale_factor={watermark_scale_factor}")
    ax.legend(fontsize=8)
    lines = [f"{z}: min {r['min']}  low {r['low']}  high {r['high']}  "
             f"(managed {r['managed']})" for z, r in df.iterrows()]
    return PanelOutput(figure=fig, text="\n".join(lines))


def default_curve() -> PanelOutput:
    """The boot-time default min_free_kbytes against lowmem size, with and without THP."""
    gibs = [2 ** k for k in range(-4, 11)]
    plain = [calculate_min_free_kbytes(int(g * (1 << 20))) for g in gibs]
    thp = [build_paper_node(mem=f"{max(g, 0.0625) * 1024:.0f}MiB").min_free_kbytes
           if g >= 0.0625 else None for g in gibs]
    fig = figure(figsize=(7, 3.4))
    ax = fig.add_subplot()
    ax.plot(gibs, plain, "o-", label="init_per_zone_wmark_min: 4*sqrt(lowmem KiB)")
    ax.plot(gibs, thp, "s--", label="after the THP raise (madvise, 3 zones above 4 GiB)")
    ax.axhline(65536, color="#999999", ls=":", lw=1, label="upper clamp 65536 (v5.0)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlabel("memory (GiB)")
    ax.set_ylabel("min_free_kbytes")
    ax.legend(fontsize=8)
    return PanelOutput(figure=fig)


PANELS = [Panel("min_free_kbytes → watermarks", CONTROLS, update)]
