"""``/proc`` in and out: read real memory-management files, print the model's.

Linux reports its memory-management state in a handful of text files, and
anyone who tunes or debugs reclaim learns to read them:

``/proc/zoneinfo``
    every zone of every node: free pages, the min/low/high watermarks, the
    zone's size, the ``lowmem_reserve`` ("protection") it keeps against
    allocations that could have used a higher zone, its counters, and the
    per-cpu page lists.
``/proc/buddyinfo``
    one row per populated zone: how many free blocks the buddy allocator holds
    of each order 0..10.
``/proc/pagetypeinfo``
    the same free blocks split by migratetype, then how many pageblocks of
    each migratetype the zone has.
``/proc/vmstat``
    system-wide counters: zone and node counters summed, then every event
    counter (pages scanned, reclaimed, compaction passes ...).
``/sys/kernel/debug/extfrag/{extfrag_index,unusable_index}``
    per zone and order, the fragmentation index and the unusable free space
    index, printed as ``%d.%03d`` thousandths.

This module goes both ways. :func:`render` prints a simulated node's file
byte for byte as Linux v5.0 would; the ``parse_*`` functions read such text
(from v5.0 or from the 4.x-6.x kernels people actually run) into plain data;
the ``format_*`` functions print parsed data again in v5.0's layout, so that
``format_buddyinfo(parse_buddyinfo(text)) == text`` for any v5.0 file; and
:func:`node_from_proc` builds a simulated node whose free memory reproduces a
real machine's buddyinfo and pagetypeinfo exactly, with watermarks recomputed
by the model from the machine's sysctls.

Kernel source: mm/vmstat.c (``frag_show_print``, ``pagetypeinfo_showfree_print``,
``pagetypeinfo_showblockcount_print``, ``zoneinfo_show_print``, ``vmstat_start``
/ ``vmstat_show``, ``unusable_show_print``, ``extfrag_show_print``, the
``vmstat_text[]`` table), https://elixir.bootlin.com/linux/v5.0/source/mm/vmstat.c;
mm/page-writeback.c (``global_dirtyable_memory``, ``domain_dirty_limits``),
https://elixir.bootlin.com/linux/v5.0/source/mm/page-writeback.c

Simplifications
---------------
* Per-node files are rendered for one node (``Node.render``); ``/proc/vmstat``
  is machine-wide and sums every node of the node's machine.
* Counters the model does not keep print 0 (``zone.vm_stat`` and
  ``node.node_stat`` hold whatever a simulation or :func:`node_from_proc` put
  there). Four node counters are derived from the frame map instead: see
  :func:`node_stat_values`.
* ``nr_dirty_threshold`` and ``nr_dirty_background_threshold`` use the default
  ``vm.dirty_ratio`` 20 and ``vm.dirty_background_ratio`` 10 (no ``*_bytes``
  settings, no real-time reader).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mmsim.mm.mmzone import (
    FRAME_ANON,
    FRAME_FILE,
    FRAME_FREE,
    FRAME_HOLE,
    FRAME_KERNEL,
    FRAME_PCP,
    FRAME_RESERVED,
    FRAME_SLAB,
    MAX_ORDER,
    MIGRATE_CMA,
    MIGRATE_HIGHATOMIC,
    MIGRATE_ISOLATE,
    MIGRATE_MOVABLE,
    MIGRATE_PCPTYPES,
    MIGRATE_RECLAIMABLE,
    MIGRATE_TYPES,
    MIGRATE_UNMOVABLE,
    KernelConfig,
    Machine,
    Node,
    Zone,
    migratetype_names,
    pageblock_nr_pages,
    pageblock_order,
    zone_names,
)
from mmsim.mm.vmstat import (
    NODE_STAT_ITEMS,
    NUMA_STAT_ITEMS,
    VM_EVENT_ITEMS,
    WRITEBACK_STAT_ITEMS,
    ZONE_STAT_ITEMS,
    format_index,
    fragmentation_index,
    unusable_free_index,
)

if TYPE_CHECKING:  # pragma: no cover
    from mmsim.sysctl import Sysctl

#: the files :func:`render` knows, in the order ``mmsim proc`` lists them
FILES = ("zoneinfo", "buddyinfo", "pagetypeinfo", "vmstat", "extfrag_index", "unusable_index")

#: ``MAX_RECLAIM_RETRIES`` (mm/internal.h): kswapd failures after which a node
#: is "unreclaimable" in /proc/zoneinfo
MAX_RECLAIM_RETRIES = 16

#: events that exist only with CONFIG_NUMA (``zone_reclaim_failed``) or
#: CONFIG_NUMA_BALANCING (which needs NUMA)
_NUMA_EVENTS = frozenset({"zone_reclaim_failed", "numa_pte_updates", "numa_huge_pte_updates",
                          "numa_hint_faults", "numa_hint_faults_local", "numa_pages_migrated"})

#: node counters that :func:`node_stat_values` derives from the frame map
DERIVED_NODE_STATS = {
    "nr_anon_pages": FRAME_ANON,
    "nr_file_pages": FRAME_FILE,
    "nr_slab_reclaimable": FRAME_SLAB,
    "nr_slab_unreclaimable": FRAME_KERNEL,
}
#: zone counters that come from the buddy state rather than ``zone.vm_stat``
DERIVED_ZONE_STATS = ("nr_free_pages", "nr_free_cma")

#: vm.dirty_ratio and vm.dirty_background_ratio (mm/page-writeback.c defaults)
VM_DIRTY_RATIO = 20
DIRTY_BACKGROUND_RATIO = 10


def _bad_line(file: str, lineno: int, line: str, expected: str) -> ValueError:
    """The ValueError every parser raises: where, what was there, what was expected."""
    return ValueError(f"{file} line {lineno}: {line.rstrip()!r}: expected {expected}")


# ==========================================================================
# Parsed data
# ==========================================================================
@dataclass
class Pageset:
    """One CPU's ``pagesets`` entry of a zone in /proc/zoneinfo.

    ``extra`` keeps fields of later kernels (``high_min``, ``high_max``).
    """

    cpu: int
    count: int = -1
    high: int = -1
    batch: int = -1
    stat_threshold: int | None = None
    extra: dict[str, int] = field(default_factory=dict)


@dataclass
class ZoneinfoZone:
    """One zone block of /proc/zoneinfo.

    Attributes
    ----------
    name : str
        ``DMA``, ``DMA32``, ``Normal``, ``Movable``, ``Device`` (``HighMem`` on 32-bit).
    pages_free, min, low, high, spanned, present, managed : int
        As printed; min/low/high include any watermark boost in force.
    protection : tuple of int
        ``lowmem_reserve[]``, one value per zone of the node.
    stats : dict
        Zone counters in file order (``nr_free_pages`` ..., ``numa_*``).
    pagesets : list of Pageset
        Per-cpu lists (absent for unpopulated zones).
    node_unreclaimable, start_pfn : int or None
        The closing lines (None in the short form of an empty zone).
    extra : dict
        Keys of other kernels, by name: ``boost``, ``promo``, ``cma``
        (5.1+/6.x), ``scanned``, ``all_unreclaimable``, ``inactive_ratio`` (4.x).
    line : int
        Line number of the zone's ``Node N, zone NAME`` header.
    """

    name: str
    pages_free: int = -1
    min: int = -1
    low: int = -1
    high: int = -1
    spanned: int = -1
    present: int = -1
    managed: int = -1
    protection: tuple[int, ...] = ()
    stats: dict[str, int] = field(default_factory=dict)
    pagesets: list[Pageset] = field(default_factory=list)
    node_unreclaimable: int | None = None
    start_pfn: int | None = None
    extra: dict[str, int] = field(default_factory=dict)
    line: int = 0

    @property
    def populated(self) -> bool:
        """``populated_zone()``: the zone has present pages."""
        return self.present > 0

    @property
    def boost(self) -> int | None:
        """``boost`` line of 5.1+ kernels (None when the file has none)."""
        return self.extra.get("boost")

    @property
    def promo(self) -> int | None:
        """``promo`` watermark line of 6.x kernels (None when absent)."""
        return self.extra.get("promo")

    @property
    def cma(self) -> int | None:
        """``cma`` line of 6.x kernels (None when absent)."""
        return self.extra.get("cma")


@dataclass
class ZoneinfoNode:
    """One node of /proc/zoneinfo: its per-node stats and its zones in file order."""

    node_id: int
    stats: dict[str, int] = field(default_factory=dict)
    stats_zone: str | None = None
    zones: dict[str, ZoneinfoZone] = field(default_factory=dict)


@dataclass
class PagetypeinfoNode:
    """One node of /proc/pagetypeinfo.

    Attributes
    ----------
    types : list of str
        Migratetype names in file order; ``"CMA"`` among them means the
        kernel was built with CONFIG_CMA.
    free : dict
        ``free[zone][type]`` = free blocks per order.
    blocks : dict
        ``blocks[zone][type]`` = pageblocks of that migratetype.
    mixed : dict or None
        The "Number of mixed blocks" section (CONFIG_PAGE_OWNER), if printed.
    capped : set
        ``(zone, type, order)`` whose count a 5.x+ kernel printed as ``>100000``.
    """

    node_id: int
    page_block_order: int = -1
    pages_per_block: int = -1
    orders: int = 0
    types: list[str] = field(default_factory=list)
    free: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    blocks: dict[str, dict[str, int]] = field(default_factory=dict)
    mixed: dict[str, dict[str, int]] | None = None
    capped: set[tuple[str, str, int]] = field(default_factory=set)


# ==========================================================================
# /proc/buddyinfo
# ==========================================================================
_ZONE_ROW = re.compile(r"^Node\s+(\d+),\s+zone\s+(\S+)\s*(.*)$")
_INT = re.compile(r"^-?\d+$")


def _ints(tokens: list[str], file: str, lineno: int, line: str, what: str) -> list[int]:
    for t in tokens:
        if not _INT.match(t):
            raise _bad_line(file, lineno, line, f"{what} (whole numbers), found {t!r}")
    return [int(t) for t in tokens]


def parse_buddyinfo(text: str) -> dict[int, dict[str, list[int]]]:
    """Read /proc/buddyinfo: ``{node: {zone: [free blocks of order 0, 1, ...]}}``.

    Kernel source: mm/vmstat.c ``frag_show_print``, https://elixir.bootlin.com/linux/v5.0/source/mm/vmstat.c#L1353

    Parameters
    ----------
    text
        The file's contents (any kernel; the number of orders is taken from
        the first row and must be the same on every row).

    Raises
    ------
    ValueError
        Naming the line, its text and what was expected, for a garbled or
        truncated row or a zone listed twice.

    Examples
    --------
    >>> parse_buddyinfo("Node 0, zone      DMA      1      0      2 \\n")
    {0: {'DMA': [1, 0, 2]}}
    """
    out: dict[int, dict[str, list[int]]] = {}
    width = None
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _ZONE_ROW.match(line.strip())
        if not m:
            raise _bad_line("buddyinfo", lineno, line,
                            "'Node N, zone NAME' followed by one free-block count per order")
        counts = _ints(m.group(3).split(), "buddyinfo", lineno, line, "free-block counts")
        if width is None:
            if not counts:
                raise _bad_line("buddyinfo", lineno, line, "free-block counts after the zone name")
            width = len(counts)
        elif len(counts) != width:
            raise _bad_line("buddyinfo", lineno, line,
                            f"{width} free-block counts as on the first row, found {len(counts)} "
                            "(truncated?)")
        nid, zone = int(m.group(1)), m.group(2)
        zones = out.setdefault(nid, {})
        if zone in zones:
            raise _bad_line("buddyinfo", lineno, line, f"each zone once; zone {zone} of node "
                            f"{nid} was already listed")
        zones[zone] = counts
    if not out:
        raise ValueError("buddyinfo: no 'Node N, zone NAME ...' rows; expected the text of "
                         "/proc/buddyinfo")
    return out


def format_buddyinfo(data: dict[int, dict[str, list[int]]]) -> str:
    """Print buddyinfo data as v5.0's ``frag_show_print`` does.

    ``"Node %d, zone %8s "`` then ``"%6lu "`` per order: note the trailing space.

    >>> format_buddyinfo({0: {"Normal": [1200, 800, 400, 150, 60, 20, 5, 1, 0, 0, 0]}})
    'Node 0, zone   Normal   1200    800    400    150     60     20      5      1      0      0      0 \\n'
    """  # noqa: E501
    parts = []
    for nid, zones in data.items():
        for zone, counts in zones.items():
            parts.append(f"Node {nid}, zone {zone:>8} " + "".join(f"{c:6d} " for c in counts)
                         + "\n")
    return "".join(parts)


# ==========================================================================
# /proc/pagetypeinfo
# ==========================================================================
_PTI_FREE_HEADER = "Free pages count per migrate type at order"
_PTI_FREE_ROW = re.compile(r"^Node\s+(\d+),\s+zone\s+(\S+),\s+type\s+(\S+)\s*(.*)$")


def parse_pagetypeinfo(text: str) -> dict[int, PagetypeinfoNode]:
    """Read /proc/pagetypeinfo into a :class:`PagetypeinfoNode` per node.

    Tolerates 4.x-6.x layouts: any set of migratetypes (their names come from
    the file), the optional "Number of mixed blocks" section, and the
    ``>100000`` counts of 5.x+ kernels (recorded in ``capped``).

    Kernel source: mm/vmstat.c ``pagetypeinfo_show`` and the functions it
    calls, https://elixir.bootlin.com/linux/v5.0/source/mm/vmstat.c#L1498

    Raises
    ------
    ValueError
        With the line number and text for anything garbled, and for a file
        that ends before a node's "Number of blocks type" section.

    Examples
    --------
    >>> text = '''Page block order: 9
    ... Pages per block:  512
    ...
    ... Free pages count per migrate type at order       0      1
    ... Node    0, zone   Normal, type    Unmovable      3      1
    ... Node    0, zone   Normal, type      Movable      0      2
    ...
    ... Number of blocks type     Unmovable      Movable
    ... Node 0, zone   Normal            1            7
    ... '''
    >>> p = parse_pagetypeinfo(text)[0]
    >>> p.types, p.free["Normal"]["Movable"], p.blocks["Normal"]
    (['Unmovable', 'Movable'], [0, 2], {'Unmovable': 1, 'Movable': 7})
    """
    out: dict[int, PagetypeinfoNode] = {}
    pending: dict[str, int] = {}
    cur: PagetypeinfoNode | None = None
    section = None  # "free", "blocks", "mixed"
    block_types: list[str] = []
    orders = 0
    last_line = 0
    file = "pagetypeinfo"

    def node_for(nid: int, lineno: int, line: str) -> PagetypeinfoNode:
        nonlocal cur
        if cur is None or cur.node_id != nid:
            if nid in out and section == "free":
                raise _bad_line(file, lineno, line, f"rows of node {nid} in one block")
            cur = out.get(nid) or PagetypeinfoNode(nid)
            out[nid] = cur
            cur.page_block_order = pending.get("order", cur.page_block_order)
            cur.pages_per_block = pending.get("ppb", cur.pages_per_block)
            cur.orders = orders
        return cur

    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        last_line = lineno
        if line.startswith("Page block order:"):
            val = line[len("Page block order:"):].strip()
            if not _INT.match(val):
                raise _bad_line(file, lineno, raw, "'Page block order: N'")
            _check_node_complete(cur, lineno, raw)
            pending = {"order": int(val)}
            cur, section = None, None
            continue
        if line.startswith("Pages per block:"):
            val = line[len("Pages per block:"):].strip()
            if not _INT.match(val):
                raise _bad_line(file, lineno, raw, "'Pages per block: N'")
            pending["ppb"] = int(val)
            continue
        if line.startswith(_PTI_FREE_HEADER):
            hdr = _ints(line[len(_PTI_FREE_HEADER):].split(), file, lineno, raw, "order numbers")
            if hdr != list(range(len(hdr))) or not hdr:
                raise _bad_line(file, lineno, raw, "the orders 0 1 2 ... after the header")
            orders = len(hdr)
            section = "free"
            continue
        if line.startswith("Number of blocks type") or line.startswith("Number of mixed blocks"):
            mixed = line.startswith("Number of mixed blocks")
            rest = line[len("Number of mixed blocks" if mixed else "Number of blocks type"):]
            block_types = rest.split()
            if not block_types:
                raise _bad_line(file, lineno, raw, "migratetype names after the header")
            section = "mixed" if mixed else "blocks"
            continue
        m = _PTI_FREE_ROW.match(line)
        if m:
            if section != "free":
                raise _bad_line(file, lineno, raw, "free-count rows only after the "
                                f"'{_PTI_FREE_HEADER}' header")
            nid, zone, mtype = int(m.group(1)), m.group(2), m.group(3)
            node = node_for(nid, lineno, raw)
            tokens = m.group(4).split()
            counts = []
            for order, tok in enumerate(tokens):
                capped = tok.startswith(">")
                if capped:
                    tok = tok[1:]
                if not _INT.match(tok):
                    raise _bad_line(file, lineno, raw, f"free-block counts, found {tok!r}")
                if capped:
                    node.capped.add((zone, mtype, order))
                counts.append(int(tok))
            if len(counts) != orders:
                raise _bad_line(file, lineno, raw, f"{orders} counts (one per order of the "
                                f"header), found {len(counts)} (truncated?)")
            zfree = node.free.setdefault(zone, {})
            if mtype in zfree:
                raise _bad_line(file, lineno, raw, f"type {mtype} once per zone")
            zfree[mtype] = counts
            if mtype not in node.types:
                node.types.append(mtype)
            continue
        m = _ZONE_ROW.match(line)
        if m and section in ("blocks", "mixed"):
            nid, zone = int(m.group(1)), m.group(2)
            node = node_for(nid, lineno, raw)
            counts = _ints(m.group(3).split(), file, lineno, raw, "pageblock counts")
            if len(counts) != len(block_types):
                raise _bad_line(file, lineno, raw, f"{len(block_types)} pageblock counts (one per "
                                f"type of the header), found {len(counts)} (truncated?)")
            target = node.blocks if section == "blocks" else node.mixed
            if target is None:
                node.mixed = target = {}
            if zone in target:
                raise _bad_line(file, lineno, raw, f"zone {zone} once per section")
            target[zone] = dict(zip(block_types, counts, strict=True))
            continue
        raise _bad_line(file, lineno, raw, "a pagetypeinfo line ('Page block order: N', "
                        "'Pages per block: N', a header, 'Node N, zone NAME, type TYPE counts...' "
                        "or 'Node N, zone NAME counts...')")
    if not out:
        raise ValueError("pagetypeinfo: no zone rows; expected the text of /proc/pagetypeinfo")
    _check_node_complete(cur, last_line, text.splitlines()[last_line - 1] if last_line else "")
    for node in out.values():
        _check_node_complete(node, last_line, text.splitlines()[last_line - 1])
    return out


def _check_node_complete(node: PagetypeinfoNode | None, lineno: int, line: str) -> None:
    if node is None:
        return
    for zone, types in node.free.items():
        if zone not in node.blocks:
            raise _bad_line("pagetypeinfo", lineno, line,
                            f"a 'Number of blocks type' row for zone {zone} of node "
                            f"{node.node_id} before this point (file truncated?)")
        missing = [t for t in node.types if t not in types]
        if missing:
            raise _bad_line("pagetypeinfo", lineno, line,
                            f"free-count rows of zone {zone} for every type; missing "
                            f"{', '.join(missing)}")


def format_pagetypeinfo(data: dict[int, PagetypeinfoNode]) -> str:
    """Print pagetypeinfo data in v5.0's layout (``pagetypeinfo_show``).

    Per node: the two header lines and an empty line, the free-count table
    (``"%-43s "`` header, ``"Node %4d, zone %8s, type %12s "`` rows with
    ``"%6lu "`` per order), then ``"\\n%-23s"`` "Number of blocks type " with
    ``"%12s "`` per type and ``"Node %d, zone %8s "`` rows of ``"%12lu "``.
    """
    parts = []
    for nid, node in data.items():
        parts.append(f"Page block order: {node.page_block_order}\n")
        parts.append(f"Pages per block:  {node.pages_per_block}\n\n")
        parts.append(f"{_PTI_FREE_HEADER:<43} " + "".join(f"{o:6d} " for o in range(node.orders))
                     + "\n")
        for zone, types in node.free.items():
            for mtype in node.types:
                parts.append(f"Node {nid:4d}, zone {zone:>8}, type {mtype:>12} "
                             + "".join(f"{c:6d} " for c in types[mtype]) + "\n")
        for title, table in (("Number of blocks type ", node.blocks),
                             ("Number of mixed blocks ", node.mixed)):
            if table is None:
                continue
            names = list(next(iter(table.values()))) if table else list(node.types)
            parts.append(f"\n{title:<23}" + "".join(f"{t:>12} " for t in names) + "\n")
            for zone, counts in table.items():
                parts.append(f"Node {nid}, zone {zone:>8} "
                             + "".join(f"{counts[t]:12d} " for t in names) + "\n")
    return "".join(parts)


# ==========================================================================
# /proc/zoneinfo
# ==========================================================================
_ZI_HEADER = re.compile(r"^Node\s+(\d+),\s+zone\s+(\S+)$")
_ZI_PAGES_FREE = re.compile(r"^pages free\s+(-?\d+)$")
_ZI_CPU = re.compile(r"^cpu:\s*(\d+)$")
_ZI_THRESHOLD = re.compile(r"^vm stats threshold:\s*(-?\d+)$")
_ZI_PROTECTION = re.compile(r"^protection:\s*\(([^)]*)\)$")
_ZI_COLON = re.compile(r"^([A-Za-z_][\w]*):\s*(-?\d+)$")
_ZI_PLAIN = re.compile(r"^([A-Za-z_][\w]*)\s+(-?\d+)$")
#: zone-header keys (everything else with a number is a counter)
_ZI_ZONE_KEYS = ("min", "low", "high", "spanned", "present", "managed")
_ZI_ZONE_EXTRA_KEYS = ("boost", "promo", "cma", "scanned")
_ZI_PAGESET_KEYS = ("count", "high", "batch")
#: lines every zone block must have (the watermarks and protection may be left out:
#: node_from_proc recomputes them)
_ZI_REQUIRED = ("pages_free", "spanned", "present", "managed")


def parse_zoneinfo(text: str) -> dict[int, ZoneinfoNode]:
    """Read /proc/zoneinfo into a :class:`ZoneinfoNode` per node.

    Lines are matched by their key, never by position, so the layouts of
    4.x (``scanned``, counters before ``protection``, ``all_unreclaimable``,
    ``inactive_ratio``, no empty zones), 5.0 and 6.x (``boost``, ``promo``,
    ``cma``, ``high_min``/``high_max``, more counters) all read. Empty zones
    in short form (no counters, no pagesets) are accepted.

    Kernel source: mm/vmstat.c ``zoneinfo_show_print``, https://elixir.bootlin.com/linux/v5.0/source/mm/vmstat.c#L1544

    Raises
    ------
    ValueError
        Naming the line number, its text and what was expected: for an
        unknown line, a repeated key, a zone block that lacks one of pages
        free/spanned/present/managed, or a populated zone that ends before its
        ``start_pfn:`` line (a truncated file). Missing min/low/high or
        protection lines are allowed (they stay -1 and ``()``).

    Examples
    --------
    >>> z = parse_zoneinfo('''Node 0, zone   Normal
    ...   pages free     60243
    ...         min      2943
    ...         low      3678
    ...         high     4413
    ...         spanned  0
    ...         present  0
    ...         managed  0
    ...         protection: (0, 0, 0, 0, 0)''')[0].zones["Normal"]
    >>> z.min, z.protection, z.populated
    (2943, (0, 0, 0, 0, 0), False)
    """
    file = "zoneinfo"
    out: dict[int, ZoneinfoNode] = {}
    node: ZoneinfoNode | None = None
    zone: ZoneinfoZone | None = None
    mode = None  # "node" (per-node stats), "zone", "pagesets"
    cpu: Pageset | None = None
    last = (0, "")
    lines = text.splitlines()

    def finish(z: ZoneinfoZone | None, lineno: int, line: str) -> None:
        if z is None:
            return
        for key in _ZI_REQUIRED:
            if getattr(z, key) == -1:
                label = "pages free" if key == "pages_free" else key
                raise _bad_line(file, lineno, line, f"a '{label}' line in zone {z.name} "
                                f"(header on line {z.line}) before the next zone (truncated?)")
        if z.populated and z.start_pfn is None:
            raise _bad_line(file, lineno, line, f"zone {z.name} (header on line {z.line}) to end "
                            "with its 'start_pfn:' line; the file looks truncated")
        for ps in z.pagesets:
            for key in _ZI_PAGESET_KEYS:
                if getattr(ps, key) == -1:
                    raise _bad_line(file, lineno, line, f"'{key}:' for cpu {ps.cpu} of zone "
                                    f"{z.name} (truncated?)")

    for lineno, raw in enumerate(lines, 1):
        s = raw.strip()
        if not s:
            continue
        m = _ZI_HEADER.match(s)
        if m:
            finish(zone, last[0], last[1])
            nid, name = int(m.group(1)), m.group(2)
            node = out.get(nid)
            if node is None:
                node = out[nid] = ZoneinfoNode(nid)
            if name in node.zones:
                raise _bad_line(file, lineno, raw, f"each zone once per node; zone {name} of "
                                f"node {nid} already appeared")
            zone = node.zones[name] = ZoneinfoZone(name, line=lineno)
            mode, cpu = "zone", None
            last = (lineno, raw)
            continue
        last = (lineno, raw)
        if zone is None or node is None:
            raise _bad_line(file, lineno, raw, "'Node N, zone NAME' as the first line")
        if s == "per-node stats":
            if node.stats_zone is not None:
                raise _bad_line(file, lineno, raw, "one 'per-node stats' block per node")
            node.stats_zone = zone.name
            mode = "node"
            continue
        m = _ZI_PAGES_FREE.match(s)
        if m:
            if zone.pages_free != -1:
                raise _bad_line(file, lineno, raw, "one 'pages free' line per zone")
            zone.pages_free = int(m.group(1))
            mode = "zone"
            continue
        if s == "pagesets":
            mode, cpu = "pagesets", None
            continue
        m = _ZI_CPU.match(s)
        if m:
            if mode != "pagesets":
                raise _bad_line(file, lineno, raw, "'cpu: N' only after 'pagesets'")
            cpu = Pageset(int(m.group(1)))
            zone.pagesets.append(cpu)
            continue
        m = _ZI_THRESHOLD.match(s)
        if m:
            value = int(m.group(1))
            if cpu is not None:
                cpu.stat_threshold = value
            zone.extra["vm_stats_threshold"] = value
            continue
        m = _ZI_PROTECTION.match(s)
        if m:
            toks = [t.strip() for t in m.group(1).split(",")]
            if zone.protection or not all(_INT.match(t) for t in toks):
                raise _bad_line(file, lineno, raw, "one 'protection: (n, n, ...)' line of whole "
                                "numbers per zone")
            zone.protection = tuple(int(t) for t in toks)
            continue
        m = _ZI_COLON.match(s)
        if m:
            key, value = m.group(1), int(m.group(2))
            if mode == "pagesets" and cpu is not None and key in (*_ZI_PAGESET_KEYS, "high_min",
                                                                 "high_max"):
                if key in _ZI_PAGESET_KEYS:
                    if getattr(cpu, key) != -1:
                        raise _bad_line(file, lineno, raw, f"one '{key}:' per cpu")
                    setattr(cpu, key, value)
                else:
                    cpu.extra[key] = value
                continue
            if key == "node_unreclaimable":
                zone.node_unreclaimable = value
            elif key == "start_pfn":
                zone.start_pfn = value
            else:
                zone.extra[key] = value
            continue
        m = _ZI_PLAIN.match(s)
        if m:
            key, value = m.group(1), int(m.group(2))
            if mode == "node":
                if key in node.stats:
                    raise _bad_line(file, lineno, raw, f"counter {key} once per node")
                node.stats[key] = value
            elif mode == "zone" and key in _ZI_ZONE_KEYS and zone.pages_free != -1 \
                    and getattr(zone, key) == -1:
                setattr(zone, key, value)
            elif mode == "zone" and key in _ZI_ZONE_EXTRA_KEYS and key not in zone.extra:
                zone.extra[key] = value
            elif mode == "zone" and key not in _ZI_ZONE_KEYS and key not in _ZI_ZONE_EXTRA_KEYS:
                if key in zone.stats:
                    raise _bad_line(file, lineno, raw, f"counter {key} once per zone")
                zone.stats[key] = value
            else:
                raise _bad_line(file, lineno, raw, f"'{key}' once per zone, after 'pages free'")
            continue
        raise _bad_line(file, lineno, raw, "a zoneinfo line: 'Node N, zone NAME', 'per-node "
                        "stats', 'pages free N', '<name> <number>', 'protection: (...)', "
                        "'pagesets', 'cpu: N', '<key>: <number>'")
    if zone is None:
        raise ValueError("zoneinfo: no 'Node N, zone NAME' header; expected the text of "
                         "/proc/zoneinfo")
    finish(zone, last[0], last[1])
    return out


def format_zoneinfo(data: dict[int, ZoneinfoNode]) -> str:
    """Print zoneinfo data exactly as v5.0's ``zoneinfo_show_print``.

    Keys that v5.0 does not print (``boost``, ``promo``, ``cma``, ``scanned``,
    ``high_min`` ...) are left out; counters are printed in the order stored.
    "per-node stats" go under the zone recorded in ``stats_zone`` (the node's
    first populated zone), and ``vm stats threshold`` once per CPU (CONFIG_SMP).

    Kernel source: mm/vmstat.c ``zoneinfo_show_print``, https://elixir.bootlin.com/linux/v5.0/source/mm/vmstat.c#L1544
    """
    parts: list[str] = []
    for nid, node in data.items():
        for z in node.zones.values():
            parts.append(f"Node {nid}, zone {z.name:>8}")
            if node.stats_zone == z.name:
                parts.append("\n  per-node stats")
                parts.extend(f"\n      {k:<12} {v}" for k, v in node.stats.items())
            parts.append(f"\n  pages free     {z.pages_free}"
                         f"\n        min      {z.min}"
                         f"\n        low      {z.low}"
                         f"\n        high     {z.high}"
                         f"\n        spanned  {z.spanned}"
                         f"\n        present  {z.present}"
                         f"\n        managed  {z.managed}")
            parts.append("\n        protection: (" + ", ".join(str(p) for p in z.protection)
                         + ")")
            if not z.populated:
                parts.append("\n")
                continue
            parts.extend(f"\n      {k:<12} {v}" for k, v in z.stats.items())
            parts.append("\n  pagesets")
            for ps in z.pagesets:
                parts.append(f"\n    cpu: {ps.cpu}"
                             f"\n              count: {ps.count}"
                             f"\n              high:  {ps.high}"
                             f"\n              batch: {ps.batch}")
                if ps.stat_threshold is not None:
                    parts.append(f"\n  vm stats threshold: {ps.stat_threshold}")
            unreclaimable = z.node_unreclaimable
            if unreclaimable is None:
                unreclaimable = z.extra.get("all_unreclaimable", 0)
            parts.append(f"\n  node_unreclaimable:  {unreclaimable}"
                         f"\n  start_pfn:           {z.start_pfn}\n")
    return "".join(parts)


# ==========================================================================
# /proc/vmstat and the debugfs index files
# ==========================================================================
_VMSTAT_LINE = re.compile(r"^(\S+)\s+(-?\d+)$")


def parse_vmstat(text: str) -> dict[str, int]:
    """Read /proc/vmstat: ``{name: value}`` in file order.

    >>> parse_vmstat("nr_free_pages 836370\\npgfault 12\\n")
    {'nr_free_pages': 836370, 'pgfault': 12}
    """
    out: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _VMSTAT_LINE.match(line.strip())
        if not m:
            raise _bad_line("vmstat", lineno, line, "'<name> <number>'")
        if m.group(1) in out:
            raise _bad_line("vmstat", lineno, line, f"each counter once; {m.group(1)} repeats")
        out[m.group(1)] = int(m.group(2))
    if not out:
        raise ValueError("vmstat: no '<name> <number>' lines; expected the text of /proc/vmstat")
    return out


def format_vmstat(data: dict[str, int]) -> str:
    """``"%s %lu\\n"`` per counter, in the order given.

    Kernel source: mm/vmstat.c ``vmstat_show``, https://elixir.bootlin.com/linux/v5.0/source/mm/vmstat.c#L1708
    """
    return "".join(f"{k} {v}\n" for k, v in data.items())


_INDEX = re.compile(r"^(-?\d+)\.(-?\d+)$")


def parse_index_file(text: str, file: str = "extfrag_index") -> dict[int, dict[str, list[int]]]:
    """Read debugfs ``extfrag_index`` or ``unusable_index``: thousandths per order.

    Each value is printed as ``index / 1000`` and ``index % 1000`` with C
    truncation, so ``-1.000`` is -1000 and the oddity ``0.-500`` is -500.

    Kernel source: mm/vmstat.c ``unusable_show_print`` and
    ``extfrag_show_print``, https://elixir.bootlin.com/linux/v5.0/source/mm/vmstat.c#L2007

    >>> parse_index_file("Node 0, zone   Normal -1.000 0.994 0.-500 \\n")
    {0: {'Normal': [-1000, 994, -500]}}
    """
    out: dict[int, dict[str, list[int]]] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _ZONE_ROW.match(line.strip())
        if not m or not m.group(3).split():
            raise _bad_line(file, lineno, line, "'Node N, zone NAME' followed by one "
                            "'%d.%03d' value per order")
        values = []
        for tok in m.group(3).split():
            v = _INDEX.match(tok)
            if not v:
                raise _bad_line(file, lineno, line, f"values like 0.994 or -1.000, found {tok!r}")
            values.append(int(v.group(1)) * 1000 + int(v.group(2)))
        zones = out.setdefault(int(m.group(1)), {})
        if m.group(2) in zones:
            raise _bad_line(file, lineno, line, f"zone {m.group(2)} once per node")
        zones[m.group(2)] = values
    if not out:
        raise ValueError(f"{file}: no 'Node N, zone NAME ...' rows")
    return out


def format_index_file(data: dict[int, dict[str, list[int]]]) -> str:
    """``"Node %d, zone %8s "`` then ``"%d.%03d "`` per order (``extfrag_show_print``).

    >>> format_index_file({0: {"Normal": [-1000, 994, -500]}})
    'Node 0, zone   Normal -1.000 0.994 0.-500 \\n'
    """
    return "".join(f"Node {nid}, zone {zone:>8} " + "".join(f"{format_index(v)} " for v in vals)
                   + "\n" for nid, zones in data.items() for zone, vals in zones.items())


PARSERS = {
    "zoneinfo": parse_zoneinfo,
    "buddyinfo": parse_buddyinfo,
    "pagetypeinfo": parse_pagetypeinfo,
    "vmstat": parse_vmstat,
    "extfrag_index": lambda text: parse_index_file(text, "extfrag_index"),
    "unusable_index": lambda text: parse_index_file(text, "unusable_index"),
}
FORMATTERS = {
    "zoneinfo": format_zoneinfo,
    "buddyinfo": format_buddyinfo,
    "pagetypeinfo": format_pagetypeinfo,
    "vmstat": format_vmstat,
    "extfrag_index": format_index_file,
    "unusable_index": format_index_file,
}


def _check_name(name: object) -> str:
    if name not in FILES:
        raise ValueError(f"name: unknown file {name!r}; allowed {', '.join(FILES)}")
    assert isinstance(name, str)
    return name


def parse(name: str, text: str) -> Any:
    """Parse the text of file ``name`` (one of :data:`FILES`) with its parser."""
    return PARSERS[_check_name(name)](text)


def format_file(name: str, data: Any) -> str:
    """Print parsed data of file ``name`` in v5.0's layout (inverse of :func:`parse`)."""
    return FORMATTERS[_check_name(name)](data)


# ==========================================================================
# From a node: what each file shows
# ==========================================================================
def node_stat_values(node: Node) -> dict[str, int]:
    """The node's "per-node stats" as /proc/zoneinfo prints them, in v5.0 order.

    Four counters are derived from what the frame map knows:
    ``nr_anon_pages`` counts ``FRAME_ANON`` frames, ``nr_file_pages``
    ``FRAME_FILE``, ``nr_slab_reclaimable`` ``FRAME_SLAB`` and
    ``nr_slab_unreclaimable`` ``FRAME_KERNEL`` frames. The five LRU sizes
    (``nr_inactive_anon`` ... ``nr_unevictable``) are the lengths of the node's
    LRU lists once reclaim has created them (``node.lruvec``); every other
    counter, and the LRU sizes before that, is ``node.node_stat.get(name, 0)``.

    Simplifications
    ---------------
    All unmovable kernel memory (``FRAME_KERNEL``) is reported as
    unreclaimable slab; the kernel splits it over slab, page tables, stacks and
    untracked allocations. Isolated frames are in neither the anon nor the file
    count.

    Examples
    --------
    >>> from mmsim import Node
    >>> node = Node.build(zones={"Normal": 4096})
    >>> _ = node.alloc_pages(0, "GFP_HIGHUSER_MOVABLE", kind="file")
    >>> node_stat_values(node)["nr_file_pages"]
    1
    """
    lru = _lru_sizes(node)
    values = {}
    for name in NODE_STAT_ITEMS:
        state = DERIVED_NODE_STATS.get(name)
        if state is not None:
            values[name] = sum(z.nr_state[state] for z in node.zones)
        elif lru is not None and name in lru[0]:
            values[name] = lru[1].lists[lru[0].index(name)].nr_pages
        else:
            values[name] = node.node_stat.get(name, 0)
    return values


def _lru_sizes(node: Node) -> tuple[tuple[str, ...], Any] | None:
    """``(names, lruvec)`` once reclaim keeps LRU lists for ``node``, else None."""
    lruvec = getattr(node, "lruvec", None)
    if lruvec is None:
        return None
    from mmsim.mm.swap import lru_node_stat

    return lru_node_stat, lruvec


def zone_stat_values(zone: Zone) -> dict[str, int]:
    """The zone's counters as /proc/zoneinfo prints them (NUMA ones with CONFIG_NUMA).

    ``nr_free_pages`` and ``nr_free_cma`` are the buddy allocator's own
    counts, the ``nr_zone_*`` LRU sizes come from the node's LRU lists once
    reclaim keeps them (``node.lruvec.zone_size``); the rest is
    ``zone.vm_stat.get(name, 0)``.
    """
    lruvec = getattr(zone.node, "lruvec", None)
    lru_names: tuple[str, ...] = ()
    if lruvec is not None:
        from mmsim.mm.swap import lru_zone_stat as lru_names
    values = {}
    for name in ZONE_STAT_ITEMS:
        if name == "nr_free_pages":
            values[name] = zone.nr_free_pages
        elif name == "nr_free_cma":
            values[name] = zone.nr_free_cma
        elif name in lru_names:
            values[name] = int(lruvec.zone_size[zone.idx, lru_names.index(name)])
        else:
            values[name] = zone.vm_stat.get(name, 0)
    if zone.node.machine.config.numa:
        for name in NUMA_STAT_ITEMS:
            values[name] = zone.vm_stat.get(name, 0)
    return values


def zoneinfo_data(node: Node) -> dict[int, ZoneinfoNode]:
    """What /proc/zoneinfo shows of ``node``, as parsed data."""
    info = ZoneinfoNode(node.node_id)
    first = next((z for z in node.zones if z.present_pages), None)
    if first is not None:
        info.stats_zone = first.name
        info.stats = node_stat_values(node)
    unreclaimable = int(node.kswapd_failures >= MAX_RECLAIM_RETRIES)
    for z in node.zones:
        zi = ZoneinfoZone(z.name, pages_free=z.nr_free_pages, min=z.min_wmark_pages,
                          low=z.low_wmark_pages, high=z.high_wmark_pages,
                          spanned=z.spanned_pages, present=z.present_pages,
                          managed=z.managed_pages, protection=tuple(z.lowmem_reserve))
        if z.present_pages:
            zi.stats = zone_stat_values(z)
            zi.pagesets = [Pageset(cpu, p.count, p.high, p.batch, z.stat_threshold)
                           for cpu, p in enumerate(z.pageset)]
            zi.node_unreclaimable = unreclaimable
            zi.start_pfn = z.zone_start_pfn
        info.zones[z.name] = zi
    return {node.node_id: info}


def buddyinfo_data(node: Node) -> dict[int, dict[str, list[int]]]:
    """What /proc/buddyinfo shows of ``node``: populated zones only."""
    return {node.node_id: {z.name: z.nr_free_by_order() for z in node.zones if z.present_pages}}


def _types(node: Node) -> list[int]:
    """Migratetypes the kernel build has: no CMA list without CONFIG_CMA."""
    return [mt for mt in range(MIGRATE_TYPES)
            if node.machine.config.cma or mt != MIGRATE_CMA]


def pagetypeinfo_data(node: Node) -> dict[int, PagetypeinfoNode]:
    """What /proc/pagetypeinfo shows of ``node`` (nothing for a memoryless node)."""
    if not node.node_present_pages:
        return {}
    types = _types(node)
    info = PagetypeinfoNode(node.node_id, pageblock_order, pageblock_nr_pages, MAX_ORDER,
                            [migratetype_names[mt] for mt in types])
    for z in node.zones:
        if not z.present_pages:
            continue
        by_type = z.nr_free_by_type()
        counts = z.pageblock_counts()
        info.free[z.name] = {migratetype_names[mt]: by_type[mt] for mt in types}
        info.blocks[z.name] = {migratetype_names[mt]: counts[mt] for mt in types}
    return {node.node_id: info}


def dirty_limits(machine: Machine) -> tuple[int, int]:
    """``global_dirty_limits``: ``(nr_dirty_threshold, nr_dirty_background_threshold)``.

    Dirtyable memory is free pages less ``totalreserve_pages`` plus the file
    LRU pages, plus one; the ratios are turned into per-``PAGE_SIZE`` units
    first (20 % → 819, 10 % → 409) and applied with integer division; the
    background threshold is halved to below the hard one if it is not already.

    Kernel source: mm/page-writeback.c ``global_dirtyable_memory`` and
    ``domain_dirty_limits``, https://elixir.bootlin.com/linux/v5.0/ident/domain_dirty_limits

    Examples
    --------
    >>> from mmsim import Node
    >>> node = Node.build(zones={"Normal": 262144})
    >>> free = node.nr_free_pages - node.machine.totalreserve_pages + 1
    >>> dirty_limits(node.machine) == (819 * free // 4096, 409 * free // 4096)
    True
    """
    free = sum(z.nr_free_pages for z in machine.for_each_zone())
    x = free - min(free, machine.totalreserve_pages)
    for node in machine.nodes:
        stats = node_stat_values(node)
        x += stats["nr_inactive_file"] + stats["nr_active_file"]
    available = x + 1
    page_size = 4096
    ratio = VM_DIRTY_RATIO * page_size // 100
    bg_ratio = DIRTY_BACKGROUND_RATIO * page_size // 100
    thresh = ratio * available // page_size
    bg_thresh = bg_ratio * available // page_size
    if bg_thresh >= thresh:
        bg_thresh = thresh // 2
    return thresh, bg_thresh


def vmstat_data(machine: Machine) -> dict[str, int]:
    """What /proc/vmstat shows: ``vmstat_text[]`` of the machine's kernel build, in order.

    Zone counters summed over every zone, NUMA counters (CONFIG_NUMA), node
    counters summed over nodes, the two dirty thresholds, then the events of
    ``machine.vm_events``; ``pgpgin``/``pgpgout`` are kept in 512-byte
    sectors, as the kernel counts them, and printed halved (KiB).
    """
    numa = machine.config.numa
    out: dict[str, int] = {}
    zones = list(machine.for_each_zone())
    zone_values = [zone_stat_values(z) for z in zones]
    for name in ZONE_STAT_ITEMS + (NUMA_STAT_ITEMS if numa else ()):
        out[name] = sum(v[name] for v in zone_values)
    node_values = [node_stat_values(n) for n in machine.nodes]
    for name in NODE_STAT_ITEMS:
        out[name] = sum(v[name] for v in node_values)
    thresh, bg_thresh = dirty_limits(machine)
    out[WRITEBACK_STAT_ITEMS[0]] = thresh
    out[WRITEBACK_STAT_ITEMS[1]] = bg_thresh
    events = machine.vm_events
    for name in VM_EVENT_ITEMS:
        if not numa and name in _NUMA_EVENTS:
            continue
        value = events.get(name, 0)
        out[name] = value // 2 if name in ("pgpgin", "pgpgout") else value
    return out


def extfrag_index_data(node: Node) -> dict[int, dict[str, list[int]]]:
    """``fragmentation_index`` of every populated zone for orders 0..10."""
    return {node.node_id: {z.name: [fragmentation_index(z, o) for o in range(MAX_ORDER)]
                           for z in node.zones if z.present_pages}}


def unusable_index_data(node: Node) -> dict[int, dict[str, list[int]]]:
    """``unusable_free_index`` of every populated zone (nothing for a memoryless node)."""
    return {node.node_id: {z.name: [unusable_free_index(z, o) for o in range(MAX_ORDER)]
                           for z in node.zones if z.present_pages}}


def snapshot(node: Node, name: str) -> Any:
    """The parsed-data form of ``node``'s file ``name`` (what :func:`render` prints)."""
    name = _check_name(name)
    if name == "zoneinfo":
        return zoneinfo_data(node)
    if name == "buddyinfo":
        return buddyinfo_data(node)
    if name == "pagetypeinfo":
        return pagetypeinfo_data(node)
    if name == "vmstat":
        return vmstat_data(node.machine)
    if name == "extfrag_index":
        return extfrag_index_data(node)
    data = unusable_index_data(node)
    return data if node.node_present_pages else {}


def render(node: Node, name: str) -> str:
    """``node``'s file ``name`` in Linux v5.0's exact format.

    Kernel source: mm/vmstat.c (/proc files and debugfs extfrag), https://elixir.bootlin.com/linux/v5.0/source/mm/vmstat.c

    Parameters
    ----------
    node
        A built node (:meth:`mmsim.Node.build` or :func:`node_from_proc`).
    name
        ``zoneinfo``, ``buddyinfo``, ``pagetypeinfo``, ``vmstat``,
        ``extfrag_index`` or ``unusable_index``.

    Raises
    ------
    ValueError
        For any other name; the message lists the allowed ones.

    Examples
    --------
    >>> from mmsim import Node
    >>> print(render(Node.build(zones={"Normal": 4096}), "buddyinfo"), end="")
    ... # doctest: +NORMALIZE_WHITESPACE
    Node 0, zone   Normal      0      0      0      0      0      0      0      0      0      0      4
    >>> render(Node.build(zones={"Normal": 4096}), "meminfo")
    Traceback (most recent call last):
    ...
    ValueError: name: unknown file 'meminfo'; allowed zoneinfo, buddyinfo, pagetypeinfo, vmstat, extfrag_index, unusable_index
    """  # noqa: E501
    name = _check_name(name)
    return FORMATTERS[name](snapshot(node, name))


# ==========================================================================
# From /proc text to a node
# ==========================================================================
#: pageblock order in which migratetype runs are laid out (Movable last)
_TYPE_LAYOUT_ORDER = (MIGRATE_UNMOVABLE, MIGRATE_RECLAIMABLE, MIGRATE_HIGHATOMIC, MIGRATE_CMA,
                      MIGRATE_ISOLATE, MIGRATE_MOVABLE)
_UNSET = 0xFE  #: scratch marker for "not free, not decided yet" frames


@dataclass
class _ZonePlan:
    """What one zone must look like, gathered from the files."""

    idx: int
    start: int
    spanned: int
    present: int
    managed: int
    free: list[list[int]]  #: ``free[mt][order]`` blocks
    blocks: list[int] | None  #: pageblocks per migratetype, or None (unknown)
    pcp: list[int]  #: pages on each CPU's per-cpu lists


class _Pool:
    """Aligned chunks of one migratetype's pageblocks that free blocks may take.

    ``free[o]`` and ``tainted[o]`` are stacks of chunk pfns of order ``o``
    (lowest address on top at the start). A *tainted* chunk must keep at
    least one frame that is not free: it is the buddy of a free block of the
    same order, which the kernel would otherwise have merged.
    """

    __slots__ = ("free", "tainted")

    def __init__(self) -> None:
        self.free: list[list[int]] = [[] for _ in range(MAX_ORDER)]
        self.tainted: list[list[int]] = [[] for _ in range(MAX_ORDER)]

    def add_range(self, a: int, b: int) -> None:
        """Add ``[a, b)`` as maximal aligned chunks (``__free_pages_memory`` cuts)."""
        top = MAX_ORDER - 1
        big = 1 << top
        head_end = min(b, (a + big - 1) & ~(big - 1))
        tail_start = max(head_end, b & ~(big - 1))
        for lo, hi in ((a, head_end), (tail_start, b)):
            p = lo
            while p < hi:
                o = top if p == 0 else min(top, (p & -p).bit_length() - 1)
                while p + (1 << o) > hi:
                    o -= 1
                self.free[o].append(p)
                p += 1 << o
        if tail_start > head_end:
            self.free[top].extend(range(head_end, tail_start, big))

    def finish(self) -> None:
        for stack in self.free:
            stack.sort(reverse=True)

    def take(self, order: int, placed: list[set[int]]) -> int | None:
        """Best fit for a free block of ``order``; None if this pool has no room.

        Exact untainted chunks first (no cost), then tainted larger ones (the
        taint moves down to the block's buddy), then untainted larger ones
        (which creates a new taint).
        """
        stack = self.free[order]
        while stack:
            p = stack.pop()
            if order < MAX_ORDER - 1 and (p ^ (1 << order)) in placed[order]:
                self.tainted[order].append(p)  # its buddy is already a free block
                continue
            return p
        for source in (self.tainted, self.free):
            for j in range(order + 1, MAX_ORDER):
                if source[j]:
                    p = source[j].pop()
                    while j > order:
                        j -= 1
                        (self.tainted if j == order else self.free)[j].append(p + (1 << j))
                    return p
        return None


def _pageblock_runs(plan: _ZonePlan) -> tuple[list[tuple[int, int, int]], int, list[int]]:
    """Decide the pageblocks of a zone: ``(runs, hole_frames, probe_pfns)``.

    ``runs`` are ``(start_pfn, end_pfn, migratetype)`` of live memory; the
    pageblocks left out are holes. ``pageblock_counts`` probes one pfn per
    ``pageblock_nr_pages`` step from the zone start and skips holes, so a
    zone whose pagetypeinfo counts fewer pageblocks than it spans gets that
    many whole pageblocks of holes, at its end.
    """
    start, end = plan.start, plan.start + plan.spanned
    pb_lo = start >> pageblock_order
    pb_hi = (end - 1) >> pageblock_order
    steps = (plan.spanned + pageblock_nr_pages - 1) // pageblock_nr_pages
    probes = [start + k * pageblock_nr_pages for k in range(steps)]

    def frames(pb: int) -> tuple[int, int]:
        return max(start, pb << pageblock_order), min(end, (pb + 1) << pageblock_order)

    name = zone_names[plan.idx]
    if plan.blocks is not None:
        counted = sum(plan.blocks)
        if counted > steps:
            raise ValueError(f"pagetypeinfo: zone {name} counts {counted} pageblocks but spans "
                             f"only {steps} ({plan.spanned} pages); allowed at most {steps}")
        n_holes = steps - counted
    else:
        n_holes = (plan.spanned - plan.present) // pageblock_nr_pages
    while True:
        live_pbs = [pb for pb in range(pb_lo, pb_hi + 1) if pb - pb_lo < steps - n_holes]
        if n_holes == 0 and pb_hi - pb_lo + 1 > steps:
            live_pbs.append(pb_hi)  # the unprobed tail of an unaligned zone
        live = sum(frames(pb)[1] - frames(pb)[0] for pb in live_pbs)
        if live >= plan.managed:
            break
        if plan.blocks is not None:
            raise ValueError(
                f"pagetypeinfo: zone {name} counts {sum(plan.blocks)} pageblocks "
                f"({live} pages) but zoneinfo says managed {plan.managed}; the files do not "
                "belong together")
        n_holes -= 1
    # migratetypes of the counted pageblocks, one run per type
    types = [MIGRATE_MOVABLE] * len(live_pbs)
    if plan.blocks is not None:
        i = 0
        for mt in _TYPE_LAYOUT_ORDER:
            for _ in range(plan.blocks[mt]):
                types[i] = mt
                i += 1
    runs: list[tuple[int, int, int]] = []
    for pb, mt in zip(live_pbs, types, strict=True):
        a, b = frames(pb)
        if runs and runs[-1][1] == a and runs[-1][2] == mt:
            runs[-1] = (runs[-1][0], b, mt)
        else:
            runs.append((a, b, mt))
    return runs, plan.spanned - live, probes


def _lay_out_zone(node: Node, zone: Zone, plan: _ZonePlan) -> tuple[np.ndarray, np.ndarray]:
    """Place free blocks, holes, reserved and allocated frames of one zone.

    Returns ``(allocated, pcp)``: node-relative indices of the allocated frames
    (kinds still to be chosen) and of the frames for the per-cpu lists.
    """
    name = zone.name
    free_pages = sum(n << o for row in plan.free for o, n in enumerate(row))
    if free_pages > plan.managed:
        raise ValueError(f"buddyinfo: zone {name} lists {free_pages} free pages but zoneinfo's "
                         f"managed is {plan.managed}; allowed at most managed (the files were "
                         "read at different times or belong to different machines)")
    if free_pages + sum(plan.pcp) > plan.managed:
        raise ValueError(f"zoneinfo: zone {name} has {sum(plan.pcp)} pages on per-cpu lists "
                         f"and {free_pages} free pages, more than managed {plan.managed}")
    runs, hole_frames, probes = _pageblock_runs(plan)
    base = node.node_start_pfn
    start = plan.start
    pools: dict[int, _Pool] = {}
    for a, b, mt in runs:
        pools.setdefault(mt, _Pool()).add_range(a, b)
        node.pageblock_mt[(a >> pageblock_order) - node.pb_base:
                          ((b - 1) >> pageblock_order) - node.pb_base + 1] = mt
    for pool in pools.values():
        pool.finish()
    # place free blocks, largest first, in pageblocks of their own type if possible
    placed: list[set[int]] = [set() for _ in range(MAX_ORDER)]
    blocks: list[tuple[int, int, int]] = []
    for order in range(MAX_ORDER - 1, -1, -1):
        for mt in range(MIGRATE_TYPES):
            n = plan.free[mt][order]
            if not n:
                continue
            order_of_pools = [pools[mt]] if mt in pools else []
            order_of_pools += [p for t, p in pools.items() if t != mt]
            for _ in range(n):
                for pool in order_of_pools:
                    pfn = pool.take(order, placed)
                    if pfn is not None:
                        break
                else:
                    raise ValueError(
                        f"buddyinfo: cannot place the free blocks of zone {name}: no room left "
                        f"for an order-{order} block among {plan.managed} managed pages; the "
                        "free counts do not fit the zone's size")
                placed[order].add(pfn)
                blocks.append((pfn, order, mt))
    # frame states of the zone
    st = np.full(plan.spanned, _UNSET, dtype=np.uint8)
    is_live = np.zeros(plan.spanned, dtype=bool)
    for a, b, _mt in runs:
        is_live[a - start:b - start] = True
    st[~is_live] = FRAME_HOLE
    if blocks:
        arr = np.array(blocks, dtype=np.int64)
        delta = np.zeros(plan.spanned + 1, dtype=np.int64)
        np.add.at(delta, arr[:, 0] - start, 1)
        np.add.at(delta, arr[:, 0] - start + (np.int64(1) << arr[:, 1]), -1)
        st[np.cumsum(delta[:-1]) > 0] = FRAME_FREE
    others = np.flatnonzero(st == _UNSET)
    unmanaged = plan.spanned - hole_frames - plan.managed
    # preferred split of the unmanaged live frames: holes up to spanned - present
    extra_holes = min(max(0, plan.spanned - plan.present - hole_frames), unmanaged)
    probe = np.zeros(plan.spanned, dtype=bool)
    probe[np.asarray(probes, dtype=np.int64) - start] = True
    hole_ok = others[~probe[others]][:extra_holes]
    st[hole_ok] = FRAME_HOLE
    others = np.flatnonzero(st == _UNSET)
    st[others[:unmanaged - len(hole_ok)]] = FRAME_RESERVED
    managed_busy = np.flatnonzero(st == _UNSET)
    n_pcp = sum(plan.pcp)
    pcp = managed_busy[len(managed_busy) - n_pcp:] if n_pcp else managed_busy[:0]
    allocated = managed_busy[:len(managed_busy) - n_pcp]
    st[pcp] = FRAME_PCP
    st[allocated] = FRAME_ANON  # kind decided later, node-wide
    lo = start - base
    node.state[lo:lo + plan.spanned] = st
    node.head_order[allocated + lo] = 0
    # free lists and counters
    from mmsim.mm.page_alloc import add_to_free_area

    zone.nr_free_pages = zone.nr_free_cma = 0
    for pfn, order, mt in blocks:
        add_to_free_area(zone, pfn, order, mt)
        if mt != MIGRATE_ISOLATE:
            zone.nr_free_pages += 1 << order
        if mt == MIGRATE_CMA:
            zone.nr_free_cma += 1 << order
    if plan.blocks is not None:
        zone.nr_reserved_highatomic = plan.blocks[MIGRATE_HIGHATOMIC] * pageblock_nr_pages
        if plan.blocks[MIGRATE_ISOLATE]:
            zone.nr_isolate_pageblock = plan.blocks[MIGRATE_ISOLATE]  # type: ignore[attr-defined]
    return allocated + lo, pcp + lo


#: frame kinds by pageblock migratetype: which kinds fill a pageblock first
_KIND_PREFERENCE = {
    MIGRATE_UNMOVABLE: (FRAME_KERNEL,),
    MIGRATE_HIGHATOMIC: (FRAME_KERNEL,),
    MIGRATE_RECLAIMABLE: (FRAME_SLAB,),
    MIGRATE_MOVABLE: (FRAME_ANON, FRAME_FILE),
    MIGRATE_CMA: (FRAME_ANON, FRAME_FILE),
    MIGRATE_ISOLATE: (FRAME_ANON, FRAME_FILE),
}


def _assign_kinds(node: Node, allocated: np.ndarray, targets: dict[int, int]) -> None:
    """Give allocated frames a kind so that the node counters match ``targets``.

    Frames of Movable pageblocks become anon then file pages, Unmovable ones
    kernel memory, Reclaimable ones slab, as far as the targets go; targets
    left over are met from any frames; frames left over get their
    pageblock's natural kind.
    """
    if not allocated.size:
        return
    pbs = ((allocated + node.node_start_pfn) >> pageblock_order) - node.pb_base
    mts = node.pageblock_mt[pbs]
    groups = {mt: allocated[mts == mt] for mt in range(MIGRATE_TYPES)}
    remaining = dict(targets)
    plan: dict[int, list[tuple[int, int]]] = {mt: [] for mt in groups}
    left = {mt: int(g.size) for mt, g in groups.items()}
    for pass_ in (0, 1):
        for mt in (MIGRATE_UNMOVABLE, MIGRATE_HIGHATOMIC, MIGRATE_RECLAIMABLE, MIGRATE_MOVABLE,
                   MIGRATE_CMA, MIGRATE_ISOLATE):
            kinds = _KIND_PREFERENCE[mt] if pass_ == 0 else (FRAME_ANON, FRAME_FILE,
                                                             FRAME_KERNEL, FRAME_SLAB)
            for kind in kinds:
                n = min(left[mt], remaining.get(kind, 0))
                if n:
                    plan[mt].append((kind, n))
                    left[mt] -= n
                    remaining[kind] -= n
    for mt, g in groups.items():
        if left[mt]:
            plan[mt].append((_KIND_PREFERENCE[mt][0], left[mt]))
        if g.size:
            kinds = np.repeat(np.array([k for k, _ in plan[mt]], dtype=np.uint8),
                              [n for _, n in plan[mt]])
            node.state[g] = kinds


def _read_host(root: str | None) -> dict[str, str | None]:
    """The /proc files of this host (or of a copy under ``root``), read together."""
    if root is None and not sys.platform.startswith("linux"):
        raise ValueError(f"from_proc: this host runs {sys.platform!r}, not Linux, so it has no "
                         "/proc/zoneinfo; pass the files' text as zoneinfo=..., buddyinfo=..., "
                         "pagetypeinfo=...")
    base = Path(root or "/")

    def read(rel: str, required: bool) -> str | None:
        path = base / rel
        try:
            return path.read_text()
        except OSError as exc:
            if required:
                raise ValueError(f"from_proc: cannot read {path} ({exc.strerror or exc}); "
                                 "expected a Linux /proc (or pass the text as zoneinfo=...)") \
                    from None
            return None

    texts: dict[str, str | None] = {}
    for _attempt in range(20):
        # buddyinfo and pagetypeinfo change between two reads on a busy host:
        # read until a pair agrees (pagetypeinfo is root-only since 5.4)
        texts = {"zoneinfo": read("proc/zoneinfo", True),
                 "buddyinfo": read("proc/buddyinfo", True),
                 "pagetypeinfo": read("proc/pagetypeinfo", False),
                 "vmstat": read("proc/vmstat", False)}
        if texts["pagetypeinfo"] is None or _free_tables_agree(texts):
            break
    else:
        texts["pagetypeinfo"] = None  # never caught still: use buddyinfo alone
    return texts


def _free_tables_agree(texts: dict[str, str | None]) -> bool:
    try:
        bi = parse_buddyinfo(texts["buddyinfo"] or "")
        pti = parse_pagetypeinfo(texts["pagetypeinfo"] or "")
    except ValueError:
        return True  # let the real parse report it
    for nid, zones in bi.items():
        node = pti.get(nid)
        if node is None:
            return False
        for zone, row in zones.items():
            types = node.free.get(zone, {})
            sums = [sum(col) for col in zip(*types.values(), strict=False)] if types else []
            if sums != row:
                return False
    return True


def _pick_node(data: dict[int, Any], file: str, nid: int | None) -> Any:
    if nid is None:
        if len(data) != 1:
            raise ValueError(f"node: {file} describes nodes {sorted(data)}; pass node=N to "
                             "choose one")
        return next(iter(data.values()))
    if nid not in data:
        raise ValueError(f"node: {nid} is not in {file}; allowed {', '.join(map(str, data))}")
    return data[nid]


def _zone_plans(zi: ZoneinfoNode, bi: dict[str, list[int]] | None,
                pti: PagetypeinfoNode | None) -> list[_ZonePlan]:
    plans = []
    prev_end = -1
    for z in zi.zones.values():
        if z.name not in zone_names:
            raise ValueError(f"zoneinfo: zone {z.name!r} of node {zi.node_id} is not modelled; "
                             f"allowed {', '.join(zone_names)} (x86_64)")
        idx = zone_names.index(z.name)
        if not z.populated:
            if z.spanned:
                raise ValueError(f"zoneinfo: zone {z.name} spans {z.spanned} pages with none "
                                 "present; mmsim cannot place it (no start_pfn is printed)")
            if bi and z.name in bi:
                raise ValueError(f"buddyinfo: zone {z.name} is listed but zoneinfo says it has "
                                 "no present pages")
            continue
        assert z.start_pfn is not None
        if not z.managed <= z.present <= z.spanned:
            raise ValueError(f"zoneinfo: zone {z.name} needs managed <= present <= spanned, got "
                             f"managed={z.managed}, present={z.present}, spanned={z.spanned}")
        if z.start_pfn < prev_end:
            raise ValueError(f"zoneinfo: zone {z.name} starts at pfn {z.start_pfn}, inside the "
                             f"zone before it (which ends at pfn {prev_end}); allowed >= "
                             f"{prev_end}")
        prev_end = z.start_pfn + z.spanned
        free = [[0] * MAX_ORDER for _ in range(MIGRATE_TYPES)]
        row = None
        if bi is not None:
            if z.name not in bi:
                raise ValueError(f"buddyinfo: no row for populated zone {z.name} of node "
                                 f"{zi.node_id}; the files do not belong together")
            row = bi[z.name]
            if len(row) != MAX_ORDER:
                raise ValueError(f"buddyinfo: zone {z.name} has {len(row)} orders; allowed "
                                 f"{MAX_ORDER} (x86_64, MAX_ORDER 11)")
        blocks = None
        if pti is not None:
            types = pti.free.get(z.name)
            if types is None:
                raise ValueError(f"pagetypeinfo: no rows for populated zone {z.name} of node "
                                 f"{zi.node_id}; the files do not belong together")
            for (zone, mtype, order) in sorted(pti.capped):
                if zone == z.name:
                    raise ValueError(f"pagetypeinfo: zone {zone} type {mtype} order {order} was "
                                     "printed as '>100000' (capped by 5.x+ kernels); pass "
                                     "buddyinfo only for this machine")
            blocks = [0] * MIGRATE_TYPES
            for mtype, counts in types.items():
                mt = migratetype_names.index(mtype)
                free[mt] = list(counts)
                blocks[mt] = pti.blocks[z.name].get(mtype, 0)
            if row is not None:
                sums = [sum(free[mt][o] for mt in range(MIGRATE_TYPES)) for o in range(MAX_ORDER)]
                if sums != row:
                    o = next(o for o in range(MAX_ORDER) if sums[o] != row[o])
                    raise ValueError(
                        f"buddyinfo: zone {z.name} order {o} has {row[o]} free blocks but "
                        f"pagetypeinfo's types add up to {sums[o]}; the files were read at "
                        "different moments (capture them together)")
        elif row is not None:
            free[MIGRATE_MOVABLE] = list(row)
        else:
            # only zoneinfo: the free pages as the largest blocks they make
            pages = z.pages_free
            free[MIGRATE_MOVABLE][MAX_ORDER - 1] = pages >> (MAX_ORDER - 1)
            for o in range(MAX_ORDER - 1):
                free[MIGRATE_MOVABLE][o] = (pages >> o) & 1
        plans.append(_ZonePlan(idx, z.start_pfn, z.spanned, z.present, z.managed, free, blocks,
                               [ps.count for ps in z.pagesets]))
    if not plans:
        raise ValueError(f"zoneinfo: node {zi.node_id} has no populated zone")
    return plans


def _restore_boost(zone: Zone, z: ZoneinfoZone) -> None:
    """Give ``zone`` the watermark boost in force when the file was printed.

    5.1+ kernels print it (``boost``). v5.0 folds it into min, low and high, so
    it is read back as the amount by which all three exceed the watermarks
    recomputed from the sysctls - when that amount is one a boost can have:
    whole pageblocks, or the cap ``watermark_boost_factor``/10000 of high.
    """
    from mmsim.mm.page_alloc import mult_frac

    if not zone.managed_pages:
        return
    if z.boost is not None:
        zone.watermark_boost = z.boost
        return
    if -1 in (z.min, z.low, z.high):
        return
    boost = z.min - zone.min_wmark_pages
    if boost <= 0 or z.low - zone.low_wmark_pages != boost \
            or z.high - zone.high_wmark_pages != boost:
        return
    cap = max(pageblock_nr_pages, mult_frac(zone.high_wmark_pages,
                                            zone.node.sysctl.watermark_boost_factor, 10000))
    if boost % pageblock_nr_pages == 0 or boost == cap:
        zone.watermark_boost = boost


def node_from_proc(zoneinfo: str | None = None, buddyinfo: str | None = None,
                   pagetypeinfo: str | None = None, sysctl: Sysctl | None = None, *,
                   vmstat: str | None = None, node: int | None = None, root: str | None = None,
                   config: KernelConfig | None = None, copy_stats: bool = True) -> Node:
    """Build a booted node that reproduces a real machine's memory layout.

    The zones get the files' ``start_pfn``, spanned, present and managed
    pages; the CPUs are the ``pagesets`` entries. Free memory is laid out
    block by block so that the node's own ``/proc/buddyinfo`` - and
    ``/proc/pagetypeinfo``, when given - render back identical to the input:
    every free block sits at an aligned pfn on the list of its migratetype
    (in a pageblock of that type where there is room), and no two free blocks
    of one order are buddies, which the kernel would have merged (they are
    kept apart by allocated, reserved or missing frames). Pageblocks get the
    migratetypes that pagetypeinfo counts. Managed frames that are not free
    become order-0 allocated pages whose kind follows their pageblock
    (Movable: anon, then file; Unmovable: kernel; Reclaimable: slab), matched
    to zoneinfo's ``nr_anon_pages``, ``nr_file_pages`` and slab counters as
    far as they go; the per-cpu ``count`` pages are put on per-cpu lists.
    Present frames that are not managed are reserved, the rest holes.

    Kernel source: the boot sequence of :func:`mmsim.mm.layout.build_node`
    (mm/page_alloc.c ``memmap_init_zone``, ``init_per_zone_wmark_min``,
    https://elixir.bootlin.com/linux/v5.0/ident/init_per_zone_wmark_min); the
    files as printed by https://elixir.bootlin.com/linux/v5.0/source/mm/vmstat.c

    **Watermarks and protection are recomputed**, never copied: the machine
    boots as :meth:`mmsim.Node.build` does (per-cpu sets,
    ``init_per_zone_wmark_min``, the THP raise) and then the given
    ``min_free_kbytes`` is written as the administrator would. Only a
    watermark boost in force is taken from the file: the ``boost`` line of
    5.1+ kernels, or, for v5.0 text, the amount by which min, low and high
    all exceed the recomputed marks when it is a whole number of pageblocks
    (or the boost cap).

    Memory that is present but offline (hot-pluggable memory not yet
    onlined, as on a VM host whose Normal zone shows present 5505024 but
    managed 163840 and only 320 pageblocks in pagetypeinfo) is laid out as
    whole pageblocks of holes at the zone's end: ``pageblock_counts`` skips
    them just as the kernel skips offline sections, while the printed
    present and spanned stay as read.

    Parameters
    ----------
    zoneinfo, buddyinfo, pagetypeinfo
        File contents. All three None: read this host's files (and its
        sysctls), or those under ``root``.
    sysctl
        The ``vm.*`` settings to boot with; default: this host's when reading
        the host, else the kernel defaults.
    vmstat
        /proc/vmstat text whose event counters are copied into the machine
        (``pgpgin``/``pgpgout`` doubled back into sectors).
    node
        Which node of multi-node files to build; needed when there are several.
    root
        Read ``proc/...`` and ``sys/...`` under this directory instead of ``/``.
    config
        Kernel build options; ``cma`` and ``numa`` are taken from the files
        (the CMA migratetype in pagetypeinfo, ``numa_*`` counters in zoneinfo).
    copy_stats
        Copy the counters the model cannot derive (LRU sizes, ``numa_*`` ...)
        into ``zone.vm_stat``/``node.node_stat`` as a snapshot.

    Raises
    ------
    ValueError
        Unreadable or non-Linux host files; garbled text (with the line);
        files that disagree (different zones, free counts that do not add
        up, more free pages than managed); zones mmsim does not model.

    Simplifications
    ---------------
    Block positions, which pages are allocated and the order of the free
    lists are invented (the files do not tell them); allocated memory is all
    order-0 pages. Per-cpu pages are reproduced by count even when above the
    v5.0 ``high`` mark. Free blocks on a type's list go to another type's
    pageblocks when their own have no room. The per-cpu ``high``/``batch``
    and ``vm stats threshold`` are recomputed for v5.0 (a file captured while
    kswapd was awake shows the smaller pressure threshold; the copy starts
    with the normal one). Allocated memory that is not anon, file or slab in
    the file (page tables, stacks, buffers ...) still takes a kind from its
    pageblock, so the copy's slab counters can exceed the file's.

    Examples
    --------
    >>> from mmsim import Node, Sysctl
    >>> node = Node.build(mem="1GiB")
    >>> text = {name: node.render(name) for name in ("zoneinfo", "buddyinfo", "pagetypeinfo")}
    >>> copy = node_from_proc(**text, sysctl=Sysctl(min_free_kbytes=node.min_free_kbytes))
    >>> copy.render("buddyinfo") == node.render("buddyinfo")
    True
    """
    from mmsim.mm.debug import check_node  # noqa: F401  (documented post-condition)
    from mmsim.mm.layout import ZoneSpec, boot, create_node
    from mmsim.sysctl import Sysctl

    if zoneinfo is None and buddyinfo is None and pagetypeinfo is None:
        if sysctl is None:
            base = Path(root or "/")
            sysctl = Sysctl.from_proc(vm_dir=str(base / "proc/sys/vm"),
                                      thp_path=str(base / "sys/kernel/mm/transparent_hugepage/"
                                                   "enabled"))
        # a live host changes between the reads of its files: if they do not
        # fit together (more free or per-cpu pages than managed ...), read again
        for attempt in range(5):
            texts = _read_host(root)
            try:
                return node_from_proc(texts["zoneinfo"], texts["buddyinfo"],
                                      texts["pagetypeinfo"], sysctl,
                                      vmstat=texts["vmstat"] if vmstat is None else vmstat,
                                      node=node, config=config, copy_stats=copy_stats)
            except ValueError:
                if root is not None or attempt == 4:
                    raise
    if zoneinfo is None:
        raise ValueError("zoneinfo: required (it gives each zone's start_pfn, spanned, present "
                         "and managed pages); pass the text of /proc/zoneinfo")
    for label, value in (("zoneinfo", zoneinfo), ("buddyinfo", buddyinfo),
                         ("pagetypeinfo", pagetypeinfo), ("vmstat", vmstat)):
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{label}: expected the file's text (str), got "
                             f"{type(value).__name__}")
    if sysctl is None:
        sysctl = Sysctl()
    elif not isinstance(sysctl, Sysctl):
        raise ValueError(f"sysctl: expected mmsim.Sysctl, got {type(sysctl).__name__}")
    elif sysctl._machine is not None:
        sysctl = sysctl.copy()
    assert zoneinfo is not None
    zi = _pick_node(parse_zoneinfo(zoneinfo), "zoneinfo", node)
    bi = parse_buddyinfo(buddyinfo) if buddyinfo is not None else None
    pti = parse_pagetypeinfo(pagetypeinfo) if pagetypeinfo is not None else None
    bi_node = _pick_node(bi, "buddyinfo", zi.node_id) if bi is not None else None
    pti_node = _pick_node(pti, "pagetypeinfo", zi.node_id) if pti is not None else None
    if pti_node is not None:
        if pti_node.page_block_order != pageblock_order or pti_node.orders != MAX_ORDER:
            raise ValueError(f"pagetypeinfo: page block order {pti_node.page_block_order} with "
                             f"{pti_node.orders} orders; allowed {pageblock_order} with "
                             f"{MAX_ORDER} (x86_64)")
        unknown = [t for t in pti_node.types if t not in migratetype_names]
        if unknown:
            raise ValueError(f"pagetypeinfo: unknown migratetype {unknown[0]!r}; allowed "
                             f"{', '.join(migratetype_names)}")
    if bi_node is not None:
        extra = [name for name in bi_node if name not in zi.zones]
        if extra:
            raise ValueError(f"buddyinfo: zone {extra[0]} is not in zoneinfo; the files do not "
                             "belong together")
    plans = _zone_plans(zi, bi_node, pti_node)

    populated = [z for z in zi.zones.values() if z.populated]
    numa = any(name.startswith("numa_") for z in populated for name in z.stats)
    cma = ("CMA" in pti_node.types) if pti_node is not None else (config.cma if config else True)
    kconfig = KernelConfig(cma=cma, numa=numa, hz=config.hz if config else 250)
    nr_cpus = max([len(z.pagesets) for z in populated] + [1])
    machine = Machine(sysctl, nr_cpus=nr_cpus, config=kconfig)
    specs = [ZoneSpec(p.idx, p.start, p.spanned, p.present, p.managed) for p in plans]
    new = create_node(machine, specs, node_id=zi.node_id)

    allocated_parts, pcp_parts = [], {}
    for plan in plans:
        zone = new.zones[plan.idx]
        allocated, pcp = _lay_out_zone(new, zone, plan)
        allocated_parts.append(allocated)
        pcp_parts[plan.idx] = pcp
    targets = {state: zi.stats.get(name, 0) for name, state in DERIVED_NODE_STATS.items()}
    _assign_kinds(new, np.concatenate(allocated_parts), targets)
    for plan in plans:
        zone = new.zones[plan.idx]
        lo = plan.start - new.node_start_pfn
        counts = np.bincount(new.state[lo:lo + plan.spanned], minlength=len(zone.nr_state))
        zone.nr_state[:] = [int(c) for c in counts]

    boot(machine, {"min_free_kbytes": sysctl.min_free_kbytes})

    # per-cpu lists (boot made them empty)
    for plan in plans:
        zone = new.zones[plan.idx]
        frames = pcp_parts[plan.idx].tolist()
        i = 0
        for cpu, count in enumerate(plan.pcp):
            pcp = zone.pageset[cpu]
            for idx in frames[i:i + count]:
                pfn = idx + new.node_start_pfn
                mt = new.get_pageblock_migratetype(pfn)
                new._buddy_mt[idx] = mt
                pcp.lists[mt if mt < MIGRATE_PCPTYPES else MIGRATE_MOVABLE].append(pfn)
            pcp.count += count
            i += count
    for z in populated:
        _restore_boost(new.zones[zone_names.index(z.name)], z)
    if any(z.node_unreclaimable for z in populated):
        new.kswapd_failures = MAX_RECLAIM_RETRIES
    if copy_stats:
        for z in populated:
            zone = new.zones[zone_names.index(z.name)]
            for name in ZONE_STAT_ITEMS + NUMA_STAT_ITEMS:
                if name in z.stats and name not in DERIVED_ZONE_STATS:
                    zone.vm_stat[name] = z.stats[name]
        for name in NODE_STAT_ITEMS:
            if name in zi.stats and name not in DERIVED_NODE_STATS:
                new.node_stat[name] = zi.stats[name]
    if vmstat is not None:
        counters = parse_vmstat(vmstat)
        for name in VM_EVENT_ITEMS:
            if name in counters:
                value = counters[name]
                machine.vm_events[name] = value * 2 if name in ("pgpgin", "pgpgout") else value
    return new


__all__ = [
    "DERIVED_NODE_STATS",
    "FILES",
    "MAX_RECLAIM_RETRIES",
    "Pageset",
    "PagetypeinfoNode",
    "ZoneinfoNode",
    "ZoneinfoZone",
    "buddyinfo_data",
    "dirty_limits",
    "extfrag_index_data",
    "format_buddyinfo",
    "format_file",
    "format_index_file",
    "format_pagetypeinfo",
    "format_vmstat",
    "format_zoneinfo",
    "node_from_proc",
    "node_stat_values",
    "pagetypeinfo_data",
    "parse",
    "parse_buddyinfo",
    "parse_index_file",
    "parse_pagetypeinfo",
    "parse_vmstat",
    "parse_zoneinfo",
    "render",
    "snapshot",
    "unusable_index_data",
    "vmstat_data",
    "zone_stat_values",
    "zoneinfo_data",
]
