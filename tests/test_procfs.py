"""Tests of mmsim.procfs: v5.0 renderers, parsers of 4.x-6.x files, node_from_proc.

Expected texts come from ``shared/kernel-v5.0/golden-examples.json`` and
procfs-formats.md (worked independently from the kernel's format strings), from
hand-written samples of the 4.4 and 5.0 layouts in ``tests/data``, and from a
real 6.18 host captured in ``tests/data/host-6.18`` - never from running mmsim.
"""

from __future__ import annotations

import json
import random
import re
import time
from pathlib import Path

import pytest

from mmsim import KernelConfig, Node, Sysctl
from mmsim import procfs as P
from mmsim.mm.debug import check_node
from mmsim.mm.mmzone import FRAME_ANON, FRAME_FILE, FRAME_HOLE, MIGRATE_CMA

DATA = Path(__file__).parent / "data"
HOST = DATA / "host-6.18"
GOLDEN = Path(__file__).parent / "data" / "golden-examples.json"


def golden(name: str) -> dict:
    for case in json.loads(GOLDEN.read_text())["cases"]:
        if case["name"] == name:
            return case
    raise AssertionError(f"golden case {name} missing")


def golden_cases(prefix: str) -> list[dict]:
    return [c for c in json.loads(GOLDEN.read_text())["cases"] if c["name"].startswith(prefix)]


def host(rel: str) -> str:
    return (HOST / rel).read_text()


def host_sysctl() -> Sysctl:
    return Sysctl.from_proc(vm_dir=str(HOST / "proc/sys/vm"),
                            thp_path=str(HOST / "sys/kernel/mm/transparent_hugepage/enabled"))


def one_zone_node(row: list[int], name: str = "Normal") -> Node:
    """A node whose only zone has buddyinfo ``row``, built through node_from_proc."""
    zoneinfo = (f"Node 0, zone {name:>8}\n  pages free     0\n        spanned  65536\n"
                "        present  65536\n        managed  65536\n"
                "        protection: (0, 0, 0, 0, 0)\n  pagesets\n    cpu: 0\n"
                "              count: 0\n              high:  0\n              batch: 1\n"
                "  node_unreclaimable:  0\n  start_pfn:           1048576\n")
    buddyinfo = f"Node 0, zone {name:>8} " + "".join(f"{n:6d} " for n in row) + "\n"
    return P.node_from_proc(zoneinfo, buddyinfo)


def busy_node(mem: str = "8GiB", seed: int = 1, n: int = 3000, **kw) -> Node:
    """A built node after random allocations of every kind and some frees."""
    node = Node.build(mem=mem, **kw)
    rng = random.Random(seed)
    held = []
    for _ in range(n):
        order = rng.choice([0, 0, 0, 1, 2, 3, 4, 9])
        gfp = rng.choice(["GFP_KERNEL", "GFP_HIGHUSER_MOVABLE", "GFP_KERNEL|__GFP_RECLAIMABLE"])
        kind = "file" if gfp == "GFP_HIGHUSER_MOVABLE" and rng.random() < 0.5 else None
        pfn = node.alloc_pages(order, gfp, kind=kind, cpu=rng.randrange(node.machine.nr_cpus))
        if pfn is not None:
            held.append((pfn, order))
    rng.shuffle(held)
    for pfn, order in held[: len(held) // 3]:
        node.free_pages(pfn, order, cpu=rng.randrange(node.machine.nr_cpus))
    return node


# --------------------------------------------------------------------------
# Golden renders
# --------------------------------------------------------------------------
def test_golden_buddyinfo_line_formatter_and_node():
    case = golden("render_buddyinfo_line")
    inp, line = case["inputs"], case["expected"]["line"]
    data = {inp["nid"]: {inp["zone"]: inp["nr_free"]}}
    assert P.format_buddyinfo(data) == line + "\n"
    node = one_zone_node(inp["nr_free"], inp["zone"])
    assert node.render("buddyinfo") == line + "\n"
    check_node(node)


def test_golden_zoneinfo_watermark_block():
    case = golden("render_zoneinfo_watermark_block")
    inp, text = case["inputs"], case["expected"]["text"]
    wm = inp["watermarks"]
    dma = P.ZoneinfoZone("DMA", pages_free=1, min=1, low=1, high=1, spanned=1, present=1,
                         managed=1, protection=(0,) * 5, start_pfn=1, node_unreclaimable=0)
    dma32 = P.ZoneinfoZone(inp["zone"], pages_free=inp["nr_free_pages"],
                           min=wm["min"] + inp["watermark_boost"],
                           low=wm["low"] + inp["watermark_boost"],
                           high=wm["high"] + inp["watermark_boost"], spanned=inp["spanned"],
                           present=inp["present"], managed=inp["managed"],
                           protection=tuple(inp["protection"]),
                           stats={"nr_free_pages": inp["nr_free_pages"]}, start_pfn=4096,
                           node_unreclaimable=0)
    node = P.ZoneinfoNode(inp["nid"], stats={"nr_inactive_anon": 0}, stats_zone="DMA",
                          zones={"DMA": dma, inp["zone"]: dma32})
    out = P.format_zoneinfo({inp["nid"]: node})
    block = out[out.index("Node 0, zone    DMA32"):]
    assert not inp["first_populated_zone_of_node"] and "per-node" not in block
    assert block.startswith(text + "\n      nr_free_pages 18500\n  pagesets\n")


def test_zoneinfo_of_a_node_prints_boosted_watermarks():
    # the golden block's watermarks come from the real box of watermarks.md
    node = Node.build(zones={"DMA": 3840, "DMA32": 772808, "Normal": 131072},
                      sysctl=Sysctl(min_free_kbytes=67584))
    text = node.render("zoneinfo")
    assert ("Node 0, zone    DMA32\n  pages free     772808\n        min      14384\n"
            "        low      17980\n        high     21576\n") in text
    node.zone("DMA32").watermark_boost = 512
    assert "        min      14896\n        low      18492\n        high     22088\n" in \
        node.render("zoneinfo")


# lines documented in procfs-formats.md section 5 for the row 1200 800 400 150 60 20 5 1 0 0 0
DOC_EXTFRAG = ("Node 0, zone   Normal -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 "
               "0.989 0.994 0.997 \n")
DOC_UNUSABLE = ("Node 0, zone   Normal 0.000 0.156 0.366 0.575 0.732 0.857 0.941 0.983 1.000 "
                "1.000 1.000 \n")


def test_documented_extfrag_and_unusable_lines():
    node = one_zone_node([1200, 800, 400, 150, 60, 20, 5, 1, 0, 0, 0])
    assert node.render("extfrag_index") == DOC_EXTFRAG
    assert node.render("unusable_index") == DOC_UNUSABLE


@pytest.mark.parametrize("case", golden_cases("fragindex_"), ids=lambda c: c["name"])
def test_golden_fragindex_text_in_debugfs_files(case):
    row, order = case["inputs"]["buddyinfo_row"], case["inputs"]["order"]
    node = one_zone_node(row)
    exp = case["expected"]
    columns = {
        "extfrag_index_text": node.render("extfrag_index").split()[4:],
        "unusable_index_text": node.render("unusable_index").split()[4:],
    }
    checked = 0
    for key, cols in columns.items():
        if key in exp:
            assert cols[order] == exp[key]
            checked += 1
    assert checked


# --------------------------------------------------------------------------
# Round trips
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def nodes() -> list[Node]:
    fresh = Node.build(mem="8GiB")
    no_cma = busy_node("2GiB", seed=7, n=1500, config=KernelConfig(cma=False, numa=False))
    busy = busy_node("8GiB", seed=1)
    busy.machine.vm_events["pgpgin"] = 4097  # sectors: printed halved
    busy.zone("Normal").vm_stat["nr_zone_active_file"] = 17
    busy.node_stat["nr_active_file"] = 17
    return [fresh, busy, no_cma]


@pytest.mark.parametrize("name", P.FILES)
def test_render_parse_render_is_identical(nodes, name):
    for node in nodes:
        text = node.render(name)
        assert text
        assert P.format_file(name, P.parse(name, text)) == text


@pytest.mark.parametrize("which", [0, 1, 2])
def test_from_proc_of_rendered_node_renders_back_identically(nodes, which):
    node = nodes[which]
    texts = {name: node.render(name) for name in ("zoneinfo", "buddyinfo", "pagetypeinfo",
                                                  "vmstat")}
    copy = P.node_from_proc(**texts, sysctl=node.sysctl.copy())
    check_node(copy)
    for name in P.FILES:
        assert copy.render(name) == node.render(name), name
    assert copy.machine.config == node.machine.config


def test_vmstat_details(nodes):
    busy, no_cma = nodes[1], nodes[2]
    vm = P.parse_vmstat(busy.render("vmstat"))
    assert vm["pgpgin"] == 2048  # 4097 sectors -> KiB
    assert list(vm)[:2] == ["nr_free_pages", "nr_zone_inactive_anon"]
    assert vm["nr_free_pages"] == busy.nr_free_pages
    assert vm["nr_active_file"] == 17 and vm["nr_zone_active_file"] == 17
    assert vm["pgalloc_normal"] == busy.machine.vm_events["pgalloc_normal"]
    # without CONFIG_NUMA: no numa_* counters, no zone_reclaim_failed
    text = no_cma.render("vmstat")
    assert "numa_hit" not in text and "zone_reclaim_failed" not in text
    assert "numa_hit" not in no_cma.render("zoneinfo")


def test_pagetypeinfo_omits_cma_without_config_cma(nodes):
    assert "CMA" in nodes[0].render("pagetypeinfo")
    text = nodes[2].render("pagetypeinfo")
    assert "CMA" not in text
    assert P.parse_pagetypeinfo(text)[0].types == ["Unmovable", "Movable", "Reclaimable",
                                                  "HighAtomic", "Isolate"]


def test_node_stats_come_from_the_frame_map():
    node = Node.build(zones={"Normal": 8192})
    node.alloc_pages(2, "GFP_HIGHUSER_MOVABLE", kind="anon")
    node.alloc_pages(0, "GFP_HIGHUSER_MOVABLE", kind="file")
    node.alloc_pages(1, "GFP_KERNEL")
    node.alloc_pages(0, "GFP_KERNEL|__GFP_RECLAIMABLE")
    node.node_stat["nr_dirty"] = 5
    stats = P.parse_zoneinfo(node.render("zoneinfo"))[0].stats
    assert (stats["nr_anon_pages"], stats["nr_file_pages"], stats["nr_slab_unreclaimable"],
            stats["nr_slab_reclaimable"], stats["nr_dirty"]) == (4, 1, 2, 1, 5)


def test_node_unreclaimable_after_16_kswapd_failures():
    node = Node.build(zones={"Normal": 4096})
    node.kswapd_failures = 15
    assert "node_unreclaimable:  0" in node.render("zoneinfo")
    node.kswapd_failures = 16
    assert "node_unreclaimable:  1" in node.render("zoneinfo")


def test_render_rejects_unknown_names():
    node = Node.build(zones={"Normal": 4096})
    with pytest.raises(ValueError, match=r"allowed zoneinfo, buddyinfo, pagetypeinfo, vmstat, "
                                         "extfrag_index, unusable_index"):
        node.render("meminfo")


# --------------------------------------------------------------------------
# Other kernels' layouts
# --------------------------------------------------------------------------
def test_parse_hand_written_5_0_sample_and_print_it_back():
    text = (DATA / "zoneinfo-5.0-sample.txt").read_text()
    info = P.parse_zoneinfo(text)[0]
    assert list(info.zones) == ["DMA", "DMA32", "Normal", "Movable", "Device"]
    assert info.stats_zone == "DMA" and info.stats["nr_file_pages"] == 221910
    dma32 = info.zones["DMA32"]
    assert (dma32.min, dma32.low, dma32.high, dma32.managed) == (15495, 19368, 23241, 482893)
    assert [(p.cpu, p.count, p.high, p.batch, p.stat_threshold) for p in dma32.pagesets] == \
        [(0, 57, 186, 31, 24), (1, 142, 186, 31, 24)]
    assert dma32.stats["numa_interleave"] == 4061 and dma32.start_pfn == 4096
    assert not info.zones["Movable"].populated and info.zones["Movable"].start_pfn is None
    assert P.format_zoneinfo(P.parse_zoneinfo(text)) == text


def test_parse_hand_written_4_4_sample():
    info = P.parse_zoneinfo((DATA / "zoneinfo-4.4-sample.txt").read_text())[0]
    assert info.stats == {} and info.stats_zone is None
    assert list(info.zones) == ["DMA", "DMA32"]
    z = info.zones["DMA32"]
    assert (z.pages_free, z.min, z.low, z.high, z.spanned, z.present, z.managed) == \
        (300112, 8052, 10065, 12078, 1044480, 519648, 497549)
    assert z.protection == (0, 0, 0, 0)
    assert z.extra["scanned"] == 0 and z.extra["inactive_ratio"] == 3
    assert z.extra["all_unreclaimable"] == 0 and z.node_unreclaimable is None
    assert z.stats["nr_alloc_batch"] == 1911 and z.stats["nr_free_pages"] == 300112
    assert [p.count for p in z.pagesets] == [121, 33] and z.start_pfn == 4096


def test_parse_host_6_18_files():
    info = P.parse_zoneinfo(host("proc/zoneinfo"))[0]
    normal = info.zones["Normal"]
    assert normal.boost == 0 and normal.promo is not None and normal.cma == 0
    assert "high_min" in normal.pagesets[0].extra
    assert "workingset_refault_file" in info.stats
    assert info.zones["Movable"].min == 32  # see test_host_watermarks_are_recomputed
    pti = P.parse_pagetypeinfo(host("proc/pagetypeinfo"))[0]
    assert "CMA" not in pti.types and pti.blocks["Normal"]["Movable"] > 0
    bi = P.parse_buddyinfo(host("proc/buddyinfo"))[0]
    assert list(bi) == ["DMA", "DMA32", "Normal"]
    assert "pgalloc_device" in P.parse_vmstat(host("proc/vmstat"))


# --------------------------------------------------------------------------
# The 6.18 host
# --------------------------------------------------------------------------
WMARK_OR_PROTECTION = re.compile(r"^ +(?:(?:min|low|high) +\d+|protection: .*)\n", re.MULTILINE)


def test_host_watermarks_are_recomputed_not_copied():
    original = P.parse_zoneinfo(host("proc/zoneinfo"))[0]
    blanked = WMARK_OR_PROTECTION.sub("", host("proc/zoneinfo"))
    assert "        min " not in blanked and "protection" not in blanked
    node = Node.from_proc(blanked, host("proc/buddyinfo"), host("proc/pagetypeinfo"),
                          sysctl=host_sysctl())
    mine = P.parse_zoneinfo(node.render("zoneinfo"))[0]
    for name, z in original.zones.items():
        m = mine.zones[name]
        if z.populated:
            assert (m.min, m.low, m.high, m.protection) == (z.min, z.low, z.high, z.protection)
    # The empty Movable zone: this 6.18 kernel prints min/low/high 32 because
    # since "mm/page_alloc: fix min_free_kbytes calculation regarding
    # ZONE_MOVABLE" (liuq, 2023, merged for 6.5) __setup_per_zone_wmarks caps
    # ZONE_MOVABLE like highmem at clamp(managed / 1024, SWAP_CLUSTER_MAX=32, 128)
    # and leaves it out of lowmem_pages. v5.0 applies that clamp to highmem
    # only, so an empty Movable zone gets min = min_free * 0 / lowmem = 0 and
    # low = high = 0 + max(0 / 4, 0 * wsf / 10000) = 0.
    movable = mine.zones["Movable"]
    assert original.zones["Movable"].min == 32
    assert (movable.min, movable.low, movable.high) == (0, 0, 0)


def test_host_node_reproduces_free_memory_and_pageblocks():
    start = time.perf_counter()
    node = P.node_from_proc(root=str(HOST))
    elapsed = time.perf_counter() - start
    assert elapsed < 5, f"building the 24 GiB-span host node took {elapsed:.1f} s"
    check_node(node)
    assert node.render("buddyinfo") == host("proc/buddyinfo")
    assert node.render("pagetypeinfo") == host("proc/pagetypeinfo")
    assert not node.machine.config.cma and node.machine.config.numa
    assert node.machine.nr_cpus == 2 and node.min_free_kbytes == 67584
    zi = P.parse_zoneinfo(host("proc/zoneinfo"))[0]
    normal, z = node.zone("Normal"), zi.zones["Normal"]
    assert (normal.zone_start_pfn, normal.spanned_pages, normal.present_pages,
            normal.managed_pages) == (z.start_pfn, z.spanned, z.present, z.managed)
    # offline memory: whole pageblocks of holes that pageblock_counts skips
    assert sum(normal.pageblock_counts()) * 512 == normal.managed_pages
    lo = normal.zone_end_pfn - node.node_start_pfn - 512
    assert (node.state[lo:lo + 512] == FRAME_HOLE).all()
    # per-cpu pages by count, and the node's event counters from vmstat
    assert [p.count for p in normal.pageset] == [p.count for p in z.pagesets]
    vm = P.parse_vmstat(host("proc/vmstat"))
    assert node.machine.vm_events["pgfault"] == vm["pgfault"]
    # anon and file counters match the file: there were enough movable pages
    stats = P.node_stat_values(node)
    assert stats["nr_anon_pages"] == zi.stats["nr_anon_pages"]
    assert stats["nr_file_pages"] == zi.stats["nr_file_pages"]
    assert int((node.state == FRAME_ANON).sum()) == zi.stats["nr_anon_pages"]
    assert int((node.state == FRAME_FILE).sum()) == zi.stats["nr_file_pages"]


def test_free_blocks_prefer_their_own_pageblock_type():
    node = P.node_from_proc(root=str(HOST))
    normal = node.zone("Normal")
    for mt in range(4):
        for order in range(11):
            for pfn in normal.iter_free_list(order, mt):
                assert node.get_pageblock_migratetype(pfn) == mt


def test_cma_free_blocks_count_in_nr_free_cma():
    node = busy_node("1GiB", seed=3, n=200)
    text = node.render("pagetypeinfo")
    # move two order-10 Movable blocks of DMA32 to the CMA list in the text
    rows = text.splitlines(keepends=True)
    for i, row in enumerate(rows):
        if "zone    DMA32, type      Movable" in row:
            vals = row.split()[-11:]
            moved = min(2, int(vals[10]))
            vals[10] = str(int(vals[10]) - moved)
            rows[i] = row[:row.index("type") + 17] + "".join(f"{int(v):6d} " for v in vals) + "\n"
        elif "zone    DMA32, type          CMA" in row:
            rows[i] = row[:row.index("type") + 17] + "".join(
                f"{v:6d} " for v in [0] * 10 + [moved]) + "\n"
    copy = P.node_from_proc(node.render("zoneinfo"), node.render("buddyinfo"), "".join(rows),
                            sysctl=node.sysctl.copy())
    check_node(copy)
    dma32 = copy.zone("DMA32")
    assert dma32.nr_free_cma == moved * 1024
    assert dma32.nr_free_by_type()[MIGRATE_CMA][10] == moved


# --------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------
def test_truncated_zoneinfo_names_the_line():
    text = host("proc/zoneinfo")
    cut = text[: text.index("  start_pfn:           4096")]
    nlines = cut.count("\n")
    with pytest.raises(ValueError, match=rf"zoneinfo line {nlines}: .*start_pfn.*truncated"):
        P.parse_zoneinfo(cut)


def test_garbled_zoneinfo_names_the_line_and_text():
    lines = (DATA / "zoneinfo-5.0-sample.txt").read_text().splitlines(keepends=True)
    lines[40] = "        managed  3977 pages\n"
    with pytest.raises(ValueError, match=r"zoneinfo line 41: '        managed  3977 pages': "
                                         r"expected a zoneinfo line"):
        P.parse_zoneinfo("".join(lines))
    with pytest.raises(ValueError, match=r"zoneinfo line 1: .*expected 'Node N, zone NAME'"):
        P.parse_zoneinfo("  pages free 3\n")
    with pytest.raises(ValueError, match=r"zoneinfo line 3: .*one 'pages free' line per zone"):
        P.parse_zoneinfo("Node 0, zone DMA\n  pages free 3\n  pages free 4\n")


def test_garbled_buddyinfo_pagetypeinfo_vmstat_index():
    with pytest.raises(ValueError, match=r"buddyinfo line 2: 'Node 0, zone DMA32 1 2 x': "
                                         r"expected free-block counts .* found 'x'"):
        P.parse_buddyinfo("Node 0, zone DMA 1 2 3\nNode 0, zone DMA32 1 2 x\n")
    with pytest.raises(ValueError, match=r"buddyinfo line 2: .*3 free-block counts"):
        P.parse_buddyinfo("Node 0, zone DMA 1 2 3\nNode 0, zone DMA32 1 2\n")
    text = host("proc/pagetypeinfo")
    cut = text[: text.index("Number of blocks")]
    with pytest.raises(ValueError, match=r"pagetypeinfo line \d+: .*'Number of blocks type' row "
                                         r"for zone DMA"):
        P.parse_pagetypeinfo(cut)
    lines = text.splitlines()
    with pytest.raises(ValueError, match=r"pagetypeinfo line 5: .*expected 11 counts .*found 2 "):
        P.parse_pagetypeinfo("\n".join([*lines[:4], lines[4][:60]]))
    with pytest.raises(ValueError, match=r"vmstat line 2: 'pgfault': expected '<name> <number>'"):
        P.parse_vmstat("nr_free_pages 1\npgfault\n")
    with pytest.raises(ValueError, match=r"unusable_index line 1: .*found '0.5x'"):
        P.parse_index_file("Node 0, zone DMA 0.5x\n", "unusable_index")
    with pytest.raises(ValueError, match=r"buddyinfo: no 'Node N"):
        P.parse_buddyinfo("")


def test_from_proc_rejects_files_that_disagree():
    zi, bi, pti = host("proc/zoneinfo"), host("proc/buddyinfo"), host("proc/pagetypeinfo")
    changed = bi.splitlines()
    vals = changed[2].split()
    vals[4] = str(int(vals[4]) + 1)
    changed[2] = "Node 0, zone   Normal " + "".join(f"{int(v):6d} " for v in vals[4:])
    bad_bi = "\n".join(changed) + "\n"
    with pytest.raises(ValueError, match=r"zone Normal order 0 has .* pagetypeinfo's types add up"):
        P.node_from_proc(zi, bad_bi, pti)
    huge = bi.replace(bi.splitlines()[0], "Node 0, zone      DMA " + "".join(
        f"{v:6d} " for v in [0] * 10 + [9]))
    with pytest.raises(ValueError, match=r"zone DMA lists 9216 free pages but zoneinfo's managed "
                                         "is 3840"):
        P.node_from_proc(zi, huge)
    with pytest.raises(ValueError, match=r"zone DMA32 is not in zoneinfo"):
        P.node_from_proc(zi.split("Node 0, zone    DMA32")[0], bi)
    two = zi + zi.replace("Node 0,", "Node 1,")
    with pytest.raises(ValueError, match=r"node: zoneinfo describes nodes \[0, 1\]; pass node=N"):
        P.node_from_proc(two, bi)
    with pytest.raises(ValueError, match=r"node: 1 is not in buddyinfo"):
        P.node_from_proc(two, bi, node=1)
    with pytest.raises(ValueError, match=r"zoneinfo: required"):
        P.node_from_proc(buddyinfo=bi)
    with pytest.raises(ValueError, match=r"from_proc: cannot read .*nowhere/proc/zoneinfo"):
        P.node_from_proc(root="/nowhere")
    with pytest.raises(ValueError, match=r"zone 'HighMem' of node 0 is not modelled"):
        P.node_from_proc("Node 0, zone  HighMem\n  pages free 0\n        spanned 8\n"
                         "        present 8\n        managed 8\n  start_pfn: 0\n")


def test_lru_sizes_come_from_the_lru_lists_once_they_exist():
    from mmsim.mm.swap import LRU_ACTIVE_ANON, LRU_INACTIVE_FILE, get_lruvec

    node = Node.build(zones={"DMA32": 4096, "Normal": 8192})
    node.node_stat["nr_inactive_file"] = 99  # ignored once the lists exist
    files = P.node_stat_values(node)
    assert files["nr_inactive_file"] == 99
    pfns = [node.alloc_pages(0, "GFP_HIGHUSER_MOVABLE", kind="file") for _ in range(5)]
    anon = [node.alloc_pages(0, "GFP_HIGHUSER_MOVABLE", kind="anon") for _ in range(3)]
    lv = get_lruvec(node)
    lv.add(pfns, LRU_INACTIVE_FILE)
    lv.add(anon, LRU_ACTIVE_ANON)
    info = P.parse_zoneinfo(node.render("zoneinfo"))[0]
    assert info.stats["nr_inactive_file"] == 5 and info.stats["nr_active_anon"] == 3
    assert info.zones["Normal"].stats["nr_zone_inactive_file"] == 5
    assert info.zones["DMA32"].stats["nr_zone_inactive_file"] == 0
    vm = P.parse_vmstat(node.render("vmstat"))
    assert vm["nr_inactive_file"] == 5 and vm["nr_zone_active_anon"] == 3
    # the snapshot survives a trip through the files
    copy = P.node_from_proc(node.render("zoneinfo"), node.render("buddyinfo"),
                            node.render("pagetypeinfo"), sysctl=node.sysctl.copy())
    assert copy.render("zoneinfo") == node.render("zoneinfo")


def test_a_boost_in_force_survives_the_files():
    from mmsim.mm.page_alloc import boost_watermark

    node = Node.build(mem="1GiB")
    dma32 = node.zone("DMA32")
    for _ in range(3):
        boost_watermark(dma32)
    assert dma32.watermark_boost == 1536
    texts = {name: node.render(name) for name in ("zoneinfo", "buddyinfo", "pagetypeinfo")}
    copy = P.node_from_proc(**texts, sysctl=node.sysctl.copy())
    assert copy.zone("DMA32").watermark_boost == 1536
    assert copy.zone("DMA").watermark_boost == 0
    assert copy.render("zoneinfo") == node.render("zoneinfo")
    # a different min_free_kbytes is not mistaken for a boost
    other = P.node_from_proc(**texts, sysctl=Sysctl(min_free_kbytes=8000))
    assert [z.watermark_boost for z in other.zones] == [0] * 5
