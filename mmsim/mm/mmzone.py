"""Nodes, zones, free areas and pageblocks: the state Linux v5.0 keeps for memory.

A machine's physical memory is split into *nodes* (``pg_data_t``, one per NUMA
node) and each node into *zones* by the address ranges that devices and the
kernel can reach: on x86_64 ``ZONE_DMA`` (below 16 MiB), ``ZONE_DMA32`` (below
4 GiB), ``ZONE_NORMAL`` (the rest), ``ZONE_MOVABLE`` and ``ZONE_DEVICE``
(usually empty). Every zone exists in every node, populated or not, in that
fixed order; an allocation names the highest zone it can use (its
*classzone*) and may fall back to lower ones.

Inside a zone the buddy allocator keeps free memory as naturally aligned
blocks of ``2**order`` pages, ``order`` from 0 to ``MAX_ORDER - 1`` (10, i.e.
4 MiB). ``free_area[order]`` holds one free list per *migratetype* - how
movable the pages allocated from it will be (Unmovable kernel memory,
Reclaimable slab, Movable user and page-cache memory, and the special
HighAtomic, CMA and Isolate lists) - and counts the blocks on all of them in
``nr_free``, which is what ``/proc/buddyinfo`` prints. Memory is also divided
into *pageblocks* of ``pageblock_nr_pages`` (512 pages, 2 MiB); each pageblock
carries one migratetype so that pages of one mobility are grouped together,
which is what makes compaction and high-order allocation possible.

Each zone has three watermarks (min, low, high, plus a temporary
``watermark_boost``) and a ``lowmem_reserve`` per classzone. kswapd wakes when
free memory falls below low and reclaims until it is above high; the
allocator's fast path needs free pages above low, its slow path above min.

mmsim keeps this state at page-frame granularity: per-frame facts (what a
frame holds, which zone owns it, the order of a free block that starts there,
links of the free lists) live in flat byte and int arrays of the node that are
exposed as numpy arrays for vectorised work (a memory map, a compaction scan)
and read element by element on the allocator's hot paths. Free lists are
doubly linked through those arrays exactly as the kernel links ``page->lru``,
so adding at the head or tail and unlinking a buddy are O(1).

Kernel source: include/linux/mmzone.h (``struct zone``, ``struct pglist_data``,
``struct free_area``, ``enum migratetype``, ``enum zone_type``, the
``*_wmark_pages`` macros), https://elixir.bootlin.com/linux/v5.0/source/include/linux/mmzone.h

Simplifications
---------------
* One ``Machine`` holds what the kernel keeps in globals (sysctls,
  ``min_free_kbytes``, ``totalreserve_pages``, event counters); a node belongs to
  exactly one machine.
* No memory hot-plug, no sparse sections: a node's frames are one contiguous
  pfn range; frames that the kernel would not back with a ``struct page`` are
  kept with state ``HOLE``.
* Guard pages (``CONFIG_DEBUG_PAGEALLOC``) and page poisoning are not modelled.
"""

from __future__ import annotations

from array import array
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from mmsim.units import PAGE_SHIFT, PAGE_SIZE

if TYPE_CHECKING:  # pragma: no cover
    from mmsim.sysctl import Sysctl

# --------------------------------------------------------------------------
# Constants (x86_64, v5.0 defaults)
# --------------------------------------------------------------------------
MAX_ORDER = 11  #: orders 0..10
pageblock_order = 9  #: HPAGE_SHIFT 21 - PAGE_SHIFT 12
pageblock_nr_pages = 1 << pageblock_order
PAGE_ALLOC_COSTLY_ORDER = 3
DEF_PRIORITY = 12

# enum migratetype (CONFIG_CMA and CONFIG_MEMORY_ISOLATION both on, as distros build)
MIGRATE_UNMOVABLE = 0
MIGRATE_MOVABLE = 1
MIGRATE_RECLAIMABLE = 2
MIGRATE_PCPTYPES = 3  #: number of types on the per-cpu lists
MIGRATE_HIGHATOMIC = MIGRATE_PCPTYPES
MIGRATE_CMA = 4
MIGRATE_ISOLATE = 5
MIGRATE_TYPES = 6
migratetype_names = ("Unmovable", "Movable", "Reclaimable", "HighAtomic", "CMA", "Isolate")

# enum zone_type on x86_64 with ZONE_DEVICE (no HIGHMEM on 64-bit)
ZONE_DMA = 0
ZONE_DMA32 = 1
ZONE_NORMAL = 2
ZONE_MOVABLE = 3
ZONE_DEVICE = 4
MAX_NR_ZONES = 5
zone_names = ("DMA", "DMA32", "Normal", "Movable", "Device")

# enum zone_watermarks
WMARK_MIN = 0
WMARK_LOW = 1
WMARK_HIGH = 2

# zone->flags bits used by mmsim (enum zone_flags)
ZONE_BOOSTED_WATERMARK = 1 << 0

# Per-frame state.  The kernel spreads this over page flags (PageBuddy,
# PageLRU, PageAnon, PageSlab, PageReserved ...); mmsim keeps one byte.
FRAME_FREE = 0  #: in a buddy free block
FRAME_PCP = 1  #: free, but parked on a per-cpu list
FRAME_ANON = 2  #: anonymous user memory (LRU, movable)
FRAME_FILE = 3  #: page cache (LRU, movable)
FRAME_KERNEL = 4  #: unmovable kernel memory (slab-unreclaimable, stacks, page tables ...)
FRAME_SLAB = 5  #: reclaimable slab (dentries, inodes)
FRAME_RESERVED = 6  #: present but never handed to the buddy allocator (memblock)
FRAME_HOLE = 7  #: no memory behind this pfn
FRAME_ISOLATED = 8  #: taken off the buddy or LRU by compaction for migration
frame_state_names = (
    "free",
    "pcp",
    "anon",
    "file",
    "kernel",
    "slab",
    "reserved",
    "hole",
    "isolated",
)
#: states whose pages sit on an LRU list and can be migrated by compaction
LRU_STATES = (FRAME_ANON, FRAME_FILE)

NOT_BUDDY = 0xFF  #: marker in ``Node.buddy_order`` for frames that do not head a free block
NO_ZONE = 0xFF
NIL = -1  #: end of a free list


def _list_key(order: int, mt: int) -> int:
    return (order << 3) | mt


def sorted_unique(a: np.ndarray) -> np.ndarray:
    """``np.unique(a)`` of an integer array: its distinct values, sorted (flattened).

    Computed by sorting: numpy 2's hash-based ``np.unique`` is far slower on
    large integer arrays (over a second for two million pfns, against a few
    milliseconds for the sort).
    """
    s = np.sort(np.asarray(a).ravel())
    if s.size < 2:
        return s
    keep = np.empty(s.size, dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


# --------------------------------------------------------------------------
# Kernel configuration and the machine ("globals")
# --------------------------------------------------------------------------
@dataclass
class KernelConfig:
    """Build options that change what is printed or counted (``CONFIG_*``).

    Attributes
    ----------
    cma
        ``CONFIG_CMA``: the ``CMA`` migratetype exists (printed in pagetypeinfo).
    numa
        ``CONFIG_NUMA``: zoneinfo prints ``numa_*`` counters.
    hz
        ``CONFIG_HZ``: jiffies per second (250 on x86 distribution kernels).
    """

    cma: bool = True
    numa: bool = True
    hz: int = 250


class Machine:
    """What v5.0 keeps in global variables: sysctls, counters, the list of nodes.

    Attributes
    ----------
    sysctl : Sysctl
        The ``vm.*`` settings (validated; writing one runs the kernel's handler).
    min_free_kbytes : int
        The value in force (computed at boot unless set by the user).
    user_min_free_kbytes : int
        -1 until the sysctl is written, as in ``mm/page_alloc.c``.
    totalreserve_pages : int
        Result of ``calculate_totalreserve_pages``.
    vm_events : dict[str, int]
        ``/proc/vmstat`` event counters by name.
    """

    def __init__(self, sysctl: Sysctl, *, nr_cpus: int = 2, config: KernelConfig | None = None):
        from mmsim.mm.vmstat import new_event_counters

        self.config = config or KernelConfig()
        self.nr_cpus = nr_cpus
        self.nodes: list[Node] = []
        self.min_free_kbytes = 1024  # static initialiser in page_alloc.c
        self.user_min_free_kbytes = -1
        self.totalreserve_pages = 0
        self.vm_events: dict[str, int] = new_event_counters()
        self.page_group_by_mobility_disabled = False
        self.thp_enabled_at_boot = True
        #: callbacks filled in by higher layers (kswapd, kcompactd); see page_alloc
        self.hooks: dict[str, Any] = {}
        #: tracepoint sink: ``tracer(event, **fields)`` or None
        self.tracer: Any = None
        #: the event loop (mmsim.kthread.Scheduler) while a simulation runs
        self.sched: Any = None
        from mmsim.cost import CostModel

        #: CPU/I-O time per unit of work (mmsim.cost.CostModel)
        self.cost = CostModel()
        #: the swap area (mmsim.mm.swap.SwapArea) or None: no swap
        self.swap: Any = None
        #: the block device for writeback (mmsim.mm.page_io.BlockDevice) or None
        self.blockdev: Any = None
        #: slab shrinkers (``register_shrinker``)
        self.shrinkers: list[Any] = []
        #: owners of LRU pages (address spaces, anonymous regions) by id
        self.mappings: list[Any] = []
        self.page_cluster = 0  # mm/swap.c: zero until swap_setup() runs from kswapd_init
        self.sysctl = sysctl
        sysctl._bind(self)

    # convenience iterators, named after the kernel macros
    def for_each_zone(self):
        """Every zone of every node, populated or not (``for_each_zone``)."""
        for node in self.nodes:
            yield from node.zones

    def for_each_populated_zone(self):
        """Zones with present pages (``for_each_populated_zone``)."""
        for node in self.nodes:
            for z in node.zones:
                if z.present_pages:
                    yield z

    def totalram_pages(self) -> int:
        """Sum of managed pages (``totalram_pages()``)."""
        return sum(z.managed_pages for z in self.for_each_zone())


# --------------------------------------------------------------------------
# Per-cpu pages
# --------------------------------------------------------------------------
class PerCpuPages:
    """``struct per_cpu_pages``: order-0 pages cached per CPU and migratetype.

    ``lists[mt]`` is a deque whose left end is the list head: frees push there
    (hot pages first), allocations pop there, ``free_pcppages_bulk`` takes from
    the right (the tail), and refills from ``rmqueue_bulk`` append on the right.
    """

    __slots__ = ("batch", "count", "high", "lists")

    def __init__(self, high: int, batch: int):
        self.count = 0
        self.high = high
        self.batch = batch
        self.lists: list[deque[int]] = [deque() for _ in range(MIGRATE_PCPTYPES)]

    def __repr__(self) -> str:
        return f"PerCpuPages(count={self.count}, high={self.high}, batch={self.batch})"


class FreeArea:
    """Read-only view of ``zone->free_area[order]``.

    Attributes
    ----------
    nr_free : int
        Free blocks of this order on all migratetype lists.
    """

    __slots__ = ("order", "zone")

    def __init__(self, zone: Zone, order: int):
        self.zone = zone
        self.order = order

    @property
    def nr_free(self) -> int:
        return self.zone._nr_free[self.order]

    def nr_free_list(self, mt: int) -> int:
        """Blocks on ``free_list[mt]`` (what /proc/pagetypeinfo prints)."""
        return self.zone._nr_list[_list_key(self.order, mt)]

    def free_list(self, mt: int) -> list[int]:
        """pfns of the blocks on ``free_list[mt]``, head first."""
        return list(self.zone.iter_free_list(self.order, mt))

    def list_empty(self, mt: int) -> bool:
        return self.zone._head[_list_key(self.order, mt)] == NIL

    def __repr__(self) -> str:
        counts = ", ".join(
            f"{migratetype_names[mt]}={self.nr_free_list(mt)}" for mt in range(MIGRATE_TYPES)
        )
        return f"FreeArea(order={self.order}, nr_free={self.nr_free}, {counts})"


# --------------------------------------------------------------------------
# Zone
# --------------------------------------------------------------------------
class Zone:
    """``struct zone``: one zone of one node.

    Attributes
    ----------
    name, idx : str, int
        ``"DMA"`` ... ``"Device"`` and its index (``zone_idx``).
    zone_start_pfn, spanned_pages, present_pages, managed_pages : int
        The zone's pfn range and its page counts as ``/proc/zoneinfo`` prints them.
    _watermark : list[int]
        Raw min/low/high (``WMARK_MIN``, ``WMARK_LOW``, ``WMARK_HIGH``).
    watermark_boost : int
        Added to all three watermarks while a fragmentation boost is in force.
    lowmem_reserve : list[int]
        Pages held back from allocations whose classzone is index *j*.
    nr_free_pages : int
        ``NR_FREE_PAGES``: free pages in buddy blocks (not on pcp lists).
    nr_reserved_highatomic : int
        Pages in HighAtomic pageblocks.
    flags : int
        Zone flags (``ZONE_BOOSTED_WATERMARK``).
    pageset : list[PerCpuPages]
        One per CPU.
    """

    def __init__(self, node: Node, idx: int, start_pfn: int, spanned: int, present: int,
                 managed: int):
        self.node = node
        self.idx = idx
        self.name = zone_names[idx]
        self.zone_start_pfn = start_pfn
        self.spanned_pages = spanned
        self.present_pages = present
        self.managed_pages = managed
        self._watermark = [0, 0, 0]
        self.watermark_boost = 0
        self.lowmem_reserve = [0] * MAX_NR_ZONES
        self.nr_reserved_highatomic = 0
        self.flags = 0
        self.nr_free_pages = 0
        self.nr_free_cma = 0
        self.percpu_drift_mark = 0
        self.stat_threshold = 0
        #: pages of each frame state owned by this zone (index = FRAME_*)
        self.nr_state = [0] * len(frame_state_names)
        #: other zone counters as /proc/zoneinfo names them (LRU sizes come from vmscan)
        self.vm_stat: dict[str, int] = {}
        nkeys = MAX_ORDER << 3
        self._head = [NIL] * nkeys
        self._tail = [NIL] * nkeys
        self._nr_list = [0] * nkeys
        self._nr_free = [0] * MAX_ORDER
        self.free_area = [FreeArea(self, o) for o in range(MAX_ORDER)]
        self.pageset: list[PerCpuPages] = []
        # compaction state (filled by mm.compaction)
        self.compact_considered = 0
        self.compact_defer_shift = 0
        self.compact_order_failed = 0
        self.compact_blockskip_flush = False
        self.compact_cached_migrate_pfn = [start_pfn, start_pfn]
        self.compact_cached_free_pfn = start_pfn + spanned

    # ---- the *_wmark_pages() macros (boost included, as in v5.0) -------------
    @property
    def min_wmark_pages(self) -> int:
        return self._watermark[WMARK_MIN] + self.watermark_boost

    @property
    def low_wmark_pages(self) -> int:
        return self._watermark[WMARK_LOW] + self.watermark_boost

    @property
    def high_wmark_pages(self) -> int:
        return self._watermark[WMARK_HIGH] + self.watermark_boost

    def wmark_pages(self, i: int) -> int:
        """``wmark_pages(zone, i)``: raw watermark *i* plus the boost."""
        return self._watermark[i] + self.watermark_boost

    @property
    def zone_end_pfn(self) -> int:
        return self.zone_start_pfn + self.spanned_pages

    def zone_spans_pfn(self, pfn: int) -> bool:
        return self.zone_start_pfn <= pfn < self.zone_start_pfn + self.spanned_pages

    def managed_zone(self) -> bool:
        return self.managed_pages > 0

    def populated_zone(self) -> bool:
        return self.present_pages > 0

    @property
    def pgdat(self) -> Node:
        return self.node

    # ---- free lists (include/linux/list.h on page->lru) ---------------------
    def iter_free_list(self, order: int, mt: int):
        """Yield the pfns on ``free_area[order].free_list[mt]`` from the head."""
        node = self.node
        nxt, base = node._nxt, node.node_start_pfn
        pfn = self._head[_list_key(order, mt)]
        while pfn != NIL:
            yield pfn
            pfn = nxt[pfn - base]

    def nr_free_by_order(self) -> list[int]:
        """``free_area[o].nr_free`` for every order: one /proc/buddyinfo row."""
        return list(self._nr_free)

    def nr_free_by_type(self) -> list[list[int]]:
        """``[mt][order]`` block counts: this zone's /proc/pagetypeinfo rows."""
        return [[self._nr_list[_list_key(o, mt)] for o in range(MAX_ORDER)]
                for mt in range(MIGRATE_TYPES)]

    def pageblock_counts(self) -> list[int]:
        """Pageblocks of each migratetype, counted as ``pagetypeinfo_showblockcount``.

        One pageblock is counted per ``pageblock_nr_pages`` step from the zone's
        first pfn, skipping steps that land on a hole or on another zone.
        """
        node = self.node
        counts = [0] * MIGRATE_TYPES
        if not self.spanned_pages:
            return counts
        start = self.zone_start_pfn
        pfns = np.arange(start, self.zone_end_pfn, pageblock_nr_pages) - node.node_start_pfn
        ok = (node.zone_id[pfns] == self.idx) & (node.state[pfns] != FRAME_HOLE)
        pbs = (pfns[ok] + node.node_start_pfn) >> pageblock_order
        mts = node.pageblock_mt[pbs - node.pb_base]
        for mt, n in zip(*np.unique(mts, return_counts=True)):
            counts[int(mt)] = int(n)
        return counts

    def __repr__(self) -> str:
        return (f"Zone({self.name!r}, managed={self.managed_pages}, free={self.nr_free_pages}, "
                f"min={self.min_wmark_pages}, low={self.low_wmark_pages}, "
                f"high={self.high_wmark_pages})")


# --------------------------------------------------------------------------
# Node
# --------------------------------------------------------------------------
class Node:
    """``pg_data_t``: one NUMA node, its zones and its page frames.

    Build one with :meth:`Node.build` (a laid-out x86_64 machine or explicit
    zone sizes) or :meth:`Node.from_proc` (from real ``/proc`` text).

    Attributes
    ----------
    node_id : int
        ``pgdat->node_id``.
    zones : list[Zone]
        All ``MAX_NR_ZONES`` zones in kernel order, empty ones included.
    node_start_pfn, node_spanned_pages : int
        The node's pfn range.
    state : numpy.ndarray (uint8)
        Per-frame state (``FRAME_*``), indexed by ``pfn - node_start_pfn``.
    zone_id : numpy.ndarray (uint8)
        Owning zone index per frame (``NO_ZONE`` outside every zone).
    pageblock_mt : numpy.ndarray (uint8)
        Migratetype of each pageblock, indexed by ``(pfn >> 9) - pb_base``.
    """

    def __init__(self, machine: Machine, node_id: int, start_pfn: int, spanned: int):
        self.machine = machine
        self.node_id = node_id
        self.node_start_pfn = start_pfn
        self.node_spanned_pages = spanned
        n = spanned
        # byte-wide per-frame arrays: bytearray for fast scalar access from
        # Python, numpy views on the same memory for vectorised work
        self._state = bytearray([FRAME_HOLE]) * n
        self._zone_id = bytearray([NO_ZONE]) * n
        self._buddy_order = bytearray([NOT_BUDDY]) * n
        self._buddy_mt = bytearray(n)
        self._head_order = bytearray([NOT_BUDDY]) * n
        self._nxt = array("i", bytes(4 * n))
        self._prv = array("i", bytes(4 * n))
        self.state = np.frombuffer(self._state, dtype=np.uint8)
        self.zone_id = np.frombuffer(self._zone_id, dtype=np.uint8)
        self.buddy_order = np.frombuffer(self._buddy_order, dtype=np.uint8)
        self.head_order = np.frombuffer(self._head_order, dtype=np.uint8)
        self.pb_base = start_pfn >> pageblock_order
        npb = ((start_pfn + spanned + pageblock_nr_pages - 1) >> pageblock_order) - self.pb_base
        self._pageblock_mt = bytearray([MIGRATE_MOVABLE]) * max(npb, 1)
        self._pageblock_skip = bytearray(max(npb, 1))
        self.pageblock_mt = np.frombuffer(self._pageblock_mt, dtype=np.uint8)
        self.pageblock_skip = np.frombuffer(self._pageblock_skip, dtype=np.uint8)
        self.zones: list[Zone] = []
        #: node-level counters printed under "per-node stats"
        self.node_stat: dict[str, int] = {}
        # kswapd / kcompactd request state (filled by the daemons' modules)
        from mmsim.kthread import WaitQueue

        self.kswapd_wait = WaitQueue(f"kswapd_wait{node_id}")
        self.pfmemalloc_wait = WaitQueue(f"pfmemalloc_wait{node_id}")
        self.kcompactd_wait = WaitQueue(f"kcompactd_wait{node_id}")
        self.kswapd: Any = None
        self.kcompactd: Any = None
        self.kswapd_order = 0
        self.kswapd_classzone_idx = MAX_NR_ZONES
        self.kswapd_failures = 0
        self.kcompactd_max_order = 0
        self.kcompactd_classzone_idx = MAX_NR_ZONES
        #: PGDAT_CONGESTED / PGDAT_DIRTY / PGDAT_WRITEBACK (mm.vmscan)
        self.pgdat_flags = 0
        self.totalreserve_pages = 0
        #: order-0 pages go through per-cpu lists (False: straight to the buddy)
        self.pcp_enabled = True
        #: cached alloc contexts by gfp mask (see page_alloc.prepare_alloc_pages)
        self._ac_cache: dict[int, Any] = {}

    # ---- construction -------------------------------------------------------
    @classmethod
    def build(cls, zones: dict[str, int | str] | None = None, *, mem: int | str | None = None,
              sysctl: Sysctl | None = None, nr_cpus: int = 2, pcp: bool = True,
              config: KernelConfig | None = None) -> Node:
        """Build a booted single-node machine.

        Parameters
        ----------
        zones
            Zone name → managed size (``int`` pages or ``"3GiB"``), e.g.
            ``{"DMA": "16MiB", "DMA32": "3GiB", "Normal": "5GiB"}``. Zones are
            laid out one after another from pfn 0, each spanning exactly its
            size (no holes, no reserved pages).
        mem
            Instead of ``zones``: total RAM, laid out as x86_64 firmware does
            (DMA below 16 MiB, DMA32 below 4 GiB with the PCI hole above 3 GiB,
            Normal above 4 GiB) with realistic reserved pages.
        sysctl
            :class:`mmsim.Sysctl`; defaults are the kernel's.
        nr_cpus
            CPUs (one per-cpu page set each).
        pcp
            Whether order-0 pages go through per-cpu lists (as in the kernel).

        Examples
        --------
        >>> from mmsim import Node, Sysctl
        >>> node = Node.build(zones={"DMA": 3840, "DMA32": 772808, "Normal": 131072},
        ...                   sysctl=Sysctl(min_free_kbytes=67584))
        >>> [(z.name, z.min_wmark_pages, z.low_wmark_pages, z.high_wmark_pages)
        ...  for z in node.zones[:3]]
        [('DMA', 71, 88, 105), ('DMA32', 14384, 17980, 21576), ('Normal', 2439, 3048, 3657)]
        """
        from mmsim.mm.layout import build_node

        return build_node(zones=zones, mem=mem, sysctl=sysctl, nr_cpus=nr_cpus, pcp=pcp,
                          config=config)

    @classmethod
    def from_proc(cls, zoneinfo: str | None = None, buddyinfo: str | None = None,
                  pagetypeinfo: str | None = None, sysctl: Sysctl | None = None,
                  **kwargs: Any) -> Node:
        """Build a node from real ``/proc`` text (see :func:`mmsim.procfs.node_from_proc`)."""
        from mmsim.procfs import node_from_proc

        return node_from_proc(zoneinfo=zoneinfo, buddyinfo=buddyinfo,
                              pagetypeinfo=pagetypeinfo, sysctl=sysctl, **kwargs)

    # ---- lookups ------------------------------------------------------------
    def zone(self, name: str) -> Zone:
        """The zone called ``name`` (``"DMA"``, ``"DMA32"``, ``"Normal"``, ...)."""
        for z in self.zones:
            if z.name == name:
                return z
        raise ValueError(f"zone: unknown zone name {name!r}; allowed {', '.join(zone_names)}")

    def page_zone(self, pfn: int) -> Zone:
        """The zone that owns ``pfn`` (``page_zone(pfn_to_page(pfn))``)."""
        i = pfn - self.node_start_pfn
        if not 0 <= i < self.node_spanned_pages:
            raise ValueError(
                f"pfn: {pfn} is outside node {self.node_id} "
                f"({self.node_start_pfn}..{self.node_start_pfn + self.node_spanned_pages - 1})")
        zid = self._zone_id[i]
        if zid == NO_ZONE:
            raise ValueError(f"pfn: {pfn} belongs to no zone (a hole)")
        return self.zones[zid]

    def get_pageblock_migratetype(self, pfn: int) -> int:
        return self._pageblock_mt[(pfn >> pageblock_order) - self.pb_base]

    def set_pageblock_migratetype(self, pfn: int, mt: int) -> None:
        self._pageblock_mt[(pfn >> pageblock_order) - self.pb_base] = mt

    @property
    def sysctl(self) -> Sysctl:
        return self.machine.sysctl

    @property
    def min_free_kbytes(self) -> int:
        return self.machine.min_free_kbytes

    @property
    def nr_zones(self) -> int:
        """``pgdat->nr_zones``: index of the highest populated zone + 1."""
        n = 0
        for z in self.zones:
            if z.present_pages:
                n = z.idx + 1
        return n

    @property
    def nr_free_pages(self) -> int:
        return sum(z.nr_free_pages for z in self.zones)

    @property
    def node_present_pages(self) -> int:
        return sum(z.present_pages for z in self.zones)

    def managed_zones(self) -> list[Zone]:
        return [z for z in self.zones if z.managed_pages]

    # ---- allocator entry points (implemented in page_alloc) -----------------
    def alloc_pages(self, order: int = 0, gfp: int | None = None, **kwargs: Any) -> int | None:
        """Allocate ``2**order`` pages; see :func:`mmsim.mm.page_alloc.alloc_pages`."""
        from mmsim.mm.page_alloc import alloc_pages

        return alloc_pages(self, order, gfp, **kwargs)

    def free_pages(self, pfn: int, order: int = 0, **kwargs: Any) -> None:
        """Free a block; see :func:`mmsim.mm.page_alloc.free_pages`."""
        from mmsim.mm.page_alloc import free_pages

        free_pages(self, pfn, order, **kwargs)

    def render(self, name: str) -> str:
        """This node's ``/proc`` (or debugfs) file ``name`` in v5.0's exact format.

        ``name`` is one of ``zoneinfo``, ``buddyinfo``, ``pagetypeinfo``,
        ``vmstat``, ``extfrag_index``, ``unusable_index``.
        """
        from mmsim.procfs import render

        return render(self, name)

    def __repr__(self) -> str:
        zs = ", ".join(f"{z.name}={z.managed_pages}" for z in self.zones if z.managed_pages)
        return f"Node({self.node_id}, {zs}, min_free_kbytes={self.min_free_kbytes})"


__all__ = [
    "DEF_PRIORITY",
    "FRAME_ANON",
    "FRAME_FILE",
    "FRAME_FREE",
    "FRAME_HOLE",
    "FRAME_ISOLATED",
    "FRAME_KERNEL",
    "FRAME_PCP",
    "FRAME_RESERVED",
    "FRAME_SLAB",
    "MAX_NR_ZONES",
    "MAX_ORDER",
    "MIGRATE_CMA",
    "MIGRATE_HIGHATOMIC",
    "MIGRATE_ISOLATE",
    "MIGRATE_MOVABLE",
    "MIGRATE_PCPTYPES",
    "MIGRATE_RECLAIMABLE",
    "MIGRATE_TYPES",
    "MIGRATE_UNMOVABLE",
    "PAGE_ALLOC_COSTLY_ORDER",
    "PAGE_SHIFT",
    "PAGE_SIZE",
    "FreeArea",
    "KernelConfig",
    "Machine",
    "Node",
    "PerCpuPages",
    "Zone",
    "migratetype_names",
    "pageblock_nr_pages",
    "pageblock_order",
    "zone_names",
]
