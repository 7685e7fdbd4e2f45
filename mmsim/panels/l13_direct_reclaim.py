"""Lesson 13: direct reclaim - ``allow_direct_reclaim``, ``throttle_direct_reclaim``,
``try_to_free_pages``: what happens when the allocator outruns kswapd.

The box is one Normal zone of 128 MiB, full of clean page cache at t = 0
(``prefill_page_cache``). Eight readers stream a file at a chosen total rate for
0.1 simulated seconds, 16 pages per read. The simulated CPU is 32 times slower
than mmsim's default (``CostModel().scaled(32)``, like the emulated CPU of the
bundled real recording, :data:`mmsim.realrun.EMULATED_CPU_FACTOR`): kswapd then
reclaims at most about 69 k pages/s (~270 MiB/s) and the interesting rates are
cheap to simulate. It takes several readers to outrun kswapd: a reader spends
about twice as much CPU on a page it reads in (readahead and allocation, about
1050 ns by default) as kswapd spends reclaiming it (450 ns), so one reader at
full speed gets about 115 MiB/s here. Optionally a "network" task
allocates ``GFP_ATOMIC`` pages in 1 ms bursts (freed 20 ms later): atomic
allocations may dip below min, which is what brings ``throttle_direct_reclaim``
into play.

Stall time is measured as the kernel's tracepoints allow: the time between
each task's ``mm_vmscan_direct_reclaim_begin`` and ``_end``. Time parked in
``throttle_direct_reclaim`` comes *before* ``_begin`` and is not included.
"""

from __future__ import annotations

import functools
from collections import deque
from typing import Any

import numpy as np
import pandas as pd

from mmsim.widgets import Control, Panel, PanelOutput, figure

ZONES = {"Normal": "128MiB"}
SECONDS = 0.1
READERS = 8
CHUNK = 16  #: pages per read: 8 readers x 16 pages, the burst two readers of 64 made
SCALE = 32  #: like mmsim.realrun.EMULATED_CPU_FACTOR
ATOMIC_MIB_S = 400


def _atomic_task(node: Any, mib_s: int) -> Any:
    from mmsim.kthread import Sleep
    from mmsim.mm.page_alloc import free_pages_bulk
    from mmsim.mm.slowpath import alloc_pages_task

    def rx(sim: Any) -> Any:
        live: deque = deque()
        per_ms = max(1, mib_s * 256 // 1000)
        while True:
            now = sim.sched.now_ns
            while live and live[0][0] + 20_000_000 <= now:
                free_pages_bulk(node, live.popleft()[1])
            p = yield from alloc_pages_task(node, per_ms, "GFP_ATOMIC", kind="kernel")
            if p.size:
                live.append((now, p))
            yield Sleep(1_000_000)

    return rx


@functools.lru_cache(maxsize=64)
def experiment(rate: int = 400, min_free_kbytes: int = 4096, atomic: bool = False) -> Any:
    """Run the box with readers at ``rate`` MiB/s in total; returns the Result."""
    from mmsim import CostModel, Node, Simulation, Sysctl
    from mmsim.workloads import FileStream, Script, prefill_page_cache

    node = Node.build(zones=ZONES, sysctl=Sysctl(min_free_kbytes=min_free_kbytes))
    prefill_page_cache(node)
    wl: list[Any] = [FileStream(rate=f"{rate / READERS:g}MiB", chunk=CHUNK,
                                name=f"reader{i}")
                     for i in range(READERS)]
    if atomic:
        wl.append(Script(fn=_atomic_task(node, ATOMIC_MIB_S), name="net-rx"))
    sim = Simulation(node, wl, seed=0, sample_interval=0.001,
                     cost=CostModel().scaled(SCALE))
    return sim.run(SECONDS)


def stalls(res: Any) -> np.ndarray:
    """Durations (s) of the direct reclaims, from begin/end tracepoint pairs per task."""
    open_: dict[int, int] = {}
    out = []
    for t, _comm, pid, _cpu, ev, _f in res.sim.tracer.records:
        if ev == "mm_vmscan_direct_reclaim_begin":
            open_[pid] = t
        elif ev == "mm_vmscan_direct_reclaim_end" and pid in open_:
            out.append(t - open_.pop(pid))
    return np.array(out, dtype=float) / 1e9


def summary(res: Any) -> dict[str, Any]:
    v = res.vmstat
    first, last = v.iloc[0], v.iloc[-1]
    s = stalls(res)
    read = (last["pgpgin"] - first["pgpgin"]) / 8
    return {
        "allocstall_movable": int(last["allocstall_movable"]),
        "pgscan_direct": int(last["pgscan_direct"]),
        "pgsteal_direct": int(last["pgsteal_direct"]),
        "pgscan_direct_throttle": int(last["pgscan_direct_throttle"]),
        "pgsteal_kswapd": int(last["pgsteal_kswapd"]),
        "stall time (ms, begin→end)": round(float(s.sum()) * 1e3, 2),
        "longest stall (ms)": round(float(s.max()) * 1e3, 3) if s.size else 0.0,
        "readers got (MiB/s)": round(read / 256 / SECONDS),
    }


def table(cases: tuple[tuple[int, int, bool], ...]) -> pd.DataFrame:
    """Summaries for several (rate MiB/s, min_free_kbytes, atomic) settings."""
    cols = {}
    for rate, mfk, atomic in cases:
        name = f"{rate} MiB/s, mfk {mfk}" + (", +atomic" if atomic else "")
        cols[name] = summary(experiment(rate, mfk, atomic))
    df = pd.DataFrame(cols)
    df.index.name = f"after {SECONDS} s"
    return df


def excerpt(res: Any, n: int = 3) -> str:
    """The first ``n`` direct reclaims as ftrace shows them (begin/end lines only)."""
    keep = [ln for ln in res.ftrace().splitlines() if "mm_vmscan_direct_reclaim" in ln]
    out, ends = [], 0
    for ln in keep:
        out.append(ln)
        if "direct_reclaim_end" in ln:
            ends += 1
            if ends >= n:
                break
    return "\n".join(out)


# --------------------------------------------------------------------------
# the panel
# --------------------------------------------------------------------------
CONTROLS = [
    Control("rate", "int", 400, 100, 800, step=100, label="readers' rate (MiB/s)",
            help=f"total rate of the {READERS} readers; kswapd manages about 270 MiB/s here"),
    Control("min_free_kbytes", "log2", 4096, 1024, 16384, label="min_free_kbytes"),
    Control("atomic", "bool", False, label=f"GFP_ATOMIC bursts ({ATOMIC_MIB_S} MiB/s)"),
]


def stall_starts(res: Any) -> np.ndarray:
    """Times (s) at which direct reclaims began."""
    return np.array([r[0] for r in res.sim.tracer.records
                     if r[4] == "mm_vmscan_direct_reclaim_begin"], dtype=float) / 1e9


def update(rate: int = 400, min_free_kbytes: int = 4096, atomic: bool = False) -> PanelOutput:
    res = experiment(rate, min_free_kbytes, atomic)
    z = res.node.zone("Normal")
    v = res.vmstat
    t = v.time.to_numpy()
    fig = figure(figsize=(9, 5.2))
    ax1, ax2 = fig.subplots(2, 1, height_ratios=[1.5, 1], sharex=True)
    top = z.high_wmark_pages * 2.2
    ax1.fill_between(t, 0, top, where=v.kswapd_running.to_numpy() > 0, step="post",
                     color="#4393c3", alpha=0.15, lw=0, label="kswapd running")
    ax1.plot(t, v.free_Normal, color="#333333", lw=1.1, label="free (Normal)")
    for w, colour in (("high", "#1a9641"), ("low", "#fdae61"), ("min", "#d7191c")):
        ax1.plot(t, v[f"{w}_Normal"], color=colour, ls="--", lw=1, label=w)
    starts = stall_starts(res)
    if starts.size:
        ax1.vlines(starts, top * 0.93, top, color="#b2182b", lw=0.6,
                   label="direct reclaim begins")
    ax1.set_ylim(0, top)
    ax1.set_ylabel("pages")
    ax1.legend(fontsize=7, ncol=3, loc="lower right")
    ax1.set_title(f"{READERS} readers at {rate} MiB/s in total, min_free_kbytes="
                  f"{min_free_kbytes}" + (", GFP_ATOMIC bursts" if atomic else ""),
                  fontsize=10)
    ax2.step(t, v.allocstall_movable, where="post", color="#b2182b", label="allocstall_movable")
    ax2.step(t, v.pgscan_direct_throttle, where="post", color="#762a83",
             label="pgscan_direct_throttle")
    ax2.set_ylabel("count (cumulative)")
    ax2.set_xlabel("time (s)")
    ax2.set_xlim(0, SECONDS)
    ax2.legend(fontsize=8, loc="upper left")
    s = summary(res)
    text = "\n".join(f"{k:28s} {val}" for k, val in s.items())
    return PanelOutput(figure=fig, text=text)


PANELS = [Panel("direct reclaim: allocation rate and min_free_kbytes", CONTROLS, update)]


def warm(mfks: tuple[int, ...] = (4096, 16384)) -> None:
    """Run every rate for a few min_free_kbytes values once (a few seconds)."""
    for mfk in mfks:
        for rate in range(100, 801, 100):
            PANELS[0].render(rate=rate, min_free_kbytes=mfk, atomic=False)


# --------------------------------------------------------------------------
# check yourself
# --------------------------------------------------------------------------
def _q_throttle(rng: Any, seed: int) -> Any:
    from mmsim.exercises import Question

    mins = [int(x) for x in rng.integers(20, 15000, 3)]
    free = [int(x) for x in rng.integers(0, 12000, 3)]
    reclaimable = [True, True, bool(rng.integers(0, 2))]
    reserve = sum(m for m, r in zip(mins, reclaimable) if r)
    fr = sum(f for f, r in zip(free, reclaimable) if r)
    ok = fr > reserve // 2
    zones = ", ".join(f"{n}: min {m}, free {f}{'' if r else ', no reclaimable pages'}"
                      for n, m, f, r in zip(("DMA", "DMA32", "Normal"), mins, free,
                                            reclaimable))
    return Question("allow_direct_reclaim", seed,
                    f"allow_direct_reclaim() on a node with {zones}. Is a GFP_KERNEL direct "
                    "reclaimer let through without throttling? (True/False)", ok,
                    f"Only zones <= Normal with reclaimable pages count: reserve = sum(min) = "
                    f"{reserve}, free = {fr}; allowed if free > reserve/2 = {reserve // 2}: "
                    f"{ok}. If not, pgscan_direct_throttle counts one and the task waits on "
                    "pfmemalloc_wait (L3085-3122, L3133-3215).")


def _q_allocstall(rng: Any, seed: int) -> Any:
    from mmsim.exercises import Question

    gfp = str(rng.choice(["GFP_KERNEL", "GFP_HIGHUSER_MOVABLE", "GFP_KERNEL|GFP_DMA32",
                          "GFP_NOFS"]))
    zone = {"GFP_KERNEL": "normal", "GFP_HIGHUSER_MOVABLE": "movable",
            "GFP_KERNEL|GFP_DMA32": "dma32", "GFP_NOFS": "normal"}[gfp]
    return Question("allocstall_zone", seed,
                    f"A {gfp} allocation enters direct reclaim on a box with DMA, DMA32 and "
                    "Normal zones. Which counter grows: allocstall_dma, allocstall_dma32, "
                    "allocstall_normal or allocstall_movable?", f"allocstall_{zone}",
                    "do_try_to_free_pages counts ALLOCSTALL for sc.reclaim_idx = "
                    f"gfp_zone({gfp}), the highest zone the mask allows (L3033), even if that "
                    "zone does not exist on the box.")


def _register() -> None:
    from mmsim.exercises import register

    register("allow_direct_reclaim", _q_throttle)
    register("allocstall_zone", _q_allocstall)


_register()
