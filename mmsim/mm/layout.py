"""Booting a node: laying out zones and frames, then handing memory to the buddy.

This is the part of early boot that mmsim needs: the firmware memory map
decides which pfns exist (x86_64 keeps pfn 0 and the 640 KiB-1 MiB legacy area
out of use, and leaves a hole below 4 GiB for PCI devices, remapping that RAM
above 4 GiB); ``free_area_init`` cuts the node into zones at the 16 MiB and
4 GiB boundaries; memblock keeps some pages for itself (the kernel image,
the ``struct page`` array - 64 bytes per 4 KiB page) and frees the rest to the
buddy allocator in the largest aligned blocks it can (``__free_pages_memory``).
Every pageblock starts as Movable (``memmap_init_zone``). Then the initcalls
run: ``init_per_zone_wmark_min`` (core_initcall) computes ``min_free_kbytes``
and the watermarks, ``hugepage_init`` (subsys_initcall) raises it for THP, and
finally the administrator's sysctl settings are written.

Kernel source: mm/page_alloc.c ``free_area_init_node``, ``memmap_init_zone``,
mm/memblock.c ``memblock_free_all`` / ``__free_pages_memory``,
mm/huge_memory.c ``hugepage_init``.

Simplifications
---------------
* The reserved pages of a ``mem=`` layout are a model: 21 pages in DMA
  (firmware), 36 MiB for the kernel image and early allocations at 16 MiB,
  and the memmap (1/64 of present memory) at the top of the highest zone.
  Real machines differ by a few MiB; ``Node.from_proc`` copies a real one.
* Boot-time allocations that later become slab or page tables are not made;
  a freshly built node is all free.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mmsim.mm.mmzone import (
    FRAME_HOLE,
    FRAME_RESERVED,
    MAX_NR_ZONES,
    MIGRATE_MOVABLE,
    ZONE_DMA,
    ZONE_DMA32,
    ZONE_NORMAL,
    KernelConfig,
    Machine,
    Node,
    Zone,
    pageblock_nr_pages,
    pageblock_order,
    zone_names,
)
from mmsim.units import check_int, parse_pages

if TYPE_CHECKING:  # pragma: no cover
    from mmsim.sysctl import Sysctl

PFN_16M = (16 << 20) >> 12  #: 4096: end of ZONE_DMA
PFN_3G = (3 << 30) >> 12  #: 786432: where the PCI hole starts in the model
PFN_4G = (4 << 30) >> 12  #: 1048576: end of ZONE_DMA32
DMA_START_PFN = 1  #: pfn 0 is kept by the BIOS
LEGACY_HOLE = (0x9F, 0x100)  #: 640 KiB .. 1 MiB: VGA and BIOS ROMs
DMA_RESERVED = 21  #: firmware pages kept in ZONE_DMA (managed 3977 of 3998 present)
KERNEL_RESERVED = (36 << 20) >> 12  #: kernel image, initrd and early allocations


@dataclass
class ZoneSpec:
    """How one zone is laid out before boot.

    ``reserved`` and ``holes`` are ``(start_pfn, end_pfn)`` ranges inside the
    zone; every other frame of the span is managed and will be freed to the
    buddy allocator (unless ``free`` says otherwise).
    """

    idx: int
    start_pfn: int
    spanned: int
    present: int
    managed: int
    holes: list[tuple[int, int]] = field(default_factory=list)
    reserved: list[tuple[int, int]] = field(default_factory=list)


def x86_64_layout(mem_pages: int) -> list[ZoneSpec]:
    """Zone specs for ``mem_pages`` of RAM on a BIOS-era x86_64 machine.

    >>> [(s.idx, s.start_pfn, s.spanned, s.present, s.managed) for s in x86_64_layout(2097152)]
    ... # doctest: +NORMALIZE_WHITESPACE
    [(0, 1, 4095, 3998, 3977), (1, 4096, 1044480, 782336, 773120),
     (2, 1048576, 1310720, 1310720, 1277954)]
    """
    if mem_pages < 4 * PFN_16M:
        raise ValueError(f"mem: {mem_pages} pages ({mem_pages >> 8} MiB) is too small for an "
                         "x86_64 layout; allowed >= 64MiB (or give zones={...} explicitly)")
    specs: list[ZoneSpec] = []
    hole = (LEGACY_HOLE[0], LEGACY_HOLE[1])
    dma_present = (PFN_16M - DMA_START_PFN) - (hole[1] - hole[0])
    specs.append(ZoneSpec(ZONE_DMA, DMA_START_PFN, PFN_16M - DMA_START_PFN, dma_present,
                          dma_present - DMA_RESERVED, holes=[hole],
                          reserved=[(DMA_START_PFN, DMA_START_PFN + DMA_RESERVED)]))
    if mem_pages <= PFN_3G:
        dma32_end = mem_pages
        normal_pages = 0
    else:
        dma32_end = PFN_4G
        normal_pages = mem_pages - PFN_3G
    dma32_present = min(mem_pages, PFN_3G) - PFN_16M
    kernel = min(KERNEL_RESERVED, dma32_present // 4)
    dma32 = ZoneSpec(ZONE_DMA32, PFN_16M, dma32_end - PFN_16M, dma32_present, dma32_present,
                     holes=[(PFN_3G, PFN_4G)] if normal_pages else [],
                     reserved=[(PFN_16M, PFN_16M + kernel)])
    dma32.managed -= kernel
    specs.append(dma32)
    top = dma32
    if normal_pages:
        top = ZoneSpec(ZONE_NORMAL, PFN_4G, normal_pages, normal_pages, normal_pages)
        specs.append(top)
    total_present = sum(s.present for s in specs)
    memmap = total_present // 64
    end = top.start_pfn + top.spanned
    top.reserved.append((end - memmap, end))
    top.managed -= memmap
    return specs


def explicit_layout(zones: dict[str, int | str]) -> list[ZoneSpec]:
    """Zone specs from ``{"DMA": "16MiB", ...}``: back to back from pfn 0, no holes."""
    if not isinstance(zones, dict):
        raise ValueError(f"zones: expected a dict of zone name -> size, got {type(zones).__name__}")
    sizes = [0] * MAX_NR_ZONES
    for name, size in zones.items():
        if name not in zone_names:
            raise ValueError(f"zones: unknown zone name {name!r}; allowed "
                             f"{', '.join(zone_names)}")
        sizes[zone_names.index(name)] = parse_pages(size, f"zones[{name!r}]")
    if not any(sizes):
        raise ValueError("zones: every zone is empty; give at least one zone a size > 0")
    if sizes[4]:
        raise ValueError("zones['Device']: ZONE_DEVICE holds device memory that the buddy "
                         "allocator never manages; allowed size 0")
    specs = []
    pfn = 0
    for idx, size in enumerate(sizes):
        if size:
            specs.append(ZoneSpec(idx, pfn, size, size, size))
            pfn += size
    return specs


def create_node(machine: Machine, specs: list[ZoneSpec], node_id: int = 0) -> Node:
    """Make the node and its zones from specs; frames become holes/reserved/managed.

    Managed frames are *not* freed yet; see :func:`free_managed`.
    """
    if not specs:
        raise ValueError("zones: a node needs at least one populated zone")
    start = min(s.start_pfn for s in specs)
    end = max(s.start_pfn + s.spanned for s in specs)
    start_aligned = start & ~(pageblock_nr_pages - 1)
    node = Node(machine, node_id, start_aligned, end - start_aligned)
    by_idx = {s.idx: s for s in specs}
    last_end = start
    for idx in range(MAX_NR_ZONES):
        s = by_idx.get(idx)
        if s is None:
            # empty zones sit at the end of the previous one, spanning nothing
            node.zones.append(Zone(node, idx, 0 if idx == 0 else last_end, 0, 0, 0))
            continue
        if s.present > s.spanned or s.managed > s.present:
            raise ValueError(
                f"zones[{zone_names[idx]!r}]: need managed <= present <= spanned, got "
                f"managed={s.managed}, present={s.present}, spanned={s.spanned}")
        z = Zone(node, idx, s.start_pfn, s.spanned, s.present, s.managed)
        node.zones.append(z)
        last_end = s.start_pfn + s.spanned
        lo = s.start_pfn - node.node_start_pfn
        hi = lo + s.spanned
        node.zone_id[lo:hi] = idx
        node.state[lo:hi] = FRAME_RESERVED  # present until shown otherwise
        for a, b in s.holes:
            node.state[a - node.node_start_pfn:b - node.node_start_pfn] = FRAME_HOLE
        for a, b in s.reserved:
            node.state[a - node.node_start_pfn:b - node.node_start_pfn] = FRAME_RESERVED
        # every pageblock starts Movable (memmap_init_zone)
        pb0 = (s.start_pfn >> pageblock_order) - node.pb_base
        pb1 = ((s.start_pfn + s.spanned - 1) >> pageblock_order) - node.pb_base + 1
        node.pageblock_mt[pb0:pb1] = MIGRATE_MOVABLE
    machine.nodes.append(node)
    return node


def managed_ranges(node: Node, spec: ZoneSpec) -> list[tuple[int, int]]:
    """The pfn ranges of a zone that are neither holes nor reserved."""
    out: list[tuple[int, int]] = []
    cuts = sorted(spec.holes + spec.reserved)
    pfn = spec.start_pfn
    end = spec.start_pfn + spec.spanned
    for a, b in cuts:
        if a > pfn:
            out.append((pfn, a))
        pfn = max(pfn, b)
    if pfn < end:
        out.append((pfn, end))
    return out


def free_managed(node: Node, specs: list[ZoneSpec]) -> None:
    """Hand every managed frame to the buddy allocator (``memblock_free_all``)."""
    from mmsim.mm.page_alloc import free_range_at_boot

    for s in specs:
        zone = node.zones[s.idx]
        ranges = managed_ranges(node, s)
        total = sum(b - a for a, b in ranges)
        if total != s.managed:
            raise ValueError(f"zones[{zone.name!r}]: layout frees {total} pages but managed is "
                             f"{s.managed}")
        _recount_states(zone)
        for a, b in ranges:
            free_range_at_boot(zone, a, b)


def _recount_states(zone: Zone) -> None:
    import numpy as np

    node = zone.node
    lo = zone.zone_start_pfn - node.node_start_pfn
    view = node.state[lo:lo + zone.spanned_pages]
    counts = np.bincount(view, minlength=len(zone.nr_state))
    zone.nr_state[:] = [int(c) for c in counts]


def boot(machine: Machine, sysctl_user: dict[str, Any]) -> None:
    """Run the initcalls that set watermarks, then apply the user's sysctls.

    ``init_per_zone_wmark_min`` → THP ``set_recommended_min_free_kbytes`` (if
    THP is on and RAM ≥ 512 MiB; below that ``hugepage_init`` turns THP off) →
    ``min_free_kbytes`` written by the administrator, if given.
    """
    from mmsim.mm.khugepaged import set_recommended_min_free_kbytes
    from mmsim.mm.page_alloc import init_per_zone_wmark_min, setup_zone_pageset

    for zone in machine.for_each_zone():
        setup_zone_pageset(zone, machine.nr_cpus)
    init_per_zone_wmark_min(machine)
    sysctl = machine.sysctl
    if machine.totalram_pages() < (512 << 20) >> 12:
        machine.thp_enabled_at_boot = False
        if sysctl.transparent_hugepage != "never":
            sysctl._values["transparent_hugepage"] = "never"
    elif sysctl.transparent_hugepage != "never":
        set_recommended_min_free_kbytes(machine)
    mfk = sysctl_user.get("min_free_kbytes")
    if mfk is not None:
        machine.min_free_kbytes = mfk
        machine.user_min_free_kbytes = mfk
        from mmsim.mm.page_alloc import setup_per_zone_wmarks

        setup_per_zone_wmarks(machine)


def build_node(zones: dict[str, int | str] | None = None, mem: int | str | None = None,
               sysctl: Sysctl | None = None, nr_cpus: int = 2, pcp: bool = True,
               config: KernelConfig | None = None) -> Node:
    """Implementation of :meth:`mmsim.Node.build`."""
    from mmsim.sysctl import Sysctl

    if (zones is None) == (mem is None):
        raise ValueError("Node.build: give exactly one of zones={...} or mem='8GiB'")
    nr_cpus = check_int("nr_cpus", nr_cpus, 1, 1024)
    if sysctl is None:
        sysctl = Sysctl()
    elif not isinstance(sysctl, Sysctl):
        raise ValueError(f"sysctl: expected mmsim.Sysctl, got {type(sysctl).__name__}")
    elif sysctl._machine is not None:
        sysctl = sysctl.copy()
    if mem is not None:
        specs = x86_64_layout(parse_pages(mem, "mem"))
    else:
        assert zones is not None
        specs = explicit_layout(zones)
    machine = Machine(sysctl, nr_cpus=nr_cpus, config=config)
    node = create_node(machine, specs)
    node.pcp_enabled = bool(pcp)
    free_managed(node, specs)
    boot(machine, {"min_free_kbytes": sysctl.min_free_kbytes})
    return node


def build_paper_node(zones: dict[str, int | str] | None = None, mem: int | str | None = None,
                     sysctl: Sysctl | None = None, nr_cpus: int = 2,
                     config: KernelConfig | None = None) -> Node:
    """A booted node with zone sizes but no page frames: watermarks in microseconds.

    It runs the same boot code as :meth:`mmsim.Node.build` (watermarks,
    lowmem_reserve, THP raise, per-cpu sizes, thresholds) on the same zone
    layout, but keeps no per-frame state, so nothing can be allocated from it.
    Lessons use it to redraw watermark figures as a slider moves.

    >>> n = build_paper_node(mem="8GiB")
    >>> [(z.name, z.min_wmark_pages) for z in n.zones if z.managed_pages]
    [('DMA', 32), ('DMA32', 6356), ('Normal', 10506)]
    """
    from mmsim.sysctl import Sysctl

    if (zones is None) == (mem is None):
        raise ValueError("build_paper_node: give exactly one of zones={...} or mem='8GiB'")
    sysctl = sysctl.copy() if isinstance(sysctl, Sysctl) and sysctl._machine else \
        (sysctl or Sysctl())
    specs = x86_64_layout(parse_pages(mem, "mem")) if mem is not None else \
        explicit_layout(zones or {})
    machine = Machine(sysctl, nr_cpus=check_int("nr_cpus", nr_cpus, 1, 1024), config=config)
    node = Node(machine, 0, 0, 1)
    by_idx = {s.idx: s for s in specs}
    last_end = 0
    for idx in range(MAX_NR_ZONES):
        s = by_idx.get(idx)
        if s is None:
            node.zones.append(Zone(node, idx, last_end, 0, 0, 0))
        else:
            node.zones.append(Zone(node, idx, s.start_pfn, s.spanned, s.present, s.managed))
            last_end = s.start_pfn + s.spanned
    machine.nodes.append(node)
    node.paper = True
    boot(machine, {"min_free_kbytes": sysctl.min_free_kbytes})
    return node
