"""Lesson 00: the map of the series, the model in one picture, a first run, your machine.

Helpers the ``00-start-here`` notebook calls, and one small panel: shape a
node (fill it with page cache, pin kernel pages, punch holes) and see its
zones, free areas and pageblocks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from mmsim.mm.mmzone import (
    FRAME_FREE,
    FRAME_HOLE,
    FRAME_RESERVED,
    MAX_ORDER,
    migratetype_names,
    pageblock_nr_pages,
    pageblock_order,
)
from mmsim.widgets import Control, Panel, PanelOutput, figure

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from mmsim.mm.mmzone import Node, Zone

#: zone colours (DMA, DMA32, Normal, Movable, Device)
ZONE_COLOURS = ("#a6cee3", "#1f78b4", "#33a02c", "#fb9a99", "#cab2d6")
#: migratetype colours, as in mmsim.plots, then "reserved" for memblock-held blocks
MT_COLOURS = ("#b2182b", "#2166ac", "#ef8a62", "#762a83", "#1b7837", "#999999", "#525252")
RESERVED_BLOCK = 6  #: pseudo-migratetype of a mostly reserved pageblock in the picture
BLOCK_NAMES = (*migratetype_names, "reserved")

#: the counters the first run prints (all /proc/vmstat names)
FIRST_RUN_COUNTERS = ("pgalloc_dma", "pgalloc_dma32", "pgscan_kswapd", "pgsteal_kswapd",
                      "pgscan_direct", "pgsteal_direct", "allocstall_movable", "pageoutrun",
                      "kswapd_low_wmark_hit_quickly", "kswapd_high_wmark_hit_quickly")


# --------------------------------------------------------------------------
# the lesson map
# --------------------------------------------------------------------------
def lesson_map() -> Any:
    """The table of every lesson, as rendered Markdown."""
    from IPython.display import Markdown

    from mmsim.lessons import markdown_table

    return Markdown(markdown_table())


# --------------------------------------------------------------------------
# the model in one picture
# --------------------------------------------------------------------------
def pageblock_view(zone: Zone) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pageblock of ``zone``: migratetype, fraction of frames free, present?

    A pageblock counts as present when at least one of its frames belongs to
    the zone and is not a hole; one whose frames are mostly reserved gets the
    pseudo-type :data:`RESERVED_BLOCK` instead of its migratetype.
    """
    node = zone.node
    if not zone.spanned_pages:
        empty = np.zeros(0)
        return empty.astype(np.uint8), empty, empty.astype(bool)
    pb0 = zone.zone_start_pfn >> pageblock_order
    pb1 = ((zone.zone_end_pfn - 1) >> pageblock_order) + 1
    lo = (pb0 << pageblock_order) - node.node_start_pfn
    hi = (pb1 << pageblock_order) - node.node_start_pfn
    n = pb1 - pb0
    states = np.full(n * pageblock_nr_pages, FRAME_HOLE, dtype=np.uint8)
    zids = np.full(n * pageblock_nr_pages, 0xFF, dtype=np.uint8)
    a, b = max(lo, 0), min(hi, node.node_spanned_pages)
    states[a - lo:b - lo] = node.state[a:b]
    zids[a - lo:b - lo] = node.zone_id[a:b]
    states = states.reshape(n, pageblock_nr_pages)
    mine = zids.reshape(n, pageblock_nr_pages) == zone.idx
    usable = mine & (states != FRAME_HOLE)
    nr_usable = usable.sum(axis=1)
    free = ((states == FRAME_FREE) & mine).sum(axis=1)
    reserved = ((states == FRAME_RESERVED) & mine).sum(axis=1)
    frac = np.where(nr_usable > 0, free / np.maximum(nr_usable, 1), 0.0)
    mts = node.pageblock_mt[pb0 - node.pb_base:pb1 - node.pb_base].copy()
    # a pageblock that is mostly reserved (kernel image, memmap) is shown as such
    mts[(nr_usable > 0) & (reserved * 2 > nr_usable)] = RESERVED_BLOCK
    return mts, frac, nr_usable > 0


def _zone_bar(ax: Any, node: Node) -> None:
    """The node's pfn range with its zones, holes and reserved ranges."""
    from matplotlib.patches import Patch

    start = node.node_start_pfn
    end = start + node.node_spanned_pages
    ax.barh(0, end - start, left=start, height=0.6, color="#f0f0f0", edgecolor="#999999")
    handles = []
    span = max(end - start, 1)
    small = 0
    for z in (z for z in node.zones if z.spanned_pages):
        colour = ZONE_COLOURS[z.idx]
        ax.barh(0, z.spanned_pages, left=z.zone_start_pfn, height=0.6, color=colour,
                edgecolor="white", lw=0.5)
        label = (f"{z.name}: pfn {z.zone_start_pfn}–{z.zone_end_pfn - 1}, "
                 f"{z.managed_pages >> 8} MiB managed")
        x = z.zone_start_pfn + z.spanned_pages / 2
        if z.spanned_pages > 0.3 * span:
            ax.text(x, 0, label, ha="center", va="center", fontsize=8, color="white",
                    fontweight="bold")
        else:  # a narrow zone (DMA): label above the bar, joined by a line
            y = 0.55 + 0.4 * small
            small += 1
            ax.annotate(label, xy=(x, 0.3), xytext=(max(x, start + 0.01 * span), y),
                        ha="left", va="bottom", fontsize=8,
                        arrowprops={"arrowstyle": "-", "color": "#666666", "lw": 0.6})
        handles.append(Patch(color=colour, label=z.name))
    # holes and reserved frames, found as runs in the per-frame state
    st = node.state
    for state, colour, label in ((FRAME_HOLE, "#ffffff", "hole (no RAM)"),
                                 (FRAME_RESERVED, "#525252", "reserved (kernel, memmap)")):
        mask = np.concatenate([[False], st == state, [False]])
        edges = np.flatnonzero(mask[1:] != mask[:-1])
        runs = list(zip(edges[::2], edges[1::2]))
        big = [(a, b) for a, b in runs if b - a >= max(1, node.node_spanned_pages // 2000)]
        for a, b in big:
            ax.barh(0, b - a, left=start + a, height=0.6, color=colour,
                    hatch="///" if state == FRAME_HOLE else None, edgecolor="#999999", lw=0)
        if big:
            handles.append(Patch(facecolor=colour, edgecolor="#999999",
                                 hatch="///" if state == FRAME_HOLE else None, label=label))
    ax.set_xlim(start, end)
    ax.set_ylim(-0.45, 1.45)
    ax.set_yticks([])
    ax.set_xlabel("page frame number (pfn); one frame = 4 KiB")
    ax.set_title(f"Node {node.node_id}: {node.node_present_pages} present pages in "
                 f"{sum(1 for z in node.zones if z.present_pages)} zones", fontsize=10)
    ax.legend(handles=handles, loc="upper right", fontsize=7, ncol=len(handles),
              frameon=False)


def _free_areas(ax: Any, node: Node) -> None:
    zones = [z for z in node.zones if z.managed_pages]
    orders = np.arange(MAX_ORDER)
    w = 0.8 / max(len(zones), 1)
    for k, z in enumerate(zones):
        ax.bar(orders + (k - (len(zones) - 1) / 2) * w, z.nr_free_by_order(), width=w,
               color=ZONE_COLOURS[z.idx], label=z.name)
    top = max((max(z.nr_free_by_order()) for z in zones), default=0)
    if top > 20:
        ax.set_yscale("symlog", linthresh=1)
    else:
        from matplotlib.ticker import MaxNLocator

        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xticks(orders, [f"{o}\n{(4 << o) if o < 8 else (4 << o) // 1024}"
                           f"{'K' if o < 8 else 'M'}" for o in orders], fontsize=7)
    ax.set_xlabel("order (block of 2^order pages, size)")
    ax.set_ylabel("free blocks")
    ax.set_title("free_area[order].nr_free per zone (/proc/buddyinfo)", fontsize=10)
    ax.legend(fontsize=7)


def _pageblocks(ax: Any, zone: Zone) -> None:
    import matplotlib.colors as mcolors
    from matplotlib.patches import Patch

    mts, frac, present = pageblock_view(zone)
    n = mts.size
    cols = max(1, int(np.ceil(np.sqrt(n * 1.6))))
    rows = max(1, -(-n // cols))
    rgb = np.zeros((rows * cols, 4))  # padding cells stay transparent
    base = np.array([mcolors.to_rgb(MT_COLOURS[m]) for m in mts]) if n else np.zeros((0, 3))
    # pale = free: blend the migratetype colour towards white by the free fraction
    shade = base + (1 - base) * (0.85 * frac)[:, None]
    shade[~present] = mcolors.to_rgb("#000000")
    rgb[:n, :3] = shade
    rgb[:n, 3] = 1.0
    ax.imshow(rgb.reshape(rows, cols, 4), interpolation="nearest", aspect="auto")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel(f"pfn order, row by row ({cols} pageblocks per row)", fontsize=8)
    kinds = sorted({int(m) for m, p in zip(mts, present) if p})
    handles = [Patch(color=MT_COLOURS[m], label=BLOCK_NAMES[m]) for m in kinds]
    if (~present).any():
        handles.append(Patch(color="#000000", label="no memory"))
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              title="pageblock type", title_fontsize=7)
    ax.set_title(f"{zone.name}: {int(present.sum())} pageblocks of 512 pages\n"
                 "(colour: migratetype; paler = more of it free)", fontsize=10)


def _watermarks(ax: Any, node: Node) -> None:
    """Each zone's free pages against its min, low and high watermarks (log scale)."""
    from matplotlib.ticker import LogLocator

    zs = [z for z in node.zones if z.managed_pages]
    for y, z in enumerate(zs):
        ax.barh(y, max(z.nr_free_pages, 1), height=0.55, color=ZONE_COLOURS[z.idx])
        for w, colour in ((z.min_wmark_pages, "#d7191c"), (z.low_wmark_pages, "#fdae61"),
                          (z.high_wmark_pages, "#1a9641")):
            ax.plot([max(w, 1)] * 2, [y - 0.38, y + 0.38], color=colour, lw=2.2)
        ax.text(max(z.nr_free_pages, 1) * 1.08, y, f"{z.nr_free_pages} free", va="center",
                fontsize=7)
    ax.plot([], [], color="#d7191c", lw=2.2, label="min")
    ax.plot([], [], color="#fdae61", lw=2.2, label="low")
    ax.plot([], [], color="#1a9641", lw=2.2, label="high")
    ax.set_yticks(range(len(zs)), [z.name for z in zs], fontsize=8)
    ax.set_xscale("log")
    # minor ticks at 2x and 5x each power of ten (the default 2x..9x is 56 tick objects
    # here, a quarter of the figure's drawing time)
    ax.xaxis.set_minor_locator(LogLocator(base=10, subs=(2.0, 5.0)))
    top = max(max(z.managed_pages for z in zs), 10)
    ax.set_xlim(1, top * 3)
    ax.set_xlabel("pages (log scale)", fontsize=8)
    ax.set_title(f"free pages and watermarks (min_free_kbytes = {node.min_free_kbytes})",
                 fontsize=10)
    ax.legend(fontsize=7, loc="lower right", ncol=3)


def model_picture(node: Node, zone: str | None = None, title: str = "") -> PanelOutput:
    """Node → zones (and their watermarks) → free areas → pageblocks, from a node's state."""
    zs = [z for z in node.zones if z.managed_pages]
    z = node.zone(zone) if zone else max(zs, key=lambda q: q.managed_pages)
    fig = figure(figsize=(10, 7.6))
    gs = fig.add_gridspec(3, 2, height_ratios=(1, 0.35 + 0.25 * len(zs), 2.1),
                          width_ratios=(1.25, 1))
    _zone_bar(fig.add_subplot(gs[0, :]), node)
    _watermarks(fig.add_subplot(gs[1, :]), node)
    _free_areas(fig.add_subplot(gs[2, 0]), node)
    _pageblocks(fig.add_subplot(gs[2, 1]), z)
    if title:
        fig.suptitle(title, fontsize=11)
    lines = [f"{q.name}: pfn {q.zone_start_pfn}-{q.zone_end_pfn - 1}  managed "
             f"{q.managed_pages}  free {q.nr_free_pages}  min {q.min_wmark_pages}  "
             f"low {q.low_wmark_pages}  high {q.high_wmark_pages}  "
             f"buddyinfo {' '.join(str(c) for c in q.nr_free_by_order())}" for q in zs]
    return PanelOutput(figure=fig, text="\n".join(lines))


def shape_node(mem_mib: int = 512, fill: int = 80, punch: int = 50,
               pin_every: int = 256, seed: int = 0,
               min_free_kbytes: int | None = None) -> Node:
    """A booted node, filled with page cache and pinned kernel pages, then holes punched.

    ``fill`` % of the memory above twice the high watermarks is read into the
    page cache (movable, ``GFP_HIGHUSER_MOVABLE``); after every ``pin_every``
    cache pages one unmovable kernel page is allocated (``GFP_KERNEL``; 0 =
    none); then ``punch`` % of the cache pages, chosen at random, are freed.
    ``min_free_kbytes`` is written as an administrator would (None: the boot
    default). Allocations go straight to the allocator, with no simulated time.
    """
    from mmsim import Node, Sysctl
    from mmsim.mm.page_alloc import alloc_pages_bulk, free_pages_bulk

    node = Node.build(mem=f"{mem_mib}MiB", sysctl=Sysctl(min_free_kbytes=min_free_kbytes))
    rng = np.random.default_rng(seed)
    spare = node.nr_free_pages - 2 * sum(z.high_wmark_pages for z in node.zones)
    target = max(0, int(spare * fill / 100))
    cache = []
    done = 0
    while done < target:
        n = min(4096, target - done)
        cache.append(alloc_pages_bulk(node, n, "GFP_HIGHUSER_MOVABLE", kind="file"))
        if pin_every:
            alloc_pages_bulk(node, max(1, n // pin_every), "GFP_KERNEL", kind="kernel")
        done += n
    if cache and punch:
        pfns = np.concatenate(cache)
        holes = rng.permutation(pfns)[: int(pfns.size * punch / 100)]
        free_pages_bulk(node, np.sort(holes))
    return node


def update(mem_mib: int = 512, min_free_kbytes: int = 4096, fill: int = 80, punch: int = 50,
           pin_every: str = "256") -> PanelOutput:
    every = 0 if pin_every == "none" else int(pin_every)
    node = shape_node(mem_mib, fill, punch, every, min_free_kbytes=min_free_kbytes)
    out = model_picture(node, title=f"{mem_mib} MiB: {fill}% filled with page cache, "
                                    f"{punch}% of it freed again, a kernel page pinned "
                                    + (f"every {every} pages" if every else "never"))
    return out


CONTROLS = [
    Control("mem_mib", "log2", 512, 64, 1024, label="memory (MiB)",
            help="RAM of an x86_64 box, laid out as DMA / DMA32"),
    Control("min_free_kbytes", "int", 4096, 128, 65536, step=128, label="min_free_kbytes",
            help="vm.min_free_kbytes as an administrator writes it: sets the watermarks"),
    Control("fill", "int", 80, 0, 100, step=5, label="fill with page cache (%)",
            help="share of the memory above the watermarks read into the page cache"),
    Control("punch", "int", 50, 0, 100, step=5, label="free again (%)",
            help="share of the cache pages freed again, at random"),
    Control("pin_every", "choice", "256", options=("none", "64", "256", "1024"),
            label="pin a kernel page every",
            help="one unmovable GFP_KERNEL page after this many cache pages"),
]

PANELS = [Panel("the model in one picture", CONTROLS, update)]


# --------------------------------------------------------------------------
# the first simulation
# --------------------------------------------------------------------------
def first_run(seconds: float = 3.0) -> Any:
    """The ``file-stream`` scenario on 512 MiB for ``seconds`` of simulated time.

    Sampled every millisecond, so that kswapd's few-millisecond cycles show.
    """
    from mmsim import scenarios

    sim = scenarios.build("file-stream", mem="512MiB", seed=0, sample_interval=0.001)
    return sim.run(seconds)


def first_run_figure(result: Any, zoom: tuple[float, float] = (2.0, 2.05)) -> PanelOutput:
    """The whole run, and a 50 ms window in which kswapd's cycles are visible."""
    from mmsim import plots

    fig = figure(figsize=(11, 3.9))
    a, b = fig.subplots(1, 2, width_ratios=(1, 1.3))
    plots.watermark_timeline(result, ax=a, markers=False)
    a.set_title("DMA32: the whole run", fontsize=10)
    a.legend(loc="upper right", fontsize=7)
    plots.watermark_timeline(result, ax=b, window=zoom)
    z = max((q for q in result.node.zones if q.managed_pages),
            key=lambda q: q.managed_pages).name
    v = result.vmstat
    b.set_ylim(0, float(v[f"high_{z}"].max()) * 1.3)
    b.set_title(f"DMA32: {int((zoom[1] - zoom[0]) * 1000)} ms from t = {zoom[0]} s, "
                "kswapd runs shaded", fontsize=10)
    b.legend(loc="lower center", fontsize=7, ncol=4)
    return PanelOutput(figure=fig)


def counters(result: Any) -> pd.DataFrame:
    """The reclaim counters of a run, as /proc/vmstat names them."""
    from mmsim import plots

    return plots.counters_table(result, FIRST_RUN_COUNTERS)


def ftrace_excerpt(result: Any, events: tuple[str, ...] = (
        "mm_vmscan_kswapd_sleep", "mm_vmscan_wakeup_kswapd", "mm_vmscan_kswapd_wake"),
        n: int = 8) -> str:
    """The first ``n`` lines of the run's ftrace text that carry one of ``events``."""
    lines = [ln for ln in result.ftrace().splitlines() if any(f" {e}:" in ln for e in events)]
    return "\n".join(lines[:n])


# --------------------------------------------------------------------------
# your machine
# --------------------------------------------------------------------------
def machine_table(node: Node) -> pd.DataFrame:
    """Zones of a node: pfn range, sizes, free pages and the three watermarks."""
    import pandas as pd

    rows = []
    for z in node.zones:
        if not z.present_pages:
            continue
        rows.append({"zone": z.name, "start_pfn": z.zone_start_pfn,
                     "spanned": z.spanned_pages, "present": z.present_pages,
                     "managed": z.managed_pages, "free": z.nr_free_pages,
                     "min": z.min_wmark_pages, "low": z.low_wmark_pages,
                     "high": z.high_wmark_pages})
    return pd.DataFrame(rows).set_index("zone")


def zoneinfo_excerpt(node: Node, keys: tuple[str, ...] = (
        "pages free", "min", "low", "high", "spanned", "present", "managed",
        "protection:")) -> str:
    """The watermark and size lines of ``node.render("zoneinfo")`` for populated zones.

    Per-node statistics, zone counters and the per-cpu ``pagesets`` are cut.
    """
    out: list[str] = []
    keep = False
    for ln in node.render("zoneinfo").splitlines():
        if ln.startswith("Node "):
            name = ln.split()[-1]
            keep = any(z.name == name and z.present_pages for z in node.zones)
            if keep:
                out.append(ln)
            continue
        parts = ln.split()
        if keep and parts and (parts[0] in keys or " ".join(parts[:2]) in keys):
            out.append(ln)
        elif keep and parts and parts[0] == "pagesets":
            keep = False
    return "\n".join(out)
