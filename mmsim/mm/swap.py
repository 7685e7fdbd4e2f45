"""LRU lists and swap: where reclaimable pages wait, and where anonymous pages go.

**LRU lists.** Every page that reclaim may take back sits on one of a node's
LRU lists (its ``lruvec``): inactive and active lists for anonymous memory and
for file cache, plus an unevictable list. New file pages enter the *inactive*
file list, new anonymous pages the *active* anon list (``lru_cache_add``). A
file page read a second time while inactive is promoted to the active list
(``mark_page_accessed``); pages mapped into processes instead carry an
"accessed" bit in their page-table entries that reclaim samples
(``page_referenced``). Reclaim takes pages from the *tail* (oldest end) of the
inactive lists; ``shrink_active_list`` refills them from the tail of the
active lists. Lists only ever grow at the head, so position means age.

**Swap.** Anonymous pages have no file to go back to; reclaim can only free
them by writing them to a swap area (``add_to_swap`` then ``swap_writepage``).
With no swap configured - or a full one - anonymous memory is not
reclaimable, exactly as on a real machine. ``swap_setup`` picks the swap-in
read-ahead cluster (``vm.page-cluster``): 2 on machines with less than 16 MiB
of RAM, 3 otherwise.

mmsim keeps each LRU list as a ring buffer of pfns with a stamp per entry: a
page that leaves a list simply stops matching its stamp and is skipped later
(lazy deletion), so adding, removing and taking pages from the tail all work
on numpy arrays, in batches, at the speed a streaming workload needs. Per-zone
list sizes are kept exact for ``lruvec_lru_size``.

Kernel source: mm/swap.c (``lru_cache_add``, ``mark_page_accessed``,
``activate_page``, ``rotate_reclaimable_page``, ``swap_setup``),
include/linux/mm_inline.h (``add_page_to_lru_list``), mm/swap_state.c
(``swapper_spaces``, ``add_to_swap``), mm/page_io.c (``swap_writepage``);
https://elixir.bootlin.com/linux/v5.0/source/mm/swap.c

Simplifications
---------------
* No per-cpu pagevecs: pages reach the lists at once (the kernel batches 15).
* One lruvec per node (no memory cgroups).
* A swap area is a counter of free slots; read-ahead (``page_cluster``) is
  reported but swap-in reads one page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mmsim.mm.mmzone import FRAME_FILE, MAX_NR_ZONES, sorted_unique

if TYPE_CHECKING:  # pragma: no cover
    from mmsim.mm.mmzone import Machine, Node

LRU_INACTIVE_ANON = 0
LRU_ACTIVE_ANON = 1
LRU_INACTIVE_FILE = 2
LRU_ACTIVE_FILE = 3
LRU_UNEVICTABLE = 4
NR_LRU_LISTS = 5
NO_LRU = 0xFF
lru_names = ("inactive_anon", "active_anon", "inactive_file", "active_file", "unevictable")
#: node stat names of the lists (/proc/vmstat, zoneinfo "per-node stats")
lru_node_stat = ("nr_inactive_anon", "nr_active_anon", "nr_inactive_file", "nr_active_file",
                 "nr_unevictable")
lru_zone_stat = ("nr_zone_inactive_anon", "nr_zone_active_anon", "nr_zone_inactive_file",
                 "nr_zone_active_file", "nr_zone_unevictable")

# Page flags that the model needs (one byte per frame; the packing is mmsim's)
PG_referenced = 0x01  #: PageReferenced: seen in use once (mark_page_accessed)
PG_young = 0x02  #: a page-table "accessed" bit is set (what page_referenced() samples)
PG_dirty = 0x04
PG_writeback = 0x08
PG_reclaim = 0x10  #: reclaim wants it freed as soon as writeback ends
PG_swapcache = 0x20
PG_workingset = 0x40
PG_mapped = 0x80  #: mapped into a process (page_mapped)


#: the fast paths beside the readable methods (same results; False runs the readable
#: code alone, as benchmarks/fastpath_check.py does for its reference)
_FAST_PATHS = True
#: batches up to this many pages take the list-based fast paths
_SMALL_BATCH = 256
_NO_LRU_BYTES = bytes([NO_LRU]) * _SMALL_BATCH


def is_file_lru(lru: int) -> bool:
    return lru in (LRU_INACTIVE_FILE, LRU_ACTIVE_FILE)


def is_active_lru(lru: int) -> bool:
    return lru in (LRU_ACTIVE_ANON, LRU_ACTIVE_FILE)


class LruList:
    """One LRU list: a ring buffer of (pfn, stamp), head = newest end.

    An entry is live while ``node.lru_stamp[pfn]`` equals its stamp; taking a
    page off the list anywhere else just changes that stamp.
    """

    __slots__ = ("_pfn", "_stamp", "hi", "lo", "lru", "nr_pages")

    def __init__(self, lru: int, capacity: int = 1024):
        self.lru = lru
        self._pfn = np.empty(capacity, dtype=np.int64)
        self._stamp = np.empty(capacity, dtype=np.int64)
        self.lo = capacity // 2  # tail (oldest) index
        self.hi = capacity // 2  # one past the head (newest)
        self.nr_pages = 0

    def _ensure(self, n_front: int, n_back: int) -> None:
        cap = self._pfn.size
        if self.lo - n_back >= 0 and self.hi + n_front <= cap:
            return
        live = self.hi - self.lo
        new_cap = max(cap, 2 * (live + n_front + n_back) + 1024)
        lo = (new_cap - live - n_front - n_back) // 2 + n_back
        pfn = np.empty(new_cap, dtype=np.int64)
        stamp = np.empty(new_cap, dtype=np.int64)
        pfn[lo:lo + live] = self._pfn[self.lo:self.hi]
        stamp[lo:lo + live] = self._stamp[self.lo:self.hi]
        self._pfn, self._stamp = pfn, stamp
        self.lo, self.hi = lo, lo + live

    def push_head(self, pfns: np.ndarray, stamps: np.ndarray) -> None:
        n = pfns.size
        self._ensure(n, 0)
        self._pfn[self.hi:self.hi + n] = pfns
        self._stamp[self.hi:self.hi + n] = stamps
        self.hi += n
        self.nr_pages += n

    def push_tail(self, pfns: np.ndarray, stamps: np.ndarray) -> None:
        """Add at the tail one after another (``add_page_to_lru_list_tail`` in turn):
        ``pfns[-1]`` becomes the new oldest page."""
        n = pfns.size
        self._ensure(0, n)
        self._pfn[self.lo - n:self.lo] = pfns[::-1]
        self._stamp[self.lo - n:self.lo] = stamps[::-1]
        self.lo -= n
        self.nr_pages += n

    def compact(self, live_stamp: np.ndarray) -> None:
        """Drop dead entries (those whose stamp no longer matches)."""
        pf = self._pfn[self.lo:self.hi]
        st = self._stamp[self.lo:self.hi]
        keep = live_stamp[pf] == st
        pf, st = pf[keep], st[keep]
        n = pf.size
        self._pfn[self.lo:self.lo + n] = pf
        self._stamp[self.lo:self.lo + n] = st
        self.hi = self.lo + n

    @property
    def entries(self) -> int:
        return self.hi - self.lo


class Lruvec:
    """``struct lruvec`` of one node, with the per-frame page state it needs.

    Attributes
    ----------
    lists : list[LruList]
        Indexed by ``LRU_*``.
    zone_size : numpy.ndarray
        ``[zone, lru]`` page counts (``mem_cgroup_per_node.lru_zone_size``).
    recent_scanned, recent_rotated : list[int]
        ``zone_reclaim_stat`` for anon (0) and file (1), used by ``get_scan_count``.
    inactive_age : int
        The workingset clock (evictions + activations), ``lruvec->inactive_age``.
    refaults : int
        ``WORKINGSET_ACTIVATE`` at the last ``snapshot_refaults``.
    """

    def __init__(self, node: Node):
        self.node = node
        n = node.node_spanned_pages
        base = node.node_start_pfn
        if base:
            raise ValueError("lruvec: nodes that do not start at pfn 0 are not supported yet")
        self.lists = [LruList(i) for i in range(NR_LRU_LISTS)]
        self.zone_size = np.zeros((MAX_NR_ZONES, NR_LRU_LISTS), dtype=np.int64)
        self.recent_scanned = [0, 0]
        self.recent_rotated = [0, 0]
        self.inactive_age = 0
        self.refaults = 0
        self._stamp = 0
        # per-frame page state
        self._lru = bytearray([NO_LRU]) * n
        self.lru = np.frombuffer(self._lru, dtype=np.uint8)
        self._flags = bytearray(n)
        self.flags = np.frombuffer(self._flags, dtype=np.uint8)
        self.stamp = np.full(n, -1, dtype=np.int64)
        #: owning mapping id per frame (-1: none) and the page's index in it
        self.owner = np.full(n, -1, dtype=np.int32)
        self.index = np.zeros(n, dtype=np.int64)

    # ---- sizes ------------------------------------------------------------------
    def lru_size(self, lru: int, max_zone: int = MAX_NR_ZONES - 1) -> int:
        """``lruvec_lru_size``: pages on list ``lru`` in zones ``0..max_zone``."""
        return sum(self.zone_size[:max_zone + 1, lru].tolist())  # = int(... .sum())

    def node_lru_pages(self, lru: int) -> int:
        return self.lists[lru].nr_pages

    # ---- adding and removing ----------------------------------------------------------
    def _new_stamps(self, n: int) -> np.ndarray:
        s = np.arange(self._stamp, self._stamp + n, dtype=np.int64)
        self._stamp += n
        return s

    def _count(self, pfns: np.ndarray, lru: int, sign: int) -> None:
        zids = self.node.zone_id[pfns]
        n = int(pfns.size)
        if _FAST_PATHS and n:
            # pages of one zone (the usual case): the same counts without bincount
            zb = zids.tobytes()
            z0 = zb[0]
            if zb.count(z0) == n:
                self.zone_size[z0, lru] += sign * n
                self.lists[lru].nr_pages += sign * n if sign < 0 else 0
                return
        counts = np.bincount(zids, minlength=MAX_NR_ZONES)[:MAX_NR_ZONES]
        self.zone_size[:, lru] += sign * counts
        self.lists[lru].nr_pages += sign * int(pfns.size) if sign < 0 else 0

    def add(self, pfns: np.ndarray, lru: int, tail: bool = False) -> None:
        """``add_page_to_lru_list`` (head) or ``..._tail`` for many pages of one list."""
        pfns = np.asarray(pfns, dtype=np.int64)
        if not pfns.size:
            return
        lrus = self.lru[pfns]
        # (fast path: a short batch none of whose pages is on a list is one bytes compare)
        if not (_FAST_PATHS and lrus.size <= _SMALL_BATCH
                and lrus.tobytes() == _NO_LRU_BYTES[:lrus.size]) and (lrus != NO_LRU).any():
            bad = int(pfns[self.lru[pfns] != NO_LRU][0])
            raise ValueError(f"pfn {bad} is already on the {lru_names[self.lru[bad]]} list")
        stamps = self._new_stamps(pfns.size)
        self.stamp[pfns] = stamps
        self.lru[pfns] = lru
        lst = self.lists[lru]
        if tail:
            lst.push_tail(pfns, stamps)
        else:
            lst.push_head(pfns, stamps)
        self._count(pfns, lru, +1)

    def remove(self, pfns: np.ndarray) -> None:
        """``del_page_from_lru_list`` for pages on any lists."""
        pfns = np.asarray(pfns, dtype=np.int64)
        if not pfns.size:
            return
        lrus = self.lru[pfns]
        if _FAST_PATHS:  # pages of one list (the usual case): no grouping
            lb = lrus.tobytes()
            l0 = lb[0]
            if l0 != NO_LRU and lb.count(l0) == len(lb):
                self._count(pfns, l0, -1)
                self._maybe_compact(l0)
                self.stamp[pfns] = -1
                self.lru[pfns] = NO_LRU
                return
        if (lrus == NO_LRU).any():
            bad = int(pfns[lrus == NO_LRU][0])
            raise ValueError(f"pfn {bad} is not on an LRU list")
        for lru in sorted_unique(lrus).tolist():
            sel = pfns[lrus == lru]
            self._count(sel, lru, -1)
            self._maybe_compact(lru)
        self.stamp[pfns] = -1
        self.lru[pfns] = NO_LRU

    def _maybe_compact(self, lru: int) -> None:
        lst = self.lists[lru]
        if lst.entries > 4096 and lst.entries > 2 * lst.nr_pages + 1024:
            lst.compact(self.stamp)

    def peek_tail(self, lru: int, n: int) -> np.ndarray:
        """Up to ``n`` live pfns from the tail of ``lru``, oldest first (not removed)."""
        lst = self.lists[lru]
        out: list[np.ndarray] = []
        got = 0
        pos = lst.lo
        step = max(64, n)
        while got < n and pos < lst.hi:
            end = min(lst.hi, pos + step)
            pf = lst._pfn[pos:end]
            live = self.stamp[pf] == lst._stamp[pos:end]
            sel = pf[live]
            out.append(sel)
            got += sel.size
            pos = end
            step *= 2
        if not out:
            return np.empty(0, dtype=np.int64)
        return np.concatenate(out)[:n]

    def take_tail(self, lru: int, n: int, eligible_max_zone: int) -> tuple[np.ndarray, int,
                                                                               np.ndarray]:
        """``isolate_lru_pages``' walk: take up to ``n`` eligible pages from the tail.

        Pages of zones above ``eligible_max_zone`` are skipped (and moved to the
        head, as v5.0 splices them back). Returns ``(taken, total_scan,
        skipped_per_zone)``; ``total_scan`` counts every page looked at,
        skipped ones included.
        """
        lst = self.lists[lru]
        if _FAST_PATHS and 0 < n <= lst.hi - lst.lo and n <= _SMALL_BATCH:
            fast = self._take_tail_fast(lst, lru, n, eligible_max_zone)
            if fast is not None:
                return fast
        taken_parts: list[np.ndarray] = []
        skipped_parts: list[np.ndarray] = []
        scan = 0
        total_scan = 0
        zone_id = self.node.zone_id
        while scan < n and lst.lo < lst.hi:
            end = min(lst.hi, lst.lo + max(64, 2 * (n - scan)))
            pf = lst._pfn[lst.lo:end]
            live = self.stamp[pf] == lst._stamp[lst.lo:end]
            elig = live & (zone_id[pf] <= eligible_max_zone)
            cum = np.cumsum(elig)
            need = n - scan
            if cum.size and cum[-1] >= need:
                cut = int(np.searchsorted(cum, need)) + 1  # entries consumed
            else:
                cut = pf.size
            window = slice(0, cut)
            w_live = live[window]
            w_elig = elig[window]
            taken_parts.append(pf[window][w_elig])
            skipped_parts.append(pf[window][w_live & ~w_elig])
            scan += int(w_elig.sum())
            total_scan += int(w_live.sum())
            lst.lo += cut
        taken = np.concatenate(taken_parts) if taken_parts else np.empty(0, np.int64)
        skipped = np.concatenate(skipped_parts) if skipped_parts else np.empty(0, np.int64)
        skipped_per_zone = np.zeros(MAX_NR_ZONES, dtype=np.int64)
        if skipped.size:
            skipped_per_zone = np.bincount(zone_id[skipped], minlength=MAX_NR_ZONES)
            # list_splice(&pages_skipped, src): back at the head, oldest first
            stamps = self._new_stamps(skipped.size)
            self.stamp[skipped] = stamps
            lst.nr_pages -= skipped.size
            lst.push_head(skipped, stamps)
        if taken.size:
            self._count(taken, lru, -1)
            self.stamp[taken] = -1
            self.lru[taken] = NO_LRU
        return taken, total_scan, skipped_per_zone[:MAX_NR_ZONES]

    def _take_tail_fast(self, lst: LruList, lru: int, n: int,
                        eligible_max_zone: int) -> tuple[np.ndarray, int, np.ndarray] | None:
        """:meth:`take_tail` when the ``n`` oldest entries are all live and eligible.

        The walk then takes exactly those ``n`` pages, skips none and looks at
        ``n``: the same result, list and counts as the general walk, with a
        handful of numpy calls instead of the windowed scan. Returns None,
        having changed nothing, when that is not the case.
        """
        lo = lst.lo
        pf = lst._pfn[lo:lo + n]
        if self.stamp[pf].tobytes() != lst._stamp[lo:lo + n].tobytes():
            return None  # some entry is dead (its page left the list)
        zb = self.node.zone_id[pf].tobytes()
        z0 = zb[0]
        if zb.count(z0) == n:
            if z0 > eligible_max_zone:
                return None
            self.zone_size[z0, lru] -= n
        else:
            if max(zb) > eligible_max_zone:
                return None
            for z in zb:
                self.zone_size[z, lru] -= 1
        lst.nr_pages -= n
        taken = pf.copy()
        lst.lo = lo + n
        self.stamp[taken] = -1
        self.lru[taken] = NO_LRU
        return taken, n, np.zeros(MAX_NR_ZONES, dtype=np.int64)

    # ---- flags -----------------------------------------------------------------------
    def set_flags(self, pfns: np.ndarray, bits: int) -> None:
        self.flags[pfns] |= bits

    def clear_flags(self, pfns: np.ndarray, bits: int) -> None:
        self.flags[pfns] &= ~np.uint8(bits)

    def test_and_clear(self, pfns: np.ndarray, bits: int) -> np.ndarray:
        had = (self.flags[pfns] & bits) != 0
        self.flags[pfns] &= ~np.uint8(bits)
        return had


def get_lruvec(node: Node) -> Lruvec:
    """The node's lruvec, created on first use (``mem_cgroup_lruvec`` without memcg)."""
    lv = getattr(node, "lruvec", None)
    if lv is None:
        lv = Lruvec(node)
        node.lruvec = lv
    return lv


# --------------------------------------------------------------------------
# mm/swap.c entry points
# --------------------------------------------------------------------------
def lru_cache_add(node: Node, pfns: np.ndarray, lru: int) -> None:
    """Put pages on the head of list ``lru`` (``lru_cache_add*`` → ``__pagevec_lru_add_fn``).

    Kernel source: mm/swap.c ``__pagevec_lru_add_fn``,
    https://elixir.bootlin.com/linux/v5.0/ident/__pagevec_lru_add_fn

    Every page added this way counts in the reclaim statistics that
    ``get_scan_count`` balances anon against file with
    (``update_page_reclaim_stat``): ``recent_scanned`` of its type, and
    ``recent_rotated`` too when it goes on an active list. Fresh pages, pages
    put back after migration and swapped-in pages come this way; reclaim's own
    putback (``putback_inactive_pages``, ``move_active_pages_to_lru``) does not.
    """
    pfns = np.asarray(pfns, dtype=np.int64)
    if not pfns.size:
        return
    lv = get_lruvec(node)
    lv.add(pfns, lru)
    file = int(is_file_lru(lru))
    lv.recent_scanned[file] += int(pfns.size)
    if is_active_lru(lru):
        lv.recent_rotated[file] += int(pfns.size)


def mark_page_accessed(node: Node, pfns: np.ndarray) -> int:
    """A read of unmapped page cache: referenced-twice pages go active.

    Kernel source: mm/swap.c ``mark_page_accessed``,
    https://elixir.bootlin.com/linux/v5.0/ident/mark_page_accessed

    Inactive, evictable pages that already have ``PG_referenced`` are activated
    (``pgactivate``, ``workingset_activation``) and lose the flag; others get
    ``PG_referenced``. Returns the number activated.
    """
    lv = get_lruvec(node)
    pfns = np.asarray(pfns, dtype=np.int64)
    if not pfns.size:
        return 0
    lrus = lv.lru[pfns]
    refd = (lv.flags[pfns] & PG_referenced) != 0
    inactive = (lrus == LRU_INACTIVE_ANON) | (lrus == LRU_INACTIVE_FILE)
    promote = pfns[inactive & refd]
    lv.set_flags(pfns[~(inactive & refd)], PG_referenced)
    if promote.size:
        activate_pages(node, promote)
        lv.clear_flags(promote, PG_referenced)
        # workingset_activation: the clock ticks for activated file pages
        # (page_is_file_cache), not for anonymous ones
        n_file = int(np.count_nonzero(lrus[inactive & refd] == LRU_INACTIVE_FILE))
        lv.inactive_age += n_file
    return int(promote.size)


def activate_pages(node: Node, pfns: np.ndarray) -> None:
    """``activate_page``: move inactive pages to the head of their active list.

    ``__activate_page`` counts ``pgactivate`` and ``update_page_reclaim_stat(file,
    rotated=1)``: one more scanned and one more rotated page of that type.
    """
    lv = get_lruvec(node)
    lrus = lv.lru[pfns]
    for lru in (LRU_INACTIVE_ANON, LRU_INACTIVE_FILE):
        sel = pfns[lrus == lru]
        if sel.size:
            lv.remove(sel)
            lv.add(sel, lru + 1)
            n = int(sel.size)
            node.machine.vm_events["pgactivate"] += n
            file = int(is_file_lru(lru))
            lv.recent_scanned[file] += n
            lv.recent_rotated[file] += n


def rotate_reclaimable_pages(node: Node, pfns: np.ndarray) -> None:
    """Writeback finished on pages reclaim wanted: move them to the inactive tail.

    Kernel source: mm/swap.c ``rotate_reclaimable_page`` and
    ``pagevec_move_tail_fn`` (counts ``pgrotated``),
    https://elixir.bootlin.com/linux/v5.0/ident/rotate_reclaimable_page

    Only a page that is still reclaimable moves: on an LRU list, not
    ``PageDirty`` again, not unevictable. It goes to the tail of the
    *inactive* list of its type even from an active list: since v4.11
    (commit c55e8d035b28, "mm: vmscan: move dirty pages out of the way until
    they're flushed") ``pagevec_move_tail_fn`` clears ``PG_active``, because
    ``shrink_page_list`` activates dirty and writeback pages it cannot free
    yet. Pages move one after another in the order given (the last one ends
    at the very tail).

    Simplifications: page locks are not modelled. ``PG_dirty`` of an
    anonymous page stands in mmsim for its dirty pte as well (a write after
    swap-out marks the pte, not the page, in the kernel), so only file pages
    written while under writeback (``write()`` sets ``PageDirty``) stay put.
    """
    lv = get_lruvec(node)
    redirtied = ((lv.flags[pfns] & PG_dirty) != 0) & (node.state[pfns - node.node_start_pfn]
                                                     == FRAME_FILE)
    if redirtied.any():
        pfns = pfns[~redirtied]
    lrus = lv.lru[pfns]
    on = lrus != NO_LRU
    for inactive in (LRU_INACTIVE_ANON, LRU_INACTIVE_FILE):
        sel = pfns[on & ((lrus & ~np.uint8(1)) == inactive)]
        if sel.size:
            lv.remove(sel)
            lv.add(sel, inactive, tail=True)
            node.machine.vm_events["pgrotated"] += int(sel.size)


# --------------------------------------------------------------------------
# swap
# --------------------------------------------------------------------------
def swap_setup(machine: Machine) -> int:
    """Choose ``page_cluster`` (swap read-ahead 2**n pages) from the RAM size.

    Kernel source: mm/swap.c ``swap_setup``,
    https://elixir.bootlin.com/linux/v5.0/ident/swap_setup

    ``megs = totalram_pages >> 8``; fewer than 16 MiB → 2, otherwise 3.

    >>> from mmsim import Node
    >>> swap_setup(Node.build(zones={"Normal": "15MiB"}).machine)
    2
    >>> swap_setup(Node.build(zones={"Normal": "16MiB"}).machine)
    3
    """
    megs = machine.totalram_pages() >> (20 - 12)
    machine.page_cluster = 2 if megs < 16 else 3
    return machine.page_cluster


class SwapArea:
    """One swap device (``struct swap_info_struct``) reduced to its slot count.

    Attributes
    ----------
    pages : int
        Size in pages (``total_swap_pages`` when it is the only area).
    used : int
        Slots holding a page.
    """

    def __init__(self, pages: int):
        self.pages = pages
        self.used = 0

    @property
    def free(self) -> int:
        return self.pages - self.used

    def get_swap_pages(self, n: int) -> int:
        """Take up to ``n`` slots (``get_swap_pages``); returns how many."""
        k = min(n, self.free)
        self.used += k
        return k

    def put_swap_pages(self, n: int) -> None:
        self.used -= n
        if self.used < 0:
            raise ValueError("swap: more slots freed than were in use")


def total_swap_pages(machine: Machine) -> int:
    swap = getattr(machine, "swap", None)
    return swap.pages if swap is not None else 0


def get_nr_swap_pages(machine: Machine) -> int:
    """Free swap slots (``get_nr_swap_pages``)."""
    swap = getattr(machine, "swap", None)
    return swap.free if swap is not None else 0
