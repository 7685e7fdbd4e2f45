"""Reclaimable slab memory and its shrinker (dentry/inode caches, simplified).

Kernel objects such as dentries and inodes live in slab pages allocated with
``__GFP_RECLAIMABLE`` (the Reclaimable migratetype). Reclaim cannot take these
pages directly; it asks each cache's *shrinker* to drop unused objects
(``shrink_slab`` → ``do_shrink_slab``), and a slab page returns to the
allocator when all objects on it are gone. Because reclaimable allocations
fall back into Movable pageblocks when their own run out, a slab-heavy
workload is also what steals pageblocks and triggers watermark boosts.

``do_shrink_slab`` in v5.0 adds ``(freeable >> priority) * 4 / seeks``
objects (``seeks = DEFAULT_SEEKS = 2``) to the work deferred from earlier
calls (``nr_deferred``), scans it in batches of ``SHRINK_BATCH = 128`` - at
most half the cache when the new share is small, never more than twice it -
counts each batch in ``slabs_scanned`` and carries what is left (less than a
batch) to the next call. Without that carry a cache smaller than about
262,144 objects would never be scanned at the default priority 12.

Kernel source: mm/vmscan.c ``do_shrink_slab`` L452-580, ``shrink_slab`` L680-719,
https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L452

Simplifications
---------------
* One cache per node with ``objs_per_page`` objects per page (21: a 192-byte
  dentry), all of them unused; the oldest objects are dropped first and a
  page is freed once all its objects are gone (objects are dropped from the
  oldest page first, so at most one page is partly empty).
* Freed slab pages are credited to the reclaim that shrank them at once
  (``reclaim_state->reclaimed_slab``); in the kernel dentries and inodes are
  freed through RCU callbacks, which often run later and outside it.
* The ``mm_shrink_slab_start`` / ``_end`` tracepoints are not emitted.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np

from mmsim.mm.page_alloc import free_pages_bulk

if TYPE_CHECKING:  # pragma: no cover
    from mmsim.mm.mmzone import Node

DEFAULT_SEEKS = 2
SHRINK_BATCH = 128


class SlabCache:
    """A reclaimable slab cache with a shrinker."""

    def __init__(self, node: Node, objs_per_page: int = 21, name: str = "dentry"):
        self.node = node
        self.name = name
        self.objs_per_page = objs_per_page
        self.pages: deque[np.ndarray] = deque()
        self.member = np.zeros(node.node_spanned_pages, dtype=bool)
        self.nr_pages = 0
        #: objects already dropped from the oldest page (it is freed when all are gone)
        self.dropped = 0
        self._dropped_pfn: int | None = None
        #: ``shrinker->nr_deferred[nid]``: scan work carried to the next call
        self.nr_deferred = 0

    def add(self, pfns: np.ndarray) -> None:
        self.member[pfns] = True
        self.pages.append(pfns)
        self.nr_pages += int(pfns.size)

    def free(self, pfns: np.ndarray) -> int:
        """Objects freed by their owner (lifetime over): free the pages still held."""
        pf = pfns[self.member[pfns]]
        if pf.size:
            self.member[pf] = False
            self.nr_pages -= int(pf.size)
            free_pages_bulk(self.node, pf)
            if self.dropped and self._oldest() not in (None, self._dropped_pfn):
                self.dropped = 0  # the partly emptied page went with them
        return int(pf.size)

    def _oldest(self) -> int | None:
        """The oldest page still in the cache (objects are dropped from it first)."""
        while self.pages:
            live = self.pages[0][self.member[self.pages[0]]]
            if live.size:
                return int(live[0])
            self.pages.popleft()
        return None

    def count_objects(self) -> int:
        return self.nr_pages * self.objs_per_page - self.dropped

    def shrink(self, pgdat: Node, priority: int, sc: Any = None) -> int:
        """``do_shrink_slab`` for this cache; returns pages freed.

        Kernel source: mm/vmscan.c ``do_shrink_slab`` (L452-580),
        https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L452

        Examples
        --------
        At priority 12 a 4,200-object cache (200 pages) adds
        ``(4200 >> 12) * 4 / 2 = 2`` objects of work a call: nothing is
        scanned until 64 calls have deferred a whole batch of 128.

        >>> from mmsim import Node
        >>> from mmsim.mm.page_alloc import alloc_pages_bulk
        >>> node = Node.build(zones={"Normal": "64MiB"})
        >>> cache = get_slab_cache(node)
        >>> cache.add(alloc_pages_bulk(node, 200, "GFP_KERNEL|__GFP_RECLAIMABLE", kind="slab"))
        >>> [cache.shrink(node, 12) for _ in range(63)].count(0), cache.nr_deferred
        (63, 126)
        >>> cache.shrink(node, 12), cache.nr_deferred, node.machine.vm_events["slabs_scanned"]
        (6, 0, 128)
        """
        if pgdat is not self.node:
            return 0
        freeable = self.count_objects()
        if not freeable:
            return 0
        nr = self.nr_deferred  # atomic_long_xchg(&nr_deferred[nid], 0)
        self.nr_deferred = 0
        delta = (freeable >> priority) * 4 // DEFAULT_SEEKS
        total_scan = nr + delta
        next_deferred = total_scan
        if delta < freeable // 4:  # no windup from deferred work: at most half the cache
            total_scan = min(total_scan, freeable // 2)
        if total_scan > freeable * 2:
            total_scan = freeable * 2
        scanned = 0
        while total_scan >= SHRINK_BATCH or total_scan >= freeable:
            nr_to_scan = min(SHRINK_BATCH, total_scan)
            scanned += nr_to_scan
            total_scan -= nr_to_scan
        self.nr_deferred += max(0, next_deferred - scanned)
        machine = pgdat.machine
        machine.vm_events["slabs_scanned"] += scanned
        if sc is not None:
            sc.cost_ns += scanned * machine.cost.slab_object_ns
        # scan_objects: every object looked at is unused and dropped, oldest first
        objs = min(scanned, freeable) + self.dropped
        pages_to_free, self.dropped = divmod(objs, self.objs_per_page)
        freed = 0
        while pages_to_free > freed and self.pages:
            batch = self.pages[0]
            batch = batch[self.member[batch]]
            take = batch[:pages_to_free - freed]
            rest = batch[take.size:]
            if rest.size:
                self.pages[0] = rest
            else:
                self.pages.popleft()
            if take.size:
                self.member[take] = False
                self.nr_pages -= int(take.size)
                free_pages_bulk(self.node, take)
                freed += int(take.size)
        self._dropped_pfn = self._oldest() if self.dropped else None
        if self._dropped_pfn is None:
            self.dropped = 0
        return freed


def get_slab_cache(node: Node) -> SlabCache:
    """The node's reclaimable slab cache, registered as a shrinker on first use."""
    cache = getattr(node, "slab_cache", None)
    if cache is None:
        cache = SlabCache(node)
        node.slab_cache = cache
        node.machine.shrinkers.append(cache)
    return cache
