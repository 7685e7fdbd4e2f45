"""mmsim.sweep: a tidy table, identical whatever the executor."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest

from mmsim.sweep import sweep

GRID = {"min_free_kbytes": [1024, 8192], "rate": ["200MiB", "600MiB"]}


def _run(executor=None):
    return sweep("file-stream", GRID, seeds=[0, 1],
                 metrics=["pageoutrun", "allocstall", "kswapd_runs"],
                 executor=executor, mem="96MiB", seconds=0.45, progress=False)


def test_tidy_and_executor_independent() -> None:
    serial = _run()
    assert len(serial) == 2 * 2 * 2
    assert list(serial.columns) == ["scenario", "min_free_kbytes", "rate", "seed",
                                    "pageoutrun", "allocstall", "kswapd_runs"]
    with ProcessPoolExecutor(max_workers=2) as ex:
        parallel = _run(ex)
    with ThreadPoolExecutor(max_workers=2) as ex:
        threaded = _run(ex)
    assert serial.equals(parallel)
    assert serial.equals(threaded)
    # a faster reader on a tiny box makes kswapd run more often, at each setting
    for mfk in GRID["min_free_kbytes"]:
        sub = serial[(serial.min_free_kbytes == mfk) & (serial.seed == 0)]
        slow, fast = sub.set_index("rate").loc[["200MiB", "600MiB"], "pageoutrun"]
        assert fast > slow


def test_bad_grid() -> None:
    with pytest.raises(ValueError, match="nope"):
        sweep("file-stream", {"nope": [1]}, progress=False)
    with pytest.raises(ValueError, match="scenario"):
        sweep("nope", {"min_free_kbytes": [1]}, progress=False)
    with pytest.raises(ValueError, match="metric"):
        sweep("file-stream", {"min_free_kbytes": [1024]}, metrics=["bogus"], mem="128MiB",
              seconds=0.1, progress=False)
