"""Writeback I/O: pages on their way to disk, and what happens when they arrive.

Reclaim cannot free a dirty page: it first has to write it out - to its file
(``writepage``) or, for anonymous memory, to swap (``swap_writepage``). The
page is marked ``PG_writeback`` and stays on the inactive list; reclaim marks
it ``PG_reclaim`` so that when the write completes ``end_page_writeback``
moves it to the *tail* of the inactive list (``rotate_reclaimable_page``,
counted as ``pgrotated``), where the next scan frees it at once.

mmsim models one block device with a bandwidth and a latency: submitted
pages complete in submission order. An ``io`` kernel thread sleeps until the
next completion and applies it at the right simulated time.

Kernel source: mm/page_io.c (``swap_writepage``, ``end_swap_bio_write``),
mm/filemap.c (``end_page_writeback``), mm/vmscan.c ``pageout``;
https://elixir.bootlin.com/linux/v5.0/source/mm/page_io.c

Simplifications
---------------
One device for swap and files; no request merging, plugging or congestion
(``PGDAT_CONGESTED`` is never set); writes never fail.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np

from mmsim.kthread import (
    NSEC_PER_SEC,
    Schedule,
    Sleep,
    WaitQueue,
    prepare_to_wait,
    wake_up_interruptible,
)
from mmsim.mm.swap import PG_reclaim, PG_writeback, get_lruvec, rotate_reclaimable_pages

if TYPE_CHECKING:  # pragma: no cover
    from mmsim.mm.mmzone import Machine, Node


class BlockDevice:
    """A FIFO device: ``pages`` written at ``bandwidth`` bytes/s after ``latency_ns``."""

    def __init__(self, machine: Machine, bandwidth: int, latency_ns: int):
        self.machine = machine
        self.bandwidth = bandwidth
        self.latency_ns = latency_ns
        self.busy_until_ns = 0
        self.queue: deque[tuple[int, Node, np.ndarray]] = deque()
        self.wait = WaitQueue("io")
        self.in_flight = 0
        self.completed = 0

    def submit(self, node: Node, pfns: np.ndarray, now_ns: int) -> int:
        """Queue a write of ``pfns``; returns its completion time."""
        if not pfns.size:
            return now_ns
        start = max(now_ns, self.busy_until_ns)
        xfer = pfns.size * 4096 * NSEC_PER_SEC // self.bandwidth
        self.busy_until_ns = start + xfer
        done = self.busy_until_ns + self.latency_ns
        self.queue.append((done, node, pfns))
        self.in_flight += int(pfns.size)
        wake_up_interruptible(self.wait)
        return done

    def complete_until(self, now_ns: int) -> int:
        """Finish every write due by ``now_ns`` (``end_page_writeback``)."""
        n = 0
        while self.queue and self.queue[0][0] <= now_ns:
            _done, node, pfns = self.queue.popleft()
            end_page_writeback(node, pfns)
            self.in_flight -= int(pfns.size)
            n += int(pfns.size)
        self.completed += n
        return n


def end_page_writeback(node: Node, pfns: np.ndarray) -> None:
    """Writeback done: clear ``PG_writeback``; pages reclaim wanted go to the inactive tail."""
    lv = get_lruvec(node)
    still_ours = lv.owner[pfns] >= 0  # pages freed meanwhile are left alone
    pfns = pfns[still_ours & ((lv.flags[pfns] & PG_writeback) != 0)]
    if not pfns.size:
        return
    lv.clear_flags(pfns, PG_writeback)
    node.node_stat["nr_writeback"] = node.node_stat.get("nr_writeback", 0) - int(pfns.size)
    want = pfns[(lv.flags[pfns] & PG_reclaim) != 0]
    if want.size:
        lv.clear_flags(want, PG_reclaim)
        on_lru = want[lv.lru[want] != 0xFF]
        rotate_reclaimable_pages(node, on_lru)


def io_thread(machine: Machine) -> Any:
    """The completion side of the block device, as a kernel thread."""
    dev: BlockDevice = machine.blockdev
    sched = machine.sched
    while True:
        dev.complete_until(sched.now_ns)
        if dev.queue:
            yield Sleep(max(0, dev.queue[0][0] - sched.now_ns))
        else:
            prepare_to_wait(dev.wait, sched.current)
            yield Schedule()
            from mmsim.kthread import finish_wait

            finish_wait(dev.wait, sched.current)
