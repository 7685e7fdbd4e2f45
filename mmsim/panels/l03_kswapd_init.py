"""Lesson 03: ``kswapd_init`` - when and for which nodes the kswapd threads start.

Helpers to boot a machine with several NUMA nodes (some of them memoryless)
from mmsim's public building blocks - zone specs, ``create_node``,
``free_managed``, ``boot`` - and to start its daemons the way
:class:`mmsim.Simulation` does (``kcompactd_init``, then ``kswapd_init``). mmsim
is single-node per :class:`~mmsim.Simulation` today: its LRU lists only
support a node that starts at pfn 0, so these machines run the daemons on a
bare scheduler and allocate nothing. That is all kswapd's start-up needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mmsim.exercises import Question, register
from mmsim.mm.mmzone import MAX_NR_ZONES, Machine, Node, Zone, pageblock_nr_pages
from mmsim.widgets import Control, Panel, PanelOutput, figure

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from mmsim.kthread import Scheduler, Task

PFN_4G = (4 << 30) >> 12


# --------------------------------------------------------------------------
# machines with several nodes
# --------------------------------------------------------------------------
def _node_specs(node_pages: list[int]) -> list[list[Any]]:
    """Zone specs per node: node 0 laid out as x86_64 firmware does (DMA, DMA32,
    Normal), every further node a Normal zone above 4 GiB after the previous one."""
    from mmsim.mm.layout import ZoneSpec, x86_64_layout

    out: list[list[Any]] = []
    end = 0
    for i, pages in enumerate(node_pages):
        if not pages:
            out.append([])
            continue
        if i == 0:
            specs = x86_64_layout(pages)
        else:
            start = max(end, PFN_4G)
            start = -(-start // pageblock_nr_pages) * pageblock_nr_pages
            specs = [ZoneSpec(2, start, pages, pages, pages)]
        end = max(s.start_pfn + s.spanned for s in specs)
        out.append(specs)
    return out


def _empty_node(machine: Machine, nid: int) -> Node:
    """A node without memory: all zones empty (a CPU-only NUMA node)."""
    node = Node(machine, nid, 0, 1)
    node.zones = [Zone(node, i, 0, 0, 0, 0) for i in range(MAX_NR_ZONES)]
    machine.nodes.append(node)
    return node


def numa_machine(node_mib: tuple[int, ...] = (64, 64, 0), thp: str = "madvise",
                 paper: bool = False, nr_cpus: int = 4) -> Machine:
    """A booted machine with one node per entry of ``node_mib`` (0 = memoryless).

    Node 0 needs at least 64 MiB (it holds DMA and DMA32); other nodes hold a
    Normal zone each. ``paper=True`` keeps no page frames (watermarks only, in
    microseconds); otherwise every managed page is freed to the buddy
    allocator as at boot. Boot runs the same initcalls as ``Node.build``:
    ``init_per_zone_wmark_min``, then the THP raise if THP is on and RAM
    ≥ 512 MiB.
    """
    from mmsim.mm.layout import boot, create_node, free_managed
    from mmsim.sysctl import Sysctl

    if not node_mib or not node_mib[0]:
        raise ValueError("node_mib: node 0 must have memory (>= 64 MiB)")
    machine = Machine(Sysctl(transparent_hugepage=thp), nr_cpus=nr_cpus)
    specs_per_node = _node_specs([mib << 8 for mib in node_mib])
    for nid, specs in enumerate(specs_per_node):
        if not specs:
            _empty_node(machine, nid)
        elif paper:
            node = Node(machine, nid, 0, 1)
            by_idx = {s.idx: s for s in specs}
            last = specs[0].start_pfn
            for idx in range(MAX_NR_ZONES):
                s = by_idx.get(idx)
                if s is None:
                    node.zones.append(Zone(node, idx, last, 0, 0, 0))
                else:
                    node.zones.append(Zone(node, idx, s.start_pfn, s.spanned, s.present,
                                           s.managed))
                    last = s.start_pfn + s.spanned
            machine.nodes.append(node)
        else:
            node = create_node(machine, specs, nid)
            free_managed(node, specs)
    boot(machine, {})
    return machine


@dataclass
class Booted:
    """A machine whose daemons were started, with its scheduler and a call log."""

    machine: Machine
    sched: Scheduler
    log: list[tuple[float, str]] = field(default_factory=list)

    def threads(self) -> list[Task]:
        return [t for t in self.sched.tasks if t.comm.startswith(("kswapd", "kcompactd"))]

    def run(self, seconds: float) -> None:
        """Advance simulated time to ``seconds``."""
        self.sched.run_until(round(seconds * 1e9))

    def ftrace(self) -> str:
        return self.machine.tracer.ftrace()


def start_daemons(machine: Machine) -> Booted:
    """Give the machine a scheduler and a tracer, then run ``kcompactd_init``
    (subsys_initcall) and ``kswapd_init`` (device_initcall), as a Simulation does."""
    from mmsim.kthread import Scheduler
    from mmsim.mm.compaction import kcompactd_init
    from mmsim.mm.vmscan import kswapd_init
    from mmsim.trace import Tracer

    sched = Scheduler(hz=machine.config.hz)
    machine.sched = sched
    machine.tracer = Tracer(sched)
    booted = Booted(machine, sched)
    kcompactd_init(machine)
    booted.log.append((0.0, "kcompactd_init()"))
    kswapd_init(machine)
    booted.log.append((0.0, "kswapd_init(): swap_setup(), kswapd_run() for each node "
                            "with memory"))
    return booted


def node_table(machine: Machine) -> pd.DataFrame:
    """Per node: its zones, present pages, N_MEMORY, and its daemons (if started)."""
    import pandas as pd

    rows = []
    for n in machine.nodes:
        zs = [z for z in n.zones if z.present_pages]
        k = getattr(n, "kswapd", None)
        c = getattr(n, "kcompactd", None)
        rows.append({
            "node": n.node_id,
            "zones": " ".join(f"{z.name}[{z.zone_start_pfn}-{z.zone_end_pfn - 1}]"
                              for z in zs) or "(none)",
            "present_pages": n.node_present_pages,
            "N_MEMORY": bool(n.node_present_pages),
            "kswapd": f"{k.comm} (pid {k.pid})" if k is not None else "-",
            "kcompactd": f"{c.comm} (pid {c.pid})" if c is not None else "-",
        })
    return pd.DataFrame(rows).set_index("node")


# --------------------------------------------------------------------------
# the boot sequence, initcall by initcall
# --------------------------------------------------------------------------
def boot_stages(node_mib: tuple[int, ...], thp: str = "madvise") -> list[dict[str, Any]]:
    """``min_free_kbytes`` and what exists after each initcall stage (paper machines)."""
    from mmsim.mm.swap import swap_setup

    plain = numa_machine(node_mib, thp="never", paper=True)
    final = numa_machine(node_mib, thp=thp, paper=True)
    mem_nodes = [n.node_id for n in final.nodes if n.node_present_pages]
    page_cluster = swap_setup(final)
    thp_on = final.thp_enabled_at_boot and thp != "never"
    zones = sum(1 for _ in final.for_each_populated_zone())
    return [
        {"level": "(static)", "initcall": "before any initcall",
         "min_free_kbytes": 1024, "what": "watermarks 0; no daemon"},
        {"level": "1 core", "initcall": "init_per_zone_wmark_min",
         "min_free_kbytes": plain.min_free_kbytes,
         "what": "4·√(lowmem KiB): min/low/high, lowmem_reserve"},
        {"level": "4 subsys", "initcall": "hugepage_init",
         "min_free_kbytes": final.min_free_kbytes,
         "what": (f"THP {thp}: 11 pageblocks × {zones} populated zones" if thp_on else
                  "THP never: no raise" if thp == "never" else
                  "under 512 MiB: THP switched off, no raise")},
        {"level": "4 subsys", "initcall": "kcompactd_init",
         "min_free_kbytes": final.min_free_kbytes,
         "what": "kcompactd" + ",".join(map(str, mem_nodes))},
        {"level": "6 device", "initcall": "kswapd_init",
         "min_free_kbytes": final.min_free_kbytes,
         "what": f"page_cluster {page_cluster}; kswapd" + ",".join(map(str, mem_nodes))},
    ]


def stages_table(node_mib: tuple[int, ...], thp: str = "madvise") -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(boot_stages(node_mib, thp)).set_index(["level", "initcall"])


#: machines compared in the notebook: label -> (node sizes in MiB, THP)
MACHINES = {
    "256 MiB, THP madvise": ((256,), "madvise"),
    "8 GiB, THP never": ((8192,), "never"),
    "8 GiB, THP madvise": ((8192,), "madvise"),
    "2 × 16 GiB + CPU-only node, madvise": ((16384, 16384, 0), "madvise"),
}


def machines_table() -> pd.DataFrame:
    """min_free_kbytes at each stage and the threads started, for :data:`MACHINES`."""
    import pandas as pd

    rows = []
    for label, (mib, thp) in MACHINES.items():
        st = boot_stages(mib, thp)
        rows.append({"machine": label, "core_initcall": st[1]["min_free_kbytes"],
                     "after hugepage_init": st[2]["min_free_kbytes"],
                     "kcompactd": st[3]["what"], "kswapd_init": st[4]["what"]})
    return pd.DataFrame(rows).set_index("machine")


def boot_figure(node_mib: tuple[int, ...] = (16384, 16384, 0), thp: str = "madvise",
                compare: bool = True) -> PanelOutput:
    """Left: min_free_kbytes through the initcall levels. Right: nodes and their daemons."""
    fig = figure(figsize=(11, 4.2))
    a, b = fig.subplots(1, 2, width_ratios=(1.3, 1))
    configs = dict(MACHINES) if compare else {}
    label = f"{_machine_label(node_mib)}, THP {thp}"
    for name, cfg in list(configs.items()):
        if cfg == (tuple(node_mib), thp):
            label = name
    configs.setdefault(label, (tuple(node_mib), thp))
    x = np.arange(5)
    for name, (mib, t) in configs.items():
        st = boot_stages(mib, t)
        y = [s["min_free_kbytes"] for s in st]
        hot = name == label
        a.step(x, y, where="post", lw=2.4 if hot else 1.2, alpha=1 if hot else 0.6,
               label=name, marker="o", ms=4)
    a.axvline(4, color="#2166ac", ls=":", lw=1)
    a.text(4.05, a.get_ylim()[1], "kswapd\nstarts", color="#2166ac", fontsize=8, va="top")
    a.set_yscale("log", base=2)
    lo, hi = a.get_ylim()
    ticks = [1 << k for k in range(10, 19) if lo <= (1 << k) <= hi]
    a.set_yticks(ticks, [str(t) for t in ticks])
    a.minorticks_off()
    a.set_xticks(x, ["static", "core:\ninit_per_zone_\nwmark_min", "subsys:\nhugepage_init",
                     "subsys:\nkcompactd_init", "device:\nkswapd_init"], fontsize=7)
    a.set_ylabel("min_free_kbytes")
    a.set_title("the watermarks are final before kswapd starts", fontsize=10)
    a.legend(fontsize=7, loc="lower right")
    _nodes_axes(b, numa_machine(node_mib, thp=thp, paper=True))
    st = boot_stages(node_mib, thp)
    text = "\n".join(f"{s['level']:9s} {s['initcall']:24s} "
                     f"min_free_kbytes {s['min_free_kbytes']:6d}  {s['what']}" for s in st)
    return PanelOutput(figure=fig, text=text)


def _machine_label(node_mib: tuple[int, ...]) -> str:
    """"2 × 16 GiB + 1 CPU-only" style."""
    mem = [m for m in node_mib if m]
    parts = []
    if len(set(mem)) == 1:
        parts.append(f"{len(mem)} × {_size(mem[0])}" if len(mem) > 1 else _size(mem[0]))
    else:
        parts.append(" + ".join(_size(m) for m in mem))
    cpu_only = len(node_mib) - len(mem)
    if cpu_only:
        parts.append(f"{cpu_only} CPU-only")
    return " + ".join(parts)


def _size(mib: int) -> str:
    return f"{mib >> 10} GiB" if mib >= 1024 and not mib % 1024 else f"{mib} MiB"


def _nodes_axes(ax: Any, machine: Machine) -> None:
    """Boxes per node: its zones and the threads kswapd_init/kcompactd_init give it."""
    from matplotlib.patches import FancyBboxPatch

    colours = ("#a6cee3", "#1f78b4", "#33a02c", "#fb9a99", "#cab2d6")
    n = len(machine.nodes)
    small = 6 if n > 3 else 8
    ax.set_xlim(0, max(n, 3))
    ax.set_ylim(0, 1)
    ax.set_axis_off()
    for i, node in enumerate(machine.nodes):
        mem = bool(node.node_present_pages)
        ax.add_patch(FancyBboxPatch((i + 0.06, 0.05), 0.88, 0.82,
                                    boxstyle="round,pad=0.01", fc="#f7f7f7" if mem else "#ffffff",
                                    ec="#666666", ls="-" if mem else "--"))
        ax.text(i + 0.5, 0.8, f"node {node.node_id}", ha="center", fontsize=9,
                fontweight="bold")
        zs = [z for z in node.zones if z.present_pages]
        for k, z in enumerate(zs):
            ax.add_patch(FancyBboxPatch((i + 0.15, 0.62 - 0.12 * k), 0.7, 0.09,
                                        boxstyle="round,pad=0.005", fc=colours[z.idx],
                                        ec="none"))
            ax.text(i + 0.5, 0.665 - 0.12 * k, f"{z.name}\n{_size(z.managed_pages >> 8)}",
                    ha="center", va="center", fontsize=small - 1, linespacing=0.9)
        if not zs:
            ax.text(i + 0.5, 0.55, "no\nmemory", ha="center", va="center",
                    fontsize=small, color="#666666")
        threads = [f"kcompactd{node.node_id}", f"kswapd{node.node_id}"] if mem else []
        for k, t in enumerate(threads):
            ax.text(i + 0.5, 0.22 - 0.1 * k, t, ha="center", va="center", fontsize=small,
                    family="monospace", color="white",
                    bbox={"boxstyle": "round", "fc": "#2166ac" if "kswapd" in t else "#1b7837",
                          "ec": "none"})
        if not threads:
            ax.text(i + 0.5, 0.18, "no kswapd\nno kcompactd", ha="center", va="center",
                    fontsize=small - 1, color="#d7191c")
    ax.set_title("for_each_node_state(nid, N_MEMORY): one thread each", fontsize=10)


# --------------------------------------------------------------------------
# the panel
# --------------------------------------------------------------------------
CONTROLS = [
    Control("node_mib", "log2", 16384, 256, 65536, label="memory per node (MiB)",
            help="every node with memory gets this much (node 0: DMA, DMA32, Normal)"),
    Control("nodes", "int", 2, 1, 4, label="nodes with memory"),
    Control("memoryless", "int", 1, 0, 2, label="CPU-only nodes",
            help="NUMA nodes with CPUs but no memory: not in N_MEMORY"),
    Control("thp", "choice", "madvise", options=("always", "madvise", "never"),
            label="transparent_hugepage", help="THP at boot: always/madvise raise min_free_kbytes"),
]


def update(node_mib: int = 16384, nodes: int = 2, memoryless: int = 1,
           thp: str = "madvise") -> PanelOutput:
    sizes = (node_mib,) * nodes + (0,) * memoryless
    return boot_figure(sizes, thp, compare=False)


PANELS = [Panel("boot order and kswapd threads", CONTROLS, update)]


# --------------------------------------------------------------------------
# check yourself
# --------------------------------------------------------------------------
def _q_boot_min_free_kbytes(rng: np.random.Generator, seed: int) -> Question:
    gib = int(rng.choice([1, 2, 4, 8, 16, 64]))
    nodes = int(rng.choice([1, 1, 2, 4]))
    thp = str(rng.choice(["madvise", "never"]))
    st = boot_stages((gib << 10,) * nodes, thp)
    ans = st[-1]["min_free_kbytes"]
    return Question("boot_min_free_kbytes", seed,
                    "An x86_64 machine has "
                    + (f"{nodes} nodes with {gib} GiB each (node 0 holds DMA, DMA32 and "
                       "Normal, the others a Normal zone each)" if nodes > 1 else
                       f"one node with {gib} GiB")
                    + f" and THP '{thp}'. "
                    "What min_free_kbytes is in force when kswapd_init starts the kswapd "
                    "threads?", ans,
                    f"core_initcall computes {st[1]['min_free_kbytes']} (4·√lowmem KiB, "
                    f"clamped); hugepage_init ({st[2]['what']}) leaves {ans}. kswapd_init "
                    "runs later (device_initcall), so the threads start with that value.")


def _q_kswapd_threads(rng: np.random.Generator, seed: int) -> Question:
    n = int(rng.integers(2, 6))
    sizes = [int(rng.choice([0, 0, 8, 16, 32])) for _ in range(n)]
    sizes[0] = sizes[0] or 16
    ans = sum(1 for s in sizes if s)
    desc = ", ".join(f"node {i}: {s} GiB" if s else f"node {i}: CPUs only"
                     for i, s in enumerate(sizes))
    return Question("kswapd_init", seed,
                    f"A NUMA machine boots with {desc}. How many kswapd threads does "
                    "kswapd_init start?", ans,
                    "for_each_node_state(nid, N_MEMORY) calls kswapd_run(nid): one thread per "
                    f"node with memory, {ans} here; CPU-only nodes get none (their allocations "
                    "fall back to other nodes, whose kswapd reclaims).")


register("boot_min_free_kbytes", _q_boot_min_free_kbytes)
register("kswapd_init", _q_kswapd_threads)


__all__ = ["PANELS", "Booted", "boot_figure", "boot_stages", "machines_table", "node_table",
           "numa_machine", "stages_table", "start_daemons"]
