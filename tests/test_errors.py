"""Bad input gives a ValueError that names the field, the value and what is allowed,
and leaves the node exactly as it was."""

from __future__ import annotations

import re

import numpy as np
import pytest

from mmsim import Node, Sysctl
from mmsim.mm import page_alloc as pa
from mmsim.mm import vmstat
from mmsim.mm.debug import check_node
from mmsim.mm.mmzone import FRAME_FREE


def snapshot(node) -> tuple:
    return (
        node.state.tobytes(), node.head_order.tobytes(), node.buddy_order.tobytes(),
        node.pageblock_mt.tobytes(),
        tuple((z.nr_free_pages, tuple(z.nr_state), tuple(z._nr_free), z.watermark_boost,
               z.flags, tuple(tuple(lst) for p in z.pageset for lst in p.lists))
              for z in node.zones),
        tuple(node.machine.vm_events.values()),
    )


def raises(fn, *fragments: str, node=None):
    """Call ``fn``; it must raise ValueError whose message holds every fragment.

    With ``node``, the node must be unchanged (and consistent) afterwards.
    """
    before = snapshot(node) if node is not None else None
    with pytest.raises(ValueError) as ei:
        fn()
    msg = str(ei.value)
    for f in fragments:
        assert f in msg, f"{f!r} not in {msg!r}"
    if node is not None:
        assert snapshot(node) == before
        check_node(node)
    return msg


@pytest.fixture(params=[True, False], ids=["pcp", "nopcp"])
def node(request):
    return Node.build(zones={"DMA": 1024, "DMA32": 4096, "Normal": 4096}, pcp=request.param)


ZONES_ALLOWED = "allowed DMA, DMA32, Normal, Movable, Device"


# --------------------------------------------------------------------------
# building nodes
# --------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["HighMem", "normal", "", "ZONE_NORMAL"])
def test_unknown_zone_name(name):
    raises(lambda: Node.build(zones={name: 1024}), "zones", repr(name), ZONES_ALLOWED)


def test_unknown_zone_lookup(node):
    raises(lambda: node.zone("Highmem"), "zone", "'Highmem'", ZONES_ALLOWED, node=node)


@pytest.mark.parametrize(("size", "fragments"), [
    (-1, ["zones['Normal']", "-1", "negative", ">= 0"]),
    ("-4MiB", ["zones['Normal']", "'-4MiB'", "negative", ">= 0"]),
    ("1000B", ["zones['Normal']", "'1000B'", "multiple of the 4 KiB page size"]),
    ("6KiB", ["zones['Normal']", "'6KiB'", "multiple of the 4 KiB page size"]),
    ("1.5", ["zones['Normal']", "'1.5'", "whole number of pages"]),
    (1.5, ["zones['Normal']", "1.5", "pages (int)", "'16MiB'"]),
    (True, ["zones['Normal']", "True", "pages (int)"]),
    ("12 parsecs", ["zones['Normal']", "'parsecs'", "KiB, MiB, GiB"]),
    ("lots", ["zones['Normal']", "'lots'", "'16MiB'"]),
])
def test_bad_zone_sizes(size, fragments):
    raises(lambda: Node.build(zones={"Normal": size}), *fragments)


@pytest.mark.parametrize(("mem", "fragments"), [
    ("-8GiB", ["mem", "'-8GiB'", ">= 0"]),
    ("1GiB+1", ["mem", "'1GiB+1'"]),
    ("3000B", ["mem", "'3000B'", "multiple of the 4 KiB page size"]),
    ("32MiB", ["mem", "32 MiB", ">= 64MiB"]),
    (1000, ["mem", "1000 pages", ">= 64MiB"]),
])
def test_bad_mem(mem, fragments):
    raises(lambda: Node.build(mem=mem), *fragments)


def test_zone_layout_errors():
    raises(lambda: Node.build(zones={"Normal": 0}), "zones", "every zone is empty", "> 0")
    raises(lambda: Node.build(zones={"Normal": 1024, "Device": 512}), "zones['Device']",
           "allowed size 0")
    raises(lambda: Node.build(zones=[("Normal", 1024)]), "zones", "dict", "list")


def test_build_needs_exactly_one_of_zones_and_mem():
    raises(lambda: Node.build(), "zones", "mem", "exactly one")
    raises(lambda: Node.build(zones={"Normal": 1024}, mem="1GiB"), "zones", "mem",
           "exactly one")


@pytest.mark.parametrize("nr_cpus", [0, -1, 1025, 1.0, "2"])
def test_bad_nr_cpus(nr_cpus):
    raises(lambda: Node.build(zones={"Normal": 1024}, nr_cpus=nr_cpus), "nr_cpus",
           str(nr_cpus), "1..1024")


def test_bad_sysctl_argument():
    raises(lambda: Node.build(zones={"Normal": 1024}, sysctl={"swappiness": 10}), "sysctl",
           "Sysctl", "dict")


# --------------------------------------------------------------------------
# orders, pfns, cpus, kinds, gfp
# --------------------------------------------------------------------------
BAD_ORDERS = [11, -1, 1.5, "3", None, True]


def _value_text(v):
    return repr(v) if isinstance(v, str) else str(v)


@pytest.mark.parametrize("order", BAD_ORDERS)
def test_bad_order_alloc(node, order):
    raises(lambda: node.alloc_pages(order), "order", _value_text(order), "0..10", node=node)


@pytest.mark.parametrize("order", BAD_ORDERS)
def test_bad_order_free(node, order):
    p = node.alloc_pages(2)
    raises(lambda: node.free_pages(p, order), "order", _value_text(order), "0..10", node=node)


@pytest.mark.parametrize("order", BAD_ORDERS)
def test_bad_order_elsewhere(node, order):
    z = node.zone("Normal")
    for fn in (lambda: pa.zone_watermark_ok(z, order, 0, 2),
               lambda: vmstat.fragmentation_index(z, order),
               lambda: vmstat.unusable_free_index(z, order)):
        raises(fn, "order", _value_text(order), "0..10", node=node)


def test_numpy_order_and_pfn_are_accepted(node):
    p = node.alloc_pages(np.int64(2), "GFP_KERNEL")
    assert p is not None and node.head_order[p] == 2
    node.free_pages(np.int64(p), np.int64(2))
    pa.drain_all_pages(node)
    check_node(node)


def test_free_not_a_head(node):
    p = node.alloc_pages(2, "GFP_KERNEL")
    free_pfn = next(q for q in range(node.node_spanned_pages) if node.state[q] == FRAME_FREE)
    # a tail page of an allocated block, a free page
    raises(lambda: node.free_pages(p + 1, 0), "pfn", str(p + 1), "not the head of an allocated "
           "block", "frame is kernel", node=node)
    raises(lambda: node.free_pages(free_pfn, 0), "pfn", str(free_pfn), "frame is free",
           node=node)


def test_free_with_wrong_order(node):
    p = node.alloc_pages(2, "GFP_HIGHUSER_MOVABLE")
    for wrong in (0, 1, 3, 10):
        raises(lambda wrong=wrong: node.free_pages(p, wrong), "order", f"pfn {p}",
               "order 2", f"not {wrong}", "order=2", node=node)
    node.free_pages(p, 2)
    check_node(node)


@pytest.mark.parametrize("pcp", [True, False])
@pytest.mark.parametrize("order", [0, 3])
def test_double_free(pcp, order):
    # Normal 16384 pages: pcp high 18, so a freed order-0 page stays on the pcp list
    node = Node.build(zones={"Normal": 16384}, pcp=pcp)
    p = node.alloc_pages(order, "GFP_HIGHUSER_MOVABLE")
    node.free_pages(p, order)
    state = "pcp" if pcp and order == 0 else "free"
    raises(lambda: node.free_pages(p, order), "pfn", str(p), "not the head of an allocated "
           "block", f"frame is {state}", node=node)


@pytest.mark.parametrize("pfn", [-1, 9216, 10**9, 1.0, "5", None])
def test_free_bad_pfn(node, pfn):
    raises(lambda: node.free_pages(pfn), "pfn", _value_text(pfn), "0..9215", node=node)


def test_free_a_hole():
    node = Node.build(mem="64MiB")
    assert node.node_start_pfn == 0 and node.zone_id[0] == 0xFF  # pfn 0 is firmware's
    raises(lambda: node.free_pages(0), "pfn", "0", "frame is hole", node=node)
    raises(lambda: node.page_zone(0), "pfn", "0", "hole", node=node)


@pytest.mark.parametrize("cpu", [2, -1, 1.0, "0", True])
def test_bad_cpu(node, cpu):
    raises(lambda: node.alloc_pages(0, cpu=cpu), "cpu", _value_text(cpu), "0..1", node=node)
    p = node.alloc_pages(0)
    raises(lambda: node.free_pages(p, cpu=cpu), "cpu", _value_text(cpu), "0..1", node=node)


@pytest.mark.parametrize(("kind", "fragments"), [
    ("heap", ["kind", "'heap'", "allowed", "'anon'", "'file'", "'kernel'", "'slab'"]),
    (0, ["kind", "0", "allowed anon, file, kernel, slab"]),
    (7, ["kind", "7", "allowed anon, file, kernel, slab"]),
])
def test_bad_kind(node, kind, fragments):
    raises(lambda: node.alloc_pages(0, kind=kind), *fragments, node=node)
    raises(lambda: pa.alloc_pages_bulk(node, 10, kind=kind), *fragments, node=node)


@pytest.mark.parametrize(("gfp", "fragments"), [
    ("GFP_NOPE", ["gfp", "'GFP_NOPE'", "known: GFP_"]),
    ("GFP_KERNEL|__GFP_BOGUS", ["gfp", "'__GFP_BOGUS'", "known: GFP_"]),
    ("gfp_kernel", ["gfp", "'gfp_kernel'", "known: GFP_"]),
    (1 << 23, ["gfp", "0x800000", "23 gfp bits"]),
    (-1, ["gfp", "-0x1", "23 gfp bits"]),
    (1.5, ["gfp", "1.5", "int or 'GFP_KERNEL|...'"]),
    (["GFP_KERNEL"], ["gfp", "['GFP_KERNEL']", "int or 'GFP_KERNEL|...'"]),
])
def test_bad_gfp(node, gfp, fragments):
    raises(lambda: node.alloc_pages(0, gfp), *fragments, node=node)
    raises(lambda: pa.alloc_pages_bulk(node, 10, gfp), *fragments, node=node)


def test_gfp_text_forms_are_accepted(node):
    for text in ("GFP_KERNEL", "GFP_KERNEL|__GFP_NOWARN", " GFP_HIGHUSER_MOVABLE | __GFP_COMP ",
                 "GFP_NOWAIT|__GFP_RECLAIMABLE"):
        assert node.alloc_pages(0, text) is not None


def test_bad_classzone(node):
    z = node.zone("Normal")
    for cz in (5, -1, "2"):
        raises(lambda cz=cz: pa.zone_watermark_ok(z, 0, 0, cz), "classzone_idx",
               _value_text(cz), "0..4", node=node)


# --------------------------------------------------------------------------
# bulk paths
# --------------------------------------------------------------------------
def test_bulk_alloc_bad_count(node):
    for n in (-1, 1.5, "10"):
        raises(lambda n=n: pa.alloc_pages_bulk(node, n), "nr_pages", _value_text(n), "0..",
               node=node)


def test_bulk_free_errors(node):
    pfns = pa.alloc_pages_bulk(node, 8, "GFP_KERNEL")
    big = node.alloc_pages(3, "GFP_KERNEL")
    free_pfn = next(q for q in range(node.node_spanned_pages) if node.state[q] == FRAME_FREE)
    raises(lambda: pa.free_pages_bulk(node, [pfns[0], pfns[1], pfns[0]]), "pfns",
           str(pfns[0]), "listed twice", node=node)
    raises(lambda: pa.free_pages_bulk(node, [pfns[0], big]), "pfns", str(big),
           "not an allocated order-0 page", node=node)
    raises(lambda: pa.free_pages_bulk(node, [free_pfn]), "pfns", str(free_pfn),
           "not an allocated order-0 page", node=node)
    raises(lambda: pa.free_pages_bulk(node, [pfns[0], 10**6]), "pfns", str(10**6),
           "outside node", node=node)
    raises(lambda: pa.free_pages_bulk(node, [[pfns[0]]]), "pfns", "1-d", node=node)
    pa.free_pages_bulk(node, pfns)
    check_node(node)


# --------------------------------------------------------------------------
# sysctl values (ranges in detail: test_sysctl.py)
# --------------------------------------------------------------------------
@pytest.mark.parametrize(("field", "value", "allowed"), [
    ("min_free_kbytes", -1, "0..2147483647"),
    ("min_free_kbytes", "lots", "0..2147483647"),
    ("watermark_scale_factor", 0, "1..1000"),
    ("watermark_scale_factor", 1001, "1..1000"),
    ("watermark_scale_factor", 2.5, "1..1000"),
    ("watermark_boost_factor", -1, "0..2147483647"),
    ("extfrag_threshold", 1001, "0..1000"),
    ("swappiness", "101", "0..100"),
    ("swappiness", True, "0..100"),
    ("transparent_hugepage", "yes", "always, madvise, never"),
    ("lowmem_reserve_ratio", [256, 256, "x"], "-2147483648..2147483647"),
    ("lowmem_reserve_ratio", [1, 2, 3, 4, 5, 6], "1..5"),
    ("lowmem_reserve_ratio", {"HighMem": 1}, ZONES_ALLOWED),
])
def test_bad_sysctl_values(node, field, value, allowed):
    raises(lambda: Sysctl(**{field: value}), field, allowed)
    msg = raises(lambda: setattr(node.sysctl, field, value), field, allowed, node=node)
    assert re.search(r"\d|'|True", msg)  # the value is shown


def test_vmstat_threshold_errors_do_not_exist_for_good_input(node):
    # sanity: the functions used above accept good input
    z = node.zone("Normal")
    assert vmstat.fragmentation_index(z, 10) == -1000
    assert pa.zone_watermark_ok(z, 0, 0, 2) is True
