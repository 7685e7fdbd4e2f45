"""Lesson 11: ``wakeup_kswapd`` - every early return as a decision path.

A *situation* is a small two-zone node (DMA32 128 MiB + Normal 128 MiB) put
into a chosen state: kswapd asleep on ``kswapd_wait`` or running,
``kswapd_failures``, the node balanced or not for the request, a watermark
boost or not. :func:`decide` then calls mmsim's ``wakeup_kswapd`` exactly as
``wake_all_kswapds`` (or, for ``gfp="none"``, the ``rmqueue`` boost hook) would,
and reads back what it did from the engine: the tracepoints it emitted, whether
kswapd (a stand-in task on the wait queue) was woken, whether
``wakeup_kcompactd`` was called and what it did, and the request recorded in
``pgdat->kswapd_order`` / ``kswapd_classzone_idx``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from mmsim.widgets import Control, Panel, PanelOutput, figure

ZONES = {"DMA32": "128MiB", "Normal": "128MiB"}
GFP_CHOICES = ("GFP_KERNEL", "GFP_ATOMIC", "GFP_NOWAIT", "GFP_HIGHUSER_MOVABLE", "none")
MAX_RECLAIM_RETRIES = 16
ZONE_NAMES = ("DMA", "DMA32", "Normal", "Movable", "Device")


def zone_label(idx: int) -> str:
    return f"{idx} ({ZONE_NAMES[idx]})" if 0 <= idx < len(ZONE_NAMES) else f"{idx} (none)"


# --------------------------------------------------------------------------
# building a situation
# --------------------------------------------------------------------------
def _drain_zone(node: Any, zone: Any, target_free: int) -> None:
    """Allocate pages from ``zone`` alone until it has ``target_free`` free pages."""
    from mmsim.mm.page_alloc import ALLOC_NO_WATERMARKS, alloc_pages_bulk

    gfp = {"DMA": "GFP_DMA", "DMA32": "GFP_DMA32", "Normal": "GFP_KERNEL"}[zone.name]
    need = zone.nr_free_pages - target_free
    if need > 0:
        alloc_pages_bulk(node, need, gfp, kind="kernel", alloc_flags=ALLOC_NO_WATERMARKS)


def stand_in(name: str, pid: int) -> Any:
    """A task that sleeps on a wait queue in place of a daemon (so we can see it woken)."""
    from mmsim.kthread import Scheduler, Task

    return Task(Scheduler(), name, pid, 0)


def _fragment_normal(node: Any, pages: int = 2048) -> None:
    """Leave the Normal zone's free memory in single pages.

    Allocate all of it, then free every other page of the first ``pages``:
    ``pages // 2`` free pages, no two of them buddies.
    """
    import numpy as np

    from mmsim.mm.page_alloc import ALLOC_NO_WATERMARKS, alloc_pages_bulk, free_pages_bulk

    z = node.zone("Normal")
    pfns = alloc_pages_bulk(node, z.nr_free_pages, "GFP_KERNEL", kind="kernel",
                            alloc_flags=ALLOC_NO_WATERMARKS)
    pfns = np.sort(pfns)[:pages]
    free_pages_bulk(node, pfns[(pfns % 2) == 0])


def build_situation(balanced: bool = True, boosted: bool = False, kswapd_asleep: bool = True,
                    kswapd_failures: int = 0, kcompactd_asleep: bool = True,
                    fragmented: bool = False) -> Any:
    """A node in the given state, with stand-in daemons on their wait queues.

    ``fragmented`` leaves the Normal zone's free memory in 1024 single pages
    (no two of them buddies), before ``balanced`` is applied.
    """
    from mmsim import Node
    from mmsim.kthread import prepare_to_wait
    from mmsim.trace import Tracer

    node = Node.build(zones=ZONES)
    node.machine.tracer = Tracer(None)
    if fragmented:
        _fragment_normal(node)
    if not balanced:
        # every zone between its min and low watermark: below high, so no zone balances
        for z in node.zones:
            if z.managed_pages:
                _drain_zone(node, z, (z.min_wmark_pages + z.low_wmark_pages) // 2)
    if boosted:
        node.zone("Normal").watermark_boost = 512
    node.kswapd_failures = kswapd_failures
    node.stand_in_kswapd = stand_in("kswapd0", 101)
    node.stand_in_kcompactd = stand_in("kcompactd0", 100)
    if kswapd_asleep:
        prepare_to_wait(node.kswapd_wait, node.stand_in_kswapd)
    if kcompactd_asleep:
        prepare_to_wait(node.kcompactd_wait, node.stand_in_kcompactd)
    return node


@dataclass
class Decision:
    """What one ``wakeup_kswapd`` call did."""

    gfp: str
    order: int
    classzone_idx: int
    zone: str
    steps: list[str] = field(default_factory=list)
    path: list[str] = field(default_factory=list)  # node ids of the flowchart
    outcome: str = ""
    trace: list[str] = field(default_factory=list)
    request_before: tuple[int, int] = (0, 5)
    request_after: tuple[int, int] = (0, 5)
    kswapd_woken: bool = False
    kcompactd_called: bool = False
    kcompactd_woken: bool = False
    balanced: bool = False
    boosted: bool = False


def decide(order: int = 0, gfp: str = "GFP_KERNEL", kswapd_asleep: bool = True,
           kswapd_failures: int = 0, balanced: bool = True, boosted: bool = False,
           fragmented: bool = False, node: Any = None) -> Decision:
    """Call mmsim's ``wakeup_kswapd`` in the given situation and read back what it did."""
    from mmsim.kthread import TASK_RUNNING
    from mmsim.mm import gfp as G
    from mmsim.mm.compaction import compaction_suitable
    from mmsim.mm.page_alloc import prepare_alloc_pages
    from mmsim.mm.vmscan import pgdat_balanced, pgdat_watermark_boosted, wakeup_kswapd
    from mmsim.trace import FORMATS

    if node is None:
        node = build_situation(balanced, boosted, kswapd_asleep, kswapd_failures,
                               fragmented=fragmented)
    mask = G.parse_gfp(gfp)
    if gfp == "none":  # the rmqueue hook after a boost: the zone itself, its own index
        zone = node.zone("Normal")
        classzone = zone.idx
    else:  # wake_all_kswapds: the first zone of the node in the zonelist, ac->high_zoneidx
        ac = prepare_alloc_pages(node, mask)
        zone = ac.zonelist[0]
        classzone = ac.high_zoneidx
    d = Decision(gfp, order, classzone, zone.name)
    d.balanced = pgdat_balanced(node, order, classzone)
    d.boosted = pgdat_watermark_boosted(node, classzone)
    d.request_before = (node.kswapd_order, node.kswapd_classzone_idx)
    asleep = bool(node.kswapd_wait.tasks)
    requests_before = getattr(node, "kcompactd_requests", 0)
    kcd = node.stand_in_kcompactd
    kcd_asleep = bool(node.kcompactd_wait.tasks)
    n_trace = len(node.machine.tracer.records)

    wakeup_kswapd(zone, mask, order, classzone)

    d.request_after = (node.kswapd_order, node.kswapd_classzone_idx)
    d.trace = [f"{r[4]}: {FORMATS[r[4]](r[5])}" if r[4] in FORMATS else r[4]
               for r in node.machine.tracer.records[n_trace:]]
    d.kswapd_woken = asleep and node.stand_in_kswapd.state == TASK_RUNNING
    d.kcompactd_called = getattr(node, "kcompactd_requests", 0) > requests_before
    d.kcompactd_woken = kcd_asleep and kcd.state == TASK_RUNNING
    # the explanation, step by step (the decision itself was the engine's)
    before, after = d.request_before, d.request_after
    d.path = ["managed", "cpuset", "record", "asleep"]
    d.steps.append(f"zone {zone.name} is managed; no cpuset restricts it (mmsim has none)")
    d.steps.append(f"record the request: kswapd_order {before[0]} -> {after[0]}, "
                   f"kswapd_classzone_idx {zone_label(before[1])} -> {zone_label(after[1])}")
    if not asleep:
        d.steps.append("kswapd is not on kswapd_wait (it is running): return - it will read "
                       "the recorded request when it next looks")
        d.path.append("ret_running")
        d.outcome = "request recorded, kswapd running"
        return d
    hopeless = node.kswapd_failures >= MAX_RECLAIM_RETRIES
    d.steps.append(f"kswapd sleeps on kswapd_wait; kswapd_failures = {node.kswapd_failures}"
                   f"{' >= 16: hopeless node' if hopeless else ''}; pgdat_balanced(order "
                   f"{order}, classzone {classzone}) = {d.balanced}; "
                   f"pgdat_watermark_boosted = {d.boosted}")
    d.path.append("not_needed")
    if hopeless or (d.balanced and not d.boosted):
        d.path.append("direct")
        if mask & G.__GFP_DIRECT_RECLAIM:
            d.steps.append("kswapd is not needed and the caller has __GFP_DIRECT_RECLAIM: "
                           "return (it will reclaim or compact by itself)")
            d.path.append("ret_direct")
            d.outcome = "nothing woken (caller can reclaim directly)"
            return d
        d.path.append("kcompactd")
        d.steps.append(f"kswapd is not needed and the caller cannot reclaim directly: "
                       f"wakeup_kcompactd(order {order}, classzone {classzone})")
        if not order:
            d.steps.append("wakeup_kcompactd ignores order 0: nothing happens")
            d.path.append("kcd_order0")
            d.outcome = "nothing woken (order 0: kcompactd ignores it)"
        elif d.kcompactd_woken:
            d.path.append("kcd_woken")
            d.outcome = "kcompactd woken"
        else:
            verdicts = ", ".join(
                f"{z.name} {('not_suitable_zone', 'skipped', 'deferred', 'no_suitable_page', 'continue', 'complete', 'partial_skipped', 'contended', 'success')[compaction_suitable(z, order, 0, classzone)]}"  # noqa: E501
                for z in node.zones[:classzone + 1] if z.managed_pages)
            d.steps.append(f"kcompactd_node_suitable is false (compaction_suitable: {verdicts})"
                           ": kcompactd stays asleep")
            d.path.append("kcd_no")
            d.outcome = "nothing woken (kcompactd: no zone to compact)"
        return d
    d.path.append("wake")
    d.steps.append("kswapd is needed: tracepoint mm_vmscan_wakeup_kswapd, "
                   "wake_up_interruptible(kswapd_wait)")
    d.outcome = "kswapd woken" if d.kswapd_woken else "?"
    return d


# --------------------------------------------------------------------------
# known answers: request merging
# --------------------------------------------------------------------------
GOLDEN_REQUESTS = ((0, 2), (3, 1), (9, 2), (2, 2))
GOLDEN_AFTER = ((0, 2), (3, 2), (9, 2), (9, 2))


def request_merging() -> pd.DataFrame:
    """Golden ``kswapd_request_merging``: four requests while kswapd runs, then its read."""
    from mmsim.mm import gfp as G
    from mmsim.mm.mmzone import MAX_NR_ZONES
    from mmsim.mm.vmscan import kswapd_classzone_idx, wakeup_kswapd

    node = build_situation(kswapd_asleep=False)
    rows = []
    for (order, cz), (eo, ecz) in zip(GOLDEN_REQUESTS, GOLDEN_AFTER):
        wakeup_kswapd(node.zone("Normal"), G.GFP_KERNEL, order, cz)
        rows.append({"step": f"wakeup_kswapd(order={order}, classzone_idx={cz})",
                     "expected kswapd_order": eo, "mmsim kswapd_order": node.kswapd_order,
                     "expected classzone": ecz, "mmsim classzone": node.kswapd_classzone_idx})
    # kswapd() after its wake-up (L3893-3896): read both, then reset
    alloc_order = node.kswapd_order
    classzone = kswapd_classzone_idx(node, 0)
    node.kswapd_order, node.kswapd_classzone_idx = 0, MAX_NR_ZONES
    rows.append({"step": "kswapd reads the request", "expected kswapd_order": 9,
                 "mmsim kswapd_order": alloc_order, "expected classzone": 2,
                 "mmsim classzone": classzone})
    rows.append({"step": "... then resets it", "expected kswapd_order": 0,
                 "mmsim kswapd_order": node.kswapd_order, "expected classzone": MAX_NR_ZONES,
                 "mmsim classzone": node.kswapd_classzone_idx})
    rows.append({"step": "a read with no request recorded", "expected kswapd_order": 0,
                 "mmsim kswapd_order": node.kswapd_order, "expected classzone": 0,
                 "mmsim classzone": kswapd_classzone_idx(node, 0)})
    return pd.DataFrame(rows).set_index("step")


def decision_table() -> pd.DataFrame:
    """A handful of situations and what ``wakeup_kswapd`` did in each."""
    cases = (
        ("kswapd running", dict(kswapd_asleep=False, balanced=False)),
        ("asleep, unbalanced", dict(balanced=False)),
        ("asleep, balanced", dict(balanced=True)),
        ("asleep, balanced, boosted (rmqueue hook)", dict(balanced=True, boosted=True,
                                                          gfp="none")),
        ("asleep, balanced, GFP_ATOMIC order 3", dict(balanced=True, gfp="GFP_ATOMIC",
                                                      order=3)),
        ("asleep, balanced, Normal fragmented, GFP_ATOMIC order 3",
         dict(balanced=True, gfp="GFP_ATOMIC", order=3, fragmented=True)),
        ("asleep, unbalanced, hopeless", dict(balanced=False, kswapd_failures=16)),
        ("asleep, unbalanced, hopeless, GFP_NOWAIT", dict(balanced=False, kswapd_failures=16,
                                                          gfp="GFP_NOWAIT")),
    )
    rows = []
    for name, kw in cases:
        kw = {"gfp": "GFP_KERNEL", "order": 0, **kw}
        d = decide(**kw)
        rows.append({"situation": name, "gfp": kw["gfp"], "order": kw["order"],
                     "classzone": d.classzone_idx, "outcome": d.outcome,
                     "tracepoints": len(d.trace)})
    return pd.DataFrame(rows).set_index("situation")


# --------------------------------------------------------------------------
# the flowchart
# --------------------------------------------------------------------------
#: flowchart boxes: id -> (x, y, text, is_terminal)
BOXES = {
    "managed": (0.27, 9.0, "zone managed?", False),
    "cpuset": (0.27, 8.0, "cpuset allows the zone?", False),
    "record": (0.27, 7.0, "record the request\norder = max, classzone = max", False),
    "asleep": (0.27, 6.0, "kswapd on kswapd_wait?", False),
    "not_needed": (0.27, 5.0, "failures >= 16, or\nbalanced and not boosted?", False),
    "direct": (0.27, 3.9, "caller has\n__GFP_DIRECT_RECLAIM?", False),
    "kcompactd": (0.27, 2.8, "wakeup_kcompactd(order, classzone)", False),
    "ret_unmanaged": (0.76, 9.0, "return", True),
    "ret_cpuset": (0.76, 8.0, "return", True),
    "ret_running": (0.76, 6.0, "return: kswapd runs and\nreads the request later", True),
    "wake": (0.76, 5.0, "trace mm_vmscan_wakeup_kswapd\nwake up kswapd", True),
    "ret_direct": (0.76, 3.9, "return: the caller reclaims\nor compacts by itself", True),
    "kcd_order0": (0.06, 1.6, "order 0:\nignored", True),
    "kcd_no": (0.30, 1.6, "kcompactd not\nsuitable / running", True),
    "kcd_woken": (0.56, 1.6, "trace mm_compaction_\nwakeup_kcompactd; wake", True),
}
#: edges: (from, to, label)
EDGES = (
    ("managed", "cpuset", "yes"), ("managed", "ret_unmanaged", "no"),
    ("cpuset", "record", "yes"), ("cpuset", "ret_cpuset", "no"),
    ("record", "asleep", ""), ("asleep", "not_needed", "yes"), ("asleep", "ret_running", "no"),
    ("not_needed", "direct", "yes"), ("not_needed", "wake", "no"),
    ("direct", "ret_direct", "yes"), ("direct", "kcompactd", "no"),
    ("kcompactd", "kcd_order0", ""), ("kcompactd", "kcd_no", ""),
    ("kcompactd", "kcd_woken", ""),
)


def draw_flowchart(d: Decision, ax: Any) -> None:
    """The decision path of ``d`` on the flowchart (taken boxes and arrows in colour)."""
    taken = set(d.path)
    steps = list(zip(d.path, d.path[1:]))
    ax.set_xlim(-0.06, 1.0)
    ax.set_ylim(0.9, 9.6)
    ax.axis("off")
    for a, b, label in EDGES:
        xa, ya = BOXES[a][0], BOXES[a][1]
        xb, yb = BOXES[b][0], BOXES[b][1]
        on = (a, b) in steps
        ax.annotate("", xy=(xb, yb), xytext=(xa, ya),
                    arrowprops=dict(arrowstyle="-|>", color="#2166ac" if on else "#cccccc",
                                    lw=2.2 if on else 1.0, shrinkA=15, shrinkB=15))
        if label:
            ax.text((xa + xb) / 2 + (0.01 if xa == xb else 0), (ya + yb) / 2 + 0.08, label,
                    fontsize=7, color="#2166ac" if on else "#999999")
    last = d.path[-1] if d.path else None
    for name, (x, y, text, terminal) in BOXES.items():
        if name == last:
            fc, ec = ("#fdae61", "#d6604d")
        elif name in taken:
            fc, ec = ("#d1e5f0", "#2166ac")
        else:
            fc, ec = ("#f7f7f7", "#cccccc")
        ax.text(x, y, text, ha="center", va="center", fontsize=7.5,
                color="#222222" if name in taken else "#999999",
                bbox=dict(boxstyle="round,pad=0.35" if terminal else "square,pad=0.35",
                          fc=fc, ec=ec, lw=1.2))


CONTROLS = [
    Control("order", "int", 0, 0, 10, label="order", help="allocation order of the request"),
    Control("gfp", "choice", "GFP_KERNEL", options=GFP_CHOICES, label="gfp_flags",
            help="the caller's gfp mask; 'none' is the rmqueue hook after a watermark boost"),
    Control("kswapd_asleep", "bool", True, label="kswapd sleeps on kswapd_wait"),
    Control("kswapd_failures", "int", 0, 0, 16, label="kswapd_failures",
            help="balance_pgdat runs in a row that reclaimed nothing (16 = hopeless)"),
    Control("balanced", "bool", False, label="node balanced (free above high)"),
    Control("boosted", "bool", False, label="Normal zone boosted (+512 pages)"),
    Control("fragmented", "bool", False, label="Normal's free memory in single pages"),
]


def update(order: int = 0, gfp: str = "GFP_KERNEL", kswapd_asleep: bool = True,
           kswapd_failures: int = 0, balanced: bool = False,
           boosted: bool = False, fragmented: bool = False) -> PanelOutput:
    d = decide(order, gfp, kswapd_asleep, kswapd_failures, balanced, boosted, fragmented)
    fig = figure(figsize=(8.2, 5.6))
    ax = fig.add_subplot()
    draw_flowchart(d, ax)
    ax.set_title(f"wakeup_kswapd(zone {d.zone}, gfp_flags={gfp}, order={order}, "
                 f"classzone_idx={d.classzone_idx}) -> {d.outcome}", fontsize=9)
    lines = [f"{i}. {s}" for i, s in enumerate(d.steps, 1)]
    lines.append("tracepoints: " + ("; ".join(d.trace) if d.trace else "none"))
    if order and d.balanced is False and balanced:
        lines.append(f"(the node is not balanced for order {order}: no free block that large)")
    return PanelOutput(figure=fig, text="\n".join(lines))


PANELS = [Panel("wakeup_kswapd: which way does the request go?", CONTROLS, update)]


# --------------------------------------------------------------------------
# check yourself: a request-merging question
# --------------------------------------------------------------------------
def _q_merging(rng: Any, seed: int) -> Any:
    from mmsim.exercises import Question

    n = int(rng.integers(2, 5))
    reqs = [(int(rng.choice([0, 0, 1, 2, 3, 9])), int(rng.choice([1, 2, 2, 3])))
            for _ in range(n)]
    order = max(o for o, _ in reqs)
    cz = max(c for _, c in reqs)
    text = ", ".join(f"(order {o}, classzone {c})" for o, c in reqs)
    return Question("kswapd_request_merging", seed,
                    f"kswapd is busy in balance_pgdat while wakeup_kswapd is called with {text}. "
                    "When kswapd next reads its request, which (order, classzone_idx) does it "
                    "balance for? Answer as [order, classzone].", [order, cz],
                    "wakeup_kswapd records before anything else: kswapd_order = max of the "
                    "orders, kswapd_classzone_idx = max of the classzones (kswapd_classzone_idx, "
                    f"L3747-3754). So [{order}, {cz}], even though kswapd was never woken.")


def _register() -> None:
    from mmsim.exercises import register

    register("kswapd_request_merging", _q_merging)


_register()
