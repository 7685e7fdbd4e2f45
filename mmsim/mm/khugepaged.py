"""Transparent hugepages raise ``min_free_kbytes`` (mm/khugepaged.c, v5.0).

When THP is enabled (``always`` or ``madvise``), starting khugepaged calls
``set_recommended_min_free_kbytes``: to keep huge-page allocations possible
the kernel wants, per populated zone, two free pageblocks plus room for the
fallbacks between the three per-cpu migratetypes (``3 * 3`` pageblocks) -
eleven pageblocks, 22 MiB on x86_64 - capped at 5 % of lowmem above the high
watermarks. It only ever *raises* ``min_free_kbytes``. This is why a typical
x86_64 box with DMA, DMA32 and Normal shows ``min_free_kbytes = 67584``
(3 × 11 × 512 pages × 4 KiB) instead of the square-root default.

Kernel source: mm/khugepaged.c ``set_recommended_min_free_kbytes``,
https://elixir.bootlin.com/linux/v5.0/ident/set_recommended_min_free_kbytes
(called from ``start_stop_khugepaged``; at boot from ``hugepage_init`` in
mm/huge_memory.c, which disables THP instead on machines with less than
512 MiB of RAM).

Simplifications
---------------
khugepaged itself (collapsing small pages into huge ones) is not modelled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mmsim.mm.mmzone import MIGRATE_PCPTYPES, pageblock_nr_pages

if TYPE_CHECKING:  # pragma: no cover
    from mmsim.mm.mmzone import Machine


def recommended_min_free_pages(nr_zones: int, nr_free_buffer_pages: int) -> int:
    """The recommendation in pages, before comparing with ``min_free_kbytes``.

    ``min(11 * pageblock_nr_pages * nr_zones, nr_free_buffer_pages / 20)``.

    >>> recommended_min_free_pages(3, 904004)      # golden real_x86_64_thp_...
    16896
    >>> recommended_min_free_pages(3, 200000)      # capped at 5 % of lowmem
    10000
    """
    rec = pageblock_nr_pages * nr_zones * 2
    rec += pageblock_nr_pages * nr_zones * MIGRATE_PCPTYPES * MIGRATE_PCPTYPES
    return min(rec, nr_free_buffer_pages // 20)


def set_recommended_min_free_kbytes(machine: Machine) -> bool:
    """Raise ``min_free_kbytes`` for THP if the recommendation is larger.

    Returns True if it raised the value. Always recomputes the watermarks
    afterwards (``setup_per_zone_wmarks``), as v5.0 does.
    """
    from mmsim.mm.page_alloc import nr_free_buffer_pages, setup_per_zone_wmarks

    nr_zones = sum(1 for _ in machine.for_each_populated_zone())
    rec_kbytes = recommended_min_free_pages(nr_zones, nr_free_buffer_pages(machine)) << 2
    raised = False
    if rec_kbytes > machine.min_free_kbytes:
        machine.min_free_kbytes = rec_kbytes
        raised = True
    setup_per_zone_wmarks(machine)
    return raised
