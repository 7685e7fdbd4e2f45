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

kcompactd, one thread per node, is woken by kswapd when it is about to sleep
(for the order the allocations wanted), after a boosted reclaim run, and by
``wakeup_kswapd`` when kswapd is not needed; it runs one pass over the zones
per wake-up.

Kernel source: mm/compaction.c (v5.0), https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c

Simplifications
---------------
See the individual functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mmsim.mm.mmzone import MAX_ORDER, PAGE_ALLOC_COSTLY_ORDER
from mmsim.mm.page_alloc import ALLOC_CMA, ALLOC_WMARK_MASK, __zone_watermark_ok, zone_watermark_ok
from mmsim.mm.vmstat import fragmentation_index

if TYPE_CHECKING:  # pragma: no cover
    from mmsim.mm.mmzone import Node, Zone

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
# kcompactd wake-up side (the thread itself runs in mmsim.mm.kcompactd)
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
    only if ``kcompactd_node_suitable``.
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
    wake_up_interruptible(wq)


def reset_isolation_suitable(pgdat: Node) -> None:
    """Clear skip bits of zones whose ``compact_blockskip_flush`` is set (L273-286)."""
    for zone in pgdat.zones:
        if not zone.populated_zone():
            continue
        if zone.compact_blockskip_flush:
            __reset_isolation_suitable(zone)


def __reset_isolation_suitable(zone: Zone) -> None:
    """Clear every skip bit of the zone and reset the cached scanner positions (L245-271)."""
    node = zone.node
    zone.compact_blockskip_flush = False
    if zone.spanned_pages:
        from mmsim.mm.mmzone import pageblock_order

        pb0 = (zone.zone_start_pfn >> pageblock_order) - node.pb_base
        pb1 = ((zone.zone_end_pfn - 1) >> pageblock_order) - node.pb_base + 1
        node.pageblock_skip[pb0:pb1] = 0
    reset_cached_positions(zone)


def reset_cached_positions(zone: Zone) -> None:
    """Scanners back to the zone ends (L214-220)."""
    from mmsim.mm.mmzone import pageblock_nr_pages

    zone.compact_cached_migrate_pfn = [zone.zone_start_pfn, zone.zone_start_pfn]
    end = zone.zone_end_pfn
    zone.compact_cached_free_pfn = (end - 1) & ~(pageblock_nr_pages - 1) if end else 0


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
