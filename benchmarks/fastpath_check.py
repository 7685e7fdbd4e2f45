#!/usr/bin/env python3
"""Differential check of mmsim's fast paths against the readable functions they stand for.

Several hot paths have a fast twin beside the kernel-shaped function (a
list-based path for reclaim-sized batches, an inlined free loop ...). Each
twin must leave *exactly* the same state. This script builds random machine
states (three zones, mixed migratetypes, CMA and Isolate pageblocks, random
allocations and frees), applies the reference and the fast path to two deep
copies, and compares every per-frame array, free list, counter and LRU.

Usage::

    python benchmarks/fastpath_check.py            # 200 random cases per check
    python benchmarks/fastpath_check.py --cases 2000 --seed 7
    python benchmarks/fastpath_check.py --python   # the Python fast paths, even when
                                                   # the C twins (mmsim.mm._buddy) are built

Where ``mmsim.mm._buddy`` is built, the fast side runs its compiled loops;
``--python`` checks the pure-Python fast paths that replace them without a C
compiler.

It complements ``benchmarks/golden_output.py`` (whole runs, byte-identical
output) with states that the scenarios rarely reach.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def snapshot(node) -> dict:
    """Everything the allocator and reclaim keep, as comparable Python values."""
    from mmsim.mm.swap import get_lruvec

    out: dict = {}
    for name in ("_state", "_zone_id", "_buddy_order", "_buddy_mt", "_head_order",
                 "_pageblock_mt"):
        out[name] = bytes(getattr(node, name))
    # list links only mean something for frames that head a free block
    heads = np.flatnonzero(node.buddy_order != 0xFF)
    nxt = np.frombuffer(node._nxt, dtype=np.int32)
    prv = np.frombuffer(node._prv, dtype=np.int32)
    out["links"] = (heads.tolist(), nxt[heads].tolist(), prv[heads].tolist())
    for z in node.zones:
        out[f"zone{z.idx}"] = (list(z._head), list(z._tail), list(z._nr_list), list(z._nr_free),
                               z.nr_free_pages, z.nr_free_cma, list(z.nr_state),
                               z.watermark_boost, z.flags,
                               [(p.count, [list(lst) for lst in p.lists]) for p in z.pageset])
    out["events"] = dict(node.machine.vm_events)
    out["node_stat"] = dict(node.node_stat)
    lv = getattr(node, "lruvec", None)
    if lv is not None:
        lv = get_lruvec(node)
        out["lru"] = (bytes(lv._lru), bytes(lv._flags), lv.stamp.tolist(), lv.owner.tolist(),
                      lv.index.tolist(), lv.zone_size.tolist(), lv.inactive_age, lv._stamp)
        lists = []
        for lst in lv.lists:
            pf = lst._pfn[lst.lo:lst.hi]
            live = lv.stamp[pf] == lst._stamp[lst.lo:lst.hi]
            lists.append((pf[live].tolist(), lst._stamp[lst.lo:lst.hi][live].tolist(),
                          lst.nr_pages))
        out["lists"] = lists
    for m in node.machine.mappings:
        out[f"mapping{m.id}"] = (m.pfn.tolist(),
                                 getattr(m, "shadow", np.empty(0)).tolist())
    return out


def clone(node):
    """A deep copy whose numpy views share memory with its bytearrays, as built."""
    c = copy.deepcopy(node)
    for view, buf in (("state", "_state"), ("zone_id", "_zone_id"),
                      ("buddy_order", "_buddy_order"), ("head_order", "_head_order"),
                      ("pageblock_mt", "_pageblock_mt"), ("pageblock_skip", "_pageblock_skip")):
        setattr(c, view, np.frombuffer(getattr(c, buf), dtype=np.uint8))
    lv = getattr(c, "lruvec", None)
    if lv is not None:
        lv.lru = np.frombuffer(lv._lru, dtype=np.uint8)
        lv.flags = np.frombuffer(lv._flags, dtype=np.uint8)
    return c


def diff(a: dict, b: dict) -> list[str]:
    return [k for k in a if a[k] != b.get(k)] + [k for k in b if k not in a]


def random_node(rng: np.random.Generator, with_lru: bool = False):
    """A three-zone node with a random mix of allocations, frees and pageblock types."""
    from mmsim import Node
    from mmsim.mm.mmzone import MIGRATE_CMA, MIGRATE_ISOLATE, MIGRATE_UNMOVABLE
    from mmsim.mm.page_alloc import ALLOC_NO_WATERMARKS, alloc_pages, alloc_pages_bulk

    sizes = {"DMA": int(rng.integers(1, 5)) * 1024, "DMA32": int(rng.integers(2, 9)) * 1024,
             "Normal": int(rng.integers(1, 9)) * 1024}
    node = Node.build(zones=sizes, pcp=bool(rng.integers(0, 2)))
    npb = node.pageblock_mt.size
    for _ in range(int(rng.integers(0, 4))):
        pb = int(rng.integers(0, npb))
        kind = [MIGRATE_CMA, MIGRATE_ISOLATE, MIGRATE_UNMOVABLE][int(rng.integers(0, 3))]
        node._pageblock_mt[pb] = kind
    for z in node.zones:  # zone->nr_isolate_pageblock, as set_migratetype_isolate keeps it
        first = (z.zone_start_pfn >> 9) - node.pb_base
        last = ((z.zone_start_pfn + z.spanned_pages - 1) >> 9) - node.pb_base
        nr_isolate = bytes(node._pageblock_mt[first:last + 1]).count(MIGRATE_ISOLATE)
        if nr_isolate:
            z.nr_isolate_pageblock = nr_isolate
    live = []
    gfps = ["GFP_HIGHUSER_MOVABLE", "GFP_KERNEL", "GFP_KERNEL|__GFP_RECLAIMABLE", "GFP_DMA32",
            "GFP_DMA"]
    for _ in range(int(rng.integers(1, 40))):
        g = gfps[int(rng.integers(0, len(gfps)))]
        if rng.random() < 0.7:
            p = alloc_pages_bulk(node, int(rng.integers(1, 600)), g,
                                 alloc_flags=ALLOC_NO_WATERMARKS if rng.random() < 0.3 else None)
            live.extend(p.tolist())
        else:
            o = int(rng.integers(1, 5))
            p = alloc_pages(node, o, g)
            if p is not None:
                live.append((p, o))
    order0 = [p for p in live if isinstance(p, int)]
    rng.shuffle(order0)
    # free a random part so that the lists are mixed
    from mmsim.mm.page_alloc import free_pages_bulk

    k = int(rng.integers(0, len(order0) + 1))
    if k:
        free_pages_bulk(node, np.asarray(order0[:k], dtype=np.int64))
    return node, order0[k:]


Check = Callable[[np.random.Generator], tuple[bool, str]]

#: modules whose fast paths are switched off by setting their ``_FAST_PATHS`` to False
#: (the reference: the readable code)
FAST_PATH_MODULES = ("mmsim.mm.page_alloc", "mmsim.mm.swap", "mmsim.mm.filemap",
                     "mmsim.mm.vmscan", "mmsim.mm.slowpath", "mmsim.mm.compaction")


@contextlib.contextmanager
def reference():
    """Run the block with every small-batch fast path switched off."""
    import importlib

    saved = {}
    for name in FAST_PATH_MODULES:
        mod = importlib.import_module(name)
        saved[name] = mod._FAST_PATHS
        mod._FAST_PATHS = False
    try:
        yield
    finally:
        for name, v in saved.items():
            importlib.import_module(name)._FAST_PATHS = v


@contextlib.contextmanager
def python_only():
    """Run the block with the compiled twins (``mmsim.mm._buddy``) switched off."""
    from mmsim.mm import page_alloc

    saved = page_alloc._buddy
    page_alloc._buddy = None
    try:
        yield
    finally:
        page_alloc._buddy = saved


def random_lru_node(rng: np.random.Generator):
    """A random node whose allocated pages sit on random LRU lists, some removed again
    (dead ring entries), some rotated to the tail or activated."""
    from mmsim.mm.swap import (
        LRU_ACTIVE_FILE,
        LRU_INACTIVE_ANON,
        LRU_INACTIVE_FILE,
        activate_pages,
        get_lruvec,
        rotate_reclaimable_pages,
    )

    node, held = random_node(rng)
    lv = get_lruvec(node)
    held = np.asarray(held, dtype=np.int64)
    rng.shuffle(held)
    pos = 0
    while pos < held.size:
        k = int(rng.integers(1, 200))
        part = held[pos:pos + k]
        pos += k
        lru = (LRU_INACTIVE_FILE, LRU_INACTIVE_FILE, LRU_ACTIVE_FILE,
               LRU_INACTIVE_ANON)[int(rng.integers(0, 4))]
        lv.add(part, lru, tail=bool(rng.random() < 0.2))
    on = held[lv.lru[held] != 0xFF]
    if on.size:
        gone = rng.choice(on, int(rng.integers(0, on.size // 3 + 1)), replace=False)
        lv.remove(gone)
        on = held[lv.lru[held] != 0xFF]
    if on.size:
        rotate_reclaimable_pages(node, rng.choice(on, min(on.size, 20), replace=False))
        activate_pages(node, rng.choice(on, min(on.size, 20), replace=False))
    return node, lv


def check_take_tail(rng: np.random.Generator) -> tuple[bool, str]:
    """Lruvec.take_tail (fast path and list-based counts) vs the vectorised walk."""
    from mmsim.mm.swap import LRU_ACTIVE_FILE, LRU_INACTIVE_ANON, LRU_INACTIVE_FILE

    node, _lv = random_lru_node(rng)
    a, b = clone(node), clone(node)
    msgs = []
    for _ in range(int(rng.integers(1, 8))):
        lru = (LRU_INACTIVE_FILE, LRU_ACTIVE_FILE, LRU_INACTIVE_ANON)[int(rng.integers(0, 3))]
        n = int(rng.choice([1, 2, 5, 32, 32, 32, 64, 300]))
        mz = int(rng.integers(0, 3))
        with reference():
            ra = a.lruvec.take_tail(lru, n, mz)
        rb = b.lruvec.take_tail(lru, n, mz)
        same = (ra[0].tolist() == rb[0].tolist() and ra[1] == rb[1]
                and ra[2].tolist() == rb[2].tolist())
        if not same:
            msgs.append(f"take_tail({lru}, {n}, {mz}) returned differently")
    d = diff(snapshot(a), snapshot(b))
    return not d and not msgs, f"{msgs} {d}"


def check_free_bulk(rng: np.random.Generator) -> tuple[bool, str]:
    """free_pages_bulk(checked=True) small path vs the vectorised one."""
    from mmsim.mm import page_alloc as PA

    node, held = random_node(rng)
    if not held:
        return True, ""
    n = int(rng.integers(1, min(len(held), 300) + 1))
    pick = np.asarray(rng.choice(held, n, replace=False), dtype=np.int64)
    a, b = clone(node), clone(node)
    idx = np.sort(pick) - a.node_start_pfn
    with reference():
        PA._free_checked(a, idx)  # the reference: numpy grouping, _free_zone_pages
    PA.free_pages_bulk(b, pick, checked=True)
    d = diff(snapshot(a), snapshot(b))
    return not d, f"{n} pages: {d}"


def check_free_runs(rng: np.random.Generator) -> tuple[bool, str]:
    """_free_runs vs __free_one_page per block."""
    from mmsim.mm import page_alloc as PA
    from mmsim.mm.mmzone import FRAME_FREE, MAX_ORDER, NOT_BUDDY, pageblock_order

    node, held = random_node(rng)
    if not held:
        return True, ""
    node.pcp_enabled = False
    pick = sorted(rng.choice(held, int(rng.integers(1, len(held) + 1)), replace=False).tolist())
    zone_of = {p: node._zone_id[p - node.node_start_pfn] for p in pick}
    z = max(set(zone_of.values()), key=list(zone_of.values()).count)
    pick = [p for p in pick if zone_of[p] == z]
    zone = node.zones[z]
    if PA._has_isolate_pageblock(zone):
        return True, ""
    base = node.node_start_pfn
    for p in pick:
        i = p - base
        zone.nr_state[node._state[i]] -= 1
        node._state[i] = FRAME_FREE
        node._head_order[i] = NOT_BUDDY
        zone.nr_state[FRAME_FREE] += 1
    starts, ends = [], []
    for p in pick:
        if ends and ends[-1] == p:
            ends[-1] = p + 1
        else:
            starts.append(p)
            ends.append(p + 1)
    a, b = clone(node), clone(node)
    za, zb = a.zones[z], b.zones[z]
    top = MAX_ORDER - 1
    for s, e in zip(starts, ends):
        p = s
        while p < e:
            order = min(top, (p & -p).bit_length() - 1) if p else top
            while p + (1 << order) > e:
                order -= 1
            PA.__free_one_page(za, p, order, a._pageblock_mt[(p >> pageblock_order) - a.pb_base])
            p += 1 << order
    PA._free_runs(zb, starts, ends)
    d = diff(snapshot(a), snapshot(b))
    return not d, f"{len(pick)} pages in {len(starts)} runs: {d}"


def check_alloc_bulk(rng: np.random.Generator) -> tuple[bool, str]:
    """alloc_pages_bulk (inlined block taking, bytearray frame updates) vs the readable one."""
    from mmsim.mm.page_alloc import ALLOC_NO_WATERMARKS, alloc_pages_bulk

    node, _held = random_node(rng)
    a, b = clone(node), clone(node)
    gfps = ["GFP_HIGHUSER_MOVABLE", "GFP_KERNEL", "GFP_KERNEL|__GFP_RECLAIMABLE", "GFP_DMA32",
            "GFP_ATOMIC"]
    msgs = []
    for _ in range(int(rng.integers(1, 6))):
        g = gfps[int(rng.integers(0, len(gfps)))]
        n = int(rng.choice([1, 7, 32, 32, 64, 255, 256, 257, 1000, 5000]))
        kind = ["file", "anon", "kernel", "slab", None][int(rng.integers(0, 5))]
        flags = ALLOC_NO_WATERMARKS if rng.random() < 0.3 else None
        with reference():
            pa = alloc_pages_bulk(a, n, g, kind=kind, alloc_flags=flags)
        pb = alloc_pages_bulk(b, n, g, kind=kind, alloc_flags=flags)
        if pa.dtype != pb.dtype or pa.tolist() != pb.tolist():
            msgs.append(f"alloc_pages_bulk({n}, {g}) returned differently")
    d = diff(snapshot(a), snapshot(b))
    return not d and not msgs, f"{msgs} {d}"


def _drive(gen) -> object:
    """Run a task generator to its end outside a simulation (yields are ignored)."""
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        return stop.value


def _ops(rng: np.random.Generator, size: int) -> list[tuple]:
    ops: list[tuple] = []
    pos = 0
    for _ in range(int(rng.integers(20, 120))):
        r = rng.random()
        if r < 0.35:
            n = int(rng.choice([1, 8, 32, 32, 64, 300]))
            ops.append(("read", 0, np.arange(pos, pos + n) % size))
            pos = (pos + n) % size
        elif r < 0.5:
            ops.append(("read", int(rng.integers(0, 2)),
                        rng.integers(0, size, int(rng.integers(1, 60)))))
        elif r < 0.55:
            ops.append(("write", 0, rng.integers(0, size, int(rng.integers(1, 40)))))
        elif r < 0.6:
            ops.append(("release", 0, rng.integers(0, size, int(rng.integers(1, 100)))))
        elif r < 0.7:
            n = int(rng.choice([1, 16, 64, 64, 300]))
            start = int(rng.integers(0, size))
            idx = (np.arange(start, start + n) % size if rng.random() < 0.6
                   else rng.integers(0, size, n))
            ops.append(("touch", bool(rng.integers(0, 2)), idx))
        elif r < 0.75:
            ops.append(("shrink_anon", int(rng.integers(0, 13)), int(rng.choice([1, 32])),
                        bool(rng.integers(0, 2)), int(rng.integers(0, 3))))
        else:
            ops.append(("shrink", int(rng.integers(0, 13)), int(rng.choice([1, 32, 32, 100])),
                        bool(rng.integers(0, 2)), int(rng.integers(0, 3))))
    return ops


def _apply(node, ops: list[tuple]) -> list:
    from mmsim.mm.filemap import AnonRegion, FileMapping
    from mmsim.mm.slowpath import OutOfMemory
    from mmsim.mm.swap import LRU_INACTIVE_ANON, LRU_INACTIVE_FILE, get_lruvec
    from mmsim.mm.vmscan import ScanControl, shrink_inactive_list

    maps = [m for m in node.machine.mappings if isinstance(m, FileMapping)]
    anon = [m for m in node.machine.mappings if isinstance(m, AnonRegion)]
    lv = get_lruvec(node)
    out = []
    for op in ops:
        try:
            if op[0] == "read":
                out.append(_drive(maps[op[1]].read(op[2])))
            elif op[0] == "write":
                out.append(_drive(maps[0].write(op[2])))
            elif op[0] == "release":
                out.append(maps[0].release(op[2]))
            elif op[0] == "touch":
                out.append(_drive(anon[0].touch(op[2], write=op[1])))
            else:
                kind, prio, n, wp, idx = op
                lru = LRU_INACTIVE_ANON if kind == "shrink_anon" else LRU_INACTIVE_FILE
                sc = ScanControl(priority=prio, may_writepage=wp, reclaim_idx=idx)
                out.append((shrink_inactive_list(n, lv, sc, lru), sc.nr_scanned,
                            sc.cost_ns, vars(sc.nr)))
        except OutOfMemory as exc:
            out.append(str(exc))
    return out


def check_read_reclaim(rng: np.random.Generator) -> tuple[bool, str]:
    """FileMapping.read/write/release, AnonRegion.touch and shrink_inactive_list (file and
    anon, with and without swap): fast paths vs readable code."""
    from mmsim.mm.filemap import AnonRegion, FileMapping
    from mmsim.mm.swap import SwapArea

    node, _held = random_node(rng)
    size = int(rng.integers(500, 6000))
    FileMapping(node, size, name="f")
    FileMapping(node, size, name="m", mapped=True)
    AnonRegion(node, size, name="a")
    if rng.random() < 0.7:
        node.machine.swap = SwapArea(int(rng.integers(0, 4000)))
    ops = _ops(rng, size)
    a, b = clone(node), clone(node)
    with reference():
        ra = _apply(a, ops)
    rb = _apply(b, ops)
    d = diff(snapshot(a), snapshot(b))
    return not d and repr(ra) == repr(rb), f"{len(ops)} ops: {d} results equal: {ra == rb}"


def check_free_order0(rng: np.random.Generator) -> tuple[bool, str]:
    """free_order0_pages (pcp fast path) vs free_pages one page at a time."""
    from mmsim.mm import page_alloc as PA

    node, held = random_node(rng)
    if not held:
        return True, ""
    n = int(rng.integers(1, min(len(held), 600) + 1))
    pick = [int(p) for p in rng.choice(held, n, replace=False)]
    if rng.random() < 0.1:  # a bad pfn in the middle: both raise at it
        pick.insert(int(rng.integers(0, n)), pick[0])
    cpu = int(rng.integers(0, node.machine.nr_cpus))
    a, b = clone(node), clone(node)
    errs = []
    for nd, ref in ((a, True), (b, False)):
        try:
            if ref:
                with reference():
                    PA.free_order0_pages(nd, pick, cpu)
            else:
                PA.free_order0_pages(nd, pick, cpu)
            errs.append(None)
        except ValueError as e:
            errs.append(str(e))
    d = diff(snapshot(a), snapshot(b))
    return not d and errs[0] == errs[1], f"{n} pages: {d} {errs}"


def check_compaction(rng: np.random.Generator) -> tuple[bool, str]:
    """compact_zone (fast free-scanner walk) vs the readable per-block loop."""
    from mmsim.mm import compaction as C
    from mmsim.mm.gfp import GFP_KERNEL

    node, _lv = random_lru_node(rng)
    zones = [z for z in node.zones if z.managed_pages]
    zi = int(rng.integers(0, len(zones)))
    order = int(rng.choice([-1, -1, 1, 3, 9, 10]))
    mode = int(rng.choice([C.MIGRATE_ASYNC, C.MIGRATE_SYNC_LIGHT, C.MIGRATE_SYNC]))
    direct = bool(rng.integers(0, 2)) and order > 0
    whole = bool(rng.integers(0, 2))
    out = []
    a, b = clone(node), clone(node)
    for nd, ref in ((a, True), (b, False)):
        zone = nd.zones[zones[zi].idx]
        cc = C.CompactControl(order, GFP_KERNEL, mode, classzone_idx=zone.idx,
                              whole_zone=whole or order == -1, ignore_skip_hint=order == -1)
        cc.direct_compaction = direct
        if ref:
            with reference():
                r = C.run_compact_zone(zone, cc)
        else:
            r = C.run_compact_zone(zone, cc)
        out.append((r, cc.migrate_pfn, cc.free_pfn, cc.total_migrate_scanned,
                    cc.total_free_scanned))
    d = diff(snapshot(a), snapshot(b))
    return not d and out[0] == out[1], f"order {order} mode {mode}: {d} {out}"


CHECKS: dict[str, Check] = {
    "free_runs": check_free_runs,
    "free_bulk": check_free_bulk,
    "take_tail": check_take_tail,
    "alloc_bulk": check_alloc_bulk,
    "read_reclaim": check_read_reclaim,
    "free_order0": check_free_order0,
    "compaction": check_compaction,
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", action="append", choices=sorted(CHECKS))
    ap.add_argument("--python", action="store_true",
                    help="check the pure-Python fast paths (compiled twins off)")
    args = ap.parse_args(argv)
    from mmsim.mm import page_alloc

    side = "python" if args.python or page_alloc._buddy is None else "compiled"
    print(f"fast paths: {side}")
    bad = 0
    for name in args.only or list(CHECKS):
        rng = np.random.default_rng(args.seed)
        fails = []
        for case in range(args.cases):
            with python_only() if args.python else contextlib.nullcontext():
                ok, msg = CHECKS[name](rng)
            if not ok:
                fails.append(f"case {case}: {msg}")
        bad += len(fails)
        print(f"{name:20} {args.cases - len(fails)}/{args.cases} identical")
        for f in fails[:5]:
            print(f"    {f}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
