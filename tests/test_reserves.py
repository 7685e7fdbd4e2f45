"""Who may allocate below *min*: ``__gfp_pfmemalloc_flags`` in the v5.0 slow path.

The box (lesson 12's) starts with 448 free pages in Normal, below min = 512, and a
task asks for 256 order-0 pages. Expected outcomes follow from v5.0
``__alloc_pages_slowpath``:

* a plain GFP_KERNEL task cannot use the reserve: it reclaims (allocstall) and
  ends above min;
* PF_MEMALLOC or __GFP_MEMALLOC gets ALLOC_NO_WATERMARKS: 448 - 256 = 192 left,
  no stall;
* PF_MEMALLOC with __GFP_NOMEMALLOC: no reserve, and a PF_MEMALLOC task may not
  enter reclaim (``goto nopage``), so the allocation fails with nothing taken.
"""
from __future__ import annotations

import pytest

from mmsim.kthread import PF_MEMALLOC
from mmsim.mm import gfp as G
from mmsim.mm.page_alloc import ALLOC_NO_WATERMARKS
from mmsim.mm.slowpath import gfp_pfmemalloc_flags
from mmsim.panels.l12_current_is_kswapd import run_task


@pytest.mark.parametrize(("gfp", "flags", "expected"), [
    (G.GFP_KERNEL, 0, 0),
    (G.GFP_KERNEL, PF_MEMALLOC, ALLOC_NO_WATERMARKS),
    (G.GFP_KERNEL | G.__GFP_MEMALLOC, 0, ALLOC_NO_WATERMARKS),
    (G.GFP_KERNEL | G.__GFP_NOMEMALLOC, PF_MEMALLOC, 0),
    (G.GFP_ATOMIC | G.__GFP_NOMEMALLOC | G.__GFP_MEMALLOC, 0, 0),
])
def test_pfmemalloc_flags(gfp: int, flags: int, expected: int) -> None:
    assert gfp_pfmemalloc_flags(gfp, flags) == expected


@pytest.mark.parametrize(("gfp", "flags", "got", "free_after", "stalled"), [
    ("GFP_KERNEL", PF_MEMALLOC, 256, 192, False),
    ("GFP_KERNEL|__GFP_MEMALLOC", 0, 256, 192, False),
    ("GFP_KERNEL|__GFP_NOMEMALLOC", PF_MEMALLOC, 0, 448, False),
    ("GFP_KERNEL|__GFP_NOMEMALLOC", 0, 256, None, True),
])
def test_reserve_access(gfp: str, flags: int, got: int, free_after: int | None,
                        stalled: bool) -> None:
    r = run_task(flags=flags, gfp=gfp, pages=256)
    assert r["free before"] == 448 and r["min"] == 512
    assert r["got"] == got
    if free_after is not None:
        assert r["free after"] == free_after
    else:
        assert r["free after"] >= r["min"]
    assert (r["allocstall_normal"] > 0) is stalled
