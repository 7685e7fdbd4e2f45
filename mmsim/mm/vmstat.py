"""Counters and fragmentation metrics of mm/vmstat.c (v5.0).

**Counters.** The kernel counts memory-management events (pages allocated,
scanned, reclaimed; compaction passes; kswapd wake-ups that came too soon ...)
in per-cpu arrays and prints their sums in ``/proc/vmstat`` under the names of
``vmstat_text[]``. They only ever grow; a tool measures a run by taking the
difference of two readings. mmsim keeps one dict of these counters per machine,
keyed by the ``/proc/vmstat`` names, so a simulation's numbers can be compared
line by line with a real box.

**Fragmentation.** Two numbers describe how free memory is *split*, for a
requested order:

* the *unusable free space index* - the share of free memory sitting in blocks
  too small for the order (0 = all of it usable, 1000 = none);
* the *fragmentation index* - when an allocation of the order would fail,
  whether that is for lack of memory (toward 0) or because the free memory is
  in pieces (toward 1000). It is -1000 when a suitable block exists, i.e. the
  allocation would succeed. ``compaction_suitable`` compares it against
  ``vm.extfrag_threshold`` (500): compaction for costly orders is not tried
  when the failure looks like a plain lack of memory.

Both are computed from ``free_area[order].nr_free`` alone with C integer
arithmetic, and debugfs prints them as ``%d.%03d`` of thousandths.

**Per-cpu thresholds.** Because counters are per-cpu, ``NR_FREE_PAGES`` can be
off by up to ``cpus × stat_threshold``; kswapd switches to a smaller
"pressure" threshold while it is awake near the watermarks.

Kernel source: mm/vmstat.c, https://elixir.bootlin.com/linux/v5.0/source/mm/vmstat.c
(``fill_contig_page_info`` L1019, ``__fragmentation_index`` L1053,
``fragmentation_index`` L1077, ``unusable_free_index`` L1989,
``calculate_pressure_threshold`` L171, ``calculate_normal_threshold`` L195,
``refresh_zone_stat_thresholds`` L245, ``set_pgdat_percpu_threshold`` L290);
include/linux/vm_event_item.h for the event list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from mmsim.mm.mmzone import MAX_ORDER

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Sequence

    from mmsim.mm.mmzone import Machine, Node, Zone

# --------------------------------------------------------------------------
# vmstat_text[] pieces, v5.0, x86_64 distribution config. Checked name by name
# against v5.0 mm/vmstat.c vmstat_text[] and include/linux/mmzone.h
# (enum zone_stat_item, numa_stat_item, node_stat_item); the event list follows
# enum vm_event_item (include/linux/vm_event_item.h), which vmstat_text mirrors.
# Options that change the list, as Debian, Ubuntu, Fedora and RHEL build x86_64:
#   on:  ZONE_DMA, ZONE_DMA32 (pgalloc_dma/_dma32 ...), ZSMALLOC (nr_zspages, for
#        zram), NUMA (numa_* zone counters, zone_reclaim_failed), NUMA_BALANCING
#        (numa_pte_updates ... numa_pages_migrated), MIGRATION, COMPACTION,
#        HUGETLB_PAGE, TRANSPARENT_HUGEPAGE with HAVE_ARCH_TRANSPARENT_HUGEPAGE_PUD
#        (selected by X86_64: thp_split_pud), MEMORY_BALLOON + BALLOON_COMPACTION
#        (virtio_balloon: balloon_migrate), SWAP (swap_ra, swap_ra_hit)
#   off: HIGHMEM (64-bit: no *_high), DEBUG_TLBFLUSH (nr_tlb_*),
#        DEBUG_VM_VMACACHE (vmacache_find_*)
# The per-zone events cover DMA, DMA32, Normal and Movable only: ZONE_DEVICE
# has none in v5.0 (pgalloc_device is a later addition). CMA does not change
# vmstat_text in v5.0 (nr_free_cma is always there); it adds the CMA
# migratetype, which only /proc/pagetypeinfo shows.
# --------------------------------------------------------------------------
ZONE_STAT_ITEMS = (
    "nr_free_pages",
    "nr_zone_inactive_anon",
    "nr_zone_active_anon",
    "nr_zone_inactive_file",
    "nr_zone_active_file",
    "nr_zone_unevictable",
    "nr_zone_write_pending",
    "nr_mlock",
    "nr_page_table_pages",
    "nr_kernel_stack",
    "nr_bounce",
    "nr_zspages",
    "nr_free_cma",
)
NUMA_STAT_ITEMS = (
    "numa_hit",
    "numa_miss",
    "numa_foreign",
    "numa_interleave",
    "numa_local",
    "numa_other",
)
NODE_STAT_ITEMS = (
    "nr_inactive_anon",
    "nr_active_anon",
    "nr_inactive_file",
    "nr_active_file",
    "nr_unevictable",
    "nr_slab_reclaimable",
    "nr_slab_unreclaimable",
    "nr_isolated_anon",
    "nr_isolated_file",
    "workingset_nodes",
    "workingset_refault",
    "workingset_activate",
    "workingset_restore",
    "workingset_nodereclaim",
    "nr_anon_pages",
    "nr_mapped",
    "nr_file_pages",
    "nr_dirty",
    "nr_writeback",
    "nr_writeback_temp",
    "nr_shmem",
    "nr_shmem_hugepages",
    "nr_shmem_pmdmapped",
    "nr_anon_transparent_hugepages",
    "nr_unstable",
    "nr_vmscan_write",
    "nr_vmscan_immediate_reclaim",
    "nr_dirtied",
    "nr_written",
    "nr_kernel_misc_reclaimable",
)
WRITEBACK_STAT_ITEMS = ("nr_dirty_threshold", "nr_dirty_background_threshold")

_ZONES_FOR_EVENTS = ("dma", "dma32", "normal", "movable")
VM_EVENT_ITEMS = (
    "pgpgin",
    "pgpgout",
    "pswpin",
    "pswpout",
    *(f"pgalloc_{z}" for z in _ZONES_FOR_EVENTS),
    *(f"allocstall_{z}" for z in _ZONES_FOR_EVENTS),
    *(f"pgskip_{z}" for z in _ZONES_FOR_EVENTS),
    "pgfree",
    "pgactivate",
    "pgdeactivate",
    "pglazyfree",
    "pgfault",
    "pgmajfault",
    "pglazyfreed",
    "pgrefill",
    "pgsteal_kswapd",
    "pgsteal_direct",
    "pgscan_kswapd",
    "pgscan_direct",
    "pgscan_direct_throttle",
    "zone_reclaim_failed",
    "pginodesteal",
    "slabs_scanned",
    "kswapd_inodesteal",
    "kswapd_low_wmark_hit_quickly",
    "kswapd_high_wmark_hit_quickly",
    "pageoutrun",
    "pgrotated",
    "drop_pagecache",
    "drop_slab",
    "oom_kill",
    "numa_pte_updates",
    "numa_huge_pte_updates",
    "numa_hint_faults",
    "numa_hint_faults_local",
    "numa_pages_migrated",
    "pgmigrate_success",
    "pgmigrate_fail",
    "compact_migrate_scanned",
    "compact_free_scanned",
    "compact_isolated",
    "compact_stall",
    "compact_fail",
    "compact_success",
    "compact_daemon_wake",
    "compact_daemon_migrate_scanned",
    "compact_daemon_free_scanned",
    "htlb_buddy_alloc_success",
    "htlb_buddy_alloc_fail",
    "unevictable_pgs_culled",
    "unevictable_pgs_scanned",
    "unevictable_pgs_rescued",
    "unevictable_pgs_mlocked",
    "unevictable_pgs_munlocked",
    "unevictable_pgs_cleared",
    "unevictable_pgs_stranded",
    "thp_fault_alloc",
    "thp_fault_fallback",
    "thp_collapse_alloc",
    "thp_collapse_alloc_failed",
    "thp_file_alloc",
    "thp_file_mapped",
    "thp_split_page",
    "thp_split_page_failed",
    "thp_deferred_split_page",
    "thp_split_pmd",
    "thp_split_pud",
    "thp_zero_page_alloc",
    "thp_zero_page_alloc_failed",
    "thp_swpout",
    "thp_swpout_fallback",
    "balloon_inflate",
    "balloon_deflate",
    "balloon_migrate",
    "swap_ra",
    "swap_ra_hit",
)


def new_event_counters() -> dict[str, int]:
    """A zeroed counter for every ``/proc/vmstat`` event, in ``vmstat_text`` order."""
    return dict.fromkeys(VM_EVENT_ITEMS, 0)


# --------------------------------------------------------------------------
# Fragmentation metrics
# --------------------------------------------------------------------------
class ContigPageInfo(NamedTuple):
    """``struct contig_page_info``."""

    free_pages: int
    free_blocks_total: int
    free_blocks_suitable: int


def fill_contig_page_info(nr_free: Sequence[int], suitable_order: int) -> ContigPageInfo:
    """Totals of a buddyinfo row for one order (``fill_contig_page_info``).

    ``nr_free`` is ``free_area[o].nr_free`` for o = 0..10 (a /proc/buddyinfo row).
    A free block of order o ≥ ``suitable_order`` counts as ``2**(o - suitable_order)``
    suitable blocks.

    >>> fill_contig_page_info([1200, 800, 400, 150, 60, 20, 5, 1, 0, 0, 0], 3)
    ContigPageInfo(free_pages=7648, free_blocks_total=2636, free_blocks_suitable=406)
    """
    free_pages = blocks = suitable = 0
    for order, n in enumerate(nr_free):
        blocks += n
        free_pages += n << order
        if order >= suitable_order:
            suitable += n << (order - suitable_order)
    return ContigPageInfo(free_pages, blocks, suitable)


def _c_div(a: int, b: int) -> int:
    """C integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def __fragmentation_index(order: int, info: ContigPageInfo) -> int:
    """``__fragmentation_index``: thousandths, -1000 if the allocation would succeed.

    Steps: order ≥ MAX_ORDER or no free blocks → 0; a suitable block exists →
    -1000; else ``1000 - (1000 + free_pages*1000/requested) / free_blocks_total``.

    >>> info = fill_contig_page_info([1200, 800, 400, 150, 60, 20, 5, 1, 0, 0, 0], 9)
    >>> __fragmentation_index(9, info)
    994
    >>> __fragmentation_index(9, fill_contig_page_info([0] * 8 + [1, 0, 0], 9))
    -500
    """
    requested = 1 << order
    if order >= MAX_ORDER:
        return 0
    if not info.free_blocks_total:
        return 0
    if info.free_blocks_suitable:
        return -1000
    return 1000 - _c_div(1000 + _c_div(info.free_pages * 1000, requested),
                         info.free_blocks_total)


def fragmentation_index(zone: Zone, order: int) -> int:
    """The fragmentation index of ``zone`` for ``order`` (``fragmentation_index``).

    Examples
    --------
    >>> from mmsim import Node
    >>> z = Node.build(zones={"Normal": 4096}).zone("Normal")
    >>> fragmentation_index(z, 10)   # four free order-10 blocks: it would succeed
    -1000
    """
    from mmsim.units import check_int

    order = check_int("order", order, 0, MAX_ORDER - 1)
    return __fragmentation_index(order, fill_contig_page_info(zone._nr_free, order))


def __unusable_free_index(order: int, info: ContigPageInfo) -> int:
    """``unusable_free_index`` on a ``contig_page_info``.

    >>> row = [1200, 800, 400, 150, 60, 20, 5, 1, 0, 0, 0]
    >>> [__unusable_free_index(o, fill_contig_page_info(row, o)) for o in (0, 3, 7, 9)]
    [0, 575, 983, 1000]
    """
    if not info.free_pages:
        return 1000
    return (info.free_pages - (info.free_blocks_suitable << order)) * 1000 // info.free_pages


def unusable_free_index(zone: Zone, order: int) -> int:
    """Thousandths of ``zone``'s free memory in blocks smaller than ``order``."""
    from mmsim.units import check_int

    order = check_int("order", order, 0, MAX_ORDER - 1)
    return __unusable_free_index(order, fill_contig_page_info(zone._nr_free, order))


def format_index(value: int) -> str:
    """``%d.%03d`` of ``(value / 1000, value % 1000)`` in C arithmetic.

    >>> format_index(-1000), format_index(994), format_index(1000), format_index(-500)
    ('-1.000', '0.994', '1.000', '0.-500')
    """
    whole = _c_div(value, 1000)
    frac = value - whole * 1000
    return f"{whole}.{frac:03d}"


# --------------------------------------------------------------------------
# Per-cpu stat thresholds
# --------------------------------------------------------------------------
def _fls(x: int) -> int:
    return x.bit_length()


def calculate_normal_threshold(zone: Zone, nr_cpus: int) -> int:
    """``calculate_normal_threshold``: ``min(125, 2·fls(cpus)·(1 + fls(managed >> 15)))``."""
    mem = zone.managed_pages >> 15
    return min(125, 2 * _fls(nr_cpus) * (1 + _fls(mem)))


def calculate_pressure_threshold(zone: Zone, nr_cpus: int) -> int:
    """``calculate_pressure_threshold``: ``min(125, max(1, (low - min) / cpus))``."""
    watermark_distance = zone.low_wmark_pages - zone.min_wmark_pages
    return min(125, max(1, watermark_distance // nr_cpus))


def refresh_zone_stat_thresholds(machine: Machine) -> None:
    """Set every populated zone's ``stat_threshold`` and ``percpu_drift_mark``.

    ``percpu_drift_mark = high + cpus * threshold`` when the worst-case drift
    exceeds the low-min distance; otherwise it is left as it was (0 at boot).
    """
    cpus = machine.nr_cpus
    for zone in machine.for_each_populated_zone():
        threshold = calculate_normal_threshold(zone, cpus)
        zone.stat_threshold = threshold
        tolerate_drift = zone.low_wmark_pages - zone.min_wmark_pages
        max_drift = cpus * threshold
        if max_drift > tolerate_drift:
            zone.percpu_drift_mark = zone.high_wmark_pages + max_drift


def set_pgdat_percpu_threshold(node: Node, pressure: bool) -> None:
    """kswapd's switch between the normal and the pressure threshold.

    Only zones with a ``percpu_drift_mark`` change.
    """
    cpus = node.machine.nr_cpus
    for zone in node.zones:
        if not zone.percpu_drift_mark:
            continue
        fn = calculate_pressure_threshold if pressure else calculate_normal_threshold
        zone.stat_threshold = fn(zone, cpus)
