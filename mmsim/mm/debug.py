"""Consistency checks of the buddy state, in the spirit of ``CONFIG_DEBUG_VM``.

The kernel sprinkles ``VM_BUG_ON`` checks over the allocator; mmsim gathers the
invariants that must hold between any two allocator operations into one
function that tests (and curious learners) can call at any time:

* **conservation** - every frame of a zone is exactly one of free (in a buddy
  block), on a per-cpu list, allocated, reserved or a hole; managed pages are
  the frames that are not reserved or holes;
* **free blocks** - each block on ``free_area[o].free_list[mt]`` is aligned to
  ``2**o``, lies inside one zone, has all its frames free and carries the
  "buddy of order o" marker; list lengths match ``nr_free`` and the per-list
  counts; no other frame carries the marker;
* **merged** - no free block of order o < 10 has a free buddy of the same
  order in the same zone (except across an Isolate pageblock boundary);
* **counters** - ``NR_FREE_PAGES`` and ``NR_FREE_CMA_PAGES`` equal the pages on
  the lists; per-cpu counts match their lists; per-state counts match the map;
* **allocated blocks** - every allocated frame is covered by exactly one
  allocated head block, and no free frame is.

Kernel source: the ``VM_BUG_ON_PAGE`` checks of mm/page_alloc.c and
``check_new_page``/``free_pages_check``; https://elixir.bootlin.com/linux/v5.0/ident/bad_page
"""

from __future__ import annotations

import numpy as np

from mmsim.mm.mmzone import (
    FRAME_FREE,
    FRAME_HOLE,
    FRAME_PCP,
    FRAME_RESERVED,
    MAX_ORDER,
    MIGRATE_CMA,
    MIGRATE_ISOLATE,
    MIGRATE_TYPES,
    NOT_BUDDY,
    Node,
    Zone,
    frame_state_names,
    pageblock_order,
)


class InvariantError(AssertionError):
    """Raised by :func:`check_node` with a description of the first violation."""


def _fail(zone: Zone, msg: str) -> None:
    raise InvariantError(f"zone {zone.name}: {msg}")


def check_zone(zone: Zone) -> None:
    """Check every invariant of one zone; raise :class:`InvariantError` if one fails."""
    node = zone.node
    base = node.node_start_pfn
    lo = zone.zone_start_pfn - base
    hi = lo + zone.spanned_pages
    if not zone.spanned_pages:
        if any(zone._nr_free) or zone.nr_free_pages:
            _fail(zone, "empty zone has free pages")
        return
    states = node.state[lo:hi]
    if (node.zone_id[lo:hi] != zone.idx).any():
        _fail(zone, "a frame of the zone's span is owned by another zone")
    counts = np.bincount(states, minlength=len(frame_state_names))
    if [int(c) for c in counts] != list(zone.nr_state):
        _fail(zone, f"per-state counts {zone.nr_state} != frame map {counts.tolist()}")
    managed = zone.spanned_pages - int(counts[FRAME_HOLE]) - int(counts[FRAME_RESERVED])
    if managed != zone.managed_pages:
        _fail(zone, f"managed_pages {zone.managed_pages} != non-reserved frames {managed}")

    # ---- free lists ----------------------------------------------------------
    covered = np.zeros(zone.spanned_pages, dtype=np.int32)
    n_blocks = 0
    free_pages = cma_pages = isolate_pages = 0
    bo = node._buddy_order
    bmt = node._buddy_mt
    for order in range(MAX_ORDER):
        total = 0
        for mt in range(MIGRATE_TYPES):
            n = 0
            prev = -1
            for pfn in zone.iter_free_list(order, mt):
                i = pfn - base
                if node._prv[i] != prev:
                    _fail(zone, f"broken back link at pfn {pfn} on list order {order} mt {mt}")
                prev = pfn
                n += 1
                if pfn % (1 << order):
                    _fail(zone, f"free block at pfn {pfn} is not aligned to order {order}")
                if not zone.zone_spans_pfn(pfn) or not zone.zone_spans_pfn(pfn + (1 << order) - 1):
                    _fail(zone, f"free block at pfn {pfn} order {order} leaves the zone")
                if bo[i] != order or bmt[i] != mt:
                    _fail(zone, f"pfn {pfn} on list (order {order}, mt {mt}) is marked "
                                f"(order {bo[i]}, mt {bmt[i]})")
                covered[i - lo:i - lo + (1 << order)] += 1
                if mt == MIGRATE_ISOLATE:
                    isolate_pages += 1 << order
                else:
                    free_pages += 1 << order
                if mt == MIGRATE_CMA:
                    cma_pages += 1 << order
                if n > zone.spanned_pages:
                    _fail(zone, f"free list order {order} mt {mt} loops")
            if zone._tail[(order << 3) | mt] != prev and not (n == 0 and prev == -1):
                _fail(zone, f"tail of list order {order} mt {mt} is wrong")
            if n != zone._nr_list[(order << 3) | mt]:
                _fail(zone, f"list order {order} mt {mt} has {n} blocks, count says "
                            f"{zone._nr_list[(order << 3) | mt]}")
            total += n
        if total != zone._nr_free[order]:
            _fail(zone, f"free_area[{order}].nr_free {zone._nr_free[order]} != {total} listed")
        n_blocks += total
    marked = int(np.count_nonzero(node.buddy_order[lo:hi] != NOT_BUDDY))
    if marked != n_blocks:
        _fail(zone, f"{marked} frames carry a buddy marker but {n_blocks} blocks are listed")
    is_free = states == FRAME_FREE
    if (covered > 1).any():
        _fail(zone, f"pfn {int(np.flatnonzero(covered > 1)[0]) + zone.zone_start_pfn} is in "
                    "two free blocks")
    if (is_free != (covered == 1)).any():
        bad = int(np.flatnonzero(is_free != (covered == 1))[0])
        _fail(zone, f"pfn {bad + zone.zone_start_pfn} is {frame_state_names[states[bad]]} but "
                    f"{'in' if covered[bad] else 'not in'} a free block")
    if free_pages != zone.nr_free_pages:
        _fail(zone, f"NR_FREE_PAGES {zone.nr_free_pages} != {free_pages} pages on the lists")
    if cma_pages != zone.nr_free_cma:
        _fail(zone, f"NR_FREE_CMA_PAGES {zone.nr_free_cma} != {cma_pages} on the CMA lists")

    # ---- merged ----------------------------------------------------------------
    heads = np.flatnonzero(node.buddy_order[lo:hi] != NOT_BUDDY) + lo
    orders = node.buddy_order[heads].astype(np.int64)
    pfns = heads + base
    low = orders < MAX_ORDER - 1
    bud = pfns[low] ^ (np.int64(1) << orders[low])
    inz = (bud >= zone.zone_start_pfn) & (bud < zone.zone_end_pfn)
    bidx = np.where(inz, bud - base, 0)
    unmerged = inz & (node.buddy_order[bidx] == orders[low])
    if unmerged.any():
        for p, o in zip(pfns[low][unmerged].tolist(), orders[low][unmerged].tolist()):
            b = p ^ (1 << o)
            if o >= pageblock_order:
                mts = (node.get_pageblock_migratetype(p), node.get_pageblock_migratetype(b))
                if MIGRATE_ISOLATE in mts and mts[0] != mts[1]:
                    continue
            _fail(zone, f"free blocks at pfn {p} and {b} (order {o}) are buddies but not merged")

    # ---- per-cpu lists -----------------------------------------------------------
    pcp_total = 0
    for cpu, pcp in enumerate(zone.pageset):
        n = sum(len(lst) for lst in pcp.lists)
        if n != pcp.count:
            _fail(zone, f"cpu {cpu} pcp count {pcp.count} != {n} pages on its lists")
        for lst in pcp.lists:
            for pfn in lst:
                if node._state[pfn - base] != FRAME_PCP:
                    _fail(zone, f"pfn {pfn} is on a pcp list but its frame is "
                                f"{frame_state_names[node._state[pfn - base]]}")
        pcp_total += n
    if pcp_total != int(counts[FRAME_PCP]):
        _fail(zone, f"{int(counts[FRAME_PCP])} frames marked pcp but {pcp_total} on pcp lists")

    # ---- allocated blocks ------------------------------------------------------------
    ah = np.flatnonzero(node.head_order[lo:hi] != NOT_BUDDY)
    cov = np.zeros(zone.spanned_pages + 1, dtype=np.int64)
    if ah.size:
        sizes = np.int64(1) << node.head_order[ah + lo].astype(np.int64)
        if ((ah + zone.zone_start_pfn) % sizes).any():
            _fail(zone, "an allocated block is not aligned to its order")
        np.add.at(cov, ah, 1)
        np.add.at(cov, np.minimum(ah + sizes, zone.spanned_pages), -1)
    cov = np.cumsum(cov[:-1])
    allocated = ~np.isin(states, (FRAME_FREE, FRAME_PCP, FRAME_RESERVED, FRAME_HOLE))
    if (cov != allocated.astype(np.int64)).any():
        bad = int(np.flatnonzero(cov != allocated.astype(np.int64))[0])
        _fail(zone, f"pfn {bad + zone.zone_start_pfn} ({frame_state_names[states[bad]]}) is "
                    f"covered by {int(cov[bad])} allocated blocks")
    if ah.size:
        for h in ah.tolist():
            o = node._head_order[h + lo]
            blk = states[h:h + (1 << o)]
            if (blk != blk[0]).any():
                _fail(zone, f"allocated block at pfn {h + zone.zone_start_pfn} mixes states")


def check_node(node: Node) -> None:
    """Check every zone of ``node`` (see the module docstring for the list).

    Examples
    --------
    >>> from mmsim import Node
    >>> node = Node.build(mem="256MiB")
    >>> p = node.alloc_pages(2)
    >>> check_node(node)
    >>> node._buddy_order[p - node.node_start_pfn] = 2   # corrupt: mark it free
    >>> check_node(node)
    Traceback (most recent call last):
    ...
    mmsim.mm.debug.InvariantError: zone DMA32: 59 frames carry a buddy marker but 58 blocks ...
    """
    outside = node.zone_id == 0xFF
    if (node.state[outside] != FRAME_HOLE).any():
        raise InvariantError("a frame outside every zone is not a hole")
    for zone in node.zones:
        check_zone(zone)
