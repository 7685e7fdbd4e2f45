"""Named, seeded scenarios used by the lessons, the CLI and the benchmarks.

``build(name, mem=..., seed=..., sysctl=..., **overrides)`` returns a ready
:class:`mmsim.Simulation`; ``NAMES`` maps each name to a one-line description.
Overrides change the scenario's knobs (for example ``rate="800MiB"`` for
``file-stream``, ``swap="2GiB"`` for ``anon-swap``); each scenario lists its
knobs in ``KNOBS``.

Examples
--------
>>> from mmsim import scenarios
>>> sim = scenarios.build("file-stream", mem="512MiB", seed=0, rate="200MiB")
>>> res = sim.run(seconds=0.2)
>>> list(res.vmstat.columns[:2])
['time', 'nr_free_pages']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mmsim.mm.mmzone import Node
from mmsim.simulation import Simulation
from mmsim.sysctl import Sysctl
from mmsim.workloads import (
    AnonGrowth,
    FileStream,
    Fragmenter,
    HighOrderBurst,
    KernelAlloc,
    WorkingSet,
)

NAMES: dict[str, str] = {
    "file-stream": "one reader streams a large file through the page cache at a steady rate",
    "anon-swap": "a process grows its anonymous memory past RAM; cold pages go to swap",
    "working-set": "a re-read working set competes with a streaming reader for the cache",
    "direct-reclaim": "two readers allocate faster than kswapd reclaims: allocation stalls",
    "boost": "slab allocations steal pageblocks from page cache: watermark boosts",
    "fragment": "page cache with pinned kernel pages, then holes punched: free memory in bits",
    "thp-burst": "order-9 (THP) requests against a fragmented zone: direct compaction",
    "kcompactd-after-kswapd": "high-order requests that kswapd hands over to kcompactd",
}

#: each scenario's knobs and their defaults
KNOBS: dict[str, dict[str, Any]] = {
    "file-stream": {"rate": "400MiB", "prefill": False},
    "anon-swap": {"rate": "200MiB", "anon_size": None, "hot": 0.2, "swap": "1GiB"},
    "working-set": {"ws_size": None, "ws_rate": "200MiB", "stream_rate": "200MiB"},
    "direct-reclaim": {"readers": 2},
    "boost": {"stream_rate": "300MiB", "slab_rate": "16MiB", "slab_lifetime": 2.0},
    "fragment": {"fill": 1.0, "punch": 0.5, "unmovable_every": 256},
    "thp-burst": {"fill": 1.0, "punch": 0.5, "unmovable_every": 256, "order": 9,
                  "count": 4, "interval": 0.2, "gfp": "GFP_TRANSHUGE|__GFP_NORETRY"},
    "kcompactd-after-kswapd": {"stream_rate": "200MiB", "order": 9, "count": 2,
                               "interval": 0.25,
                               "gfp": "GFP_TRANSHUGE_LIGHT|__GFP_KSWAPD_RECLAIM"},
}


def _mem_pages(node: Node) -> int:
    return sum(z.managed_pages for z in node.zones)


def _file_stream(node: Node, o: dict[str, Any]) -> tuple[list, dict]:
    if o["prefill"]:
        from mmsim.workloads import prefill_page_cache

        prefill_page_cache(node)
    return [FileStream(rate=o["rate"], name="reader")], {}


def _anon_swap(node: Node, o: dict[str, Any]) -> tuple[list, dict]:
    size = o["anon_size"] or int(_mem_pages(node) * 1.5)
    return [AnonGrowth(rate=o["rate"], size=size, hot=o["hot"], name="hog")], \
        {"swap": o["swap"]}


def _working_set(node: Node, o: dict[str, Any]) -> tuple[list, dict]:
    ws = o["ws_size"] or _mem_pages(node) // 3
    return [WorkingSet(rate=o["ws_rate"], size=ws, name="db"),
            FileStream(rate=o["stream_rate"], name="backup", start=0.5)], {}


def _direct_reclaim(node: Node, o: dict[str, Any]) -> tuple[list, dict]:
    n = int(o["readers"])
    if not 1 <= n <= 8:
        raise ValueError(f"readers: {n} is out of range; allowed 1..8")
    return [FileStream(rate=None, name=f"reader{i}") for i in range(n)], {}


def _boost(node: Node, o: dict[str, Any]) -> tuple[list, dict]:
    return [FileStream(rate=o["stream_rate"], name="reader"),
            KernelAlloc(rate=o["slab_rate"], kind="slab", lifetime=o["slab_lifetime"],
                        name="dentries", start=1.0)], {}


def _fragment(node: Node, o: dict[str, Any]) -> tuple[list, dict]:
    return [Fragmenter(fill=o["fill"], punch=o["punch"],
                       unmovable_every=o["unmovable_every"], name="fragmenter")], {}


def _thp_burst(node: Node, o: dict[str, Any]) -> tuple[list, dict]:
    frag, _ = _fragment(node, o)
    return [*frag, HighOrderBurst(order=o["order"], count=o["count"], interval=o["interval"],
                                  lifetime=None, gfp=o["gfp"], kind="anon", name="thp",
                                  start=1.0)], {}


def _kcompactd_after_kswapd(node: Node, o: dict[str, Any]) -> tuple[list, dict]:
    return [FileStream(rate=o["stream_rate"], name="reader"),
            HighOrderBurst(order=o["order"], count=o["count"], interval=o["interval"],
                           lifetime=None, gfp=o["gfp"], kind="anon", name="thp",
                           start=0.5)], {}


_BUILDERS: dict[str, Callable[[Node, dict[str, Any]], tuple[list, dict]]] = {
    "file-stream": _file_stream,
    "anon-swap": _anon_swap,
    "working-set": _working_set,
    "direct-reclaim": _direct_reclaim,
    "boost": _boost,
    "fragment": _fragment,
    "thp-burst": _thp_burst,
    "kcompactd-after-kswapd": _kcompactd_after_kswapd,
}


def register(name: str, description: str, knobs: dict[str, Any],
             builder: Callable[[Node, dict[str, Any]], tuple[list, dict]]) -> None:
    """Add a scenario (used by the compaction scenarios)."""
    NAMES[name] = description
    KNOBS[name] = dict(knobs)
    _BUILDERS[name] = builder


def build(name: str, mem: int | str = "1GiB", seed: int = 0, sysctl: Sysctl | None = None,
          **overrides: Any) -> Simulation:
    """A ready :class:`Simulation` of scenario ``name``.

    ``overrides`` are the scenario's knobs (see ``KNOBS[name]``) and the
    Simulation's own options (``cost``, ``sample_interval``, ``trace``,
    ``swap``, ``check_invariants``).
    """
    if name not in _BUILDERS:
        raise ValueError(f"scenario: unknown name {name!r}; allowed {', '.join(NAMES)}")
    sim_keys = {"cost", "sample_interval", "trace", "swap", "check_invariants", "daemons",
                "sample_buddyinfo"}
    knobs = dict(KNOBS[name])
    sim_opts: dict[str, Any] = {}
    for k, v in overrides.items():
        if k in knobs:
            knobs[k] = v
        elif k in sim_keys:
            sim_opts[k] = v
        else:
            allowed = ", ".join([*KNOBS[name], *sorted(sim_keys)])
            raise ValueError(f"{name}: unknown setting {k!r}; allowed {allowed}")
    node = Node.build(mem=mem, sysctl=sysctl)
    workloads, extra = _BUILDERS[name](node, knobs)
    for k, v in extra.items():
        sim_opts.setdefault(k, v)
    return Simulation(node, workloads, seed=seed, **sim_opts)


__all__ = ["KNOBS", "NAMES", "HighOrderBurst", "build", "register"]
