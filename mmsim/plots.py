"""The standard figures of the lessons, drawn from a run's ``Result``.

Every function takes a :class:`mmsim.Result` (or anything with the same
``vmstat``/``trace`` tables, such as a recorded real-kernel run), draws on a
matplotlib ``Axes`` (a new figure if none is given) and returns the ``Axes``;
tables come back as pandas DataFrames. Labels use kernel vocabulary: pages,
watermarks, ``pgscan_kswapd``, ``allocstall``...

=============================  ==========================================================
figure                         what it shows
=============================  ==========================================================
:func:`watermark_timeline`     free pages of a zone against min/low/high (+boost), with
                               kswapd's balance_pgdat runs and direct reclaim shaded and
                               wake/sleep markers
:func:`priority_trace`         the reclaim priority balance_pgdat worked at, over time
:func:`buddyinfo_bars`         free blocks per order, before and after
:func:`memory_map`             frames coloured by what they hold, pageblocks by type,
                               compaction scanner positions
:func:`fragindex_timeline`     fragmentation index per order over time
:func:`counters_table`         chosen /proc/vmstat counters at the end of a run
:func:`compare`                two runs side by side in the numbers kernel developers quote
=============================  ==========================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mmsim.mm.mmzone import frame_state_names, migratetype_names

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from matplotlib.axes import Axes

#: colours of frame states in memory maps (free, pcp, anon, file, kernel, slab, reserved,
#: hole, isolated)
STATE_COLOURS = ("#f7f7f7", "#d9f0d3", "#4393c3", "#92c5de", "#b2182b", "#f4a582",
                 "#525252", "#000000", "#fddc5c")
MT_COLOURS = {"Unmovable": "#b2182b", "Movable": "#2166ac", "Reclaimable": "#ef8a62",
              "HighAtomic": "#762a83", "CMA": "#1b7837", "Isolate": "#999999"}
WMARK_STYLE = {"min": ("#d7191c", "--"), "low": ("#fdae61", "--"), "high": ("#1a9641", "--")}


def _axes(ax: Axes | None, size: tuple[float, float] = (9, 4)) -> Axes:
    import matplotlib.pyplot as plt

    if ax is None:
        _fig, ax = plt.subplots(figsize=size)
    return ax


def _zone_name(result: Any, zone: str | None) -> str:
    cols = [c[5:] for c in result.vmstat.columns if c.startswith("free_")]
    if zone is None:
        # the zone with the most managed pages: where the action is
        node = getattr(result, "node", None)
        if node is not None:
            managed = [(z.managed_pages, z.name) for z in node.zones if z.name in cols]
            if managed:
                return max(managed)[1]
        return cols[-1]
    if zone not in cols:
        raise ValueError(f"zone: {zone!r} has no samples; allowed {', '.join(cols)}")
    return zone


def _runs(result: Any) -> list[dict[str, Any]]:
    node = getattr(result, "node", None)
    runs = getattr(node, "kswapd_runs", None)
    if runs is None:
        runs = getattr(result, "kswapd_runs", [])
    return [r for r in runs if "end" in r]


def _raw_records(result: Any) -> list[tuple] | None:
    """A simulation result's trace records, when its trace table has not been built.

    The figures below read a few events from them directly instead of building
    the whole ``result.trace`` DataFrame (times converted as that table has
    them: microseconds, in seconds). None for anything else (a recorded run).
    """
    if getattr(result, "_trace", True) is None:
        return getattr(result, "_records", None)
    return None


def _trace_times(t_ns: int) -> float:
    return (t_ns // 1000) / 1e6


def _direct_reclaims(result: Any) -> list[tuple[float, float]]:
    recs = _raw_records(result)
    if recs is not None:  # the loop below, on the records
        out = []
        open_: dict[Any, float] = {}
        for t, _comm, pid, _cpu, ev, _f in recs:
            if ev == "mm_vmscan_direct_reclaim_begin":
                open_[pid] = _trace_times(t)
            elif ev == "mm_vmscan_direct_reclaim_end" and pid in open_:
                out.append((open_.pop(pid), _trace_times(t)))
        return out
    tr = result.trace
    if tr is None or tr.empty:
        return []
    out = []
    open_: dict[Any, float] = {}
    sel = tr[tr.event.isin(["mm_vmscan_direct_reclaim_begin", "mm_vmscan_direct_reclaim_end"])]
    for t, pid, ev in zip(sel.time, sel.pid, sel.event):
        if ev.endswith("begin"):
            open_[pid] = t
        elif pid in open_:
            out.append((open_.pop(pid), t))
    return out


def watermark_timeline(result: Any, zone: str | None = None, ax: Axes | None = None,
                       window: tuple[float, float] | None = None,
                       markers: bool = True) -> Axes:
    """Free pages of ``zone`` against its min/low/high watermarks over time.

    Shading: kswapd's ``balance_pgdat`` runs (blue) and direct reclaim (red).
    Markers: ``mm_vmscan_kswapd_wake`` (▲) and ``mm_vmscan_kswapd_sleep`` (▼).
    """
    ax = _axes(ax)
    zname = _zone_name(result, zone)
    v = result.vmstat
    if window is not None:
        v = v[(v.time >= window[0]) & (v.time <= window[1])]
    t = v.time.to_numpy()
    ax.plot(t, v[f"free_{zname}"], color="#333333", lw=1.4, label=f"free ({zname})")
    for w in ("high", "low", "min"):
        colour, ls = WMARK_STYLE[w]
        ax.plot(t, v[f"{w}_{zname}"], color=colour, ls=ls, lw=1.1, label=w)
    lo = t.min() if t.size else 0.0
    hi = t.max() if t.size else 1.0
    _vspans(ax, [(r["start"], max(r["end"], r["start"] + 1e-4)) for r in _runs(result)
                 if not (r["end"] < lo or r["start"] > hi)],
            color="#4393c3", alpha=0.18, label="kswapd balance_pgdat")
    _vspans(ax, [(a, max(b, a + 1e-4)) for a, b in _direct_reclaims(result)
                 if not (b < lo or a > hi)],
            color="#d6604d", alpha=0.35, label="direct reclaim")
    recs = _raw_records(result) if markers else None
    if recs or (markers and recs is None and result.trace is not None
                and not result.trace.empty):
        ymax = float(np.nanmax(v[f"high_{zname}"])) if len(v) else 1.0
        for ev, sym, label in (("mm_vmscan_kswapd_wake", "^", "kswapd wake"),
                               ("mm_vmscan_kswapd_sleep", "v", "kswapd sleep")):
            if recs is not None:
                tt = np.array([_trace_times(r[0]) for r in recs if r[4] == ev], dtype=float)
                tt = tt[(tt >= lo) & (tt <= hi)]
            else:
                tr = result.trace
                tt = tr.time[tr.event == ev]
                tt = tt[(tt >= lo) & (tt <= hi)]
            if len(tt):
                ax.plot(tt, np.full(len(tt), ymax * 1.08), sym, ms=4, ls="none",
                        color="#2166ac" if "wake" in ev else "#762a83", label=label)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("pages")
    ax.set_title(f"Zone {zname}: free pages and watermarks")
    ax.legend(loc="upper right", fontsize=8, ncol=2)
    ax.set_ylim(bottom=0)
    return ax


def _vspans(ax: Axes, spans: list[tuple[float, float]], color: str, alpha: float,
            label: str) -> None:
    """``ax.axvspan(a, b, color=, alpha=, lw=0)`` for every span, as one artist.

    The same full-height shading, x data limits and legend entry (the label
    is the first span's) as one ``axvspan`` per span - a run can have
    hundreds of them, and one Rectangle patch each is slow to add and draw.
    """
    if not spans:
        return
    from matplotlib.collections import PolyCollection

    coll = PolyCollection([[(a, 0), (a, 1), (b, 1), (b, 0)] for a, b in spans],
                          transform=ax.get_xaxis_transform(which="grid"), facecolors=color,
                          edgecolors=color, linewidths=0, alpha=alpha, label=label)
    ax.add_collection(coll, autolim=False)
    xs = np.array([x for span in spans for x in span], dtype=float)
    ax.update_datalim(np.column_stack([xs, np.zeros_like(xs)]), updatex=True, updatey=False)
    ax.autoscale_view(scaley=False)


def priority_trace(result: Any, ax: Axes | None = None) -> Axes:
    """The priority each ``balance_pgdat`` pass ran at (12 = gentlest, 1 = hardest)."""
    ax = _axes(ax, (9, 2.8))
    node = result.node
    pts = getattr(node, "kswapd_priority_trace", [])
    if pts:
        t = np.array([p[0] for p in pts]) / 1e9
        pr = np.array([p[1] for p in pts])
        ax.plot(t, pr, "o", ms=2.5, color="#2166ac")
    ax.set_ylim(12.5, 0.5)
    ax.set_yticks([12, 10, 8, 6, 4, 2, 1])
    ax.set_xlabel("time (s)")
    ax.set_ylabel("priority")
    ax.set_title("balance_pgdat priority (scan lru_size >> priority)")
    return ax


def buddyinfo_bars(before: Sequence[int], after: Sequence[int] | None = None,
                   ax: Axes | None = None, title: str = "free blocks per order",
                   labels: tuple[str, str] = ("before", "after")) -> Axes:
    """Free blocks per order (a /proc/buddyinfo row), optionally before/after."""
    ax = _axes(ax, (7, 3))
    orders = np.arange(len(before))
    w = 0.4 if after is not None else 0.8
    ax.bar(orders - (w / 2 if after is not None else 0), before, width=w, color="#92c5de",
           label=labels[0])
    if after is not None:
        ax.bar(orders + w / 2, after, width=w, color="#2166ac", label=labels[1])
        ax.legend(fontsize=8)
    ax.set_yscale("symlog", linthresh=1)
    ax.set_xticks(orders)
    ax.set_xlabel("order")
    ax.set_ylabel("free blocks")
    ax.set_title(title)
    return ax


def memory_map(mm: Any, ax: Axes | None = None, width: int = 512,
               scanners: tuple[int, int] | None = None, title: str | None = None) -> Axes:
    """A zone's frames as an image: one row per pageblock (512 frames), coloured by state.

    A strip on the left shows each pageblock's migratetype; ``scanners`` =
    ``(migrate_pfn, free_pfn)`` draws the compaction scanners' positions.
    """
    import matplotlib.colors as mcolors
    from matplotlib.patches import Patch

    ax = _axes(ax, (7, 6))
    offset = mm.start_pfn - mm.pageblock_start
    states = np.concatenate([np.full(offset, 7, dtype=np.uint8), mm.states])
    rows = -(-states.size // width)
    pad = rows * width - states.size
    grid = np.concatenate([states, np.full(pad, 7, dtype=np.uint8)]).reshape(rows, width)
    cmap = mcolors.ListedColormap(STATE_COLOURS)
    strip = max(8, width // 40)
    ax.imshow(grid, cmap=cmap, vmin=-0.5, vmax=len(STATE_COLOURS) - 0.5, aspect="auto",
              interpolation="nearest", extent=(0, width, rows, 0))
    mt_rgb = np.array([mcolors.to_rgb(MT_COLOURS[migratetype_names[m]])
                       for m in mm.pageblock_mt[:rows]])
    if width == 512 and mt_rgb.size:
        ax.imshow(mt_rgb[:, None, :], aspect="auto", extent=(-strip - 2, -2, rows, 0))
        ax.set_xlim(-strip - 2, width)
    if scanners is not None:
        for pfn, colour, name in ((scanners[0], "#00a651", "migrate scanner"),
                                  (scanners[1], "#e31a1c", "free scanner")):
            r = (pfn - mm.pageblock_start) / width
            ax.axhline(r, color=colour, lw=1.5, label=name)
    present = sorted(set(np.unique(mm.states).tolist()))
    handles = [Patch(color=STATE_COLOURS[i], label=frame_state_names[i]) for i in present]
    handles += [Patch(color=MT_COLOURS[n], label=f"block: {n}")
                for n in sorted({migratetype_names[m] for m in mm.pageblock_mt.tolist()})]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    ax.set_xlabel("frame within pageblock")
    ax.set_ylabel("pageblock")
    ax.set_title(title or f"Zone {mm.zone} at t={mm.time:.2f} s")
    return ax


def fragindex_timeline(result: Any, zone: str | None = None, orders: Sequence[int] = (3, 6, 9),
                       ax: Axes | None = None) -> Axes:
    """Fragmentation index per order over time (from the sampled buddyinfo)."""
    from mmsim.mm.vmstat import __fragmentation_index, fill_contig_page_info

    ax = _axes(ax, (9, 3))
    zname = _zone_name(result, zone)
    v = result.vmstat
    cols = [f"buddy_{zname}_{o}" for o in range(11)]
    if cols[0] not in v:
        raise ValueError("fragindex_timeline: this run did not sample buddyinfo; run a "
                         "Simulation with sample_buddyinfo=True")
    rows = v[cols].to_numpy()
    for order in orders:
        vals = [__fragmentation_index(order, fill_contig_page_info(r.tolist(), order)) / 1000
                for r in rows]
        ax.plot(v.time, vals, label=f"order {order}")
    ax.axhline(0.5, color="#999999", ls=":", lw=1, label="extfrag_threshold 500")
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("fragmentation index")
    ax.set_title(f"Zone {zname}: fragmentation index (-1 = would succeed)")
    ax.legend(fontsize=8)
    return ax


def counters_table(result: Any, names: Sequence[str] | None = None) -> pd.DataFrame:
    """The chosen vmstat counters at the end of the run (non-zero ones by default)."""
    import pandas as pd

    from mmsim.mm.vmstat import VM_EVENT_ITEMS

    last = result.vmstat.iloc[-1]
    names = list(names) if names is not None else [n for n in VM_EVENT_ITEMS if last.get(n, 0)]
    return pd.DataFrame({"counter": names, "value": [int(last[n]) for n in names]}) \
        .set_index("counter")


#: the numbers a reclaim discussion on linux-mm quotes
COMPARE_METRICS = ("pgscan_kswapd", "pgsteal_kswapd", "pgscan_direct", "pgsteal_direct",
                   "allocstall", "kswapd efficiency %", "direct efficiency %", "pageoutrun",
                   "kswapd_low_wmark_hit_quickly", "kswapd_high_wmark_hit_quickly",
                   "compact_stall", "compact_success", "compact_daemon_wake", "pswpout",
                   "workingset_refault")


def metrics(result: Any) -> dict[str, float]:
    """The :data:`COMPARE_METRICS` of one run."""
    last = result.vmstat.iloc[-1]
    out: dict[str, float] = {}
    for m in COMPARE_METRICS:
        if m == "allocstall":
            out[m] = float(sum(last.get(f"allocstall_{z}", 0)
                               for z in ("dma", "dma32", "normal", "movable")))
        elif m == "kswapd efficiency %":
            scan = last.get("pgscan_kswapd", 0)
            out[m] = round(100.0 * last.get("pgsteal_kswapd", 0) / scan, 1) if scan else np.nan
        elif m == "direct efficiency %":
            scan = last.get("pgscan_direct", 0)
            out[m] = round(100.0 * last.get("pgsteal_direct", 0) / scan, 1) if scan else np.nan
        else:
            out[m] = float(last.get(m, 0))
    return out


def compare(a: Any, b: Any, labels: tuple[str, str] = ("A", "B")) -> pd.DataFrame:
    """Two runs side by side with the ratio B/A."""
    import pandas as pd

    ma, mb = metrics(a), metrics(b)
    df = pd.DataFrame({labels[0]: ma, labels[1]: mb})
    with np.errstate(divide="ignore", invalid="ignore"):
        df["ratio"] = (df[labels[1]] / df[labels[0]]).round(2)
    return df
