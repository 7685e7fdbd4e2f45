"""Lesson 10: ``wake_all_kswapds`` - who is asked to reclaim, with which classzone, how often.

One allocation is run through mmsim's allocator (``alloc_pages_task``: fast
path, then the v5.0 slow path) on a small node put into a chosen memory state,
with a stand-in kswapd asleep on ``kswapd_wait``. A thin wrapper around four
engine functions (``wake_all_kswapds``, ``wakeup_kswapd``, ``try_to_free_pages``
and the allocation attempts) writes down the order in which the slow path
calls them, with their arguments; nothing else is changed, and the wrappers
are removed afterwards. When the stand-in kswapd is woken it leaves the wait
queue (it is running now), as the real thread does.

The node has two zones, DMA32 and Normal, of 256 MiB each (no DMA zone: on a
small box the DMA zone's free pages would satisfy the allocations and hide
the slow path). Memory is first filled with clean page cache, so that direct
reclaim has something to take, then each zone is brought to the chosen free
level with unmovable pages.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from mmsim.widgets import Control, Panel, PanelOutput, figure

ZONES = {"DMA32": "256MiB", "Normal": "256MiB"}
GFP_CHOICES = ("GFP_KERNEL", "GFP_ATOMIC", "GFP_NOWAIT", "GFP_HIGHUSER_MOVABLE",
               "GFP_TRANSHUGE_LIGHT", "GFP_KERNEL|GFP_DMA32")
STATES = ("above low", "between min and low", "below min", "below min, nothing to reclaim")
ZONE_NAMES = ("DMA", "DMA32", "Normal", "Movable", "Device")


def _drive(gen: Any) -> Any:
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        return stop.value


def build_node(state: str = "between min and low") -> Any:
    """The two-zone node in ``state``, with a stand-in kswapd asleep on ``kswapd_wait``."""
    import numpy as np

    from mmsim import Node
    from mmsim.kthread import prepare_to_wait
    from mmsim.mm.filemap import FileMapping
    from mmsim.panels.l11_wakeup_kswapd import _drain_zone, stand_in
    from mmsim.trace import Tracer

    if state not in STATES:
        raise ValueError(f"state: {state!r} is not allowed; allowed {', '.join(STATES)}")
    node = Node.build(zones=ZONES)
    node.machine.tracer = Tracer(None)
    if state != "below min, nothing to reclaim":
        n = node.nr_free_pages - 2 * sum(z.high_wmark_pages for z in node.zones)
        cache = FileMapping(node, n, name="cache")
        _drive(cache.read(np.arange(n)))
    for z in node.zones:
        if not z.managed_pages:
            continue
        if state == "between min and low":
            _drain_zone(node, z, (z.min_wmark_pages + z.low_wmark_pages) // 2)
        elif state.startswith("below min"):
            _drain_zone(node, z, z.min_wmark_pages - 16)
    node.stand_in_kswapd = stand_in("kswapd0", 101)
    prepare_to_wait(node.kswapd_wait, node.stand_in_kswapd)
    return node


@dataclass
class Step:
    """One thing the allocation did."""

    kind: str  # "alloc", "wake_all", "wakeup", "reclaim", "compact", "oom", "result"
    text: str
    ok: bool | None = None


@dataclass
class AllocLog:
    gfp: str
    order: int
    state: str
    steps: list[Step] = field(default_factory=list)
    wake_all_calls: int = 0
    wakeup_calls: list[tuple[str, int, int]] = field(default_factory=list)
    got: int = 0
    oom: bool = False
    request: tuple[int, int] = (0, 5)


def _flags_text(flags: int) -> str:
    from mmsim.mm.page_alloc import ALLOC_HARDER, ALLOC_HIGH, ALLOC_NO_WATERMARKS

    if flags & ALLOC_NO_WATERMARKS:
        return "no watermark"
    mark = ("min", "low", "high")[flags & 3]
    extra = [n for f, n in ((ALLOC_HIGH, "ALLOC_HIGH"), (ALLOC_HARDER, "ALLOC_HARDER"))
             if flags & f]
    return mark + (" + " + "|".join(extra) if extra else "")


@contextmanager
def _logging(node: Any, log: AllocLog) -> Any:
    """Wrap the engine functions the slow path calls, writing each call into ``log``."""
    from mmsim.kthread import TASK_RUNNING, finish_wait
    from mmsim.mm import slowpath, vmscan
    from mmsim.mm.gfp import show_gfp_flags

    orig = (slowpath.wake_all_kswapds, vmscan.wakeup_kswapd, vmscan.try_to_free_pages,
            slowpath._take, slowpath._direct_compact)
    kswapd = node.stand_in_kswapd

    def wake_all(node_: Any, order: int, gfp: int, high_zoneidx: int) -> None:
        log.wake_all_calls += 1
        log.steps.append(Step("wake_all", f"wake_all_kswapds(order={order}, "
                                          f"gfp={show_gfp_flags(gfp)}, "
                                          f"high_zoneidx={high_zoneidx})"))
        return orig[0](node_, order, gfp, high_zoneidx)

    def wakeup(zone: Any, gfp: int, order: int, classzone_idx: int) -> None:
        asleep = kswapd in node.kswapd_wait.tasks
        n = len(node.machine.tracer.records)
        orig[1](zone, gfp, order, classzone_idx)
        woke = asleep and kswapd.state == TASK_RUNNING and \
            len(node.machine.tracer.records) > n
        if woke:
            finish_wait(node.kswapd_wait, kswapd)  # kswapd now runs: off the wait queue
        what = "kswapd woken" if woke else ("request recorded (kswapd already running)"
                                            if not asleep else "request recorded, not woken")
        log.wakeup_calls.append((zone.name, classzone_idx, order))
        log.steps.append(Step("wakeup", f"  wakeup_kswapd(zone {zone.name}, order {order}, "
                                        f"classzone_idx {classzone_idx}): {what}", woke))

    def ttfp(pgdat: Any, order: int, gfp_mask: int) -> Any:
        got = yield from orig[2](pgdat, order, gfp_mask)
        log.steps.append(Step("reclaim", f"direct reclaim (try_to_free_pages): {got} pages",
                              bool(got)))
        return got

    def take(node_: Any, nr: int, order: int, gfp: int, kind: Any, flags: int) -> Any:
        p = orig[3](node_, nr, order, gfp, kind, flags)
        log.steps.append(Step("alloc", f"get_page_from_freelist at {_flags_text(flags)}: "
                                       f"{'got it' if p.size else 'failed'}", bool(p.size)))
        return p

    def compact(node_: Any, gfp: int, order: int, flags: int, prio: int, grab: Any) -> Any:
        res = yield from orig[4](node_, gfp, order, flags, prio, grab)
        names = ("not_suitable_zone", "skipped", "deferred", "no_suitable_page", "continue",
                 "complete", "partial_skipped", "contended", "success")
        result = names[res] if isinstance(res, int) and 0 <= res < len(names) else res
        prio_name = {0: "SYNC_FULL", 1: "SYNC_LIGHT", 2: "ASYNC"}.get(prio, prio)
        log.steps.append(Step("compact", f"direct compaction (COMPACT_PRIO_{prio_name}): "
                                         f"{result}", None))
        return res

    slowpath.wake_all_kswapds, vmscan.wakeup_kswapd = wake_all, wakeup
    vmscan.try_to_free_pages, slowpath._take, slowpath._direct_compact = ttfp, take, compact
    try:
        yield log
    finally:
        (slowpath.wake_all_kswapds, vmscan.wakeup_kswapd, vmscan.try_to_free_pages,
         slowpath._take, slowpath._direct_compact) = orig


def allocate(gfp: str = "GFP_KERNEL", order: int = 0, state: str = "between min and low",
             node: Any = None) -> AllocLog:
    """One allocation of ``2**order`` pages; returns the log of what the allocator did."""
    from mmsim.mm.slowpath import OutOfMemory, alloc_pages_task

    if node is None:
        node = build_node(state)
    log = AllocLog(gfp, order, state)
    kind = "anon" if "MOVABLE" in gfp or "TRANSHUGE" in gfp else "kernel"
    with _logging(node, log):
        try:
            pfns = _drive(alloc_pages_task(node, 1, gfp, order=order, kind=kind))
            log.got = int(pfns.size)
        except OutOfMemory:
            log.oom = True
    if log.oom:
        log.steps.append(Step("oom", "out of memory: the OOM killer picks this task", False))
    log.steps.append(Step("result", "allocation " + ("succeeded" if log.got else "failed"),
                          bool(log.got)))
    log.request = (node.kswapd_order, node.kswapd_classzone_idx)
    return log


def gfp_table(state: str = "below min") -> pd.DataFrame:
    """For each gfp mask: does it wake kswapd, with which classzone, how many times."""
    from mmsim.mm import gfp as G
    from mmsim.mm.page_alloc import ALLOC_KSWAPD, prepare_alloc_pages
    from mmsim.mm.slowpath import gfp_to_alloc_flags

    rows = []
    for gfp in GFP_CHOICES:
        order = 9 if gfp == "GFP_TRANSHUGE_LIGHT" else 0
        mask = G.parse_gfp(gfp)
        node = build_node(state)
        ac = prepare_alloc_pages(node, mask)
        log = allocate(gfp, order, state, node=node)
        woken = sum(1 for s in log.steps if s.kind == "wakeup" and s.ok)
        rows.append({
            "gfp": gfp, "order": order,
            "ALLOC_KSWAPD": bool(gfp_to_alloc_flags(mask) & ALLOC_KSWAPD),
            "zonelist": " > ".join(z.name for z in ac.zonelist),
            "classzone passed": ac.high_zoneidx,
            "wake_all_kswapds calls": log.wake_all_calls,
            "kswapd woken": woken,
            "direct reclaims": sum(1 for s in log.steps if s.kind == "reclaim"),
            "result": "OOM" if log.oom else ("ok" if log.got else "failed"),
        })
    return pd.DataFrame(rows).set_index("gfp")


# --------------------------------------------------------------------------
# the panel
# --------------------------------------------------------------------------
CONTROLS = [
    Control("gfp", "choice", "GFP_KERNEL", options=GFP_CHOICES, label="gfp mask"),
    Control("order", "int", 0, 0, 10, label="order"),
    Control("state", "choice", "below min", options=STATES, label="free memory in every zone",
            help="where each zone's free pages sit against its watermarks before the call"),
]

_COLOURS = {"alloc": "#92c5de", "wake_all": "#2166ac", "wakeup": "#d1e5f0",
            "reclaim": "#f4a582", "compact": "#fddbc7", "oom": "#b2182b", "result": "#cccccc"}


def update(gfp: str = "GFP_KERNEL", order: int = 0, state: str = "below min") -> PanelOutput:
    log = allocate(gfp, order, state)
    more = Step("result", f"... {len(log.steps) - 21} more steps ...")
    show = log.steps if len(log.steps) <= 22 else [*log.steps[:16], more, *log.steps[-5:]]
    fig = figure(figsize=(8.6, 0.32 * len(show) + 0.9))
    ax = fig.add_subplot()
    ax.set_xlim(0, 1)
    ax.set_ylim(len(show) - 0.4, -0.8)
    ax.axis("off")
    for i, s in enumerate(show):
        fc = _COLOURS[s.kind]
        if s.kind == "result":
            fc = "#a6dba0" if s.ok else ("#cccccc" if s.ok is None else "#f4a582")
        if s.kind == "wakeup" and s.ok:
            fc = "#fdae61"
        ax.text(0.02 if s.kind != "wakeup" else 0.06, i, s.text, va="center", fontsize=8,
                color="white" if s.kind in ("wake_all", "oom") else "#222222",
                bbox=dict(boxstyle="round,pad=0.25", fc=fc, ec="none"))
    ax.set_title(f"one {gfp} order-{order} allocation, every zone {state}: "
                 f"{log.wake_all_calls} wake_all_kswapds call(s)", fontsize=9)
    text = (f"wake_all_kswapds called {log.wake_all_calls} time(s); wakeup_kswapd calls "
            f"(zone, classzone, order): {log.wakeup_calls or 'none'}\n"
            f"request left for kswapd: kswapd_order={log.request[0]}, "
            f"kswapd_classzone_idx={log.request[1]}")
    return PanelOutput(figure=fig, text=text)


PANELS = [Panel("wake_all_kswapds: one allocation through the slow path", CONTROLS, update)]


# --------------------------------------------------------------------------
# check yourself
# --------------------------------------------------------------------------
def _q_classzone(rng: Any, seed: int) -> Any:
    from mmsim.exercises import Question
    from mmsim.mm import gfp as G

    gfp = str(rng.choice(["GFP_KERNEL", "GFP_HIGHUSER_MOVABLE", "GFP_DMA32", "GFP_ATOMIC",
                          "GFP_NOWAIT"]))
    hz = G.gfp_zone(G.parse_gfp(gfp))
    return Question("wake_all_kswapds", seed,
                    f"An x86_64 box has zones DMA, DMA32 and Normal (no Movable zone). A "
                    f"{gfp} allocation enters the slow path. Which classzone_idx does "
                    "wake_all_kswapds pass to wakeup_kswapd (0 DMA, 1 DMA32, 2 Normal, "
                    "3 Movable)?", hz,
                    f"It passes ac->high_zoneidx = gfp_zone({gfp}) = {hz}, the highest zone "
                    "the mask allows, whether or not that zone exists on the box"
                    + (" (GFP_HIGHUSER_MOVABLE may use ZONE_MOVABLE)." if hz == 3 else "."))


def _q_calls(rng: Any, seed: int) -> Any:
    from mmsim.exercises import Question

    retries = int(rng.integers(0, 6))
    return Question("wake_all_kswapds_calls", seed,
                    f"A GFP_KERNEL allocation fails at the min watermark on slow-path entry, "
                    f"then goes round the retry loop {retries + 1} time(s) (direct reclaim "
                    "each time) and succeeds after the last reclaim. How many times is "
                    "wake_all_kswapds called?", retries + 2,
                    "Once on entry to __alloc_pages_slowpath, and once at the top of every "
                    f"pass through 'retry:' ({retries + 1}), to keep kswapd from going to "
                    f"sleep while the task loops: {retries + 2}.")


def _register() -> None:
    from mmsim.exercises import register

    register("wake_all_kswapds", _q_classzone)
    register("wake_all_kswapds_calls", _q_calls)


_register()
