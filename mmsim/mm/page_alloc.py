"""The buddy allocator, per-cpu page lists and watermarks of Linux v5.0.

**Taking pages.** An allocation of ``2**order`` pages walks the zonelist from
the preferred (highest allowed) zone downwards and takes the first zone whose
free pages stay above the watermark the caller must respect (low on the fast
path) plus ``lowmem_reserve[classzone]``. Inside the zone, order-0 requests
are served from the CPU's per-cpu list for their migratetype, refilled in
``batch``-sized bulks; larger requests go to the buddy lists directly.
``__rmqueue_smallest`` takes the smallest free block of the right migratetype
that is large enough and ``expand`` splits it, putting each unused upper half
back on the lists one order down.

**Falling back.** When the requested migratetype has no block of any order,
``__rmqueue_fallback`` steals from another migratetype (in the order of the
``fallbacks`` table), taking the *largest* block available so that whole
pageblocks change owner rather than many pageblocks getting mixed. A steal
of a block smaller than a pageblock fragments memory; in v5.0 that also
*boosts* the zone's watermarks by a pageblock (``boost_watermark``), so that
kswapd reclaims a little extra and then kcompactd can rebuild free pageblocks.

**Giving pages back.** ``__free_one_page`` merges a freed block with its buddy
(the block at ``pfn ^ (1 << order)``) for as long as the buddy is free and of
the same order, then puts the result at the head of its free list - or at the
tail when the next-larger buddy is also free, so that the block is left alone
long enough to merge further.

**Watermarks.** ``min_free_kbytes`` is split among the zones in proportion to
their managed pages to form each zone's min watermark; low and high sit one
and two "distances" above it, the distance being a quarter of min or
``watermark_scale_factor`` ten-thousandths of the zone, whichever is larger.
``lowmem_reserve`` protects low zones from allocations that could have used a
higher one. ``__zone_watermark_ok`` is the test used everywhere: enough free
pages above the mark and, for order > 0, at least one free block of a
sufficient order on a list the caller may use.

Kernel source: mm/page_alloc.c (v5.0),
https://elixir.bootlin.com/linux/v5.0/source/mm/page_alloc.c - page_alloc.c
line numbers are not verified for v5.0, so functions are linked by identifier
(``https://elixir.bootlin.com/linux/v5.0/ident/<name>``).

Simplifications
---------------
* No ``struct page`` refcounts, compound-page metadata, page poisoning, guard
  pages, memory cgroups or cpusets; a block is identified by its head pfn and
  the order it was allocated with.
* Locks are not modelled (the simulator is single-threaded); per-cpu pages are
  per simulated CPU.
* ``zone_statistics`` NUMA counters are not kept (one node: all local).
* The slow path (direct reclaim and compaction, kswapd wake-ups) lives in
  ``mmsim.mm.slowpath``; this module is the fast path and the buddy core.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from mmsim.mm import gfp as G
from mmsim.mm.mmzone import (
    FRAME_ANON,
    FRAME_FILE,
    FRAME_FREE,
    FRAME_HOLE,
    FRAME_KERNEL,
    FRAME_PCP,
    FRAME_RESERVED,
    FRAME_SLAB,
    LRU_STATES,
    MAX_NR_ZONES,
    MAX_ORDER,
    MIGRATE_CMA,
    MIGRATE_HIGHATOMIC,
    MIGRATE_ISOLATE,
    MIGRATE_MOVABLE,
    MIGRATE_PCPTYPES,
    MIGRATE_RECLAIMABLE,
    MIGRATE_UNMOVABLE,
    NIL,
    NOT_BUDDY,
    WMARK_HIGH,
    WMARK_LOW,
    WMARK_MIN,
    ZONE_BOOSTED_WATERMARK,
    ZONE_NORMAL,
    Machine,
    Node,
    PerCpuPages,
    Zone,
    frame_state_names,
    migratetype_names,
    pageblock_nr_pages,
    pageblock_order,
    sorted_unique,
)
from mmsim.units import check_int

if TYPE_CHECKING:  # pragma: no cover
    pass

#: the fast paths beside the readable functions (same results; False runs the readable
#: code alone, as benchmarks/fastpath_check.py does for its reference)
_FAST_PATHS = True

try:  # the compiled twins of the hot loops (mmsim/mm/_buddy.c), when it was built
    from mmsim.mm import _buddy
except ImportError:  # pragma: no cover - no C compiler at install time
    _buddy = None
else:
    _buddy.configure(NIL, NOT_BUDDY, MIGRATE_ISOLATE, MIGRATE_CMA, MAX_ORDER, pageblock_order,
                     FRAME_FREE, FRAME_PCP, MIGRATE_PCPTYPES, MIGRATE_MOVABLE)

#: batches up to this many pages take the list-based fast paths (numpy calls on a few
#: dozen elements cost more than plain Python on them)
_SMALL_BATCH = 256
def _one_value(a: np.ndarray, v: int) -> bool:
    """``(a == v).all()`` for a uint8 array (frame states, zone ids).

    Fast path: one ``bytes.count`` instead of a comparison and a reduction.
    """
    if _FAST_PATHS and a.dtype == np.uint8:
        return a.tobytes().count(v) == a.size
    return bool((a == v).all())


#: runs of one byte value for bytearray slice assignment (a block is at most 2**10 frames)
_KIND_BYTES = [bytes([k]) * 1024 for k in range(256)]
_ZERO_BYTES = _KIND_BYTES[0]

# --------------------------------------------------------------------------
# ALLOC_* flags (mm/internal.h, v5.0 values)
# --------------------------------------------------------------------------
ALLOC_WMARK_MIN = WMARK_MIN
ALLOC_WMARK_LOW = WMARK_LOW
ALLOC_WMARK_HIGH = WMARK_HIGH
ALLOC_NO_WATERMARKS = 0x04
ALLOC_WMARK_MASK = ALLOC_NO_WATERMARKS - 1
ALLOC_OOM = 0x08
ALLOC_HARDER = 0x10
ALLOC_HIGH = 0x20
ALLOC_CPUSET = 0x40
ALLOC_CMA = 0x80
ALLOC_NOFRAGMENT = 0x100
ALLOC_KSWAPD = 0x200

ALLOC_FLAG_NAMES = {
    "ALLOC_WMARK_MIN": ALLOC_WMARK_MIN,
    "ALLOC_WMARK_LOW": ALLOC_WMARK_LOW,
    "ALLOC_WMARK_HIGH": ALLOC_WMARK_HIGH,
    "ALLOC_NO_WATERMARKS": ALLOC_NO_WATERMARKS,
    "ALLOC_OOM": ALLOC_OOM,
    "ALLOC_HARDER": ALLOC_HARDER,
    "ALLOC_HIGH": ALLOC_HIGH,
    "ALLOC_CPUSET": ALLOC_CPUSET,
    "ALLOC_CMA": ALLOC_CMA,
    "ALLOC_NOFRAGMENT": ALLOC_NOFRAGMENT,
    "ALLOC_KSWAPD": ALLOC_KSWAPD,
}

#: ``fallbacks[]``: the lists tried, in order, when a migratetype runs dry
fallbacks: dict[int, tuple[int, ...]] = {
    MIGRATE_UNMOVABLE: (MIGRATE_RECLAIMABLE, MIGRATE_MOVABLE),
    MIGRATE_MOVABLE: (MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE),
    MIGRATE_RECLAIMABLE: (MIGRATE_UNMOVABLE, MIGRATE_MOVABLE),
    MIGRATE_HIGHATOMIC: (),
    MIGRATE_CMA: (),
    MIGRATE_ISOLATE: (),
}

#: frame state a new allocation gets when the caller does not say
DEFAULT_KIND = {
    MIGRATE_UNMOVABLE: FRAME_KERNEL,
    MIGRATE_MOVABLE: FRAME_ANON,
    MIGRATE_RECLAIMABLE: FRAME_SLAB,
}
_ALLOCATED_KINDS = (FRAME_ANON, FRAME_FILE, FRAME_KERNEL, FRAME_SLAB)
_KIND_NAMES = {"anon": FRAME_ANON, "file": FRAME_FILE, "kernel": FRAME_KERNEL,
               "slab": FRAME_SLAB}

#: PGALLOC per zone (FOR_ALL_ZONES covers DMA, DMA32, Normal, Movable; not Device)
_PGALLOC = ("pgalloc_dma", "pgalloc_dma32", "pgalloc_normal", "pgalloc_movable")


def _trace(machine: Machine, event: str, **fields: Any) -> None:
    tr = machine.tracer
    if tr is not None:
        tr(event, **fields)


# ==========================================================================
# Free-list primitives (list_add / list_add_tail / list_del on page->lru)
# ==========================================================================
def add_to_free_area(zone: Zone, pfn: int, order: int, mt: int, tail: bool = False) -> None:
    """Put the free block at ``pfn`` on ``free_area[order].free_list[mt]``.

    Sets the per-frame "PageBuddy + page_order" marker and bumps ``nr_free``
    (``set_page_order`` + ``list_add``/``list_add_tail`` + ``nr_free++``).
    """
    node = zone.node
    i = pfn - node.node_start_pfn
    key = (order << 3) | mt
    nxt, prv = node._nxt, node._prv
    base = node.node_start_pfn
    if tail:
        old = zone._tail[key]
        prv[i] = old
        nxt[i] = NIL
        if old == NIL:
            zone._head[key] = pfn
        else:
            nxt[old - base] = pfn
        zone._tail[key] = pfn
    else:
        old = zone._head[key]
        nxt[i] = old
        prv[i] = NIL
        if old == NIL:
            zone._tail[key] = pfn
        else:
            prv[old - base] = pfn
        zone._head[key] = pfn
    node._buddy_order[i] = order
    node._buddy_mt[i] = mt
    zone._nr_list[key] += 1
    zone._nr_free[order] += 1


def del_from_free_area(zone: Zone, pfn: int, order: int) -> int:
    """Unlink the free block at ``pfn`` (``list_del`` + ``rmv_page_order`` + ``nr_free--``).

    Returns the migratetype of the list it was on.
    """
    node = zone.node
    base = node.node_start_pfn
    i = pfn - base
    mt = node._buddy_mt[i]
    key = (order << 3) | mt
    nxt, prv = node._nxt, node._prv
    n, p = nxt[i], prv[i]
    if p == NIL:
        zone._head[key] = n
    else:
        nxt[p - base] = n
    if n == NIL:
        zone._tail[key] = p
    else:
        prv[n - base] = p
    node._buddy_order[i] = NOT_BUDDY
    zone._nr_list[key] -= 1
    zone._nr_free[order] -= 1
    return mt


def move_to_free_list(zone: Zone, pfn: int, order: int, mt: int) -> None:
    """``list_move``: re-home a free block at the head of another migratetype list."""
    del_from_free_area(zone, pfn, order)
    add_to_free_area(zone, pfn, order, mt)


def _set_frames(node: Node, zone: Zone, pfn: int, nr: int, new_state: int) -> None:
    """Set the per-frame state of ``nr`` frames starting at ``pfn`` and keep counts."""
    i = pfn - node.node_start_pfn
    st = node._state
    if nr == 1:
        old = st[i]
        st[i] = new_state
        zone.nr_state[old] -= 1
        zone.nr_state[new_state] += 1
        return
    view = node.state[i:i + nr]
    old = int(view[0])
    if old == view[-1] and (view == old).all():
        zone.nr_state[old] -= nr
    else:
        for s, c in zip(*np.unique(view, return_counts=True)):
            zone.nr_state[int(s)] -= int(c)
    view[:] = new_state
    zone.nr_state[new_state] += nr


# ==========================================================================
# Taking blocks out: expand, __rmqueue_smallest, fallback and steal
# ==========================================================================
def expand(zone: Zone, pfn: int, low: int, high: int, mt: int) -> None:
    """Split a block of order ``high`` down to ``low``, freeing the upper halves.

    Kernel source: mm/page_alloc.c ``expand``,
    https://elixir.bootlin.com/linux/v5.0/ident/expand

    Each halving puts the upper half at the head of ``free_list[mt]`` one
    order down - the *requested* migratetype, whatever the pageblock's type.

    Examples
    --------
    >>> from mmsim import Node
    >>> node = Node.build(zones={"Normal": 1024}, pcp=False)
    >>> z = node.zone("Normal")
    >>> _ = del_from_free_area(z, 0, 10)
    >>> expand(z, 0, 0, 10, 1)
    >>> z.nr_free_by_order()
    [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]
    """
    size = 1 << high
    while high > low:
        high -= 1
        size >>= 1
        add_to_free_area(zone, pfn + size, high, mt)


def __rmqueue_smallest(zone: Zone, order: int, mt: int) -> int:
    """Take the smallest free block of ``mt`` of at least ``order``; NIL if none.

    Kernel source: mm/page_alloc.c ``__rmqueue_smallest``,
    https://elixir.bootlin.com/linux/v5.0/ident/__rmqueue_smallest

    The caller accounts ``NR_FREE_PAGES``; this function only moves blocks.
    """
    head = zone._head
    for current in range(order, MAX_ORDER):
        pfn = head[(current << 3) | mt]
        if pfn == NIL:
            continue
        del_from_free_area(zone, pfn, current)
        if current > order:
            expand(zone, pfn, order, current, mt)
        # set_pcppage_migratetype(page, migratetype)
        zone.node._buddy_mt[pfn - zone.node.node_start_pfn] = mt
        return pfn
    return NIL


def can_steal_fallback(machine: Machine, order: int, start_mt: int) -> bool:
    """May a fallback of this order claim the whole pageblock? (``can_steal_fallback``)

    Kernel source: https://elixir.bootlin.com/linux/v5.0/ident/can_steal_fallback

    >>> from mmsim import Node
    >>> m = Node.build(zones={"Normal": 1024}).machine
    >>> [can_steal_fallback(m, o, MIGRATE_MOVABLE) for o in (0, 3, 4, 9)]
    [False, False, True, True]
    >>> can_steal_fallback(m, 0, MIGRATE_UNMOVABLE)
    True
    """
    if order >= pageblock_order:
        return True
    return (order >= pageblock_order // 2
            or start_mt in (MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE)
            or machine.page_group_by_mobility_disabled)


def find_suitable_fallback(zone: Zone, order: int, mt: int,
                           only_stealable: bool) -> tuple[int, bool]:
    """First fallback list with a block of ``order``: ``(fallback_mt or -1, can_steal)``.

    Kernel source: https://elixir.bootlin.com/linux/v5.0/ident/find_suitable_fallback
    """
    if zone._nr_free[order] == 0:
        return -1, False
    can_steal = False
    head = zone._head
    for fallback_mt in fallbacks[mt]:
        if head[(order << 3) | fallback_mt] == NIL:
            continue
        if can_steal_fallback(zone.node.machine, order, mt):
            can_steal = True
        if not only_stealable or can_steal:
            return fallback_mt, can_steal
    return -1, can_steal


def boost_watermark(zone: Zone) -> None:
    """Raise ``watermark_boost`` by one pageblock, capped (``boost_watermark``).

    Kernel source: https://elixir.bootlin.com/linux/v5.0/ident/boost_watermark

    The cap is ``watermark_boost_factor``/10000 of the raw high watermark, but
    never less than a pageblock; a factor of 0, or a high watermark that works
    out to a zero cap, disables boosting.

    Examples
    --------
    >>> from mmsim import Node
    >>> z = Node.build(zones={"DMA": 3840, "DMA32": 772808, "Normal": 131072},
    ...                sysctl=__import__("mmsim").Sysctl(min_free_kbytes=67584)).zone("DMA32")
    >>> for _ in range(64): boost_watermark(z)
    >>> z.watermark_boost   # mult_frac(21576, 15000, 10000)
    32364
    """
    factor = zone.node.machine.sysctl.watermark_boost_factor
    if not factor:
        return
    max_boost = mult_frac(zone._watermark[WMARK_HIGH], factor, 10000)
    if not max_boost:
        return
    max_boost = max(pageblock_nr_pages, max_boost)
    zone.watermark_boost = min(zone.watermark_boost + pageblock_nr_pages, max_boost)


def move_freepages(zone: Zone, start_pfn: int, end_pfn: int, mt: int) -> tuple[int, int]:
    """Move every free block in ``[start_pfn, end_pfn]`` to ``free_list[mt]``.

    Returns ``(pages_moved, movable_pages)`` where ``movable_pages`` counts
    in-use LRU pages of the range (``PageLRU || __PageMovable``).

    Kernel source: https://elixir.bootlin.com/linux/v5.0/ident/move_freepages
    """
    node = zone.node
    base = node.node_start_pfn
    lo, hi = start_pfn - base, end_pfn - base + 1
    bo = node.buddy_order[lo:hi]
    heads = np.flatnonzero(bo != NOT_BUDDY)
    moved = 0
    for h in heads.tolist():
        order = node._buddy_order[lo + h]
        move_to_free_list(zone, start_pfn + h, order, mt)
        moved += 1 << order
    st = node.state[lo:hi]
    movable = int(np.count_nonzero((st == FRAME_ANON) | (st == FRAME_FILE)))
    return moved, movable


def move_freepages_block(zone: Zone, pfn: int, mt: int) -> tuple[int, int]:
    """``move_freepages_block``: the same for the pageblock holding ``pfn``.

    Returns ``(0, 0)`` if the pageblock's end lies outside the zone.
    """
    start = pfn & ~(pageblock_nr_pages - 1)
    end = start + pageblock_nr_pages - 1
    if not zone.zone_spans_pfn(start):
        start = pfn
    if not zone.zone_spans_pfn(end):
        return 0, 0
    return move_freepages(zone, start, end, mt)


def steal_suitable_fallback(zone: Zone, pfn: int, alloc_flags: int, start_type: int,
                            whole_block: bool) -> bool:
    """Move a fallback block to ``start_type``, perhaps claiming its pageblock.

    Kernel source: https://elixir.bootlin.com/linux/v5.0/ident/steal_suitable_fallback

    Steps: HighAtomic blocks are never claimed; a block of at least a
    pageblock re-types every pageblock it covers (no boost); otherwise the
    zone's watermark is boosted (and ``ZONE_BOOSTED_WATERMARK`` set for
    ``ALLOC_KSWAPD`` callers), and if ``whole_block`` all free pages of the
    pageblock move to ``start_type``, which claims the pageblock when free plus
    "alike" pages reach half of it. Returns whether the pageblock changed owner.
    """
    node = zone.node
    base = node.node_start_pfn
    current_order = node._buddy_order[pfn - base]
    old_block_type = node.get_pageblock_migratetype(pfn)
    if old_block_type == MIGRATE_HIGHATOMIC:
        move_to_free_list(zone, pfn, current_order, start_type)
        return False
    if current_order >= pageblock_order:
        for pb in range(pfn, pfn + (1 << current_order), pageblock_nr_pages):
            node.set_pageblock_migratetype(pb, start_type)
        move_to_free_list(zone, pfn, current_order, start_type)
        return True
    boost_watermark(zone)
    if alloc_flags & ALLOC_KSWAPD:
        zone.flags |= ZONE_BOOSTED_WATERMARK
    if not whole_block:
        move_to_free_list(zone, pfn, current_order, start_type)
        return False
    free_pages, movable_pages = move_freepages_block(zone, pfn, start_type)
    if start_type == MIGRATE_MOVABLE:
        alike_pages = movable_pages
    elif old_block_type == MIGRATE_MOVABLE:
        alike_pages = pageblock_nr_pages - (free_pages + movable_pages)
    else:
        alike_pages = 0
    if not free_pages:
        move_to_free_list(zone, pfn, current_order, start_type)
        return False
    if (free_pages + alike_pages >= (1 << (pageblock_order - 1))
            or node.machine.page_group_by_mobility_disabled):
        node.set_pageblock_migratetype(pfn, start_type)
        return True
    return False


def __rmqueue_fallback(zone: Zone, order: int, start_mt: int, alloc_flags: int) -> bool:
    """Steal a block from another migratetype; True if something moved.

    Kernel source: https://elixir.bootlin.com/linux/v5.0/ident/__rmqueue_fallback

    Searches from the *largest* order down; a Movable request that would only
    get a non-stealable large block instead takes the smallest fallback block
    (``find_smallest``). ``ALLOC_NOFRAGMENT`` would raise the lowest order
    searched to ``pageblock_order`` but v5.0 never sets it (see
    buddy-and-fragmentation.md section 6).
    """
    min_order = pageblock_order if alloc_flags & ALLOC_NOFRAGMENT else order
    found_order = -1
    fallback_mt = -1
    can_steal = False
    for current in range(MAX_ORDER - 1, min_order - 1, -1):
        fallback_mt, can_steal = find_suitable_fallback(zone, current, start_mt, False)
        if fallback_mt == -1:
            continue
        if not can_steal and start_mt == MIGRATE_MOVABLE and current > order:
            # find_smallest
            for current2 in range(order, MAX_ORDER):
                fallback_mt, can_steal = find_suitable_fallback(zone, current2, start_mt, False)
                if fallback_mt != -1:
                    found_order = current2
                    break
        else:
            found_order = current
        break
    if found_order < 0:
        return False
    pfn = zone._head[(found_order << 3) | fallback_mt]
    steal_suitable_fallback(zone, pfn, alloc_flags, start_mt, can_steal)
    machine = zone.node.machine
    if machine.tracer is not None:
        _trace(machine, "mm_page_alloc_extfrag", pfn=pfn, alloc_order=order,
               fallback_order=found_order, pageblock_order=pageblock_order,
               alloc_migratetype=start_mt, fallback_migratetype=fallback_mt,
               fragmenting=int(found_order < pageblock_order),
               change_ownership=int(start_mt == zone.node.get_pageblock_migratetype(pfn)))
    return True


def __rmqueue(zone: Zone, order: int, mt: int, alloc_flags: int) -> int:
    """``__rmqueue``: smallest block of ``mt``, else CMA (movable), else fall back and retry.

    Kernel source: https://elixir.bootlin.com/linux/v5.0/ident/__rmqueue
    """
    while True:
        pfn = __rmqueue_smallest(zone, order, mt)
        if pfn != NIL:
            return pfn
        if mt == MIGRATE_MOVABLE:
            pfn = __rmqueue_smallest(zone, order, MIGRATE_CMA)
            if pfn != NIL:
                return pfn
        if not __rmqueue_fallback(zone, order, mt, alloc_flags):
            return NIL


# ==========================================================================
# Per-cpu pages
# ==========================================================================
def zone_batchsize(zone: Zone) -> int:
    """Per-cpu list batch for a zone (``zone_batchsize``).

    Kernel source: https://elixir.bootlin.com/linux/v5.0/ident/zone_batchsize

    >>> from mmsim import Node
    >>> node = Node.build(zones={"DMA": 3840, "DMA32": 772808})
    >>> zone_batchsize(node.zone("DMA")), zone_batchsize(node.zone("DMA32"))
    (0, 63)
    """
    batch = zone.managed_pages // 1024
    if batch * 4096 > 1024 * 1024:
        batch = (1024 * 1024) // 4096
    batch //= 4
    if batch < 1:
        batch = 1
    return (1 << ((batch + batch // 2).bit_length() - 1)) - 1


def pageset_set_batch(pcp: PerCpuPages, batch: int) -> None:
    """``pageset_set_batch``: ``high = 6 * batch``, stored batch at least 1."""
    pcp.high = 6 * batch
    pcp.batch = max(1, batch)


def setup_zone_pageset(zone: Zone, nr_cpus: int) -> None:
    """Create one per-cpu page set per CPU, sized by :func:`zone_batchsize`."""
    zone.pageset = []
    for _ in range(nr_cpus):
        pcp = PerCpuPages(0, 1)
        pageset_set_batch(pcp, zone_batchsize(zone))
        zone.pageset.append(pcp)


def rmqueue_bulk(zone: Zone, order: int, count: int, pcp_list: Any, mt: int,
                 alloc_flags: int) -> int:
    """Move up to ``count`` blocks from the buddy lists to a per-cpu list.

    Kernel source: https://elixir.bootlin.com/linux/v5.0/ident/rmqueue_bulk

    Each block comes from :func:`__rmqueue` (so a refill can fall back and
    steal) and is added at the list tail; ``NR_FREE_PAGES`` drops by the pages
    taken, because pages on per-cpu lists no longer count as free.
    """
    node = zone.node
    base = node.node_start_pfn
    st = node._state
    taken = 0
    for _ in range(count):
        pfn = __rmqueue(zone, order, mt, alloc_flags)
        if pfn == NIL:
            break
        pcp_list.append(pfn)
        i = pfn - base
        if node._buddy_mt[i] == MIGRATE_CMA:
            zone.nr_free_cma -= 1 << order
        st[i] = FRAME_PCP
        taken += 1
    if taken:
        zone.nr_state[FRAME_FREE] -= taken
        zone.nr_state[FRAME_PCP] += taken
        zone.nr_free_pages -= taken << order
    return taken


def free_pcppages_bulk(zone: Zone, count: int, pcp: PerCpuPages) -> None:
    """Return ``count`` pages from a per-cpu set to the buddy lists.

    Kernel source: https://elixir.bootlin.com/linux/v5.0/ident/free_pcppages_bulk

    Lists are emptied round-robin (Movable first), taking from each list's tail
    a run that grows by one each time an empty list is skipped; each page is
    freed with the migratetype recorded when it entered the list.
    """
    node = zone.node
    base = node.node_start_pfn
    to_free = _pcp_take(pcp, count)
    isolate = _has_isolate_pageblock(zone)
    for pfn in to_free:
        i = pfn - base
        mt = node._buddy_mt[i]
        if isolate:
            mt = node.get_pageblock_migratetype(pfn)
        node._state[i] = FRAME_FREE
        zone.nr_state[FRAME_PCP] -= 1
        zone.nr_state[FRAME_FREE] += 1
        __free_one_page(zone, pfn, 0, mt)


def _has_isolate_pageblock(zone: Zone) -> bool:
    return bool(getattr(zone, "nr_isolate_pageblock", 0))


def drain_pages_zone(zone: Zone, cpu: int) -> None:
    """Flush one CPU's per-cpu pages of ``zone`` to the buddy lists."""
    if not zone.pageset:
        return
    pcp = zone.pageset[cpu]
    if pcp.count:
        free_pcppages_bulk(zone, pcp.count, pcp)


def drain_all_pages(node: Node, zone: Zone | None = None) -> None:
    """Flush every CPU's per-cpu pages of ``zone`` (all zones if None).

    Kernel source: https://elixir.bootlin.com/linux/v5.0/ident/drain_all_pages
    """
    zones = [zone] if zone is not None else node.zones
    for z in zones:
        for cpu in range(len(z.pageset)):
            drain_pages_zone(z, cpu)


# ==========================================================================
# Freeing
# ==========================================================================
def __free_one_page(zone: Zone, pfn: int, order: int, mt: int) -> None:
    """Free a block into the buddy lists, merging with free buddies.

    Kernel source: https://elixir.bootlin.com/linux/v5.0/ident/__free_one_page

    Steps: account ``NR_FREE_PAGES`` (not for Isolate); while the buddy at
    ``pfn ^ (1 << order)`` is a free block of the same order in the same zone,
    unlink it and merge (beyond ``pageblock_order`` only if neither side is an
    Isolate pageblock); then add at the list head - or the tail if the next
    larger buddy is free as well.

    The per-frame state of the freed frames must already be ``FRAME_FREE``.

    Examples
    --------
    >>> from mmsim import Node
    >>> node = Node.build(zones={"Normal": 1024}, pcp=False)
    >>> z = node.zone("Normal")
    >>> p = node.alloc_pages(0, "GFP_KERNEL", alloc_flags=ALLOC_NO_WATERMARKS)
    >>> z.nr_free_by_order()
    [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]
    >>> node.free_pages(p)
    >>> z.nr_free_by_order()
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    """
    node = zone.node
    base = node.node_start_pfn
    bo = node._buddy_order
    zid = node._zone_id
    my_zone = zone.idx
    zstart = zone.zone_start_pfn
    zend = zstart + zone.spanned_pages
    if mt != MIGRATE_ISOLATE:
        zone.nr_free_pages += 1 << order
        if mt == MIGRATE_CMA:
            zone.nr_free_cma += 1 << order
    max_order = min(MAX_ORDER, pageblock_order + 1)
    buddy_pfn = NIL
    while True:
        while order < max_order - 1:
            buddy_pfn = pfn ^ (1 << order)
            if not (zstart <= buddy_pfn < zend):
                break
            j = buddy_pfn - base
            if bo[j] != order or zid[j] != my_zone:
                break
            del_from_free_area(zone, buddy_pfn, order)
            pfn &= buddy_pfn
            order += 1
        else:
            if max_order < MAX_ORDER:
                if _has_isolate_pageblock(zone):
                    bp = pfn ^ (1 << order)
                    buddy_mt = node.get_pageblock_migratetype(bp)
                    if mt != buddy_mt and MIGRATE_ISOLATE in (mt, buddy_mt):
                        break
                max_order += 1
                continue
        break
    # done_merging
    tail = False
    if order < MAX_ORDER - 2 and buddy_pfn != NIL:
        combined = buddy_pfn & pfn
        higher_buddy = combined ^ (1 << (order + 1))
        if zstart <= higher_buddy < zend:
            j = higher_buddy - base
            tail = bo[j] == order + 1 and zid[j] == my_zone
    add_to_free_area(zone, pfn, order, mt, tail)


def free_one_page(zone: Zone, pfn: int, order: int, mt: int) -> None:
    """``free_one_page``: the zone-locked wrapper of :func:`__free_one_page`."""
    if _has_isolate_pageblock(zone):
        mt = zone.node.get_pageblock_migratetype(pfn)
    __free_one_page(zone, pfn, order, mt)


def free_unref_page(zone: Zone, pfn: int, cpu: int = 0) -> None:
    """Free an order-0 page to the CPU's per-cpu list (``free_unref_page``).

    Kernel source: https://elixir.bootlin.com/linux/v5.0/ident/free_unref_page

    Pages of HighAtomic and CMA pageblocks go on the Movable list; pages of an
    Isolate pageblock go straight to the buddy. When the list holds ``high``
    pages or more, ``batch`` of them go back to the buddy.
    """
    node = zone.node
    i = pfn - node.node_start_pfn
    mt = node._pageblock_mt[(pfn >> pageblock_order) - node.pb_base]
    node._buddy_mt[i] = mt  # set_pcppage_migratetype
    if mt >= MIGRATE_PCPTYPES:
        if mt == MIGRATE_ISOLATE:
            node._state[i] = FRAME_FREE
            zone.nr_state[FRAME_FREE] += 1
            free_one_page(zone, pfn, 0, mt)
            return
        mt = MIGRATE_MOVABLE
    pcp = zone.pageset[cpu]
    node._state[i] = FRAME_PCP
    zone.nr_state[FRAME_PCP] += 1
    pcp.lists[mt].appendleft(pfn)
    pcp.count += 1
    if pcp.count >= pcp.high:
        free_pcppages_bulk(zone, pcp.batch, pcp)


def free_pages(node: Node, pfn: int, order: int = 0, *, cpu: int = 0) -> None:
    """Give back the block of ``2**order`` pages at ``pfn`` (``__free_pages``).

    Kernel source: https://elixir.bootlin.com/linux/v5.0/ident/__free_pages

    Order 0 goes through the per-cpu list (``free_unref_page``) unless the node
    was built with ``pcp=False``; larger blocks go straight to the buddy lists
    (``__free_pages_ok`` → ``free_one_page``). Counts ``pgfree``.

    Raises
    ------
    ValueError
        If ``pfn`` is not the head of an allocated block of that ``order``.
    """
    if order.__class__ is not int or not 0 <= order < MAX_ORDER:
        order = check_int("order", order, 0, MAX_ORDER - 1)
    if cpu.__class__ is not int or not 0 <= cpu < node.machine.nr_cpus:
        cpu = check_int("cpu", cpu, 0, node.machine.nr_cpus - 1)
    base = node.node_start_pfn
    if pfn.__class__ is not int or not 0 <= pfn - base < node.node_spanned_pages:
        pfn = check_int("pfn", pfn, base, base + node.node_spanned_pages - 1)
    i = pfn - base
    head_order = node._head_order[i]
    if head_order != order:
        state = node._state[i]
        if head_order == NOT_BUDDY:
            raise ValueError(
                f"pfn: {pfn} is not the head of an allocated block (frame is "
                f"{frame_state_names[state]}); only allocated blocks can be freed")
        raise ValueError(
            f"order: block at pfn {pfn} was allocated with order {head_order}, "
            f"not {order}; free it with order={head_order}")
    zone = node.zones[node._zone_id[i]]
    node._head_order[i] = NOT_BUDDY
    node.machine.vm_events["pgfree"] += 1 << order
    if order == 0:
        old = node._state[i]
        zone.nr_state[old] -= 1
        if node.pcp_enabled:
            free_unref_page(zone, pfn, cpu)
            return
        node._state[i] = FRAME_FREE
        zone.nr_state[FRAME_FREE] += 1
        mt = node._pageblock_mt[(pfn >> pageblock_order) - node.pb_base]
        free_one_page(zone, pfn, 0, mt)
        return
    _set_frames(node, zone, pfn, 1 << order, FRAME_FREE)
    mt = node._pageblock_mt[(pfn >> pageblock_order) - node.pb_base]
    free_one_page(zone, pfn, order, mt)



def free_order0_pages(node: Node, pfns: list[int], cpu: int = 0) -> None:
    """``free_pages(node, pfn, 0, cpu=cpu)`` for each pfn of ``pfns``, in order.

    What ``put_page`` does to each page migration has emptied, or
    ``release_freepages`` to each unused target: every page goes on the
    CPU's per-cpu list (``free_unref_page``) and, each time the list
    reaches ``high``, ``batch`` pages go back to the buddy lists
    (``free_pcppages_bulk``). The same operations in the same order as the
    loop of single frees, checked page by page as they come; the fast path
    writes ``free_unref_page`` out on local variables and hands each drained
    batch to :func:`_free_runs`. ``benchmarks/fastpath_check.py`` compares
    the two. Where the C extension was built, ``_buddy.free_order0``
    (``mmsim/mm/_buddy.c``) runs this loop instead, with the same results.

    Raises
    ------
    ValueError
        As :func:`free_pages` does, at the first pfn that is not the head of
        an allocated order-0 page (the pages before it are freed).
    """
    if not (_FAST_PATHS and node.pcp_enabled) or cpu.__class__ is not int \
            or not 0 <= cpu < node.machine.nr_cpus:
        for pfn in pfns:
            free_pages(node, pfn, 0, cpu=cpu)
        return
    if _buddy is not None:
        _buddy.free_order0(node, pfns, cpu, lambda pfn: free_pages(node, pfn, 0, cpu=cpu),
                           lambda zone, pcp: free_pcppages_bulk(zone, pcp.batch, pcp))
        return
    base = node.node_start_pfn
    span = node.node_spanned_pages
    ho = node._head_order
    st = node._state
    bmt = node._buddy_mt
    zid = node._zone_id
    pb_mt = node._pageblock_mt
    pb_base = node.pb_base
    zones = node.zones
    not_buddy = NOT_BUDDY
    events = node.machine.vm_events
    for pfn in pfns:
        if pfn.__class__ is not int or not 0 <= pfn - base < span or ho[pfn - base] != 0:
            # the single-page path: converts a numpy integer and frees it, or raises
            # naming the field and value (a bad pfn, or one freed earlier in the list)
            free_pages(node, pfn, 0, cpu=cpu)
            continue
        i = pfn - base
        zone = zones[zid[i]]
        ho[i] = not_buddy
        events["pgfree"] += 1
        nr_state = zone.nr_state
        nr_state[st[i]] -= 1
        # free_unref_page
        mt = pb_mt[(pfn >> pageblock_order) - pb_base]
        bmt[i] = mt
        if mt >= MIGRATE_PCPTYPES:
            if mt == MIGRATE_ISOLATE:
                st[i] = FRAME_FREE
                nr_state[FRAME_FREE] += 1
                free_one_page(zone, pfn, 0, mt)
                continue
            mt = MIGRATE_MOVABLE
        pcp = zone.pageset[cpu]
        st[i] = FRAME_PCP
        nr_state[FRAME_PCP] += 1
        pcp.lists[mt].appendleft(pfn)
        pcp.count += 1
        if pcp.count >= pcp.high:
            if _has_isolate_pageblock(zone):
                free_pcppages_bulk(zone, pcp.batch, pcp)
            else:
                _free_order0_list(zone, _pcp_take(pcp, pcp.batch))


def _pcp_take(pcp: PerCpuPages, count: int) -> list[int]:
    """The pages :func:`free_pcppages_bulk` takes off the per-cpu lists, in its order."""
    migratetype = 0
    to_free: list[int] = []
    lists = pcp.lists
    while count:
        batch_free = 0
        while True:
            migratetype += 1
            if migratetype == MIGRATE_PCPTYPES:
                migratetype = 0
            lst = lists[migratetype]
            batch_free += 1
            if lst:
                break
        if batch_free == MIGRATE_PCPTYPES:
            batch_free = count
        while True:
            to_free.append(lst.pop())
            pcp.count -= 1
            count -= 1
            batch_free -= 1
            if not count or not batch_free or not lst:
                break
    return to_free


def _free_order0_list(zone: Zone, pfns: list[int]) -> None:
    """The second half of :func:`free_pcppages_bulk` with no Isolate pageblock in the zone.

    Each page leaves the per-cpu state and is freed with
    ``__free_one_page(zone, pfn, 0, mt)``, ``mt`` the migratetype recorded when
    it entered the list: :func:`_free_runs` with one-page runs and those types.
    """
    node = zone.node
    base = node.node_start_pfn
    st = node._state
    bmt = node._buddy_mt
    frame_free = FRAME_FREE
    mts = []
    for p in pfns:
        i = p - base
        st[i] = frame_free
        mts.append(bmt[i])
    n = len(pfns)
    zone.nr_state[FRAME_PCP] -= n
    zone.nr_state[FRAME_FREE] += n
    _free_runs(zone, pfns, [p + 1 for p in pfns], mts)


# ==========================================================================
# Watermarks
# ==========================================================================
def mult_frac(x: int, numer: int, denom: int) -> int:
    """``mult_frac(x, n, d)`` = ``(x/d)*n + ((x%d)*n)/d`` without overflow.

    >>> mult_frac(21576, 15000, 10000)
    32364
    """
    q, r = divmod(x, denom)
    return q * numer + (r * numer) // denom


def int_sqrt(x: int) -> int:
    """Integer square root, floored (``int_sqrt``).

    >>> int_sqrt(3630880 * 16), int_sqrt(15)
    (7621, 3)
    """
    if x < 0:
        raise ValueError(f"int_sqrt: {x} is negative")
    import math

    return math.isqrt(x)


def nr_free_zone_pages(machine: Machine, offset: int) -> int:
    """Σ(managed − high) over zones ≤ ``offset`` (``nr_free_zone_pages``).

    Kernel source: https://elixir.bootlin.com/linux/v5.0/ident/nr_free_zone_pages

    Despite its name it looks at managed pages and high watermarks, not at
    free pages.
    """
    total = 0
    for zone in machine.for_each_zone():
        if zone.idx > offset:
            continue
        size = zone.managed_pages
        high = zone.high_wmark_pages
        if size > high:
            total += size - high
    return total


def nr_free_buffer_pages(machine: Machine) -> int:
    """``nr_free_buffer_pages``: :func:`nr_free_zone_pages` up to ``gfp_zone(GFP_USER)``."""
    return nr_free_zone_pages(machine, ZONE_NORMAL)


def calculate_min_free_kbytes(lowmem_kbytes: int) -> int:
    """The boot-time default: ``clamp(int_sqrt(lowmem_kbytes * 16), 128, 65536)``.

    >>> [calculate_min_free_kbytes(p * 4) for p in (256, 4096, 1048576, 67108864)]
    [128, 512, 8192, 65536]
    """
    return min(max(int_sqrt(lowmem_kbytes * 16), 128), 65536)


def init_per_zone_wmark_min(machine: Machine) -> None:
    """Compute the default ``min_free_kbytes`` and every zone's watermarks.

    Kernel source: https://elixir.bootlin.com/linux/v5.0/ident/init_per_zone_wmark_min

    Steps: ``lowmem_kbytes = nr_free_buffer_pages() * 4``; the new value
    ``int_sqrt(lowmem_kbytes * 16)`` is taken (clamped to 128..65536) only if it
    exceeds ``user_min_free_kbytes`` (-1 unless the sysctl was written); then
    ``setup_per_zone_wmarks``, ``refresh_zone_stat_thresholds`` and
    ``setup_per_zone_lowmem_reserve``.
    """
    from mmsim.mm.vmstat import refresh_zone_stat_thresholds

    lowmem_kbytes = nr_free_buffer_pages(machine) * 4
    new_min_free_kbytes = int_sqrt(lowmem_kbytes * 16)
    if new_min_free_kbytes > machine.user_min_free_kbytes:
        machine.min_free_kbytes = min(max(new_min_free_kbytes, 128), 65536)
    setup_per_zone_wmarks(machine)
    refresh_zone_stat_thresholds(machine)
    setup_per_zone_lowmem_reserve(machine)


def __setup_per_zone_wmarks(machine: Machine) -> None:
    """Set min/low/high of every zone from ``min_free_kbytes``.

    Kernel source: https://elixir.bootlin.com/linux/v5.0/ident/__setup_per_zone_wmarks

    ``min = pages_min * managed / lowmem_pages``;
    ``dist = max(min / 4, managed * watermark_scale_factor / 10000)``;
    low and high are ``min_wmark_pages(zone) + dist`` and ``+ 2 * dist``. As in
    v5.0, ``min_wmark_pages`` still includes the boost in force at this point,
    and the boost is zeroed only afterwards, so a recompute during a boost
    leaves low and high raised by it.

    Examples
    --------
    Golden case ``wmarks_16GiB_box_mfk11584_wsf1000``:

    >>> from mmsim import Node, Sysctl
    >>> n = Node.build(zones={"DMA": 3977, "DMA32": 1000000, "Normal": 3000000},
    ...                sysctl=Sysctl(min_free_kbytes=11584, watermark_scale_factor=1000))
    >>> [(z.min_wmark_pages, z.low_wmark_pages, z.high_wmark_pages) for z in n.zones[:3]]
    [(2, 399, 796), (723, 100723, 200723), (2169, 302169, 602169)]
    """
    pages_min = machine.min_free_kbytes >> 2
    lowmem_pages = sum(z.managed_pages for z in machine.for_each_zone())
    wsf = machine.sysctl.watermark_scale_factor
    for zone in machine.for_each_zone():
        managed = zone.managed_pages
        tmp = pages_min * managed // lowmem_pages if lowmem_pages else 0
        zone._watermark[WMARK_MIN] = tmp
        dist = max(tmp >> 2, mult_frac(managed, wsf, 10000))
        zone._watermark[WMARK_LOW] = zone.min_wmark_pages + dist
        zone._watermark[WMARK_HIGH] = zone.min_wmark_pages + dist * 2
        zone.watermark_boost = 0
    calculate_totalreserve_pages(machine)


def setup_per_zone_wmarks(machine: Machine) -> None:
    """``setup_per_zone_wmarks``: :func:`__setup_per_zone_wmarks` under its lock."""
    __setup_per_zone_wmarks(machine)


def calculate_totalreserve_pages(machine: Machine) -> None:
    """``totalreserve_pages``: per zone the largest lowmem_reserve plus high, capped.

    Kernel source: https://elixir.bootlin.com/linux/v5.0/ident/calculate_totalreserve_pages
    """
    total = 0
    for node in machine.nodes:
        node_total = 0
        for zone in node.zones:
            mx = max(zone.lowmem_reserve[zone.idx:], default=0)
            mx += zone.high_wmark_pages
            if mx > zone.managed_pages:
                mx = zone.managed_pages
            node_total += mx
        node.totalreserve_pages = node_total
        total += node_total
    machine.totalreserve_pages = total


def setup_per_zone_lowmem_reserve(machine: Machine) -> None:
    """``lowmem_reserve[j]`` of each lower zone: managed pages above it / ratio.

    Kernel source: https://elixir.bootlin.com/linux/v5.0/ident/setup_per_zone_lowmem_reserve

    ``zone[i].lowmem_reserve[j]`` (i < j) = managed pages of zones i+1..j divided
    by ``lowmem_reserve_ratio[i]``; a ratio below 1 is rewritten to 0 and
    reserves nothing.
    """
    ratio = machine.sysctl._lowmem_reserve_ratio
    for node in machine.nodes:
        for j in range(MAX_NR_ZONES):
            zone = node.zones[j]
            managed = zone.managed_pages
            zone.lowmem_reserve[j] = 0
            idx = j
            while idx:
                idx -= 1
                lower = node.zones[idx]
                if ratio[idx] < 1:
                    ratio[idx] = 0
                    lower.lowmem_reserve[j] = 0
                else:
                    lower.lowmem_reserve[j] = managed // ratio[idx]
                managed += lower.managed_pages
    calculate_totalreserve_pages(machine)


def _watermark_check(z: Zone, order: int, mark: int, classzone_idx: int, alloc_flags: int,
                     free_pages: int) -> tuple[bool, str, int, int, int, int]:
    """``__zone_watermark_ok`` with its reasoning: (ok, reason, free, min, order, mt)."""
    min_ = mark
    harder = bool(alloc_flags & (ALLOC_HARDER | ALLOC_OOM))
    free_pages -= (1 << order) - 1
    if alloc_flags & ALLOC_HIGH:
        min_ -= min_ // 2
    if not harder:
        free_pages -= z.nr_reserved_highatomic
    elif alloc_flags & ALLOC_OOM:
        min_ -= min_ // 2
    else:
        min_ -= min_ // 4
    if not alloc_flags & ALLOC_CMA:
        free_pages -= z.nr_free_cma
    if free_pages <= min_ + z.lowmem_reserve[classzone_idx]:
        return False, "free_pages <= min + lowmem_reserve", free_pages, min_, -1, -1
    if not order:
        return True, "order 0 and enough free pages", free_pages, min_, -1, -1
    head = z._head
    for o in range(order, MAX_ORDER):
        if not z._nr_free[o]:
            continue
        for mt in range(MIGRATE_PCPTYPES):
            if head[(o << 3) | mt] != NIL:
                return True, "free block on an ordinary list", free_pages, min_, o, mt
        if alloc_flags & ALLOC_CMA and head[(o << 3) | MIGRATE_CMA] != NIL:
            return True, "free block on the CMA list", free_pages, min_, o, MIGRATE_CMA
        if harder and head[(o << 3) | MIGRATE_HIGHATOMIC] != NIL:
            return True, "free block on the HighAtomic list", free_pages, min_, o, \
                MIGRATE_HIGHATOMIC
    return False, "no suitable free block >= order", free_pages, min_, -1, -1


def __zone_watermark_ok(z: Zone, order: int, mark: int, classzone_idx: int, alloc_flags: int,
                        free_pages: int) -> bool:
    """The watermark test used on every path (``__zone_watermark_ok``).

    Kernel source: https://elixir.bootlin.com/linux/v5.0/ident/__zone_watermark_ok

    Steps: subtract ``2**order - 1`` from ``free_pages``; ``ALLOC_HIGH`` halves
    the mark; callers without ``ALLOC_HARDER``/``ALLOC_OOM`` lose the HighAtomic
    reserve from free, ``ALLOC_OOM`` halves the mark again, ``ALLOC_HARDER``
    takes a quarter off; without ``ALLOC_CMA`` free CMA pages do not count.
    Fail if free ≤ mark + ``lowmem_reserve[classzone_idx]``; order 0 passes;
    otherwise pass if some order ≥ ``order`` has a block on an Unmovable,
    Movable or Reclaimable list (CMA with ``ALLOC_CMA``, HighAtomic for harder
    callers).
    """
    return _watermark_check(z, order, mark, classzone_idx, alloc_flags, free_pages)[0]


def zone_watermark_ok(z: Zone, order: int, mark: int, classzone_idx: int,
                      alloc_flags: int = 0) -> bool:
    """``zone_watermark_ok``: :func:`__zone_watermark_ok` on ``NR_FREE_PAGES``.

    Examples
    --------
    >>> from mmsim import Node, Sysctl
    >>> z = Node.build(zones={"DMA": 3840, "DMA32": 772808, "Normal": 131072},
    ...                sysctl=Sysctl(min_free_kbytes=67584)).zone("Normal")
    >>> zone_watermark_ok(z, 9, z.high_wmark_pages, 2)
    True
    """
    order = check_int("order", order, 0, MAX_ORDER - 1)
    classzone_idx = check_int("classzone_idx", classzone_idx, 0, MAX_NR_ZONES - 1)
    return __zone_watermark_ok(z, order, mark, classzone_idx, alloc_flags, z.nr_free_pages)


def zone_watermark_ok_safe(z: Zone, order: int, mark: int, classzone_idx: int) -> bool:
    """``zone_watermark_ok_safe``: no per-cpu drift in mmsim, and ``alloc_flags = 0``."""
    return __zone_watermark_ok(z, order, mark, classzone_idx, 0, z.nr_free_pages)


def zone_watermark_fast(z: Zone, order: int, mark: int, classzone_idx: int,
                        alloc_flags: int) -> bool:
    """Fast-path check with the order-0 shortcut (``zone_watermark_fast``)."""
    free_pages = z.nr_free_pages
    cma = 0 if alloc_flags & ALLOC_CMA else z.nr_free_cma
    if not order and free_pages - cma > mark + z.lowmem_reserve[classzone_idx]:
        return True
    return __zone_watermark_ok(z, order, mark, classzone_idx, alloc_flags, free_pages)


# ==========================================================================
# High-atomic reserve
# ==========================================================================
def reserve_highatomic_pageblock(zone: Zone, pfn: int) -> None:
    """Turn the pageblock of a fresh ALLOC_HARDER high-order page into HighAtomic.

    Kernel source: https://elixir.bootlin.com/linux/v5.0/ident/reserve_highatomic_pageblock
    """
    max_managed = zone.managed_pages // 100 + pageblock_nr_pages
    if zone.nr_reserved_highatomic >= max_managed:
        return
    node = zone.node
    mt = node.get_pageblock_migratetype(pfn)
    if mt not in (MIGRATE_HIGHATOMIC, MIGRATE_ISOLATE, MIGRATE_CMA):
        zone.nr_reserved_highatomic += pageblock_nr_pages
        node.set_pageblock_migratetype(pfn, MIGRATE_HIGHATOMIC)
        move_freepages_block(zone, pfn, MIGRATE_HIGHATOMIC)


# ==========================================================================
# The allocation fast path
# ==========================================================================
class AllocContext:
    """``struct alloc_context`` plus the zonelist, cached per (node, gfp)."""

    __slots__ = ("classzone_idx", "high_zoneidx", "migratetype", "spread", "zonelist")

    def __init__(self, node: Node, gfp: int):
        self.high_zoneidx = G.gfp_zone(gfp)
        self.migratetype = G.gfpflags_to_migratetype(gfp)
        #: zones of the node that have managed pages, highest allowed first
        self.zonelist = [z for z in reversed(node.zones)
                         if z.managed_pages and z.idx <= self.high_zoneidx]
        #: ac_classzone_idx: the preferred (first) zone's index
        self.classzone_idx = self.zonelist[0].idx if self.zonelist else 0
        self.spread = None


def prepare_alloc_pages(node: Node, gfp: int) -> AllocContext:
    """``prepare_alloc_pages`` + ``finalise_ac``: the request's zonelist and classzone."""
    cache = node._ac_cache
    ac = cache.get(gfp)
    if ac is None:
        ac = AllocContext(node, gfp)
        cache[gfp] = ac
    return ac


def fast_path_alloc_flags(gfp: int, migratetype: int) -> int:
    """Flags of the first attempt: ``ALLOC_WMARK_LOW`` (+CMA, +KSWAPD)."""
    flags = ALLOC_WMARK_LOW
    if migratetype == MIGRATE_MOVABLE:
        flags |= ALLOC_CMA
    if gfp & G.__GFP_KSWAPD_RECLAIM:
        flags |= ALLOC_KSWAPD  # alloc_flags_nofragment in v5.0 adds only this
    return flags


def rmqueue(zone: Zone, order: int, gfp: int, alloc_flags: int, mt: int, cpu: int) -> int:
    """Take a block from one zone (``rmqueue``), or NIL.

    Kernel source: https://elixir.bootlin.com/linux/v5.0/ident/rmqueue

    Order 0 uses the per-cpu list (refilled by :func:`rmqueue_bulk`); larger
    orders try the HighAtomic list first for ``ALLOC_HARDER`` callers, then
    :func:`__rmqueue`. Afterwards a set ``ZONE_BOOSTED_WATERMARK`` flag is
    cleared and kswapd is woken for the zone (the v5.0 boost wake-up).
    """
    node = zone.node
    if order == 0 and node.pcp_enabled:
        pcp = zone.pageset[cpu]
        lst = pcp.lists[mt]
        if not lst:
            pcp.count += rmqueue_bulk(zone, 0, pcp.batch, lst, mt, alloc_flags)
            if not lst:
                return NIL
        pfn = lst.popleft()
        pcp.count -= 1
        zone.nr_state[FRAME_PCP] -= 1
    else:
        pfn = NIL
        # the HighAtomic list is only for order > 0: in v5.0 order 0 always goes
        # through rmqueue_pcplist -> __rmqueue, also when pcp lists are off here
        if order and alloc_flags & ALLOC_HARDER:
            pfn = __rmqueue_smallest(zone, order, MIGRATE_HIGHATOMIC)
        if pfn == NIL:
            pfn = __rmqueue(zone, order, mt, alloc_flags)
        if pfn == NIL:
            return NIL
        zone.nr_free_pages -= 1 << order
        if node._buddy_mt[pfn - node.node_start_pfn] == MIGRATE_CMA:
            zone.nr_free_cma -= 1 << order
        zone.nr_state[FRAME_FREE] -= 1 << order
    node.machine.vm_events[_PGALLOC[zone.idx]] += 1 << order
    if zone.flags & ZONE_BOOSTED_WATERMARK:
        zone.flags &= ~ZONE_BOOSTED_WATERMARK
        hook = node.machine.hooks.get("wakeup_kswapd")
        if hook is not None:
            hook(zone, 0, 0, zone.idx)
    return pfn


def get_page_from_freelist(node: Node, gfp: int, order: int, alloc_flags: int,
                           ac: AllocContext, cpu: int = 0) -> tuple[int, Zone | None]:
    """Walk the zonelist and take from the first zone that passes its watermark.

    Kernel source: https://elixir.bootlin.com/linux/v5.0/ident/get_page_from_freelist

    Returns ``(pfn, zone)`` or ``(NIL, None)``. ``ALLOC_NO_WATERMARKS`` skips
    the check; ``node_reclaim_mode`` is 0 (the default), so a failing zone is
    simply passed over. A walk with ``ALLOC_NOFRAGMENT`` that finds nothing is
    made again without it (one node: the remote-node early retry cannot
    happen). v5.0 has this code but ``alloc_flags_nofragment`` never sets the
    flag (a bug fixed in 5.2), so only callers passing it reach it.

    Simplifications: no ``cpuset``, no dirty-page spreading for
    ``__GFP_WRITE`` (``node_dirty_ok``), no ``node_reclaim``.
    """
    wmark = alloc_flags & ALLOC_WMARK_MASK
    cz = ac.classzone_idx
    mt = ac.migratetype
    while True:  # retry:
        for zone in ac.zonelist:
            mark = zone._watermark[wmark] + zone.watermark_boost
            free = zone.nr_free_pages
            ok = not order and free - (0 if alloc_flags & ALLOC_CMA else zone.nr_free_cma) > \
                mark + zone.lowmem_reserve[cz]
            if not ok and not __zone_watermark_ok(zone, order, mark, cz, alloc_flags, free) \
                    and not alloc_flags & ALLOC_NO_WATERMARKS:
                continue
            pfn = rmqueue(zone, order, gfp, alloc_flags, mt, cpu)
            if pfn != NIL:
                if order and alloc_flags & ALLOC_HARDER:
                    reserve_highatomic_pageblock(zone, pfn)
                return pfn, zone
        if not alloc_flags & ALLOC_NOFRAGMENT:
            return NIL, None
        alloc_flags &= ~ALLOC_NOFRAGMENT  # fragmented everywhere: allow fallbacks


def _resolve_kind(kind: int | str | None, mt: int) -> int:
    if kind is None:
        return DEFAULT_KIND.get(mt, FRAME_KERNEL)
    if isinstance(kind, str):
        if kind not in _KIND_NAMES:
            raise ValueError(f"kind: unknown page kind {kind!r}; allowed {sorted(_KIND_NAMES)}")
        return _KIND_NAMES[kind]
    if kind not in _ALLOCATED_KINDS:
        raise ValueError(f"kind: {kind!r} is not an allocated page state; allowed "
                         f"{', '.join(frame_state_names[k] for k in _ALLOCATED_KINDS)}")
    return kind


def alloc_pages(node: Node, order: int = 0, gfp: int | str | None = None, *,
                kind: int | str | None = None, cpu: int = 0,
                alloc_flags: int | None = None) -> int | None:
    """Allocate ``2**order`` contiguous pages: the allocator's fast path.

    Kernel source: ``__alloc_pages_nodemask`` → ``get_page_from_freelist``,
    https://elixir.bootlin.com/linux/v5.0/ident/__alloc_pages_nodemask

    Parameters
    ----------
    node
        The node to allocate from.
    order
        0..10.
    gfp
        A gfp mask (int or text such as ``"GFP_KERNEL"``); default ``GFP_KERNEL``.
        It sets the classzone (highest zone) and the migratetype.
    kind
        What the pages will hold: ``"anon"``, ``"file"``, ``"kernel"``,
        ``"slab"`` (default: from the migratetype).
    cpu
        Which CPU's per-cpu lists to use.
    alloc_flags
        Override the fast path's ``ALLOC_WMARK_LOW`` flags (e.g.
        ``ALLOC_WMARK_MIN`` for a slow-path retry, ``ALLOC_NO_WATERMARKS``).

    Returns
    -------
    int or None
        The head pfn, or None when no zone passes its watermark (the slow path
        - waking kswapd, direct reclaim - is the caller's business here).

    Examples
    --------
    >>> from mmsim import Node
    >>> node = Node.build(mem="1GiB")
    >>> pfn = node.alloc_pages(3, "GFP_KERNEL")
    >>> pfn % 8, int(node.head_order[pfn - node.node_start_pfn])
    (0, 3)
    >>> node.alloc_pages(11)
    Traceback (most recent call last):
    ...
    ValueError: order: 11 is out of range; allowed 0..10
    """
    if order.__class__ is not int or not 0 <= order < MAX_ORDER:
        order = check_int("order", order, 0, MAX_ORDER - 1)
    if gfp is None:
        gfp = G.GFP_KERNEL
    elif gfp.__class__ is not int or gfp >> G.__GFP_BITS_SHIFT:
        gfp = G.parse_gfp(gfp)
    ac = node._ac_cache.get(gfp) or prepare_alloc_pages(node, gfp)
    mt = ac.migratetype
    if kind is None:
        kind_v = DEFAULT_KIND.get(mt, FRAME_KERNEL)
    else:
        kind_v = _resolve_kind(kind, mt)
    if alloc_flags is None:
        alloc_flags = fast_path_alloc_flags(gfp, mt)
    if cpu.__class__ is not int or not 0 <= cpu < node.machine.nr_cpus:
        cpu = check_int("cpu", cpu, 0, node.machine.nr_cpus - 1)
    pfn, zone = get_page_from_freelist(node, gfp, order, alloc_flags, ac, cpu)
    if pfn == NIL:
        return None
    i = pfn - node.node_start_pfn
    node._head_order[i] = order
    if order == 0:
        node._state[i] = kind_v
        zone.nr_state[kind_v] += 1
    else:
        view = node.state[i:i + (1 << order)]
        view[:] = kind_v
        zone.nr_state[kind_v] += 1 << order
    return pfn


# ==========================================================================
# Batched paths
# ==========================================================================
def _order0_threshold(zone: Zone, cz: int, alloc_flags: int) -> int:
    """Free pages must exceed this for an order-0 request to pass the check."""
    mark = zone._watermark[alloc_flags & ALLOC_WMARK_MASK] + zone.watermark_boost
    cma = 0 if alloc_flags & ALLOC_CMA else zone.nr_free_cma
    short = mark + zone.lowmem_reserve[cz] + cma
    min_ = mark
    harder = bool(alloc_flags & (ALLOC_HARDER | ALLOC_OOM))
    if alloc_flags & ALLOC_HIGH:
        min_ -= min_ // 2
    extra = cma
    if not harder:
        extra += zone.nr_reserved_highatomic
    elif alloc_flags & ALLOC_OOM:
        min_ -= min_ // 2
    else:
        min_ -= min_ // 4
    full = min_ + zone.lowmem_reserve[cz] + extra
    return min(short, full)


def _take_pages(zone: Zone, want: int, mt: int, alloc_flags: int, out: list) -> tuple[int, bool]:
    """Take up to ``want`` order-0 pages as consecutive ``__rmqueue`` calls would.

    Returns ``(taken, stole)``; stops right after a fallback steal so that the
    caller can re-check the (possibly boosted) watermark.
    """
    head = zone._head
    taken = 0
    while taken < want:
        pfn = NIL
        order = -1
        list_mt = mt
        for o in range(MAX_ORDER):
            pfn = head[(o << 3) | mt]
            if pfn != NIL:
                order = o
                break
        if pfn == NIL and mt == MIGRATE_MOVABLE:
            for o in range(MAX_ORDER):
                pfn = head[(o << 3) | MIGRATE_CMA]
                if pfn != NIL:
                    order, list_mt = o, MIGRATE_CMA
                    break
        if pfn == NIL:
            if __rmqueue_fallback(zone, 0, mt, alloc_flags):
                return taken, True
            return taken, False
        size = 1 << order
        need = want - taken
        del_from_free_area(zone, pfn, order)
        if size <= need:
            out.append((pfn, size))
            taken += size
        else:
            # sequential smallest-first allocation consumes the block from its
            # start; what is left is the aligned binary split of the rest
            out.append((pfn, need))
            taken += need
            start = pfn + need
            end = pfn + size
            _free_range_to_lists(zone, start, end, list_mt)
        if list_mt == MIGRATE_CMA:
            zone.nr_free_cma -= min(size, need)
    return taken, False


def _take_pages_fast(zone: Zone, want: int, mt: int, alloc_flags: int,
                     out: list) -> tuple[int, bool]:
    """:func:`_take_pages` with ``del_from_free_area`` and ``_free_range_to_lists``
    written out on local variables: the same blocks, list operations and order.

    The rest of a split block, ``[pfn + need, pfn + 2**order)``, ends on the
    block's aligned end, so its maximal aligned pieces grow strictly in order
    from the left: ``_free_range_to_lists`` adds them largest first, i.e. in
    reverse, which is what the loop below does.
    """
    node = zone.node
    base = node.node_start_pfn
    head = zone._head
    tail_ = zone._tail
    nr_list = zone._nr_list
    nr_free = zone._nr_free
    bo = node._buddy_order
    bmt = node._buddy_mt
    nxt = node._nxt
    prv = node._prv
    nil = NIL
    taken = 0
    while taken < want:
        pfn = nil
        order = -1
        list_mt = mt
        for o in range(MAX_ORDER):
            pfn = head[(o << 3) | mt]
            if pfn != nil:
                order = o
                break
        if pfn == nil and mt == MIGRATE_MOVABLE:
            for o in range(MAX_ORDER):
                pfn = head[(o << 3) | MIGRATE_CMA]
                if pfn != nil:
                    order, list_mt = o, MIGRATE_CMA
                    break
        if pfn == nil:
            if __rmqueue_fallback(zone, 0, mt, alloc_flags):
                return taken, True
            return taken, False
        size = 1 << order
        need = want - taken
        # del_from_free_area(zone, pfn, order)
        i = pfn - base
        key = (order << 3) | bmt[i]
        n_, p_ = nxt[i], prv[i]
        if p_ == nil:
            head[key] = n_
        else:
            nxt[p_ - base] = n_
        if n_ == nil:
            tail_[key] = p_
        else:
            prv[n_ - base] = p_
        bo[i] = NOT_BUDDY
        nr_list[key] -= 1
        nr_free[order] -= 1
        if size <= need:
            out.append((pfn, size))
            taken += size
        else:
            out.append((pfn, need))
            taken += need
            # _free_range_to_lists(zone, pfn + need, pfn + size, list_mt), largest first
            end = pfn + size
            p = pfn + need
            pieces = []
            while p < end:
                o = min(MAX_ORDER - 1, (p & -p).bit_length() - 1)
                while p + (1 << o) > end:
                    o -= 1
                pieces.append((p, o))
                p += 1 << o
            for q, o in reversed(pieces):
                # add_to_free_area(zone, q, o, list_mt) at the head
                j = q - base
                k = (o << 3) | list_mt
                old = head[k]
                nxt[j] = old
                prv[j] = nil
                if old == nil:
                    tail_[k] = q
                else:
                    prv[old - base] = q
                head[k] = q
                bo[j] = o
                bmt[j] = list_mt
                nr_list[k] += 1
                nr_free[o] += 1
        if list_mt == MIGRATE_CMA:
            zone.nr_free_cma -= min(size, need)
    return taken, False


def _free_range_to_lists(zone: Zone, start: int, end: int, mt: int) -> None:
    """Put ``[start, end)`` on the lists as maximal aligned blocks, small first."""
    blocks = []
    pfn = start
    while pfn < end:
        order = min(MAX_ORDER - 1, (pfn & -pfn).bit_length() - 1 if pfn else MAX_ORDER - 1)
        while pfn + (1 << order) > end:
            order -= 1
        blocks.append((pfn, order))
        pfn += 1 << order
    # expand() adds the large upper halves first and the small ones last
    for pfn, order in sorted(blocks, key=lambda b: -b[1]):
        add_to_free_area(zone, pfn, order, mt)


def alloc_pages_bulk(node: Node, nr_pages: int, gfp: int | str | None = None, *,
                     kind: int | str | None = None,
                     alloc_flags: int | None = None) -> np.ndarray:
    """Allocate up to ``nr_pages`` order-0 pages at once; returns their pfns.

    The batched twin of :func:`alloc_pages` for workloads and reclaim that
    move thousands of pages per step. It gives the same pages, and leaves the
    same free lists, as ``nr_pages`` successive ``__rmqueue`` calls - whole
    free blocks are handed out at once, fallback steals (and boosts) happen
    at the same points - and it re-checks each zone's order-0 watermark
    after every steal, so it stops where the single-page path would.

    Simplifications
    ---------------
    Pages bypass the per-cpu lists: the kernel's ``rmqueue_bulk`` refills
    take the same pages from the buddy lists, ``batch`` at a time, but pages
    already sitting on a per-cpu list (freed there earlier) would be handed
    out first, newest first; here they stay on that list. Fewer than
    ``nr_pages`` pfns are returned when the watermarks stop it; the caller
    decides what the slow path does.

    Examples
    --------
    >>> from mmsim import Node
    >>> node = Node.build(mem="1GiB")
    >>> pfns = alloc_pages_bulk(node, 1000, "GFP_HIGHUSER_MOVABLE", kind="file")
    >>> len(pfns), bool((node.state[pfns - node.node_start_pfn] == FRAME_FILE).all())
    (1000, True)
    """
    nr_pages = check_int("nr_pages", nr_pages, 0)
    if gfp is None:
        gfp = G.GFP_HIGHUSER_MOVABLE
    elif gfp.__class__ is not int or gfp >> G.__GFP_BITS_SHIFT:
        gfp = G.parse_gfp(gfp)
    ac = prepare_alloc_pages(node, gfp)
    mt = ac.migratetype
    kind_v = _resolve_kind(kind, mt)
    if alloc_flags is None:
        alloc_flags = fast_path_alloc_flags(gfp, mt)
    cz = ac.classzone_idx
    chunks: list[tuple[int, int]] = []
    remaining = nr_pages
    take = _take_pages_fast if _FAST_PATHS else _take_pages
    machine = node.machine
    base = node.node_start_pfn
    for zone in ac.zonelist:
        if not remaining:
            break
        zchunks: list[tuple[int, int]] = []
        while remaining:
            if alloc_flags & ALLOC_NO_WATERMARKS:
                allowed = remaining
            else:
                allowed = min(remaining, zone.nr_free_pages - _order0_threshold(
                    zone, cz, alloc_flags))
            if allowed <= 0:
                break
            taken, stole = take(zone, allowed, mt, alloc_flags, zchunks)
            remaining -= taken
            zone.nr_free_pages -= taken
            if stole:
                # the page whose rmqueue stole had passed its watermark check before
                # the steal (and any boost): it is taken whatever the new watermark
                taken, _ = take(zone, 1, mt, alloc_flags, zchunks)
                remaining -= taken
                zone.nr_free_pages -= taken
            elif taken < allowed:
                break
        if zchunks:
            got = 0
            if _FAST_PATHS:
                # the same frame updates on the bytearrays (a block is at most 2**10 frames)
                st = node._state
                ho = node._head_order
                kind_bytes = _KIND_BYTES[kind_v]
                for pfn, n in zchunks:
                    i = pfn - base
                    st[i:i + n] = kind_bytes[:n]
                    ho[i:i + n] = _ZERO_BYTES[:n]
                    got += n
            else:
                st = node.state
                ho = node.head_order
                for pfn, n in zchunks:
                    i = pfn - base
                    st[i:i + n] = kind_v
                    ho[i:i + n] = 0
                    got += n
            zone.nr_state[FRAME_FREE] -= got
            zone.nr_state[kind_v] += got
            machine.vm_events[_PGALLOC[zone.idx]] += got
            chunks.extend(zchunks)
            if zone.flags & ZONE_BOOSTED_WATERMARK:
                zone.flags &= ~ZONE_BOOSTED_WATERMARK
                hook = machine.hooks.get("wakeup_kswapd")
                if hook is not None:
                    hook(zone, 0, 0, zone.idx)
    if not chunks:
        return np.empty(0, dtype=np.int64)
    if _FAST_PATHS and nr_pages - remaining <= _SMALL_BATCH:
        out: list[int] = []
        for p, n in chunks:
            out.extend(range(p, p + n))
        return np.array(out, dtype=np.int64)
    return np.concatenate([np.arange(p, p + n, dtype=np.int64) for p, n in chunks])


def free_pages_bulk(node: Node, pfns: Any, *, checked: bool = False) -> None:
    """Free many order-0 pages at once, merging buddies as the kernel would.

    The batched twin of :func:`free_pages`: the resulting free blocks are the
    ones that freeing the pages one by one gives (buddy merging does not
    depend on the order of frees); blocks are listed by ascending pfn.

    Simplifications
    ---------------
    Pages go straight to the buddy lists. v5.0 frees reclaim's pages with
    ``free_unref_page_list`` onto the per-cpu lists, and only ``batch`` at a
    time reach the buddy once a list holds ``high`` (378 on a zone of 1 GiB
    or more), so the kernel's ``NR_FREE_PAGES`` lags by up to that many pages
    per CPU and zone. Blocks are the same, but where and in which order they
    sit on the lists can differ: a merge across pageblocks of different
    types goes on the list of the first pageblock here, of the last page
    freed in the kernel.

    ``checked=True`` is for callers inside mmsim that already know the pages
    are distinct allocated order-0 pages (reclaim); it skips the validation.

    Raises
    ------
    ValueError
        If a pfn is repeated or is not an allocated order-0 page.
    """
    if checked:
        pfns = np.asarray(pfns, dtype=np.int64)
        if _FAST_PATHS and pfns.size <= _SMALL_BATCH:
            # a reclaim chunk: the same frees on Python ints (see _free_checked_small)
            if not pfns.size:
                return
            base = node.node_start_pfn
            idx = sorted(pfns.tolist())
            if base:
                idx = [p - base for p in idx]
            if _free_checked_small(node, idx):
                return
        idx = np.sort(pfns) - node.node_start_pfn
        if idx.size:
            _free_checked(node, idx)
        return
    arr = np.asarray(pfns, dtype=np.int64)
    if arr.ndim != 1:
        raise ValueError(f"pfns: expected a 1-d sequence of pfns, got shape {arr.shape}")
    if not arr.size:
        return
    base = node.node_start_pfn
    idx = arr - base
    if idx.min() < 0 or idx.max() >= node.node_spanned_pages:
        bad = int(arr[(idx < 0) | (idx >= node.node_spanned_pages)][0])
        raise ValueError(f"pfns: {bad} is outside node {node.node_id} "
                         f"({base}..{base + node.node_spanned_pages - 1})")
    idx = np.sort(idx)
    if idx.size > 1 and (np.diff(idx) == 0).any():
        dup = int(idx[1:][np.diff(idx) == 0][0]) + base
        raise ValueError(f"pfns: {dup} is listed twice; each page can be freed once")
    ho = node.head_order[idx]
    if (ho != 0).any():
        bad = int(idx[ho != 0][0])
        raise ValueError(
            f"pfns: {bad + base} is not an allocated order-0 page (frame is "
            f"{frame_state_names[node._state[bad]]}, head order {node._head_order[bad]})")
    _free_checked(node, idx)


def _free_checked(node: Node, idx: np.ndarray) -> None:
    n_all = int(idx.size)
    node.machine.vm_events["pgfree"] += n_all
    zids = node.zone_id[idx]
    z0 = int(zids[0])
    if _one_value(zids, z0):
        groups = [(z0, idx)]
    else:
        groups = [(int(z), idx[zids == z]) for z in sorted_unique(zids)]
    for zid, zidx in groups:
        _free_zone_pages(node, node.zones[zid], zidx)


_NOT_BUDDY_BYTES = _KIND_BYTES[NOT_BUDDY]
_FREE_BYTES = _KIND_BYTES[FRAME_FREE]


def _free_checked_small(node: Node, idx: list[int]) -> bool:
    """:func:`_free_checked` for a short sorted list of frame indices, on Python ints.

    Same counts, frame states and buddy operations as ``_free_checked`` (one
    zone, contiguous runs freed with :func:`_free_runs`). Returns False, having
    changed nothing, when the pages are not all in one zone or the zone has
    Isolate pageblocks: the caller then takes the general path.
    """
    zid = node._zone_id
    z0 = zid[idx[0]]
    if idx[-1] - idx[0] == len(idx) - 1:  # sorted and distinct: one contiguous run
        starts = [idx[0]]
        ends = [idx[-1] + 1]
    else:
        starts = []
        ends = []
        it = iter(idx)
        a = prev = next(it)
        for i in it:
            if i != prev + 1:
                starts.append(a)
                ends.append(prev + 1)
                a = i
            prev = i
        starts.append(a)
        ends.append(prev + 1)
    for a, b in zip(starts, ends):
        if b - a > len(_FREE_BYTES) or zid.count(z0, a, b) != b - a:
            return False
    zone = node.zones[z0]
    if _has_isolate_pageblock(zone):
        return False
    n = len(idx)
    node.machine.vm_events["pgfree"] += n
    st = node._state
    ho = node._head_order
    nr_state = zone.nr_state
    base = node.node_start_pfn
    for a, b in zip(starts, ends):
        s0 = st[a]
        if st.count(s0, a, b) == b - a:
            nr_state[s0] -= b - a
        else:
            for s in st[a:b]:
                nr_state[s] -= 1
        st[a:b] = _FREE_BYTES[:b - a]
        ho[a:b] = _NOT_BUDDY_BYTES[:b - a]
    nr_state[FRAME_FREE] += n
    _free_runs(zone, [a + base for a in starts], [b + base for b in ends])
    return True


def _free_zone_pages(node: Node, zone: Zone, zidx: np.ndarray) -> None:
    """Free sorted frame indices of one zone: each contiguous run as aligned blocks.

    Freeing a run as its maximal aligned blocks gives the same buddy state as
    freeing its pages one by one, because merging does not depend on order.
    """
    n = int(zidx.size)
    old = node.state[zidx]
    s0 = int(old[0])
    if _one_value(old, s0):
        zone.nr_state[s0] -= n
    else:
        for s, c in zip(*np.unique(old, return_counts=True)):
            zone.nr_state[int(s)] -= int(c)
    node.state[zidx] = FRAME_FREE
    node.head_order[zidx] = NOT_BUDDY
    zone.nr_state[FRAME_FREE] += n
    base = node.node_start_pfn
    pf = zidx + base
    if _has_isolate_pageblock(zone):
        for pfn in pf.tolist():
            free_one_page(zone, pfn, 0, node.get_pageblock_migratetype(pfn))
        return
    if n == 1:
        starts, ends = [int(pf[0])], [int(pf[0]) + 1]
    else:
        brk = np.flatnonzero(np.diff(pf) != 1)
        starts = np.concatenate(([pf[0]], pf[brk + 1])).tolist()
        ends = np.concatenate((pf[brk] + 1, [pf[-1] + 1])).tolist()
    if _FAST_PATHS:
        _free_runs(zone, starts, ends)
        return
    pb_mt = node._pageblock_mt
    pb_base = node.pb_base
    top = MAX_ORDER - 1
    for s, e in zip(starts, ends):
        p = s
        while p < e:
            order = min(top, (p & -p).bit_length() - 1) if p else top
            while p + (1 << order) > e:
                order -= 1
            __free_one_page(zone, p, order, pb_mt[(p >> pageblock_order) - pb_base])
            p += 1 << order


def _free_runs(zone: Zone, starts: list[int], ends: list[int],
               mts: list[int] | None = None) -> None:
    """Free each run ``[s, e)`` of order-0 frames of ``zone`` as its maximal aligned blocks.

    Equivalent to, for every run and every block of it in ascending pfn order,
    ``__free_one_page(zone, pfn, order, mt)`` with ``mt`` the pageblock's
    migratetype, or ``mts[k]`` for run ``k`` when given (the frames'
    state must already be ``FRAME_FREE``), for a zone without Isolate pageblocks
    (``nr_isolate_pageblock`` 0: no Isolate check at the pageblock boundary).
    This is that loop with the merge, ``del_from_free_area`` and
    ``add_to_free_area`` written out on local variables: the same operations,
    in the same order, on the same lists - it is the reclaim and truncate hot
    path. ``benchmarks/fastpath_check.py`` compares the two on random layouts.
    Where the C extension was built, ``_buddy.free_runs`` (``mmsim/mm/_buddy.c``)
    runs the loop instead, with the same results.
    """
    if _buddy is not None and _FAST_PATHS:
        added, added_cma = _buddy.free_runs(zone, starts, ends, mts)
        zone.nr_free_pages += added
        if added_cma:
            zone.nr_free_cma += added_cma
        return
    node = zone.node
    base = node.node_start_pfn
    bo = node._buddy_order
    bmt = node._buddy_mt
    zid = node._zone_id
    nxt = node._nxt
    prv = node._prv
    head = zone._head
    tail_ = zone._tail
    nr_list = zone._nr_list
    nr_free = zone._nr_free
    my_zone = zone.idx
    zstart = zone.zone_start_pfn
    zend = zstart + zone.spanned_pages
    pb_mt = node._pageblock_mt
    pb_base = node.pb_base
    pb_order = pageblock_order
    top = MAX_ORDER - 1
    nil = NIL
    not_buddy = NOT_BUDDY
    isolate = MIGRATE_ISOLATE
    cma = MIGRATE_CMA
    added = 0
    added_cma = 0
    for k, (s, e) in enumerate(zip(starts, ends)):
        p = s
        while p < e:
            # the largest aligned block at p that fits: min(alignment, room), as a
            # decrement loop from the alignment would find it
            order = (p & -p).bit_length() - 1 if p else top
            room = (e - p).bit_length() - 1
            if room < order:
                order = room
            if order > top:
                order = top
            size = 1 << order
            mt = pb_mt[(p >> pb_order) - pb_base] if mts is None else mts[k]
            if mt != isolate:
                added += size
                if mt == cma:
                    added_cma += size
            pfn = p
            buddy_pfn = nil
            # merge: __free_one_page's loop, up to MAX_ORDER - 1 (no Isolate pageblock)
            while order < top:
                buddy_pfn = pfn ^ (1 << order)
                if not (zstart <= buddy_pfn < zend):
                    break
                j = buddy_pfn - base
                if bo[j] != order or zid[j] != my_zone:
                    break
                # del_from_free_area(zone, buddy_pfn, order)
                key = (order << 3) | bmt[j]
                n_, p_ = nxt[j], prv[j]
                if p_ == nil:
                    head[key] = n_
                else:
                    nxt[p_ - base] = n_
                if n_ == nil:
                    tail_[key] = p_
                else:
                    prv[n_ - base] = p_
                bo[j] = not_buddy
                nr_list[key] -= 1
                nr_free[order] -= 1
                pfn &= buddy_pfn
                order += 1
            # done_merging: tail if the next larger buddy is free too
            at_tail = False
            if order < top - 1 and buddy_pfn != nil:
                higher_buddy = (buddy_pfn & pfn) ^ (1 << (order + 1))
                if zstart <= higher_buddy < zend:
                    j = higher_buddy - base
                    at_tail = bo[j] == order + 1 and zid[j] == my_zone
            # add_to_free_area(zone, pfn, order, mt, at_tail)
            i = pfn - base
            key = (order << 3) | mt
            if at_tail:
                old = tail_[key]
                prv[i] = old
                nxt[i] = nil
                if old == nil:
                    head[key] = pfn
                else:
                    nxt[old - base] = pfn
                tail_[key] = pfn
            else:
                old = head[key]
                nxt[i] = old
                prv[i] = nil
                if old == nil:
                    tail_[key] = pfn
                else:
                    prv[old - base] = pfn
                head[key] = pfn
            bo[i] = order
            bmt[i] = mt
            nr_list[key] += 1
            nr_free[order] += 1
            p += size
    zone.nr_free_pages += added
    if added_cma:
        zone.nr_free_cma += added_cma


# ==========================================================================
# Boot: handing memory to the buddy allocator
# ==========================================================================
def free_range_at_boot(zone: Zone, start: int, end: int) -> None:
    """Free ``[start, end)`` as ``memblock_free_all`` → ``__free_pages_memory`` does.

    Kernel source: mm/memblock.c ``__free_pages_memory``,
    https://elixir.bootlin.com/linux/v5.0/ident/__free_pages_memory

    The range is cut into the largest aligned blocks (at most order 10) and
    each is freed with the buddy merge.
    """
    node = zone.node
    pfn = start
    while pfn < end:
        order = min(MAX_ORDER - 1, (pfn & -pfn).bit_length() - 1 if pfn else MAX_ORDER - 1)
        while pfn + (1 << order) > end:
            order -= 1
        _set_frames(node, zone, pfn, 1 << order, FRAME_FREE)
        mt = node.get_pageblock_migratetype(pfn)
        __free_one_page(zone, pfn, order, mt)
        node.machine.vm_events["pgfree"] += 1 << order  # __free_pages_core counts PGFREE
        pfn += 1 << order


__all__ = [
    "ALLOC_CMA",
    "ALLOC_CPUSET",
    "ALLOC_HARDER",
    "ALLOC_HIGH",
    "ALLOC_KSWAPD",
    "ALLOC_NOFRAGMENT",
    "ALLOC_NO_WATERMARKS",
    "ALLOC_OOM",
    "ALLOC_WMARK_HIGH",
    "ALLOC_WMARK_LOW",
    "ALLOC_WMARK_MASK",
    "ALLOC_WMARK_MIN",
    "FRAME_HOLE",
    "FRAME_RESERVED",
    "LRU_STATES",
    "alloc_pages",
    "alloc_pages_bulk",
    "boost_watermark",
    "drain_all_pages",
    "fallbacks",
    "free_pages",
    "free_pages_bulk",
    "init_per_zone_wmark_min",
    "migratetype_names",
    "setup_per_zone_lowmem_reserve",
    "setup_per_zone_wmarks",
    "zone_watermark_ok",
]
