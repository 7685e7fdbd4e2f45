"""Simulations: a booted node, its daemons and workloads, run in simulated time.

A :class:`Simulation` wires the pieces the way the kernel's boot does: it
gives the machine an event loop (:mod:`mmsim.kthread`), a tracer, a swap area
and a block device; starts ``kswapd`` (``kswapd_init``) and, once compaction
is available, ``kcompactd``; then starts one task per workload. ``run(seconds)``
advances simulated time and returns a :class:`Result` with the samples of
``/proc/vmstat`` and the zones' watermarks, the trace, and the parameters.

Determinism: all randomness comes from ``numpy.random.default_rng`` streams
derived from ``seed`` and each workload's position; events are ordered by
``(time, seq)``. The same scenario and seed therefore give byte-identical
``ftrace()`` text and ``vmstat`` tables on every run and every machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from mmsim.cost import CostModel
from mmsim.kthread import NSEC_PER_SEC, Scheduler, Sleep
from mmsim.trace import Tracer
from mmsim.units import parse_pages

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from mmsim.mm.mmzone import Node
    from mmsim.workloads import Workload


class Simulation:
    """Run workloads against a node with kswapd (and kcompactd) in simulated time.

    Parameters
    ----------
    node
        A booted :class:`mmsim.Node` (it is modified by the run).
    workloads
        :class:`mmsim.workloads.Workload` instances, started at their ``start`` times.
    seed
        Seed of every random stream.
    swap
        Swap size (pages or ``"2GiB"``); 0 or None: no swap.
    cost
        A :class:`mmsim.cost.CostModel`.
    sample_interval
        Seconds between vmstat samples.
    trace
        Keep tracepoint records (default True).
    daemons
        Start kswapd and kcompactd; False runs the allocator alone. Without
        kswapd nothing clears a watermark boost and nobody wakes a direct
        reclaimer parked on ``pfmemalloc_wait`` (``throttle_direct_reclaim``
        waits for kswapd, with no timeout for ``__GFP_FS`` callers), so a
        workload that pushes free memory below half of *min* can wait for
        the rest of the run - in simulated time; the run itself still ends.
    check_invariants
        Run :func:`mmsim.mm.debug.check_node` after every event (slow; for tests).
    sample_buddyinfo
        Also sample each zone's free blocks per order (``buddy_<zone>_<order>``).

    Examples
    --------
    >>> from mmsim import Node, Simulation
    >>> from mmsim.workloads import FileStream
    >>> sim = Simulation(Node.build(mem="256MiB"), [FileStream(rate="400MiB")], seed=1)
    >>> res = sim.run(seconds=1.0)
    >>> bool(res.vmstat["pgsteal_kswapd"].iloc[-1] > 0)
    True
    """

    def __init__(self, node: Node, workloads: Sequence[Workload] = (), seed: int = 0, *,
                 swap: int | str | None = None, cost: CostModel | None = None,
                 sample_interval: float = 0.01, trace: bool = True,
                 daemons: bool = True, check_invariants: bool = False,
                 sample_buddyinfo: bool = True):
        from mmsim.mm.page_io import BlockDevice, io_thread
        from mmsim.mm.swap import SwapArea
        from mmsim.mm.vmscan import init_node_reclaim_state, kswapd_init, wakeup_kswapd

        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"seed: {seed!r} is not allowed; allowed an int >= 0")
        if not sample_interval or sample_interval <= 0:
            raise ValueError(f"sample_interval: {sample_interval!r} is out of range; "
                             "allowed > 0 seconds")
        self.node = node
        self.machine = machine = node.machine
        if machine.sched is not None:
            raise ValueError("node: this node already belongs to a Simulation; build a new one")
        self.seed = int(seed)
        self.workloads = list(workloads)
        self.sched = Scheduler(hz=machine.config.hz)
        machine.sched = self.sched
        self.tracer = Tracer(self.sched) if trace else None
        machine.tracer = self.tracer
        machine.cost = cost or CostModel()
        machine.hooks["wakeup_kswapd"] = wakeup_kswapd
        swap_pages = parse_pages(swap, "swap") if swap else 0
        machine.swap = SwapArea(swap_pages) if swap_pages else None
        machine.blockdev = BlockDevice(machine, machine.cost.io_bandwidth,
                                       machine.cost.io_latency_ns)
        self.sample_ns = int(sample_interval * NSEC_PER_SEC)
        self.sample_buddyinfo = sample_buddyinfo
        self.samples: list[dict[str, Any]] = []
        self.stats: dict[str, int] = {}
        self.oom_killed: list[str] = []
        for pgdat in machine.nodes:
            init_node_reclaim_state(pgdat)
        self.sched.spawn(io_thread, "kworker/u4:1", machine, flags=0x00200000, pid=30)
        if daemons:
            from mmsim.mm.compaction import kcompactd_init

            kcompactd_init(machine)  # subsys_initcall: before kswapd_init (device_initcall)
            kswapd_init(machine)
        root = np.random.SeedSequence(self.seed)
        children = root.spawn(len(self.workloads))
        for i, (w, ss) in enumerate(zip(self.workloads, children)):
            rng = np.random.default_rng(ss)
            comm = (w.name or type(w).__name__.lower())[:15]
            self.sched.spawn(self._run_workload, comm, w, rng, cpu=1 + i % 8, pid=1000 + i)
        self.sched.spawn(self._sampler, "sampler", flags=0x00200000, pid=2)
        if check_invariants:
            from mmsim.mm.debug import check_node

            self.sched.after_step = lambda: check_node(node)
        self._ran_ns = 0

    def _run_workload(self, w: Workload, rng: np.random.Generator) -> Any:
        from mmsim.mm.slowpath import OOMKilled, OutOfMemory

        start_ns = int(w.start * NSEC_PER_SEC)
        try:
            if start_ns > self.sched.now_ns:
                yield Sleep(start_ns - self.sched.now_ns)
            yield from w.task(self, rng)
        except (OutOfMemory, OOMKilled) as exc:  # its allocation failed, or another's chose it
            from mmsim.mm.filemap import exit_mmap

            self.oom_killed.append(f"{w.name or type(w).__name__}: {exc}")
            exit_mmap(self.node.machine, self.sched.current)  # the victim's memory comes back

    def _sampler(self) -> Any:
        while True:
            self.samples.append(self.sample())
            yield Sleep(self.sample_ns)

    def sample(self) -> dict[str, Any]:
        """One row: time, every vmstat event, per-zone free and watermarks, LRU sizes."""
        from mmsim.mm.swap import get_lruvec, lru_node_stat

        node = self.node
        row: dict[str, Any] = {"time": self.sched.now_ns / NSEC_PER_SEC}
        row["nr_free_pages"] = node.nr_free_pages
        lv = get_lruvec(node)
        for i, name in enumerate(lru_node_stat):
            row[name] = lv.lists[i].nr_pages
        for name in ("nr_dirty", "nr_writeback", "workingset_refault", "workingset_activate",
                     "workingset_restore",
                     "nr_vmscan_write", "nr_vmscan_immediate_reclaim"):
            row[name] = node.node_stat.get(name, 0)
        for z in node.zones:
            if not z.managed_pages:
                continue
            row[f"free_{z.name}"] = z.nr_free_pages
            row[f"min_{z.name}"] = z.min_wmark_pages
            row[f"low_{z.name}"] = z.low_wmark_pages
            row[f"high_{z.name}"] = z.high_wmark_pages
            row[f"boost_{z.name}"] = z.watermark_boost
            if self.sample_buddyinfo:
                for o, n in enumerate(z._nr_free):
                    row[f"buddy_{z.name}_{o}"] = n
        row["kswapd_running"] = int(bool(getattr(node, "kswapd_running", False)))
        prio = getattr(node, "kswapd_priority", None)
        row["kswapd_priority"] = -1 if prio is None else prio
        row["kswapd_failures"] = node.kswapd_failures
        row.update(self.machine.vm_events)
        return row

    # ---- running ----------------------------------------------------------------
    def run(self, seconds: float) -> Result:
        """Advance ``seconds`` of simulated time; returns the :class:`Result` so far."""
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
            raise ValueError(f"seconds: {seconds!r} is not allowed; allowed a number >= 0")
        end = self._ran_ns + round(seconds * NSEC_PER_SEC)
        self.sched.run_until(end)
        self._ran_ns = end
        return self.result()

    def result(self) -> Result:
        return Result(self)

    def params(self) -> dict[str, Any]:
        """Everything needed to repeat the run."""
        from dataclasses import asdict, is_dataclass

        return {
            "seed": self.seed,
            "sysctl": self.machine.sysctl.as_dict(),
            "min_free_kbytes": self.machine.min_free_kbytes,
            "zones": {z.name: z.managed_pages for z in self.node.zones if z.managed_pages},
            "swap_pages": self.machine.swap.pages if self.machine.swap else 0,
            "cost": self.machine.cost.as_dict(),
            "hz": self.machine.config.hz,
            "nr_cpus": self.machine.nr_cpus,
            "sample_interval": self.sample_ns / NSEC_PER_SEC,
            "workloads": [{"type": type(w).__name__, **(asdict(w) if is_dataclass(w) else {})}
                          for w in self.workloads],
        }


@dataclass
class Result:
    """What a run produced.

    Attributes
    ----------
    vmstat : pandas.DataFrame
        One row per sample: ``time`` (s), every ``/proc/vmstat`` event counter
        (cumulative), ``nr_free_pages``, LRU sizes, and per zone ``free_<zone>``,
        ``min_<zone>``, ``low_<zone>``, ``high_<zone>``, ``boost_<zone>``.
    trace : pandas.DataFrame
        Tracepoint records (time, comm, pid, cpu, event, fields).
    node : Node
        The node, in its state at the end of the run.
    params : dict
        The parameters of the run.
    """

    sim: Simulation

    def __post_init__(self) -> None:
        # what the run has produced up to now; the tables are built on first use, so
        # a run() whose result is not looked at costs no pandas work
        self._samples = list(self.sim.samples)
        tracer = self.sim.tracer
        self._records = list(tracer.records) if tracer is not None else None
        self._vmstat: Any = None
        self._trace: Any = None

    @property
    def vmstat(self) -> pd.DataFrame:
        if self._vmstat is None:
            import pandas as pd

            self._vmstat = pd.DataFrame(self._samples)
        return self._vmstat

    @vmstat.setter
    def vmstat(self, value: pd.DataFrame) -> None:
        self._vmstat = value

    @property
    def trace(self) -> pd.DataFrame:
        if self._trace is None:
            import pandas as pd

            from mmsim.trace import records_to_dataframe

            self._trace = (records_to_dataframe(self._records) if self._records is not None
                           else pd.DataFrame(columns=["time", "comm", "pid", "cpu", "event"]))
        return self._trace

    @trace.setter
    def trace(self, value: pd.DataFrame) -> None:
        self._trace = value

    @property
    def node(self) -> Node:
        return self.sim.node

    @property
    def params(self) -> dict[str, Any]:
        return self.sim.params()

    @property
    def kswapd_runs(self) -> list[dict[str, Any]]:
        """One record per ``balance_pgdat`` run (start/end s, order, reclaimed, ...)."""
        return list(getattr(self.sim.node, "kswapd_runs", []))

    @property
    def oom_killed(self) -> list[str]:
        return list(self.sim.oom_killed)

    def ftrace(self) -> str:
        """The trace as kernel ftrace text."""
        return self.sim.tracer.ftrace() if self.sim.tracer is not None else ""

    def counters(self, names: Sequence[str] | None = None) -> pd.Series:
        """Final value of the vmstat counters (all events, or ``names``)."""
        from mmsim.mm.vmstat import VM_EVENT_ITEMS

        last = self.vmstat.iloc[-1]
        return last[list(names) if names is not None else list(VM_EVENT_ITEMS)]
