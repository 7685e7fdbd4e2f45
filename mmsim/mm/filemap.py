"""Owners of reclaimable pages: page-cache files and anonymous memory regions.

Reclaim frees pages that somebody is using, so somebody has to notice: a
file loses a cached page (the next read must go to disk - a *refault* if it
comes soon), an anonymous region loses a page to swap (the next touch is a
major fault that reads it back, ``pswpin``). mmsim gives every LRU page an
owner - a :class:`FileMapping` (``struct address_space`` of a file) or an
:class:`AnonRegion` (the anonymous memory of a process) - and reclaim reports
each freed page back to it.

Workloads use the owners to touch memory the way programs do:

* ``FileMapping.read(idx)`` - ``read()`` of file pages: every page read is
  *accessed* (``mark_page_accessed``: the first read sets ``PG_referenced``, a
  second one promotes an inactive page to the active list); missing pages are
  allocated as page cache, added to the inactive file list, and read from disk
  (``pgpgin``) before that first access; a page evicted recently
  enough comes back straight onto the active list (workingset refault
  detection, ``workingset_refault``/``workingset_activate``);
* ``AnonRegion.touch(idx)`` - loads and stores to anonymous memory: present
  pages get their accessed bit set, absent ones are faulted in (zero-filled,
  onto the active anon list), swapped-out ones are read back from swap;
* ``release(idx)`` - ``munmap``/truncation: pages go back to the allocator.

Kernel source: mm/filemap.c (``add_to_page_cache_lru``, ``generic_file_buffered_read``),
mm/workingset.c (``workingset_eviction``, ``workingset_refault``), mm/memory.c
(``do_anonymous_page``, ``do_swap_page``); https://elixir.bootlin.com/linux/v5.0/source/mm/workingset.c

Simplifications
---------------
* No readahead windows: exactly the pages asked for are read.
* A refault's distance is compared with the active file list of the whole
  node (no memcg); the shadow entry is kept in the mapping's array, never
  reclaimed (``workingset_nodes`` stays 0).
* Swap-in reads one page (no ``page_cluster`` read-ahead) and frees its swap
  slot at once.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import numpy as np

from mmsim.kthread import Run
from mmsim.mm import gfp as G
from mmsim.mm.mmzone import FRAME_ANON, FRAME_FILE, sorted_unique
from mmsim.mm.swap import (
    LRU_ACTIVE_ANON,
    LRU_ACTIVE_FILE,
    LRU_INACTIVE_ANON,
    LRU_INACTIVE_FILE,
    PG_dirty,
    PG_mapped,
    PG_referenced,
    PG_swapcache,
    PG_workingset,
    PG_young,
    activate_pages,
    get_lruvec,
    lru_cache_add,
    mark_page_accessed,
)

if TYPE_CHECKING:  # pragma: no cover
    from mmsim.mm.mmzone import Node

Gen = Generator[Any, Any, Any]


class Mapping:
    """Common part: an array of page slots, each resident (a pfn) or not (-1)."""

    kind = FRAME_FILE

    def __init__(self, node: Node, npages: int, name: str = ""):
        if npages < 0:
            raise ValueError(f"npages: {npages} is negative; allowed >= 0")
        self.node = node
        self.name = name
        self.npages = npages
        # per-page arrays grow with the highest index used, so a huge sparse file is cheap
        self._cap = min(npages, 4096)
        self._arrays: list[tuple[str, Any]] = [("pfn", -1)]
        self.pfn = np.full(self._cap, -1, dtype=np.int64)
        machine = node.machine
        self.id = len(machine.mappings)
        machine.mappings.append(self)
        sched = machine.sched
        #: the task that created it (its ``mm``), if a simulation task did
        self.owner_task = sched.current if sched is not None else None
        get_lruvec(node)

    @property
    def nr_resident(self) -> int:
        return int(np.count_nonzero(self.pfn >= 0))

    def _add_array(self, name: str, fill: Any, dtype: Any) -> None:
        self._arrays.append((name, fill))
        setattr(self, name, np.full(self._cap, fill, dtype=dtype))

    def _check(self, idx: Any) -> np.ndarray:
        idx = np.asarray(idx, dtype=np.int64).ravel()
        if idx.size:
            if _FAST_PATHS and idx.size <= _SMALL_BATCH:
                lst = idx.tolist()  # min and max of a few dozen ints: cheaper in Python
                lo, hi = min(lst), max(lst)
            else:
                lo, hi = int(idx.min()), int(idx.max())
            if lo < 0 or hi >= self.npages:
                bad = int(idx[(idx < 0) | (idx >= self.npages)][0])
                raise ValueError(f"index: {bad} is outside {self.name or 'the mapping'} "
                                 f"(0..{self.npages - 1})")
            if hi >= self._cap:
                self._grow(hi + 1)
        return idx

    def _grow(self, need: int) -> None:
        cap = min(self.npages, max(need, 2 * self._cap))
        for name, fill in self._arrays:
            old = getattr(self, name)
            new = np.full(cap, fill, dtype=old.dtype)
            new[:old.size] = old
            setattr(self, name, new)
        self._cap = cap

    def _adopt(self, pfns: np.ndarray, idx: np.ndarray) -> None:
        lv = get_lruvec(self.node)
        lv.owner[pfns] = self.id
        lv.index[pfns] = idx
        self.pfn[idx] = pfns

    def release(self, idx: Any) -> int:
        """Free the resident pages at ``idx`` (munmap / truncate); returns how many."""
        from mmsim.mm.page_alloc import free_pages_bulk

        idx = self._check(idx)
        pf = self.pfn[idx]
        pf = sorted_unique(pf[pf >= 0])
        if not pf.size:
            return 0
        lv = get_lruvec(self.node)
        on_lru = pf[lv.lru[pf] != 0xFF]
        lv.remove(on_lru)
        fl = lv.flags[pf]
        sc_pages = int(np.count_nonzero(fl & PG_swapcache))
        swap = getattr(self.node.machine, "swap", None)
        if sc_pages and swap is not None:
            swap.put_swap_pages(sc_pages)
        wb = int(np.count_nonzero(fl & 0x08))
        if wb:
            self.node.node_stat["nr_writeback"] = self.node.node_stat.get("nr_writeback", 0) - wb
        lv.flags[pf] = 0
        lv.owner[pf] = -1
        self.pfn[idx[self.pfn[idx] >= 0]] = -1
        free_pages_bulk(self.node, pf)
        self._released(idx)
        return int(pf.size)

    def _released(self, idx: np.ndarray) -> None:  # pragma: no cover - overridden
        pass

    def page_evicted(self, idx: np.ndarray, pfns: np.ndarray,
                     ages: np.ndarray | None = None) -> None:
        """Reclaim took these pages (called by ``release_pages_from_owners``)."""
        self.pfn[idx] = -1


class FileMapping(Mapping):
    """The page cache of one file (``struct address_space``).

    Parameters
    ----------
    node
        Where its pages live.
    npages
        File size in pages.
    mapped
        True for a file mapped into processes (``mmap``): accesses set the
        page-table accessed bit instead of calling ``mark_page_accessed``.
    """

    kind = FRAME_FILE

    def __init__(self, node: Node, npages: int, name: str = "file", mapped: bool = False):
        super().__init__(node, npages, name)
        self.mapped = mapped
        self._add_array("shadow", -1, np.int64)
        self.gfp = G.GFP_HIGHUSER_MOVABLE

    def page_evicted(self, idx: np.ndarray, pfns: np.ndarray,
                     ages: np.ndarray | None = None) -> None:
        """``workingset_eviction``: remember the clock in a shadow entry.

        Kernel source: mm/workingset.c ``workingset_eviction``,
        https://elixir.bootlin.com/linux/v5.0/ident/workingset_eviction

        Each evicted page ticks ``inactive_age`` and keeps the value *after*
        its tick (``atomic_long_inc_return``), packed with its
        ``PageWorkingset`` bit (``pack_shadow``): here ``shadow = age * 2 +
        workingset``. ``ages`` are the ticks already taken for these pages by
        :func:`release_pages_from_owners`, which numbers a whole reclaim
        batch in its order.
        """
        lv = get_lruvec(self.node)
        if ages is None:
            ages = lv.inactive_age + 1 + np.arange(idx.size, dtype=np.int64)
            lv.inactive_age += int(idx.size)
        shadow = ages << 1
        fl = lv.flags[pfns]
        if fl.tobytes().translate(_WORKINGSET_BIT).count(1):  # any PG_workingset page?
            shadow |= (fl >> 6) & 1  # PG_workingset is 0x40
        self.shadow[idx] = shadow
        self.pfn[idx] = -1

    def _released(self, idx: np.ndarray) -> None:
        self.shadow[idx] = -1

    def read(self, idx: Any, task: Any = None) -> Gen:
        """``read()`` of the pages at ``idx``; returns how many came from disk.

        Kernel source: mm/filemap.c ``generic_file_buffered_read``,
        https://elixir.bootlin.com/linux/v5.0/ident/generic_file_buffered_read

        Cached pages are copied and marked accessed (a mapped file sets the
        accessed bit instead); missing ones are allocated, checked against
        their shadow entries (:func:`workingset_refault`), read in and marked
        accessed as well. Readahead windows are not modelled: exactly the
        missing pages are read.

        Simplifications: reads are whole pages. v5.0 skips ``mark_page_accessed``
        for a read that goes on inside the page where the previous read of the
        file stopped (``prev_index`` / ``prev_offset``: small sequential reads
        count a page once); with whole pages that case never arises.
        """
        from mmsim.mm.slowpath import alloc_pages_task

        idx = self._check(idx)
        node = self.node
        machine = node.machine
        cost = machine.cost
        lv = get_lruvec(node)
        res = self.pfn[idx]
        if _none_resident(res):  # fast path: nothing cached, all of idx is missing
            miss = _unique(idx)
        else:
            hit = res >= 0
            if hit.any():
                pf = res[hit]
                if self.mapped:
                    lv.flags[pf] |= PG_young
                else:
                    mark_page_accessed(node, pf)
                yield Run(int(pf.size) * cost.read_page_ns)
            miss = _unique(idx[~hit])
        if not miss.size:
            return 0
        pfns = yield from alloc_pages_task(node, int(miss.size), self.gfp, kind=FRAME_FILE)
        miss = miss[:pfns.size]
        if not miss.size:
            return 0
        self._adopt(pfns, miss)
        # workingset_refault: a recently evicted page returns to the active list
        shadow = self.shadow[miss]
        activate = restore = None  # fast path: no shadow entry, so no refault
        if not _none_resident(shadow):
            activate, restore = workingset_refault(node, shadow)
        self.shadow[miss] = -1
        # read(): generic_file_buffered_read calls mark_page_accessed on the page it has
        # just read in too, so it starts with PG_referenced and a second read activates
        # it; a fault on a mapped file sets the pte's accessed bit instead
        flags = PG_mapped | PG_young if self.mapped else PG_referenced
        lv.flags[pfns] = flags
        if activate is None:
            lru_cache_add(node, pfns, LRU_INACTIVE_FILE)
        else:
            act = pfns[activate]
            if act.size:
                lv.flags[pfns[restore]] |= PG_workingset
                lru_cache_add(node, act, LRU_ACTIVE_FILE)
            lru_cache_add(node, pfns[~activate], LRU_INACTIVE_FILE)
        machine.vm_events["pgpgin"] += int(pfns.size) * 8  # sectors; /proc halves it
        if self.mapped:  # a fault on the mapping: counted as a fault, and a major one
            machine.vm_events["pgfault"] += int(pfns.size)
            machine.vm_events["pgmajfault"] += int(pfns.size)
        yield Run(int(pfns.size) * cost.readahead_page_ns)
        return int(pfns.size)

    def write(self, idx: Any) -> Gen:
        """Buffered ``write()`` of whole pages at ``idx``: dirty them; returns pages dirtied.

        Kernel source: mm/filemap.c ``generic_perform_write`` →
        ``grab_cache_page_write_begin``,
        https://elixir.bootlin.com/linux/v5.0/ident/grab_cache_page_write_begin

        The page is looked up with ``FGP_LOCK | FGP_WRITE | FGP_CREAT`` - no
        ``FGP_ACCESSED``, so a write never calls ``mark_page_accessed``. A
        missing page is allocated with ``__GFP_WRITE`` and added to the cache
        without ``workingset_refault`` (``add_to_page_cache_lru`` skips it for
        writes: caching data about to be overwritten is no reason to evict the
        working set); its shadow entry is dropped. A whole-page write reads
        nothing from disk. Each page costs one copy (``read_page_ns``).

        Simplifications: ``__GFP_WRITE`` itself is not passed to the allocator
        (its only other use, spreading dirty pages by ``node_dirty_ok``, is
        not modelled); no ``balance_dirty_pages`` throttling.
        """
        from mmsim.mm.slowpath import alloc_pages_task

        idx = _unique(self._check(idx))
        node = self.node
        lv = get_lruvec(node)
        res = self.pfn[idx]
        miss = idx[res < 0]
        if miss.size:
            pfns = yield from alloc_pages_task(node, int(miss.size), self.gfp,
                                               kind=FRAME_FILE)
            miss = miss[:pfns.size]
            if miss.size:
                self._adopt(pfns, miss)
                self.shadow[miss] = -1
                lv.flags[pfns] = 0
                lru_cache_add(node, pfns, LRU_INACTIVE_FILE)
        pf = self.pfn[idx]
        pf = pf[pf >= 0]
        newly = pf[(lv.flags[pf] & PG_dirty) == 0]
        lv.flags[newly] |= PG_dirty
        _stat(self.node, "nr_dirty", int(newly.size))
        _stat(self.node, "nr_dirtied", int(newly.size))
        if pf.size:
            yield Run(int(pf.size) * node.machine.cost.read_page_ns)
        return int(newly.size)


class AnonRegion(Mapping):
    """Anonymous memory of a process (heap, stack, ``mmap(MAP_ANONYMOUS)``)."""

    kind = FRAME_ANON

    def __init__(self, node: Node, npages: int, name: str = "anon"):
        super().__init__(node, npages, name)
        self._add_array("swapped", False, bool)
        self.gfp = G.GFP_HIGHUSER_MOVABLE

    def page_evicted(self, idx: np.ndarray, pfns: np.ndarray,
                     ages: np.ndarray | None = None) -> None:
        """The pages went to swap: the page tables now hold swap entries."""
        self.pfn[idx] = -1
        self.swapped[idx] = True

    def _released(self, idx: np.ndarray) -> None:
        swapped = self.swapped[idx]
        n = int(np.count_nonzero(swapped))
        if n:
            swap = getattr(self.node.machine, "swap", None)
            if swap is not None:
                swap.put_swap_pages(n)
            self.swapped[idx] = False

    def touch(self, idx: Any, write: bool = True) -> Gen:
        """Access the pages at ``idx``; faults in missing ones. Returns pages faulted."""
        from mmsim.mm.slowpath import alloc_pages_task

        idx = self._check(idx)
        node = self.node
        machine = node.machine
        cost = machine.cost
        lv = get_lruvec(node)
        res = self.pfn[idx]
        if _none_resident(res):  # fast path: nothing present, all of idx faults
            miss = _unique(idx)
        else:
            hit = res >= 0
            if hit.any():
                pf = res[hit]
                lv.flags[pf] |= PG_young | (PG_dirty if write else 0)
            miss = _unique(idx[~hit])
        if not miss.size:
            return 0
        pfns = yield from alloc_pages_task(node, int(miss.size), self.gfp, kind=FRAME_ANON)
        miss = miss[:pfns.size]
        if not miss.size:
            return 0
        self._adopt(pfns, miss)
        from_swap = self.swapped[miss]
        n_swap = int(np.count_nonzero(from_swap))
        lv.flags[pfns] = PG_mapped | PG_young | PG_dirty
        fresh = pfns[~from_swap]
        machine.vm_events["pgfault"] += int(pfns.size)  # handle_mm_fault: every fault
        if fresh.size:
            # do_anonymous_page: lru_cache_add_active_or_unevictable
            lru_cache_add(node, fresh, LRU_ACTIVE_ANON)
        if n_swap:
            back = pfns[from_swap]
            self.swapped[miss[from_swap]] = False
            swap = machine.swap
            if swap is not None:
                swap.put_swap_pages(n_swap)
            # swap readahead puts the page on the inactive list (lru_cache_add_anon,
            # drained before the fault maps it); do_swap_page then calls activate_page
            lru_cache_add(node, back, LRU_INACTIVE_ANON)
            activate_pages(node, back)
            machine.vm_events["pswpin"] += n_swap
            machine.vm_events["pgmajfault"] += n_swap
            machine.vm_events["pgpgin"] += n_swap * 8
        yield Run(int(fresh.size) * cost.zero_page_ns + n_swap * cost.readahead_page_ns)
        return int(pfns.size)


#: the fast paths beside the readable code (same results; False: the readable code alone)
_FAST_PATHS = True
_SMALL_BATCH = 256


_MINUS_ONE_BYTES = np.full(4096, -1, dtype=np.int64).tobytes()
#: page flag byte -> 1 if PG_dirty is set (bytes.translate table)
_DIRTY_BIT = bytes(1 if b & PG_dirty else 0 for b in range(256))
#: page flag byte -> 1 if PG_workingset is set
_WORKINGSET_BIT = bytes(1 if b & PG_workingset else 0 for b in range(256))
assert PG_workingset == 0x40


def _none_resident(a: np.ndarray) -> bool:
    """Fast path test: is an int64 array (``pfn``, ``shadow``) all -1?

    That is no pfn cached, no shadow entry. False whenever the answer is not
    known that cheaply (longer than 4096 entries); callers then take their
    general path, which gives the same result.
    """
    return (_FAST_PATHS and a.nbytes <= len(_MINUS_ONE_BYTES)
            and a.tobytes() == _MINUS_ONE_BYTES[:a.nbytes])


def _unique(a: np.ndarray) -> np.ndarray:
    """``np.unique(a)`` of page indices: sorted and distinct.

    Fast path: a short run of consecutive indices (a sequential read) is its
    own answer; other short arrays are sorted as Python ints.
    """
    if _FAST_PATHS and a.size <= _SMALL_BATCH:
        lst = a.tolist()
        if lst and lst[-1] - lst[0] == len(lst) - 1 and lst == list(range(lst[0], lst[-1] + 1)):
            return a
        return np.array(sorted(set(lst)), dtype=a.dtype)
    return sorted_unique(a)


def _stat(node: Node, name: str, n: int) -> None:
    if n:
        node.node_stat[name] = node.node_stat.get(name, 0) + n


def workingset_refault(node: Node, shadow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``workingset_refault`` for pages read back in, in order; returns (activate, restore).

    Kernel source: mm/workingset.c ``workingset_refault``,
    https://elixir.bootlin.com/linux/v5.0/ident/workingset_refault

    For every page with a shadow entry: ``workingset_refault`` counts; the
    refault distance is the clock now minus the clock at eviction; if it is
    at most the active file list, the page goes active, the clock ticks
    (``inactive_age``) and ``workingset_activate`` counts - and if the page
    was in the workingset when evicted, ``PG_workingset`` is set again and
    ``workingset_restore`` counts. Pages are taken one by one, so an
    activation lengthens the distance of the pages after it.

    Simplifications: the active file list is read once for the batch (the
    kernel's pagevecs add the activated pages to it 15 at a time).
    """
    lv = get_lruvec(node)
    had = shadow >= 0
    activate = np.zeros(shadow.size, dtype=bool)
    restore = np.zeros(shadow.size, dtype=bool)
    n_ref = int(np.count_nonzero(had))
    if not n_ref:
        return activate, restore
    _stat(node, "workingset_refault", n_ref)
    active_file = lv.node_lru_pages(LRU_ACTIVE_FILE)
    age = lv.inactive_age
    for k in np.flatnonzero(had).tolist():
        sh = int(shadow[k])
        if age - (sh >> 1) <= active_file:
            activate[k] = True
            age += 1
            if sh & 1:
                restore[k] = True
    n_act = age - lv.inactive_age
    if n_act:
        lv.inactive_age = age
        _stat(node, "workingset_activate", n_act)
        n_restore = int(np.count_nonzero(restore))
        if n_restore:
            _stat(node, "workingset_restore", n_restore)
    return activate, restore


def release_pages_from_owners(node: Node, pfns: np.ndarray) -> None:
    """Reclaim freed ``pfns``: tell each owner which of its pages went away."""
    lv = get_lruvec(node)
    owners = lv.owner[pfns]
    mappings = node.machine.mappings
    wb = lv.flags[pfns]
    small = _FAST_PATHS and pfns.size <= _SMALL_BATCH
    if small:  # the same counts on bytes and lists (a reclaim chunk)
        n_dirty = wb.tobytes().translate(_DIRTY_BIT).count(1)
    else:
        n_dirty = int(np.count_nonzero(wb & PG_dirty))
    if n_dirty:
        node.node_stat["nr_dirty"] = node.node_stat.get("nr_dirty", 0) - n_dirty
    if small:
        ol = owners.tolist()
        o0 = ol[0]
        one_owner = o0 >= 0 and ol.count(o0) == len(ol)
    else:
        o0 = int(owners[0])
        one_owner = o0 >= 0 and (owners == o0).all()
    # workingset_eviction ticks the clock once per file page, in the order reclaim freed
    # them (__remove_mapping); anonymous pages leave no shadow and do not tick it
    if one_owner:
        m = mappings[o0]
        ages = None
        if m.kind == FRAME_FILE:
            n = int(pfns.size)
            ages = np.arange(lv.inactive_age + 1, lv.inactive_age + 1 + n, dtype=np.int64)
            lv.inactive_age += n
        m.page_evicted(lv.index[pfns], pfns, ages)
        return
    is_file = node.state[pfns - node.node_start_pfn] == FRAME_FILE
    ages = lv.inactive_age + np.cumsum(is_file)
    lv.inactive_age += int(np.count_nonzero(is_file))
    for oid in sorted_unique(owners).tolist():
        if oid < 0:
            continue
        sel = owners == oid
        mappings[oid].page_evicted(lv.index[pfns[sel]], pfns[sel], ages[sel])


def exit_mmap(machine: Any, task: Any) -> int:
    """Free the anonymous memory of a task that ends (``exit_mmap``); returns pages freed.

    Kernel source: mm/mmap.c ``exit_mmap`` (and ``__oom_reap_task_mm`` for an
    OOM victim), https://elixir.bootlin.com/linux/v5.0/ident/exit_mmap

    Every :class:`AnonRegion` the task created gives back its resident pages
    and its swap slots. Page cache stays: it belongs to the files, not to the
    task.
    """
    freed = 0
    for m in machine.mappings:
        if isinstance(m, AnonRegion) and m.owner_task is task and m._cap:
            freed += m.release(np.arange(m._cap))
    return freed
