"""Lesson 26: sweeps - how stalls and kswapd activity change with min_free_kbytes."""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from mmsim.sweep import sweep
from mmsim.widgets import Control, Panel, PanelOutput, figure

MFK = (1024, 4096, 16384, 32768)
SCENARIOS = ("file-stream", "anon-swap", "boost")
METRICS = ("allocstall", "pgscan_direct_throttle", "pageoutrun", "kswapd_runs",
           "stall_seconds", "pgsteal_direct", "compact_daemon_wake")
MEM = "192MiB"
SECONDS = 1.2


@lru_cache(maxsize=1)
def results() -> pd.DataFrame:
    """The sweep of all three scenarios (12 runs; computed once, then cached)."""
    frames = [sweep(s, grid={"min_free_kbytes": list(MFK)}, seeds=[0], metrics=list(METRICS),
                    mem=MEM, seconds=SECONDS, progress=False) for s in SCENARIOS]
    return pd.concat(frames, ignore_index=True)


def table(metric: str = "allocstall") -> pd.DataFrame:
    df = results()
    return df.pivot(index="min_free_kbytes", columns="scenario", values=metric)[list(SCENARIOS)]


def update(metric: str = "allocstall", log_x: bool = True) -> PanelOutput:
    t = table(metric)
    fig = figure(figsize=(7.5, 3.6))
    ax = fig.add_subplot()
    for s in SCENARIOS:
        ax.plot(t.index, t[s], "o-", label=s)
    if log_x:
        ax.set_xscale("log", base=2)
    ax.set_xlabel("min_free_kbytes")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} after {SECONDS} s on a {MEM} box")
    ax.legend(fontsize=8)
    lines = [f"{s}: " + ", ".join(f"{int(m)}→{t.loc[m, s]:g}" for m in t.index)
             for s in SCENARIOS]
    return PanelOutput(figure=fig, text="\n".join(lines))


PANELS = [Panel("sweep: min_free_kbytes against stalls and kswapd", [
    Control("metric", "choice", "allocstall", options=METRICS, label="metric"),
    Control("log_x", "bool", True, label="log x axis"),
], update)]

PRECOMPUTE = (results,)
