"""Workloads: seeded tasks that allocate, touch and free memory like programs do.

Each workload is a small description - what it does, how fast, for how long -
that becomes one task in a :class:`mmsim.Simulation`. Tasks work in *chunks*
(a few dozen pages at a time) and pace themselves to their rate; when the
allocator makes them wait (direct reclaim, throttling) they fall behind and
catch up afterwards, as a real program would. Every random choice comes from
the task's own ``numpy`` generator, derived from the simulation seed and the
workload's position, so a scenario and a seed always give the same run.

============================  ==================================================
workload                      what it models
============================  ==================================================
:class:`FileStream`           reading a large file once, sequentially (``cat``,
                              backups, log scans): page cache that is used once
:class:`WorkingSet`           re-reading a set of file pages (a database or
                              build cache): pages that earn the active list
:class:`AnonGrowth`           a process whose anonymous memory grows (and is
                              touched again, partly), e.g. a JVM heap
:class:`KernelAlloc`          kernel allocations: reclaimable slab (dentries,
                              inodes) or unmovable memory, with lifetimes
:class:`HighOrderBurst`       bursts of order-1..10 requests (network buffers,
                              THP faults) of a chosen migratetype
============================  ==================================================

Rates are in MiB/s (strings like ``"400MiB"`` per second) or pages per second.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mmsim.kthread import NSEC_PER_SEC, Run, Sleep
from mmsim.mm import gfp as G
from mmsim.mm.filemap import AnonRegion, FileMapping
from mmsim.mm.mmzone import MAX_ORDER
from mmsim.units import check_int, parse_pages

if TYPE_CHECKING:  # pragma: no cover
    from mmsim.simulation import Simulation

Gen = Generator[Any, Any, Any]


def _rate_pages(rate: float | int | str | None, field_name: str) -> float | None:
    """Pages per second from ``"400MiB"`` (per second), a float of pages/s, or None."""
    if rate is None:
        return None
    if isinstance(rate, str):
        return float(parse_pages(rate.replace("/s", ""), field_name))
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or rate < 0:
        raise ValueError(f"{field_name}: {rate!r} is not allowed; allowed a rate >= 0 "
                         "(pages/s, or a string like '400MiB')")
    return float(rate)


class Pacer:
    """Keeps a task at ``rate`` pages/s: how long to sleep after each chunk."""

    def __init__(self, sim: Simulation, rate: float | None, start_ns: int):
        self.sim = sim
        self.rate = rate
        self.start_ns = start_ns
        self.done = 0

    def after(self, pages: int) -> Gen:
        self.done += pages
        if not self.rate:
            if pages == 0:
                yield Sleep(1_000_000)  # nothing to do: don't spin
            return
        due = self.start_ns + int(self.done * NSEC_PER_SEC / self.rate)
        now = self.sim.sched.now_ns
        if due > now:
            yield Sleep(due - now)


@dataclass
class Workload:
    """Base class: ``start`` (s) and ``duration`` (s, None = until the run ends)."""

    start: float = 0.0
    duration: float | None = None
    name: str = ""

    def task(self, sim: Simulation, rng: np.random.Generator) -> Gen:  # pragma: no cover
        raise NotImplementedError

    def _until_ns(self, sim: Simulation) -> int | None:
        if self.duration is None:
            return None
        return int((self.start + self.duration) * NSEC_PER_SEC)

    def describe(self) -> str:
        return self.__class__.__name__


@dataclass
class FileStream(Workload):
    """Read a file of ``size`` sequentially at ``rate`` (None: as fast as possible).

    The pages are read once; when the file ends, reading starts again at the
    beginning (by then the first pages have long been reclaimed).
    """

    rate: float | int | str | None = "100MiB"
    size: int | str = "64GiB"
    chunk: int = 32

    def task(self, sim: Simulation, rng: np.random.Generator) -> Gen:
        rate = _rate_pages(self.rate, "FileStream.rate")
        size = parse_pages(self.size, "FileStream.size")
        f = FileMapping(sim.node, size, name=self.name or "stream")
        pacer = Pacer(sim, rate, sim.sched.now_ns)
        until = self._until_ns(sim)
        pos = 0
        while until is None or sim.sched.now_ns < until:
            n = min(self.chunk, size - pos)
            yield from f.read(np.arange(pos, pos + n))
            pos = (pos + n) % size
            yield from pacer.after(n)


@dataclass
class WorkingSet(Workload):
    """Re-read a working set of ``size`` file pages at ``rate``, uniformly at random."""

    rate: float | int | str | None = "200MiB"
    size: int | str = "256MiB"
    chunk: int = 32

    def task(self, sim: Simulation, rng: np.random.Generator) -> Gen:
        rate = _rate_pages(self.rate, "WorkingSet.rate")
        size = parse_pages(self.size, "WorkingSet.size")
        f = FileMapping(sim.node, size, name=self.name or "workingset")
        pacer = Pacer(sim, rate, sim.sched.now_ns)
        until = self._until_ns(sim)
        while until is None or sim.sched.now_ns < until:
            idx = rng.integers(0, size, self.chunk)
            yield from f.read(idx)
            yield from pacer.after(self.chunk)


@dataclass
class AnonGrowth(Workload):
    """Grow anonymous memory to ``size`` at ``rate``, re-touching ``hot`` of it.

    After each new chunk, a random sample of the already-allocated pages
    (``hot`` of them, as a fraction) is touched again, so part of the memory
    stays in use and part goes cold - what reclaim and swap need to tell apart.
    """

    rate: float | int | str | None = "200MiB"
    size: int | str = "1GiB"
    hot: float = 0.25
    chunk: int = 64

    def task(self, sim: Simulation, rng: np.random.Generator) -> Gen:
        rate = _rate_pages(self.rate, "AnonGrowth.rate")
        size = parse_pages(self.size, "AnonGrowth.size")
        if not 0 <= self.hot <= 1:
            raise ValueError(f"AnonGrowth.hot: {self.hot} is out of range; allowed 0..1")
        region = AnonRegion(sim.node, size, name=self.name or "anon")
        pacer = Pacer(sim, rate, sim.sched.now_ns)
        until = self._until_ns(sim)
        top = 0
        while until is None or sim.sched.now_ns < until:
            if top < size:
                n = min(self.chunk, size - top)
                yield from region.touch(np.arange(top, top + n))
                top += n
            else:
                n = self.chunk
            hot_top = max(1, int(top * self.hot))
            again = rng.integers(0, hot_top, max(1, n // 4))
            yield from region.touch(again)
            yield from pacer.after(n)


@dataclass
class KernelAlloc(Workload):
    """Kernel allocations: ``kind`` "slab" (reclaimable) or "kernel" (unmovable).

    Allocates single pages at ``rate`` and frees each after ``lifetime``
    seconds (None: never), oldest first.
    """

    rate: float | int | str | None = "8MiB"
    kind: str = "slab"
    lifetime: float | None = None
    chunk: int = 16

    def task(self, sim: Simulation, rng: np.random.Generator) -> Gen:
        from mmsim.mm.page_alloc import free_pages_bulk
        from mmsim.mm.slowpath import alloc_pages_task

        if self.kind not in ("slab", "kernel"):
            raise ValueError(f"KernelAlloc.kind: {self.kind!r} is not allowed; "
                             "allowed 'slab', 'kernel'")
        rate = _rate_pages(self.rate, "KernelAlloc.rate")
        gfp = G.parse_gfp("GFP_KERNEL|__GFP_RECLAIMABLE" if self.kind == "slab" else "GFP_KERNEL")
        if self.kind == "slab":
            from mmsim.mm.slab import get_slab_cache

            cache = get_slab_cache(sim.node)
        pacer = Pacer(sim, rate, sim.sched.now_ns)
        until = self._until_ns(sim)
        live: deque[tuple[int, np.ndarray]] = deque()
        life_ns = None if self.lifetime is None else int(self.lifetime * NSEC_PER_SEC)
        while until is None or sim.sched.now_ns < until:
            now = sim.sched.now_ns
            while live and life_ns is not None and live[0][0] + life_ns <= now:
                _t, pf = live.popleft()
                if self.kind == "slab":
                    cache.free(pf)
                else:
                    free_pages_bulk(sim.node, pf)
            pfns = yield from alloc_pages_task(sim.node, self.chunk, gfp, kind=self.kind)
            if pfns.size:
                if self.kind == "slab":
                    cache.add(pfns)
                live.append((now, pfns))
            yield from pacer.after(self.chunk)


@dataclass
class HighOrderBurst(Workload):
    """``count`` requests of ``order`` every ``interval`` s, each freed after ``lifetime`` s."""

    order: int = 3
    count: int = 16
    interval: float = 0.1
    lifetime: float | None = 0.05
    gfp: int | str = "GFP_KERNEL"
    kind: str | None = None
    extra: dict = field(default_factory=dict)

    def task(self, sim: Simulation, rng: np.random.Generator) -> Gen:
        from mmsim.mm.page_alloc import free_pages
        from mmsim.mm.slowpath import alloc_pages_task

        order = check_int("HighOrderBurst.order", self.order, 1, MAX_ORDER - 1)
        gfp = G.parse_gfp(self.gfp)
        live: deque[tuple[int, np.ndarray]] = deque()
        life_ns = None if self.lifetime is None else int(self.lifetime * NSEC_PER_SEC)
        until = self._until_ns(sim)
        interval_ns = int(self.interval * NSEC_PER_SEC)
        next_t = sim.sched.now_ns
        sim.stats.setdefault(f"{self.name or 'burst'}.requested", 0)
        sim.stats.setdefault(f"{self.name or 'burst'}.failed", 0)
        while until is None or sim.sched.now_ns < until:
            now = sim.sched.now_ns
            while live and life_ns is not None and live[0][0] + life_ns <= now:
                _t, pf = live.popleft()
                for p in pf.tolist():
                    free_pages(sim.node, p, order)
            pfns = yield from alloc_pages_task(sim.node, self.count, gfp, order=order,
                                               kind=self.kind)
            sim.stats[f"{self.name or 'burst'}.requested"] += self.count
            sim.stats[f"{self.name or 'burst'}.failed"] += self.count - int(pfns.size)
            if pfns.size:
                live.append((now, pfns))
            next_t += interval_ns
            if next_t > sim.sched.now_ns:
                yield Sleep(next_t - sim.sched.now_ns)
            else:
                yield Run(0)


def prefill_page_cache(node: Any, fraction: float = 1.0, name: str = "prefill") -> int:
    """Fill free memory with clean, inactive page cache at once (no simulated time).

    Leaves twice the zones' high watermarks free, so a run starts in the steady
    state of a machine whose memory is full of cache - without simulating the
    minutes it takes to read it. Returns the pages added.
    """
    spare = node.nr_free_pages - 2 * sum(z.high_wmark_pages for z in node.zones)
    n = max(0, int(spare * fraction))
    if not n:
        return 0
    f = FileMapping(node, n, name=name)
    step = 1 << 16
    for i in range(0, n, step):
        for _cmd in f.read(np.arange(i, min(n, i + step))):
            pass  # costs are not charged: this is the state at time 0
    return n


@dataclass
class Script(Workload):
    """A hand-written task: ``fn(sim)`` returns the generator to run.

    For exact scenarios in tests and lessons::

        def steps(sim):
            f = FileMapping(sim.node, 5000, name="f")
            yield from f.read(range(4000))   # fill the cache
            yield Sleep(50_000_000)          # 50 ms
    """

    fn: Any = None

    def task(self, sim: Simulation, rng: np.random.Generator) -> Gen:
        if self.fn is None:
            raise ValueError("Script.fn: give a function fn(sim) returning a generator")
        gen = self.fn(sim)
        if gen is not None:
            yield from gen


WORKLOADS = {
    "file-stream": FileStream,
    "working-set": WorkingSet,
    "anon": AnonGrowth,
    "kernel": KernelAlloc,
    "high-order": HighOrderBurst,
}


@dataclass
class Fragmenter(Workload):
    """Leave free memory in small pieces: fill, sprinkle pinned pages, punch holes.

    Fills ``fill`` of the node's free memory above the high watermarks
    (so that kswapd is not woken) with page cache, placing one
    unmovable kernel page after every ``unmovable_every`` cache pages, then
    drops a random ``punch`` fraction of the cache pages (``truncate`` of
    scattered pages). What remains free is in small blocks next to movable and
    unmovable neighbours: the state compaction exists for. Then it holds on.
    """

    fill: float = 1.0
    punch: float = 0.5
    unmovable_every: int = 256
    chunk: int = 512

    def task(self, sim: Simulation, rng: np.random.Generator) -> Gen:
        from mmsim.mm.slowpath import alloc_pages_task

        for name, v in (("fill", self.fill), ("punch", self.punch)):
            if not 0 <= v <= 1:
                raise ValueError(f"Fragmenter.{name}: {v} is out of range; allowed 0..1")
        if self.unmovable_every < 1:
            raise ValueError(f"Fragmenter.unmovable_every: {self.unmovable_every} is out of "
                             "range; allowed >= 1")
        node = sim.node
        spare = node.nr_free_pages - 2 * sum(z.high_wmark_pages for z in node.zones)
        target = max(0, int(spare * self.fill))
        f = FileMapping(node, target, name=self.name or "fragmenter")
        done = 0
        pinned: list[np.ndarray] = []
        while done < target:
            n = min(self.chunk, target - done)
            yield from f.read(np.arange(done, done + n))
            done += n
            if self.unmovable_every and done % self.unmovable_every < n:
                k = yield from alloc_pages_task(node, max(1, n // self.unmovable_every),
                                                "GFP_KERNEL", kind="kernel")
                pinned.append(k)
        holes = rng.permutation(target)[: int(target * self.punch)]
        f.release(np.sort(holes))
        sim.stats["fragmenter.pinned"] = int(sum(p.size for p in pinned))
        while True:
            yield Sleep(NSEC_PER_SEC)
