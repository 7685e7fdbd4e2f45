"""Lesson 15: ``kcompactd_init`` - one kcompactd per node with memory, before kswapd.

The panel builds a small NUMA machine (every node with memory gets 32 MiB; the
highest-numbered nodes can be memoryless, like CPU-only nodes) and boots it
the way :class:`mmsim.Simulation` does: ``kcompactd_init`` (a
``subsys_initcall``) and then ``kswapd_init`` (``module_init``, i.e.
``device_initcall`` for built-in code), each the mmsim twin. A few
milliseconds per update.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mmsim import exercises
from mmsim.widgets import Control, Panel, PanelOutput, figure

#: initcall levels of include/linux/init.h, in the order do_initcalls() runs them, with
#: their level numbers (rootfs_initcall is "5s", between fs and device)
INITCALL_LEVELS = ("pure", "core", "postcore", "arch", "subsys", "fs", "rootfs", "device",
                   "late")
LEVEL_IDS = ("0", "1", "2", "3", "4", "5", "5s", "6", "7")
#: the memory-management initcalls the lessons talk about, with their level
MM_INITCALLS = (("init_per_zone_wmark_min", "core",
                 "min_free_kbytes and the watermarks (lesson 01)"),
                ("kcompactd_init", "subsys", "kcompactd<nid> for each node with memory"),
                ("kswapd_init", "device", "swap_setup + kswapd<nid> for each node with memory"))

NODE_MIB = 32


def numa_machine(nodes: int = 2, memoryless: int = 0) -> Any:
    """A machine of ``nodes`` nodes; the last ``memoryless`` of them have no memory.

    Node 0 holds DMA32, the other nodes with memory a Normal zone each.
    """
    from mmsim.mm.layout import ZoneSpec, boot, create_node, free_managed
    from mmsim.mm.mmzone import MAX_NR_ZONES, Machine, Node, Zone
    from mmsim.sysctl import Sysctl

    if not 1 <= nodes <= 8:
        raise ValueError(f"nodes: {nodes} is out of range; allowed 1..8")
    if not 0 <= memoryless < nodes:
        raise ValueError(f"memoryless: {memoryless} is out of range; allowed 0..{nodes - 1}")
    machine = Machine(Sysctl(), nr_cpus=max(2, nodes))
    size = (NODE_MIB << 20) >> 12
    pfn = 0
    for nid in range(nodes):
        if nid >= nodes - memoryless:
            node = Node(machine, nid, pfn, 1)  # memoryless: no zone has pages
            node.zones = [Zone(node, idx, pfn, 0, 0, 0) for idx in range(MAX_NR_ZONES)]
            machine.nodes.append(node)
            continue
        spec = ZoneSpec(1 if nid == 0 else 2, pfn, size, size, size)
        node = create_node(machine, [spec], node_id=nid)
        free_managed(node, [spec])
        pfn += size
    boot(machine, {"min_free_kbytes": None})
    return machine


def boot_threads(nodes: int = 2, memoryless: int = 0) -> pd.DataFrame:
    """Boot the daemons as the kernel's initcalls do; the threads started, in order."""
    from mmsim.kthread import Scheduler
    from mmsim.mm.compaction import kcompactd_init
    from mmsim.mm.vmscan import kswapd_init

    machine = numa_machine(nodes, memoryless)
    # only the threads are created here (nothing runs), so the per-node reclaim state
    # is not needed (mmsim's lruvec does not support nodes that start above pfn 0 yet)
    machine.sched = Scheduler(hz=machine.config.hz)
    rows = []
    for fn, level in ((kcompactd_init, "subsys"), (kswapd_init, "device")):
        before = len(machine.sched.tasks)
        fn(machine)
        for t in machine.sched.tasks[before:]:
            rows.append({"pid": t.pid, "thread": t.comm, "initcall": fn.__name__,
                         "level": level, "node": int(t.comm[-1]), "note": ""})
    for pgdat in machine.nodes:
        present = pgdat.node_present_pages
        for kind in ("kcompactd", "kswapd"):
            if getattr(pgdat, kind, None) is None:
                rows.append({"pid": "-", "thread": "-", "initcall": f"{kind}_init",
                             "level": "-", "node": pgdat.node_id,
                             "note": f"{present} pages: not in N_MEMORY, skipped"})
    return pd.DataFrame(rows)


def figure_for(df: pd.DataFrame, nodes: int, memoryless: int) -> Any:
    fig = figure(figsize=(9, 1.2 + 0.45 * nodes), layout=None)
    ax = fig.add_axes((0.16, 0.22, 0.8, 0.62))
    lv = {name: i for i, name in enumerate(INITCALL_LEVELS)}
    for fn, level, _what in MM_INITCALLS:
        ax.axvline(lv[level], color="#bbbbbb", lw=1, zorder=0)
        ax.text(lv[level], -0.9, fn, rotation=0, ha="center", fontsize=7, color="#555555")
    for nid in range(nodes):
        has_mem = nid < nodes - memoryless
        for kind, level, colour in (("kcompactd", "subsys", "#762a83"),
                                    ("kswapd", "device", "#2166ac")):
            started = (df.thread == f"{kind}{nid}").any()
            ax.plot(lv[level], nid, "s" if started else "x", ms=11,
                    color=colour if started else "#999999")
            ax.text(lv[level] + 0.2, nid, f"{kind}{nid}" if started else "none (no memory)",
                    va="center", fontsize=8, color=colour if started else "#999999")
        ax.text(-0.3, nid, f"node {nid}" + ("" if has_mem else " (memoryless)"), ha="right",
                va="center", fontsize=8)
    ax.set_xticks(range(len(INITCALL_LEVELS)),
                  [f"{n}\n({i})" for n, i in zip(INITCALL_LEVELS, LEVEL_IDS)], fontsize=7)
    ax.set_yticks([])
    ax.set_ylim(nodes - 0.4, -1.3)
    ax.set_xlim(-0.5, len(INITCALL_LEVELS) - 0.3)
    ax.set_xlabel("initcall level (do_initcalls order)", fontsize=8)
    ax.set_title(f"Boot of a {nodes}-node machine: kcompactd before kswapd", fontsize=10)
    return fig


CONTROLS = [
    Control("nodes", "int", 2, 1, 4, label="NUMA nodes"),
    Control("memoryless", "int", 0, 0, 3, label="memoryless nodes (the last ones)",
            help="nodes with CPUs but no memory get neither kcompactd nor kswapd"),
]


def update(nodes: int = 2, memoryless: int = 0) -> PanelOutput:
    memoryless = min(memoryless, nodes - 1)  # node 0 always has memory
    df = boot_threads(nodes, memoryless)
    started = df[df.pid != "-"]
    text = "\n".join(f"pid {r.pid:>3}  {r.thread:10s} started by {r.initcall} ({r.level}_initcall)"
                     f", bound to the CPUs of its node" for r in started.itertuples())
    skipped = df[df.pid == "-"]
    if len(skipped):
        text += "\n" + "\n".join(f"node {r.node}, {r.initcall}: {r.note}"
                                 for r in skipped.itertuples())
    return PanelOutput(figure=figure_for(df, nodes, memoryless), text=text)


PANELS = [Panel("kcompactd_init: threads started at boot", CONTROLS, update)]


def _q_threads(rng: np.random.Generator, seed: int) -> exercises.Question:
    nodes = int(rng.integers(1, 9))
    memless = int(rng.integers(0, nodes))
    ans = 2 * (nodes - memless)
    return exercises.Question(
        "kcompactd_init", seed,
        f"A machine has {nodes} NUMA nodes, {memless} of them without memory (CPU-only). "
        "How many kcompactd and kswapd threads together exist after boot?", ans,
        f"kcompactd_init and kswapd_init both walk for_each_node_state(nid, N_MEMORY): "
        f"{nodes - memless} nodes with memory -> {nodes - memless} kcompactd + "
        f"{nodes - memless} kswapd = {ans}.")


exercises.register("kcompactd_init", _q_threads)
