"""Lesson 14: ``swap_writepage`` - where reclaimed anonymous pages go.

The box is one Normal zone of 64 MiB, half full of clean page cache at t = 0.
A process then grows its anonymous memory at 200 MiB/s to 1.2 times the RAM,
touching a random 20 % of what it has again as it goes (the "hot" part).
With swap, kswapd first takes the cache, then sends cold anonymous pages to
swap: ``add_to_swap``, ``pageout`` -> ``swap_writepage`` (``pswpout``), and when
the write completes the page is rotated to the inactive tail (``pgrotated``)
and freed by the next scan. Without swap, ``get_scan_count`` scans file pages
only, anonymous pages are never candidates, and once the cache is gone the
task ends in the OOM killer.
"""

from __future__ import annotations

import functools
from typing import Any

import pandas as pd

from mmsim.widgets import Control, Panel, PanelOutput, figure

ZONES = {"Normal": "64MiB"}
SECONDS = 0.45
RATE = "200MiB"
HOT = 0.2
SWAP_CHOICES = ("none", "8MiB", "32MiB", "128MiB")
SWAP_ADDRESS_SPACE_SHIFT = 14  # include/linux/swap.h: 64 MiB of swap per address_space


@functools.lru_cache(maxsize=32)
def experiment(swap: str = "32MiB", swappiness: int = 60) -> Any:
    """Run the anonymous-growth box with ``swap`` ("none" or a size); returns the Result."""
    from mmsim import Node, Simulation, Sysctl
    from mmsim.workloads import AnonGrowth, prefill_page_cache

    node = Node.build(zones=ZONES, sysctl=Sysctl(swappiness=swappiness))
    prefill_page_cache(node, 0.5)
    pages = sum(z.managed_pages for z in node.zones)
    hog = AnonGrowth(rate=RATE, size=int(pages * 1.2), hot=HOT, name="hog")
    sim = Simulation(node, [hog], seed=0, swap=None if swap == "none" else swap,
                     sample_interval=0.005)
    return sim.run(SECONDS)


COUNTERS = ("pswpout", "pgrotated", "pswpin", "pgsteal_kswapd", "pgsteal_direct",
            "allocstall_movable", "oom_kill")


def summary(res: Any) -> dict[str, Any]:
    last = res.vmstat.iloc[-1]
    out: dict[str, Any] = {n: int(last[n]) for n in COUNTERS}
    out["nr_vmscan_write"] = int(res.node.node_stat.get("nr_vmscan_write", 0))
    swap = res.node.machine.swap
    out["swap slots used / size"] = f"{swap.used} / {swap.pages}" if swap else "no swap"
    out["anon pages resident"] = int(last["nr_active_anon"] + last["nr_inactive_anon"])
    out["file pages resident"] = int(last["nr_active_file"] + last["nr_inactive_file"])
    out["OOM-killed"] = "; ".join(r.split(":")[0] for r in res.oom_killed) or "-"
    return out


def compare(cases: tuple[tuple[str, int], ...] = (("32MiB", 60), ("none", 60))) -> pd.DataFrame:
    cols = {f"swap {s}, swappiness {w}": summary(experiment(s, w)) for s, w in cases}
    df = pd.DataFrame(cols)
    df.index.name = f"after {SECONDS} s"
    return df


def pipeline(res: Any, times: tuple[float, ...] = (0.15, 0.2, 0.25, 0.3, 0.35, 0.4)) \
        -> pd.DataFrame:
    """Written, rotated and freed over time: the swap-out pipeline in counters."""
    v = res.vmstat
    rows = []
    for t in times:
        row = v[v.time <= t + 1e-9].iloc[-1]
        rows.append({"t (s)": t, "pswpout (written)": int(row["pswpout"]),
                     "pgrotated (write done)": int(row["pgrotated"]),
                     "pgsteal_kswapd (freed)": int(row["pgsteal_kswapd"]),
                     "anon resident": int(row["nr_active_anon"] + row["nr_inactive_anon"]),
                     "file resident": int(row["nr_active_file"] + row["nr_inactive_file"])})
    return pd.DataFrame(rows).set_index("t (s)")


def swapper_spaces(size: str) -> int:
    """How many ``struct address_space`` v5.0's ``init_swap_address_space`` makes for a device."""
    from mmsim.units import parse_pages

    pages = parse_pages(size, "size")
    return -(-pages // (1 << SWAP_ADDRESS_SPACE_SHIFT))


def source_excerpt(fn: Any, start: str, end: str) -> Any:
    """The lines of ``fn``'s source from the line containing ``start`` up to ``end``."""
    import inspect

    from IPython.display import Code

    lines = inspect.getsource(fn).splitlines()
    i = next(k for k, ln in enumerate(lines) if start in ln)
    j = next(k for k, ln in enumerate(lines) if k > i and end in ln)
    return Code("\n".join(lines[i:j]), language="python")


# --------------------------------------------------------------------------
# the panel
# --------------------------------------------------------------------------
CONTROLS = [
    Control("swap", "choice", "32MiB", options=SWAP_CHOICES, label="swap device"),
    Control("swappiness", "choice", 60, options=(0, 60, 100), label="vm.swappiness"),
]


def update(swap: str = "32MiB", swappiness: int = 60) -> PanelOutput:
    res = experiment(swap, swappiness)
    v = res.vmstat
    t = v.time.to_numpy()
    fig = figure(figsize=(9, 5))
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    anon = (v.nr_active_anon + v.nr_inactive_anon).to_numpy()
    file = (v.nr_active_file + v.nr_inactive_file).to_numpy()
    ax1.stackplot(t, anon, file, v.nr_free_pages.to_numpy(), colors=("#4393c3", "#92c5de",
                                                                      "#f7f7f7"),
                  labels=("anon (LRU)", "file (LRU)", "free"), edgecolor="#cccccc", lw=0.3)
    ax1.set_ylabel("pages")
    ax1.legend(fontsize=8, loc="upper left")
    title = f"64 MiB box, anonymous memory growing at {RATE}/s, swap {swap}, " \
            f"swappiness {swappiness}"
    if res.oom_killed:
        oom_t = float(v.time[v.oom_kill > 0].iloc[0]) if (v.oom_kill > 0).any() else t[-1]
        ax1.axvline(oom_t, color="#b2182b", lw=1.5)
        ax1.text(oom_t, ax1.get_ylim()[1] * 0.95, " OOM kill", color="#b2182b", fontsize=8,
                 va="top")
    ax1.set_title(title, fontsize=10)
    for name, colour in (("pswpout", "#2166ac"), ("pgrotated", "#92c5de"),
                         ("pswpin", "#d6604d"), ("pgsteal_kswapd", "#999999")):
        ax2.plot(t, v[name], color=colour, lw=1.4, label=name,
                 ls=":" if name == "pgrotated" else "-")
    ax2.set_ylabel("pages (cumulative)")
    ax2.set_xlabel("time (s)")
    ax2.set_xlim(0, SECONDS)
    ax2.legend(fontsize=8, loc="upper left")
    s = summary(res)
    text = "\n".join(f"{k:24s} {val}" for k, val in s.items())
    return PanelOutput(figure=fig, text=text)


PANELS = [Panel("swap device and swappiness: where anonymous pages go", CONTROLS, update)]


def warm() -> None:
    """Run the four swap sizes at swappiness 60 once (about 2 s)."""
    for s in SWAP_CHOICES:
        PANELS[0].render(swap=s, swappiness=60)


# --------------------------------------------------------------------------
# check yourself
# --------------------------------------------------------------------------
def _q_spaces(rng: Any, seed: int) -> Any:
    from mmsim.exercises import Question

    size = str(rng.choice(["256MiB", "1GiB", "2GiB", "8GiB", "100MiB"]))
    n = swapper_spaces(size)
    return Question("swapper_spaces", seed,
                    f"swapon of a {size} swap partition in v5.0: how many struct "
                    "address_space does init_swap_address_space() allocate in "
                    "swapper_spaces[type]?", n,
                    "One per SWAP_ADDRESS_SPACE_PAGES = 2^14 pages (64 MiB), rounded up: "
                    f"DIV_ROUND_UP(pages, 16384) = {n}. A swap entry's page cache lives in "
                    "swapper_spaces[swp_type][swp_offset >> 14], each with a_ops = &swap_aops "
                    "(.writepage = swap_writepage).")


def _q_noswap(rng: Any, seed: int) -> Any:
    from mmsim.exercises import Question

    case = int(rng.integers(0, 3))
    if case == 0:
        return Question("swap_reclaim", seed,
                        "A box has no swap. Which scan_balance does get_scan_count choose for "
                        "global reclaim: SCAN_EQUAL, SCAN_FRACT, SCAN_ANON or SCAN_FILE?",
                        "SCAN_FILE",
                        "With no free swap slots (or !sc->may_swap) the first test picks "
                        "SCAN_FILE: anonymous lists get a scan target of 0, so no anon page is "
                        "ever isolated, and swap_writepage is never called for one.")
    if case == 1:
        return Question("swap_reclaim", seed,
                        "kswapd writes an anonymous page to swap (pswpout). When the write "
                        "completes, where does end_page_writeback put it, given PG_reclaim "
                        "was set by pageout? Answer 'inactive tail', 'inactive head' or "
                        "'active head'.", "inactive tail",
                        "rotate_reclaimable_page moves it to the tail of the inactive list "
                        "(counted as pgrotated), so the next scan frees it at once.")
    return Question("swap_reclaim", seed,
                    "vm.swappiness = 0 on a v5.0 box with swap: can global reclaim still swap "
                    "anonymous pages out? (True/False)", True,
                    "Yes: when file pages + free pages are at or below the sum of the high "
                    "watermarks, get_scan_count forces SCAN_ANON whatever the swappiness. "
                    "swappiness 0 only removes anon from the SCAN_FRACT balance (and from the "
                    "SCAN_EQUAL fallback at priority 0).")


def _register() -> None:
    from mmsim.exercises import register

    register("swapper_spaces", _q_spaces)
    register("swap_reclaim", _q_noswap)


_register()

__all__ = ["PANELS", "compare", "experiment", "pipeline", "source_excerpt", "swapper_spaces",
           "update", "warm"]
