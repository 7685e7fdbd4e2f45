#!/usr/bin/env python3
"""mmsim benchmarks: one command, medians over repeated runs, a table and JSON.

Usage::

    python benchmarks/run.py                       # everything, table on stdout
    python benchmarks/run.py --only allocator      # one section
    python benchmarks/run.py --json results.json   # also write the figures
    python benchmarks/run.py --compare old.json    # print new/old ratios
    python benchmarks/run.py --quick               # fewer repeats (CI smoke run)

Each benchmark reports the median over ``--repeats`` runs (and the spread),
together with its target where the project has one. Speed is measured here,
never asserted in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


@dataclass
class Figure:
    section: str
    name: str
    unit: str
    median: float
    runs: list[float] = field(default_factory=list)
    target: str = ""
    higher_is_better: bool = True

    def met(self) -> str:
        if not self.target:
            return ""
        op, val = self.target.split(" ", 1)
        v = float(val)
        ok = self.median >= v if op == ">=" else self.median <= v
        return "yes" if ok else "NO"


BENCHES: dict[str, list[Callable[[int], list[Figure]]]] = {}


def bench(section: str):
    def deco(fn):
        BENCHES.setdefault(section, []).append(fn)
        return fn

    return deco


def _median_of(fn: Callable[[], float], repeats: int) -> tuple[float, list[float]]:
    runs = [fn() for _ in range(repeats)]
    return statistics.median(runs), runs


# ----------------------------------------------------------------------------
# allocator (machine-model issue)
# ----------------------------------------------------------------------------
@bench("allocator")
def bench_single_pairs(repeats: int) -> list[Figure]:
    from mmsim import Node
    from mmsim.mm.page_alloc import alloc_pages, free_pages

    node = Node.build(mem="4GiB")
    n = 100_000

    def hot() -> float:
        t = time.perf_counter()
        for _ in range(n):
            free_pages(node, alloc_pages(node, 0))
        return n / (time.perf_counter() - t)

    def batch64() -> float:
        t = time.perf_counter()
        for _ in range(n // 64):
            pfns = [alloc_pages(node, 0) for _ in range(64)]
            for p in pfns:
                free_pages(node, p)
        return (n // 64) * 64 / (time.perf_counter() - t)

    m1, r1 = _median_of(hot, repeats)
    m2, r2 = _median_of(batch64, repeats)
    return [
        Figure("allocator", "order-0 alloc+free pairs (hot pcp page)", "pairs/s", m1, r1,
               ">= 300000"),
        Figure("allocator", "order-0 alloc+free pairs (64 outstanding)", "pairs/s", m2, r2,
               ">= 300000"),
    ]


@bench("allocator")
def bench_bulk(repeats: int) -> list[Figure]:
    from mmsim import Node
    from mmsim.mm.page_alloc import alloc_pages_bulk, free_pages_bulk

    node = Node.build(mem="4GiB")
    batch = 65536

    def run() -> float:
        t = time.perf_counter()
        for _ in range(10):
            free_pages_bulk(node, alloc_pages_bulk(node, batch))
        return 10 * batch / (time.perf_counter() - t)

    m, r = _median_of(run, repeats)
    return [Figure("allocator", "batched path, alloc+free of 64Ki pages", "pages/s", m, r,
                   ">= 3000000")]


@bench("allocator")
def bench_mixed(repeats: int) -> list[Figure]:
    import numpy as np

    from mmsim import Node
    from mmsim.mm.page_alloc import ALLOC_NO_WATERMARKS, alloc_pages, free_pages

    orders = [0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 9]
    gfps = ["GFP_KERNEL", "GFP_HIGHUSER_MOVABLE", "GFP_HIGHUSER_MOVABLE",
            "GFP_KERNEL|__GFP_RECLAIMABLE"]

    def run() -> float:
        node = Node.build(mem="4GiB")
        rng = np.random.default_rng(0)
        n = 50_000
        picks = rng.integers(0, len(orders), n)
        gpicks = rng.integers(0, len(gfps), n)
        frees = rng.random(n)
        live: list[tuple[int, int]] = []
        t = time.perf_counter()
        for i in range(n):
            if live and frees[i] < 0.45:
                p, o = live.pop(int(frees[i] * 1e6) % len(live))
                free_pages(node, p, o)
            else:
                o = orders[picks[i]]
                p = alloc_pages(node, o, gfps[gpicks[i]], alloc_flags=ALLOC_NO_WATERMARKS)
                if p is not None:
                    live.append((p, o))
        return n / (time.perf_counter() - t)

    m, r = _median_of(run, repeats)
    return [Figure("allocator", "mixed orders 0-9, 4 migratetypes, 45% frees", "ops/s", m, r)]


@bench("allocator")
def bench_build(repeats: int) -> list[Figure]:
    from mmsim import Node

    def run_time() -> float:
        t = time.perf_counter()
        Node.build(mem="16GiB")
        return time.perf_counter() - t

    def run_mem() -> float:
        tracemalloc.start()
        node = Node.build(mem="16GiB")
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        del node
        return peak / 2**20

    m, r = _median_of(run_time, repeats)
    mm, rm = _median_of(run_mem, max(1, repeats // 2))
    return [
        Figure("allocator", "Node.build(mem='16GiB') time", "s", m, r, "<= 0.5", False),
        Figure("allocator", "Node.build(mem='16GiB') peak memory", "MiB", mm, rm, "<= 300",
               False),
    ]


# ----------------------------------------------------------------------------
def machine_info() -> dict[str, str]:
    import numpy as np

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": platform.machine(),
        "cpus": str(os.cpu_count()),
        "system": f"{platform.system()} {platform.release()}",
        "processor": platform.processor() or "",
    }


def print_table(figs: list[Figure], compare: dict[str, float] | None = None) -> None:
    head = f"{'section':10} {'benchmark':52} {'median':>14} {'unit':8} {'target':>12} {'met':>4}"
    if compare is not None:
        head += f" {'ratio':>7}"
    print(head)
    print("-" * len(head))
    for f in figs:
        med = f"{f.median:,.0f}" if f.median >= 100 else f"{f.median:.3f}"
        line = f"{f.section:10} {f.name:52} {med:>14} {f.unit:8} {f.target:>12} {f.met():>4}"
        if compare is not None:
            old = compare.get(f"{f.section}/{f.name}")
            line += f" {f.median / old:7.2f}" if old else f" {'-':>7}"
        print(line)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", action="append", choices=sorted(BENCHES),
                    help="run only this section (repeatable)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="repeats=1")
    ap.add_argument("--json", type=Path, help="write the figures here")
    ap.add_argument("--compare", type=Path, help="earlier --json output to compare with")
    args = ap.parse_args(argv)
    repeats = 1 if args.quick else max(1, args.repeats)
    sections = args.only or list(BENCHES)
    figs: list[Figure] = []
    for s in sections:
        for fn in BENCHES[s]:
            figs.extend(fn(repeats))
    compare = None
    if args.compare:
        old = json.loads(args.compare.read_text())
        compare = {f"{f['section']}/{f['name']}": f["median"] for f in old["figures"]}
    info = machine_info()
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items() if v))
    print(f"repeats: {repeats} (medians)\n")
    print_table(figs, compare)
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "repeats": repeats,
                                         "figures": [asdict(f) for f in figs]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
