"""Tracepoints: records of what the kernel did, as a table and as ftrace text.

The kernel's tracepoints (``/sys/kernel/tracing/events/vmscan/...``) are how
kernel developers watch kswapd and kcompactd at work: every wake-up, sleep,
direct-reclaim stall and compaction pass leaves one line with a timestamp,
the task and a few fields. mmsim emits the same events with the same fields
from the same places in the code. A simulation keeps them in a
:class:`Tracer`; :meth:`Tracer.dataframe` gives a pandas table (time, task,
event, one column per field) and :meth:`Tracer.ftrace` the text a real
``trace_pipe`` would show, with v5.0's ``TP_printk`` formats.

Kernel source: include/trace/events/vmscan.h, compaction.h, kmem.h, migrate.h, oom.h
(v5.0),
https://elixir.bootlin.com/linux/v5.0/source/include/trace/events/vmscan.h

Simplifications
---------------
* The flag characters after the CPU column (``irqs-off``, ``need-resched``,
  ...) are always ``....``.
* Pointers (``page=%p``) print as the pfn-derived fake address
  ``0xffffea0000000000 + pfn * 64`` (the x86_64 vmemmap layout) so that
  lines stay deterministic.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from mmsim.kthread import Scheduler

_ZONE_NAMES = ("DMA", "DMA32", "Normal", "Movable", "Device")


def _zone_name(idx: int) -> str:
    return _ZONE_NAMES[idx] if 0 <= idx < len(_ZONE_NAMES) else str(idx)


def _gfp(v: int) -> str:
    from mmsim.mm.gfp import show_gfp_flags

    return show_gfp_flags(v)


_COMPACT_RESULTS = ("not_suitable_zone", "skipped", "deferred", "no_suitable_page",
                    "continue", "complete", "partial_skipped", "contended", "success")


def _compact_ret(v: Any) -> str:
    if isinstance(v, str):
        return v
    return _COMPACT_RESULTS[int(v)] if 0 <= int(v) < len(_COMPACT_RESULTS) else str(v)


#: event -> function(fields) -> text after "event: " (v5.0 TP_printk formats)
FORMATS: dict[str, Callable[[dict[str, Any]], str]] = {
    "mm_vmscan_kswapd_wake":
        lambda f: f"nid={f['nid']} zid={f['zid']} order={f['order']}",
    "mm_vmscan_kswapd_sleep":
        lambda f: f"nid={f['nid']}",
    "mm_vmscan_wakeup_kswapd":
        lambda f: (f"nid={f['nid']} zid={f['zid']} order={f['order']} "
                   f"gfp_flags={_gfp(f['gfp_flags'])}"),
    "mm_vmscan_direct_reclaim_begin":
        lambda f: (f"order={f['order']} may_writepage={f['may_writepage']} "
                   f"gfp_flags={_gfp(f['gfp_flags'])} classzone_idx={f['classzone_idx']}"),
    "mm_vmscan_direct_reclaim_end":
        lambda f: f"nr_reclaimed={f['nr_reclaimed']}",
    "mm_vmscan_lru_shrink_inactive":
        lambda f: (f"nid={f['nid']} nr_scanned={f['nr_scanned']} "
                   f"nr_reclaimed={f['nr_reclaimed']} nr_dirty={f.get('nr_dirty', 0)} "
                   f"nr_writeback={f.get('nr_writeback', 0)} "
                   f"nr_congested={f.get('nr_congested', 0)} "
                   f"nr_immediate={f.get('nr_immediate', 0)} "
                   f"nr_activate={f.get('nr_activate', 0)} "
                   f"nr_ref_keep={f.get('nr_ref_keep', 0)} "
                   f"nr_unmap_fail={f.get('nr_unmap_fail', 0)} priority={f['priority']} "
                   f"flags={f.get('flags', 'RECLAIM_WB_FILE|RECLAIM_WB_ASYNC')}"),
    "mm_compaction_kcompactd_sleep":
        lambda f: f"nid={f['nid']}",
    "mm_compaction_wakeup_kcompactd":
        lambda f: (f"nid={f['nid']} order={f['order']} "
                   f"classzone_idx={_zone_name(f['classzone_idx']):<8s}"),
    "mm_compaction_kcompactd_wake":
        lambda f: (f"nid={f['nid']} order={f['order']} "
                   f"classzone_idx={_zone_name(f['classzone_idx']):<8s}"),
    "mm_compaction_begin":
        lambda f: (f"zone_start=0x{f['zone_start']:x} migrate_pfn=0x{f['migrate_pfn']:x} "
                   f"free_pfn=0x{f['free_pfn']:x} zone_end=0x{f['zone_end']:x}, "
                   f"mode={'sync' if f['sync'] else 'async'}"),
    "mm_compaction_end":
        lambda f: (f"zone_start=0x{f['zone_start']:x} migrate_pfn=0x{f['migrate_pfn']:x} "
                   f"free_pfn=0x{f['free_pfn']:x} zone_end=0x{f['zone_end']:x}, "
                   f"mode={'sync' if f['sync'] else 'async'} "
                   f"status={_compact_ret(f['status'])}"),
    "mm_compaction_suitable":
        lambda f: (f"node={f['nid']} zone={_zone_name(f['zid']):<8s} order={f['order']} "
                   f"ret={_compact_ret(f['ret'])}"),
    "mm_compaction_finished":
        lambda f: (f"node={f['nid']} zone={_zone_name(f['zid']):<8s} order={f['order']} "
                   f"ret={_compact_ret(f['ret'])}"),
    "mm_compaction_deferred":
        lambda f: (f"node={f['nid']} zone={_zone_name(f['zid']):<8s} order={f['order']} "
                   f"order_failed={f['order_failed']} consider={f['consider']} "
                   f"limit={f['limit']}"),
    "mm_compaction_defer_compaction":
        lambda f: (f"node={f['nid']} zone={_zone_name(f['zid']):<8s} order={f['order']} "
                   f"order_failed={f['order_failed']} consider={f['consider']} "
                   f"limit={f['limit']}"),
    "mm_compaction_defer_reset":
        lambda f: (f"node={f['nid']} zone={_zone_name(f['zid']):<8s} order={f['order']} "
                   f"order_failed={f['order_failed']} consider={f['consider']} "
                   f"limit={f['limit']}"),
    "mm_compaction_try_to_compact_pages":
        lambda f: (f"order={f['order']} gfp_mask={_gfp(f['gfp_mask'])} "
                   f"priority={f['priority']}"),
    "mm_compaction_isolate_migratepages":
        lambda f: (f"range=(0x{f['start_pfn']:x} ~ 0x{f['end_pfn']:x}) "
                   f"nr_scanned={f['nr_scanned']} nr_taken={f['nr_taken']}"),
    "mm_compaction_isolate_freepages":
        lambda f: (f"range=(0x{f['start_pfn']:x} ~ 0x{f['end_pfn']:x}) "
                   f"nr_scanned={f['nr_scanned']} nr_taken={f['nr_taken']}"),
    "mm_compaction_migratepages":
        lambda f: f"nr_migrated={f['nr_migrated']} nr_failed={f['nr_failed']}",
    "mm_migrate_pages":
        lambda f: (f"nr_succeeded={f['nr_succeeded']} nr_failed={f['nr_failed']} "
                   f"mode={f['mode']} reason={f['reason']}"),
    "compact_retry":
        lambda f: (f"order={f['order']} priority={f['priority']} "
                   f"compaction_result={f['compaction_result']} retries={f['retries']} "
                   f"max_retries={f['max_retries']} should_retry={f['should_retry']}"),
    "mark_victim":
        lambda f: f"pid={f['pid']}",
    "mm_page_alloc_extfrag":
        lambda f: (f"page=0x{0xffffea0000000000 + f['pfn'] * 64:x} pfn={f['pfn']} "
                   f"alloc_order={f['alloc_order']} fallback_order={f['fallback_order']} "
                   f"pageblock_order={f['pageblock_order']} "
                   f"alloc_migratetype={f['alloc_migratetype']} "
                   f"fallback_migratetype={f['fallback_migratetype']} "
                   f"fragmenting={f['fragmenting']} change_ownership={f['change_ownership']}"),
}

#: the order of columns in the trace DataFrame
BASE_COLUMNS = ("time", "comm", "pid", "cpu", "event")


class Tracer:
    """Collects tracepoint records emitted by the model.

    Call it like ``tracer("mm_vmscan_kswapd_sleep", nid=0)``; the time, task
    and CPU come from the scheduler. ``events`` restricts what is kept (None:
    everything).

    Examples
    --------
    >>> from mmsim.kthread import Scheduler
    >>> tr = Tracer(Scheduler(hz=250))
    >>> tr("mm_vmscan_kswapd_wake", nid=0, zid=2, order=3)
    >>> print(tr.ftrace())
              <idle>-0     [000] ....     0.000000: mm_vmscan_kswapd_wake: nid=0 zid=2 order=3
    """

    def __init__(self, sched: Scheduler | None = None, events: set[str] | None = None):
        self.sched = sched
        self.events = events
        self.records: list[tuple[int, str, int, int, str, dict[str, Any]]] = []

    def __call__(self, event: str, **fields: Any) -> None:
        if self.events is not None and event not in self.events:
            return
        sched = self.sched
        if sched is None:
            self.records.append((0, "<idle>", 0, 0, event, fields))
            return
        task = sched.current
        if task is None:
            self.records.append((sched.now_ns, "<idle>", 0, 0, event, fields))
        else:
            self.records.append((sched.now_ns, task.comm, task.pid, task.cpu, event, fields))

    def __len__(self) -> int:
        return len(self.records)

    def count(self, event: str) -> int:
        return sum(1 for r in self.records if r[4] == event)

    def dataframe(self) -> pd.DataFrame:
        """All records as a DataFrame: time (s), comm, pid, cpu, event, field columns."""

        return records_to_dataframe(self.records)

    def ftrace(self) -> str:
        """The records as ftrace text (``trace`` file body, one line per event)."""
        return "\n".join(format_line(*r) for r in self.records)


def format_line(t_ns: int, comm: str, pid: int, cpu: int, event: str,
                fields: dict[str, Any]) -> str:
    """One ftrace line: ``comm-pid [cpu] .... sec.usec: event: fields``."""
    fmt = FORMATS.get(event)
    if fmt is not None:
        text = fmt(fields)
    else:
        text = " ".join(f"{k}={v}" for k, v in fields.items())
    usec_total = t_ns // 1000
    sec, usec = divmod(usec_total, 1_000_000)
    return f"{comm:>16s}-{pid:<5d} [{cpu:03d}] .... {sec:5d}.{usec:06d}: {event}: {text}"


def records_to_dataframe(records: list[tuple[int, str, int, int, str, dict[str, Any]]]) -> Any:
    """Trace records as a DataFrame; ``time`` in seconds at the microsecond ftrace prints."""
    import pandas as pd

    rows = []
    for t, comm, pid, cpu, event, fields in records:
        row = {"time": (t // 1000) / 1e6, "comm": comm, "pid": pid, "cpu": cpu, "event": event}
        row.update(fields)
        rows.append(row)
    if not rows:
        return pd.DataFrame(columns=list(BASE_COLUMNS))
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------
# Reading ftrace text
# --------------------------------------------------------------------------
_LINE = re.compile(
    r"^\s*(?P<comm>.+?)-(?P<pid>\d+)\s+(?:\(\s*[-\d]+\)\s+)?\[(?P<cpu>\d+)\]\s+"
    r"(?:(?P<flags>[\w.]{4,6})\s+)?(?P<sec>\d+)\.(?P<usec>\d{6}):\s+"
    r"(?P<event>\w+):\s?(?P<rest>.*)$")
_KV = re.compile(r"(\w+)=(\([^)]*\)|\S*)")

#: events whose fields get typed columns (everything else keeps its raw text)
KNOWN_EVENTS = frozenset(FORMATS) | {"tracing_mark_write"}
_GFP_FIELDS = ("gfp_flags", "gfp_mask")
_ZONE_NAME_FIELDS = ("classzone_idx", "highest_zoneidx")


def _to_int(v: str) -> Any:
    try:
        return int(v, 0)
    except ValueError:
        return v


def _parse_known(event: str, rest: str) -> dict[str, Any]:
    from mmsim.mm.gfp import parse_gfp

    fields: dict[str, Any] = {}
    if event in ("mm_compaction_begin", "mm_compaction_end"):
        rest = rest.replace(",", "")
    for key, val in _KV.findall(rest):
        if key == "page" and event == "mm_page_alloc_extfrag":
            continue  # a pointer (hashed in real traces); the pfn says the same
        if key == "range":
            a, _tilde, b = val.strip("()").split()
            fields["start_pfn"], fields["end_pfn"] = int(a, 16), int(b, 16)
            continue
        if key in _GFP_FIELDS:
            try:
                fields[key] = parse_gfp(val)
            except ValueError:
                fields[key] = val
            continue
        if key in _ZONE_NAME_FIELDS:
            # 6.1 prints highest_zoneidx where v5.0 printed classzone_idx
            fields["classzone_idx"] = _ZONE_NAMES.index(val) if val in _ZONE_NAMES \
                else _to_int(val)
            continue
        if key == "node":
            fields["nid"] = int(val)
            continue
        if key == "zone" and event.startswith("mm_compaction_"):
            fields["zid"] = _ZONE_NAMES.index(val) if val in _ZONE_NAMES else val
            continue
        if key == "mode" and event in ("mm_compaction_begin", "mm_compaction_end"):
            fields["sync"] = val == "sync"
            continue
        fields[key] = _to_int(val)
    return fields


class FtraceParseError(ValueError):
    """A trace line that is not in ftrace's text format (carries the line number)."""


def parse_ftrace_records(text: str, strict: bool = True
                         ) -> tuple[list[tuple[int, str, int, int, str, dict[str, Any]]],
                                    list[tuple[int, str]]]:
    """ftrace text → ``(records, bad_lines)``; records as the :class:`Tracer` keeps them.

    Comment lines (``#``) and blank lines are skipped; a line that matches no
    format raises :class:`FtraceParseError` naming its number (``strict``) or
    is returned in ``bad_lines`` as ``(line_number, text)``.
    """
    records = []
    bad: list[tuple[int, str]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _LINE.match(line)
        if m is None:
            if strict:
                raise FtraceParseError(f"ftrace line {lineno}: cannot read {line[:120]!r}; "
                                       "expected 'comm-pid [cpu] flags sec.usec: event: fields'")
            bad.append((lineno, line))
            continue
        t_ns = int(m["sec"]) * 1_000_000_000 + int(m["usec"]) * 1000
        event = m["event"]
        rest = m["rest"]
        if event == "tracing_mark_write":
            fields: dict[str, Any] = {"text": rest.strip()}
            event = "marker"
        elif event in KNOWN_EVENTS:
            fields = _parse_known(event, rest)
        else:
            fields = {"raw": rest}
        records.append((t_ns, m["comm"].strip(), int(m["pid"]), int(m["cpu"]), event, fields))
    return records, bad


def read_ftrace(text_or_path: str | Any, strict: bool = True) -> Any:
    """Read kernel ftrace text (a string, or a path to plain or gzip text) into a DataFrame.

    The columns are those of a simulation's ``Result.trace``: ``time`` (s),
    ``comm``, ``pid``, ``cpu``, ``event`` and one column per field. The
    vmscan, compaction and ``mm_page_alloc_extfrag`` events get typed columns
    (6.1's ``highest_zoneidx`` becomes ``classzone_idx``; zone names become
    zone indices; gfp flags become masks); other events keep their text in
    ``raw``; ``tracing_mark_write`` lines become ``marker`` events with a
    ``text`` column. A malformed line raises :class:`FtraceParseError` with
    its line number (``strict=False``: they are listed in
    ``df.attrs["bad_lines"]`` instead — never silently dropped).

    Examples
    --------
    >>> line = ("         kswapd0-97    [003] ....   812.406120: "
    ...         "mm_vmscan_kswapd_wake: nid=0 zid=2 order=3")
    >>> df = read_ftrace(line)
    >>> df[["time", "comm", "event", "nid", "zid", "order"]].values.tolist()
    [[812.40612, 'kswapd0', 'mm_vmscan_kswapd_wake', 0, 2, 3]]
    """
    import gzip
    import os

    if isinstance(text_or_path, (os.PathLike,)) or (
            isinstance(text_or_path, str) and "\n" not in text_or_path
            and len(text_or_path) < 4096 and os.path.exists(text_or_path)):
        path = os.fspath(text_or_path)
        with open(path, "rb") as fh:
            head = fh.read(2)
        opener = gzip.open if head == b"\x1f\x8b" else open
        with opener(path, "rt") as fh:
            text = fh.read()
    else:
        text = str(text_or_path)
    records, bad = parse_ftrace_records(text, strict=strict)
    df = records_to_dataframe(records)
    df.attrs["bad_lines"] = bad
    return df
