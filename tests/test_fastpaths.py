"""The engine's fast paths leave exactly the state their readable twins leave.

``benchmarks/fastpath_check.py`` builds random machine states and applies
each fast path and the readable kernel-shaped code it stands for to two
copies; here it runs a few dozen cases per check so that CI catches a fast
path that drifts. A hand-checked case of ``free_order0_pages`` comes first.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from mmsim import Node
from mmsim.mm import page_alloc as pa
from mmsim.mm.debug import check_node
from mmsim.mm.mmzone import FRAME_PCP

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import fastpath_check


def _node_with(n: int) -> tuple[Node, list[int]]:
    """A one-CPU 64 MiB node (pcp high 18, batch 3) and ``n`` order-0 Movable pages."""
    node = Node.build(zones={"Normal": "64MiB"}, nr_cpus=1)
    pages = [node.alloc_pages(0, "GFP_HIGHUSER_MOVABLE") for _ in range(n)]
    return node, pages


def test_free_order0_pages_by_hand() -> None:
    # 20 frees: the 18th fills the per-cpu list to high (18), so free_pcppages_bulk
    # returns batch = 3 pages from the list's tail - the three oldest, pages[0..2] - to
    # the buddy; the last two frees bring the list back to 17, newest at the head
    node, pages = _node_with(20)
    pcp = node.zone("Normal").pageset[0]
    assert (pcp.high, pcp.batch) == (18, 3)
    pa.drain_all_pages(node)  # the allocations' refill leaves pages on the list
    freed_at_boot = node.machine.vm_events["pgfree"]
    pa.free_order0_pages(node, pages, 0)
    assert pcp.count == 17
    assert list(pcp.lists[pa.MIGRATE_MOVABLE]) == pages[3:][::-1]
    base = node.node_start_pfn
    assert [node._state[p - base] for p in pages[:3]] == [pa.FRAME_FREE] * 3
    assert [node._state[p - base] for p in pages[3:]] == [FRAME_PCP] * 17
    assert node.machine.vm_events["pgfree"] - freed_at_boot == 20
    check_node(node)


def test_free_order0_pages_is_free_pages_one_by_one() -> None:
    a, pages = _node_with(50)
    b, _ = _node_with(50)
    pa.free_order0_pages(a, pages, 0)
    for p in pages:
        pa.free_pages(b, p, 0, cpu=0)
    snap = fastpath_check.snapshot
    assert not fastpath_check.diff(snap(a), snap(b))


def test_free_order0_pages_bad_pfn_names_it() -> None:
    node, pages = _node_with(4)
    freed_at_boot = node.machine.vm_events["pgfree"]
    with pytest.raises(ValueError, match=f"pfn: {pages[0]} is not the head"):
        pa.free_order0_pages(node, [pages[0], pages[1], pages[0]], 0)
    # as free_pages one by one: the two pages before the repeat were freed
    assert node.machine.vm_events["pgfree"] - freed_at_boot == 2


@pytest.mark.parametrize("check", sorted(fastpath_check.CHECKS))
@pytest.mark.parametrize("side", ["compiled", "python"])
def test_fast_path_matches_readable_code(check: str, side: str) -> None:
    if side == "compiled" and pa._buddy is None:
        pytest.skip("mmsim.mm._buddy is not built (no C compiler at install time)")
    extra = ["--python"] if side == "python" else []
    assert fastpath_check.main(["--only", check, "--cases", "40", "--seed", "11", *extra]) == 0


def test_compiled_twins_built_when_required() -> None:
    # CI sets MMSIM_REQUIRE_COMPILED=1: there a silently skipped C build (the extension is
    # optional, so pip only warns) would leave the speed figures and these checks untested
    if os.environ.get("MMSIM_REQUIRE_COMPILED") != "1":
        pytest.skip("MMSIM_REQUIRE_COMPILED is not set")
    assert pa._buddy is not None, "mmsim.mm._buddy was not built: is a C compiler installed?"


# ---- the compiled twins on bad input: an error, named, and consistent lists ----------
needs_compiled = pytest.mark.skipif(pa._buddy is None, reason="mmsim.mm._buddy is not built")


def _fragmented_normal() -> tuple[Node, object, list[int]]:
    """A 64 MiB node whose Normal zone has order-0 free blocks between in-use pages."""
    node, pages = _node_with(64)
    pa.drain_all_pages(node)
    for p in pages[::2]:
        pa.free_pages(node, p, 0, cpu=0)
    pa.drain_all_pages(node)
    return node, node.zone("Normal"), pages


@needs_compiled
def test_compiled_free_runs_rejects_bad_input_before_changing_anything() -> None:
    node, zone, pages = _fragmented_normal()
    used = pages[1]
    base = node.node_start_pfn
    node._state[used - base] = pa.FRAME_FREE  # what the callers do before freeing
    before = fastpath_check.snapshot(node)
    with pytest.raises(ValueError, match=r"mts\[1\] = 9 is not a migratetype"):
        pa._buddy.free_runs(zone, [used, used], [used + 1, used + 1], [1, 9])
    with pytest.raises(ValueError, match="outside the zone"):
        pa._buddy.free_runs(zone, [used, zone.zone_start_pfn - 1],
                            [used + 1, zone.zone_start_pfn], None)
    assert not fastpath_check.diff(before, fastpath_check.snapshot(node))
    # an empty run frees nothing, as the Python loop's `while p < e` does
    assert pa._buddy.free_runs(zone, [used], [used], None) == (0, 0)
    assert not fastpath_check.diff(before, fastpath_check.snapshot(node))


@needs_compiled
def test_compiled_take_heads_error_leaves_the_lists_as_python_would() -> None:
    from mmsim.mm import compaction as C
    from mmsim.mm.gfp import GFP_KERNEL
    from mmsim.mm.mmzone import FRAME_ISOLATED

    node, zone, pages = _fragmented_normal()
    start = pages[0] & ~511
    heads = [p - start for p in pages[::2][:3]]
    outside = zone.zone_end_pfn + 5 - start
    a, b = fastpath_check.clone(node), fastpath_check.clone(node)
    za, zb = a.zone("Normal"), b.zone("Normal")
    with pytest.raises(ValueError, match="outside the zone"):
        pa._buddy.take_heads(za, start, [*heads, outside], 512, 100, 0, [], None,
                             FRAME_ISOLATED)
    # the Python loop on the heads before the bad one leaves the same arrays and lists
    cc = C.CompactControl(-1, GFP_KERNEL, C.MIGRATE_SYNC)
    cc.nr_migratepages = 100
    saved, pa._buddy = pa._buddy, None
    try:
        C._take_heads(cc, zb, start, heads, 512, [])
    finally:
        pa._buddy = saved
    # the Python loop subtracts the pages it took at its end; the C call raised first
    zb.nr_free_pages += len(heads)
    snap_a, snap_b = fastpath_check.snapshot(a), fastpath_check.snapshot(b)
    assert not fastpath_check.diff(snap_a, snap_b)
