"""Invariants at every event of every scenario, and runs that repeat byte for byte.

* Every named scenario runs about one simulated second on a 4 MiB node with
  ``check_invariants=True``: :func:`mmsim.mm.debug.check_node` (buddy lists,
  counters, frame states, allocated blocks) runs after *every* event of the
  event loop. The CPU cost model is scaled up 300x (a very slow CPU) so that a
  simulated second is a few hundred events - the code paths (reclaim, swap,
  direct reclaim, throttling, boosts, compaction) are the same, there are just
  fewer rounds of them.
* The same scenario and seed, run in two separate Python processes (with
  different hash seeds), must give byte-identical ``ftrace()`` text and
  identical vmstat CSV.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mmsim import Node, scenarios
from mmsim.cost import CostModel
from mmsim.mm.debug import check_node
from mmsim.simulation import Simulation

SLOW_CPU = CostModel().scaled(300)
ROOT = Path(__file__).resolve().parents[1]


def _scenario_sim(name: str, seed: int, size: str = "4MiB", **opts) -> Simulation:
    """Scenario ``name`` with its default knobs on a small Normal-only node.

    ``scenarios.build`` lays out at least 64 MiB the x86_64 way; the invariant
    checks need a small node, so the scenario's workload builder is used on one.
    """
    node = Node.build(zones={"Normal": size})
    workloads, extra = scenarios._BUILDERS[name](node, dict(scenarios.KNOBS[name]))
    return Simulation(node, workloads, seed=seed, **extra, **opts)


@pytest.mark.parametrize("name", list(scenarios.NAMES))
def test_invariants_hold_at_every_event(name):
    sim = _scenario_sim(name, seed=3, cost=SLOW_CPU, sample_interval=0.1,
                        check_invariants=True)
    events = [0]
    check = sim.sched.after_step
    assert check is not None  # check_invariants installs the per-event check

    def count_and_check():
        events[0] += 1
        check()

    sim.sched.after_step = count_and_check
    # late starters (boost: slab at 1.0 s, thp-burst: at 1.0 s) get 0.5 s of activity
    last_start = max((w.start for w in sim.workloads), default=0.0)
    res = sim.run(max(1.0, last_start + 0.5))
    assert events[0] > 50
    check_node(sim.node)
    # the runs did what the scenarios are for (not a silent no-op)
    v = res.vmstat.iloc[-1]
    assert v["pgalloc_normal"] > 0
    if name not in ("fragment", "thp-burst"):
        assert v["pgsteal_kswapd"] + v["pgsteal_direct"] > 0
    if name == "anon-swap":
        assert v["pswpout"] > 0


_CHILD = r"""
import sys
from mmsim import scenarios
sim = scenarios.build(sys.argv[1], mem="64MiB", seed=int(sys.argv[2]))
res = sim.run(float(sys.argv[3]))
out = sys.argv[4]
with open(out + ".trace", "w") as f:
    f.write(res.ftrace())
res.vmstat.to_csv(out + ".csv", index=False)
"""


def _run_child(tmp: Path, tag: str, hashseed: str, name: str, seed: int, secs: float) -> Path:
    env = dict(os.environ, PYTHONHASHSEED=hashseed)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    out = tmp / tag
    subprocess.run([sys.executable, "-c", _CHILD, name, str(seed), str(secs), str(out)],
                   check=True, env=env, cwd=tmp, timeout=300)
    return out


@pytest.mark.parametrize("name, seed, secs", [("anon-swap", 5, 0.6),
                                              ("kcompactd-after-kswapd", 11, 0.7)])
def test_same_scenario_and_seed_repeat_byte_for_byte_across_processes(tmp_path, name, seed,
                                                                     secs):
    a = _run_child(tmp_path, "a", "1", name, seed, secs)
    b = _run_child(tmp_path, "b", "12345", name, seed, secs)
    trace_a = Path(str(a) + ".trace").read_bytes()
    assert len(trace_a.splitlines()) > 100
    assert trace_a == Path(str(b) + ".trace").read_bytes()
    assert Path(str(a) + ".csv").read_bytes() == Path(str(b) + ".csv").read_bytes()


def test_a_different_seed_gives_a_different_run():
    """The seed matters (so the comparison above is not vacuous), and an in-process
    repeat gives the same run again."""
    def run(seed):
        res = _scenario_sim("anon-swap", seed=seed, size="8MiB", cost=SLOW_CPU).run(0.6)
        return res.ftrace(), res.vmstat.to_csv(index=False)

    first = run(1)
    assert first[0].count("\n") > 20
    other = run(2)
    assert other[0] != first[0] and other[1] != first[1]
    assert run(1) == first
