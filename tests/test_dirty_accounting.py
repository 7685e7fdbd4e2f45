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
