"""Lesson 27: a real Linux 6.1 run and its mmsim replay, side by side."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from mmsim import plots
from mmsim.realrun import PHASES, build_replay, compare, load_real_run
from mmsim.widgets import Control, Panel, PanelOutput, figure

#: one window per phase (seconds from workload start)
WINDOWS = {"paced": 16.5, "burst": 36.0, "mixed": 62.0}


@lru_cache(maxsize=1)
def real_run() -> Any:
    """The bundled recording (loaded once)."""
    return load_real_run()


@lru_cache(maxsize=1)
def replay() -> Any:
    """The replay of the whole 76 s workload (run once, about 1 s of wall time)."""
    return build_replay(seed=0).run(76.0)


def statistics_table() -> pd.DataFrame:
    return compare(real_run(), replay())


def phase_table() -> pd.DataFrame:
    rows = [{"phase": label, "starts at (s)": start, "MiB read": mib, "MiB/s": rate,
             "ends at (s)": round(start + mib / rate, 1)} for label, start, mib, rate in PHASES]
    rows[-1]["also"] = "250,000 negative dentries (reclaimable slab) in 15 s"
    return pd.DataFrame(rows).set_index("phase").fillna("")


def side_by_side(phase: str = "burst", start: float | None = None,
                 width: float = 1.5) -> PanelOutput:
    real, res = real_run(), replay()
    a = WINDOWS[phase] if start is None else start
    fig = figure(figsize=(9, 6.2))
    ax1, ax2 = fig.subplots(2, 1, sharey=True)
    plots.watermark_timeline(real, zone="DMA32", ax=ax1, window=(real.t0 + a, real.t0 + a + width))
    ax1.set_title(f"Linux 6.1, {phase} phase: t = {a:.1f}-{a + width:.1f} s after start")
    plots.watermark_timeline(res, zone="DMA32", ax=ax2, window=(a, a + width))
    ax2.set_title("mmsim replay (v5.0 rules), same window")
    top = max(np.nanmax(real.vmstat["high_DMA32"]), 1.0) * 2.6
    ax1.set_ylim(0, top)
    n_real = _count(real.trace, "mm_vmscan_kswapd_wake", real.t0 + a, real.t0 + a + width)
    n_sim = _count(res.trace, "mm_vmscan_kswapd_wake", a, a + width)
    d_real = _count(real.trace, "mm_vmscan_direct_reclaim_begin", real.t0 + a,
                    real.t0 + a + width)
    d_sim = _count(res.trace, "mm_vmscan_direct_reclaim_begin", a, a + width)
    text = (f"window {a:.1f}-{a + width:.1f} s ({phase}): kswapd wake-ups real {n_real}, "
            f"mmsim {n_sim}; direct reclaims real {d_real}, mmsim {d_sim}")
    return PanelOutput(figure=fig, text=text)


def _count(trace: pd.DataFrame, event: str, a: float, b: float) -> int:
    return int(((trace.event == event) & (trace.time >= a) & (trace.time < b)).sum())


def _update(phase: str = "burst", offset: float = 0.0) -> PanelOutput:
    return side_by_side(phase, WINDOWS[phase] + offset)


PANELS = [Panel("real 6.1 vs mmsim: the same 1.5 s", [
    Control("phase", "choice", "burst", options=("paced", "burst", "mixed"), label="phase"),
    Control("offset", "float", 0.0, 0.0, 6.0, step=0.5, label="window offset (s)"),
], _update)]

#: computed once before the panel is used (the benchmarks call these before timing)
PRECOMPUTE = (real_run, replay)
