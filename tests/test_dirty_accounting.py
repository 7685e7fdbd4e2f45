"""``nr_dirty`` (NR_FILE_DIRTY) follows the dirty file pages.

In v5.0 a file page enters NR_FILE_DIRTY when it is dirtied
(``account_page_dirtied``) and leaves it when ``clear_page_dirty_for_io`` starts
its writeback (``pageout`` from reclaim) or when it is cleaned and freed. So at
any instant the counter equals the number of file frames whose PG_dirty is set;
it can never exceed the node's pages. A writer dirties a file while readers push
the node into reclaim, which writes dirty pages back itself.
"""
from __future__ import annotations

import numpy as np

from mmsim import Node, Simulation
from mmsim.kthread import Sleep
from mmsim.mm.filemap import FileMapping
from mmsim.mm.mmzone import FRAME_FILE
from mmsim.mm.swap import PG_dirty, get_lruvec
from mmsim.workloads import FileStream, Script


def _dirty_file_frames(node: Node) -> int:
    lv = get_lruvec(node)
    file = node.state == FRAME_FILE
    return int(np.count_nonzero(file & ((lv.flags & PG_dirty) != 0)))


def test_nr_dirty_matches_dirty_file_frames_through_reclaim_writeback() -> None:
    node = Node.build(zones={"DMA32": "48MiB"})
    seen: list[tuple[int, int]] = []

    def writer(sim):
        f = FileMapping(sim.node, 1 << 20, name="log")
        pos = 0
        while True:
            yield from f.write(np.arange(pos, pos + 32))
            pos += 32
            seen.append((sim.node.node_stat.get("nr_dirty", 0), _dirty_file_frames(sim.node)))
            yield Sleep(150_000)

    sim = Simulation(node, [Script(fn=writer, name="writer"),
                            FileStream(rate="200MiB", name="reader")], seed=3)
    sim.run(1.0)
    written = int(node.node_stat.get("nr_vmscan_write", 0))
    assert written > 0, "the scenario must make reclaim write dirty pages back"
    assert seen and all(counter == frames for counter, frames in seen), \
        [s for s in seen if s[0] != s[1]][:3]
    assert node.node_stat["nr_dirty"] == _dirty_file_frames(node)
    assert 0 <= node.node_stat["nr_dirty"] <= sum(z.managed_pages for z in node.zones)


def _pages_under_reclaim_writeback(n: int):
    """``n`` page-cache pages of one file on the inactive file list, each under writeback
    that reclaim started (PG_writeback | PG_reclaim), as pageout leaves them."""
    from mmsim.mm.page_alloc import ALLOC_NO_WATERMARKS, alloc_pages_bulk
    from mmsim.mm.swap import LRU_INACTIVE_FILE, PG_reclaim, PG_writeback, lru_cache_add

    node = Node.build(zones={"Normal": "16MiB"})
    pfns = np.sort(alloc_pages_bulk(node, n, "GFP_HIGHUSER_MOVABLE", kind="file",
                                    alloc_flags=ALLOC_NO_WATERMARKS))
    f = FileMapping(node, n, name="f")
    f._adopt(pfns, f._check(np.arange(n)))
    lru_cache_add(node, pfns, LRU_INACTIVE_FILE)  # head: the last pfn ends up first
    get_lruvec(node).flags[pfns] |= PG_writeback | PG_reclaim
    node.node_stat["nr_writeback"] = n
    return node, pfns


def test_end_page_writeback_rotates_clean_pages_only() -> None:
    # rotate_reclaimable_page moves a page reclaim wanted to the inactive tail when its
    # writeback ends - unless it was dirtied again meanwhile (!PageDirty in v5.0)
    from mmsim.mm.page_io import end_page_writeback
    from mmsim.mm.swap import LRU_INACTIVE_FILE, PG_reclaim, PG_writeback

    node, pfns = _pages_under_reclaim_writeback(4)
    lv = get_lruvec(node)
    lv.flags[pfns[1]] |= PG_dirty  # written again while under writeback
    tail_before = lv.peek_tail(LRU_INACTIVE_FILE, 4).tolist()
    assert tail_before == pfns.tolist()  # oldest (first added) at the tail
    end_page_writeback(node, pfns)
    assert node.machine.vm_events["pgrotated"] == 3
    # the three clean pages went to the tail one after another (list_move_tail: the last
    # one moved is the new tail); the redirtied one stayed where it was, now nearest the head
    assert lv.peek_tail(LRU_INACTIVE_FILE, 4).tolist() == [pfns[3], pfns[2], pfns[0], pfns[1]]
    assert not (lv.flags[pfns] & (PG_writeback | PG_reclaim)).any()
    assert node.node_stat["nr_writeback"] == 0


def test_end_page_writeback_moves_an_active_page_to_the_inactive_tail() -> None:
    # since v4.11 (c55e8d035b28) pagevec_move_tail_fn clears PG_active: a page that
    # shrink_page_list activated while it was under writeback goes to the inactive tail
    from mmsim.mm.page_io import end_page_writeback
    from mmsim.mm.swap import LRU_ACTIVE_FILE, LRU_INACTIVE_FILE

    node, pfns = _pages_under_reclaim_writeback(3)
    lv = get_lruvec(node)
    lv.remove(pfns[:1])
    lv.add(pfns[:1], LRU_ACTIVE_FILE)
    end_page_writeback(node, pfns)
    assert node.machine.vm_events["pgrotated"] == 3
    assert lv.node_lru_pages(LRU_ACTIVE_FILE) == 0
    assert lv.peek_tail(LRU_INACTIVE_FILE, 3).tolist() == [pfns[2], pfns[1], pfns[0]]
