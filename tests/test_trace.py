"""Reading ftrace text: typed events, round trips, and a real 6.1 kernel's trace."""

from __future__ import annotations

import gzip
import re
from importlib import resources

import pandas as pd
import pytest

from mmsim import scenarios
from mmsim.trace import FtraceParseError, read_ftrace

REAL = resources.files("mmsim") / "data" / "real-6.1-filecache" / "trace.txt.gz"


@pytest.fixture(scope="module")
def real_text() -> str:
    with gzip.open(str(REAL), "rt") as fh:
        return fh.read()


@pytest.fixture(scope="module")
def real(real_text: str) -> pd.DataFrame:
    return read_ftrace(real_text)


def test_event_counts_equal_grep(real_text: str, real: pd.DataFrame) -> None:
    lines = [ln for ln in real_text.splitlines() if ln.strip() and not ln.startswith("#")]
    assert len(real) == len(lines)
    for event in ("mm_vmscan_kswapd_wake", "mm_vmscan_kswapd_sleep", "mm_vmscan_wakeup_kswapd",
                  "mm_vmscan_direct_reclaim_begin", "mm_vmscan_lru_shrink_inactive",
                  "mm_compaction_suitable", "mm_page_alloc_extfrag"):
        grep_c = sum(1 for ln in lines if f" {event}: " in ln)
        assert grep_c > 0
        assert int((real.event == event).sum()) == grep_c, event
    assert int((real.event == "marker").sum()) == sum(
        1 for ln in lines if " tracing_mark_write: " in ln)


def test_typed_fields_and_renames(real: pd.DataFrame) -> None:
    from mmsim.mm.gfp import __GFP_MOVABLE, GFP_NOFS

    wk = real[real.event == "mm_vmscan_wakeup_kswapd"]
    assert set(wk.gfp_flags.dropna().astype(int)) >= {0}
    assert any(int(g) & GFP_NOFS == GFP_NOFS and int(g) & __GFP_MOVABLE
               for g in wk.gfp_flags.dropna())
    suit = real[real.event == "mm_compaction_suitable"]
    assert set(suit.zid.dropna().astype(int)) <= {0, 1}  # DMA, DMA32 on the 512 MiB guest
    assert set(suit.ret.dropna()) <= {"skipped", "continue", "success", "not_suitable_zone"}
    ext = real[real.event == "mm_page_alloc_extfrag"]
    first = ext.iloc[0]
    assert first.pfn == 0x3600 and first.fallback_order == 9 and first.alloc_migratetype == 1
    wake = real[real.event == "mm_compaction_kcompactd_wake"]
    assert set(wake.classzone_idx.dropna().astype(int)) <= {0, 1, 2, 3}
    kp = real[real.event == "kp_balance_pgdat"]
    assert kp.raw.str.contains("balance_pgdat").all()


def test_every_kswapd_wake_is_followed_by_sleep_or_wake(real: pd.DataFrame) -> None:
    seq = real[real.event.isin(["mm_vmscan_kswapd_wake", "mm_vmscan_kswapd_sleep"])]
    events = list(zip(seq.nid.astype(int), seq.event))
    wakes = [i for i, (_n, e) in enumerate(events) if e == "mm_vmscan_kswapd_wake"]
    assert wakes
    for i in wakes[:-1]:
        nid = events[i][0]
        nxt = next(e for n, e in events[i + 1:] if n == nid)
        assert nxt in ("mm_vmscan_kswapd_sleep", "mm_vmscan_kswapd_wake")


def test_malformed_line_names_its_number() -> None:
    text = ("# header\n"
            "   kswapd0-97  [003] ....   1.000000: mm_vmscan_kswapd_sleep: nid=0\n"
            "this is not a trace line\n")
    with pytest.raises(FtraceParseError, match="line 3"):
        read_ftrace(text)
    df = read_ftrace(text, strict=False)
    assert len(df) == 1 and df.attrs["bad_lines"] == [(3, "this is not a trace line")]


@pytest.mark.parametrize("name", ["boost", "thp-burst", "anon-swap"])
def test_round_trip_of_a_simulation(name: str) -> None:
    res = scenarios.build(name, mem="128MiB", seed=2).run(1.0)
    back = read_ftrace(res.ftrace())
    pd.testing.assert_frame_equal(res.trace, back, check_like=True)
    assert re.search(r"\[\d{3}\] \.\.\.\. +\d+\.\d{6}: ", res.ftrace())
