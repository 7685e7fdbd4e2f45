"""Lesson 09: ``boost_watermark`` - fallback steals, the boost, boosted reclaim, kcompactd.

The experiment: a 512 MiB box whose page cache fills memory and then has one
page in eight dropped at random (free memory in small pieces inside Movable
pageblocks). From t = 0.15 s a kernel task allocates 1024 unmovable pages
(``GFP_KERNEL``) every 100 ms. The Unmovable free lists are empty, so each
burst falls back and steals from Movable pageblocks; steals of blocks smaller
than a pageblock boost the zone's watermarks, wake kswapd (``gfp_flags=none``)
for a boosted reclaim and then kcompactd for ``pageblock_order``.

Everything here reads the engine's own records (trace, vmstat counters, the
final memory map); the boost curve is rebuilt from the trace (each fragmenting
steal adds a pageblock up to the cap, each boosted kswapd run pays back what
it saw at its start) and checked against the boost kswapd recorded at the start
of every run.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd

from mmsim.widgets import Control, Panel, PanelOutput, figure

#: the experiment's fixed settings
BOX = "512MiB"
BURST = 1024  # unmovable pages per burst
INTERVAL = 0.1  # seconds between bursts
START = 0.15  # first burst (after kswapd's first HZ/10 nap at boot)
SECONDS = 1.0
HOLE_EVERY = 8  # one cached page in eight is dropped
SEED = 0
ZONE = "DMA32"  # where GFP_KERNEL pages come from on a 512 MiB box
FACTORS = tuple(range(0, 30001, 5000))

#: known answers (shared/kernel-v5.0: golden-examples.json boost_watermark_* and
#: buddy-and-fragmentation.md section 5), worked independently of mmsim
GOLDEN = (
    {"case": "boost_watermark_small_zone_floor", "high": 105, "factor": 15000, "events": 1,
     "expected": 512},
    {"case": "boost_watermark_small_zone_floor (2nd event)", "high": 105, "factor": 15000,
     "events": 2, "expected": 512},
    {"case": "boost_watermark_uninitialised_high", "high": 0, "factor": 15000, "events": 1,
     "expected": 0},
    {"case": "boost_watermark_dma32_sequence (63 events)", "high": 21576, "factor": 15000,
     "events": 63, "expected": 32256},
    {"case": "boost_watermark_dma32_sequence (64 events)", "high": 21576, "factor": 15000,
     "events": 64, "expected": 32364},
    {"case": "watermark_boost_factor 0", "high": 21576, "factor": 0, "events": 5,
     "expected": 0},
)

REAL_BOX = {"DMA": 3840, "DMA32": 772808, "Normal": 131072}


def boost_cap(high: int, factor: int) -> int:
    """The most ``boost_watermark`` allows: ``max(pageblock, high*factor/10000)``, 0 if off."""
    from mmsim.mm.page_alloc import mult_frac

    if not factor:
        return 0
    raw = mult_frac(high, factor, 10000)
    return max(512, raw) if raw else 0


def _golden_zone(high: int, factor: int) -> Any:
    from mmsim import Node, Sysctl

    if high == 0:  # very early boot: min_free_kbytes 0, watermarks still 0
        node = Node.build(zones={"DMA": 512, "Normal": 4096},
                          sysctl=Sysctl(min_free_kbytes=0, watermark_boost_factor=factor))
        return node.zone("DMA")
    node = Node.build(zones=REAL_BOX, sysctl=Sysctl(min_free_kbytes=67584,
                                                    watermark_boost_factor=factor))
    zone = next(z for z in node.zones if z.managed_pages and z._watermark[2] == high)
    return zone


def golden_table() -> pd.DataFrame:
    """mmsim's ``boost_watermark`` against the known answers."""
    from mmsim.mm.page_alloc import boost_watermark

    rows = []
    for g in GOLDEN:
        zone = _golden_zone(g["high"], g["factor"])
        for _ in range(g["events"]):
            boost_watermark(zone)
        rows.append({"case": g["case"], "zone": zone.name, "raw high": zone._watermark[2],
                     "factor": g["factor"], "steals": g["events"],
                     "expected boost": g["expected"], "mmsim boost": zone.watermark_boost})
    return pd.DataFrame(rows).set_index("case")


# --------------------------------------------------------------------------
# the experiment
# --------------------------------------------------------------------------
def _drive(gen: Any) -> Any:
    """Run a task generator to the end outside a simulation (no time passes)."""
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        return stop.value


def prepared_node(factor: int) -> Any:
    """The box before the experiment: cache everywhere, one page in eight dropped."""
    from mmsim import Node, Sysctl
    from mmsim.mm.filemap import FileMapping

    node = Node.build(mem=BOX, sysctl=Sysctl(watermark_boost_factor=factor))
    spare = node.nr_free_pages - int(1.5 * sum(z.high_wmark_pages for z in node.zones))
    cache = FileMapping(node, spare, name="cache")
    _drive(cache.read(np.arange(spare)))
    rng = np.random.default_rng(SEED)
    holes = np.sort(rng.permutation(spare)[: spare // HOLE_EVERY])
    cache.release(holes)
    return node


@functools.lru_cache(maxsize=16)
def experiment(factor: int = 15000) -> Any:
    """Run the experiment with ``vm.watermark_boost_factor = factor``; returns the Result."""
    from mmsim import Simulation
    from mmsim.kthread import Sleep
    from mmsim.mm.slowpath import alloc_pages_task
    from mmsim.workloads import Script

    node = prepared_node(factor)

    def kernel_bursts(sim: Any) -> Any:
        yield Sleep(int(START * 1e9))
        while True:
            yield from alloc_pages_task(node, BURST, "GFP_KERNEL", kind="kernel")
            yield Sleep(int(INTERVAL * 1e9))

    sim = Simulation(node, [Script(fn=kernel_bursts, name="kalloc")], seed=SEED,
                     sample_interval=0.005)
    return sim.run(SECONDS)


def _records(res: Any, event: str | None = None) -> list:
    recs = res.sim.tracer.records
    return recs if event is None else [r for r in recs if r[4] == event]


def mixed_pageblocks(node: Any) -> int:
    """Pageblocks holding both unmovable (kernel, slab) and movable (LRU) pages."""
    from mmsim.mm.mmzone import FRAME_ANON, FRAME_FILE, FRAME_KERNEL, FRAME_SLAB

    st = node.state
    n = st.size // 512
    st = st[: n * 512].reshape(n, 512)
    unmovable = ((st == FRAME_KERNEL) | (st == FRAME_SLAB)).any(axis=1)
    movable = ((st == FRAME_FILE) | (st == FRAME_ANON)).any(axis=1)
    return int(np.count_nonzero(unmovable & movable))


def metrics(res: Any) -> dict[str, int]:
    """What the boost cost and what it bought, in one run."""
    steals = [r[5] for r in _records(res, "mm_page_alloc_extfrag")]
    runs = [r for r in getattr(res.node, "kswapd_runs", []) if "end" in r]
    last = res.vmstat.iloc[-1]
    zone = res.node.zone(ZONE)
    free_blocks = sum(n << (o - 9) for o, n in enumerate(zone.nr_free_by_order()) if o >= 9)
    return {
        "fallback steals (mm_page_alloc_extfrag)": len(steals),
        "  of a block < pageblock (fragmenting=1)":
            sum(1 for f in steals if f["fallback_order"] < f["pageblock_order"]),
        "pageblocks mixing unmovable and movable pages": mixed_pageblocks(res.node),
        "kswapd runs (pageoutrun)": int(last["pageoutrun"]),
        "  of them boosted": sum(1 for r in runs if r["boosted"]),
        "pages reclaimed by kswapd (pgsteal_kswapd)": int(last["pgsteal_kswapd"]),
        "direct reclaim stalls (allocstall_*)": int(sum(last[f"allocstall_{z}"] for z in
                                                        ("dma", "dma32", "normal", "movable"))),
        "kcompactd passes (compact_daemon_wake)": int(last["compact_daemon_wake"]),
        "pages migrated (pgmigrate_success)": int(last["pgmigrate_success"]),
        f"free pageblocks in {ZONE} at the end": int(free_blocks),
    }


def compare(factors: tuple[int, ...] = (0, 15000)) -> pd.DataFrame:
    """The metrics side by side for several ``watermark_boost_factor`` values."""
    cols = {f"factor {f}": metrics(experiment(f)) for f in factors}
    df = pd.DataFrame(cols)
    df.index.name = "after 1 s"
    return df


def boost_steps(res: Any, zone: str = ZONE) -> tuple[np.ndarray, np.ndarray, int]:
    """The zone's ``watermark_boost`` over time, rebuilt from the run's records.

    Returns ``(times, boosts, mismatches)``: a step function, and how many
    kswapd runs started with a boost different from the rebuilt one (0 when
    the rebuild is right).
    """
    z = res.node.zone(zone)
    cap = boost_cap(z._watermark[2], res.node.machine.sysctl.watermark_boost_factor)
    events: list[tuple[int, int, str, Any]] = []
    for i, r in enumerate(_records(res, "mm_page_alloc_extfrag")):
        f = r[5]
        if res.node.page_zone(f["pfn"]).name == zone and \
                f["fallback_order"] < f["pageblock_order"]:
            events.append((r[0], 0, "steal", i))
    runs = [r for r in getattr(res.node, "kswapd_runs", []) if "end" in r]
    for r in runs:
        events.append((round(r["start"] * 1e9), 1, "start", r))
        events.append((round(r["end"] * 1e9), 2, "end", r))
    events.sort(key=lambda e: (e[0], e[1]))
    boost = 0
    ts, bs = [0.0], [0]
    mismatches = 0
    for t, _k, kind, obj in events:
        if kind == "steal" and cap:
            boost = min(boost + 512, cap)
        elif kind == "start":
            if obj["boost_start"].get(zone, 0) != boost:
                mismatches += 1
            continue
        elif kind == "end":
            boost -= min(boost, obj["boost_start"].get(zone, 0))
        else:
            continue
        ts.append(t / 1e9)
        bs.append(boost)
    ts.append(SECONDS)
    bs.append(boost)
    return np.array(ts), np.array(bs), mismatches


def excerpt(res: Any, shrink_lines: int = 3) -> str:
    """ftrace lines of one boost episode: the steals, kswapd's boosted run, kcompactd.

    The episode is the one that ends in the first kcompactd pass (or, if
    kcompactd never ran, the first fragmenting steal and what follows it).
    """
    lines = res.ftrace().splitlines()
    end = next((i for i, ln in enumerate(lines) if "mm_compaction_kcompactd_wake" in ln), None)
    if end is None:
        start = next((i for i, ln in enumerate(lines) if "fragmenting=1" in ln), None)
        if start is None:
            return "(no fragmenting fallback in this run)"
    else:
        wake = max(i for i in range(end) if "gfp_flags=none" in lines[i])
        start = wake
        while start > 0 and "mm_page_alloc_extfrag" in lines[start - 1]:
            start -= 1
    out: list[str] = []
    hidden = {"mm_page_alloc_extfrag": 0, "mm_vmscan_lru_shrink_inactive": 0}
    shown_steals, last_prio = 0, None

    def flush() -> None:
        for ev, n in hidden.items():
            if n:
                out.append(f"{'':>24s}... {n} more {ev} lines ...")
                hidden[ev] = 0

    for ln in lines[start:]:
        if "mm_page_alloc_extfrag" in ln:
            shown_steals += 1
            if shown_steals > 2:
                hidden["mm_page_alloc_extfrag"] += 1
                continue
        elif "mm_vmscan_lru_shrink_inactive" in ln:
            prio = ln.rsplit("priority=", 1)[1].split()[0]
            if prio == last_prio:
                hidden["mm_vmscan_lru_shrink_inactive"] += 1
                continue
            flush()
            last_prio = prio
        elif "mm_compaction" in ln and not any(k in ln for k in ("kcompactd_wake",
                                                                   "wakeup_kcompactd",
                                                                   "suitable")):
            continue
        else:
            flush()
        out.append(ln)
        if "mm_compaction_kcompactd_wake" in ln or "mm_vmscan_kswapd_sleep" in ln:
            break
    return "\n".join(out)


# --------------------------------------------------------------------------
# the panel
# --------------------------------------------------------------------------
CONTROLS = [
    Control("watermark_boost_factor", "int", 15000, 0, 30000, step=5000,
            label="vm.watermark_boost_factor",
            help="cap of the boost, in 1/10000 of the zone's high watermark (0 disables it)"),
]


def _cumulative_steals(res: Any) -> tuple[np.ndarray, np.ndarray]:
    t = [r[0] / 1e9 for r in _records(res, "mm_page_alloc_extfrag")
         if r[5]["fallback_order"] < r[5]["pageblock_order"]]
    return np.array([0.0, *t, SECONDS]), np.array([0, *range(1, len(t) + 1), len(t)])


def update(watermark_boost_factor: int = 15000) -> PanelOutput:
    res = experiment(watermark_boost_factor)
    ref = experiment(0)
    z = res.node.zone(ZONE)
    cap = boost_cap(z._watermark[2], watermark_boost_factor)
    fig = figure(figsize=(9, 5.2))
    ax1, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=[1, 1.1])
    ts, bs, _bad = boost_steps(res)
    ax1.step(ts, bs, where="post", color="#2166ac", lw=1.3, label=f"watermark_boost ({ZONE})")
    runs = [r for r in getattr(res.node, "kswapd_runs", []) if "end" in r]
    if runs:
        ax1.plot([r["start"] for r in runs], [r["boost_start"].get(ZONE, 0) for r in runs], "o",
                 ms=4, color="#b2182b", label="boost seen by balance_pgdat at its start")
    if cap:
        ax1.axhline(cap, color="#999999", ls="--", lw=1,
                    label=f"cap max(512, high*{watermark_boost_factor}/10000) = {cap}")
    ax1.set_ylabel("pages")
    ax1.set_ylim(0, max(600, cap * 1.15, float(bs.max()) * 1.15))
    fig.suptitle(f"{BOX} box, {BURST}-page GFP_KERNEL bursts every {INTERVAL:g} s, "
                 f"watermark_boost_factor={watermark_boost_factor}", fontsize=10)
    ax1.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3,
               frameon=False)
    t0, c0 = _cumulative_steals(ref)
    t1, c1 = _cumulative_steals(res)
    ax2.step(t0, c0, where="post", color="#999999", lw=1.3, label="factor 0 (no boost)")
    ax2.step(t1, c1, where="post", color="#2166ac", lw=1.6,
             label=f"factor {watermark_boost_factor}")
    ax2.set_ylabel("fragmenting steals\n(cumulative)")
    ax2.set_xlabel("time (s)")
    ax2.set_xlim(0, SECONDS)
    ax3 = ax2.twinx()
    v = res.vmstat
    ax3.plot(v.time, v.pgsteal_kswapd, color="#d6604d", ls=":", lw=1.4,
             label="pages reclaimed by kswapd")
    ax3.set_ylabel("pgsteal_kswapd", color="#d6604d")
    h1, l1 = ax2.get_legend_handles_labels()
    h2, l2 = ax3.get_legend_handles_labels()
    ax2.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper left")
    m, m0 = metrics(res), metrics(ref)
    keys = ("  of a block < pageblock (fragmenting=1)",
            "pageblocks mixing unmovable and movable pages",
            "pages reclaimed by kswapd (pgsteal_kswapd)", "direct reclaim stalls (allocstall_*)",
            "pages migrated (pgmigrate_success)", f"free pageblocks in {ZONE} at the end")
    names = ("fragmenting steals", "mixed pageblocks", "pgsteal_kswapd", "allocstall",
             "pgmigrate_success", f"free pageblocks ({ZONE})")
    text = "\n".join(f"{n:26s} {m[k]:7d}   (factor 0: {m0[k]})" for n, k in zip(names, keys))
    return PanelOutput(figure=fig, text=text)


PANELS = [Panel("watermark_boost_factor → boost, extra reclaim, fragmentation", CONTROLS,
                update)]


def warm() -> None:
    """Run every slider position once (about 2 s) so that moving the slider is instant."""
    for f in FACTORS:
        PANELS[0].render(watermark_boost_factor=f)


# --------------------------------------------------------------------------
# check yourself
# --------------------------------------------------------------------------
def _q_boosted_reclaim(rng: np.random.Generator, seed: int) -> Any:
    from mmsim.exercises import Question

    case = int(rng.integers(0, 4))
    boost = int(rng.choice([512, 1024, 1503, 2048]))
    if case == 0:
        prompt = (f"kswapd wakes with nr_boost_reclaim = {boost}, and pgdat_balanced() is "
                  "FALSE at the top of the first pass. What does balance_pgdat do: "
                  "'boost reclaim', 'normal reclaim' or 'nothing'?")
        ans = "normal reclaim"
        why = ("An unbalanced node with a boost owed sets nr_boost_reclaim = 0 and goes back to "
               "restart (L3611-3612): ordinary reclaim, which may write, swap and shrink slab, "
               "down to priority 1, against the boosted high watermark.")
    elif case == 1:
        prompt = (f"kswapd wakes with nr_boost_reclaim = {boost} and the node balanced. Which "
                  "is the lowest priority the run can reach (12 = gentlest)?")
        ans = 10
        why = ("Boost reclaim stops lowering the priority at DEF_PRIORITY - 2 = 10, and a pass "
               "that reclaims nothing while a boost is owed ends the loop.")
    elif case == 2:
        prompt = ("During boost reclaim, may kswapd write dirty pages, swap anonymous pages or "
                  "shrink slab caches? (True/False for 'any of them')")
        ans = False
        why = ("may_writepage = may_swap = may_shrinkslab = !nr_boost_reclaim (L3633): none "
               "of them while a boost is owed (slab came back in 5.3).")
    else:
        prompt = ("A boosted balance_pgdat run ends. Which order does it ask kcompactd for "
                  "(wakeup_kcompactd at L3725)?")
        ans = 9
        why = ("pageblock_order = 9 on x86_64: the point of the boost is to rebuild whole free "
               "pageblocks, so that the next fallback can take one without mixing types.")
    return Question("boosted_reclaim", seed, prompt, ans, why)


def _register() -> None:
    from mmsim.exercises import register

    register("boosted_reclaim", _q_boosted_reclaim)


_register()
