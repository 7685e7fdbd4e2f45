"""Lesson 25: the playground - every knob on one panel."""

from __future__ import annotations

from typing import Any

import numpy as np

from mmsim import Node, Simulation, Sysctl, memmap, plots
from mmsim.widgets import Control, Panel, PanelOutput, figure
from mmsim.workloads import AnonGrowth, FileStream, HighOrderBurst, KernelAlloc

CONTROLS = [
    Control("mem_mib", "log2", 64, 64, 1024, label="memory (MiB)"),
    Control("min_free_kbytes", "int", 0, 0, 65536, step=256,
            label="min_free_kbytes (0 = kernel default)"),
    Control("watermark_scale_factor", "int", 10, 1, 1000, label="watermark_scale_factor"),
    Control("watermark_boost_factor", "int", 15000, 0, 30000, step=500,
            label="watermark_boost_factor"),
    Control("extfrag_threshold", "int", 500, 0, 1000, step=50, label="extfrag_threshold"),
    Control("swappiness", "int", 60, 0, 100, label="swappiness"),
    Control("swap_mib", "int", 0, 0, 512, step=32, label="swap (MiB)"),
    Control("file_mibps", "int", 300, 0, 800, step=50, label="file read (MiB/s)"),
    Control("anon_mibps", "int", 0, 0, 400, step=25, label="anon growth (MiB/s)"),
    Control("slab_mibps", "int", 8, 0, 64, step=4, label="slab (MiB/s)"),
    Control("order", "int", 0, 0, 10, label="order (0 = no high-order requests)"),
    Control("seconds", "float", 0.5, 0.25, 3.0, step=0.25, label="simulated seconds"),
]


def settings(**overrides: Any) -> dict[str, Any]:
    """Default knob values, with some changed."""
    d = {c.name: c.default for c in CONTROLS}
    d.update(overrides)
    return d


def run(mem_mib: int = 64, min_free_kbytes: int = 0, watermark_scale_factor: int = 10,
        watermark_boost_factor: int = 15000, extfrag_threshold: int = 500,
        swappiness: int = 60, swap_mib: int = 0, file_mibps: int = 300, anon_mibps: int = 0,
        slab_mibps: int = 8, order: int = 0, seconds: float = 0.5, seed: int = 0) -> Any:
    """One run of the playground's machine and workload mix."""
    sysctl = Sysctl(min_free_kbytes=min_free_kbytes or None,
                    watermark_scale_factor=watermark_scale_factor,
                    watermark_boost_factor=watermark_boost_factor,
                    extfrag_threshold=extfrag_threshold, swappiness=swappiness)
    node = Node.build(mem=f"{mem_mib}MiB", sysctl=sysctl)
    pages = sum(z.managed_pages for z in node.zones)
    work: list[Any] = []
    if file_mibps:
        work.append(FileStream(rate=f"{file_mibps}MiB", name="reader"))
    if anon_mibps:
        work.append(AnonGrowth(rate=f"{anon_mibps}MiB", size=int(pages * 0.8), hot=0.2,
                               name="hog"))
    if slab_mibps:
        work.append(KernelAlloc(rate=f"{slab_mibps}MiB", kind="slab", lifetime=0.5,
                                name="dentries", start=0.1))
    if order:
        work.append(HighOrderBurst(order=order, count=4, interval=0.05, lifetime=0.1,
                                   gfp="GFP_KERNEL", kind="kernel", name="burst", start=0.2))
    sim = Simulation(node, work, seed=seed, swap=f"{swap_mib}MiB" if swap_mib else None,
                     sample_interval=0.01)
    return sim.run(seconds)


def update(**values: Any) -> PanelOutput:
    res = run(**values)
    fig = figure(figsize=(10, 7))
    axs = fig.subplots(2, 2)
    plots.watermark_timeline(res, ax=axs[0, 0], markers=False)
    plots.priority_trace(res, ax=axs[0, 1])
    zname = plots._zone_name(res, None)
    first = res.vmstat.iloc[0]
    last = res.vmstat.iloc[-1]
    before = [int(first[f"buddy_{zname}_{o}"]) for o in range(11)]
    after = [int(last[f"buddy_{zname}_{o}"]) for o in range(11)]
    plots.buddyinfo_bars(before, after, ax=axs[1, 0], title=f"{zname}: free blocks per order",
                         labels=("start", "end"))
    mm = memmap.snapshot(res.node, zname)
    _small_map(axs[1, 1], mm)
    m = plots.metrics(res)
    text = "  ".join(f"{k}={v:g}" for k, v in m.items()
                     if not (isinstance(v, float) and np.isnan(v)) and v) or "no reclaim"
    lines = res.ftrace().splitlines()
    text += f"\nfree pages at end: {int(last['nr_free_pages'])}; ftrace lines: {len(lines)}"
    return PanelOutput(figure=fig, text=text)


def _small_map(ax: Any, mm: Any) -> None:
    """A memory map squeezed to one figure panel (one row per 4 pageblocks)."""
    import matplotlib.colors as mcolors

    width = 2048
    states = mm.states
    rows = -(-states.size // width)
    grid = np.concatenate([states, np.full(rows * width - states.size, 7, np.uint8)])
    ax.imshow(grid.reshape(rows, width), cmap=mcolors.ListedColormap(plots.STATE_COLOURS),
              vmin=-0.5, vmax=len(plots.STATE_COLOURS) - 0.5, aspect="auto",
              interpolation="nearest")
    ax.set_title(f"{mm.zone}: frames (white free, blue cache, red slab/kernel)", fontsize=9)
    ax.set_xticks([])
    ax.set_ylabel("row of 2048 frames")


def ftrace_head(n: int = 15, **values: Any) -> str:
    """The first kswapd/kcompactd lines of a run's ftrace text."""
    res = run(**settings(**values))
    keep = ("kswapd", "kcompactd", "direct_reclaim", "extfrag", "compaction_begin")
    lines = [ln for ln in res.ftrace().splitlines() if any(k in ln for k in keep)]
    return "\n".join(lines[:n])


def compare_settings(a: dict[str, Any], b: dict[str, Any],
                     labels: tuple[str, str] = ("A", "B")) -> Any:
    """Two settings of the playground side by side in the kernel developers' numbers."""
    return plots.compare(run(**settings(**a)), run(**settings(**b)), labels)


PANELS = [Panel("playground", CONTROLS, update, cache_size=16)]
