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
# reclaim (kswapd issue): real-time factor of file-stream at 400 MiB/s
# ----------------------------------------------------------------------------
_SCALE_CODE = """
import resource, sys, time, json
from mmsim import scenarios
name, mem, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
kw = {{"rate": "400MiB", "prefill": True}} if name == "file-stream" else {{}}
sim = scenarios.build(name, mem=mem, seed=0, trace=False, sample_interval=0.1, **kw)
t = time.perf_counter()
res = sim.run(secs)
wall = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
steal = int(res.vmstat["pgsteal_kswapd"].iloc[-1])
print(json.dumps({{"wall": wall, "rss": rss, "steal": steal}}))
"""


def _scale_run(name: str, mem: str, secs: float) -> dict[str, float]:
    import subprocess

    out = subprocess.run([sys.executable, "-c", _SCALE_CODE.format(), name, mem, str(secs)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@bench("reclaim")
def bench_file_stream(repeats: int) -> list[Figure]:
    figs = []
    for mem, secs, target in (("1GiB", 6.0, ">= 5"), ("16GiB", 10.0, ">= 1")):
        runs = [_scale_run("file-stream", mem, secs) for _ in range(max(1, repeats // 2))]
        rtf = [secs / r["wall"] for r in runs]
        figs.append(Figure("reclaim", f"file-stream 400MiB/s on {mem}: real-time factor",
                           "x", statistics.median(rtf), rtf, target))
        figs.append(Figure("reclaim", f"file-stream 400MiB/s on {mem}: peak RSS", "MiB",
                           statistics.median(r["rss"] for r in runs),
                           [r["rss"] for r in runs], "<= 1024", False))
    return figs


# ----------------------------------------------------------------------------
# compaction (compaction issue): scanners on a fully fragmented 4 GiB zone
# ----------------------------------------------------------------------------
def _fragmented_zone(size: str = "4GiB"):
    """A Normal-only node whose every page is page cache, then every odd pfn freed.

    All pages are taken with ``alloc_pages_bulk`` (no watermarks), given to one
    file mapping (index = pfn offset) and put on the inactive file list; the
    odd pages are then released (truncated). Free memory is half the zone, all
    in order-0 blocks: fragmentation index 998 for order 9.
    """
    import numpy as np

    from mmsim import Node
    from mmsim.mm.filemap import FileMapping
    from mmsim.mm.page_alloc import ALLOC_NO_WATERMARKS, alloc_pages_bulk
    from mmsim.mm.swap import LRU_INACTIVE_FILE, lru_cache_add

    node = Node.build(zones={"Normal": size})
    zone = node.zone("Normal")
    n = zone.nr_free_pages
    pfns = np.sort(alloc_pages_bulk(node, n, "GFP_HIGHUSER_MOVABLE", kind="file",
                                    alloc_flags=ALLOC_NO_WATERMARKS))
    f = FileMapping(node, n, name="bench")
    idx = f._check(pfns - pfns[0])
    f._adopt(pfns, idx)
    lru_cache_add(node, pfns, LRU_INACTIVE_FILE)
    f.release(idx[1::2])
    assert zone.nr_free_by_order()[0] == n // 2
    return node, zone


def _compact_once(order: int) -> dict[str, float]:
    from mmsim.mm import compaction as C
    from mmsim.mm.gfp import GFP_KERNEL

    t = time.perf_counter()
    node, zone = _fragmented_zone("4GiB")
    build = time.perf_counter() - t
    if order == -1:  # echo 1 > /proc/sys/vm/compact_memory: compact_node's control
        cc = C.CompactControl(-1, GFP_KERNEL, C.MIGRATE_SYNC, classzone_idx=zone.idx,
                              whole_zone=True, ignore_skip_hint=True)
    else:  # kcompactd_do_work's control
        cc = C.CompactControl(order, GFP_KERNEL, C.MIGRATE_SYNC_LIGHT, classzone_idx=zone.idx)
    t = time.perf_counter()
    result = C.run_compact_zone(zone, cc)
    wall = time.perf_counter() - t
    ev = node.machine.vm_events
    scanned = ev["compact_migrate_scanned"] + ev["compact_free_scanned"]
    return {"build": build, "wall": wall, "scanned": scanned, "rate": scanned / wall,
            "migrated": ev["pgmigrate_success"], "result": C.compact_result_names[result]}


def _compact_fragment_scenario() -> float:
    """compact_memory on the largest zone of the ``fragment`` scenario at 4 GiB after 10 s:
    pages scanned per wall second (pinned kernel pages, free memory in small holes)."""
    from mmsim import scenarios
    from mmsim.mm import compaction as C
    from mmsim.mm.gfp import GFP_KERNEL

    sim = scenarios.build("fragment", mem="4GiB", seed=0)
    sim.run(seconds=10)
    node = sim.node
    zone = max(node.zones, key=lambda z: z.managed_pages)
    ev = node.machine.vm_events
    before = ev["compact_migrate_scanned"] + ev["compact_free_scanned"]
    cc = C.CompactControl(-1, GFP_KERNEL, C.MIGRATE_SYNC, classzone_idx=zone.idx,
                          whole_zone=True, ignore_skip_hint=True)
    t = time.perf_counter()
    C.run_compact_zone(zone, cc)
    wall = time.perf_counter() - t
    return (ev["compact_migrate_scanned"] + ev["compact_free_scanned"] - before) / wall


@bench("compaction")
def bench_compaction(repeats: int) -> list[Figure]:
    runs = [_compact_once(-1) for _ in range(max(1, repeats // 2))]
    r9 = [_compact_once(9) for _ in range(max(1, repeats // 2))]
    frag = [_compact_fragment_scenario() for _ in range(max(1, repeats // 2))]
    assert all(r["result"] == "complete" for r in runs)
    assert all(r["result"] == "success" for r in r9)
    m = runs[0]
    return [
        Figure("compaction", "fully fragmented 4GiB zone: build (alloc, LRU, free odd)", "s",
               statistics.median(r["build"] for r in runs), [r["build"] for r in runs],
               higher_is_better=False),
        Figure("compaction",
               f"compact_memory 4GiB: pages scanned per second ({m['scanned']:,} scanned)",
               "pages/s", statistics.median(r["rate"] for r in runs),
               [r["rate"] for r in runs], ">= 2000000"),
        Figure("compaction",
               f"compact_memory 4GiB: time to compact ({m['migrated']:,} pages moved)", "s",
               statistics.median(r["wall"] for r in runs), [r["wall"] for r in runs],
               higher_is_better=False),
        Figure("compaction", "kcompactd-like order 9 on it: time to the first order-9 block",
               "ms", statistics.median(r["wall"] * 1000 for r in r9),
               [r["wall"] * 1000 for r in r9], higher_is_better=False),
        Figure("compaction", "compact_memory on the `fragment` scenario's largest zone (4GiB "
               "node, after 10 s): pages scanned per second", "pages/s",
               statistics.median(frag), frag),
    ]


@bench("scale")
def bench_scale(repeats: int) -> list[Figure]:
    figs = []
    for name in ("file-stream", "fragment"):
        runs = [_scale_run(name, "16GiB", 10.0) for _ in range(max(1, repeats // 3))]
        figs.append(Figure("scale", f"{name} on 16GiB for 10 s: wall time", "s",
                           statistics.median(r["wall"] for r in runs),
                           [r["wall"] for r in runs], "<= 10", False))
        figs.append(Figure("scale", f"{name} on 16GiB for 10 s: real-time factor", "x",
                           statistics.median(10.0 / r["wall"] for r in runs),
                           [10.0 / r["wall"] for r in runs], ">= 1"))
        figs.append(Figure("scale", f"{name} on 16GiB for 10 s: peak RSS", "MiB",
                           statistics.median(r["rss"] for r in runs),
                           [r["rss"] for r in runs], "<= 1024", False))
    return figs


@bench("startup")
def bench_startup(repeats: int) -> list[Figure]:
    import subprocess

    code = "import time; t=time.perf_counter(); import mmsim; print(time.perf_counter()-t)"
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 check=True).stdout) * 1000 for _ in range(max(3, repeats))]
    return [Figure("startup", "import mmsim", "ms", statistics.median(runs), runs, "<= 300",
                   False)]


@bench("panels")
def bench_panels(repeats: int) -> list[Figure]:
    """Control change to finished figure (compute + Agg draw), per panel, cold cache."""
    import matplotlib

    matplotlib.use("Agg")
    import importlib

    from mmsim.panels import all_panels
    from mmsim.widgets import freeze_setup

    figs = []
    for mod, panels in all_panels().items():
        for fn in getattr(importlib.import_module(f"mmsim.panels.{mod}"), "PRECOMPUTE", ()):
            fn()  # what the lesson computes once when it opens
        freeze_setup()  # what Panel.widget() does before the first control move
        for p in panels:
            times = []
            for c in p.controls:
                for v in c.test_values():
                    p._cache.clear()
                    t = time.perf_counter()
                    out = p.render(**{c.name: v})
                    if out.figure is not None:
                        out.png()
                    times.append((time.perf_counter() - t) * 1000)
            figs.append(Figure("panels", f"{mod}: {p.name} (median)", "ms",
                               statistics.median(times), times, "<= 100", False))
            figs.append(Figure("panels", f"{mod}: {p.name} (worst)", "ms", max(times), times,
                               "<= 250", False))
    return figs


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
