"""Known-answer tests from ``shared/kernel-v5.0/golden-examples.json``.

Every case of the golden file whose kernel function belongs to the machine
model (watermarks, lowmem reserves, min_free_kbytes, the THP raise, the
watermark check, fragmentation indices, boosts, per-cpu thresholds) is run
against mmsim here. The expected numbers come from the golden file, which was
computed independently from the kernel's formulas; nothing here was copied
from running mmsim.

Cases covered elsewhere (they belong to the daemons and the /proc renderers,
not to the machine model) are listed in ``COVERED_ELSEWHERE``;
``test_every_case_is_accounted_for`` fails if the golden file grows a case
that neither this file nor that list knows about.

A few cases that the notes name (``pcp_batch_*``, ``totalreserve_pages_real_box``,
``boost_watermark_dma32_sequence``) are absent from the JSON; they are tested at
the end of this file with numbers worked by hand from the formulas in
watermarks.md / buddy-and-fragmentation.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmsim import Node, Sysctl
from mmsim.mm import page_alloc as pa
from mmsim.mm import vmstat
from mmsim.mm.khugepaged import recommended_min_free_pages, set_recommended_min_free_kbytes
from mmsim.mm.mmzone import (
    MIGRATE_HIGHATOMIC,
    MIGRATE_MOVABLE,
    NOT_BUDDY,
    WMARK_HIGH,
    migratetype_names,
    zone_names,
)

GOLDEN = Path(__file__).parent / "data" / "golden-examples.json"

# tests/data/golden-examples.json is a copy of shared/kernel-v5.0/golden-examples.json
# (known answers worked from the v5.0 source); it ships with the tests so that a fresh
# clone runs every known-answer case instead of skipping them.
CASES: list[dict] = json.loads(GOLDEN.read_text())["cases"]

#: golden functions tested in this file
HANDLED = {
    "__setup_per_zone_wmarks",
    "setup_per_zone_lowmem_reserve",
    "init_per_zone_wmark_min",
    "set_recommended_min_free_kbytes",
    "__zone_watermark_ok",
    "__fragmentation_index+unusable_free_index",
    "__fragmentation_index",
    "__fragmentation_index+extfrag_show_print",
    "boost_watermark",
    "calculate_normal_threshold/calculate_pressure_threshold/refresh_zone_stat_thresholds",
}
# (no zone_batchsize / calculate_totalreserve_pages case is in the JSON yet: if one is
# added, test_every_case_is_accounted_for fails until a test for it is written here)

#: golden functions of the daemons and renderers: tested by the kswapd, kcompactd,
#: compaction and procfs test files, not here
COVERED_ELSEWHERE = {
    "compact_gap",  # compaction
    "compaction_suitable",  # compaction
    "compaction_deferred/defer_compaction",  # compaction deferral
    "kswapd_shrink_node",  # kswapd / balance_pgdat
    "get_scan_count (size >> priority)",  # vmscan
    "inactive_list_is_low",  # vmscan
    "frag_show_print",  # /proc/buddyinfo rendering
    "wakeup_kswapd/kswapd_classzone_idx/kswapd",  # kswapd request merging
    "kswapd_try_to_sleep",  # kswapd sleep decision table
    "zoneinfo_show_print",  # /proc/zoneinfo rendering
}


def cases_for(*functions: str) -> list:
    out = [pytest.param(c, id=c["name"]) for c in CASES if c["function"] in functions]
    if not out:  # the golden file must keep these cases; an empty list would pass vacuously
        out = [pytest.param(None, id="missing",
                            marks=pytest.mark.skip(reason=f"no golden case for {functions}"))]
    return out


def test_every_case_is_accounted_for():
    unknown = sorted({c["function"] for c in CASES} - HANDLED - COVERED_ELSEWHERE)
    assert not unknown, f"golden functions neither tested here nor listed as covered elsewhere: " \
                        f"{unknown}"


def test_golden_file_has_the_cases_this_file_relies_on():
    functions = {c["function"] for c in CASES}
    for f in ("__setup_per_zone_wmarks", "setup_per_zone_lowmem_reserve",
              "init_per_zone_wmark_min", "set_recommended_min_free_kbytes",
              "__zone_watermark_ok", "boost_watermark"):
        assert f in functions


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def _zones_arg(zones: list[dict]) -> dict[str, int]:
    return {z["name"]: z["managed"] for z in zones if z["managed"]}


def build_exact_free_zone(blocks: list[tuple[int, int]], pad_to: int | None = None):
    """A Normal zone whose free memory is exactly ``blocks`` = [(order, migratetype)].

    Each block is placed at an aligned pfn and its buddy is left allocated, so
    nothing merges; every other page of the zone is allocated (order 0, tracked
    by the caller through ``head_order``). Returns (node, zone).
    """
    blocks = sorted(blocks, key=lambda b: -b[0])
    span = sum(2 << o for o, _ in blocks)
    size = max(span, pad_to or 0, 512)
    size = -(-size // 512) * 512
    node = Node.build(zones={"Normal": size}, pcp=False,
                      sysctl=Sysctl(transparent_hugepage="never"))
    zone = node.zone("Normal")
    got = []
    while True:
        p = node.alloc_pages(0, "GFP_HIGHUSER_MOVABLE", alloc_flags=pa.ALLOC_NO_WATERMARKS)
        if p is None:
            break
        got.append(p)
    assert len(got) == size and zone.nr_free_pages == 0
    pfn = 0
    for order, mt in blocks:
        if mt != MIGRATE_MOVABLE:
            assert order >= 9, "only whole pageblocks can be given another migratetype here"
            for pb in range(pfn, pfn + (1 << order), 512):
                node.set_pageblock_migratetype(pb, mt)
        for p in range(pfn, pfn + (1 << order)):
            node.free_pages(p, 0)
        pfn += 2 << order
    return node, zone


def free_list_summary(zone) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {}
    for o in range(11):
        for mt, name in enumerate(migratetype_names):
            n = zone.free_area[o].nr_free_list(mt)
            if n:
                out.setdefault(o, {})[name] = n
    return out


# --------------------------------------------------------------------------
# __setup_per_zone_wmarks
# --------------------------------------------------------------------------
@pytest.mark.parametrize("case", cases_for("__setup_per_zone_wmarks"))
def test_setup_per_zone_wmarks(case):
    inp, exp = case["inputs"], case["expected"]
    node = Node.build(zones=_zones_arg(inp["zones"]),
                      sysctl=Sysctl(min_free_kbytes=inp["min_free_kbytes"],
                                    watermark_scale_factor=inp["watermark_scale_factor"]))
    assert node.machine.min_free_kbytes == inp["min_free_kbytes"]
    for name, marks in exp.items():
        z = node.zone(name)
        assert (z.min_wmark_pages, z.low_wmark_pages, z.high_wmark_pages) == \
            (marks["min"], marks["low"], marks["high"]), name
        assert z.watermark_boost == 0


# --------------------------------------------------------------------------
# setup_per_zone_lowmem_reserve
# --------------------------------------------------------------------------
@pytest.mark.parametrize("case", cases_for("setup_per_zone_lowmem_reserve"))
def test_setup_per_zone_lowmem_reserve(case):
    inp, exp = case["inputs"], case["expected"]["protection"]
    managed = inp["managed"]
    ratio = inp["sysctl_lowmem_reserve_ratio"]
    if "HighMem" in exp:
        # 32-bit layout DMA, Normal, HighMem, Movable. x86_64 has no HighMem, but
        # setup_per_zone_lowmem_reserve treats zones only by index (HighMem is not
        # special there), so the same formula runs on x86_64 zone slots 0..3:
        # DMA<-DMA, DMA32<-Normal, Normal<-HighMem, Movable<-Movable.
        slots = ["DMA", "DMA32", "Normal", "Movable"]
        rename = dict(zip(["DMA", "Normal", "HighMem", "Movable"], slots, strict=True))
    else:
        slots = list(zone_names[:len(managed)])
        rename = {s: s for s in slots}
    zones = {slot: m for slot, m in zip(slots, managed, strict=True) if m}
    assert "Movable" not in zones, "Node.build lays out Movable like any zone; not needed here"
    full_ratio = list(ratio) + [0] * (5 - len(ratio))
    node = Node.build(zones=zones, sysctl=Sysctl(lowmem_reserve_ratio=full_ratio))
    n = len(managed)
    for name, row in exp.items():
        assert node.zone(rename[name]).lowmem_reserve[:n] == row, name


# --------------------------------------------------------------------------
# init_per_zone_wmark_min
# --------------------------------------------------------------------------
@pytest.mark.parametrize("case", cases_for("init_per_zone_wmark_min"))
def test_init_per_zone_wmark_min(case):
    inp, exp = case["inputs"], case["expected"]
    if "nr_free_buffer_pages_at_boot" in inp:
        lowmem_pages = inp["nr_free_buffer_pages_at_boot"]
        assert lowmem_pages * 4 == exp["lowmem_kbytes"]
        # the real box: DMA 3840 + DMA32 772808 + Normal 131072 managed pages
        zones = {"DMA": 3840, "DMA32": 772808, "Normal": 131072}
        assert sum(zones.values()) == lowmem_pages
    else:
        lowmem_pages = inp["lowmem_pages"]
        zones = {"Normal": lowmem_pages}
    lowmem_kbytes = lowmem_pages * 4
    assert pa.int_sqrt(lowmem_kbytes * 16) == exp["int_sqrt(lowmem_kbytes*16)"]
    assert pa.calculate_min_free_kbytes(lowmem_kbytes) == exp["min_free_kbytes"]
    if lowmem_pages <= 4 << 20:
        node = Node.build(zones=zones, sysctl=Sysctl(transparent_hugepage="never"))
        assert node.machine.min_free_kbytes == exp["min_free_kbytes"]
        assert node.machine.user_min_free_kbytes == -1
    else:
        # 256 GiB of frames is too much memory for a test node. init_per_zone_wmark_min
        # only reads managed pages and (still zero) watermarks, so let a small node's
        # zone claim that many managed pages while it runs.
        node = Node.build(zones={"Normal": 4096}, sysctl=Sysctl(transparent_hugepage="never"))
        z = node.zone("Normal")
        z.managed_pages = lowmem_pages
        z._watermark = [0, 0, 0]
        assert pa.nr_free_buffer_pages(node.machine) == lowmem_pages
        pa.init_per_zone_wmark_min(node.machine)
        assert node.machine.min_free_kbytes == exp["min_free_kbytes"]


# --------------------------------------------------------------------------
# set_recommended_min_free_kbytes (mm/khugepaged.c)
# --------------------------------------------------------------------------
@pytest.mark.parametrize("case", cases_for("set_recommended_min_free_kbytes"))
def test_set_recommended_min_free_kbytes(case):
    inp, exp = case["inputs"], case["expected"]
    assert inp["pageblock_nr_pages"] == 512
    nz, nfb = inp["nr_populated_zones"], inp["nr_free_buffer_pages_with_default_wmarks"]
    assert recommended_min_free_pages(nz, 10**12) == exp["recommended_pages_uncapped"]
    assert nfb // 20 == exp["cap_pages"]
    assert recommended_min_free_pages(nz, nfb) << 2 == exp["recommended_kbytes"]

    # the real box, booted with THP off: default min_free_kbytes and watermarks
    node = Node.build(zones={"DMA": 3840, "DMA32": 772808, "Normal": 131072},
                      sysctl=Sysctl(transparent_hugepage="never"))
    m = node.machine
    assert m.min_free_kbytes == inp["min_free_kbytes_before"]
    assert pa.nr_free_buffer_pages(m) == nfb
    assert set_recommended_min_free_kbytes(m) is True
    assert m.min_free_kbytes == exp["new_min_free_kbytes"]
    # it never lowers the value: a second call keeps it
    assert set_recommended_min_free_kbytes(m) is False
    assert m.min_free_kbytes == exp["new_min_free_kbytes"]

    # and a box booted with THP on (madvise, the default) ends at the same value
    node2 = Node.build(zones={"DMA": 3840, "DMA32": 772808, "Normal": 131072})
    assert node2.machine.min_free_kbytes == exp["new_min_free_kbytes"]


# --------------------------------------------------------------------------
# __zone_watermark_ok
# --------------------------------------------------------------------------
def _prepare_wmark_zone(inp: dict):
    """A zone whose NR_FREE_PAGES, free lists and reserves are exactly the case's inputs."""
    lists = {int(o): dict(v) for o, v in inp["free_lists_nonzero"].items()}
    blocks = [(o, migratetype_names.index(mt_name))
              for o, per_mt in lists.items() for mt_name, n in per_mt.items() for _ in range(n)]
    if blocks:
        _node, zone = build_exact_free_zone(blocks)
        assert free_list_summary(zone) == lists
        # each HighAtomic order-9 block is one reserved pageblock
        zone.nr_reserved_highatomic = 512 * sum(
            1 for o, mt in blocks if mt == MIGRATE_HIGHATOMIC and o == 9)
    else:
        # order-0 cases: only the count matters; a zone of exactly that size is all free
        node = Node.build(zones={"Normal": inp["free_pages"]}, pcp=False,
                          sysctl=Sysctl(transparent_hugepage="never"))
        zone = node.zone("Normal")
        if inp["nr_reserved_highatomic"]:
            assert inp["nr_reserved_highatomic"] == 512
            pa.reserve_highatomic_pageblock(zone, zone.zone_start_pfn)
    assert zone.nr_free_pages == inp["free_pages"]
    assert zone.nr_reserved_highatomic == inp["nr_reserved_highatomic"]
    assert zone.nr_free_cma == inp["free_cma"]
    return zone


@pytest.mark.parametrize("case", cases_for("__zone_watermark_ok"))
def test_zone_watermark_ok(case):
    inp, exp = case["inputs"], case["expected"]
    zone = _prepare_wmark_zone(inp)
    cz = 2
    zone.lowmem_reserve[cz] = inp["lowmem_reserve[classzone_idx]"]
    args = (zone, inp["order"], inp["mark"], cz, inp["alloc_flags"], zone.nr_free_pages)
    ok, reason, free_after, min_after, found_order, found_mt = pa._watermark_check(*args)
    assert pa.__zone_watermark_ok(*args) is exp["ok"]
    assert ok is exp["ok"]
    assert pa.zone_watermark_ok(*args[:5]) is exp["ok"]
    assert free_after == exp["free_after"]
    assert min_after == exp["min_after"]
    if "threshold" in exp:
        assert min_after + zone.lowmem_reserve[cz] == exp["threshold"]
    if "reason" in exp:
        assert reason == exp["reason"]
    if "found_order" in exp:
        assert found_order == exp["found_order"]
        assert migratetype_names[found_mt] == exp["found_mt"]
    if inp["order"] == 0:
        # zone_watermark_fast's order-0 shortcut: free - cma > mark + lowmem_reserve passes
        # without subtracting the highatomic reserve (the corner case its comment admits)
        shortcut = inp["free_pages"] - inp["free_cma"] > inp["mark"] + zone.lowmem_reserve[cz]
        assert pa.zone_watermark_fast(*args[:5]) is (shortcut or exp["ok"])
        if case["name"] == "wmark_ok_no_harder_subtracts_highatomic":
            assert shortcut and not exp["ok"]


# --------------------------------------------------------------------------
# fragmentation index / unusable free index
# --------------------------------------------------------------------------
@pytest.mark.parametrize("case", cases_for("__fragmentation_index+unusable_free_index",
                                           "__fragmentation_index",
                                           "__fragmentation_index+extfrag_show_print"))
def test_fragmentation_indices(case):
    inp, exp = case["inputs"], case["expected"]
    row, order = inp["buddyinfo_row"], inp["order"]
    info = vmstat.fill_contig_page_info(row, order)
    for key in ("free_pages", "free_blocks_total", "free_blocks_suitable"):
        if key in exp:
            assert getattr(info, key) == exp[key], key
    assert vmstat.__fragmentation_index(order, info) == exp["fragmentation_index"]
    assert vmstat.format_index(exp["fragmentation_index"]) == exp["extfrag_index_text"]
    if "unusable_free_index" in exp:
        assert vmstat.__unusable_free_index(order, info) == exp["unusable_free_index"]
        assert vmstat.format_index(exp["unusable_free_index"]) == exp["unusable_index_text"]

    # the same numbers from a real zone whose buddyinfo row is exactly this one
    blocks = [(o, MIGRATE_MOVABLE) for o, n in enumerate(row) for _ in range(n)]
    _node, zone = build_exact_free_zone(blocks)
    assert zone.nr_free_by_order() == row
    assert vmstat.fragmentation_index(zone, order) == exp["fragmentation_index"]
    if "unusable_free_index" in exp:
        assert vmstat.unusable_free_index(zone, order) == exp["unusable_free_index"]


# --------------------------------------------------------------------------
# boost_watermark
# --------------------------------------------------------------------------
@pytest.mark.parametrize("case", cases_for("boost_watermark"))
def test_boost_watermark(case):
    inp, exp = case["inputs"], case["expected"]
    high = inp["_watermark[WMARK_HIGH]"]
    if high == 105:
        # the real box's DMA zone has a raw high watermark of 105
        node = Node.build(zones={"DMA": 3840, "DMA32": 772808, "Normal": 131072},
                          sysctl=Sysctl(min_free_kbytes=67584,
                                        watermark_boost_factor=inp["watermark_boost_factor"]))
        zone = node.zone("DMA")
    else:
        assert high == 0
        # very early boot: min_free_kbytes 0 and a zone too small for the scale term
        node = Node.build(zones={"DMA": 512, "Normal": 4096},
                          sysctl=Sysctl(min_free_kbytes=0,
                                        watermark_boost_factor=inp["watermark_boost_factor"]))
        zone = node.zone("DMA")
    assert zone._watermark[WMARK_HIGH] == high
    zone.watermark_boost = inp["current_boost"]
    if "max_boost_raw" in exp:
        assert pa.mult_frac(high, inp["watermark_boost_factor"], 10000) == exp["max_boost_raw"]
    pa.boost_watermark(zone)
    assert zone.watermark_boost == exp["boost"]
    if "boost_second_event" in exp:
        pa.boost_watermark(zone)
        assert zone.watermark_boost == exp["boost_second_event"]
    # the boost lifts all three watermarks (v5.0 *_wmark_pages macros)
    raw = zone._watermark
    assert (zone.min_wmark_pages, zone.low_wmark_pages, zone.high_wmark_pages) == \
        (raw[0] + zone.watermark_boost, raw[1] + zone.watermark_boost,
         raw[2] + zone.watermark_boost)


# --------------------------------------------------------------------------
# per-cpu vmstat thresholds
# --------------------------------------------------------------------------
@pytest.mark.parametrize("case", cases_for(
    "calculate_normal_threshold/calculate_pressure_threshold/refresh_zone_stat_thresholds"))
def test_vmstat_thresholds(case):
    inp, exp = case["inputs"], case["expected"]
    for cpus in inp["online_cpus"]:
        node = Node.build(zones=_zones_arg(inp["zones"]), nr_cpus=cpus,
                          sysctl=Sysctl(min_free_kbytes=67584))
        for name, marks in inp["watermarks"].items():
            z = node.zone(name)
            assert (z.min_wmark_pages, z.low_wmark_pages, z.high_wmark_pages) == \
                (marks["min"], marks["low"], marks["high"])
        # The case applies refresh_zone_stat_thresholds to these (final) watermarks.
        # A booted node ran it inside init_per_zone_wmark_min, before the THP raise,
        # as v5.0 does; percpu_drift_mark is only ever raised, so start from 0.
        for z in node.zones:
            z.percpu_drift_mark = 0
        vmstat.refresh_zone_stat_thresholds(node.machine)
        for name, e in exp[str(cpus)].items():
            z = node.zone(name)
            assert vmstat.calculate_normal_threshold(z, cpus) == e["normal_threshold"], name
            assert vmstat.calculate_pressure_threshold(z, cpus) == e["pressure_threshold"], name
            assert z.stat_threshold == e["normal_threshold"], name
            assert z.percpu_drift_mark == e["percpu_drift_mark"], name
        # kswapd's switch: only zones with a drift mark take the pressure threshold
        vmstat.set_pgdat_percpu_threshold(node, True)
        for name, e in exp[str(cpus)].items():
            z = node.zone(name)
            want = e["pressure_threshold"] if e["percpu_drift_mark"] else e["normal_threshold"]
            assert z.stat_threshold == want, name
        vmstat.set_pgdat_percpu_threshold(node, False)
        for name, e in exp[str(cpus)].items():
            assert node.zone(name).stat_threshold == e["normal_threshold"], name


# --------------------------------------------------------------------------
# cases named by the notes but absent from the JSON (worked by hand)
# --------------------------------------------------------------------------
REAL_BOX = {"DMA": 3840, "DMA32": 772808, "Normal": 131072}


def test_pcp_batch_real_box_from_notes():
    """buddy-and-fragmentation.md section 2: DMA32 772808 -> batch 63, high 378;
    DMA 3840 -> batch 1, high 0 (zone_batchsize + pageset_set_batch)."""
    node = Node.build(zones=REAL_BOX, sysctl=Sysctl(min_free_kbytes=67584), nr_cpus=4)
    dma, dma32, normal = node.zone("DMA"), node.zone("DMA32"), node.zone("Normal")
    # DMA: 3840/1024 = 3; /4 = 0 -> 1; rounddown_pow_of_two(1 + 0) - 1 = 0
    assert pa.zone_batchsize(dma) == 0
    # DMA32: 772808/1024 = 754 > 256 (1 MiB) -> 256; /4 = 64; rounddown(96) - 1 = 63
    assert pa.zone_batchsize(dma32) == 63
    # Normal: 131072/1024 = 128; /4 = 32; rounddown(48) - 1 = 31
    assert pa.zone_batchsize(normal) == 31
    for z, (high, batch) in ((dma, (0, 1)), (dma32, (378, 63)), (normal, (186, 31))):
        assert len(z.pageset) == 4
        for pcp in z.pageset:
            assert (pcp.high, pcp.batch, pcp.count) == (high, batch, 0)


def test_totalreserve_pages_real_box_from_notes():
    """watermarks.md section 5: 3635 + 22088 + 3657 = 29380 pages on the real box."""
    node = Node.build(zones=REAL_BOX, sysctl=Sysctl(min_free_kbytes=67584))
    # DMA: max(lowmem_reserve[0..4]) 3530 + high 105; DMA32: 512 + 21576; Normal: 0 + 3657
    assert node.totalreserve_pages == 29380
    assert node.machine.totalreserve_pages == 29380


def test_boost_watermark_dma32_sequence_from_notes():
    """buddy-and-fragmentation.md section 5: DMA32 high 21576 -> max_boost 32364; each
    event adds 512; the 64th event saturates (63 * 512 = 32256 < 32364)."""
    node = Node.build(zones=REAL_BOX, sysctl=Sysctl(min_free_kbytes=67584))
    z = node.zone("DMA32")
    for i in range(1, 64):
        pa.boost_watermark(z)
        assert z.watermark_boost == 512 * i
    pa.boost_watermark(z)
    assert z.watermark_boost == 32364
    pa.boost_watermark(z)
    assert z.watermark_boost == 32364


def test_min_free_kbytes_is_clamped_at_65536_in_v5_0():
    """watermarks.md section 4: the 65536 cap is reached at 256 GiB of lowmem (the golden
    case sits exactly on it); with 1 TiB int_sqrt gives 131072, which v5.0 clamps to
    65536 (5.7 raised the clamp to 262144)."""
    lowmem_pages = 1 << 28  # 1 TiB
    assert pa.int_sqrt(lowmem_pages * 4 * 16) == 131072
    assert pa.calculate_min_free_kbytes(lowmem_pages * 4) == 65536
    node = Node.build(zones={"Normal": 4096}, sysctl=Sysctl(transparent_hugepage="never"))
    z = node.zone("Normal")
    z.managed_pages = lowmem_pages  # only the arithmetic of init_per_zone_wmark_min runs
    z._watermark = [0, 0, 0]
    pa.init_per_zone_wmark_min(node.machine)
    assert node.machine.min_free_kbytes == 65536
    # and the small end: 1 MiB gives int_sqrt(1024 * 16) = 128, 512 KiB gives 90 -> 128
    assert pa.calculate_min_free_kbytes(512) == 128


def test_build_exact_free_zone_helper_places_blocks_unmerged():
    """The helper above must give exactly the requested blocks (or the tests that use it
    would check nothing)."""
    node, zone = build_exact_free_zone([(3, MIGRATE_MOVABLE), (0, MIGRATE_MOVABLE),
                                        (9, MIGRATE_HIGHATOMIC)])
    assert free_list_summary(zone) == {0: {"Movable": 1}, 3: {"Movable": 1},
                                       9: {"HighAtomic": 1}}
    heads = {int(p) + node.node_start_pfn for p in
             (node.buddy_order != NOT_BUDDY).nonzero()[0]}
    assert heads == {0, 1024, 1040}
