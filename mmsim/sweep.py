"""Parameter sweeps: one simulation per grid point and seed, as one tidy table.

Questions like "how do allocation stalls change as ``min_free_kbytes``
grows?" need many runs. :func:`sweep` runs a named scenario once for every
combination of the grid's values and every seed and returns a pandas
DataFrame with one row per run: the parameters, the seed, and the chosen
metrics. Each run is independent and seeded, so the table is identical
whichever executor runs it:

* ``executor=None`` - in this process, one after another;
* ``concurrent.futures.ProcessPoolExecutor()`` - on the local cores;
* a Dask cluster: ``distributed.Client(...).get_executor()`` returns a
  ``concurrent.futures.Executor`` that spreads the grid over the cluster with
  no other change (mmsim must be importable on the workers).

Grid keys may be sysctls (``min_free_kbytes``, ``watermark_scale_factor``,
``watermark_boost_factor``, ``extfrag_threshold``, ``swappiness``), ``mem``,
``seconds``, or the scenario's knobs (``mmsim.scenarios.KNOBS``). Metrics are
``/proc/vmstat`` counter names, the derived figures of
:data:`mmsim.plots.COMPARE_METRICS`, or ``"stall_seconds"`` (time spent in
direct reclaim), ``"kswapd_runs"``, ``"min_free_pages"``.

Examples
--------
>>> df = sweep("file-stream", grid={"min_free_kbytes": [2048, 8192]}, seeds=[0],
...            metrics=["pageoutrun"], mem="128MiB", seconds=0.5, progress=False)
>>> list(df.columns)
['scenario', 'min_free_kbytes', 'seed', 'pageoutrun']
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Sequence
from concurrent.futures import Executor
from typing import Any

SYSCTLS = ("min_free_kbytes", "watermark_scale_factor", "watermark_boost_factor",
           "extfrag_threshold", "swappiness")
DEFAULT_METRICS = ("allocstall", "pageoutrun", "pgscan_kswapd", "pgsteal_kswapd",
                   "pgscan_direct", "stall_seconds")


def _metric(res: Any, name: str) -> float:
    from mmsim.plots import _direct_reclaims, metrics

    v = res.vmstat
    if name == "stall_seconds":
        return round(sum(b - a for a, b in _direct_reclaims(res)), 6)
    if name == "kswapd_runs":
        return float(len(getattr(res.node, "kswapd_runs", [])))
    if name == "min_free_pages":
        return float(v["nr_free_pages"].min())
    if name in v.columns:
        return float(v[name].iloc[-1])
    derived = metrics(res)
    if name in derived:
        return float(derived[name])
    raise ValueError(f"metrics: unknown metric {name!r}; allowed /proc/vmstat counters, "
                     "stall_seconds, kswapd_runs, min_free_pages, or one of "
                     + ", ".join(derived))


def run_point(scenario: str, params: dict[str, Any], seed: int, metrics: Sequence[str],
              mem: Any = "1GiB", seconds: float = 3.0) -> dict[str, Any]:
    """One run of the sweep (top level, so process and Dask executors can pickle it)."""
    from mmsim import Sysctl, scenarios

    params = dict(params)
    mem = params.pop("mem", mem)
    seconds = float(params.pop("seconds", seconds))
    sysctl = Sysctl(**{k: params.pop(k) for k in list(params) if k in SYSCTLS})
    sim = scenarios.build(scenario, mem=mem, seed=seed, sysctl=sysctl, trace=True, **params)
    res = sim.run(seconds)
    return {m: _metric(res, m) for m in metrics}


class _Progress:
    """A progress bar: an ipywidgets bar in a notebook, text on a terminal's stderr."""

    def __init__(self, total: int, enabled: bool):
        self.total = total
        self.done = 0
        self.bar = None
        self.enabled = enabled
        if not enabled:
            return
        try:
            from IPython import get_ipython

            if get_ipython() is not None and "IPKernelApp" in get_ipython().config:
                import ipywidgets as w
                from IPython.display import display

                self.bar = w.IntProgress(min=0, max=total, description="sweep")
                display(self.bar)
        except Exception:  # pragma: no cover - any display problem: fall back to text
            self.bar = None

    def step(self) -> None:
        self.done += 1
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.value = self.done
        else:
            width = 30
            fill = int(width * self.done / max(1, self.total))
            sys.stderr.write(f"\r[{'#' * fill:<{width}}] {self.done}/{self.total} runs")
            if self.done == self.total:
                sys.stderr.write("\n")
            sys.stderr.flush()


def sweep(scenario: str, grid: dict[str, Sequence[Any]], seeds: Sequence[int] = (0,),
          metrics: Sequence[str] = DEFAULT_METRICS, executor: Executor | None = None, *,
          mem: Any = "1GiB", seconds: float = 3.0, progress: bool = True) -> Any:
    """Run ``scenario`` for every grid point and seed; a tidy DataFrame, one row per run.

    Parameters
    ----------
    scenario
        A name from :data:`mmsim.scenarios.NAMES`.
    grid
        Parameter name → list of values; the sweep takes their product.
    seeds
        One run per seed at every point.
    metrics
        Names of the quantities to record (see the module docstring).
    executor
        Any ``concurrent.futures.Executor``; None runs in this process.
    mem, seconds
        Machine size and simulated time, unless the grid sweeps them.
    progress
        Show a progress bar (a widget in a notebook, text on stderr otherwise).
    """
    import pandas as pd

    from mmsim import scenarios

    if scenario not in scenarios.NAMES:
        raise ValueError(f"scenario: unknown name {scenario!r}; allowed "
                         + ", ".join(scenarios.NAMES))
    if not isinstance(grid, dict) or not grid:
        raise ValueError("grid: give a non-empty dict of parameter -> list of values")
    allowed = set(SYSCTLS) | {"mem", "seconds"} | set(scenarios.KNOBS[scenario])
    for k, vals in grid.items():
        if k not in allowed:
            raise ValueError(f"grid: unknown parameter {k!r} for {scenario}; allowed "
                             + ", ".join(sorted(allowed)))
        if isinstance(vals, (str, bytes)) or not len(vals):
            raise ValueError(f"grid[{k!r}]: give a non-empty list of values")
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds: give at least one seed")
    keys = list(grid)
    points = [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]
    jobs = [(p, s) for p in points for s in seeds]
    bar = _Progress(len(jobs), progress)
    results: list[dict[str, Any]] = []
    if executor is None:
        for p, s in jobs:
            results.append(run_point(scenario, p, s, metrics, mem, seconds))
            bar.step()
    else:
        futures = [executor.submit(run_point, scenario, p, s, tuple(metrics), mem, seconds)
                   for p, s in jobs]
        for f in futures:  # in submission order: the table does not depend on timing
            results.append(f.result())
            bar.step()
    rows = [{"scenario": scenario, **p, "seed": s, **r} for (p, s), r in zip(jobs, results)]
    return pd.DataFrame(rows)
