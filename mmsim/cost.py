"""The cost model: how much simulated CPU and I/O time each piece of work takes.

The kernel code mmsim mirrors has no delays of its own apart from a few
explicit sleeps (kswapd's ``HZ/10`` nap, ``congestion_wait``); what makes
kswapd finite is the CPU time its work takes. mmsim charges every unit of
work to the task that does it, so a fast enough allocator can outrun kswapd
and fall into direct reclaim, and a lesson can show it.

The defaults describe a current x86_64 core and an NVMe SSD. Each is set
against the published measurements found so far (per 4 KiB page; see
References); where none was found the figure is a provisional round number:

=========================  =========  ==================================  ===========
cost                       default    published figure                    status
=========================  =========  ==================================  ===========
``lru_scan_ns``            100 ns     together 360-560 ns per clean       consistent
``reclaim_clean_ns``       350 ns     page-cache page scanned and freed
                                      by kswapd, 2 GHz Skylake-SP [1]_
``reclaim_anon_ns``        2500 ns    none (one INVLPG is 200+ cycles     provisional
                                      [2]_)
``writepage_ns``           4000 ns    none                                provisional
``io_bandwidth``           1 GiB/s    none for 4 KiB writeback            provisional
``io_latency_ns``          100 µs     none                                provisional
``alloc_page_ns``          50 ns      ~40 ns alloc+free [3]_; 42-87 ns    consistent
                                      alloc alone (125-260 cycles) [4]_
``zero_page_ns``           250 ns     190-350 ns [5]_                     consistent
``read_page_ns``           300 ns     1.35-2.6 µs together, read          consistent
``readahead_page_ns``      1000 ns    through the page cache [1]_
``compact_scan_ns``        20 ns      ~1/130 of a migration in the        consistent
                                      kernel's own cost model [6]_
``migrate_page_ns``        2000 ns    ~5.4 µs on a 2009 1.9 GHz core      plausible
                                      (750 MB/s ``move_pages``) [7]_
``slab_object_ns``         200 ns     none                                provisional
=========================  =========  ==================================  ===========

What each cost covers: ``lru_scan_ns`` isolating and checking one LRU page
(``isolate_lru_pages`` and the tests of ``shrink_page_list``);
``reclaim_clean_ns`` ``__remove_mapping`` and the free; ``reclaim_anon_ns``
``add_to_swap`` and the unmap (rmap walk, TLB flush); ``writepage_ns`` submitting
one page of writeback (``pageout``); ``alloc_page_ns`` taking one page off a
per-cpu list; ``zero_page_ns`` clearing a page for an anonymous fault;
``read_page_ns`` copying a cached page to user space; ``readahead_page_ns`` the
CPU side of reading one page into the cache (device time is not charged);
``compact_scan_ns`` one pfn visited by a compaction scanner;
``migrate_page_ns`` unmap, copy and remap of one page; ``slab_object_ns`` one
object scanned by a shrinker.

**Earlier defaults.** mmsim first charged clean reclaim 1250 ns a
page (``lru_scan_ns`` 150 + ``reclaim_clean_ns`` 1100), 2.2-3.5x slower than the
one published kswapd measurement [1]_, and ``alloc_page_ns`` was 100 ns, about
twice the allocator microbenchmarks [3]_ [4]_. They are now 100 + 350 = 450 ns a
clean page (about 2.2 M pages/s, 8.5 GiB/s per core, inside the published band)
and 50 ns a page taken off the per-cpu lists. The lessons' stored numbers and the
real-kernel replay's CPU factor (``mmsim.realrun.EMULATED_CPU_FACTOR``) were
worked out again on them. The costs of anonymous reclaim, ``writepage``, I/O
and slab shrinking stay provisional: no published figure for them was found.

All of them can be overridden, one by one (``CostModel(reclaim_clean_ns=1100)``)
or together: ``CostModel().scaled(3)`` makes every CPU cost three times higher,
which is what an older or emulated CPU looks like (the shared real-kernel
recording ran on an emulated CPU roughly 30x slower; see ``mmsim.realrun``).

Simplifications
---------------
Costs are constants per page; caches, lock contention, NUMA distance and the
CPU time of the flusher threads are not modelled.

References
----------
.. [1] Buddy Lumpkin, "[RFC PATCH 0/1] mm: Support multiple kswapd threads per
   node", linux-mm, 2 April 2018,
   https://lore.kernel.org/r/1522661062-39745-1-git-send-email-buddy.lumpkin@oracle.com
   (pgscan_kswapd per 300 s stage over kswapd CPU: 1.8-2.8 M pages/s per CPU,
   reads only, so scanned = reclaimed; its "Test #2" gives the read cost).
.. [2] Ingo Molnar, linux-mm, 10 June 2015,
   https://lore.kernel.org/r/20150610082640.GA24483@gmail.com
.. [3] Jesper Dangaard Brouer, "Re: [PATCH 4/4] mm, page_alloc: Add a bulk page
   allocator", linux-mm, 16 January 2017 (158 cycles, 39.6 ns per order-0
   alloc+free), https://lore.kernel.org/r/20170116152518.5519dc1e@redhat.com
.. [4] Mel Gorman, mmtests ``pagealloc`` figures in commit 374ad05ab64d
   ("mm, page_alloc: only use per-cpu allocator for irq-safe requests").
.. [5] Commit cb431accb36e ("x86/clear_page: introduce clear_pages()"): 13.7 GB/s
   for 4 KiB chunks on AMD Milan; lkml 2024-03 khugepaged patch: 97 µs to
   zero 2 MiB, https://lkml.indiana.edu/hypermail/linux/kernel/2403.1/02705.html
.. [6] Mel Gorman, commit 397487db696c ("mm: compaction: Add scanned and
   isolated counters for compaction"), which defines the cost model mmtests uses.
.. [7] Commit 35282a2de4e5 (2009): migration throughput from 600 to 750 MB/s on
   a 16-core 1.9 GHz Barcelona.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class CostModel:
    """Nanoseconds per unit of work (see the module docstring for the defaults)."""

    lru_scan_ns: int = 100
    reclaim_clean_ns: int = 350
    reclaim_anon_ns: int = 2500
    writepage_ns: int = 4000
    io_bandwidth: int = 1 << 30
    io_latency_ns: int = 100_000
    alloc_page_ns: int = 50
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
