"""Lesson 21: ``compact_zone`` - the two scanners on a memory map.

Also home of :func:`fragmented_node`, the small fragmented machine that the
kcompactd lessons (17-21) share: page cache with pinned kernel pages, holes
punched at random, built in simulated time by the ``Fragmenter`` workload.

How the fragmented state is made (and why it is honest)
-------------------------------------------------------
The fill runs with ``min_free_kbytes=128`` so that almost all free memory is
used (a fill at the boot default would leave ~2 x high watermark free in
large blocks, and order-9 requests would find a free block at once). After the
fill the fragmentation boosts that the pinned kernel pages caused are cleared
(kswapd, not running here, would have reclaimed them away) and
``min_free_kbytes`` is written back to the boot default - in that order,
because v5.0's ``__setup_per_zone_wmarks`` computes low/high from a still
boosted min. Building takes 20-60 ms for 64-128 MiB, so panels rebuild it
on every update instead of copying a node (a node's numpy views share memory
with its bytearrays, which ``copy.deepcopy`` would not preserve).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from mmsim.widgets import Control, Panel, PanelOutput, figure

#: punch fraction for each "fragmentation" level of the panels
#: (punch, pin_every, fill) of each "fragmentation" level of the panels: heavier = less
#: free memory left, in smaller holes, and more pinned (unmovable) kernel pages. (The
#: Fragmenter's fill target does not count its pinned pages, so a dense pinning needs a
#: fill below 1 to finish.)
LEVELS = {"light": (0.7, 1024, 1.0), "medium": (0.4, 256, 1.0), "heavy": (0.2, 64, 0.97)}


@lru_cache(maxsize=16)
def boot_min_free_kbytes(zones: tuple[tuple[str, str], ...]) -> int:
    """The boot-time default min_free_kbytes of a node with these zones (THP off below 512 MiB)."""
    from mmsim.mm.layout import build_paper_node

    return build_paper_node(zones=dict(zones)).min_free_kbytes


def fragmented_node(zones: dict[str, str] | None = None, punch: float = 0.4,
                    pin_every: int = 256, seed: int = 0, daemons: bool = False,
                    min_free_kbytes: int | None = None, fill: float = 1.0,
                    trace: bool = True) -> tuple[Any, Any]:
    """A booted node whose free memory is in small pieces; returns ``(node, sim)``.

    ``daemons=True`` starts kcompactd and kswapd *after* the fill (through the
    twins ``kcompactd_init`` and ``kswapd_init``, in the kernel's initcall
    order) and runs until both sleep, so a lesson can wake them.
    """
    from mmsim import Node, Simulation, Sysctl
    from mmsim.mm.mmzone import ZONE_BOOSTED_WATERMARK
    from mmsim.workloads import Fragmenter

    zones = zones or {"Normal": "64MiB"}
    key = tuple(sorted(zones.items()))
    node = Node.build(zones=zones, sysctl=Sysctl(min_free_kbytes=128))
    sim = Simulation(node, [Fragmenter(fill=fill, punch=punch, unmovable_every=pin_every,
                                       name="fragmenter")],
                     seed=seed, daemons=False, trace=trace, sample_buddyinfo=False,
                     sample_interval=0.05)
    for _ in range(100):  # until the fragmenter has punched its holes and holds on
        sim.run(0.05)
        if "fragmenter.pinned" in sim.stats:
            break
    for z in node.zones:
        z.watermark_boost = 0
        z.flags &= ~ZONE_BOOSTED_WATERMARK
    node.machine.sysctl.min_free_kbytes = (min_free_kbytes if min_free_kbytes is not None
                                           else boot_min_free_kbytes(key))
    if daemons:
        from mmsim.mm.compaction import kcompactd_init
        from mmsim.mm.vmscan import kswapd_init

        kcompactd_init(node.machine)
        kswapd_init(node.machine)
        sim.run(0.2)  # kswapd naps HZ/10 then sleeps; kcompactd sleeps at once
    return node, sim


def buddy_row(zone: Any) -> list[int]:
    """The zone's /proc/buddyinfo row (free blocks per order)."""
    return [int(n) for n in zone._nr_free]


# --------------------------------------------------------------------------
# the experiment: one compact_zone run, stepped in simulated time
# --------------------------------------------------------------------------
def compact_run(order: int = 9, level: str = "medium", seed: int = 0,
                during: int = 2) -> dict[str, Any]:
    """Run ``compact_zone`` as kcompactd would (GFP_KERNEL, MIGRATE_SYNC_LIGHT) on a
    fragmented 64 MiB zone, inside the simulation so that it takes simulated time.

    Returns snapshots before, ``during`` in between and after, the scanner
    positions over time, buddyinfo before/after, counters and the result.
    """
    from mmsim.kthread import NSEC_PER_SEC
    from mmsim.memmap import scanner_runs, snapshot
    from mmsim.mm import compaction as C
    from mmsim.mm.gfp import GFP_KERNEL

    punch, pin_every, fill = LEVELS[level]
    node, sim = fragmented_node({"Normal": "64MiB"}, punch=punch, pin_every=pin_every,
                                fill=fill, seed=seed)
    zone = node.zone("Normal")
    before = snapshot(node, "Normal")
    bi_before = buddy_row(zone)
    ev0 = dict(node.machine.vm_events)
    verdict, fragindex = C.compaction_suitable_verdict(zone, order, 0, zone.idx)
    cc = C.CompactControl(order, GFP_KERNEL, C.MIGRATE_SYNC_LIGHT, classzone_idx=zone.idx)
    out: dict[str, Any] = {}

    def task(_sim: Any) -> Any:
        out["result"] = yield from C.compact_zone(zone, cc)

    from mmsim.workloads import Script

    t0 = sim.sched.now_ns
    sim.sched.spawn(sim._run_workload, "compactor", Script(fn=task), None, cpu=0, pid=900)
    # a first short step to learn how long the whole run takes would disturb nothing, but
    # the run length is unknown: step in 200 us slices and keep the frames
    frames = [(0.0, before, (zone.compact_cached_migrate_pfn[1],
                             zone.compact_cached_free_pfn))]
    step = 200_000
    mids = []
    for _ in range(2000):
        if "result" in out:
            break
        sim.run(step / NSEC_PER_SEC)
        if "result" not in out:
            mids.append(((sim.sched.now_ns - t0) / 1e6, snapshot(node, "Normal"),
                         (cc.migrate_pfn, cc.free_pfn)))
    if mids and during:
        pick = np.linspace(0, len(mids) - 1, during + 2)[1:-1].round().astype(int)
        frames += [mids[i] for i in sorted(set(pick.tolist()))]
    runs = scanner_runs(node, "Normal")
    if runs:  # compact_zone returned early (SUCCESS/SKIPPED) when there is no run record
        run = runs[-1]
        end_ms = (run["end"] * 1e9 - t0) / 1e6
        frames.append((end_ms, snapshot(node, "Normal"), run["positions"][-1][1:]))
        positions = [((t * 1e9 - t0) / 1e6, m, f) for t, m, f in run["positions"]]
    else:
        end_ms = 0.0
        positions = []
    ev1 = node.machine.vm_events
    counters = {k: int(ev1[k] - ev0.get(k, 0)) for k in
                ("compact_migrate_scanned", "compact_free_scanned", "compact_isolated",
                 "pgmigrate_success", "pgmigrate_fail")}
    ftrace = [ln for ln in sim.tracer.ftrace().splitlines()
              if "mm_compaction" in ln] if sim.tracer is not None else []
    return {
        "node": node, "zone": zone, "order": order, "level": level, "ftrace": ftrace,
        "verdict": C.compact_result_names[verdict], "fragindex": fragindex,
        "result": C.compact_result_names[out["result"]],
        "frames": frames, "positions": positions,
        "buddy_before": bi_before, "buddy_after": buddy_row(zone),
        "counters": counters, "duration_ms": end_ms,
        "skip_bits": int(node.pageblock_skip.sum()),
        "zone_start": zone.zone_start_pfn, "zone_end": zone.zone_end_pfn,
        "cached": (zone.compact_cached_migrate_pfn[1], zone.compact_cached_free_pfn),
    }


def summary(r: dict[str, Any]) -> str:
    """The numbers of one run, as short lines (the checked output of the lesson)."""
    c = r["counters"]
    fi = "not consulted" if r["fragindex"] is None else r["fragindex"]
    lines = [
        f"order {r['order']}, fragmentation {r['level']}: compaction_suitable -> "
        f"{r['verdict']} (fragindex {fi})",
        f"compact_zone -> COMPACT_{r['result'].upper()} after {r['duration_ms']:.2f} ms "
        "of simulated time",
        f"compact_migrate_scanned {c['compact_migrate_scanned']}, compact_free_scanned "
        f"{c['compact_free_scanned']}, compact_isolated {c['compact_isolated']}, "
        f"pgmigrate_success {c['pgmigrate_success']}",
        f"pageblocks with the skip bit set: {r['skip_bits']} of "
        f"{(r['zone_end'] - r['zone_start']) // 512}",
        f"buddyinfo before: {' '.join(map(str, r['buddy_before']))}",
        f"buddyinfo after : {' '.join(map(str, r['buddy_after']))}",
    ]
    return "\n".join(lines)


def _draw_map(ax: Any, mm: Any, scanners: tuple[int, int] | None, title: str,
              legend: bool = False) -> None:
    import matplotlib.colors as mcolors

    from mmsim.mm.mmzone import migratetype_names
    from mmsim.plots import MT_COLOURS, STATE_COLOURS

    width = 512
    offset = mm.start_pfn - mm.pageblock_start
    states = np.concatenate([np.full(offset, 7, dtype=np.uint8), mm.states])
    rows = -(-states.size // width)
    pad = rows * width - states.size
    grid = np.concatenate([states, np.full(pad, 7, dtype=np.uint8)]).reshape(rows, width)
    cmap = mcolors.ListedColormap(STATE_COLOURS)
    ax.imshow(grid, cmap=cmap, vmin=-0.5, vmax=len(STATE_COLOURS) - 0.5, aspect="auto",
              interpolation="nearest", extent=(0, width, rows, 0))
    mt = np.array([mcolors.to_rgb(MT_COLOURS[migratetype_names[m]])
                   for m in mm.pageblock_mt[:rows]])
    ax.imshow(mt[:, None, :], aspect="auto", extent=(-26, -4, rows, 0))
    skip = np.flatnonzero(mm.pageblock_skip[:rows])
    if skip.size:
        ax.plot(np.full(skip.size, width + 14), skip + 0.5, "s", ms=3.2, color="#ff7f00",
                clip_on=False, label="skip bit")
    if scanners is not None:
        for pfn, colour, name in ((scanners[0], "#00a651", "migrate scanner"),
                                  (scanners[1], "#e31a1c", "free scanner")):
            r = (pfn - mm.pageblock_start) / width
            ax.axhline(r, color=colour, lw=2, label=name)
    ax.set_xlim(-28, width + 22)
    ax.set_ylim(rows, 0)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([0, 256, 512])
    ax.tick_params(labelsize=7)


def _plain_log_ticks(ax: Any, top: float) -> None:
    """0, 1, 10, 100 ... as plain text ticks (mathtext labels cost ~50 ms per figure)."""
    ticks = [0] + [10 ** k for k in range(0, 7) if 10 ** k <= top * 1.01]
    ax.set_yticks(ticks, [str(t) for t in ticks])
    ax.yaxis.set_minor_locator(__import__("matplotlib.ticker").ticker.NullLocator())


def figure_for(r: dict[str, Any]) -> Any:
    """Memory maps before/during/after, the scanners over time and buddyinfo."""
    from matplotlib.patches import Patch

    from mmsim.mm.mmzone import frame_state_names
    from mmsim.plots import MT_COLOURS, STATE_COLOURS

    frames = r["frames"]
    n = len(frames)
    fig = figure(figsize=(2.35 * n + 4.6, 4.6), layout=None)  # manual layout: 3x faster
    gs = fig.add_gridspec(2, n + 2, width_ratios=[1] * n + [1.35, 0.9],
                          height_ratios=[1, 1], left=0.06, right=0.99, bottom=0.1, top=0.88,
                          wspace=0.35, hspace=0.45)
    for i, (t, mm, sc) in enumerate(frames):
        ax = fig.add_subplot(gs[:, i])
        label = "before" if i == 0 else ("after" if i == n - 1 else "during")
        if n == 1:
            label = "before = after"
        _draw_map(ax, mm, sc if r["positions"] else None, f"{label}, t={t:.2f} ms")
        if i == 0:
            ax.set_ylabel("pageblock (512 frames per row)", fontsize=8)
        ax.set_xlabel("frame in block", fontsize=7)
    ax = fig.add_subplot(gs[0, n])
    if r["positions"]:
        pos = np.array(r["positions"], dtype=float)
        start = frames[0][1].pageblock_start
        ax.plot(pos[:, 0], (pos[:, 1] - start) / 512, color="#00a651",
                label="migrate_pfn (up)")
        ax.plot(pos[:, 0], (pos[:, 2] - start) / 512, color="#e31a1c",
                label="free_pfn (down)")
        ax.invert_yaxis()
        ax.legend(fontsize=7, loc="center right")
    else:
        ax.text(0.5, 0.5, f"compaction_suitable: {r['verdict'].upper()}\n"
                "compact_zone returns before\nthe scanners start",
                ha="center", va="center", fontsize=8, transform=ax.transAxes)
    ax.set_xlabel("simulated ms", fontsize=8)
    ax.set_ylabel("pageblock", fontsize=8)
    ax.set_title(f"scanners -> COMPACT_{r['result'].upper()}", fontsize=9)
    ax.tick_params(labelsize=7)
    ax = fig.add_subplot(gs[1, n])
    orders = np.arange(11)
    ax.bar(orders - 0.2, r["buddy_before"], width=0.4, color="#92c5de", label="before")
    ax.bar(orders + 0.2, r["buddy_after"], width=0.4, color="#2166ac", label="after")
    ax.axvline(r["order"] - 0.5, color="#999999", ls=":", lw=1)
    ax.set_yscale("symlog", linthresh=1)
    _plain_log_ticks(ax, max(max(r["buddy_before"]), max(r["buddy_after"]), 1))
    ax.set_xticks(orders)
    ax.set_xlabel("order", fontsize=8)
    ax.set_ylabel("free blocks", fontsize=8)
    ax.set_title("buddyinfo", fontsize=9)
    ax.legend(fontsize=7)
    ax.tick_params(labelsize=7)
    lax = fig.add_subplot(gs[:, n + 1])
    lax.axis("off")
    present = sorted(set().union(*[set(np.unique(f[1].states).tolist()) for f in frames]))
    handles = [Patch(color=STATE_COLOURS[i], label=frame_state_names[i]) for i in present]
    handles += [Patch(color=MT_COLOURS[k], label=f"block: {k}")
                for k in ("Unmovable", "Movable", "Reclaimable")]
    handles += [Patch(color="#00a651", label="migrate scanner"),
                Patch(color="#e31a1c", label="free scanner"),
                Patch(color="#ff7f00", label="skip bit (right edge)")]
    lax.legend(handles=handles, loc="center left", fontsize=7, frameon=False)
    fig.suptitle(f"compact_zone, order {r['order']}, zone Normal 64 MiB, "
                 f"fragmentation {r['level']}", fontsize=10)
    return fig


CONTROLS = [
    Control("order", "int", 9, 1, 10, label="order",
            help="cc.order: the request compaction works for (kcompactd_max_order)"),
    Control("fragmentation", "choice", "medium", options=tuple(LEVELS),
            label="fragmentation",
            help="how much of the page cache was punched out (light 15 %, medium 40 %, "
                 "heavy 70 %)"),
]


def update(order: int = 9, fragmentation: str = "medium") -> PanelOutput:
    r = compact_run(order, fragmentation, during=1)
    return PanelOutput(figure=figure_for(r), text=summary(r))


PANELS = [Panel("compact_zone: the two scanners", CONTROLS, update)]


# --------------------------------------------------------------------------
# "On your machine" (shared by lessons 15-22)
# --------------------------------------------------------------------------
HOST_COUNTERS = ("compact_migrate_scanned", "compact_free_scanned", "compact_isolated",
                 "compact_stall", "compact_fail", "compact_success", "compact_daemon_wake",
                 "compact_daemon_migrate_scanned", "compact_daemon_free_scanned")


def host_report(files: tuple[str, ...] = ("vmstat", "buddyinfo", "extfrag_index")) -> str:
    """This host's compaction counters, buddyinfo and extfrag index, as far as readable.

    Never raises: on a non-Linux host, or where a file cannot be read (debugfs
    needs root and a mounted /sys/kernel/debug), it says so and goes on.
    """
    from mmsim.lessons import read_host_file

    out: list[str] = []
    if "vmstat" in files:
        text = read_host_file("/proc/vmstat")
        if text is None:
            out.append("/proc/vmstat: not readable here (not Linux?)")
        else:
            vals = dict(ln.split()[:2] for ln in text.splitlines() if ln.count(" ") >= 1)
            out.append("/proc/vmstat:")
            out += [f"  {k:32s} {vals[k]}" for k in HOST_COUNTERS if k in vals]
            missing = [k for k in HOST_COUNTERS if k not in vals]
            if missing:
                out.append(f"  (not in this kernel: {', '.join(missing)} - "
                           "CONFIG_COMPACTION off?)")
    if "buddyinfo" in files:
        text = read_host_file("/proc/buddyinfo")
        out.append("/proc/buddyinfo:" if text else "/proc/buddyinfo: not readable here")
        if text:
            out += ["  " + " ".join(ln.split()) for ln in text.splitlines() if ln.strip()]
    for name in ("extfrag_index", "unusable_index"):
        if name not in files:
            continue
        text = read_host_file(f"/sys/kernel/debug/extfrag/{name}")
        if text is None:
            out.append(f"/sys/kernel/debug/extfrag/{name}: not readable here "
                       "(needs root and debugfs)")
        else:
            out.append(f"/sys/kernel/debug/extfrag/{name}:")
            out += ["  " + " ".join(ln.split()) for ln in text.splitlines() if ln.strip()]
    return "\n".join(out)


def result_table(orders: tuple[int, ...] = (7, 8, 9, 10),
                 levels: tuple[str, ...] = tuple(LEVELS)) -> Any:
    """One compact_zone run per (order, level): verdict, result and work done."""
    import pandas as pd

    rows = []
    for level in levels:
        for order in orders:
            r = compact_run(order, level, during=0)
            c = r["counters"]
            rows.append({"fragmentation": level, "order": order,
                         "suitable": r["verdict"], "fragindex": r["fragindex"] if
                         r["fragindex"] is not None else "-",
                         "result": r["result"], "ms": round(r["duration_ms"], 2),
                         "migrate_scanned": c["compact_migrate_scanned"],
                         "free_scanned": c["compact_free_scanned"],
                         "migrated": c["pgmigrate_success"], "skip bits": r["skip_bits"]})
    return pd.DataFrame(rows).set_index(["fragmentation", "order"])


# --------------------------------------------------------------------------
# check yourself
# --------------------------------------------------------------------------
def _q_scanners(rng: np.random.Generator, seed: int) -> Any:
    from mmsim import exercises

    if rng.integers(0, 2):
        start = int(rng.choice([0x1000, 0x40000, 0x100000]))
        end = start + int(rng.integers(8, 4000)) * 512 + int(rng.choice([0, 0, 100, 300]))
        ans = hex((end - 1) & ~511)
        return exercises.Question(
            "compact_scanners", seed,
            f"A zone spans pfns {hex(start)}..{hex(end - 1)}. compact_zone runs with "
            "whole_zone. At which pfn does the free scanner start? (hex, e.g. 0x3e00)", ans,
            f"At the start of the zone's last pageblock: (zone_end - 1) rounded down to 512 "
            f"pages = ({hex(end)} - 1) & ~0x1ff = {ans}; the migrate scanner starts at "
            f"{hex(start)}.")
    mig = int(rng.integers(0x800, 0x8000))
    free = mig + int(rng.integers(-600, 1400))
    met = (free >> 9) <= (mig >> 9)
    return exercises.Question(
        "compact_scanners", seed,
        f"The migrate scanner is at pfn {hex(mig)} and the free scanner at {hex(free)}. "
        "Have the scanners met (compact_scanners_met)? (yes/no)", "yes" if met else "no",
        f"They have met when free_pfn >> 9 <= migrate_pfn >> 9 (same or crossed pageblock): "
        f"{free >> 9} <= {mig >> 9} is {str(met).lower()}.")


def _q_result(rng: np.random.Generator, seed: int) -> Any:
    from mmsim import exercises

    contended = bool(rng.integers(0, 5) == 0)
    met = bool(rng.integers(0, 2))
    whole = bool(rng.integers(0, 2))
    block = bool(rng.integers(0, 2))
    if contended:
        ans, why = "COMPACT_CONTENDED", "contention is tested first"
    elif met:
        ans = "COMPACT_COMPLETE" if whole else "COMPACT_PARTIAL_SKIPPED"
        why = ("the scanners met; the run " + ("covered the whole zone" if whole else
                                                "resumed from cached positions")
               + " - a free block that appeared does not matter once they have met")
    elif block:
        ans, why = "COMPACT_SUCCESS", "a free block of the order is on an acceptable list"
    else:
        ans, why = "COMPACT_CONTINUE", ("no block yet and the scanners have not met: "
                                        "NO_SUITABLE_PAGE, which compact_finished maps to "
                                        "CONTINUE")
    return exercises.Question(
        "compact_result", seed,
        f"compact_finished is asked after a batch: contended={contended}, scanners "
        f"{'met' if met else 'not met'}, whole_zone={whole}, a free block of the requested "
        f"order {'exists' if block else 'does not exist'} (Movable request). What does it "
        "return? (COMPACT_...)", ans, why + " (__compact_finished, mm/compaction.c L1313-1402).")


def _register() -> None:
    from mmsim import exercises

    exercises.register("compact_scanners", _q_scanners)
    exercises.register("compact_result", _q_result)


_register()
