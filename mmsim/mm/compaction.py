"""Compaction: making high-order free blocks out of scattered free pages.

When free memory exists but only in small pieces, an order-9 request (a
transparent huge page) fails although the zone is well above its watermarks.
Compaction fixes that by *moving* in-use movable pages: a migrate scanner
walks up from the start of the zone isolating movable pages, a free scanner
walks down from the end isolating free pages, and each movable page is copied
into a free one. The freed source pages merge in the buddy allocator into
large blocks at the bottom of the zone.

Before any work, ``compaction_suitable`` asks whether compaction can help:
SUCCESS if a suitable block already exists, SKIPPED if there is too little
free memory to work with (reclaim first) - and for costly orders also if the
*fragmentation index* says the failure is due to a lack of memory rather than
to fragmentation (index ≤ ``vm.extfrag_threshold``). Failed attempts are
*deferred*: after k failures in a row the next 2**k - 1 attempts are skipped.

kcompactd, one thread per node (``kcompactd`` below), is woken by kswapd when it is about to sleep
(for the order the allocations wanted), after a boosted reclaim run, and by
``wakeup_kswapd`` when kswapd is not needed; it runs one pass over the zones
per wake-up.

Kernel source: mm/compaction.c (v5.0), https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c

Simplifications
---------------
* No lock contention, ``need_resched`` or fatal signals: COMPACT_CONTENDED only
  comes from -ENOMEM before the scanners meet; no ``too_many_isolated`` wait.
* Pages under writeback are never isolated, even by MIGRATE_SYNC
  (compact_memory), which in the kernel would wait for the write to finish.
* Every allocated block of order > 0 is jumped over like a compound page
  (the kernel visits the pages of a non-``__GFP_COMP`` block one by one).
* No pinned anonymous pages, no non-LRU movable pages (balloon, zsmalloc),
  no CMA-specific isolation; see the individual functions for the rest.
* ``migrate_pages`` (mm/migrate.c) is reduced to what compaction uses: each
  page moves or the targets run out (-ENOMEM); it emits ``mm_migrate_pages``
  with reason ``compaction``.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import numpy as np

from mmsim.kthread import Run
from mmsim.mm import gfp as G
from mmsim.mm import page_alloc as _page_alloc
from mmsim.mm.mmzone import (
    FRAME_FILE,
    FRAME_FREE,
    FRAME_HOLE,
    FRAME_ISOLATED,
    MAX_NR_ZONES,
    MAX_ORDER,
    MIGRATE_CMA,
    MIGRATE_HIGHATOMIC,
    MIGRATE_ISOLATE,
    MIGRATE_MOVABLE,
    NIL,
    NOT_BUDDY,
    PAGE_ALLOC_COSTLY_ORDER,
    pageblock_nr_pages,
    pageblock_order,
)
from mmsim.mm.page_alloc import (
    ALLOC_CMA,
    ALLOC_WMARK_MASK,
    __zone_watermark_ok,
    del_from_free_area,
    find_suitable_fallback,
    free_order0_pages,
    zone_watermark_ok,
)
from mmsim.mm.swap import NO_LRU, PG_swapcache, PG_writeback, get_lruvec, lru_cache_add
from mmsim.mm.vmstat import fragmentation_index

if TYPE_CHECKING:  # pragma: no cover
    from mmsim.mm.mmzone import Machine, Node, Zone

Gen = Generator[Any, Any, Any]

# enum compact_result (include/linux/compaction.h): the order matters, callers take max()
COMPACT_NOT_SUITABLE_ZONE = 0
COMPACT_SKIPPED = 1
COMPACT_DEFERRED = 2
COMPACT_INACTIVE = COMPACT_DEFERRED
COMPACT_NO_SUITABLE_PAGE = 3
COMPACT_CONTINUE = 4
COMPACT_COMPLETE = 5
COMPACT_PARTIAL_SKIPPED = 6
COMPACT_CONTENDED = 7
COMPACT_SUCCESS = 8
compact_result_names = ("not_suitable_zone", "skipped", "deferred", "no_suitable_page",
                        "continue", "complete", "partial_skipped", "contended", "success")

# enum compact_priority
COMPACT_PRIO_SYNC_FULL = 0
MIN_COMPACT_PRIORITY = COMPACT_PRIO_SYNC_FULL
COMPACT_PRIO_SYNC_LIGHT = 1
MIN_COMPACT_COSTLY_PRIORITY = COMPACT_PRIO_SYNC_LIGHT
DEF_COMPACT_PRIORITY = COMPACT_PRIO_SYNC_LIGHT
COMPACT_PRIO_ASYNC = 2
INIT_COMPACT_PRIORITY = COMPACT_PRIO_ASYNC

COMPACT_MAX_DEFER_SHIFT = 6

#: the fast paths beside the readable code (same results; benchmarks/fastpath_check.py
#: sets it False for its reference)
_FAST_PATHS = True


def compact_gap(order: int) -> int:
    """Free pages compaction wants for room to work: ``2 << order``.

    >>> [compact_gap(o) for o in (0, 3, 9, 10)]
    [2, 16, 1024, 2048]
    """
    return 2 << order


def _trace(zone: Zone, event: str, **fields: object) -> None:
    tr = zone.node.machine.tracer
    if tr is not None:
        tr(event, nid=zone.node.node_id, zid=zone.idx, **fields)


# --------------------------------------------------------------------------
# Suitability
# --------------------------------------------------------------------------
def __compaction_suitable(zone: Zone, order: int, alloc_flags: int, classzone_idx: int,
                          wmark_target: int) -> int:
    """The watermark part of suitability (``__compaction_suitable``, L1424-1465).

    SUCCESS if the zone already passes ``wmark_pages(alloc_flags)`` for ``order``;
    SKIPPED unless free pages exceed low (order > 3) or min (else) plus
    ``compact_gap(order)`` at order 0; otherwise CONTINUE. All marks are boosted.
    """
    if order == -1:
        return COMPACT_CONTINUE
    watermark = zone.wmark_pages(alloc_flags & ALLOC_WMARK_MASK)
    if zone_watermark_ok(zone, order, watermark, classzone_idx, alloc_flags):
        return COMPACT_SUCCESS
    watermark = (zone.low_wmark_pages if order > PAGE_ALLOC_COSTLY_ORDER
                 else zone.min_wmark_pages)
    watermark += compact_gap(order)
    if not __zone_watermark_ok(zone, 0, watermark, classzone_idx, ALLOC_CMA, wmark_target):
        return COMPACT_SKIPPED
    return COMPACT_CONTINUE


def compaction_suitable_verdict(zone: Zone, order: int, alloc_flags: int,
                                classzone_idx: int) -> tuple[int, int | None]:
    """``compaction_suitable`` before the NOT_SUITABLE_ZONE → SKIPPED mapping.

    Returns ``(ret, fragindex)``; ``fragindex`` is None when it was not consulted.
    """
    ret = __compaction_suitable(zone, order, alloc_flags, classzone_idx, zone.nr_free_pages)
    fragindex = None
    if ret == COMPACT_CONTINUE and order > PAGE_ALLOC_COSTLY_ORDER:
        fragindex = fragmentation_index(zone, order)
        if 0 <= fragindex <= zone.node.machine.sysctl.extfrag_threshold:
            ret = COMPACT_NOT_SUITABLE_ZONE
    return ret, fragindex


def compaction_suitable(zone: Zone, order: int, alloc_flags: int, classzone_idx: int) -> int:
    """Can compaction help this zone for ``order``? (``compaction_suitable``, L1467-1503)

    Kernel source: https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L1467

    Emits ``mm_compaction_suitable`` (where NOT_SUITABLE_ZONE is still visible)
    and returns SUCCESS, CONTINUE or SKIPPED.

    Examples
    --------
    >>> from mmsim import Node
    >>> z = Node.build(zones={"Normal": "64MiB"}).zone("Normal")
    >>> compaction_suitable(z, 9, 0, z.idx) == COMPACT_SUCCESS   # fresh zone: order-9 blocks
    True
    """
    ret, _ = compaction_suitable_verdict(zone, order, alloc_flags, classzone_idx)
    _trace(zone, "mm_compaction_suitable", order=order, ret=compact_result_names[ret])
    if ret == COMPACT_NOT_SUITABLE_ZONE:
        ret = COMPACT_SKIPPED
    return ret


# --------------------------------------------------------------------------
# Deferral
# --------------------------------------------------------------------------
def _defer_fields(zone: Zone, order: int) -> dict[str, int]:
    return dict(order=order, order_failed=zone.compact_order_failed,
                consider=zone.compact_considered, limit=1 << zone.compact_defer_shift)


def defer_compaction(zone: Zone, order: int) -> None:
    """Back off after a failure (``defer_compaction``, L142-154)."""
    zone.compact_considered = 0
    zone.compact_defer_shift += 1
    if order < zone.compact_order_failed:
        zone.compact_order_failed = order
    if zone.compact_defer_shift > COMPACT_MAX_DEFER_SHIFT:
        zone.compact_defer_shift = COMPACT_MAX_DEFER_SHIFT
    _trace(zone, "mm_compaction_defer_compaction", **_defer_fields(zone, order))


def compaction_deferred(zone: Zone, order: int) -> bool:
    """Should this attempt be skipped? (``compaction_deferred``, L157-174)

    Examples
    --------
    The golden ``defer_sequence_basic``: after one failure every other call runs.

    >>> from mmsim import Node
    >>> z = Node.build(zones={"Normal": 1024}).zone("Normal")
    >>> compaction_deferred(z, 9); defer_compaction(z, 9)
    False
    >>> [compaction_deferred(z, 9) for _ in range(3)]
    [True, False, False]
    """
    limit = 1 << zone.compact_defer_shift
    if order < zone.compact_order_failed:
        return False
    zone.compact_considered += 1
    if zone.compact_considered >= limit:
        zone.compact_considered = limit
    if zone.compact_considered >= limit:
        return False
    _trace(zone, "mm_compaction_deferred", **_defer_fields(zone, order))
    return True


def compaction_defer_reset(zone: Zone, order: int, alloc_success: bool) -> None:
    """After a success (``compaction_defer_reset``, L181-192)."""
    if alloc_success:
        zone.compact_considered = 0
        zone.compact_defer_shift = 0
    if order >= zone.compact_order_failed:
        zone.compact_order_failed = order + 1
    _trace(zone, "mm_compaction_defer_reset", **_defer_fields(zone, order))


def compaction_restarting(zone: Zone, order: int) -> bool:
    """Maximum deferral reached: time to clear skip bits (L195-202)."""
    if order < zone.compact_order_failed:
        return False
    return (zone.compact_defer_shift == COMPACT_MAX_DEFER_SHIFT
            and zone.compact_considered >= 1 << zone.compact_defer_shift)


# --------------------------------------------------------------------------
# kcompactd wake-up side (the thread itself, ``kcompactd``, is further down)
# --------------------------------------------------------------------------
def kcompactd_node_suitable(pgdat: Node) -> bool:
    """Would a kcompactd pass find a zone to compact? (L1920-1938)"""
    classzone_idx = pgdat.kcompactd_classzone_idx
    for zoneid in range(classzone_idx + 1):
        zone = pgdat.zones[zoneid]
        if not zone.populated_zone():
            continue
        if compaction_suitable(zone, pgdat.kcompactd_max_order, 0,
                               classzone_idx) == COMPACT_CONTINUE:
            return True
    return False


def wakeup_kcompactd(pgdat: Node, order: int, classzone_idx: int) -> None:
    """Record a compaction request and wake a sleeping kcompactd (L2025-2049).

    Kernel source: https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L2025

    Order 0 is ignored; the request keeps the highest order and the *lowest*
    classzone; only a kcompactd sleeping on ``kcompactd_wait`` is woken, and
    only if ``kcompactd_node_suitable``. kcompactd waits with
    ``wait_event_freezable``, whose entry wakes through
    ``autoremove_wake_function``: the woken task leaves the queue at once, so
    a second call before it runs finds no sleeper.
    """
    from mmsim.kthread import waitqueue_active, wake_up_interruptible

    if not order:
        return
    if pgdat.kcompactd_max_order < order:
        pgdat.kcompactd_max_order = order
    if pgdat.kcompactd_classzone_idx > classzone_idx:
        pgdat.kcompactd_classzone_idx = classzone_idx
    wq = getattr(pgdat, "kcompactd_wait", None)
    if wq is None or not waitqueue_active(wq):
        return
    if not kcompactd_node_suitable(pgdat):
        return
    tr = pgdat.machine.tracer
    if tr is not None:
        tr("mm_compaction_wakeup_kcompactd", nid=pgdat.node_id, order=order,
           classzone_idx=classzone_idx)
    wake_up_interruptible(wq)  # autoremove: the woken kcompactd leaves the queue


def reset_isolation_suitable(pgdat: Node) -> None:
    """Clear skip bits of zones whose ``compact_blockskip_flush`` is set (L273-286)."""
    for zone in pgdat.zones:
        if not zone.populated_zone():
            continue
        if zone.compact_blockskip_flush:
            __reset_isolation_suitable(zone)


def __reset_isolation_suitable(zone: Zone) -> None:
    """Clear the zone's skip bits and reset the cached scanner positions (L245-271).

    The walk goes from ``zone_start_pfn`` in steps of ``pageblock_nr_pages``
    and clears the bit of each step's pageblock - except where the step's page
    belongs to a compound page of ``pageblock_order`` or more
    (``pageblock_skip_persistent``: a THP-sized block stays skipped, since
    neither scanner can use it). Here any allocated block of such an order
    counts as compound (see the module's Simplifications).
    """
    node = zone.node
    zone.compact_blockskip_flush = False
    if zone.spanned_pages:
        base = node.node_start_pfn
        pfns = np.arange(zone.zone_start_pfn, zone.zone_end_pfn, pageblock_nr_pages,
                         dtype=np.int64)
        keep = np.zeros(pfns.size, dtype=bool)
        ho = node.head_order
        for order in range(pageblock_order, MAX_ORDER):
            heads = pfns & ~np.int64((1 << order) - 1)
            inside = heads >= base
            idx = np.where(inside, heads - base, 0)
            keep |= inside & (ho[idx] == order)
        pbs = (pfns[~keep] >> pageblock_order) - node.pb_base
        node.pageblock_skip[pbs] = 0
    reset_cached_positions(zone)


def reset_cached_positions(zone: Zone) -> None:
    """Scanners back to the zone ends (L214-220)."""
    from mmsim.mm.mmzone import pageblock_nr_pages

    zone.compact_cached_migrate_pfn = [zone.zone_start_pfn, zone.zone_start_pfn]
    end = zone.zone_end_pfn
    zone.compact_cached_free_pfn = (end - 1) & ~(pageblock_nr_pages - 1) if end else 0



# --------------------------------------------------------------------------
# compact_zone and its two scanners
# --------------------------------------------------------------------------
MIGRATE_ASYNC = 0
MIGRATE_SYNC_LIGHT = 1
MIGRATE_SYNC = 2
#: ``MIGRATE_MODE`` of include/trace/events/migrate.h
migrate_mode_names = ("MIGRATE_ASYNC", "MIGRATE_SYNC_LIGHT", "MIGRATE_SYNC")
COMPACT_CLUSTER_MAX = 32
ISOLATE_ABORT, ISOLATE_NONE, ISOLATE_SUCCESS = range(3)


class CompactControl:
    """``struct compact_control``: one compaction request and its scanners' state."""

    def __init__(self, order: int, gfp_mask: int, mode: int, *, alloc_flags: int = 0,
                 classzone_idx: int = MAX_NR_ZONES - 1, direct_compaction: bool = False,
                 whole_zone: bool = False, ignore_skip_hint: bool = False,
                 ignore_block_suitable: bool = False):
        from mmsim.mm.gfp import gfpflags_to_migratetype

        self.order = order
        self.gfp_mask = gfp_mask
        self.migratetype = gfpflags_to_migratetype(gfp_mask)
        self.mode = mode
        self.alloc_flags = alloc_flags
        self.classzone_idx = classzone_idx
        self.direct_compaction = direct_compaction
        self.whole_zone = whole_zone
        self.ignore_skip_hint = ignore_skip_hint
        self.ignore_block_suitable = ignore_block_suitable
        self.zone: Zone | None = None
        self.migrate_pfn = 0
        self.free_pfn = 0
        self.migratepages: list[int] = []
        self.freepages: list[int] = []  # order-0 target pfns, next to use at the end
        self.nr_migratepages = 0
        self.nr_freepages = 0
        self.total_migrate_scanned = 0
        self.total_free_scanned = 0
        self.contended = False
        self.finishing_block = False
        self.last_migrated_pfn = 0
        self._src_lru: list[int] = []  # the LRU list of each page of migratepages
        self.freepages_blocks: list[tuple[int, int]] = []
        self.cost_ns = 0

    @property
    def sync(self) -> bool:
        return self.mode != MIGRATE_ASYNC


def pageblock_start_pfn(pfn: int) -> int:
    return pfn & ~(pageblock_nr_pages - 1)


def pageblock_end_pfn(pfn: int) -> int:
    return pageblock_start_pfn(pfn) + pageblock_nr_pages


def compact_scanners_met(cc: CompactControl) -> bool:
    """Have the scanners reached the same pageblock? (L1057-1061)"""
    return (cc.free_pfn >> pageblock_order) <= (cc.migrate_pfn >> pageblock_order)


def pageblock_pfn_to_page(zone: Zone, start_pfn: int, end_pfn: int) -> int | None:
    """The block's first pfn if ``[start, end)`` is valid memory entirely in ``zone``."""
    node = zone.node
    base = node.node_start_pfn
    last = end_pfn - 1
    if start_pfn < zone.zone_start_pfn or last >= zone.zone_end_pfn or last < start_pfn:
        return None
    st = node._state
    if st[start_pfn - base] == FRAME_HOLE or st[last - base] == FRAME_HOLE:
        return None
    return start_pfn


def isolation_suitable(cc: CompactControl, pfn: int) -> bool:
    """Skip bit clear, or skip hints ignored (L205-212)."""
    if cc.ignore_skip_hint:
        return True
    node = cc.zone.node
    return not node._pageblock_skip[(pfn >> pageblock_order) - node.pb_base]


def update_pageblock_skip(cc: CompactControl, pfn: int | None, nr_isolated: int,
                          migrate_scanner: bool) -> None:
    """Set the skip bit of a block that yielded nothing; move the cached position (L292-323)."""
    if pfn is None or nr_isolated:
        return
    zone = cc.zone
    node = zone.node
    node._pageblock_skip[(pfn >> pageblock_order) - node.pb_base] = 1
    if migrate_scanner:
        if pfn > zone.compact_cached_migrate_pfn[0]:
            zone.compact_cached_migrate_pfn[0] = pfn
        if cc.mode != MIGRATE_ASYNC and pfn > zone.compact_cached_migrate_pfn[1]:
            zone.compact_cached_migrate_pfn[1] = pfn
    elif pfn < zone.compact_cached_free_pfn:
        zone.compact_cached_free_pfn = pfn


def suitable_migration_source(cc: CompactControl, pfn: int) -> bool:
    """Async direct compaction only migrates from blocks of its own kind (L1011-1025)."""
    if cc.mode != MIGRATE_ASYNC or not cc.direct_compaction:
        return True
    mt = cc.zone.node.get_pageblock_migratetype(pfn)
    if cc.migratetype == MIGRATE_MOVABLE:
        return mt in (MIGRATE_MOVABLE, MIGRATE_CMA)
    return mt == cc.migratetype


def suitable_migration_target(cc: CompactControl, pfn: int) -> bool:
    """Targets come only from Movable/CMA blocks, never a free pageblock (L1028-1051)."""
    node = cc.zone.node
    bo = node._buddy_order[pfn - node.node_start_pfn]
    if bo != NOT_BUDDY and bo >= pageblock_order:
        return False
    if cc.ignore_block_suitable:
        return True
    return node.get_pageblock_migratetype(pfn) in (MIGRATE_MOVABLE, MIGRATE_CMA)


#: order bytes of blocks without tails: 0 and NOT_BUDDY (for ``bytearray.translate``)
_NO_TAILS = bytes([0, NOT_BUDDY])


def _skip_cover(node: Node, lo: int, hi: int) -> np.ndarray:
    """Frames of ``[lo, hi)`` that a scanner jumps over (tails of free / compound blocks).

    Only blocks whose head lies in the range count: a scan that starts inside a
    block visits its tail pages one by one, as the kernel does.
    """
    base = node.node_start_pfn
    n = hi - lo
    if _FAST_PATHS and not node._buddy_order[lo - base:hi - base].translate(None, _NO_TAILS) \
            and not node._head_order[lo - base:hi - base].translate(None, _NO_TAILS):
        return np.zeros(n, dtype=bool)  # only order-0 heads and non-heads: nothing to jump
    starts = []
    ends = []
    for arr in (node.buddy_order, node.head_order):
        seg = arr[lo - base:hi - base]
        heads = ((seg != NOT_BUDDY) & (seg > 0)).nonzero()[0]
        if heads.size:
            starts.append(heads + 1)
            ends.append(np.minimum(heads + (np.int64(1) << seg[heads].astype(np.int64)), n))
    if not starts:
        return np.zeros(n, dtype=bool)
    # blocks never overlap: +1 after each head, -1 at each end, running sum > 0 = a tail
    cover = np.bincount(np.concatenate(starts), minlength=n + 1)
    cover -= np.bincount(np.concatenate(ends), minlength=n + 1)
    return np.cumsum(cover[:n]) > 0


def isolate_migratepages_block(cc: CompactControl, low_pfn: int, end_pfn: int) -> int:
    """Isolate up to 32 movable LRU pages from ``[low_pfn, end_pfn)`` (L692-960).

    Visits pfns upward: free blocks and compound (high-order) pages are jumped
    over, non-LRU pages fail, LRU pages are taken off their list (pages under
    writeback are refused: mmsim never waits for writeback in compaction).
    Async *direct* compaction works "skip on failure": in each
    ``2**order``-aligned chunk a failure puts back what the chunk isolated
    and jumps to the next chunk, and a chunk that isolated something without
    failing ends the call. Records ``cc.last_migrated_pfn`` (the first page
    isolated since the last drain). Returns the pfn where it stopped.
    """
    zone = cc.zone
    node = zone.node
    base = node.node_start_pfn
    lv = get_lruvec(node)
    lo, hi = low_pfn, end_pfn
    want = COMPACT_CLUSTER_MAX - cc.nr_migratepages
    skip_on_failure = cc.direct_compaction and cc.mode == MIGRATE_ASYNC
    putback = _EMPTY
    # The walk stops at the 32nd isolated page; what it sees up to there only depends on
    # the frames up to there, so look at a window first and widen it if it was too short.
    win = hi - lo if skip_on_failure else min(hi - lo, 4 * want + 64)
    while True:
        whi = lo + win
        visited, ok = _migrate_candidates(cc, lv, lo, whi)
        if skip_on_failure:
            took, low_pfn, nr_scanned, putback = _skip_on_failure_scan(cc, lo, whi, visited,
                                                                       ok, want)
            break
        cum = np.cumsum(ok)
        if cum.size and cum[-1] >= want:
            stop = int(np.searchsorted(cum, want)) + 1  # one past the last isolated pfn
        elif whi < hi:
            win = min(hi - lo, 4 * win)
            continue
        else:
            stop = win
        took = ok[:stop].nonzero()[0] + lo
        nr_scanned = int(np.count_nonzero(visited[:stop]))
        # the last visited frame may head a free block reaching past the end
        low_pfn = lo + stop
        break
    if putback.size:
        # isolated, then put back (putback_movable_pages): back to the head of their lists
        lrus = lv.lru[putback - base]
        lv.remove(putback)
        for p, lru in zip(putback.tolist(), lrus.tolist()):
            lru_cache_add(node, np.array([p], dtype=np.int64), lru)
        cc.last_migrated_pfn = 0
    nr_isolated = int(took.size)
    if nr_isolated:
        if not cc.last_migrated_pfn:
            # "if (!cc->last_migrated_pfn) cc->last_migrated_pfn = low_pfn": an isolated
            # pfn 0 leaves it unset, so the next isolated page records itself
            nz = took[took != 0]
            cc.last_migrated_pfn = int(nz[0]) if nz.size else 0
        cc._src_lru.extend(lv.lru[took - base].tolist())
        lv.remove(took)
        cc.migratepages.extend(took.tolist())
        cc.nr_migratepages += nr_isolated
        _node_isolated(node, nr_isolated)
    if low_pfn == end_pfn:
        valid = (node.state[lo - base:hi - base] != FRAME_HOLE).nonzero()[0]
        first_valid = lo + int(valid[0]) if valid.size else None
        update_pageblock_skip(cc, first_valid, nr_isolated, True)
    tr = node.machine.tracer
    if tr is not None:
        tr("mm_compaction_isolate_migratepages", start_pfn=lo, end_pfn=low_pfn,
           nr_scanned=nr_scanned, nr_taken=nr_isolated)
    cc.total_migrate_scanned += nr_scanned
    cc.cost_ns += nr_scanned * node.machine.cost.compact_scan_ns
    if nr_isolated:
        node.machine.vm_events["compact_isolated"] += nr_isolated
    return low_pfn


_EMPTY = np.empty(0, dtype=np.int64)


def _migrate_candidates(cc: CompactControl, lv: Any, lo: int, hi: int) -> tuple[np.ndarray,
                                                                                np.ndarray]:
    """For ``[lo, hi)``: the pfns the walk visits, and those it can isolate.

    Visited: not a tail of a free or compound block whose head is in the
    range, not a hole. Isolatable: visited and on an LRU list, not under
    writeback, and without ``__GFP_FS`` no page that has a mapping (page cache,
    or anonymous in the swap cache: ``page_mapping(page)``).
    """
    node = cc.zone.node
    base = node.node_start_pfn
    a, b = lo - base, hi - base
    states = node.state[a:b]
    visited = ~_skip_cover(node, lo, hi) & (states != FRAME_HOLE)
    ok = visited & (lv.lru[a:b] != NO_LRU) & ((lv.flags[a:b] & PG_writeback) == 0)
    if not cc.gfp_mask & G.__GFP_FS:
        # page_mapping(page) != NULL: page cache, and anonymous pages in the swap cache
        ok &= (states != FRAME_FILE) & ((lv.flags[a:b] & PG_swapcache) == 0)
    return visited, ok


def _skip_on_failure_scan(cc: CompactControl, lo: int, hi: int, visited: np.ndarray,
                          ok: np.ndarray, want: int) -> tuple[np.ndarray, int, int, np.ndarray]:
    """The ``skip_on_failure`` walk of async direct compaction (L731-735, L905-930).

    Works in chunks aligned to ``2**cc.order``: a free page is skipped
    (no failure); any other page that cannot be isolated is a failure that
    puts back what the chunk isolated and jumps to the chunk's end, so the
    rest of the chunk is not scanned. The first chunk that keeps an isolated
    page ends the walk at its end (or at the 32nd page). Returns
    ``(isolated pfns, low_pfn, nr_scanned, pfns isolated and put back)``.
    """
    node = cc.zone.node
    base = node.node_start_pfn
    e_pos = visited.nonzero()[0]
    m = int(e_pos.size)
    if not m:
        return _EMPTY, hi, 0, _EMPTY
    e_ok = ok[e_pos]
    e_buddy = node.buddy_order[lo - base + e_pos] != NOT_BUDDY
    e_fail = ~e_ok & ~e_buddy
    e_chunk = (e_pos + lo) >> cc.order
    starts = (np.concatenate(([True], e_chunk[1:] != e_chunk[:-1]))).nonzero()[0]
    ends = np.append(starts[1:], m)
    idx = np.arange(m)
    first_fail = np.minimum.reduceat(np.where(e_fail, idx, m), starts)
    has_fail = first_fail < ends
    limit = np.where(has_fail, first_fail, ends)  # entries that may isolate: [start, limit)
    ok_cum = np.concatenate(([0], np.cumsum(e_ok)))
    ok_before = ok_cum[limit] - ok_cum[starts]
    kept = (ok_before >= want) | (~has_fail & (ok_before > 0))
    scanned_len = np.where(has_fail, first_fail + 1, ends) - starts
    k_all = kept.nonzero()[0]
    nchunks = int(starts.size) if not k_all.size else int(k_all[0])
    # chunks before the kept one: isolated pages before a failure are put back
    # (putback_movable_pages walks cc->migratepages from its head: newest first)
    pb = [e_pos[starts[j]:limit[j]][e_ok[starts[j]:limit[j]]][::-1]
          for j in (has_fail[:nchunks] & (ok_before[:nchunks] > 0)).nonzero()[0].tolist()]
    putback = np.concatenate(pb) + lo if pb else _EMPTY
    nr_scanned = int(scanned_len[:nchunks].sum())
    if not k_all.size:
        return _EMPTY, hi, nr_scanned, putback
    k = nchunks
    s, t = int(starts[k]), int(limit[k])
    oks = e_ok[s:t].nonzero()[0] + s
    if ok_before[k] >= want:
        q = int(oks[want - 1])
        took = e_pos[oks[:want]] + lo
        return took, lo + int(e_pos[q]) + 1, nr_scanned + q + 1 - s, putback
    took = e_pos[oks] + lo
    last = int(e_pos[int(ends[k]) - 1]) + lo
    span = 1
    for arr in (node._buddy_order, node._head_order):
        o = arr[last - base]
        if o != NOT_BUDDY and o > 0:
            span = 1 << o
    chunk_end = ((last >> cc.order) + 1) << cc.order
    low_pfn = min(hi, max(last + span, chunk_end))
    return took, low_pfn, nr_scanned + int(ends[k]) - s, putback


def _node_isolated(node: Node, n: int) -> None:
    node.node_stat["nr_isolated_compaction"] = node.node_stat.get("nr_isolated_compaction", 0) + n


def isolate_migratepages(zone: Zone, cc: CompactControl) -> int:
    """The migrate scanner: scan upward for one suitable pageblock (L1225-1302)."""
    low_pfn = cc.migrate_pfn
    block_start = max(pageblock_start_pfn(low_pfn), zone.zone_start_pfn)
    block_end = pageblock_end_pfn(low_pfn)
    while block_end <= cc.free_pfn:
        first = pageblock_pfn_to_page(zone, block_start, block_end)
        if first is not None and isolation_suitable(cc, first) and \
                suitable_migration_source(cc, first):
            low_pfn = isolate_migratepages_block(cc, low_pfn, block_end)
            if cc.contended:
                return ISOLATE_ABORT
            break
        low_pfn = block_end
        block_start = block_end
        block_end += pageblock_nr_pages
    cc.migrate_pfn = low_pfn
    return ISOLATE_SUCCESS if cc.nr_migratepages else ISOLATE_NONE


def __isolate_free_page(zone: Zone, pfn: int, order: int) -> int:
    """Take a free block for compaction if the zone stays above min + 2**order (page_alloc.c)."""
    node = zone.node
    mt = node._pageblock_mt[(pfn >> pageblock_order) - node.pb_base]
    if mt != MIGRATE_ISOLATE:
        watermark = zone.min_wmark_pages + (1 << order)
        # zone_watermark_ok(zone, 0, watermark, 0, ALLOC_CMA) without re-checking arguments
        if not __zone_watermark_ok(zone, 0, watermark, 0, ALLOC_CMA, zone.nr_free_pages):
            return 0
    return _take_free_block(zone, pfn, order)


def _watermark_holds(cc: CompactControl, zone: Zone, lo: int, heads: list[int],
                     want: int) -> bool:
    """Would every ``__isolate_free_page`` watermark check of this walk pass?

    The walk takes the blocks at ``heads`` in order until ``nr_freepages``
    reaches ``want``. Each check is ``zone_watermark_ok(zone, 0, min + 2**order,
    0, ALLOC_CMA)`` on the free pages left at that point; it is monotone (less
    free or a higher mark can only fail), so if the check passes with the free
    pages left before the *last* block and the mark of the *largest* block, all
    checks pass and they need not be made one by one.
    """
    if not heads:
        return True
    bo = zone.node._buddy_order
    got = cc.nr_freepages
    taken = 0
    top = 0
    last = 0
    for h in heads:
        o = bo[lo + h]
        size = 1 << o
        if o > top:
            top = o
        taken += size
        last = size
        got += size
        if want <= got:
            break
    free_before_last = zone.nr_free_pages - (taken - last)
    return __zone_watermark_ok(zone, 0, zone.min_wmark_pages + (1 << top), 0, ALLOC_CMA,
                               free_before_last)


def _take_free_block(zone: Zone, pfn: int, order: int) -> int:
    """``__isolate_free_page`` after its watermark check: off the free list, re-type."""
    node = zone.node
    mt = node._pageblock_mt[(pfn >> pageblock_order) - node.pb_base]
    if mt != MIGRATE_ISOLATE:
        zone.nr_free_pages -= 1 << order
    list_mt = del_from_free_area(zone, pfn, order)
    if list_mt == MIGRATE_CMA:
        zone.nr_free_cma -= 1 << order
    if order >= pageblock_order - 1:
        for pb in range(pfn, pfn + (1 << order) - 1, pageblock_nr_pages):
            bmt = node.get_pageblock_migratetype(pb)
            if bmt not in (MIGRATE_ISOLATE, MIGRATE_CMA, MIGRATE_HIGHATOMIC):
                node.set_pageblock_migratetype(pb, MIGRATE_MOVABLE)
    return 1 << order


def _take_heads(cc: CompactControl, zone: Zone, start_pfn: int, heads: list[int], n: int,
                taken: list[tuple[int, int]]) -> tuple[int, int, int]:
    """The free walk's loop once every watermark check is known to pass.

    For each free block at ``start_pfn + h`` (``h`` in ``heads``, in walk
    order) :func:`_take_free_block`, until ``cc.nr_freepages`` reaches
    ``cc.nr_migratepages``; blocks below ``pageblock_order - 1`` are unlinked
    here on local variables (``del_from_free_area`` written out). Marks the
    block's frames ``FRAME_ISOLATED`` and appends ``(pfn, order)`` to
    ``taken``; returns ``(pages isolated, tail pages jumped over, offset where
    the walk stopped)``. ``_buddy.take_heads`` is the compiled twin.
    """
    compiled = _page_alloc._buddy
    if compiled is not None:
        total, jumped, stop, got, nr_free_pages, cma = compiled.take_heads(
            zone, start_pfn, heads, n, cc.nr_migratepages, cc.nr_freepages, taken,
            lambda pfn, order: _take_free_block(zone, pfn, order), FRAME_ISOLATED)
        zone.nr_free_pages -= nr_free_pages
        zone.nr_free_cma -= cma
        cc.nr_freepages = got
        return total, jumped, stop
    node = zone.node
    base = node.node_start_pfn
    lo = start_pfn - base
    bo = node._buddy_order
    bmt = node._buddy_mt
    nxt = node._nxt
    prv = node._prv
    pb_mt = node._pageblock_mt
    pb_base = node.pb_base
    head = zone._head
    tail_ = zone._tail
    nr_list = zone._nr_list
    nr_free = zone._nr_free
    nil = NIL
    not_buddy = NOT_BUDDY
    st = node._state
    isolated = FRAME_ISOLATED
    big = pageblock_order - 1
    want = cc.nr_migratepages
    got = cc.nr_freepages
    total = 0
    jumped = 0
    stop = n
    nr_free_pages = 0
    cma = 0
    for h in heads:
        i = lo + h
        order = bo[i]
        if order >= big:
            size = _take_free_block(zone, start_pfn + h, order)
        else:
            size = 1 << order
            if pb_mt[((start_pfn + h) >> pageblock_order) - pb_base] != MIGRATE_ISOLATE:
                nr_free_pages += size
            mt = bmt[i]
            key = (order << 3) | mt
            n_, p_ = nxt[i], prv[i]
            if p_ == nil:
                head[key] = n_
            else:
                nxt[p_ - base] = n_
            if n_ == nil:
                tail_[key] = p_
            else:
                prv[n_ - base] = p_
            bo[i] = not_buddy
            nr_list[key] -= 1
            nr_free[order] -= 1
            if mt == MIGRATE_CMA:
                cma += size
        if order:
            st[i:i + size] = _ISOLATED_RUN[:size]
        else:
            st[i] = isolated
        taken.append((start_pfn + h, order))
        total += size
        if order:
            jumped += min(h + size, n) - h - 1
        got += size
        if want <= got:
            stop = h + size
            break
    zone.nr_free_pages -= nr_free_pages
    zone.nr_free_cma -= cma
    cc.nr_freepages = got
    return total, jumped, stop


def isolate_freepages_block(cc: CompactControl, start_pfn: int, end_pfn: int) -> int:
    """Grab free blocks in ``[start_pfn, end_pfn)`` until there are enough targets (L434-576).

    The kernel walks every pfn (``nr_scanned++`` each): holes and pages in use
    are passed over one by one, a compound page is jumped over, a free block
    is isolated whole (``__isolate_free_page``) and jumped over. The walk
    stops when ``nr_freepages >= nr_migratepages`` or when a block cannot be
    isolated (watermark). Here numpy finds the free-block heads and the
    compound pages of the range; only the heads are visited in Python, and
    the scanned count is the span walked minus the pages jumped over.
    Returns where it stopped.
    """
    zone = cc.zone
    node = zone.node
    base = node.node_start_pfn
    lo, hi = start_pfn - base, end_pfn - base
    total_isolated = 0
    isolated_blocks: list[tuple[int, int]] = []
    bo_seg = node.buddy_order[lo:hi]
    ho_seg = node.head_order[lo:hi]
    if _FAST_PATHS and not node._head_order[lo:hi].translate(None, _NO_TAILS):
        comp = _EMPTY  # no compound page heads here
    else:
        comp = ((ho_seg != NOT_BUDDY) & (ho_seg > 0)).nonzero()[0]
    heads = (bo_seg != NOT_BUDDY).nonzero()[0]
    if comp.size:  # free blocks can't sit inside a compound page; keep order of the walk
        heads = heads[~_inside(comp, ho_seg[comp], heads)]
    n = hi - lo
    stop = n  # offset where the walk ends
    failed = False
    jumped = 0  # tails jumped over: isolated free blocks, compound pages
    bo = node._buddy_order
    want = cc.nr_migratepages
    # each block gives at least one page: the walk ends by the (want - got)th head
    heads_l = heads[:max(1, want - cc.nr_freepages)].tolist()
    # every watermark check of the walk passes if it passes with the fewest free pages
    # and the highest mark the walk can reach; else ask about this walk's own blocks
    fast = (_FAST_PATHS and __zone_watermark_ok(
        zone, 0, zone.min_wmark_pages + (1 << (MAX_ORDER - 1)), 0, ALLOC_CMA,
        zone.nr_free_pages - want)) or _watermark_holds(cc, zone, lo, heads_l, want)
    if fast and _FAST_PATHS:
        total_isolated, jumped, stop = _take_heads(cc, zone, start_pfn, heads_l, n,
                                                   cc.freepages_blocks)
    else:
        for h in heads_l:
            order = bo[lo + h]
            isolated = (_take_free_block(zone, start_pfn + h, order) if fast
                        else __isolate_free_page(zone, start_pfn + h, order))
            if not isolated:
                stop = h  # break: blockpfn stays on this head, which was scanned
                failed = True
                break
            isolated_blocks.append((h, order))
            total_isolated += isolated
            if order:
                jumped += min(h + isolated, n) - h - 1
            cc.nr_freepages += isolated
            if want <= cc.nr_freepages:
                stop = h + isolated
                break
    walked = min(stop, n)
    if comp.size:
        seen = comp[comp < walked]
        if seen.size:
            c_end = np.minimum(seen + (np.int64(1) << ho_seg[seen].astype(np.int64)), n)
            jumped += int((c_end - seen - 1).sum())
    nr_scanned = walked + failed - jumped
    pfn = start_pfn + walked
    valid_page = None
    if walked == n:  # only then is the skip hint updated
        valid = (node.state[lo:hi] != FRAME_HOLE).nonzero()[0]
        valid_page = start_pfn + int(valid[0]) if valid.size else None
    if isolated_blocks:  # the walk with watermark checks: mark what it took
        st = node._state
        out = cc.freepages_blocks
        for h, order in isolated_blocks:
            b = lo + h
            if order:
                st[b:b + (1 << order)] = _ISOLATED_RUN[:1 << order]
            else:
                st[b] = FRAME_ISOLATED
            out.append((start_pfn + h, order))
    if total_isolated:
        zone.nr_state[FRAME_FREE] -= total_isolated
        zone.nr_state[FRAME_ISOLATED] += total_isolated
    tr = node.machine.tracer
    if tr is not None:
        tr("mm_compaction_isolate_freepages", start_pfn=start_pfn, end_pfn=pfn,
           nr_scanned=nr_scanned, nr_taken=total_isolated)
    if pfn == end_pfn:
        update_pageblock_skip(cc, valid_page, total_isolated, False)
    cc.total_free_scanned += nr_scanned
    cc.cost_ns += nr_scanned * node.machine.cost.compact_scan_ns
    if total_isolated:
        node.machine.vm_events["compact_isolated"] += total_isolated
    return pfn


#: a run of FRAME_ISOLATED bytes as long as the largest block, for slice assignment
_ISOLATED_RUN = bytes([FRAME_ISOLATED]) * (1 << (MAX_ORDER - 1))


def _inside(heads: np.ndarray, orders: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Which ``pos`` lie strictly inside one of the blocks ``[head, head + 2**order)``."""
    ends = heads + (np.int64(1) << orders.astype(np.int64))
    k = np.searchsorted(heads, pos, side="right") - 1
    ok = k >= 0
    out = np.zeros(pos.size, dtype=bool)
    out[ok] = (pos[ok] > heads[k[ok]]) & (pos[ok] < ends[k[ok]])
    return out


def isolate_freepages(cc: CompactControl) -> None:
    """The free scanner: walk down from ``cc.free_pfn`` one pageblock at a time (L1067-1163)."""
    zone = cc.zone
    cc.freepages_blocks = []
    isolate_start_pfn = cc.free_pfn
    block_start = pageblock_start_pfn(cc.free_pfn)
    block_end = min(block_start + pageblock_nr_pages, zone.zone_end_pfn)
    low_pfn = pageblock_end_pfn(cc.migrate_pfn)
    while block_start >= low_pfn:
        first = pageblock_pfn_to_page(zone, block_start, block_end)
        if first is not None and suitable_migration_target(cc, first) and \
                isolation_suitable(cc, first):
            isolate_start_pfn = isolate_freepages_block(cc, isolate_start_pfn, block_end)
            if cc.nr_freepages >= cc.nr_migratepages or cc.contended:
                if isolate_start_pfn >= block_end:
                    isolate_start_pfn = block_start - pageblock_nr_pages
                break
            if isolate_start_pfn < block_end:
                break
        block_end = block_start
        block_start -= pageblock_nr_pages
        isolate_start_pfn = block_start
    # map_pages: post_alloc_hook + split_page make every isolated page an allocated
    # order-0 page; list_add per page leaves the list reversed
    blocks = cc.freepages_blocks
    if blocks:
        node = zone.node
        base = node.node_start_pfn
        ho = node._head_order
        pages: list[int] = [p for p, o in blocks if not o]
        if len(pages) == len(blocks):  # order-0 blocks alone (the usual case)
            node.head_order[np.array(pages, dtype=np.int64) - base] = 0
            pages.reverse()
            cc.freepages = pages + cc.freepages
            cc.free_pfn = isolate_start_pfn
            return
        pages = []
        for p, o in blocks:
            if o:
                ho[p - base:p - base + (1 << o)] = bytes(1 << o)
                pages.extend(range(p, p + (1 << o)))
            else:
                ho[p - base] = 0
                pages.append(p)
        # compaction_alloc pops from the front of a list built by list_add: newest first
        pages.reverse()
        cc.freepages = pages + cc.freepages
    cc.free_pfn = isolate_start_pfn


def compaction_alloc(cc: CompactControl) -> int | None:
    """Target page for one migration; refills from the free scanner (L1169-1192)."""
    if not cc.freepages:
        if not cc.contended:
            isolate_freepages(cc)
        if not cc.freepages:
            return None
    cc.nr_freepages -= 1
    return cc.freepages.pop(0)


def migrate_pages(cc: CompactControl) -> tuple[int, int, bool]:
    """Move each isolated page to a target from ``compaction_alloc`` (mm/migrate.c).

    Pages are taken in ``cc->migratepages`` list order: the isolation does
    ``list_add`` (head), so the *last* isolated page (highest pfn) migrates
    first and gets the first target (the highest free pfn). The page's
    contents, owner, flags and LRU list move to the target frame; the source
    frame is freed (to the per-cpu list of the compacting CPU). When no
    target is left, ``migrate_pages`` stops with -ENOMEM (counted as one
    ``pgmigrate_fail``) and the rest is put back on the LRU.
    Returns ``(migrated, failed, out_of_targets)``.

    As long as ``cc->freepages`` holds targets, ``compaction_alloc`` only pops
    them, so the pages up to the next refill are moved together (same
    targets, same order of LRU additions and frees as one by one).
    """
    zone = cc.zone
    node = zone.node
    machine = node.machine
    cpu = _cpu(machine)
    remaining = cc.migratepages[::-1]  # list head first
    lrus = cc._src_lru[::-1]
    n = len(remaining)
    migrated = 0
    enomem = False
    while migrated < n:
        if not cc.freepages:  # compaction_alloc: refill from the free scanner
            if not cc.contended:
                isolate_freepages(cc)
            if not cc.freepages:
                enomem = True
                break
        k = min(n - migrated, len(cc.freepages))
        dsts = cc.freepages[:k]
        del cc.freepages[:k]
        cc.nr_freepages -= k
        _move_pages(cc, remaining[migrated:migrated + k], lrus[migrated:migrated + k], dsts,
                    cpu)
        migrated += k
    failed_src = remaining[migrated:]
    if failed_src:
        # putback_movable_pages: back on their LRU lists, in list order
        for src, lru in zip(failed_src, lrus[migrated:]):
            lru_cache_add(node, np.array([src], dtype=np.int64), lru)
    _node_isolated(node, -n)
    cc.migratepages = []
    cc._src_lru = []
    cc.nr_migratepages = 0
    machine.vm_events["pgmigrate_success"] += migrated
    # case -ENOMEM: nr_failed++; goto out;  (the page that found no target)
    nr_failed = 1 if enomem else len(failed_src)
    machine.vm_events["pgmigrate_fail"] += nr_failed
    cc.cost_ns += migrated * machine.cost.migrate_page_ns
    tr = machine.tracer
    if tr is not None:
        # migrate_pages' own tracepoint (mm/migrate.c), then compact_zone's
        tr("mm_migrate_pages", nr_succeeded=migrated, nr_failed=nr_failed,
           mode=migrate_mode_names[cc.mode], reason="compaction")
        tr("mm_compaction_migratepages", nr_migrated=migrated, nr_failed=len(failed_src))
    return migrated, len(failed_src), enomem


def _lruvec(node: Node) -> Any:
    return get_lruvec(node)


def _move_pages(cc: CompactControl, srcs: list[int], lrus: list[int], dsts: list[int],
                cpu: int) -> None:
    """Migrate ``srcs[i]`` (isolated from LRU list ``lrus[i]``) to ``dsts[i]`` in order
    (``unmap_and_move`` for each).

    The target takes the frame kind, page flags, owner and index (the owner's
    pfn array is pointed at it) and goes on its LRU list (``putback_lru_page``);
    the source is freed with ``put_page`` (order-0: per-cpu list).
    """
    zone = cc.zone
    node = zone.node
    base = node.node_start_pfn
    lv = _lruvec(node)
    machine = node.machine
    s = np.asarray(srcs, dtype=np.int64) - base
    d = np.asarray(dsts, dtype=np.int64) - base
    kinds = node.state[s]
    node.state[d] = kinds
    k = int(s.size)
    zone.nr_state[FRAME_ISOLATED] -= k
    for kind, cnt in enumerate(np.bincount(kinds).tolist()):
        if cnt:
            zone.nr_state[kind] += cnt
    node.head_order[d] = 0
    lv.flags[d] = lv.flags[s]
    owners = lv.owner[s]
    idx = lv.index[s]
    lv.owner[d] = owners
    lv.index[d] = idx
    o0 = int(owners[0])
    if o0 >= 0 and (owners == o0).all():
        machine.mappings[o0].pfn[idx] = d + base
    else:
        for oid in set(owners.tolist()):
            if oid >= 0:
                sel = owners == oid
                machine.mappings[oid].pfn[idx[sel]] = d[sel] + base
    lv.flags[s] = 0
    lv.owner[s] = -1
    slab = getattr(node, "slab_cache", None)
    if slab is not None:
        member = slab.member[s]
        if member.any():
            slab.member[s[member]] = False
            slab.member[d[member]] = True
    if lrus.count(lrus[0]) == k:
        lru_cache_add(node, d + base, lrus[0])
    else:
        la = np.array(lrus)
        for lru in sorted(set(lrus)):  # each list gets its pages in migration order
            lru_cache_add(node, d[la == lru] + base, lru)
    free_order0_pages(node, srcs, cpu)


def _cpu(machine: Machine) -> int:
    """The CPU the current task runs on (0 outside a simulation)."""
    task = machine.sched.current if machine.sched is not None else None
    return task.cpu % machine.nr_cpus if task is not None else 0


def release_freepages(cc: CompactControl) -> int:
    """Unused targets are freed with ``__free_page`` (L52-65); returns the highest pfn.

    Each is an order-0 page, so it goes through the per-cpu list of the
    compacting CPU (``free_unref_page``), in list order, and counts ``pgfree``.
    """
    node = cc.zone.node
    free_order0_pages(node, cc.freepages, _cpu(node.machine))
    high = max(cc.freepages, default=0)
    cc.freepages = []
    cc.nr_freepages = 0
    return high


def __compact_finished(zone: Zone, cc: CompactControl) -> int:
    """Stop conditions of a compaction run (L1313-1402); no watermark test in v5.0."""
    if cc.contended:
        return COMPACT_CONTENDED
    if compact_scanners_met(cc):
        reset_cached_positions(zone)
        if cc.direct_compaction:
            zone.compact_blockskip_flush = True
        return COMPACT_COMPLETE if cc.whole_zone else COMPACT_PARTIAL_SKIPPED
    if cc.order == -1:
        return COMPACT_CONTINUE
    if cc.finishing_block:
        if cc.migrate_pfn % pageblock_nr_pages == 0:
            cc.finishing_block = False
        else:
            return COMPACT_CONTINUE
    head = zone._head
    mt = cc.migratetype
    for order in range(cc.order, MAX_ORDER):
        if head[(order << 3) | mt] != -1:
            return COMPACT_SUCCESS
        if mt == MIGRATE_MOVABLE and head[(order << 3) | MIGRATE_CMA] != -1:
            return COMPACT_SUCCESS
        fallback_mt, _can_steal = find_suitable_fallback(zone, order, mt, True)
        if fallback_mt != -1:
            if mt == MIGRATE_MOVABLE:
                return COMPACT_SUCCESS
            if cc.mode == MIGRATE_ASYNC or cc.migrate_pfn % pageblock_nr_pages == 0:
                return COMPACT_SUCCESS
            cc.finishing_block = True
            return COMPACT_CONTINUE
    return COMPACT_NO_SUITABLE_PAGE


def compact_finished(zone: Zone, cc: CompactControl) -> int:
    """``__compact_finished`` + tracepoint; NO_SUITABLE_PAGE means continue (L1404-1415)."""
    ret = __compact_finished(zone, cc)
    _trace(zone, "mm_compaction_finished", order=cc.order, ret=compact_result_names[ret])
    if ret == COMPACT_NO_SUITABLE_PAGE:
        ret = COMPACT_CONTINUE
    return ret


def compact_zone(zone: Zone, cc: CompactControl) -> Gen:
    """Compact one zone (L1537-1699): the two scanners until a block is free or they meet.

    A generator: it yields the CPU time the scanning and copying cost, and
    returns the result code. Records the scanners' positions over time in
    ``zone.node.compaction_log`` for the memory-map figures.
    """
    from mmsim.mm.page_alloc import drain_pages_zone

    cc.zone = zone
    node = zone.node
    machine = node.machine
    start_pfn = zone.zone_start_pfn
    end_pfn = zone.zone_end_pfn
    sync = cc.sync
    ret = compaction_suitable(zone, cc.order, cc.alloc_flags, cc.classzone_idx)
    if ret in (COMPACT_SUCCESS, COMPACT_SKIPPED):
        return ret
    if compaction_restarting(zone, cc.order):
        __reset_isolation_suitable(zone)
    if cc.whole_zone:
        cc.migrate_pfn = start_pfn
        cc.free_pfn = pageblock_start_pfn(end_pfn - 1)
    else:
        cc.migrate_pfn = zone.compact_cached_migrate_pfn[int(sync)]
        cc.free_pfn = zone.compact_cached_free_pfn
        if cc.free_pfn < start_pfn or cc.free_pfn >= end_pfn:
            cc.free_pfn = pageblock_start_pfn(end_pfn - 1)
            zone.compact_cached_free_pfn = cc.free_pfn
        if cc.migrate_pfn < start_pfn or cc.migrate_pfn >= end_pfn:
            cc.migrate_pfn = start_pfn
            zone.compact_cached_migrate_pfn = [cc.migrate_pfn, cc.migrate_pfn]
        if cc.migrate_pfn == start_pfn:
            cc.whole_zone = True
    cc._src_lru = []
    cc.freepages_blocks = []
    cc.last_migrated_pfn = 0
    _trace_begin_end(zone, cc, "mm_compaction_begin", None)
    sched = machine.sched
    log = {"zone": zone.name, "order": cc.order, "start": sched.now_ns if sched else 0,
           "positions": [(sched.now_ns if sched else 0, cc.migrate_pfn, cc.free_pfn)],
           "direct": cc.direct_compaction}
    if not hasattr(node, "compaction_log"):
        node.compaction_log = []
    node.compaction_log.append(log)
    while True:
        ret = compact_finished(zone, cc)
        if ret != COMPACT_CONTINUE:
            break
        iso = isolate_migratepages(zone, cc)
        if iso == ISOLATE_ABORT:
            ret = COMPACT_CONTENDED
            break
        if iso == ISOLATE_SUCCESS:
            _migrated, failed, enomem = migrate_pages(cc)
            if enomem or failed:  # err
                if enomem and not compact_scanners_met(cc):
                    ret = COMPACT_CONTENDED
                    log["positions"].append((sched.now_ns if sched else 0, cc.migrate_pfn,
                                             cc.free_pfn))
                    break
                if cc.direct_compaction and cc.mode == MIGRATE_ASYNC:
                    # skip the rest of the order-aligned block (block_end_pfn(pfn - 1, order))
                    block = 1 << cc.order
                    cc.migrate_pfn = ((cc.migrate_pfn - 1) | (block - 1)) + 1
                    cc.last_migrated_pfn = 0
        # check_drain
        if cc.order > 0 and cc.last_migrated_pfn:
            current_block_start = cc.migrate_pfn & ~((1 << cc.order) - 1)
            if cc.last_migrated_pfn < current_block_start:
                drain_pages_zone(zone, _cpu(machine))
                cc.last_migrated_pfn = 0
        log["positions"].append((sched.now_ns if sched else 0, cc.migrate_pfn, cc.free_pfn))
        if cc.cost_ns:
            c, cc.cost_ns = cc.cost_ns, 0
            try:
                yield Run(c)
            except BaseException:
                # a fatal signal (the task was chosen by the OOM killer): the kernel's
                # next isolation step sees it and the run ends as contended
                _compact_zone_out(zone, cc, COMPACT_CONTENDED, log)
                raise
    _compact_zone_out(zone, cc, ret, log)
    if cc.cost_ns:
        c, cc.cost_ns = cc.cost_ns, 0
        yield Run(c)
    return ret


def _compact_zone_out(zone: Zone, cc: CompactControl, ret: int, log: dict) -> None:
    """``compact_zone``'s ``out:`` label: unused targets back (and the cached free
    position moved up to them), the scan counts, ``mm_compaction_end``."""
    machine = zone.node.machine
    sched = machine.sched
    if cc.freepages:
        free_pfn = release_freepages(cc)
        free_pfn = pageblock_start_pfn(free_pfn)
        if free_pfn > zone.compact_cached_free_pfn:
            zone.compact_cached_free_pfn = free_pfn
    machine.vm_events["compact_migrate_scanned"] += cc.total_migrate_scanned
    machine.vm_events["compact_free_scanned"] += cc.total_free_scanned
    _trace_begin_end(zone, cc, "mm_compaction_end", ret)
    log["end"] = sched.now_ns if sched else 0
    log["result"] = compact_result_names[ret]


def _trace_begin_end(zone: Zone, cc: CompactControl, event: str, status: int | None) -> None:
    tr = zone.node.machine.tracer
    if tr is None:
        return
    fields = dict(zone_start=zone.zone_start_pfn, migrate_pfn=cc.migrate_pfn,
                  free_pfn=cc.free_pfn, zone_end=zone.zone_end_pfn, sync=cc.sync)
    if status is not None:
        fields["status"] = compact_result_names[status]
    tr(event, **fields)


def run_compact_zone(zone: Zone, cc: CompactControl) -> int:
    """Run :func:`compact_zone` to completion outside a simulation; returns the result."""
    gen = compact_zone(zone, cc)
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        return stop.value


# --------------------------------------------------------------------------
# kcompactd
# --------------------------------------------------------------------------
def kcompactd_work_requested(pgdat: Node) -> bool:
    """Work pending or a stop request (L1915-1918).

    ``kthread_should_stop()`` asks about the *calling* thread, so the stop flag is
    read from the scheduler's current task, not through ``pgdat->kcompactd``
    (which ``kcompactd_stop`` clears at once).
    """
    return pgdat.kcompactd_max_order > 0 or _kthread_should_stop(pgdat)


def _kthread_should_stop(pgdat: Node) -> bool:
    """``kthread_should_stop()`` for the running task (False outside a thread)."""
    sched = pgdat.machine.sched
    task = sched.current if sched is not None else None
    return bool(task is not None and task.should_stop)


def kcompactd_do_work(pgdat: Node) -> Gen:
    """One kcompactd pass over zones 0..classzone (L1940-2023)."""
    from mmsim.mm.gfp import GFP_KERNEL
    from mmsim.mm.page_alloc import drain_all_pages

    machine = pgdat.machine
    cc = CompactControl(pgdat.kcompactd_max_order, GFP_KERNEL, MIGRATE_SYNC_LIGHT,
                        classzone_idx=pgdat.kcompactd_classzone_idx)
    tr = machine.tracer
    if tr is not None:
        tr("mm_compaction_kcompactd_wake", nid=pgdat.node_id, order=cc.order,
           classzone_idx=cc.classzone_idx)
    machine.vm_events["compact_daemon_wake"] += 1
    for zoneid in range(cc.classzone_idx + 1):
        zone = pgdat.zones[zoneid]
        if not zone.populated_zone():
            continue
        if compaction_deferred(zone, cc.order):
            continue
        if compaction_suitable(zone, cc.order, 0, zoneid) != COMPACT_CONTINUE:
            continue
        cc.nr_freepages = 0
        cc.nr_migratepages = 0
        cc.total_migrate_scanned = 0
        cc.total_free_scanned = 0
        cc.zone = zone
        cc.freepages = []
        cc.migratepages = []
        cc._src_lru = []
        if _kthread_should_stop(pgdat):
            return
        status = yield from compact_zone(zone, cc)
        if status == COMPACT_SUCCESS:
            compaction_defer_reset(zone, cc.order, False)
        elif status in (COMPACT_PARTIAL_SKIPPED, COMPACT_COMPLETE):
            drain_all_pages(pgdat, zone)
            defer_compaction(zone, cc.order)
        machine.vm_events["compact_daemon_migrate_scanned"] += cc.total_migrate_scanned
        machine.vm_events["compact_daemon_free_scanned"] += cc.total_free_scanned
    if pgdat.kcompactd_max_order <= cc.order:
        pgdat.kcompactd_max_order = 0
    if pgdat.kcompactd_classzone_idx >= cc.classzone_idx:
        pgdat.kcompactd_classzone_idx = pgdat.nr_zones - 1


def kcompactd(pgdat: Node) -> Gen:
    """The kcompactd thread (L2055-2083): sleep until work is requested, do one pass."""
    from mmsim.kthread import Schedule, finish_wait, prepare_to_wait

    machine = pgdat.machine
    task = machine.sched.current
    pgdat.kcompactd_max_order = 0
    pgdat.kcompactd_classzone_idx = pgdat.nr_zones - 1
    while not task.should_stop:
        tr = machine.tracer
        if tr is not None:
            tr("mm_compaction_kcompactd_sleep", nid=pgdat.node_id)
        # wait_event_freezable(kcompactd_wait, kcompactd_work_requested(pgdat))
        while not kcompactd_work_requested(pgdat):
            prepare_to_wait(pgdat.kcompactd_wait, task)
            if kcompactd_work_requested(pgdat):
                break
            yield Schedule()
        finish_wait(pgdat.kcompactd_wait, task)
        # v5.0 has no stop check here: a stopped thread makes one last
        # kcompactd_do_work call (it returns before compact_zone) and then leaves.
        pgdat.kcompactd_running = True
        yield from kcompactd_do_work(pgdat)
        pgdat.kcompactd_running = False


def kcompactd_run(pgdat: Node) -> Any:
    """Start ``kcompactd<nid>`` unless it runs already (L2089-2104)."""
    if pgdat.kcompactd is not None:
        return pgdat.kcompactd
    sched = pgdat.machine.sched
    if sched is None:
        raise ValueError("kcompactd_run: the machine has no scheduler; start a Simulation first")
    pgdat.kcompactd = sched.spawn(kcompactd, f"kcompactd{pgdat.node_id}", pgdat,
                                  flags=0x00200000, cpu=pgdat.node_id)
    return pgdat.kcompactd


def kcompactd_stop(pgdat: Node) -> None:
    """Stop this node's kcompactd (L2110-2118)."""
    if pgdat.kcompactd is not None:
        pgdat.machine.sched.kthread_stop(pgdat.kcompactd)
        pgdat.kcompactd = None


def kcompactd_init(machine: Machine) -> None:
    """One kcompactd per node with memory (L2143-2159)."""
    for pgdat in machine.nodes:
        if pgdat.node_present_pages:
            kcompactd_run(pgdat)


# --------------------------------------------------------------------------
# Direct compaction (called from the allocator's slow path)
# --------------------------------------------------------------------------
def compact_zone_order(zone: Zone, order: int, gfp_mask: int, prio: int, alloc_flags: int,
                       classzone_idx: int) -> Gen:
    """Direct compaction of one zone (L1701-1732)."""
    cc = CompactControl(order, gfp_mask,
                        MIGRATE_ASYNC if prio == COMPACT_PRIO_ASYNC else MIGRATE_SYNC_LIGHT,
                        alloc_flags=alloc_flags, classzone_idx=classzone_idx,
                        direct_compaction=True,
                        whole_zone=prio == MIN_COMPACT_PRIORITY,
                        ignore_skip_hint=prio == MIN_COMPACT_PRIORITY,
                        ignore_block_suitable=prio == MIN_COMPACT_PRIORITY)
    ret = yield from compact_zone(zone, cc)
    return ret


def compaction_zonelist_suitable(node: Node, gfp_mask: int, order: int,
                                 alloc_flags: int) -> bool:
    """Would compaction have a chance after more reclaim? (L1505-1535)

    A zone counts its free pages plus ``reclaimable / order``; true if any zone
    then passes ``__compaction_suitable``.
    """
    from mmsim.mm.page_alloc import prepare_alloc_pages
    from mmsim.mm.vmscan import zone_reclaimable_pages

    ac = prepare_alloc_pages(node, gfp_mask)
    for zone in ac.zonelist:
        available = zone_reclaimable_pages(zone) // order + zone.nr_free_pages
        if __compaction_suitable(zone, order, alloc_flags, ac.classzone_idx,
                                 available) != COMPACT_SKIPPED:
            return True
    return False


def try_to_compact_pages(node: Node, gfp_mask: int, order: int, alloc_flags: int,
                         prio: int) -> Gen:
    """Direct compaction over the zonelist (L1746-1811); returns the best result."""
    from mmsim.mm import gfp as G
    from mmsim.mm.page_alloc import prepare_alloc_pages

    if not gfp_mask & G.__GFP_IO:
        return COMPACT_SKIPPED
    tr = node.machine.tracer
    if tr is not None:
        tr("mm_compaction_try_to_compact_pages", order=order, gfp_mask=gfp_mask, priority=prio)
    ac = prepare_alloc_pages(node, gfp_mask)
    rc = COMPACT_SKIPPED
    for zone in ac.zonelist:
        if prio > MIN_COMPACT_PRIORITY and compaction_deferred(zone, order):
            rc = max(COMPACT_DEFERRED, rc)
            continue
        status = yield from compact_zone_order(zone, order, gfp_mask, prio, alloc_flags,
                                               ac.classzone_idx)
        rc = max(status, rc)
        if status == COMPACT_SUCCESS:
            compaction_defer_reset(zone, order, False)
            break
        if prio != COMPACT_PRIO_ASYNC and status in (COMPACT_COMPLETE, COMPACT_PARTIAL_SKIPPED):
            defer_compaction(zone, order)
    return rc


__all__ = [
    "COMPACT_COMPLETE",
    "COMPACT_CONTINUE",
    "COMPACT_DEFERRED",
    "COMPACT_PARTIAL_SKIPPED",
    "COMPACT_SKIPPED",
    "COMPACT_SUCCESS",
    "MAX_ORDER",
    "compact_gap",
    "compaction_defer_reset",
    "compaction_deferred",
    "compaction_suitable",
    "defer_compaction",
    "kcompactd_node_suitable",
    "wakeup_kcompactd",
]
