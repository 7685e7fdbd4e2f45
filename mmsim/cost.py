"""The cost model: how much simulated CPU and I/O time each piece of work takes.

The kernel code mmsim mirrors has no delays of its own apart from a few
explicit sleeps (kswapd's ``HZ/10`` nap, ``congestion_wait``); what makes
kswapd finite is the CPU time its work takes. mmsim charges every unit of
work to the task that does it, so a fast enough allocator can outrun kswapd
and fall into direct reclaim, and a lesson can show it.

The defaults describe a current x86_64 core and an NVMe SSD. They are
provisional round figures until the calibration in ``benchmarks/calibrate_kswapd.py``
(kswapd CPU time per reclaimed page, measured on a real kernel) replaces them:

=========================  =========  ===============================================
cost                       default    what it is based on
=========================  =========  ===============================================
``lru_scan_ns``            150 ns     isolating and checking one LRU page
                                      (``isolate_lru_pages`` + the page_referenced /
                                      dirty tests of ``shrink_page_list``)
``reclaim_clean_ns``       1100 ns    unmapping and freeing one clean page-cache page
                                      (``__remove_mapping`` + free); with the scan cost
                                      about 800 k pages/s (3 GiB/s) per core
``reclaim_anon_ns``        2500 ns    ``add_to_swap`` + unmap (rmap walk, TLB flush)
``writepage_ns``           4000 ns    submitting one page of writeback (``pageout``)
``io_bandwidth``           1 GiB/s    sustained 4 KiB writeback of a consumer NVMe SSD
``io_latency_ns``          100 µs     completion latency of one write on that SSD
``alloc_page_ns``          100 ns     taking one page off a per-cpu list
``zero_page_ns``           250 ns     clearing 4 KiB for an anonymous fault (~16 GB/s)
``read_page_ns``           300 ns     copying one cached 4 KiB page to user space
``readahead_page_ns``      1000 ns    reading one page from the SSD into the page cache
                                      (CPU side; the device time is not charged)
``compact_scan_ns``        20 ns      one pfn visited by a compaction scanner
``migrate_page_ns``        2000 ns    migrating one page (unmap, copy 4 KiB, remap)
``slab_object_ns``         200 ns     one object scanned by a slab shrinker
=========================  =========  ===============================================

All of them can be overridden: ``CostModel(reclaim_clean_ns=3000)`` makes reclaim
three times slower, which is what an older or emulated CPU looks like (the
shared real-kernel recording ran on an emulated CPU roughly 10x slower).

Simplifications
---------------
Costs are constants per page; caches, lock contention, NUMA distance and the
CPU time of the flusher threads are not modelled.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class CostModel:
    """Nanoseconds per unit of work (see the module docstring for the defaults)."""

    lru_scan_ns: int = 150
    reclaim_clean_ns: int = 1100
    reclaim_anon_ns: int = 2500
    writepage_ns: int = 4000
    io_bandwidth: int = 1 << 30
    io_latency_ns: int = 100_000
    alloc_page_ns: int = 100
    zero_page_ns: int = 250
    read_page_ns: int = 300
    readahead_page_ns: int = 1000
    compact_scan_ns: int = 20
    migrate_page_ns: int = 2000
    slab_object_ns: int = 200

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ValueError(f"CostModel.{f.name}: {v!r} is not allowed; allowed an int >= 0")
        if self.io_bandwidth <= 0:
            raise ValueError(f"CostModel.io_bandwidth: {self.io_bandwidth} is not allowed; "
                             "allowed > 0 bytes/s")

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def scaled(self, factor: float) -> CostModel:
        """All CPU costs multiplied by ``factor`` (a slower or faster CPU)."""
        d = self.as_dict()
        for k in d:
            if k.endswith("_ns") and k != "io_latency_ns":
                d[k] = round(d[k] * factor)
        return CostModel(**d)
