"""The vm.* sysctls: ranges as kernel/sysctl.c v5.0 declares them, and what each
handler recomputes on a booted node - and nothing more.

Expected watermarks are computed with ``ref_wmarks`` below, a transcription of
``__setup_per_zone_wmarks`` (watermarks.md section 5) that does not use mmsim,
or are numbers worked by hand in the comments.
"""

from __future__ import annotations

import pytest

from mmsim import Node, Sysctl
from mmsim.mm import page_alloc as pa
from mmsim.mm.khugepaged import recommended_min_free_pages

INT_MAX = 2**31 - 1
REAL_BOX = {"DMA": 3840, "DMA32": 772808, "Normal": 131072}
MANAGED = [3840, 772808, 131072, 0, 0]

#: (field, lowest allowed, highest allowed) - kernel/sysctl.c vm_table extra1/extra2
RANGES = [
    ("min_free_kbytes", 0, INT_MAX),
    ("watermark_scale_factor", 1, 1000),
    ("watermark_boost_factor", 0, INT_MAX),
    ("extfrag_threshold", 0, 1000),
    ("swappiness", 0, 100),
]


def mult_frac(x: int, n: int, d: int) -> int:
    return (x // d) * n + (x % d) * n // d


def ref_wmarks(managed, mfk, wsf, boost=None):
    """Raw (_watermark) min/low/high per zone after ``__setup_per_zone_wmarks``.

    ``boost`` is the watermark_boost each zone had when the recompute ran: v5.0 adds
    it to low and high (they are computed from min_wmark_pages) before zeroing it.
    """
    pages_min = mfk >> 2
    lowmem = sum(managed)
    out = []
    for i, m in enumerate(managed):
        tmp = pages_min * m // lowmem
        dist = max(tmp >> 2, mult_frac(m, wsf, 10000))
        b = boost[i] if boost else 0
        out.append((tmp, tmp + b + dist, tmp + b + 2 * dist))
    return out


def marks(node):
    return [(z.min_wmark_pages, z.low_wmark_pages, z.high_wmark_pages) for z in node.zones]


def derived(node) -> dict:
    """Everything a sysctl handler might recompute."""
    m = node.machine
    return {
        "raw": [list(z._watermark) for z in node.zones],
        "boost": [z.watermark_boost for z in node.zones],
        "reserve": [list(z.lowmem_reserve) for z in node.zones],
        "min_free_kbytes": m.min_free_kbytes,
        "user_min_free_kbytes": m.user_min_free_kbytes,
        "totalreserve": (m.totalreserve_pages, node.totalreserve_pages),
        "thresholds": [(z.stat_threshold, z.percpu_drift_mark) for z in node.zones],
        "pcp": [(p.high, p.batch) for z in node.zones for p in z.pageset],
        "free": [z.nr_free_pages for z in node.zones],
        "flags": [z.flags for z in node.zones],
    }


def real_box(**sysctl) -> Node:
    return Node.build(zones=REAL_BOX, sysctl=Sysctl(**sysctl))


# --------------------------------------------------------------------------
# ranges
# --------------------------------------------------------------------------
@pytest.mark.parametrize(("field", "lo", "hi"), RANGES)
def test_int_field_accepts_both_ends(field, lo, hi):
    for v in (lo, hi):
        assert getattr(Sysctl(**{field: v}), field) == v


@pytest.mark.parametrize(("field", "lo", "hi"), RANGES)
@pytest.mark.parametrize("side", ["below", "above"])
def test_int_field_rejects_one_past_each_end(field, lo, hi, side):
    bad = lo - 1 if side == "below" else hi + 1
    with pytest.raises(ValueError) as ei:
        Sysctl(**{field: bad})
    msg = str(ei.value)
    assert field in msg and str(bad) in msg and f"{lo}..{hi}" in msg


@pytest.mark.parametrize(("field", "lo", "hi"), RANGES)
def test_bad_write_on_a_live_node_changes_nothing(field, lo, hi):
    node = Node.build(zones={"DMA32": 8192, "Normal": 8192})
    before = derived(node)
    old = node.sysctl.as_dict()
    for bad in (lo - 1, hi + 1, "x1", 2.5):
        with pytest.raises(ValueError, match=field):
            setattr(node.sysctl, field, bad)
    assert node.sysctl.as_dict() == old
    assert derived(node) == before


def test_defaults_are_the_kernels():
    s = Sysctl()
    assert (s.min_free_kbytes, s.watermark_scale_factor, s.watermark_boost_factor,
            s.extfrag_threshold, s.swappiness) == (None, 10, 15000, 500, 60)
    assert s.lowmem_reserve_ratio == (256, 256, 32, 0, 0)
    assert s.transparent_hugepage == "madvise"


def test_lowmem_reserve_ratio_range_is_int():
    assert Sysctl(lowmem_reserve_ratio=[-(2**31), INT_MAX, 1, 0, 0]).lowmem_reserve_ratio == \
        (-(2**31), INT_MAX, 1, 0, 0)
    for bad in ([INT_MAX + 1], [-(2**31) - 1], [256, "x"], [1, 2, 3, 4, 5, 6], []):
        with pytest.raises(ValueError, match="lowmem_reserve_ratio"):
            Sysctl(lowmem_reserve_ratio=bad)


@pytest.mark.parametrize("bad", ["sometimes", "", "[always", "always madvise", None, 1])
def test_transparent_hugepage_rejects(bad):
    with pytest.raises(ValueError) as ei:
        Sysctl(transparent_hugepage=bad)
    msg = str(ei.value)
    assert "transparent_hugepage" in msg and repr(bad) in msg
    assert "always, madvise, never" in msg


# --------------------------------------------------------------------------
# strings as /proc and /sys give them
# --------------------------------------------------------------------------
def test_strings_as_proc_gives_them():
    s = Sysctl(min_free_kbytes="67584\n", watermark_scale_factor=" 200\n",
               watermark_boost_factor="0\n", extfrag_threshold="1000", swappiness="100\n",
               lowmem_reserve_ratio="256\t256\t32\t0\t0\n",
               transparent_hugepage="always [madvise] never\n", oom_kill_allocating_task="0\n")
    assert s.as_dict() == {
        "min_free_kbytes": 67584, "watermark_scale_factor": 200, "watermark_boost_factor": 0,
        "extfrag_threshold": 1000, "swappiness": 100, "oom_kill_allocating_task": 0,
        "lowmem_reserve_ratio": (256, 256, 32, 0, 0), "transparent_hugepage": "madvise"}
    for text, mode in (("[always] madvise never", "always"), ("always madvise [never]", "never"),
                       ("never\n", "never")):
        assert Sysctl(transparent_hugepage=text).transparent_hugepage == mode


def test_from_proc_values():
    s = Sysctl.from_proc(values={"min_free_kbytes": "45056\n", "swappiness": "10\n",
                                 "lowmem_reserve_ratio": "256\t256\t32\t0\t0\n",
                                 "transparent_hugepage": "always madvise [never]\n",
                                 "unrelated": "1"})
    assert (s.min_free_kbytes, s.swappiness, s.transparent_hugepage) == (45056, 10, "never")
    with pytest.raises(ValueError, match="swappiness"):
        Sysctl.from_proc(values={"swappiness": "101\n"})


def test_partial_lowmem_reserve_ratio_write_keeps_the_other_values():
    # proc_dointvec writes only the integers given; the rest keep their *current* value
    node = Node.build(zones={"DMA": 1024, "DMA32": 8192, "Normal": 8192})
    node.sysctl.lowmem_reserve_ratio = "256 256 64 0 0"
    node.sysctl.lowmem_reserve_ratio = "100\n"
    assert node.sysctl.lowmem_reserve_ratio == (100, 256, 64, 0, 0)
    # DMA.lowmem_reserve[2] = (8192 + 8192) / 100; DMA32.lowmem_reserve[2] = 8192 / 256
    assert node.zone("DMA").lowmem_reserve[:3] == [0, 81, 163]
    assert node.zone("DMA32").lowmem_reserve[:3] == [0, 0, 32]


# --------------------------------------------------------------------------
# handlers on a live node
# --------------------------------------------------------------------------
def test_min_free_kbytes_handler():
    node = real_box(transparent_hugepage="never")
    m = node.machine
    assert m.min_free_kbytes == 7621 and m.user_min_free_kbytes == -1
    before = derived(node)
    node.sysctl.min_free_kbytes = 67584
    after = derived(node)
    assert m.min_free_kbytes == 67584 and m.user_min_free_kbytes == 67584
    # the golden real-box watermarks
    assert marks(node)[:3] == [(71, 88, 105), (14384, 17980, 21576), (2439, 3048, 3657)]
    assert [tuple(r) for r in after["raw"]] == ref_wmarks(MANAGED, 67584, 10)
    # setup_per_zone_wmarks -> calculate_totalreserve_pages (3635 + 22088 + 3657)
    assert after["totalreserve"] == (29380, 29380)
    # and nothing else: lowmem_reserve, per-cpu thresholds and pcp sizes stay
    for key in ("reserve", "thresholds", "pcp", "free", "flags"):
        assert after[key] == before[key], key
    # a write of the same value recomputes again (boost zeroed)
    node.zone("DMA32").watermark_boost = 512
    node.sysctl.min_free_kbytes = "67584"
    assert node.zone("DMA32").watermark_boost == 0


def test_watermark_scale_factor_handler():
    node = real_box()  # THP (madvise) raised min_free_kbytes to 67584 at boot
    m = node.machine
    assert m.min_free_kbytes == 67584 and m.user_min_free_kbytes == -1
    before = derived(node)
    node.sysctl.watermark_scale_factor = 1000
    after = derived(node)
    # dist = max(min/4, managed*1000/10000): DMA 384, DMA32 77280, Normal 13107
    assert marks(node)[:3] == [(71, 455, 839), (14384, 91664, 168944), (2439, 15546, 28653)]
    assert [tuple(r) for r in after["raw"]] == ref_wmarks(MANAGED, 67584, 1000)
    assert (m.min_free_kbytes, m.user_min_free_kbytes) == (67584, -1)
    for key in ("reserve", "thresholds", "pcp", "free", "flags"):
        assert after[key] == before[key], key
    assert after["totalreserve"] != before["totalreserve"]


def test_lowmem_reserve_ratio_handler():
    node = real_box()
    before = derived(node)
    node.sysctl.lowmem_reserve_ratio = [128, 128, 16, 0, 0]
    after = derived(node)
    assert node.zone("DMA").lowmem_reserve == [0, 772808 // 128, 903880 // 128,
                                               903880 // 128, 903880 // 128]
    assert node.zone("DMA32").lowmem_reserve == [0, 0, 1024, 1024, 1024]
    assert node.zone("Normal").lowmem_reserve == [0] * 5
    for key in ("raw", "boost", "min_free_kbytes", "user_min_free_kbytes", "thresholds", "pcp"):
        assert after[key] == before[key], key
    # calculate_totalreserve_pages: DMA min(7061 + 105, managed 3840) = 3840,
    # DMA32 1024 + 21576 = 22600, Normal 3657
    assert after["totalreserve"] == (30097, 30097)


def test_lowmem_reserve_ratio_below_one_is_rewritten_to_zero():
    node = real_box()
    node.sysctl.lowmem_reserve_ratio = [0, -5, 32, -1, -7]
    # setup_per_zone_lowmem_reserve rewrites ratio[idx] < 1 to 0 for every idx it visits
    # as a lower zone, i.e. 0..MAX_NR_ZONES-2; the last (Device) entry is never visited
    assert node.sysctl.lowmem_reserve_ratio == (0, 0, 32, 0, -7)
    assert node.zone("DMA").lowmem_reserve == [0] * 5
    assert node.zone("DMA32").lowmem_reserve == [0] * 5
    assert node.zone("Normal").lowmem_reserve == [0] * 5


@pytest.mark.parametrize(("field", "value"), [("watermark_boost_factor", 0),
                                              ("watermark_boost_factor", 30000),
                                              ("extfrag_threshold", 0),
                                              ("swappiness", 100)])
def test_plain_fields_recompute_nothing(field, value):
    node = real_box()
    node.zone("DMA32").watermark_boost = 1024  # a boost in force must survive too
    before = derived(node)
    others = {k: v for k, v in node.sysctl.as_dict().items() if k != field}
    setattr(node.sysctl, field, value)
    assert getattr(node.sysctl, field) == value
    assert derived(node) == before
    assert {k: v for k, v in node.sysctl.as_dict().items() if k != field} == others


def test_boost_factor_write_is_used_by_the_next_boost():
    node = real_box()
    z = node.zone("DMA32")
    node.sysctl.watermark_boost_factor = 5000
    for _ in range(30):
        pa.boost_watermark(z)
    # max_boost = mult_frac(21576, 5000, 10000) = 10788 < 30 * 512
    assert z.watermark_boost == 10788


def test_watermark_scale_factor_write_during_a_boost_keeps_the_boost_in_low_and_high():
    """watermarks.md section 5: low/high are computed from min_wmark_pages, which still
    includes the boost; the boost is zeroed only afterwards."""
    node = real_box()
    d32 = node.zone("DMA32")
    pa.boost_watermark(d32)
    pa.boost_watermark(d32)
    assert d32.watermark_boost == 1024
    assert marks(node)[1] == (14384 + 1024, 17980 + 1024, 21576 + 1024)
    node.sysctl.watermark_scale_factor = 20
    # DMA32: min 14384; dist = max(3596, mult_frac(772808, 20, 10000) = 1545) = 3596
    # low  = (14384 + 1024) + 3596     = 19004
    # high = (14384 + 1024) + 2 * 3596 = 22600; boost -> 0
    assert d32.watermark_boost == 0
    assert marks(node)[1] == (14384, 19004, 22600)
    assert [tuple(r) for r in (z._watermark for z in node.zones)] == \
        ref_wmarks(MANAGED, 67584, 20, boost=[0, 1024, 0, 0, 0])
    # unboosted zones are as before
    assert marks(node)[0] == (71, 88, 105) and marks(node)[2] == (2439, 3048, 3657)
    # totalreserve sees the absorbed boost: 3635 + (512 + 22600) + 3657
    assert node.machine.totalreserve_pages == 30404
    # the next recompute (boost now 0) puts them back
    node.sysctl.watermark_scale_factor = 10
    assert marks(node)[1] == (14384, 17980, 21576)


def test_thp_never_to_madvise_raises_min_free_kbytes():
    node = real_box(transparent_hugepage="never")
    m = node.machine
    assert m.min_free_kbytes == 7621
    d32 = node.zone("DMA32")
    pa.boost_watermark(d32)
    node.sysctl.transparent_hugepage = "madvise"
    # set_recommended_min_free_kbytes: 11 * 512 * 3 zones = 16896 pages = 67584 kB
    # (cap nr_free_buffer_pages/20 = 904004/20 = 45200 pages does not bind)
    assert m.min_free_kbytes == 67584
    assert m.user_min_free_kbytes == -1
    # it ends in setup_per_zone_wmarks: the DMA32 boost (512) is absorbed
    # DMA32: low = 14384 + 512 + 3596 = 18492, high = 14384 + 512 + 7192 = 22088
    assert marks(node)[:3] == [(71, 88, 105), (14384, 18492, 22088), (2439, 3048, 3657)]
    assert d32.watermark_boost == 0
    # switching THP off again does not lower it; and nothing is recomputed
    before = derived(node)
    node.sysctl.transparent_hugepage = "never"
    assert derived(node) == before
    # re-enabling recomputes the watermarks but never lowers min_free_kbytes
    node.sysctl.min_free_kbytes = 100000
    node.sysctl.transparent_hugepage = "always"
    assert m.min_free_kbytes == 100000


def test_thp_raise_is_capped_at_5_percent_of_lowmem():
    node = Node.build(zones={"Normal": 1 << 17}, sysctl=Sysctl(transparent_hugepage="never"))
    m = node.machine
    # 131072 pages: min_free_kbytes = int_sqrt(524288 * 16) = 2896 -> pages_min 724,
    # dist max(181, 131) = 181 -> high 1086; nr_free_buffer_pages = 129986; /20 = 6499;
    # 11 * 512 * 1 = 5632 < 6499 -> 22528 kB
    assert m.min_free_kbytes == 2896
    node.sysctl.transparent_hugepage = "always"
    assert m.min_free_kbytes == 22528
    # with a large min_free_kbytes the 5 % cap binds and the value is not raised
    node2 = Node.build(zones={"Normal": 1 << 17},
                       sysctl=Sysctl(transparent_hugepage="never", min_free_kbytes=200000))
    # pages_min 50000 -> high 50000 + 2*12500 = 75000; nr_free_buffer_pages = 56072;
    # recommendation min(5632, 56072/20 = 2803) pages = 11212 kB < 200000: not raised
    assert pa.nr_free_buffer_pages(node2.machine) == 56072
    assert recommended_min_free_pages(1, 56072) == 2803
    node2.sysctl.transparent_hugepage = "madvise"
    assert node2.machine.min_free_kbytes == 200000


@pytest.mark.parametrize("mode", ["always", "madvise"])
def test_thp_off_below_512_mib(mode):
    small = Node.build(zones={"Normal": (1 << 17) - 1}, sysctl=Sysctl(transparent_hugepage=mode))
    assert small.sysctl.transparent_hugepage == "never"
    assert small.machine.thp_enabled_at_boot is False
    # int_sqrt(131071 * 4 * 16) = 2896: the plain default, not raised for THP
    assert small.machine.min_free_kbytes == 2896
    big = Node.build(zones={"Normal": 1 << 17}, sysctl=Sysctl(transparent_hugepage=mode))
    assert big.sysctl.transparent_hugepage == mode
    assert big.machine.thp_enabled_at_boot is True
    assert big.machine.min_free_kbytes == 22528


def test_thp_512_mib_test_uses_managed_pages():
    # hugepage_init compares totalram_pages() (managed pages), not present pages. The
    # mem= layout of 520 MiB presents 133022 pages but manages only 121707 (firmware,
    # kernel image and memmap are reserved): THP is turned off.
    node = Node.build(mem="520MiB")
    present = sum(z.present_pages for z in node.zones)
    managed = sum(z.managed_pages for z in node.zones)
    assert present >= 1 << 17 > managed
    assert node.sysctl.transparent_hugepage == "never"


def test_user_min_free_kbytes_survives_thp_and_is_preferred():
    node = Node.build(zones=REAL_BOX, sysctl=Sysctl(min_free_kbytes=4096))
    m = node.machine
    assert (m.min_free_kbytes, m.user_min_free_kbytes) == (4096, 4096)
    # init_per_zone_wmark_min keeps a user value that is not smaller than the default
    node.sysctl.min_free_kbytes = 9000
    pa.init_per_zone_wmark_min(m)
    assert m.min_free_kbytes == 9000
    node.sysctl.min_free_kbytes = 100
    pa.init_per_zone_wmark_min(m)
    # the default is recomputed from nr_free_buffer_pages, which now subtracts the high
    # watermarks of min_free_kbytes 100 (DMA 6, DMA32 21 + 2*772, Normal 3 + 2*131):
    # 907720 - 1836 = 905884 pages -> int_sqrt(905884 * 4 * 16) = 7614 > 100 -> it wins
    assert m.min_free_kbytes == 7614


def test_min_free_kbytes_none_only_before_boot():
    node = Node.build(zones={"Normal": 4096})
    with pytest.raises(ValueError, match="min_free_kbytes"):
        node.sysctl.min_free_kbytes = None


def test_sysctl_of_a_booted_node_is_copied_for_a_second_node():
    s = Sysctl(swappiness=10)
    a = Node.build(zones={"Normal": 4096}, sysctl=s)
    b = Node.build(zones={"Normal": 4096}, sysctl=s)
    assert a.sysctl is s and b.sysctl is not s and b.sysctl == s
    a.sysctl.swappiness = 20
    assert b.sysctl.swappiness == 10
