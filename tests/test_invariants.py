"""Random allocator workloads keep every buddy invariant.

A hypothesis state machine drives a small multi-zone node (zone edges not
aligned to 1024 pages, or a firmware-style layout with holes and reserved
pages) through random single and bulk allocations and frees of every order
and migratetype - GFP_ATOMIC with ALLOC_HARDER for the high-atomic reserve,
ALLOC_NO_WATERMARKS so memory runs deep - drains, and sysctl writes, with per-cpu
lists on and off. After every step it runs ``check_node`` and checks, per zone:

* pages are conserved: free (buddy) + pcp + allocated (tracked here) + reserved
  + hole = spanned;
* ``NR_FREE_PAGES`` is the sum over ``free_area``;
* the allocated blocks the node knows (``head_order``) are exactly the ones
  this test holds;
* no ``ZONE_BOOSTED_WATERMARK`` flag outlives an allocator call (rmqueue
  clears it and wakes kswapd with ``(zone, 0, 0, zone_idx)``);
* boosts and the high-atomic reserve stay inside their caps.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from mmsim import Node
from mmsim.mm import gfp as G
from mmsim.mm import page_alloc as pa
from mmsim.mm.debug import check_node
from mmsim.mm.mmzone import (
    FRAME_HOLE,
    FRAME_RESERVED,
    MAX_ORDER,
    NOT_BUDDY,
    WMARK_HIGH,
    ZONE_BOOSTED_WATERMARK,
)

LAYOUTS = [
    {"zones": {"DMA": 1324, "DMA32": 2565, "Normal": 3077}},
    {"zones": {"DMA32": 2999, "Normal": 1501, "Movable": 1100}},
    {"zones": {"Normal": 2048 + 777}},
    {"mem": "64MiB"},  # x86_64 layout: pfn 0 and 640K-1M are holes, firmware/kernel reserved
]
GFPS = ["GFP_KERNEL", "GFP_HIGHUSER_MOVABLE", "GFP_KERNEL|__GFP_RECLAIMABLE", "GFP_ATOMIC",
        "GFP_DMA", "GFP_DMA32", "GFP_NOWAIT", "GFP_USER", "GFP_TRANSHUGE_LIGHT",
        "GFP_NOWAIT|__GFP_RECLAIMABLE"]
ATOMIC = pa.ALLOC_WMARK_MIN | pa.ALLOC_HARDER | pa.ALLOC_HIGH | pa.ALLOC_KSWAPD
FLAGS = [None, None, pa.ALLOC_NO_WATERMARKS, pa.ALLOC_NO_WATERMARKS, pa.ALLOC_WMARK_MIN,
         ATOMIC, pa.ALLOC_NO_WATERMARKS | pa.ALLOC_HARDER, pa.ALLOC_WMARK_HIGH]
KINDS = [None, "anon", "file", "kernel", "slab"]


class AllocatorMachine(RuleBasedStateMachine):
    PCP = True

    @initialize(layout=st.sampled_from(LAYOUTS), nr_cpus=st.integers(1, 3))
    def build(self, layout, nr_cpus):
        self.node = Node.build(**layout, pcp=self.PCP, nr_cpus=nr_cpus)
        self.nr_cpus = nr_cpus
        self.held: dict[int, int] = {}
        self.max_factor = self.node.sysctl.watermark_boost_factor
        self.wakeups: list[tuple] = []
        self.node.machine.hooks["wakeup_kswapd"] = lambda *a: self.wakeups.append(a)

    # ---- helpers ----------------------------------------------------------------
    def _take(self, pfn: int, order: int, gfp: str) -> None:
        assert pfn % (1 << order) == 0
        zone = self.node.page_zone(pfn)
        assert zone.idx <= G.gfp_zone(G.parse_gfp(gfp))
        assert self.node.page_zone(pfn + (1 << order) - 1) is zone
        assert pfn not in self.held
        self.held[pfn] = order

    # ---- rules ------------------------------------------------------------------
    @rule(order=st.integers(0, MAX_ORDER - 1), gfp=st.sampled_from(GFPS),
          flags=st.sampled_from(FLAGS), kind=st.sampled_from(KINDS), cpu=st.integers(0, 2))
    def alloc(self, order, gfp, flags, kind, cpu):
        p = self.node.alloc_pages(order, gfp, alloc_flags=flags, kind=kind,
                                  cpu=cpu % self.nr_cpus)
        if p is not None:
            self._take(p, order, gfp)

    @rule(order=st.integers(0, 3), gfp=st.sampled_from(GFPS), n=st.integers(1, 50))
    def alloc_many_small(self, order, gfp, n):
        for _ in range(n):
            p = self.node.alloc_pages(order, gfp, alloc_flags=pa.ALLOC_NO_WATERMARKS)
            if p is None:
                break
            self._take(p, order, gfp)

    @precondition(lambda self: self.held)
    @rule(data=st.data(), cpu=st.integers(0, 2))
    def free(self, data, cpu):
        pfn = data.draw(st.sampled_from(sorted(self.held)))
        order = self.held.pop(pfn)
        self.node.free_pages(pfn, order, cpu=cpu % self.nr_cpus)

    @precondition(lambda self: len(self.held) > 8)
    @rule(data=st.data())
    def free_many(self, data):
        pfns = sorted(self.held)
        start = data.draw(st.integers(0, len(pfns) - 1))
        for pfn in pfns[start:start + data.draw(st.integers(1, 200))]:
            self.node.free_pages(pfn, self.held.pop(pfn))

    @rule(n=st.one_of(st.integers(0, 64), st.integers(500, 4000)), gfp=st.sampled_from(GFPS),
          flags=st.sampled_from(FLAGS))
    def bulk_alloc(self, n, gfp, flags):
        pfns = pa.alloc_pages_bulk(self.node, n, gfp, alloc_flags=flags)
        assert len(pfns) <= n
        assert len(set(pfns.tolist())) == len(pfns)
        for p in pfns.tolist():
            self._take(p, 0, gfp)

    @precondition(lambda self: any(o == 0 for o in self.held.values()))
    @rule(data=st.data())
    def bulk_free(self, data):
        zero = sorted(p for p, o in self.held.items() if o == 0)
        k = data.draw(st.integers(1, len(zero)))
        start = data.draw(st.integers(0, len(zero) - k))
        step = data.draw(st.sampled_from([1, 2, 3]))
        chosen = zero[start:start + k * step:step]
        pa.free_pages_bulk(self.node, chosen)
        for p in chosen:
            del self.held[p]

    @rule(whole=st.booleans(), zi=st.integers(0, 4))
    def drain(self, whole, zi):
        pa.drain_all_pages(self.node, None if whole else self.node.zones[zi])
        if whole:
            for z in self.node.zones:
                assert all(p.count == 0 for p in z.pageset)

    @rule(factor=st.sampled_from([0, 1, 5000, 15000, 30000]))
    def set_boost_factor(self, factor):
        before = [(list(z._watermark), z.watermark_boost) for z in self.node.zones]
        self.node.sysctl.watermark_boost_factor = factor
        self.max_factor = max(self.max_factor, factor)
        assert [(list(z._watermark), z.watermark_boost) for z in self.node.zones] == before

    @rule(wsf=st.sampled_from([1, 10, 200, 1000]))
    def set_scale_factor(self, wsf):
        self.node.sysctl.watermark_scale_factor = wsf
        assert all(z.watermark_boost == 0 for z in self.node.zones)

    # ---- invariants -------------------------------------------------------------
    @invariant()
    def consistent(self):
        node = self.node
        check_node(node)
        base = node.node_start_pfn
        held_by_zone = [0] * len(node.zones)
        for p, o in self.held.items():
            held_by_zone[node.zone_id[p - base]] += 1 << o
        for z in node.zones:
            lo = z.zone_start_pfn - base
            st_ = node.state[lo:lo + z.spanned_pages]
            free = sum(n << o for o, n in enumerate(z.nr_free_by_order()))
            pcp = sum(p.count for p in z.pageset)
            reserved = int(np.count_nonzero(st_ == FRAME_RESERVED))
            hole = int(np.count_nonzero(st_ == FRAME_HOLE))
            assert free + pcp + held_by_zone[z.idx] + reserved + hole == z.spanned_pages, z.name
            assert z.nr_free_pages == free, z.name  # no Isolate pageblocks here
            assert z.managed_pages == z.spanned_pages - reserved - hole
            assert z.flags & ZONE_BOOSTED_WATERMARK == 0, z.name
            cap = max(512, pa.mult_frac(z._watermark[WMARK_HIGH], self.max_factor, 10000))
            assert 0 <= z.watermark_boost <= cap, z.name
            assert z.nr_reserved_highatomic % 512 == 0
            assert z.nr_reserved_highatomic < z.managed_pages // 100 + 2 * 512
        heads = np.flatnonzero(node.head_order != NOT_BUDDY)
        assert {int(h) + base: int(node.head_order[h]) for h in heads} == self.held
        for zone, gfp_flags, order, cz in self.wakeups:
            assert (gfp_flags, order, cz) == (0, 0, zone.idx)
        self.wakeups.clear()


class AllocatorMachineNoPcp(AllocatorMachine):
    PCP = False


_settings = settings(max_examples=50, stateful_step_count=50, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow,
                                            HealthCheck.filter_too_much])

TestAllocatorWithPcp = AllocatorMachine.TestCase
TestAllocatorWithPcp.settings = _settings
TestAllocatorWithoutPcp = AllocatorMachineNoPcp.TestCase
TestAllocatorWithoutPcp.settings = _settings


def test_state_machine_reaches_deep_memory():
    """A fixed run of the machine's own steps: memory goes below min and comes back."""
    m = AllocatorMachine()
    m.build(layout=LAYOUTS[0], nr_cpus=2)
    m.bulk_alloc(n=6900, gfp="GFP_HIGHUSER_MOVABLE", flags=pa.ALLOC_NO_WATERMARKS)
    m.alloc_many_small(order=0, gfp="GFP_KERNEL", n=50)
    m.consistent()
    assert sum(z.nr_free_pages for z in m.node.zones) < \
        sum(z.min_wmark_pages for z in m.node.zones)
    m.alloc(order=3, gfp="GFP_ATOMIC", flags=ATOMIC, kind=None, cpu=1)
    while m.held:
        m.free_many(FixedData(0, 200))
        m.consistent()
    m.drain(whole=True, zi=0)
    m.consistent()
    assert sum(zz.nr_free_pages for zz in m.node.zones) == \
        sum(zz.managed_pages for zz in m.node.zones)
    m.teardown()


class FixedData:
    """A stand-in for hypothesis' data object in the fixed run."""

    def __init__(self, *values):
        self.values = list(values)

    def draw(self, _strategy):
        return self.values.pop(0)
