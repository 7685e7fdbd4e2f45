"""Lesson 06: the kswapd main loop (mm/vmscan.c L3849-3928, Linux v5.0).

Besides the lesson's panel this module holds the small toolkit that lessons
06, 07, 08 and 24 share:

* :func:`simulate` - a small node whose page cache is filled to just above
  the low watermark at t=0, then the given workloads, with the kswapd
  counters time-stamped (:class:`CounterLog`);
* :func:`kswapd_states` - kswapd's life rebuilt from the trace and the
  counters: ``balance_pgdat`` runs, ``HZ/10`` naps and full sleeps;
* :func:`loop_table` - one row per turn of the kswapd loop: the request it
  read, what ``balance_pgdat`` returned, whether the ``goto kswapd_try_sleep``
  was taken, and how the next sleep attempt ended;
* :func:`draw_states` - that life as a lane under a watermark figure.

Nothing here changes the engine: the counters are observed by replacing
``machine.vm_events`` with a dict that remembers when watched names moved.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mmsim.mm.mmzone import Node
from mmsim.simulation import Result, Simulation
from mmsim.sysctl import Sysctl
from mmsim.widgets import Control, Panel, PanelOutput, figure

#: counters whose increments are time-stamped
WATCH = ("pageoutrun", "kswapd_low_wmark_hit_quickly", "kswapd_high_wmark_hit_quickly",
         "compact_daemon_wake")
ZONE_NAMES = ("DMA", "DMA32", "Normal", "Movable", "Device")
THP_GFP = "GFP_TRANSHUGE_LIGHT|__GFP_KSWAPD_RECLAIM"


# --------------------------------------------------------------------------
# observing counters
# --------------------------------------------------------------------------
class CounterLog(dict):
    """``machine.vm_events`` that also records *when* watched counters move.

    Each record is ``(time_ns, seq, name)`` where ``seq`` is the number of
    trace records emitted before it, so counters and tracepoints can be put
    in one exact order.
    """

    def __init__(self, base: dict[str, int], sim: Simulation, watch: Iterable[str] = WATCH):
        super().__init__(base)
        self._sim = sim
        self._watch = frozenset(watch)
        self.log: list[tuple[int, int, str]] = []

    def __setitem__(self, key: str, value: int) -> None:
        if key in self._watch:
            tr = self._sim.tracer
            self.log.append((self._sim.sched.now_ns, len(tr.records) if tr is not None else 0,
                             key))
        super().__setitem__(key, value)


class PassLog(list):
    """``pgdat.kswapd_priority_trace`` that also notes which balance_pgdat run each
    pass belongs to (the ``pageoutrun`` count when the pass started)."""

    def __init__(self, machine: Any):
        super().__init__()
        self._machine = machine
        self.run_index: list[int] = []

    def append(self, item: Any) -> None:
        super().append(item)
        self.run_index.append(int(self._machine.vm_events.get("pageoutrun", 0)))


@dataclass
class LessonRun:
    """A finished lesson simulation: the Result plus the time-stamped counters."""

    result: Result
    counter_log: list[tuple[int, int, str]]
    seconds: float
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def node(self) -> Node:
        return self.result.node

    @property
    def runs(self) -> list[dict[str, Any]]:
        return [r for r in getattr(self.node, "kswapd_runs", []) if "end" in r]

    def counter(self, name: str) -> int:
        return int(self.result.vmstat[name].iloc[-1])

    def passes(self) -> list[list[int]]:
        """The priority of every pass, per balance_pgdat run (in run order)."""
        pts = getattr(self.node, "kswapd_priority_trace", [])
        idx = getattr(pts, "run_index", None)
        out: list[list[int]] = [[] for _ in self.runs]
        if idx is None:
            return out
        first = int(self.notes.get("pageoutrun_before", 0))
        for (_t, prio), k in zip(pts, idx):
            j = k - first - 1
            if 0 <= j < len(out):
                out[j].append(prio)
        return out


def _fill_task(margin: int, hot_stripe: int = 0):
    """A task that fills the node with clean page cache at t=0.

    It reads until every zone is at its low watermark (plus ``lowmem_reserve``
    for page-cache allocations), then drops the first ``margin`` pages it read
    - they sit in the first zone of the zonelist, DMA32 here - so that zone is
    ``margin`` pages above low and kswapd is still asleep. With ``hot_stripe``
    = n, every other run of n pages is read twice more, which moves it to the
    active list: reclaim then frees the other runs and leaves free memory in
    n-page pieces (what lesson 24 needs).
    """

    def fill(sim: Simulation):
        from mmsim.mm.filemap import FileMapping
        from mmsim.mm.gfp import GFP_HIGHUSER_MOVABLE, gfp_zone

        node = sim.node
        cz = gfp_zone(GFP_HIGHUSER_MOVABLE)
        room = sum(max(0, z.nr_free_pages - z.low_wmark_pages - z.lowmem_reserve[cz])
                   for z in node.zones if z.managed_pages)
        f = FileMapping(node, max(room, 1), name="warm-cache")
        if room <= margin:
            return
        idx = np.arange(room)
        yield from f.read(idx)
        if hot_stripe:
            hot = idx[(idx // hot_stripe) % 2 == 1]
            yield from f.read(hot)
            yield from f.read(hot)
        if margin:
            f.release(idx[:margin])

    return fill


def simulate(workloads: Sequence[Any] = (), *, mem: str = "256MiB",
             min_free_kbytes: int | None = None, watermark_boost_factor: int | None = None,
             seconds: float = 1.0, fill_margin: int = 32, hot_stripe: int = 0,
             sample_interval: float = 0.004, sample_buddyinfo: bool = False, seed: int = 0,
             swap: str | None = None, setup: Any = None, fill: bool = True) -> LessonRun:
    """Run ``workloads`` for ``seconds`` on a node pre-filled with page cache.

    At t=0 a task reads clean page cache until the node sits just above its
    low watermarks (:func:`_fill_task`; about 55 ms of simulated time for
    256 MiB), so kswapd has something to reclaim from the first wake-up on.
    The ``pageoutrun``, hit-quickly and ``compact_daemon_wake`` counters are
    time-stamped. ``setup(sim)``, if given, runs before the simulation starts
    (to install more observers); ``fill=False`` leaves the node empty.
    """
    from mmsim.workloads import Script

    kw: dict[str, Any] = {}
    if min_free_kbytes is not None:
        kw["min_free_kbytes"] = min_free_kbytes
    if watermark_boost_factor is not None:
        kw["watermark_boost_factor"] = watermark_boost_factor
    node = Node.build(mem=mem, sysctl=Sysctl(**kw))
    wl = [Script(fn=_fill_task(fill_margin, hot_stripe), name="fill")] if fill else []
    wl += list(workloads)
    sim = Simulation(node, wl, seed=seed, sample_interval=sample_interval,
                     sample_buddyinfo=sample_buddyinfo, swap=swap)
    log = CounterLog(sim.machine.vm_events, sim)
    sim.machine.vm_events = log
    node.kswapd_priority_trace = PassLog(sim.machine)
    if setup is not None:
        setup(sim)
    res = sim.run(seconds)
    return LessonRun(res, log.log, seconds)


# --------------------------------------------------------------------------
# kswapd's life, rebuilt
# --------------------------------------------------------------------------
def _trace_events(run: LessonRun, names: set[str]) -> list[tuple[int, int, str, dict]]:
    tr = run.result.sim.tracer
    out = []
    for i, (t, _comm, _pid, _cpu, ev, f) in enumerate(tr.records):
        if ev in names:
            out.append((t, i, ev, f))
    return out


def kswapd_states(run: LessonRun) -> list[dict[str, Any]]:
    """Intervals of kswapd's life: ``balance`` runs, ``nap`` (HZ/10), full ``sleep``.

    Every ``kswapd_try_to_sleep`` call starts at boot or at the end of a
    ``balance_pgdat`` run and ends in exactly one of: the
    ``mm_vmscan_kswapd_sleep`` tracepoint (nap completed, node still
    balanced: full sleep until the next ``mm_vmscan_kswapd_wake``),
    ``kswapd_low_wmark_hit_quickly`` (nap cut short by a wake-up) or
    ``kswapd_high_wmark_hit_quickly`` (not balanced - before the nap, in
    which case no time passed, or right after it). Sleep attempts carry
    ``try``: 0 for the one at boot, k+1 for the one after run k.
    """
    end_s = run.seconds
    runs = run.runs
    entries = [0] + [round(r["end"] * 1e9) for r in runs]
    outcomes: list[tuple[int, int, str]] = []
    for t, seq, _ev, _f in _trace_events(run, {"mm_vmscan_kswapd_sleep"}):
        outcomes.append((t, seq, "sleep"))
    for t, seq, name in run.counter_log:
        if name == "kswapd_low_wmark_hit_quickly":
            outcomes.append((t, seq, "low"))
        elif name == "kswapd_high_wmark_hit_quickly":
            outcomes.append((t, seq, "high"))
    outcomes.sort()
    wakes = [t for t, _s, _e, _f in _trace_events(run, {"mm_vmscan_kswapd_wake"})]
    states: list[dict[str, Any]] = []
    for r in runs:
        states.append({"kind": "balance", "start": r["start"], "end": r["end"],
                       "order": r["order"], "reclaimed": r["reclaimed"]})
    wi = 0
    for i, t0 in enumerate(entries):
        if i >= len(outcomes):
            # still napping (or just started) at the end of the run
            states.append({"kind": "nap", "start": t0 / 1e9, "end": end_s, "outcome": None,
                           "try": i})
            break
        t1, _seq, kind = outcomes[i]
        if kind == "high" and t1 == t0:
            states.append({"kind": "no nap", "start": t0 / 1e9, "end": t0 / 1e9,
                           "outcome": "high", "try": i})
            continue
        states.append({"kind": "nap", "start": t0 / 1e9, "end": t1 / 1e9, "outcome": kind,
                       "try": i})
        if kind == "sleep":
            while wi < len(wakes) and wakes[wi] < t1:
                wi += 1
            t2 = wakes[wi] / 1e9 if wi < len(wakes) else end_s
            states.append({"kind": "sleep", "start": t1 / 1e9, "end": t2, "outcome": None})
    states.sort(key=lambda s: (s["start"], s["kind"] != "balance"))
    return states


OUTCOME_TEXT = {
    "sleep": "napped, then full sleep",
    "low": "nap cut short -> low_wmark_hit_quickly",
    "high": "not balanced -> high_wmark_hit_quickly",
    None: "(napping at the end)",
}


def loop_table(run: LessonRun, zone: str = "DMA32") -> pd.DataFrame:
    """One row per turn of the kswapd loop (a ``mm_vmscan_kswapd_wake``).

    Columns: the wake time; the order and classzone kswapd *read* from
    ``pgdat`` (0 when no request was recorded); the zone's free pages then;
    what ``balance_pgdat`` reclaimed and the order it returned; where the
    loop went next (``goto kswapd_try_sleep`` when the returned order is lower
    than the requested one, else the top of the loop); and how that sleep
    attempt ended.
    """
    states = kswapd_states(run)
    tries = {s["try"]: s for s in states if s["kind"] in ("nap", "no nap")}
    rows = []
    for k, r in enumerate(run.runs):
        after = tries.get(k + 1)  # try 0 is the one at boot; try k+1 follows run k
        if after is None:
            outcome = None
            nap = "-"
        else:
            outcome = after["outcome"]
            ms = (after["end"] - after["start"]) * 1e3
            nap = "no" if after["kind"] == "no nap" else f"{ms:.0f} ms"
        goto = r["reclaim_order"] < r["order"]
        rows.append({
            "wake (s)": round(r["start"], 4),
            "order read": r["order"],
            "classzone read": f"{r['classzone_idx']} ({ZONE_NAMES[r['classzone_idx']]})",
            f"free {zone}": r["free_start"].get(zone),
            "reclaimed": r["reclaimed"],
            "returned order": r["reclaim_order"],
            "next": "goto kswapd_try_sleep" if goto else "loop top",
            "nap": nap,
            "sleep attempt ended": OUTCOME_TEXT.get(outcome, outcome),
        })
    df = pd.DataFrame(rows)
    df.index = pd.RangeIndex(1, len(df) + 1, name="turn")
    return df


STATE_STYLE = {"balance": ("#2166ac", "balance_pgdat"), "nap": ("#fdb863", "nap (HZ/10)"),
               "sleep": ("#b2abd2", "full sleep")}
LEGEND = dict(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)


def draw_states(ax: Any, run: LessonRun, window: tuple[float, float] | None = None,
                wakes: bool = True) -> None:
    """kswapd's life as a lane: runs, naps, full sleeps, and how each nap ended.

    With ``wakes``, loop turns that read classzone 0 (no request recorded) get
    a hollow circle and turns woken for order > 0 a triangle with the order.
    """
    lo, hi = window if window is not None else (0.0, run.seconds)
    states = [s for s in kswapd_states(run) if s["end"] >= lo and s["start"] <= hi]
    minw = (hi - lo) * 0.003
    for kind in ("nap", "sleep", "balance"):
        colour, label = STATE_STYLE[kind]
        bars = [(s["start"], max(s["end"] - s["start"], minw)) for s in states
                if s["kind"] == kind]
        if bars:
            ax.broken_barh(bars, (0.1, 0.8), color=colour, label=label)
    for outcome, mark, colour, label in (
            ("low", "v", "#d7191c", "nap cut short: kswapd_low_wmark_hit_quickly"),
            ("high", "x", "#000000", "not balanced: kswapd_high_wmark_hit_quickly")):
        tt = [s["end"] for s in states if s.get("outcome") == outcome]
        if tt:
            ax.plot(tt, [1.15] * len(tt), mark, color=colour, ms=5, ls="none", label=label)
    if wakes:
        runs = [r for r in run.runs if lo <= r["start"] <= hi]
        cz0 = [r["start"] for r in runs if r["classzone_idx"] == 0]
        if cz0:
            ax.plot(cz0, [1.45] * len(cz0), "o", mfc="none", color="#b2182b", ms=5, ls="none",
                    label="wake read classzone 0")
        hi_order = [r for r in runs if r["order"]]
        if hi_order:
            ax.plot([r["start"] for r in hi_order], [1.45] * len(hi_order), "^",
                    color="#2166ac", ms=6, ls="none", label="wake for order > 0")
            for r in hi_order[:6]:
                ax.annotate(f"order {r['order']}", (r["start"], 1.45), xytext=(4, -3),
                            textcoords="offset points", fontsize=7, color="#2166ac")
    ax.set_ylim(0, 1.75)
    ax.set_yticks([])
    ax.set_xlim(lo, hi)
    ax.set_ylabel("kswapd")
    ax.set_xlabel("time (s)")
    ax.legend(**LEGEND)


def free_axes(ax: Any, run: LessonRun, zone: str = "DMA32",
              window: tuple[float, float] | None = None, boost: bool = False) -> None:
    """Free pages of ``zone`` against min/low/high, kswapd's balance_pgdat runs shaded.

    A lean version of :func:`mmsim.plots.watermark_timeline` (one artist per
    kind, fixed layout) so that panels redraw quickly.
    """
    lo, hi = window if window is not None else (0.0, run.seconds)
    v = run.result.vmstat
    v = v[(v.time >= lo) & (v.time <= hi)]
    t = v.time.to_numpy()
    top = float(max(v[f"free_{zone}"].max(), v[f"high_{zone}"].max())) * 1.12
    bars = [(r["start"], max(r["end"] - r["start"], (hi - lo) * 0.003)) for r in run.runs
            if r["end"] >= lo and r["start"] <= hi]
    if bars:
        ax.broken_barh(bars, (0, top), color="#4393c3", alpha=0.22, lw=0,
                       label="kswapd balance_pgdat")
    ax.plot(t, v[f"free_{zone}"], color="#333333", lw=1.3, label=f"free ({zone})")
    for w in ("high", "low", "min"):
        colour = {"min": "#d7191c", "low": "#fdae61", "high": "#1a9641"}[w]
        ax.plot(t, v[f"{w}_{zone}"], color=colour, ls="--", lw=1.1, label=w)
    if boost and v[f"boost_{zone}"].any():
        ax.fill_between(t, v[f"high_{zone}"] - v[f"boost_{zone}"], v[f"high_{zone}"],
                        color="#1a9641", alpha=0.15, lw=0, label="boost (in high)")
    ax.set_ylim(0, top)
    ax.set_xlim(lo, hi)
    ax.set_ylabel("pages")
    ax.legend(**LEGEND)


# --------------------------------------------------------------------------
# lesson 06: the loop
# --------------------------------------------------------------------------
def loop_story(thp_at: float | None = 0.62, rate: str = "16MiB", min_free_kbytes: int = 4096,
               seconds: float = 1.0, seed: int = 0) -> LessonRun:
    """The lesson's run: a reader at ``rate`` and one order-9 request at ``thp_at``.

    256 MiB node (DMA + DMA32), page cache filled to just above low at t=0,
    ``min_free_kbytes`` as given (4096: DMA32 min/low/high 950/1187/1424).
    """
    from mmsim.workloads import FileStream, HighOrderBurst

    wl: list[Any] = [FileStream(rate=rate, start=0.1, name="reader", chunk=32)]
    if thp_at is not None:
        wl.append(HighOrderBurst(order=9, count=1, interval=100.0, lifetime=None,
                                 gfp=THP_GFP, kind="anon", name="thp", start=thp_at))
    return simulate(wl, mem="256MiB", min_free_kbytes=min_free_kbytes, seconds=seconds,
                    seed=seed)


def loop_figure(run: LessonRun, window: tuple[float, float] | None = None,
                title: str = "") -> PanelOutput:
    """Free pages against the watermarks, and kswapd's loop in a lane below."""
    fig = figure(figsize=(9.5, 4.6), layout=None)
    fig.subplots_adjust(left=0.08, right=0.66, top=0.92, bottom=0.11, hspace=0.08)
    ax1, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=(2.6, 1.2))
    free_axes(ax1, run, window=window)
    ax1.set_title(title or "DMA32: free pages and watermarks; kswapd's loop below", fontsize=10)
    draw_states(ax2, run, window=window)
    return PanelOutput(figure=fig)


CONTROLS = [
    Control("rate_mib", "choice", 16, options=(4, 8, 16, 24, 32), label="reader rate (MiB/s)",
            help="FileStream rate: how fast page cache is allocated"),
    Control("min_free_kbytes", "int", 4096, 1024, 8192, step=512, label="min_free_kbytes",
            help="vm.min_free_kbytes: sets min, and through it low and high"),
    Control("thp", "bool", True, label="one order-9 request at t=0.62 s",
            help="a THP-like allocation that wakes kswapd for order 9 and cannot reclaim"),
]


def update(rate_mib: int = 16, min_free_kbytes: int = 4096, thp: bool = True) -> PanelOutput:
    run = loop_story(thp_at=0.62 if thp else None, rate=f"{rate_mib}MiB",
                     min_free_kbytes=min_free_kbytes)
    fig = loop_figure(run, title=f"reader {rate_mib} MiB/s, min_free_kbytes={min_free_kbytes}"
                      + (", order-9 request at 0.62 s" if thp else "")).figure
    df = loop_table(run)
    z = run.node.zone("DMA32")
    cz0 = int((df["classzone read"].str.startswith("0")).sum()) if len(df) else 0
    gotos = int((df["next"] == "goto kswapd_try_sleep").sum()) if len(df) else 0
    text = (f"DMA32 min/low/high = {z.min_wmark_pages}/{z.low_wmark_pages}/"
            f"{z.high_wmark_pages}\n"
            f"loop turns (mm_vmscan_kswapd_wake): {len(df)}; read classzone 0 (no request "
            f"recorded): {cz0}; goto kswapd_try_sleep: {gotos}\n"
            f"pageoutrun {run.counter('pageoutrun')}, kswapd_low_wmark_hit_quickly "
            f"{run.counter('kswapd_low_wmark_hit_quickly')}, kswapd_high_wmark_hit_quickly "
            f"{run.counter('kswapd_high_wmark_hit_quickly')}")
    return PanelOutput(figure=fig, text=text)


PANELS = [Panel("kswapd: one loop turn per wake-up", CONTROLS, update)]


# --------------------------------------------------------------------------
# host
# --------------------------------------------------------------------------
HOST_COUNTERS = ("pageoutrun", "kswapd_low_wmark_hit_quickly", "kswapd_high_wmark_hit_quickly",
                 "pgscan_kswapd", "pgsteal_kswapd", "pgscan_direct", "compact_daemon_wake")


def host_vmstat(names: Sequence[str] = HOST_COUNTERS) -> dict[str, int] | None:
    """Chosen /proc/vmstat counters of this host, or None when it has no /proc/vmstat."""
    from mmsim.lessons import read_host_file

    text = read_host_file("/proc/vmstat")
    if text is None:
        return None
    vals = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in names:
            vals[parts[0]] = int(parts[1])
    return {n: vals[n] for n in names if n in vals}


def host_kswapd_threads() -> list[tuple[int, str, str]]:
    """(pid, comm, state) of this host's kswapd/kcompactd threads ([] when not Linux)."""
    import os

    from mmsim.lessons import read_host_file

    out = []
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return out
    for pid in sorted(pids):
        comm = read_host_file(f"/proc/{pid}/comm")
        if comm is None or not comm.startswith(("kswapd", "kcompactd")):
            continue
        stat = read_host_file(f"/proc/{pid}/stat") or ""
        state = stat.rsplit(")", 1)[-1].split()[0] if ")" in stat else "?"
        out.append((pid, comm.strip(), state))
    return out


# --------------------------------------------------------------------------
# check yourself
# --------------------------------------------------------------------------
def _q_kswapd_read(rng: np.random.Generator, seed: int) -> Any:
    from mmsim.exercises import Question

    recorded = bool(rng.integers(0, 3))
    order = int(rng.choice([0, 0, 2, 3, 9]))
    cz = int(rng.choice([1, 2, 3]))
    prev = int(rng.choice([1, 2, 3]))
    if recorded:
        state = f"pgdat->kswapd_order = {order}, pgdat->kswapd_classzone_idx = {cz}"
        ans = cz
        why = (f"a request is recorded, so kswapd_classzone_idx(pgdat, 0) = max({cz}, 0) = {cz};"
               f" alloc_order = reclaim_order = {order}.")
    else:
        state = "pgdat->kswapd_order = 0, pgdat->kswapd_classzone_idx = MAX_NR_ZONES (none)"
        ans = 0
        why = ("nothing is recorded, so kswapd_classzone_idx(pgdat, 0) returns its second "
               "argument, 0: balance_pgdat and the next sleep check look at ZONE_DMA only "
               f"(the previous classzone {prev} is ignored in v5.0; later kernels pass it).")
    return Question("kswapd_read", seed,
                    f"kswapd returns from kswapd_try_to_sleep with {state}; the classzone it "
                    f"used before was {prev}. Which classzone_idx does it read at L3894 and "
                    "print in mm_vmscan_kswapd_wake?", ans, why)


def _q_kswapd_goto(rng: np.random.Generator, seed: int) -> Any:
    from mmsim.exercises import Question

    alloc = int(rng.choice([0, 2, 3, 4, 9, 10]))
    gap = 2 << alloc if alloc else 0
    reclaimed = int(rng.integers(0, 3 * gap + 64)) if alloc else int(rng.integers(0, 400))
    dropped = bool(alloc) and reclaimed >= gap
    ret = 0 if dropped else alloc
    ans = "goto" if ret < alloc else "top"
    why = (f"compact_gap({alloc}) = {gap}; " if alloc else "order 0 never drops; ") + \
        (f"{reclaimed} >= {gap}, so kswapd_shrink_node set sc.order = 0 and balance_pgdat "
         f"returned 0 < {alloc}: goto kswapd_try_sleep with alloc_order {alloc}, reclaim_order 0"
         " (sleep check at order 0, kcompactd woken for order "
         f"{alloc})." if dropped else
         f"balance_pgdat returned {ret}, not lower than {alloc}: back to the loop top, which "
         "re-reads pgdat->kswapd_order and merges the classzone.")
    return Question("kswapd_goto", seed,
                    f"kswapd was woken for order {alloc}; its balance_pgdat run reclaimed "
                    f"{reclaimed} pages in total before pgdat_balanced() said yes. Where does the "
                    "loop go next: 'goto' (kswapd_try_sleep) or 'top' (the loop top)?", ans, why)


def _register() -> None:
    from mmsim.exercises import register

    register("kswapd_read", _q_kswapd_read)
    register("kswapd_goto", _q_kswapd_goto)


_register()
