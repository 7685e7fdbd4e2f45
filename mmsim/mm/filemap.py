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
    get_lruvec,
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

    def page_evicted(self, idx: np.ndarray, pfns: np.ndarray) -> None:
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

    def page_evicted(self, idx: np.ndarray, pfns: np.ndarray) -> None:
        """``workingset_eviction``: remember the clock in a shadow entry."""
        lv = get_lruvec(self.node)
        self.shadow[idx] = lv.inactive_age
        lv.inactive_age += int(idx.size)
        self.pfn[idx] = -1

    def _released(self, idx: np.ndarray) -> None:
        self.shadow[idx] = -1

    def read(self, idx: Any, task: Any = None) -> Gen:
        """``read()`` of the pages at ``idx``; returns how many came from disk."""
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
        activate = None  # fast path: no shadow entry, so no refault to activate
        if not _none_resident(shadow):
            had = shadow >= 0
            refault = had.copy()
            activate = np.zeros(miss.size, dtype=bool)
            if had.any():
                active_file = lv.node_lru_pages(LRU_ACTIVE_FILE)
                distance = lv.inactive_age - shadow
                activate = had & (distance <= active_file)
                _stat(node, "workingset_refault", int(np.count_nonzero(refault)))
                n_act = int(np.count_nonzero(activate))
                if n_act:
                    _stat(node, "workingset_activate", n_act)
                    lv.inactive_age += n_act
        self.shadow[miss] = -1
        # read(): generic_file_buffered_read calls mark_page_accessed on the page it has
        # just read in too, so it starts with PG_referenced and a second read activates
        # it; a fault on a mapped file sets the pte's accessed bit instead
        flags = PG_mapped | PG_young if self.mapped else PG_referenced
        lv.flags[pfns] = flags
        if activate is None:
            lv.add(pfns, LRU_INACTIVE_FILE)
        else:
            act = pfns[activate]
            if act.size:
                lv.flags[act] |= PG_workingset
                lv.add(act, LRU_ACTIVE_FILE)
            lv.add(pfns[~activate], LRU_INACTIVE_FILE)
        machine.vm_events["pgpgin"] += int(pfns.size) * 8  # sectors; /proc halves it
        machine.vm_events["pgmajfault"] += int(pfns.size) if self.mapped else 0
        yield Run(int(pfns.size) * cost.readahead_page_ns)
        return int(pfns.size)

    def write(self, idx: Any) -> Gen:
        """Dirty the pages at ``idx`` (buffered write); absent pages are added first."""
        idx = self._check(idx)
        yield from self.read(idx)
        pf = self.pfn[idx]
        pf = pf[pf >= 0]
        lv = get_lruvec(self.node)
        newly = pf[(lv.flags[pf] & PG_dirty) == 0]
        lv.flags[newly] |= PG_dirty
        _stat(self.node, "nr_dirty", int(newly.size))
        _stat(self.node, "nr_dirtied", int(newly.size))
        return int(newly.size)


class AnonRegion(Mapping):
    """Anonymous memory of a process (heap, stack, ``mmap(MAP_ANONYMOUS)``)."""

    kind = FRAME_ANON

    def __init__(self, node: Node, npages: int, name: str = "anon"):
        super().__init__(node, npages, name)
        self._add_array("swapped", False, bool)
        self.gfp = G.GFP_HIGHUSER_MOVABLE

    def page_evicted(self, idx: np.ndarray, pfns: np.ndarray) -> None:
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
        if fresh.size:
            lv.add(fresh, LRU_ACTIVE_ANON)
            machine.vm_events["pgfault"] += int(fresh.size)
        if n_swap:
            back = pfns[from_swap]
            self.swapped[miss[from_swap]] = False
            swap = machine.swap
            if swap is not None:
                swap.put_swap_pages(n_swap)
            lv.add(back, LRU_INACTIVE_ANON)
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
    if one_owner:
        mappings[o0].page_evicted(lv.index[pfns], pfns)
        return
    for oid in sorted_unique(owners).tolist():
        if oid < 0:
            continue
        sel = pfns[owners == oid]
        mappings[oid].page_evicted(lv.index[sel], sel)


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
