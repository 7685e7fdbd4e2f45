"""Page reclaim and kswapd (mm/vmscan.c, Linux v5.0).

**Reclaim** takes pages back from the LRU lists of a node. ``shrink_node``
decides with ``get_scan_count`` how many pages of each list to look at -
``list size >> priority``, split between anonymous and file memory by
``vm.swappiness`` and by how often recently scanned pages turned out to be in
use - and then scans them 32 at a time (``SWAP_CLUSTER_MAX``) from the tail:
referenced pages are given another round on the active list, clean file pages
are dropped, dirty ones are written back first, anonymous pages can only go to
swap. Priority starts at 12 (scan 1/4096 of each list) and drops when a pass
does not find enough.

**kswapd** is the per-node thread that does this in the background. An
allocation that finds a zone below its *low* watermark wakes it; it reclaims
(``balance_pgdat``) until some eligible zone is above its *high* watermark for
the requested order, then tries to sleep: first a short nap of ``HZ/10``,
then, if nobody woke it and the node is still balanced, a full sleep until
the next wake-up. Before the nap it hands high-order work to kcompactd. A
watermark *boost* (after pageblocks were stolen across migratetypes) wakes it
too, for a gentle, no-writeback, no-swap reclaim of just the boost.

**Direct reclaim** is the same engine run by the allocating task itself when
kswapd cannot keep up: the allocation fails at the *min* watermark, the task
reclaims a few pages (``try_to_free_pages``, 32) and retries; it may first be
throttled until kswapd has restored half of the min reserve.

Each generator function here (``kswapd``, ``balance_pgdat``, ``shrink_node``,
``try_to_free_pages`` ...) is a mmsim task step: it ``yield``\\ s the CPU time
its work costs (``mmsim.cost``) and the sleeps the kernel function takes, so
reading it is reading the kernel loop.

Kernel source: mm/vmscan.c, https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c
(line numbers in the function docstrings are v5.0's).

Simplifications
---------------
* One lruvec per node (no memory cgroups, so no ``memory.low``/``min``).
* No ``too_many_isolated`` throttle: isolation and putback happen without a
  yield in between, so isolated counts are always back to 0 when another
  task looks.
* Unmapping always succeeds; there is no mlock and no VM_EXEC mapping; pages
  are never locked by someone else.
* Slab shrinking uses the registered shrinkers' own object model
  (``mmsim.mm.slab``); buffer heads, laptop mode, and lazy-free pages are absent.
* ``congestion_wait``/``wait_iff_congested`` never find a congested device.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mmsim.kthread import (
    PF_KSWAPD,
    PF_MEMALLOC,
    PF_SWAPWRITE,
    Run,
    Schedule,
    ScheduleTimeout,
    Sleep,
    WaitQueue,
    finish_wait,
    prepare_to_wait,
    waitqueue_active,
    wake_up_all,
    wake_up_interruptible,
)
from mmsim.mm import gfp as G
from mmsim.mm.compaction import (
    COMPACT_CONTINUE,
    COMPACT_SKIPPED,
    COMPACT_SUCCESS,
    compact_gap,
    compaction_suitable,
    reset_isolation_suitable,
    wakeup_kcompactd,
)
from mmsim.mm.mmzone import (
    DEF_PRIORITY,
    FRAME_ANON,
    MAX_NR_ZONES,
    PAGE_ALLOC_COSTLY_ORDER,
    ZONE_NORMAL,
    Node,
    Zone,
    pageblock_order,
)
from mmsim.mm.page_alloc import free_pages_bulk, zone_watermark_ok_safe
from mmsim.mm.swap import (
    LRU_ACTIVE_ANON,
    LRU_ACTIVE_FILE,
    LRU_INACTIVE_ANON,
    LRU_INACTIVE_FILE,
    Lruvec,
    PG_dirty,
    PG_mapped,
    PG_reclaim,
    PG_referenced,
    PG_swapcache,
    PG_workingset,
    PG_writeback,
    PG_young,
    get_lruvec,
    get_nr_swap_pages,
    total_swap_pages,
)
from mmsim.mm.vmstat import set_pgdat_percpu_threshold

if TYPE_CHECKING:  # pragma: no cover
    from mmsim.kthread import Task
    from mmsim.mm.mmzone import Machine

SWAP_CLUSTER_MAX = 32
MAX_RECLAIM_RETRIES = 16

# pgdat->flags
PGDAT_CONGESTED = 0x1
PGDAT_DIRTY = 0x2
PGDAT_WRITEBACK = 0x4

# get_scan_count balance
SCAN_EQUAL, SCAN_FRACT, SCAN_ANON, SCAN_FILE = range(4)
scan_balance_names = ("SCAN_EQUAL", "SCAN_FRACT", "SCAN_ANON", "SCAN_FILE")
EVICTABLE_LRUS = (LRU_INACTIVE_ANON, LRU_ACTIVE_ANON, LRU_INACTIVE_FILE, LRU_ACTIVE_FILE)

_ALLOCSTALL = ("allocstall_dma", "allocstall_dma32", "allocstall_normal", "allocstall_movable")
_PGSKIP = ("pgskip_dma", "pgskip_dma32", "pgskip_normal", "pgskip_movable")

Gen = Generator[Any, Any, Any]


# ==========================================================================
# scan_control
# ==========================================================================
@dataclass
class ReclaimStat:
    """``sc->nr``: what the last ``shrink_node`` iteration saw."""

    dirty: int = 0
    unqueued_dirty: int = 0
    congested: int = 0
    writeback: int = 0
    immediate: int = 0
    file_taken: int = 0
    taken: int = 0


@dataclass
class ScanControl:
    """``struct scan_control`` (L66): parameters and results of one reclaim.

    ``cost_ns`` is mmsim's: CPU time spent and not yet yielded.
    """

    nr_to_reclaim: int = 0
    order: int = 0
    priority: int = DEF_PRIORITY
    reclaim_idx: int = MAX_NR_ZONES - 1
    gfp_mask: int = G.GFP_KERNEL
    may_writepage: bool = False
    may_unmap: bool = True
    may_swap: bool = False
    may_shrinkslab: bool = False
    nr_scanned: int = 0
    nr_reclaimed: int = 0
    compaction_ready: bool = False
    nr: ReclaimStat = field(default_factory=ReclaimStat)
    cost_ns: int = 0


def _charge(sc: ScanControl) -> Gen:
    """Yield the CPU time accumulated in ``sc`` (mmsim's stand-in for time passing)."""
    if sc.cost_ns:
        c = sc.cost_ns
        sc.cost_ns = 0
        yield Run(c)


def current_task(pgdat: Node) -> Task | None:
    sched = getattr(pgdat.machine, "sched", None)
    return sched.current if sched is not None else None


def current_is_kswapd(pgdat: Node) -> bool:
    """``current_is_kswapd()``: does the running task have ``PF_KSWAPD``?"""
    t = current_task(pgdat)
    return bool(t is not None and t.flags & PF_KSWAPD)


def _count(machine: Machine, name: str, n: int = 1) -> None:
    machine.vm_events[name] += n


def _node_stat_add(pgdat: Node, name: str, n: int) -> None:
    pgdat.node_stat[name] = pgdat.node_stat.get(name, 0) + n


# ==========================================================================
# Sizes and ratios
# ==========================================================================
def zone_reclaimable_pages(zone: Zone) -> int:
    """File LRU pages of the zone, plus anon if swap has free slots (L324-335)."""
    lv = get_lruvec(zone.node)
    zs = lv.zone_size[zone.idx]
    nr = int(zs[LRU_INACTIVE_FILE] + zs[LRU_ACTIVE_FILE])
    if get_nr_swap_pages(zone.node.machine) > 0:
        nr += int(zs[LRU_INACTIVE_ANON] + zs[LRU_ACTIVE_ANON])
    return nr


def inactive_list_is_low(lv: Lruvec, file: bool, sc: ScanControl, actual_reclaim: bool) -> bool:
    """Is the inactive list too small next to the active one? (L2201-2250)

    ``inactive * ratio < active`` with ``ratio = int_sqrt(10 * GiB)`` (1 below
    1 GiB), or ratio 0 when file pages refaulted since the last snapshot.

    Examples
    --------
    Golden ``inactive_ratio_examples``: (inactive, active) of (100000, 150000)
    pages gives ratio 1 → low; 4 GiB each → ratio 8 → not low.
    """
    machine = lv.node.machine
    if not file and not total_swap_pages(machine):
        return False
    inactive_lru = LRU_INACTIVE_FILE if file else LRU_INACTIVE_ANON
    inactive = lv.lru_size(inactive_lru, sc.reclaim_idx)
    active = lv.lru_size(inactive_lru + 1, sc.reclaim_idx)
    if file and actual_reclaim and lv.refaults != lv.node.node_stat.get("workingset_activate", 0):
        inactive_ratio = 0
    else:
        inactive_ratio = inactive_ratio_for(inactive + active)
    return inactive * inactive_ratio < active


def inactive_ratio_for(pages: int) -> int:
    """``int_sqrt(10 * gb)`` or 1 (the ratio part of ``inactive_list_is_low``).

    >>> [inactive_ratio_for(p) for p in (250000, 2097152, 26214400)]
    [1, 8, 31]
    """
    import math

    gb = pages >> (30 - 12)
    return math.isqrt(10 * gb) if gb else 1


def get_scan_count(lv: Lruvec, sc: ScanControl, swappiness: int) -> tuple[list[int], int]:
    """How many pages of each evictable list to scan (L2282-2480).

    Returns ``(nr, scan_balance)``, ``nr`` indexed by LRU list.
    """
    pgdat = lv.node
    machine = pgdat.machine
    fraction = [0, 0]
    denominator = 0
    balance = None
    if not sc.may_swap or get_nr_swap_pages(machine) <= 0:
        balance = SCAN_FILE
    elif not sc.priority and swappiness:
        balance = SCAN_EQUAL
    if balance is None:
        pgdatfree = pgdat.nr_free_pages
        pgdatfile = lv.node_lru_pages(LRU_ACTIVE_FILE) + lv.node_lru_pages(LRU_INACTIVE_FILE)
        total_high = sum(z.high_wmark_pages for z in pgdat.zones if z.managed_pages)
        if pgdatfile + pgdatfree <= total_high and not inactive_list_is_low(
                lv, False, sc, False) and lv.lru_size(LRU_INACTIVE_ANON,
                                                      sc.reclaim_idx) >> sc.priority:
            balance = SCAN_ANON
    if balance is None and not inactive_list_is_low(lv, True, sc, False) and \
            lv.lru_size(LRU_INACTIVE_FILE, sc.reclaim_idx) >> sc.priority:
        balance = SCAN_FILE
    if balance is None:
        balance = SCAN_FRACT
        anon_prio = swappiness
        file_prio = 200 - anon_prio
        anon = lv.lru_size(LRU_ACTIVE_ANON) + lv.lru_size(LRU_INACTIVE_ANON)
        file = lv.lru_size(LRU_ACTIVE_FILE) + lv.lru_size(LRU_INACTIVE_FILE)
        rs, rr = lv.recent_scanned, lv.recent_rotated
        if rs[0] > anon // 4:
            rs[0] //= 2
            rr[0] //= 2
        if rs[1] > file // 4:
            rs[1] //= 2
            rr[1] //= 2
        ap = anon_prio * (rs[0] + 1) // (rr[0] + 1)
        fp = file_prio * (rs[1] + 1) // (rr[1] + 1)
        fraction = [ap, fp]
        denominator = ap + fp + 1
    nr = [0] * 5
    for lru in EVICTABLE_LRUS:
        file = lru >= LRU_INACTIVE_FILE
        size = lv.lru_size(lru, sc.reclaim_idx)
        scan = size >> sc.priority
        if balance == SCAN_FRACT:
            scan = -(-scan * fraction[file] // denominator)
        elif balance in (SCAN_FILE, SCAN_ANON) and (balance == SCAN_FILE) != file:
            scan = 0
        nr[lru] = scan
    return nr, balance


# ==========================================================================
# The page-level work
# ==========================================================================
def _free_reclaimed(pgdat: Node, lv: Lruvec, pfns: np.ndarray) -> None:
    """Pages reclaim freed: tell their owners, forget their state, free them."""
    from mmsim.mm.filemap import release_pages_from_owners

    release_pages_from_owners(pgdat, pfns)
    lv.flags[pfns] = 0
    lv.owner[pfns] = -1
    free_pages_bulk(pgdat, pfns, checked=True)


#: the fast paths beside the readable code (same results; False: the readable code alone)
_FAST_PATHS = True
_SMALL_BATCH = 256
_REFERENCED_OR_NONE = bytes([0, PG_referenced])


def _only_referenced(fl: np.ndarray) -> bool:
    """``not (fl & ~PG_referenced).any()``: no page has a flag other than PG_referenced.

    For a reclaim chunk, one bytes operation (drop the bytes 0 and
    PG_referenced; nothing may be left) instead of two numpy calls.
    """
    if _FAST_PATHS and fl.size <= _SMALL_BATCH:
        return not fl.tobytes().translate(None, _REFERENCED_OR_NONE)
    return not (fl & ~np.uint8(PG_referenced)).any()


def shrink_page_list(pgdat: Node, lv: Lruvec, pfns: np.ndarray, sc: ScanControl,
                     file: bool) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Try to free isolated inactive pages (L1100-1505); returns (keep, activate, stat).

    Every page takes the first branch of the kernel's sequence that applies:
    under writeback → activate (``PG_reclaim`` set; ``nr_immediate`` for
    kswapd on a ``PGDAT_WRITEBACK`` node); referenced (``page_check_references``)
    → activate or keep; anonymous and not in swap cache → ``add_to_swap``
    (no slot → activate); mapped → unmapped; dirty → file pages are written
    only by kswapd on a ``PGDAT_DIRTY`` node when already marked for reclaim
    (else marked and activated), and only with ``may_writepage``; clean →
    freed. Pages sent to writeback stay inactive (keep).

    Simplifications: a page's page-table accessed bits are one bit
    (``PG_young``), so ``page_check_references``' rule that a file page
    referenced through more than one mapping is activated at once
    (``referenced_ptes > 1``) is not modelled; nor are ``VM_EXEC`` pages or
    mlocked pages.
    """
    machine = pgdat.machine
    cost = machine.cost
    n = pfns.size
    fl = lv.flags[pfns].copy()
    if file and _only_referenced(fl):
        # fast path, same outcome as below: clean, unmapped page cache that nobody
        # writes back, at most PG_referenced (PAGEREF_RECLAIM_CLEAN) - every page is freed
        sc.nr_scanned += n
        sc.cost_ns += n * cost.reclaim_clean_ns
        _free_reclaimed(pgdat, lv, pfns)
        empty = pfns[:0]
        return empty, empty, {"nr_dirty": 0, "nr_unqueued_dirty": 0, "nr_congested": 0,
                              "nr_writeback": 0, "nr_immediate": 0, "nr_activate": 0,
                              "nr_ref_keep": 0, "nr_unmap_fail": 0, "nr_reclaimed": int(n)}
    is_anon = pgdat.state[pfns] == FRAME_ANON
    mapped = (fl & PG_mapped) != 0
    swapcache = (fl & PG_swapcache) != 0
    sc.nr_scanned += n + int(np.count_nonzero(mapped | swapcache))
    may_enter_fs = np.full(n, bool(sc.gfp_mask & G.__GFP_FS))
    if sc.gfp_mask & G.__GFP_IO:
        may_enter_fs |= swapcache
    dirty = (fl & PG_dirty) != 0
    writeback = (fl & PG_writeback) != 0
    is_file = ~is_anon
    st = {"nr_dirty": 0, "nr_unqueued_dirty": 0, "nr_congested": 0, "nr_writeback": 0,
          "nr_immediate": 0, "nr_activate": 0, "nr_ref_keep": 0, "nr_unmap_fail": 0}
    fdirty, fwb = dirty & is_file, writeback & is_file
    st["nr_dirty"] = int(np.count_nonzero(fdirty | fwb))
    st["nr_unqueued_dirty"] = int(np.count_nonzero(fdirty & ~fwb))
    st["nr_congested"] = int(np.count_nonzero(fwb & ((fl & PG_reclaim) != 0)))
    kswapd = current_is_kswapd(pgdat)
    activate = np.zeros(n, dtype=bool)
    keep = np.zeros(n, dtype=bool)
    # ---- pages under writeback
    if writeback.any():
        case1 = writeback & ((fl & PG_reclaim) != 0) & kswapd & \
            bool(pgdat.pgdat_flags & PGDAT_WRITEBACK)
        st["nr_immediate"] = int(np.count_nonzero(case1))
        case2 = writeback & ~case1
        st["nr_writeback"] = int(np.count_nonzero(case2))
        fl[case2] |= PG_reclaim
        activate |= writeback
    todo = ~writeback
    # ---- page_check_references
    young = (fl & PG_young) != 0
    ref_page = (fl & PG_referenced) != 0
    fl[todo] &= ~np.uint8(PG_young | PG_referenced)
    ref_activate = todo & young & (is_anon | ref_page)
    ref_keep = todo & young & ~is_anon & ~ref_page
    # a file page referenced through its ptes gets PG_referenced whether it is kept or
    # activated ("the mark is set for activated pages as well", page_check_references)
    fl[todo & young & ~is_anon] |= PG_referenced
    reclaim_clean = todo & ~young & ref_page & is_file
    activate |= ref_activate
    keep |= ref_keep
    st["nr_ref_keep"] = int(np.count_nonzero(ref_keep))
    todo &= ~(ref_activate | ref_keep)
    # ---- anonymous pages need a swap slot first
    need_swap = todo & is_anon & ~swapcache
    if need_swap.any():
        if not sc.gfp_mask & G.__GFP_IO:
            keep |= need_swap
            todo &= ~need_swap
        else:
            idx = np.flatnonzero(need_swap)
            swap = getattr(machine, "swap", None)
            got = swap.get_swap_pages(idx.size) if swap is not None else 0
            ok, fail = idx[:got], idx[got:]
            fl[ok] |= PG_swapcache | PG_dirty
            swapcache[ok] = True
            dirty[ok] = True
            may_enter_fs[ok] = True
            activate[fail] = True
            todo[fail] = False
            sc.cost_ns += got * cost.reclaim_anon_ns
    # ---- unmap (always succeeds in mmsim)
    fl[todo & mapped] &= ~np.uint8(PG_mapped)
    # ---- dirty pages
    dirty_todo = todo & dirty
    if dirty_todo.any():
        no_immediate = ~(kswapd & ((fl & PG_reclaim) != 0) & bool(pgdat.pgdat_flags & PGDAT_DIRTY))
        file_defer = dirty_todo & is_file & no_immediate
        n_imm = int(np.count_nonzero(file_defer))
        if n_imm:
            _node_stat_add(pgdat, "nr_vmscan_immediate_reclaim", n_imm)
        fl[file_defer] |= PG_reclaim
        activate |= file_defer
        rest = dirty_todo & ~file_defer
        keep_now = rest & (reclaim_clean | ~may_enter_fs | (not sc.may_writepage))
        keep |= keep_now
        write = rest & ~keep_now
        if write.any():
            fl[write] = (fl[write] | PG_reclaim | PG_writeback) & ~np.uint8(PG_dirty)
            wpfns = pfns[write]
            nw = int(wpfns.size)
            _node_stat_add(pgdat, "nr_vmscan_write", nw)
            _node_stat_add(pgdat, "nr_writeback", nw)
            n_anon = int(np.count_nonzero(write & is_anon))
            if n_anon:
                _count(machine, "pswpout", n_anon)
            if nw > n_anon:  # clear_page_dirty_for_io: the file pages leave NR_FILE_DIRTY
                _node_stat_add(pgdat, "nr_dirty", n_anon - nw)
            sc.cost_ns += nw * cost.writepage_ns
            dev = getattr(machine, "blockdev", None)
            if dev is not None:
                dev.submit(pgdat, wpfns, machine.sched.now_ns if machine.sched else 0)
            keep |= write
        todo &= ~dirty_todo
    # ---- clean pages are freed
    freed = pfns[todo]
    lv.flags[pfns] = fl
    nr_reclaimed = int(freed.size)
    if nr_reclaimed:
        n_anon_freed = int(np.count_nonzero(todo & is_anon))
        sc.cost_ns += (nr_reclaimed - n_anon_freed) * cost.reclaim_clean_ns
        sc.cost_ns += n_anon_freed * cost.reclaim_clean_ns
        _free_reclaimed(pgdat, lv, freed)
    act = pfns[activate]
    st["nr_activate"] = int(act.size)
    if act.size:
        _count(machine, "pgactivate", int(act.size))
    st["nr_reclaimed"] = nr_reclaimed
    return pfns[keep & ~activate], act, st


def shrink_inactive_list(nr_to_scan: int, lv: Lruvec, sc: ScanControl, lru: int) -> int:
    """Isolate up to ``nr_to_scan`` pages from an inactive list and reclaim them (L1894-2003).

    Counts ``pgscan_kswapd``/``pgscan_direct`` (pages looked at, skipped ones
    included), ``pgsteal_kswapd``/``pgsteal_direct`` and ``pgskip_<zone>``;
    emits ``mm_vmscan_lru_shrink_inactive``.
    """
    pgdat = lv.node
    machine = pgdat.machine
    file = lru == LRU_INACTIVE_FILE
    taken, nr_scanned, skipped = lv.take_tail(lru, nr_to_scan, sc.reclaim_idx)
    _count_skips(machine, skipped)
    sc.cost_ns += nr_scanned * machine.cost.lru_scan_ns
    lv.recent_scanned[file] += int(taken.size)
    kswapd = current_is_kswapd(pgdat)
    _count(machine, "pgscan_kswapd" if kswapd else "pgscan_direct", nr_scanned)
    if not taken.size:
        return 0
    keep, act, st = shrink_page_list(pgdat, lv, taken, sc, file)
    nr_reclaimed = st["nr_reclaimed"]
    _count(machine, "pgsteal_kswapd" if kswapd else "pgsteal_direct", nr_reclaimed)
    # putback_inactive_pages
    if act.size:
        lv.add(act, lru + 1)
        lv.recent_rotated[file] += int(act.size)
    if keep.size:
        lv.add(keep, lru)
    nr = sc.nr
    nr.dirty += st["nr_dirty"]
    nr.congested += st["nr_congested"]
    nr.unqueued_dirty += st["nr_unqueued_dirty"]
    nr.writeback += st["nr_writeback"]
    nr.immediate += st["nr_immediate"]
    nr.taken += int(taken.size)
    if file:
        nr.file_taken += int(taken.size)
    tr = machine.tracer
    if tr is not None:
        tr("mm_vmscan_lru_shrink_inactive", nid=pgdat.node_id, nr_scanned=nr_scanned,
           nr_reclaimed=nr_reclaimed, nr_dirty=st["nr_dirty"], nr_writeback=st["nr_writeback"],
           nr_congested=st["nr_congested"], nr_immediate=st["nr_immediate"],
           nr_activate=st["nr_activate"], nr_ref_keep=st["nr_ref_keep"],
           nr_unmap_fail=0, priority=sc.priority,
           flags="RECLAIM_WB_FILE|RECLAIM_WB_ASYNC" if file else "RECLAIM_WB_ANON|RECLAIM_WB_ASYNC")
    return nr_reclaimed


def _count_skips(machine: Machine, skipped: np.ndarray) -> None:
    for zid, n in enumerate(skipped[:4].tolist()):
        if n:
            machine.vm_events[_PGSKIP[zid]] += n


def shrink_active_list(nr_to_scan: int, lv: Lruvec, sc: ScanControl, lru: int) -> None:
    """Move pages from the tail of an active list to the inactive list (L2072-2171).

    Counts ``pgrefill`` (pages looked at) and ``pgdeactivate``; referenced
    (accessed-bit) pages count as rotated but are deactivated all the same
    (only executable file pages would stay active, and mmsim has none).

    Simplifications: the ``mm_vmscan_lru_shrink_active`` tracepoint is not
    emitted (nor ``mm_vmscan_inactive_list_is_low`` in
    :func:`inactive_list_is_low`): they would fire for every 32-page chunk
    and the lessons do not read them.
    """
    pgdat = lv.node
    machine = pgdat.machine
    file = lru == LRU_ACTIVE_FILE
    taken, nr_scanned, skipped = lv.take_tail(lru, nr_to_scan, sc.reclaim_idx)
    _count_skips(machine, skipped)
    sc.cost_ns += nr_scanned * machine.cost.lru_scan_ns
    lv.recent_scanned[file] += int(taken.size)
    _count(machine, "pgrefill", nr_scanned)
    if not taken.size:
        return
    young = lv.test_and_clear(taken, PG_young)
    lv.recent_rotated[file] += int(np.count_nonzero(young))
    lv.set_flags(taken, PG_workingset)
    lv.add(taken, lru - 1)
    _count(machine, "pgdeactivate", int(taken.size))


def shrink_list(lru: int, nr_to_scan: int, lv: Lruvec, sc: ScanControl) -> int:
    """Active lists are only shrunk when their inactive partner is low (L2252-2264)."""
    if lru in (LRU_ACTIVE_ANON, LRU_ACTIVE_FILE):
        if inactive_list_is_low(lv, lru == LRU_ACTIVE_FILE, sc, True):
            shrink_active_list(nr_to_scan, lv, sc, lru)
        return 0
    return shrink_inactive_list(nr_to_scan, lv, sc, lru)


def shrink_node_memcg(pgdat: Node, sc: ScanControl) -> Gen:
    """Scan the lists in 32-page chunks toward the ``get_scan_count`` targets (L2485-2599).

    Once ``nr_to_reclaim`` pages are reclaimed, the type with less left to scan
    stops and the other is cut to the same proportion of its target (not for
    direct reclaim's first pass at ``DEF_PRIORITY``).
    """
    lv = get_lruvec(pgdat)
    machine = pgdat.machine
    nr, _balance = get_scan_count(lv, sc, machine.sysctl.swappiness)
    targets = list(nr)
    nr_to_reclaim = sc.nr_to_reclaim
    nr_reclaimed = 0
    scan_adjusted = not current_is_kswapd(pgdat) and sc.priority == DEF_PRIORITY
    while nr[LRU_INACTIVE_ANON] or nr[LRU_ACTIVE_FILE] or nr[LRU_INACTIVE_FILE]:
        for lru in EVICTABLE_LRUS:
            if nr[lru]:
                nr_to_scan = min(nr[lru], SWAP_CLUSTER_MAX)
                nr[lru] -= nr_to_scan
                nr_reclaimed += shrink_list(lru, nr_to_scan, lv, sc)
        yield from _charge(sc)  # cond_resched()
        if nr_reclaimed < nr_to_reclaim or scan_adjusted:
            continue
        nr_file = nr[LRU_INACTIVE_FILE] + nr[LRU_ACTIVE_FILE]
        nr_anon = nr[LRU_INACTIVE_ANON] + nr[LRU_ACTIVE_ANON]
        if not nr_file or not nr_anon:
            break
        if nr_file > nr_anon:
            scan_target = targets[LRU_INACTIVE_ANON] + targets[LRU_ACTIVE_ANON] + 1
            base = LRU_INACTIVE_ANON
            percentage = nr_anon * 100 // scan_target
        else:
            scan_target = targets[LRU_INACTIVE_FILE] + targets[LRU_ACTIVE_FILE] + 1
            base = LRU_INACTIVE_FILE
            percentage = nr_file * 100 // scan_target
        nr[base] = 0
        nr[base + 1] = 0
        other = LRU_INACTIVE_FILE if base == LRU_INACTIVE_ANON else LRU_INACTIVE_ANON
        for lru in (other, other + 1):
            nr_scanned = targets[lru] - nr[lru]
            nr[lru] = targets[lru] * (100 - percentage) // 100
            nr[lru] -= min(nr[lru], nr_scanned)
        scan_adjusted = True
    sc.nr_reclaimed += nr_reclaimed
    if inactive_list_is_low(lv, False, sc, True):
        shrink_active_list(SWAP_CLUSTER_MAX, lv, sc, LRU_ACTIVE_ANON)
    yield from _charge(sc)


def shrink_slab(pgdat: Node, sc: ScanControl) -> int:
    """Run the registered shrinkers at ``sc.priority`` (L680-719, ``do_shrink_slab`` L452-580).

    Each shrinker scans ``(freeable >> priority) * 4 / seeks`` objects (at most
    twice what it holds) in batches; pages it frees are returned (the kernel
    credits them through ``reclaim_state->reclaimed_slab``).
    """
    freed_pages = 0
    for shrinker in getattr(pgdat.machine, "shrinkers", ()):
        freed_pages += shrinker.shrink(pgdat, sc.priority, sc)
    return freed_pages


def in_reclaim_compaction(sc: ScanControl) -> bool:
    """Reclaim on behalf of compaction? (L2602-2610)"""
    return bool(sc.order and (sc.order > PAGE_ALLOC_COSTLY_ORDER
                              or sc.priority < DEF_PRIORITY - 2))


def should_continue_reclaim(pgdat: Node, nr_reclaimed: int, nr_scanned: int,
                            sc: ScanControl) -> bool:
    """Keep reclaiming for a high-order request until compaction can run (L2619-2683)."""
    if not in_reclaim_compaction(sc):
        return False
    if sc.gfp_mask & G.__GFP_RETRY_MAYFAIL:
        if not nr_reclaimed and not nr_scanned:
            return False
    elif not nr_reclaimed:
        return False
    pages_for_compaction = compact_gap(sc.order)
    lv = get_lruvec(pgdat)
    inactive_lru_pages = lv.node_lru_pages(LRU_INACTIVE_FILE)
    if get_nr_swap_pages(pgdat.machine) > 0:
        inactive_lru_pages += lv.node_lru_pages(LRU_INACTIVE_ANON)
    if sc.nr_reclaimed < pages_for_compaction and inactive_lru_pages > pages_for_compaction:
        return True
    for z in range(sc.reclaim_idx + 1):
        zone = pgdat.zones[z]
        if not zone.managed_pages:
            continue
        if compaction_suitable(zone, sc.order, 0, sc.reclaim_idx) in (COMPACT_SUCCESS,
                                                                        COMPACT_CONTINUE):
            return False
    return True


def shrink_node(pgdat: Node, sc: ScanControl) -> Gen:
    """Reclaim from one node (L2691-2860); returns whether anything was reclaimed.

    Runs ``shrink_node_memcg`` and the slab shrinkers, repeats while
    ``should_continue_reclaim``; kswapd sets ``PGDAT_WRITEBACK``/``PGDAT_DIRTY``
    from what it saw and waits ``HZ/10`` if pages needed immediate reclaim.
    Any progress resets ``kswapd_failures`` to 0.
    """
    reclaimable = False
    machine = pgdat.machine
    while True:
        sc.nr = ReclaimStat()
        nr_reclaimed = sc.nr_reclaimed
        nr_scanned = sc.nr_scanned
        yield from shrink_node_memcg(pgdat, sc)
        if sc.may_shrinkslab:
            sc.nr_reclaimed += shrink_slab(pgdat, sc)
            yield from _charge(sc)
        if sc.nr_reclaimed - nr_reclaimed:
            reclaimable = True
        if current_is_kswapd(pgdat):
            nr = sc.nr
            if nr.writeback and nr.writeback == nr.taken:
                pgdat.pgdat_flags |= PGDAT_WRITEBACK
            if nr.dirty and nr.dirty == nr.congested:
                pgdat.pgdat_flags |= PGDAT_CONGESTED
            if nr.unqueued_dirty == nr.file_taken:
                pgdat.pgdat_flags |= PGDAT_DIRTY
            if nr.immediate:
                yield Sleep(machine.sched.jiffies_to_ns(machine.config.hz // 10))
        if not should_continue_reclaim(pgdat, sc.nr_reclaimed - nr_reclaimed,
                                       sc.nr_scanned - nr_scanned, sc):
            break
    if reclaimable:
        pgdat.kswapd_failures = 0
    return reclaimable


# ==========================================================================
# Direct reclaim
# ==========================================================================
def compaction_ready(zone: Zone, sc: ScanControl) -> bool:
    """Enough free memory for compaction to do the rest? (L2867-2892)"""
    suitable = compaction_suitable(zone, sc.order, 0, sc.reclaim_idx)
    if suitable == COMPACT_SUCCESS:
        return True
    if suitable == COMPACT_SKIPPED:
        return False
    watermark = zone.high_wmark_pages + compact_gap(sc.order)
    return zone_watermark_ok_safe(zone, 0, watermark, sc.reclaim_idx)


def shrink_zones(pgdat: Node, sc: ScanControl) -> Gen:
    """Direct reclaim over the zonelist (L2902-2985): one ``shrink_node`` per node.

    For costly orders a zone where compaction is ready is skipped and
    ``sc.compaction_ready`` is set.
    """
    last_pgdat = None
    for zone in reversed(pgdat.zones):
        if zone.idx > sc.reclaim_idx or not zone.managed_pages:
            continue
        if sc.order > PAGE_ALLOC_COSTLY_ORDER and compaction_ready(zone, sc):
            sc.compaction_ready = True
            continue
        if zone.node is last_pgdat:
            continue
        last_pgdat = zone.node
        yield from shrink_node(zone.node, sc)


def do_try_to_free_pages(pgdat: Node, sc: ScanControl) -> Gen:
    """Direct reclaim's priority loop (L3022-3083); counts ``allocstall_<zone>``."""
    machine = pgdat.machine
    if sc.reclaim_idx < len(_ALLOCSTALL):
        _count(machine, _ALLOCSTALL[sc.reclaim_idx])
    while True:
        sc.nr_scanned = 0
        yield from shrink_zones(pgdat, sc)
        if sc.nr_reclaimed >= sc.nr_to_reclaim:
            break
        if sc.compaction_ready:
            break
        if sc.priority < DEF_PRIORITY - 2:
            sc.may_writepage = True
        sc.priority -= 1
        if sc.priority < 0:
            break
    snapshot_refaults(pgdat)
    if sc.nr_reclaimed:
        return sc.nr_reclaimed
    if sc.compaction_ready:
        return 1
    return 0


def allow_direct_reclaim(pgdat: Node) -> bool:
    """Is there half of the min reserve free in zones ≤ Normal? (L3085-3122)

    If not, and kswapd sleeps, its classzone is lowered to at most Normal and
    it is woken (no tracepoint on this path).
    """
    if pgdat.kswapd_failures >= MAX_RECLAIM_RETRIES:
        return True
    pfmemalloc_reserve = 0
    free_pages = 0
    for i in range(ZONE_NORMAL + 1):
        zone = pgdat.zones[i]
        if not zone.managed_pages or not zone_reclaimable_pages(zone):
            continue
        pfmemalloc_reserve += zone.min_wmark_pages
        free_pages += zone.nr_free_pages
    if not pfmemalloc_reserve:
        return True
    wmark_ok = free_pages > pfmemalloc_reserve // 2
    if not wmark_ok and waitqueue_active(pgdat.kswapd_wait):
        pgdat.kswapd_classzone_idx = min(pgdat.kswapd_classzone_idx, ZONE_NORMAL)
        wake_up_interruptible(pgdat.kswapd_wait)
    return wmark_ok


def throttle_direct_reclaim(pgdat: Node, gfp_mask: int) -> Gen:
    """Park a direct reclaimer until kswapd restores the pfmemalloc reserve (L3133-3215).

    Counts ``pgscan_direct_throttle``. Without ``__GFP_FS`` the wait ends after
    one second at most. Kernel threads are never throttled. Returns False
    (mmsim tasks never receive fatal signals).
    """
    task = current_task(pgdat)
    if task is None or task.flags & 0x00200000:  # PF_KTHREAD
        return False
    if allow_direct_reclaim(pgdat):
        return False
    machine = pgdat.machine
    _count(machine, "pgscan_direct_throttle")
    sched = machine.sched
    deadline = sched.now_ns + sched.jiffies_to_ns(machine.config.hz) \
        if not gfp_mask & G.__GFP_FS else None
    while not allow_direct_reclaim(pgdat):
        prepare_to_wait(pgdat.pfmemalloc_wait, task)
        if deadline is None:
            yield Schedule()
        else:
            left = deadline - sched.now_ns
            if left <= 0:
                finish_wait(pgdat.pfmemalloc_wait, task)
                break
            yield ScheduleTimeout(max(1, left * machine.config.hz // 1_000_000_000))
        finish_wait(pgdat.pfmemalloc_wait, task)
    return False


def try_to_free_pages(pgdat: Node, order: int, gfp_mask: int) -> Gen:
    """Direct reclaim entry (L3217-3260): reclaim 32 pages for an allocation.

    Emits ``mm_vmscan_direct_reclaim_begin``/``_end``; returns pages reclaimed.
    """
    sc = ScanControl(nr_to_reclaim=SWAP_CLUSTER_MAX, gfp_mask=gfp_mask, order=order,
                     reclaim_idx=G.gfp_zone(gfp_mask), priority=DEF_PRIORITY,
                     may_writepage=True, may_unmap=True, may_swap=True, may_shrinkslab=True)
    yield from throttle_direct_reclaim(pgdat, gfp_mask)
    machine = pgdat.machine
    tr = machine.tracer
    if tr is not None:
        tr("mm_vmscan_direct_reclaim_begin", order=order, may_writepage=int(sc.may_writepage),
           gfp_flags=gfp_mask, classzone_idx=sc.reclaim_idx)
    nr_reclaimed = yield from do_try_to_free_pages(pgdat, sc)
    if tr is not None:
        tr("mm_vmscan_direct_reclaim_end", nr_reclaimed=nr_reclaimed)
    return nr_reclaimed


# ==========================================================================
# kswapd
# ==========================================================================
def age_active_anon(pgdat: Node, sc: ScanControl) -> None:
    """Deactivate some anon pages if swap exists and the inactive list is low (L3354-3372)."""
    if not total_swap_pages(pgdat.machine):
        return
    lv = get_lruvec(pgdat)
    if inactive_list_is_low(lv, False, sc, True):
        shrink_active_list(SWAP_CLUSTER_MAX, lv, sc, LRU_ACTIVE_ANON)


def pgdat_watermark_boosted(pgdat: Node, classzone_idx: int) -> bool:
    """Any managed zone ≤ classzone with a watermark boost? (L3374-3396)"""
    for i in range(classzone_idx, -1, -1):
        zone = pgdat.zones[i]
        if zone.managed_pages and zone.watermark_boost:
            return True
    return False


def pgdat_balanced(pgdat: Node, order: int, classzone_idx: int) -> bool:
    """Is *one* eligible zone above its high watermark for ``order``? (L3402-3432)

    Zones 0..classzone are checked bottom-up with ``zone_watermark_ok_safe``
    against the boosted high watermark plus ``lowmem_reserve[classzone_idx]``;
    a node without managed zones is balanced.
    """
    mark = -1
    for i in range(classzone_idx + 1):
        zone = pgdat.zones[i]
        if not zone.managed_pages:
            continue
        mark = zone.high_wmark_pages
        if zone_watermark_ok_safe(zone, order, mark, classzone_idx):
            return True
    return mark == -1


def balanced_zone(pgdat: Node, order: int, classzone_idx: int) -> Zone | None:
    """Which zone makes :func:`pgdat_balanced` true (for lessons and traces)."""
    for i in range(classzone_idx + 1):
        zone = pgdat.zones[i]
        if zone.managed_pages and zone_watermark_ok_safe(zone, order, zone.high_wmark_pages,
                                                        classzone_idx):
            return zone
    return None


def clear_pgdat_congested(pgdat: Node) -> None:
    """Clear ``PGDAT_CONGESTED``, ``PGDAT_DIRTY``, ``PGDAT_WRITEBACK`` (L3435-3440)."""
    pgdat.pgdat_flags &= ~(PGDAT_CONGESTED | PGDAT_DIRTY | PGDAT_WRITEBACK)


def prepare_kswapd_sleep(pgdat: Node, order: int, classzone_idx: int) -> bool:
    """May kswapd sleep? (L3448-3476)

    Wakes throttled direct reclaimers first; a hopeless node (16 failed runs)
    may always sleep; otherwise only a balanced node.
    """
    if waitqueue_active(pgdat.pfmemalloc_wait):
        wake_up_all(pgdat.pfmemalloc_wait)
    if pgdat.kswapd_failures >= MAX_RECLAIM_RETRIES:
        return True
    if pgdat_balanced(pgdat, order, classzone_idx):
        clear_pgdat_congested(pgdat)
        return True
    return False


def kswapd_shrink_node(pgdat: Node, sc: ScanControl) -> Gen:
    """One kswapd reclaim pass (L3486-3519); True if it scanned its target.

    ``nr_to_reclaim`` is the sum of the eligible zones' high watermarks (at
    least 32 each). After ``compact_gap(order)`` pages were reclaimed in this
    ``balance_pgdat`` run, ``sc.order`` drops to 0: free memory is there, the
    high-order part is compaction's job.
    """
    sc.nr_to_reclaim = 0
    for z in range(sc.reclaim_idx + 1):
        zone = pgdat.zones[z]
        if not zone.managed_pages:
            continue
        sc.nr_to_reclaim += max(zone.high_wmark_pages, SWAP_CLUSTER_MAX)
    yield from shrink_node(pgdat, sc)
    if sc.order and sc.nr_reclaimed >= compact_gap(sc.order):
        sc.order = 0
    return sc.nr_scanned >= sc.nr_to_reclaim


def balance_pgdat(pgdat: Node, order: int, classzone_idx: int) -> Gen:
    """kswapd's reclaim run (L3534-3738); returns the order it finished at.

    Steps: count ``pageoutrun``; note the boosts of zones ≤ classzone
    (``nr_boost_reclaim``); from priority 12 down to 1: stop if balanced and no
    boost is owed; an unbalanced node turns boost reclaim into normal reclaim
    (restart); boost reclaim neither writes, swaps nor shrinks slab and stops at
    priority 10; ``kswapd_shrink_node``; wake throttled direct reclaimers once
    the reserve is back; lower the priority only after a pass that did not
    scan its target or reclaimed nothing. A run that reclaimed nothing counts
    a ``kswapd_failures``. Finally the boosts seen at the start are paid back and
    kcompactd is woken for ``pageblock_order``.
    """
    machine = pgdat.machine
    _count(machine, "pageoutrun")
    run = _run_record(pgdat, order, classzone_idx)
    zone_boosts = [0] * MAX_NR_ZONES
    nr_boost_reclaim = 0
    for i in range(classzone_idx + 1):
        zone = pgdat.zones[i]
        if not zone.managed_pages:
            continue
        nr_boost_reclaim += zone.watermark_boost
        zone_boosts[i] = zone.watermark_boost
    boosted = bool(nr_boost_reclaim)
    sc = ScanControl(gfp_mask=G.GFP_KERNEL, order=order, may_unmap=True)
    pgdat.kswapd_priority_trace = getattr(pgdat, "kswapd_priority_trace", [])
    went_out = False
    restart = True
    while restart:
        restart = False
        sc.priority = DEF_PRIORITY
        while True:
            nr_reclaimed_start = sc.nr_reclaimed
            raise_priority = True
            sc.reclaim_idx = classzone_idx
            balanced = pgdat_balanced(pgdat, sc.order, classzone_idx)
            if not balanced and nr_boost_reclaim:
                nr_boost_reclaim = 0
                restart = True
                break
            if not nr_boost_reclaim and balanced:
                went_out = True
                break
            if nr_boost_reclaim and sc.priority == DEF_PRIORITY - 2:
                raise_priority = False
            sc.may_writepage = not nr_boost_reclaim  # laptop_mode is 0
            sc.may_swap = not nr_boost_reclaim
            sc.may_shrinkslab = not nr_boost_reclaim
            age_active_anon(pgdat, sc)
            if sc.priority < DEF_PRIORITY - 2:
                sc.may_writepage = True
            sc.nr_scanned = 0
            pgdat.kswapd_priority = sc.priority
            _record_priority(pgdat, sc.priority)
            if (yield from kswapd_shrink_node(pgdat, sc)):
                raise_priority = False
            if waitqueue_active(pgdat.pfmemalloc_wait) and allow_direct_reclaim(pgdat):
                wake_up_all(pgdat.pfmemalloc_wait)
            task = current_task(pgdat)
            if task is not None and task.should_stop:
                break
            nr_reclaimed = sc.nr_reclaimed - nr_reclaimed_start
            if nr_boost_reclaim:
                nr_boost_reclaim -= min(nr_boost_reclaim, nr_reclaimed)
            if nr_boost_reclaim and not nr_reclaimed:
                break
            if raise_priority or not nr_reclaimed:
                sc.priority -= 1
            if sc.priority < 1:
                break
    if not went_out and not sc.nr_reclaimed:
        pgdat.kswapd_failures += 1
    # out:
    if boosted:
        for i in range(classzone_idx + 1):
            if not zone_boosts[i]:
                continue
            zone = pgdat.zones[i]
            zone.watermark_boost -= min(zone.watermark_boost, zone_boosts[i])
        _wakeup_kcompactd(pgdat, pageblock_order, classzone_idx)
    snapshot_refaults(pgdat)
    pgdat.kswapd_priority = None
    pgdat.kswapd_last_reclaimed = sc.nr_reclaimed
    _run_end(pgdat, run, sc, classzone_idx, boosted)
    return sc.order


def _run_record(pgdat: Node, order: int, classzone_idx: int) -> dict[str, Any]:
    """Start a record of this balance_pgdat run (for lessons and plots; not kernel state)."""
    sched = pgdat.machine.sched
    call = getattr(pgdat, "last_wakeup_call", None)
    if call is not None:
        pgdat.last_wakeup_call = None
    run = {"start": sched.now if sched is not None else 0.0, "order": order,
           "classzone_idx": classzone_idx,
           "woken_by": "wakeup" if call is not None else "loop",
           "wakeup_call": call,
           "low_start": {z.name: z.low_wmark_pages for z in pgdat.zones if z.managed_pages},
           "free_start": {z.name: z.nr_free_pages for z in pgdat.zones if z.managed_pages},
           "boost_start": {z.name: z.watermark_boost for z in pgdat.zones if z.managed_pages},
           "_first_pass": len(getattr(pgdat, "kswapd_priority_trace", ()))}
    if not hasattr(pgdat, "kswapd_runs"):
        pgdat.kswapd_runs = []
    pgdat.kswapd_runs.append(run)
    return run


def _run_end(pgdat: Node, run: dict[str, Any], sc: ScanControl, classzone_idx: int,
             boosted: bool) -> None:
    sched = pgdat.machine.sched
    bz = balanced_zone(pgdat, sc.order, classzone_idx)
    # this run's passes are the ones logged since the record started (by position:
    # a run that takes no simulated time shares its start time with the previous one)
    prios = [p for _t, p in pgdat.kswapd_priority_trace[run.pop("_first_pass", 0):]]
    run.update({"end": sched.now if sched is not None else 0.0,
                "reclaimed": sc.nr_reclaimed, "reclaim_order": sc.order,
                "min_priority": min(prios) if prios else DEF_PRIORITY,
                "balanced_by": bz.name if bz is not None else None,
                "boosted": boosted, "failures": pgdat.kswapd_failures,
                "free_end": {z.name: z.nr_free_pages for z in pgdat.zones if z.managed_pages},
                "high_end": {z.name: z.high_wmark_pages for z in pgdat.zones if z.managed_pages}})


def _wakeup_kcompactd(pgdat: Node, order: int, classzone_idx: int) -> None:
    """``wakeup_kcompactd`` as reclaim calls it, counting the calls (for run statistics)."""
    pgdat.kcompactd_requests = getattr(pgdat, "kcompactd_requests", 0) + 1
    wakeup_kcompactd(pgdat, order, classzone_idx)


def _record_priority(pgdat: Node, priority: int) -> None:
    sched = getattr(pgdat.machine, "sched", None)
    if sched is not None:
        pgdat.kswapd_priority_trace.append((sched.now_ns, priority))


def snapshot_refaults(pgdat: Node) -> None:
    """Remember ``workingset_activate`` for ``inactive_list_is_low`` (L2987-3004)."""
    get_lruvec(pgdat).refaults = pgdat.node_stat.get("workingset_activate", 0)


def kswapd_classzone_idx(pgdat: Node, prev_classzone_idx: int) -> int:
    """The pending classzone, or ``prev`` if none is pending (L3747-3754)."""
    if pgdat.kswapd_classzone_idx == MAX_NR_ZONES:
        return prev_classzone_idx
    return max(pgdat.kswapd_classzone_idx, prev_classzone_idx)


def kswapd_try_to_sleep(pgdat: Node, alloc_order: int, reclaim_order: int,
                        classzone_idx: int) -> Gen:
    """Nap ``HZ/10``, hand over to kcompactd, then sleep for good if still balanced.

    Kernel source: mm/vmscan.c L3756-3834.

    Counts ``kswapd_low_wmark_hit_quickly`` when the nap was cut short by a
    wake-up, ``kswapd_high_wmark_hit_quickly`` when the node was not balanced
    (before the nap, or right after it); emits ``mm_vmscan_kswapd_sleep`` before
    the full sleep.
    """
    machine = pgdat.machine
    task = current_task(pgdat)
    assert task is not None
    if task.should_stop:
        return
    remaining = 0
    prepare_to_wait(pgdat.kswapd_wait, task)
    if prepare_kswapd_sleep(pgdat, reclaim_order, classzone_idx):
        reset_isolation_suitable(pgdat)
        _wakeup_kcompactd(pgdat, alloc_order, classzone_idx)
        remaining = yield ScheduleTimeout(machine.config.hz // 10)
        if remaining:
            pgdat.kswapd_classzone_idx = kswapd_classzone_idx(pgdat, classzone_idx)
            if pgdat.kswapd_order < reclaim_order:
                pgdat.kswapd_order = reclaim_order
        finish_wait(pgdat.kswapd_wait, task)
        prepare_to_wait(pgdat.kswapd_wait, task)
    if not remaining and prepare_kswapd_sleep(pgdat, reclaim_order, classzone_idx):
        _note_nap(pgdat, "full_sleep")
        tr = machine.tracer
        if tr is not None:
            tr("mm_vmscan_kswapd_sleep", nid=pgdat.node_id)
        set_pgdat_percpu_threshold(pgdat, pressure=False)
        if not task.should_stop:
            pgdat.kswapd_sleeping = True
            yield Schedule()
            pgdat.kswapd_sleeping = False
        set_pgdat_percpu_threshold(pgdat, pressure=True)
    elif remaining:
        _note_nap(pgdat, "woken_early")
        _count(machine, "kswapd_low_wmark_hit_quickly")
    else:
        _note_nap(pgdat, "high_wmark_hit_quickly")
        _count(machine, "kswapd_high_wmark_hit_quickly")
    finish_wait(pgdat.kswapd_wait, task)


def _note_nap(pgdat: Node, outcome: str) -> None:
    """Record how the sleep attempt after the last balance_pgdat run ended (statistics)."""
    runs = getattr(pgdat, "kswapd_runs", None)
    if runs and "nap_outcome" not in runs[-1]:
        runs[-1]["nap_outcome"] = outcome


def kswapd(pgdat: Node) -> Gen:
    """The kswapd thread (L3849-3928).

    Loop: merge the pending request, try to sleep, read the request that woke
    it (the classzone defaults to **0** when none was recorded), trace
    ``mm_vmscan_kswapd_wake``, ``balance_pgdat``; if it finished at a lower order
    than requested, go straight back to ``kswapd_try_to_sleep`` with the same
    orders (the v5.0 ``goto kswapd_try_sleep``).

    Simplifications
    ---------------
    No freezer: ``set_freezable`` / ``try_to_freeze`` (suspend) are not modelled,
    so the ``continue`` after a freeze never happens. No CPU-affinity update
    (``set_cpus_allowed_ptr``) and no ``reclaim_state``/``tsk->reclaim_state``
    bookkeeping beyond what the slab shrinker counts need.
    """
    task = current_task(pgdat)
    assert task is not None
    task.flags |= PF_MEMALLOC | PF_SWAPWRITE | PF_KSWAPD
    pgdat.kswapd_order = 0
    pgdat.kswapd_classzone_idx = MAX_NR_ZONES
    alloc_order = reclaim_order = 0
    classzone_idx = MAX_NR_ZONES - 1
    goto_sleep = False
    while True:
        if not goto_sleep:
            alloc_order = reclaim_order = pgdat.kswapd_order
            classzone_idx = kswapd_classzone_idx(pgdat, classzone_idx)
        goto_sleep = False
        # kswapd_try_sleep:
        yield from kswapd_try_to_sleep(pgdat, alloc_order, reclaim_order, classzone_idx)
        alloc_order = reclaim_order = pgdat.kswapd_order
        classzone_idx = kswapd_classzone_idx(pgdat, 0)
        pgdat.kswapd_order = 0
        pgdat.kswapd_classzone_idx = MAX_NR_ZONES
        if task.should_stop:
            break
        tr = pgdat.machine.tracer
        if tr is not None:
            tr("mm_vmscan_kswapd_wake", nid=pgdat.node_id, zid=classzone_idx, order=alloc_order)
        pgdat.kswapd_running = True
        reclaim_order = yield from balance_pgdat(pgdat, alloc_order, classzone_idx)
        pgdat.kswapd_running = False
        if reclaim_order < alloc_order:
            goto_sleep = True
    task.flags &= ~(PF_MEMALLOC | PF_SWAPWRITE | PF_KSWAPD)
    return 0


def wakeup_kswapd(zone: Zone, gfp_flags: int, order: int, classzone_idx: int) -> None:
    """Record a reclaim request and wake kswapd if it sleeps and is needed (L3937-3973).

    The request (highest order, highest classzone) is recorded first, even if
    kswapd is awake. A hopeless node, or a balanced one without boost, is left
    asleep - but then callers that cannot direct-reclaim wake kcompactd
    instead. Otherwise emits ``mm_vmscan_wakeup_kswapd`` and wakes it.
    """
    if not zone.managed_pages:
        return
    pgdat = zone.node
    if pgdat.kswapd_classzone_idx == MAX_NR_ZONES:
        pgdat.kswapd_classzone_idx = classzone_idx
    else:
        pgdat.kswapd_classzone_idx = max(pgdat.kswapd_classzone_idx, classzone_idx)
    pgdat.kswapd_order = max(pgdat.kswapd_order, order)
    wq = getattr(pgdat, "kswapd_wait", None)
    if wq is None or not waitqueue_active(wq):
        return
    if pgdat.kswapd_failures >= MAX_RECLAIM_RETRIES or (
            pgdat_balanced(pgdat, order, classzone_idx)
            and not pgdat_watermark_boosted(pgdat, classzone_idx)):
        if not gfp_flags & G.__GFP_DIRECT_RECLAIM:
            _wakeup_kcompactd(pgdat, order, classzone_idx)
        return
    tr = pgdat.machine.tracer
    if tr is not None:
        tr("mm_vmscan_wakeup_kswapd", nid=pgdat.node_id, zid=classzone_idx, order=order,
           gfp_flags=gfp_flags)
    sched = pgdat.machine.sched
    pgdat.last_wakeup_call = (sched.now if sched is not None else 0.0, gfp_flags,
                              {z.name: z.nr_free_pages for z in pgdat.zones if z.managed_pages})
    wake_up_interruptible(wq)


def kswapd_run(pgdat: Node) -> Task | None:
    """Start ``kswapd<nid>`` unless it runs already (L4042-4059)."""
    if getattr(pgdat, "kswapd", None) is not None:
        return pgdat.kswapd
    sched = pgdat.machine.sched
    if sched is None:
        raise ValueError("kswapd_run: the machine has no scheduler; start a Simulation first")
    pgdat.kswapd = sched.spawn(kswapd, f"kswapd{pgdat.node_id}", pgdat,
                               flags=0x00200000, cpu=pgdat.node_id)
    return pgdat.kswapd


def kswapd_stop(pgdat: Node) -> None:
    """Stop this node's kswapd (memory hot-remove) (L4065-4073)."""
    task = getattr(pgdat, "kswapd", None)
    if task is not None:
        pgdat.machine.sched.kthread_stop(task)
        pgdat.kswapd = None


def kswapd_init(machine: Machine) -> None:
    """``swap_setup`` and one kswapd per node with memory (L4075-4087)."""
    from mmsim.mm.swap import swap_setup

    swap_setup(machine)
    for pgdat in machine.nodes:
        if pgdat.node_present_pages:
            kswapd_run(pgdat)


def init_node_reclaim_state(pgdat: Node) -> None:
    """Per-node fields that reclaim uses (``pgdat_init_internals``)."""
    if not hasattr(pgdat, "kswapd_wait"):
        pgdat.kswapd_wait = WaitQueue(f"kswapd_wait{pgdat.node_id}")
        pgdat.pfmemalloc_wait = WaitQueue(f"pfmemalloc_wait{pgdat.node_id}")
        pgdat.pgdat_flags = 0
        pgdat.kswapd = None
        pgdat.kswapd_running = False
        pgdat.kswapd_sleeping = False
        pgdat.kswapd_priority = None
        pgdat.kswapd_priority_trace = []
        pgdat.kswapd_last_reclaimed = 0
    get_lruvec(pgdat)


__all__ = [
    "SWAP_CLUSTER_MAX",
    "ScanControl",
    "balance_pgdat",
    "current_is_kswapd",
    "get_scan_count",
    "kswapd",
    "kswapd_init",
    "kswapd_run",
    "kswapd_shrink_node",
    "kswapd_try_to_sleep",
    "pgdat_balanced",
    "prepare_kswapd_sleep",
    "shrink_node",
    "try_to_free_pages",
    "wakeup_kswapd",
]
