"""Lesson 19: ``wakeup_kcompactd`` - recording a request and maybe waking kcompactd.

The panel's node (DMA32 16 MiB, Normal 64 MiB) is filled with page cache (LRU
pages, so compaction can move them) and then shaped exactly: DMA32 gets one
free order-9 block, Normal's free memory is 8 MiB in order-4 blocks. So for
this node ``kcompactd_node_suitable`` says: orders 1-4 no (blocks exist),
order 5 no (fragindex ~490 <= 500), orders 6-9 yes for classzone Normal, order
10 no (too little free memory); anything with classzone DMA32 no (DMA32 has
the order-9 block). kcompactd and kswapd are started (``kcompactd_init``,
``kswapd_init``) and sleep; then a task calls the real ``wakeup_kcompactd``
for each request of the sequence, ``gap`` microseconds apart, and the real
kcompactd thread runs whatever passes follow. ~60 ms per update.

A kernel detail the engine reproduces: ``wait_event_freezable`` uses
``autoremove_wake_function``, so a woken kcompactd leaves ``kcompactd_wait`` at
once and a second ``wakeup_kcompactd`` before it runs finds no sleeper.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mmsim import exercises
from mmsim.widgets import Control, Panel, PanelOutput, figure

ZONES = {"DMA32": "16MiB", "Normal": "64MiB"}
DEFAULT_MFK = 1144  # boot default for ZONES

REQUESTS = ("none", "order 0, Normal", "order 2, Normal", "order 5, Normal",
            "order 7, Normal", "order 9, Normal", "order 10, Normal", "order 2, DMA32",
            "order 9, DMA32")


def parse_request(text: str) -> tuple[int, str] | None:
    if text == "none":
        return None
    o, z = text.split(",")
    return int(o.split()[1]), z.strip()


def shaped_lru_node(block_order: int = 4, free_mib: int = 8, seed: int = 0,
                    daemons: bool = True, normal_kind: str = "file") -> tuple[Any, Any]:
    """The lesson's node: LRU pages everywhere, then an exact free-area shape.

    ``normal_kind="anon"`` fills Normal with anonymous memory (no swap: kswapd
    cannot reclaim it, compaction can still move it) and only DMA32 with page
    cache - so reclaim cannot undo Normal's fragmentation.
    """
    from mmsim import Node, Simulation, Sysctl
    from mmsim.kthread import NSEC_PER_SEC, Sleep
    from mmsim.mm.filemap import AnonRegion, FileMapping
    from mmsim.mm.mmzone import ZONE_BOOSTED_WATERMARK
    from mmsim.mm.swap import get_lruvec
    from mmsim.workloads import Script

    node = Node.build(zones=ZONES, sysctl=Sysctl(min_free_kbytes=128))

    def fill(sim: Any) -> Any:
        normal, dma32 = node.zone("Normal"), node.zone("DMA32")
        owners = []
        if normal_kind == "anon":
            na = normal.nr_free_pages - 2 * normal.high_wmark_pages
            a = AnonRegion(node, na, name="heap")
            for i in range(0, na, 2048):
                yield from a.touch(np.arange(i, min(na, i + 2048)))
            owners.append(a)
        n = node.nr_free_pages - 2 * sum(z.high_wmark_pages for z in node.zones)
        f = FileMapping(node, n, name="cache")
        for i in range(0, n, 2048):
            yield from f.read(np.arange(i, min(n, i + 2048)))
        owners.append(f)
        size = 1 << block_order
        nblocks = min(((free_mib << 20) >> 12) // size, normal.managed_pages // (2 * size))
        starts = normal.zone_start_pfn + np.arange(nblocks, dtype=np.int64) * 2 * size
        pf = (starts[:, None] + np.arange(size, dtype=np.int64)[None, :]).ravel()
        pf = np.concatenate([pf, dma32.zone_start_pfn + 1024 + np.arange(512)])
        lv = get_lruvec(node)
        for m in owners:
            mine = pf[lv.owner[pf] == m.id]
            m.release(lv.index[mine])
        sim.stats["shaped"] = 1
        while True:
            yield Sleep(NSEC_PER_SEC)

    sim = Simulation(node, [Script(fn=fill, name="fill")], seed=seed, daemons=False,
                     sample_buddyinfo=False, sample_interval=0.05)
    for _ in range(40):
        sim.run(0.05)
        if "shaped" in sim.stats:
            break
    for z in node.zones:
        z.watermark_boost = 0
        z.flags &= ~ZONE_BOOSTED_WATERMARK
    node.machine.sysctl.min_free_kbytes = DEFAULT_MFK
    if daemons:
        from mmsim.mm.compaction import kcompactd_init
        from mmsim.mm.vmscan import kswapd_init

        kcompactd_init(node.machine)
        kswapd_init(node.machine)
        sim.run(0.2)
    return node, sim


def run_sequence(requests: list[str], gap_us: int = 0) -> dict[str, Any]:
    """Issue the requests through ``wakeup_kcompactd``; then let kcompactd run."""
    from mmsim.kthread import Sleep, waitqueue_active
    from mmsim.mm.compaction import wakeup_kcompactd
    from mmsim.trace import format_line
    from mmsim.workloads import Script

    node, sim = shaped_lru_node()
    reqs = [p for p in (parse_request(r) for r in requests) if p is not None]
    log: list[dict[str, Any]] = []
    n0 = len(sim.tracer.records)
    t0 = sim.sched.now_ns

    def requester(_sim: Any) -> Any:
        for i, (order, zname) in enumerate(reqs):
            if i and gap_us:
                yield Sleep(gap_us * 1000)
            sleeper = waitqueue_active(node.kcompactd_wait)
            wakes = sum(1 for r in sim.tracer.records if r[4] ==
                        "mm_compaction_wakeup_kcompactd")
            wakeup_kcompactd(node, order, node.zone(zname).idx)
            woken = sum(1 for r in sim.tracer.records if r[4] ==
                        "mm_compaction_wakeup_kcompactd") > wakes
            if order == 0:
                outcome = "ignored: order 0"
            elif not sleeper:
                outcome = "recorded; no sleeper (kcompactd woken or busy)"
            elif woken:
                outcome = "node suitable: WAKE (tracepoint)"
            else:
                outcome = "recorded; node not suitable: stays asleep"
            log.append({"t_us": (sim.sched.now_ns - t0) / 1000, "request": f"order {order}, "
                        f"{zname}", "max_order": node.kcompactd_max_order,
                        "classzone": node.zones[node.kcompactd_classzone_idx].name,
                        "outcome": outcome})
        yield Sleep(1_000_000_000)

    sim.sched.spawn(sim._run_workload, "requester", Script(fn=requester), None, cpu=1,
                    pid=950)
    sim.run(0.001 + len(reqs) * gap_us / 1e6 + 0.02)
    recs = [r for r in sim.tracer.records[n0:]
            if r[1].startswith("kcompactd") or r[4] == "mm_compaction_wakeup_kcompactd"]
    keep = ("kcompactd_sleep", "wakeup_kcompactd", "kcompactd_wake", "mm_compaction_begin",
            "mm_compaction_end", "defer")
    lines = [format_line(*r) for r in recs if any(k in r[4] for k in keep)]
    passes = [(r[0] - t0) / 1000 for r in recs if r[4] == "mm_compaction_kcompactd_wake"]
    runs = [{"start": (c["start"] - t0) / 1000, "end": (c.get("end", c["start"]) - t0) / 1000,
             "zone": c["zone"], "result": c.get("result", "running")}
            for c in getattr(node, "compaction_log", [])]
    return {"log": log, "ftrace": lines, "passes": passes, "runs": runs, "gap_us": gap_us,
            "pending": (node.kcompactd_max_order,
                        node.zones[node.kcompactd_classzone_idx].name)}


def text_for(r: dict[str, Any]) -> str:
    lines = [f"{'t (us)':>7s}  {'request':17s} {'max_order':>9s} {'classzone':9s}  what happened"]
    for e in r["log"]:
        lines.append(f"{e['t_us']:7.0f}  {e['request']:17s} {e['max_order']:9d} "
                     f"{e['classzone']:9s}  {e['outcome']}")
    lines.append(f"kcompactd passes: {len(r['passes'])}; left pending afterwards: "
                 f"max_order {r['pending'][0]}, classzone {r['pending'][1]}")
    lines += ["", *r["ftrace"]]
    return "\n".join(lines)


def figure_for(r: dict[str, Any]) -> Any:
    fig = figure(figsize=(9, 2.8))
    ax = fig.add_subplot()
    colours = {"WAKE": "#1a9641", "ignored": "#999999", "no sleeper": "#fdae61",
               "not suitable": "#d7191c"}
    end = max([e["t_us"] for e in r["log"]] + [x["end"] for x in r["runs"]] + [10])
    spread = end * 0.12 if r["gap_us"] == 0 else 0.0  # gap 0: same instant, drawn apart
    for i, e in enumerate(r["log"]):
        c = next(v for k, v in colours.items() if k in e["outcome"])
        x = e["t_us"] + i * spread
        ax.plot(x, 1, "o", color=c, ms=9)
        ax.annotate(e["request"].replace(", ", "\n"), (x, 1), xytext=(0, 12),
                    textcoords="offset points", ha="center", fontsize=7)
    for run in r["runs"]:
        ax.barh(0, max(run["end"] - run["start"], 3), left=run["start"], height=0.4,
                color="#92c5de" if run["result"] == "success" else "#f4a582")
        ax.text(run["start"], -0.35, f"{run['zone']}: {run['result']}", fontsize=7)
    for t in r["passes"]:
        ax.plot(t, 0, "D", color="#762a83", ms=6)
    for k, v in colours.items():
        ax.plot([], [], "o", color=v, label=k)
    ax.plot([], [], "D", color="#762a83", label="kcompactd pass starts")
    ax.set_yticks([0, 1], ["kcompactd", "wakeup_kcompactd()"])
    ax.set_ylim(-0.7, 1.9)
    end = max(end, spread * len(r["log"]))
    ax.set_xlim(-0.05 * end - 5, end * 1.1 + 5)
    ax.set_xlabel("simulated time (microseconds)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.set_title(f"requests {r['gap_us']} us apart" + (" (all at t=0, drawn side by side in "
                                                        "call order)" if spread else ""),
                 fontsize=10)
    return fig


CONTROLS = [
    Control(f"request{i}", "choice", d, options=REQUESTS, label=f"request {i}",
            help="order and classzone of one wakeup_kcompactd() call")
    for i, d in ((1, "order 0, Normal"), (2, "order 2, Normal"), (3, "order 9, Normal"),
                 (4, "order 7, Normal"))
] + [Control("gap_us", "int", 0, 0, 3000, step=50, label="gap between requests (us)",
             help="0: all requests before kcompactd gets the CPU; a pass takes ~0.5-1 ms")]


def update(request1: str = "order 0, Normal", request2: str = "order 2, Normal",
           request3: str = "order 9, Normal", request4: str = "order 7, Normal",
           gap_us: int = 0) -> PanelOutput:
    r = run_sequence([request1, request2, request3, request4], gap_us)
    return PanelOutput(figure=figure_for(r), text=text_for(r))


PANELS = [Panel("wakeup_kcompactd: a sequence of requests", CONTROLS, update)]


def merge_table(requests: list[tuple[int, int]], start_classzone: int = 2) -> list[tuple]:
    """Pure merge rule: (order, classzone) requests -> (max_order, classzone) after each."""
    max_order, cz = 0, start_classzone
    out = []
    for order, c in requests:
        if order:
            max_order = max(max_order, order)
            cz = min(cz, c)
        out.append((order, c, max_order, cz))
    return out


# --------------------------------------------------------------------------
# check yourself
# --------------------------------------------------------------------------
_ZN = ("DMA", "DMA32", "Normal", "Movable")


def _q_merge(rng: np.random.Generator, seed: int) -> exercises.Question:
    n = int(rng.integers(3, 6))
    reqs = [(int(rng.choice([0, 0, 2, 3, 4, 9, 10])), int(rng.integers(1, 4))) for _ in range(n)]
    table = merge_table(reqs, 2)
    mo, cz = table[-1][2], table[-1][3]
    ans = f"{mo} {_ZN[cz]}"
    seq = ", ".join(f"(order {o}, {_ZN[c]})" for o, c in reqs)
    return exercises.Question(
        "wakeup_kcompactd", seed,
        f"kcompactd of a node with zones DMA, DMA32, Normal has no pending request "
        f"(max_order 0, classzone Normal = nr_zones - 1) and is busy, so nobody wakes it. "
        f"wakeup_kcompactd is called with {seq}. What request does its next pass get? "
        "Answer as 'ORDER ZONE', e.g. '9 DMA32'.", ans,
        "Order 0 is ignored; otherwise max_order = max(max_order, order) and classzone = "
        "min(classzone, classzone_idx): " + "; ".join(
            f"after ({o}, {_ZN[c]}): {m} {_ZN[z]}" for o, c, m, z in table) + ".")


exercises.register("wakeup_kcompactd", _q_merge)
