"""Lesson 22: ``defer_compaction`` / ``compaction_deferred`` / ``compaction_defer_reset``.

The three functions only read and write three fields of a zone
(``compact_considered``, ``compact_defer_shift``, ``compact_order_failed``), so
the panel runs the mmsim twins on a frameless "paper" zone: every update is a
few hundred function calls.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from mmsim import exercises
from mmsim.widgets import Control, Panel, PanelOutput, figure

#: the events of the golden case ``defer_sequence_basic`` (shared/kernel-v5.0)
GOLDEN_BASIC = ["compaction_deferred(9)", "defer_compaction(9)", "compaction_deferred(9)",
                "compaction_deferred(9)", "defer_compaction(9)", "compaction_deferred(9)",
                "compaction_deferred(9)", "compaction_deferred(9)", "compaction_deferred(9)"]

OUTCOMES = ("fails again", "kcompactd succeeds", "direct compaction gets its page")


@lru_cache(maxsize=1)
def _paper_zone() -> Any:
    from mmsim.mm.layout import build_paper_node

    return build_paper_node(zones={"Normal": 1024}).zone("Normal")


def fresh_zone(considered: int = 0, shift: int = 0, order_failed: int = 0) -> Any:
    """A zone with the three deferral fields set (v5.0 starts them all at 0)."""
    z = _paper_zone()
    z.compact_considered = considered
    z.compact_defer_shift = shift
    z.compact_order_failed = order_failed
    return z


def _state(z: Any) -> dict[str, int]:
    return {"considered": z.compact_considered, "defer_shift": z.compact_defer_shift,
            "limit": 1 << z.compact_defer_shift, "order_failed": z.compact_order_failed}


def run_events(events: list[str], zone: Any = None) -> pd.DataFrame:
    """Apply ``compaction_deferred(o)``, ``defer_compaction(o)``,
    ``compaction_defer_reset(o, True|False)`` strings in turn; one row per event."""
    from mmsim.mm.compaction import compaction_defer_reset, compaction_deferred, defer_compaction

    z = zone if zone is not None else fresh_zone()
    rows = []
    for ev in events:
        name, arg = ev.rstrip(")").split("(")
        args = [a.strip() for a in arg.split(",")]
        order = int(args[0])
        ret: Any = ""
        if name == "compaction_deferred":
            ret = compaction_deferred(z, order)
        elif name == "defer_compaction":
            defer_compaction(z, order)
        elif name == "compaction_defer_reset":
            compaction_defer_reset(z, order, args[1] == "True")
        else:
            raise ValueError(f"event: unknown function {name!r}; allowed compaction_deferred, "
                             "defer_compaction, compaction_defer_reset")
        rows.append({"event": ev, "returns": ret, **_state(z)})
    return pd.DataFrame(rows)


def attempts(failures: int = 3, outcome: str = "kcompactd succeeds", calls: int = 40,
             order: int = 9, order_after: int = 9) -> pd.DataFrame:
    """A caller (kcompactd or an allocator) asks to compact the zone ``calls`` times.

    Each call first asks ``compaction_deferred``. The calls that are allowed
    run compaction: the first ``failures`` runs fail (``defer_compaction``), the
    next run ends with ``outcome``, and every later run fails again - so the
    effect of the outcome on the *next* back-off is visible. Requests after the
    outcome are of order ``order_after``.
    """
    from mmsim.mm.compaction import compaction_defer_reset, compaction_deferred, defer_compaction

    z = fresh_zone()
    rows = []
    runs = 0
    for i in range(1, calls + 1):
        o = order_after if runs > failures else order
        skipped = compaction_deferred(z, o)
        what = "skipped (deferred)"
        if not skipped:
            runs += 1
            if runs != failures + 1 or outcome == OUTCOMES[0]:
                defer_compaction(z, o)
                what = "ran, failed: defer_compaction"
            elif outcome == OUTCOMES[1]:
                compaction_defer_reset(z, o, False)
                what = "ran, success: defer_reset(false)"
            else:
                compaction_defer_reset(z, o, True)
                what = "ran, got page: defer_reset(true)"
        rows.append({"call": i, "order": o, "deferred": skipped, "what": what, **_state(z)})
    return pd.DataFrame(rows).set_index("call")


def figure_for(df: pd.DataFrame, title: str) -> Any:
    fig = figure(figsize=(9, 3.6))
    ax = fig.add_subplot()
    x = df.index.to_numpy()
    ran = ~df.deferred.to_numpy()
    fail = df.what.str.contains("failed").to_numpy()
    ax.step(x, df.limit, where="post", color="#762a83", lw=1.5, label="limit = 1 << defer_shift")
    ax.step(x, df.considered, where="post", color="#2166ac", lw=1.2,
            label="compact_considered (after the call)")
    ax.plot(x[~ran], np.zeros((~ran).sum()) - 1.5, "|", ms=8, color="#999999",
            label="call skipped (deferred)")
    ax.plot(x[ran & fail], np.zeros((ran & fail).sum()) - 1.5, "v", ms=7, color="#d7191c",
            label="call ran, failed")
    ax.plot(x[ran & ~fail], np.zeros((ran & ~fail).sum()) - 1.5, "^", ms=7, color="#1a9641",
            label="call ran, succeeded")
    ax.set_yscale("symlog", linthresh=4)
    ax.set_ylim(-3, 80)
    ax.set_yticks([0, 1, 2, 4, 8, 16, 32, 64])
    ax.set_yticklabels(["0", "1", "2", "4", "8", "16", "32", "64"])
    ax.set_xlabel("compaction request (call of compaction_deferred)")
    ax.set_ylabel("count")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="upper left", ncol=2)
    return fig


CONTROLS = [
    Control("failures", "int", 3, 0, 8, label="failed runs first",
            help="how many allowed runs fail (defer_compaction each time) before the outcome"),
    Control("outcome", "choice", OUTCOMES[1], options=OUTCOMES, label="then the next run",
            help="what the run after the failures does"),
    Control("calls", "int", 40, 5, 120, label="requests",
            help="how many times compaction of the zone is requested"),
    Control("order_after", "int", 9, 1, 10, label="order after a success",
            help="order of the requests after the first success (the failures were order 9)"),
]


def update(failures: int = 3, outcome: str = OUTCOMES[1], calls: int = 40,
           order_after: int = 9) -> PanelOutput:
    df = attempts(failures, outcome, calls, 9, order_after)
    ran = int((~df.deferred).sum())
    last = df.iloc[-1]
    text = (f"{calls} requests: {ran} ran, {calls - ran} deferred. At the end: "
            f"defer_shift {last.defer_shift} (limit {last.limit}), considered "
            f"{last.considered}, order_failed {last.order_failed}.")
    changes = df[df.what.str.startswith("ran")]
    lines = [f"  call {i:3d} (order {r.order}): {r.what}; shift {r.defer_shift}, "
             f"order_failed {r.order_failed}" for i, r in changes.head(12).iterrows()]
    fig = figure_for(df, f"{failures} failures, then: {outcome}; later order {order_after}")
    return PanelOutput(figure=fig, text=text + "\n" + "\n".join(lines))


PANELS = [Panel("compaction deferral: failures, skips, resets", CONTROLS, update)]


# --------------------------------------------------------------------------
# check yourself
# --------------------------------------------------------------------------
def _q_defer_after_kcompactd(rng: np.random.Generator, seed: int) -> exercises.Question:
    k = int(rng.integers(1, 6))
    order = int(rng.choice([4, 6, 9]))
    direct = bool(rng.integers(0, 2))
    shift = 1 if direct else min(k + 1, 6)
    ans = (1 << shift) - 1
    who = ("a direct compaction for order {o} succeeds and its allocation gets the page"
           if direct else "kcompactd compacts it for order {o} and succeeds").format(o=order)
    reset = ("compaction_defer_reset(zone, {o}, true) sets considered and defer_shift to 0"
             if direct else "compaction_defer_reset(zone, {o}, false) leaves defer_shift at "
             f"{k} (it only raises order_failed to {order + 1})").format(o=order)
    return exercises.Question(
        "defer_reset", seed,
        f"A zone failed compaction for order {order} {k} times in a row (defer_compaction each "
        f"time). Then {who}. The run after that fails again. How many of the following "
        f"order-{order} requests does compaction_deferred skip before one runs?",
        ans,
        f"{reset}; the new failure makes defer_shift {shift} (capped at 6) and considered 0, "
        f"so the next (1 << {shift}) - 1 = {ans} requests are skipped.")


def _q_compaction_restarting(rng: np.random.Generator, seed: int) -> exercises.Question:
    k = int(rng.integers(4, 10))
    shift = min(k, 6)
    ans = "yes" if k >= 6 else "no"
    return exercises.Question(
        "compaction_restarting", seed,
        f"Compaction of a zone for order 9 failed {k} times in a row; then compaction_deferred "
        "let one more request through after skipping the others. Does compact_zone clear "
        "the zone's skip bits (compaction_restarting) for that run? (yes/no)", ans,
        f"defer_shift = min({k}, 6) = {shift}; considered reaches the limit {1 << shift} "
        "on the call that runs. compaction_restarting needs defer_shift == 6 "
        "(COMPACT_MAX_DEFER_SHIFT) and considered >= 64 - "
        + ("both hold: the skip bits are cleared before this 'last chance' run."
           if ans == "yes" else "the shift is below 6, so the skip bits stay."))


exercises.register("defer_reset", _q_defer_after_kcompactd)
exercises.register("compaction_restarting", _q_compaction_restarting)
