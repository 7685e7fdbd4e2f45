"""Lesson 04: ``swap_setup`` - ``page_cluster`` from the amount of RAM.

``swap_setup`` reads ``totalram_pages()`` - the pages handed to the buddy
allocator, not the RAM installed - and picks the swap read-ahead order:
2 below 16 MiB, 3 from 16 MiB up. The panel separates installed RAM from what
boot code keeps, so the 16 MiB boundary can be seen where it really is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mmsim.exercises import Question, register
from mmsim.widgets import Control, Panel, PanelOutput, figure

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from mmsim.mm.mmzone import Machine


def machine_with(managed_pages: int) -> Machine:
    """A booted machine (on paper) with ``managed_pages`` pages in one zone."""
    from mmsim.mm.layout import build_paper_node

    return build_paper_node(zones={"Normal": managed_pages}).machine


def page_cluster_for(managed_pages: int) -> tuple[int, int]:
    """``(megs, page_cluster)`` that v5.0's ``swap_setup`` computes for a machine."""
    from mmsim.mm.swap import swap_setup

    m = machine_with(managed_pages)
    pc = swap_setup(m)
    return m.totalram_pages() >> 8, pc


#: boundary cases: label -> managed pages
CASES = {
    "15 MiB": 15 << 8,
    "16 MiB − 1 page": (16 << 8) - 1,
    "16 MiB": 16 << 8,
    "16 MiB installed, 1 MiB kept by boot code": 15 << 8,
    "17 MiB": 17 << 8,
    "8 GiB": 8 << 18,
}


def cases_table() -> pd.DataFrame:
    """totalram_pages, megs and page_cluster for the boundary cases."""
    import pandas as pd

    rows = []
    for label, pages in CASES.items():
        megs, pc = page_cluster_for(pages)
        rows.append({"machine": label, "totalram_pages": pages, "megs": megs,
                     "page_cluster": pc, "read-ahead up to": f"{1 << pc} pages"})
    return pd.DataFrame(rows).set_index("machine")


def kswapd_init_sets_it(sizes: tuple[str, ...] = ("15MiB", "16MiB", "64MiB")) -> list[str]:
    """Boot real nodes in a Simulation (which runs kswapd_init) and report page_cluster."""
    from mmsim import Node, Simulation

    out = []
    for size in sizes:
        node = Node.build(zones={"Normal": size})
        sim = Simulation(node, [], seed=0)  # boots the daemons: kswapd_init -> swap_setup
        out.append(f"{size:>6s}: totalram_pages {node.machine.totalram_pages():6d} -> "
                   f"page_cluster {sim.machine.page_cluster}")
    return out


def step_figure(installed_mib: float = 16.0, reserved_kib: int = 1024) -> PanelOutput:
    """page_cluster against totalram, with one machine marked."""
    fig = figure(figsize=(9, 3.6))
    ax = fig.add_subplot()
    mib = np.linspace(0, 40, 801)
    pcs = np.where(np.floor(mib) < 16, 2, 3)
    ax.step(mib, pcs, where="post", color="#2166ac", lw=2, label="page_cluster (v5.0)")
    ax.axvline(16, color="#999999", ls=":", lw=1)
    ax.text(16.3, 3.25, "megs = totalram_pages >> 8 reaches 16", fontsize=8, color="#555555")
    managed = max(int(installed_mib * 256) - reserved_kib // 4, 0)
    megs, pc = page_cluster_for(managed) if managed else (0, 2)
    x = managed / 256
    ax.plot([x], [pc], "o", ms=9, color="#d7191c", zorder=5,
            label=f"this machine: {managed} pages managed")
    ax.axvline(installed_mib, color="#d7191c", ls="--", lw=0.8)
    ax.text(installed_mib + 0.3, 1.6, f"installed {installed_mib:g} MiB", fontsize=8,
            color="#d7191c")
    if reserved_kib and managed:
        ax.annotate("", xy=(x, pc - 0.2), xytext=(installed_mib, pc - 0.2),
                    arrowprops={"arrowstyle": "->", "color": "#d7191c"})
        ax.text(min(x, installed_mib) - 0.3, pc - 0.2, f"−{reserved_kib} KiB kept\nby boot code",
                ha="right", va="center", fontsize=8, color="#d7191c")
    ax.set_xlim(0, 40)
    ax.set_ylim(1.5, 3.6)
    ax.set_yticks([2, 3], ["2  (4 pages)", "3  (8 pages)"])
    ax.set_xlabel("totalram_pages() in MiB (managed pages, = MemTotal)")
    ax.set_ylabel("page_cluster\n(read-ahead up to)")
    ax.set_title("swap_setup: page_cluster = 2 if megs < 16 else 3", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    text = (f"installed {installed_mib:g} MiB − {reserved_kib} KiB reserved = {managed} "
            f"managed pages; megs = {managed} >> 8 = {megs}; page_cluster = {pc} "
            f"(swap-in read-ahead of up to {1 << pc} pages)")
    return PanelOutput(figure=fig, text=text)


CONTROLS = [
    Control("installed_mib", "int", 16, 1, 40, label="installed RAM (MiB)"),
    Control("reserved_kib", "int", 1024, 0, 8192, step=256, label="kept by boot code (KiB)",
            help="kernel image, memmap, firmware: present but never managed"),
]


def update(installed_mib: int = 16, reserved_kib: int = 1024) -> PanelOutput:
    return step_figure(float(installed_mib), reserved_kib)


PANELS = [Panel("swap_setup", CONTROLS, update)]


# --------------------------------------------------------------------------
# on your machine
# --------------------------------------------------------------------------
def host_report() -> list[str]:
    """MemTotal, what v5.0's swap_setup would choose, and the host's vm.page-cluster."""
    from mmsim.lessons import read_host_file, your_machine

    lines = []
    meminfo = read_host_file("/proc/meminfo")
    total_kb = None
    if meminfo:
        for ln in meminfo.splitlines():
            if ln.startswith("MemTotal:"):
                total_kb = int(ln.split()[1])
    if total_kb is None:
        node, where = your_machine()
        total_kb = node.machine.totalram_pages() * 4
        lines.append(f"(no /proc/meminfo: totalram from {where})")
    pages = total_kb // 4
    pc = 2 if (pages >> 8) < 16 else 3
    lines.append(f"MemTotal {total_kb} kB = totalram_pages {pages}; megs = {pages >> 8}; "
                 f"v5.0's swap_setup would choose page_cluster {pc}")
    cur = read_host_file("/proc/sys/vm/page-cluster")
    lines.append("vm.page-cluster on this host: "
                 + (cur.strip() if cur else "(not readable here)"))
    return lines


# --------------------------------------------------------------------------
# check yourself
# --------------------------------------------------------------------------
def _q_page_cluster_window(rng: np.random.Generator, seed: int) -> Question:
    n = int(rng.choice([0, 1, 2, 3, 4, 5]))
    ans = 1 << n
    return Question("page_cluster_window", seed,
                    f"vm.page-cluster is {n}. At most how many pages does one swap-in read "
                    "from the swap device (the faulting page included)?", ans,
                    f"the read-ahead window is at most 2^page_cluster = 2^{n} = {ans} pages "
                    "(0 turns read-ahead off: one page per fault).")


def _q_memtotal(rng: np.random.Generator, seed: int) -> Question:
    pages = int(rng.choice([4095, 4096, 4097, 3840, 4352, 3968]))
    kb = pages * 4
    ans = 2 if (pages >> 8) < 16 else 3
    return Question("swap_setup_memtotal", seed,
                    "When kswapd_init calls swap_setup on a small board, /proc/meminfo would "
                    f"say 'MemTotal: {kb} kB'. Which page_cluster does swap_setup choose?", ans,
                    f"MemTotal is totalram_pages × 4 KiB: {pages} pages; megs = {pages} >> 8 = "
                    f"{pages >> 8}; {'< 16 -> 2' if ans == 2 else '>= 16 -> 3'}. (MemTotal "
                    "read after boot is larger by the __init memory freed later.)")


register("page_cluster_window", _q_page_cluster_window)
register("swap_setup_memtotal", _q_memtotal)

__all__ = ["PANELS", "cases_table", "host_report", "kswapd_init_sets_it", "page_cluster_for",
           "step_figure"]
