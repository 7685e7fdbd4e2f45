#!/usr/bin/env python3
"""Golden output: the simulator's results must not change when it is made faster.

Runs every scenario of ``mmsim.scenarios.NAMES`` on a small node (128 MiB,
seed 0, 1.5 simulated seconds), the real-kernel replay
(``mmsim.realrun.build_replay().run(20)``) and a few extra runs that reach the
paths the benchmarks use (a pre-filled cache, three zones, coarse sampling),
and hashes what they produce: ``res.ftrace()``, ``res.vmstat.to_csv()`` and,
for the compaction scenarios, ``node.render("buddyinfo")``. The SHA-256
digests are compared with ``benchmarks/golden_output.json``.

Usage::

    python benchmarks/golden_output.py              # compare; exit 1 on a difference
    python benchmarks/golden_output.py --save DIR   # also write every output to DIR
    python benchmarks/golden_output.py --update     # regenerate the digests (deliberately!)
    python benchmarks/golden_output.py --only fragment --only replay

A speed-up must leave every digest unchanged. Regenerate the digests only for
a deliberate change of the model's behaviour, and say so in the commit.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GOLDEN = Path(__file__).with_name("golden_output.json")
MEM = "128MiB"
SECONDS = 1.5
BUDDYINFO = ("thp-burst", "fragment")

Case = Callable[[], Iterator[tuple[str, str]]]


def _result_outputs(key: str, res, buddyinfo: bool = False) -> Iterator[tuple[str, str]]:
    yield f"{key}/ftrace", res.ftrace()
    yield f"{key}/vmstat.csv", res.vmstat.to_csv()
    if buddyinfo:
        yield f"{key}/buddyinfo", res.node.render("buddyinfo")


def _scenario_case(name: str) -> Case:
    def run() -> Iterator[tuple[str, str]]:
        from mmsim import scenarios

        res = scenarios.build(name, mem=MEM, seed=0).run(SECONDS)
        yield from _result_outputs(name, res, name in BUDDYINFO)

    return run


def _replay() -> Iterator[tuple[str, str]]:
    from mmsim.realrun import build_replay

    res = build_replay().run(20)
    yield from _result_outputs("replay", res)


def _stream_1gib_sampled() -> Iterator[tuple[str, str]]:
    """The benchmark's configuration: pre-filled 1 GiB, no trace, 0.1 s samples."""
    from mmsim import scenarios

    sim = scenarios.build("file-stream", mem="1GiB", seed=0, rate="400MiB", prefill=True,
                          trace=False, sample_interval=0.1)
    res = sim.run(2.0)
    yield "file-stream-1GiB-prefill/vmstat.csv", res.vmstat.to_csv()
    yield "file-stream-1GiB-prefill/kswapd_runs", repr(res.kswapd_runs)


def _three_zones() -> Iterator[tuple[str, str]]:
    """Pre-filled three-zone node, a re-read file, a working set and slab with lifetimes."""
    from mmsim import Node, Simulation
    from mmsim.workloads import FileStream, KernelAlloc, WorkingSet, prefill_page_cache

    node = Node.build(zones={"DMA": "16MiB", "DMA32": "96MiB", "Normal": "64MiB"})
    prefill_page_cache(node)
    sim = Simulation(node, [FileStream(rate="300MiB", name="reader"),
                            WorkingSet(rate="100MiB", size="40MiB", name="db"),
                            KernelAlloc(rate="8MiB", kind="slab", lifetime=0.5,
                                        name="dentries", start=0.3),
                            FileStream(rate="200MiB", size="32MiB", name="rereader",
                                       start=0.5)],
                     seed=3, swap="64MiB")
    res = sim.run(SECONDS)
    yield from _result_outputs("three-zones", res, True)


def _anon_three_zones() -> Iterator[tuple[str, str]]:
    """Anonymous growth with swap next to a reader on three zones: anon reclaim paths."""
    from mmsim import Node, Simulation
    from mmsim.workloads import AnonGrowth, FileStream

    node = Node.build(zones={"DMA": "16MiB", "DMA32": "64MiB", "Normal": "64MiB"})
    sim = Simulation(node, [AnonGrowth(rate="150MiB", size="160MiB", hot=0.3, name="hog"),
                            FileStream(rate="100MiB", name="reader", start=0.2)],
                     seed=5, swap="128MiB")
    res = sim.run(SECONDS)
    yield from _result_outputs("anon-three-zones", res)


def _writeback_dma32() -> Iterator[tuple[str, str]]:
    """Dirty page cache (writeback, PG_reclaim, rotation) and DMA32-only allocations
    whose reclaim skips the Normal zone's pages (pgskip)."""
    import numpy as np

    from mmsim import Node, Simulation
    from mmsim.kthread import Sleep
    from mmsim.mm.filemap import FileMapping
    from mmsim.mm.slowpath import alloc_pages_task
    from mmsim.workloads import FileStream, Script

    def writer(sim):
        f = FileMapping(sim.node, 1 << 20, name="log")
        pos = 0
        while True:
            yield from f.write(np.arange(pos, pos + 32))
            pos += 32
            yield Sleep(150_000)

    def dma32(sim):
        yield Sleep(300_000_000)
        held = []
        while True:
            p = yield from alloc_pages_task(sim.node, 32, "GFP_KERNEL|GFP_DMA32",
                                            kind="kernel")
            held.append(p)
            if len(held) > 40:
                from mmsim.mm.page_alloc import free_pages_bulk

                free_pages_bulk(sim.node, held.pop(0))
            yield Sleep(400_000)

    node = Node.build(zones={"DMA": "16MiB", "DMA32": "64MiB", "Normal": "96MiB"})
    sim = Simulation(node, [Script(fn=writer, name="writer"),
                            FileStream(rate="200MiB", name="reader"),
                            Script(fn=dma32, name="dma32")], seed=7)
    res = sim.run(SECONDS)
    yield from _result_outputs("writeback-dma32", res, True)


def cases() -> dict[str, Case]:
    from mmsim import scenarios

    out: dict[str, Case] = {name: _scenario_case(name) for name in list(scenarios.NAMES)
                            if name != "real-6.1-filecache"}
    out["replay"] = _replay
    out["file-stream-1GiB-prefill"] = _stream_1gib_sampled
    out["three-zones"] = _three_zones
    out["anon-three-zones"] = _anon_three_zones
    out["writeback-dma32"] = _writeback_dma32
    return out


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--update", action="store_true", help="rewrite golden_output.json")
    ap.add_argument("--save", type=Path, help="write every output to this folder")
    ap.add_argument("--only", action="append", help="run only this case (repeatable)")
    args = ap.parse_args(argv)
    all_cases = cases()
    names = args.only or list(all_cases)
    unknown = [n for n in names if n not in all_cases]
    if unknown:
        ap.error(f"unknown case {unknown[0]!r}; allowed {', '.join(all_cases)}")
    stored = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
    got: dict[str, str] = {}
    bad = 0
    for name in names:
        t = time.perf_counter()
        for key, text in all_cases[name]():
            got[key] = d = digest(text)
            if args.save:
                path = args.save / key
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
            want = stored.get(key)
            status = "new" if want is None else ("ok" if want == d else "DIFFERENT")
            if want is not None and want != d:
                bad += 1
            print(f"{status:9} {key:45} {d[:16]} ({len(text):,} chars)")
        print(f"          {name}: {time.perf_counter() - t:.1f} s", flush=True)
    if args.update:
        merged = {**stored, **got} if args.only else got
        GOLDEN.write_text(json.dumps(dict(sorted(merged.items())), indent=1) + "\n")
        print(f"wrote {len(merged)} digests to {GOLDEN}")
        return 0
    missing = [k for k in stored if k not in got and k.split("/")[0] in names]
    for k in missing:
        print(f"MISSING   {k}")
    if bad or missing:
        print(f"golden output: {bad} different, {len(missing)} missing")
        return 1
    print(f"golden output: all {len(got)} identical" if stored else "no stored digests")
    return 0 if stored else 1


if __name__ == "__main__":
    raise SystemExit(main())
