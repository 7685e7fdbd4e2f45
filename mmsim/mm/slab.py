"""Reclaimable slab memory and its shrinker (dentry/inode caches, simplified).

Kernel objects such as dentries and inodes live in slab pages allocated with
``__GFP_RECLAIMABLE`` (the Reclaimable migratetype). Reclaim cannot take these
pages directly; it asks each cache's *shrinker* to drop unused objects
(``shrink_slab`` → ``do_shrink_slab``), and a slab page returns to the
allocator when all objects on it are gone. Because reclaimable allocations
fall back into Movable pageblocks when their own run out, a slab-heavy
workload is also what steals pageblocks and triggers watermark boosts.

``do_shrink_slab`` in v5.0 scans ``(freeable >> priority) * 4 / seeks``
objects per call (``seeks = DEFAULT_SEEKS = 2``), at most twice the cache's
size, in batches of ``SHRINK_BATCH = 128``, and counts them in
``slabs_scanned``.

Kernel source: mm/vmscan.c ``do_shrink_slab`` L452-580, ``shrink_slab`` L680-719,
https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L452

Simplifications
---------------
* One cache per node with ``objs_per_page`` objects per page (21: a 192-byte
  dentry), all of them unused; the oldest objects are dropped first and every
  ``objs_per_page`` dropped objects free one page (no partially used slabs).
* No deferred work (``nr_deferred``) is carried between calls.
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
        return int(pf.size)

    def count_objects(self) -> int:
        return self.nr_pages * self.objs_per_page

    def shrink(self, pgdat: Node, priority: int, sc: Any = None) -> int:
        """``do_shrink_slab`` for this cache; returns pages freed."""
        if pgdat is not self.node:
            return 0
        freeable = self.count_objects()
        if not freeable:
            return 0
        delta = (freeable >> priority) * 4 // DEFAULT_SEEKS
        total_scan = min(delta, freeable * 2)
        scanned = 0
        while total_scan >= SHRINK_BATCH or total_scan >= freeable:
            nr = min(SHRINK_BATCH, total_scan)
            scanned += nr
            total_scan -= nr
            if nr == 0 or scanned >= freeable:
                break
        scanned = min(scanned, freeable)
        machine = pgdat.machine
        machine.vm_events["slabs_scanned"] += scanned
        if sc is not None:
            sc.cost_ns += scanned * machine.cost.slab_object_ns
        pages_to_free = scanned // self.objs_per_page
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
        return freed


def get_slab_cache(node: Node) -> SlabCache:
    """The node's reclaimable slab cache, registered as a shrinker on first use."""
    cache = getattr(node, "slab_cache", None)
    if cache is None:
        cache = SlabCache(node)
        node.slab_cache = cache
        node.machine.shrinkers.append(cache)
    return cache
