"""Tracepoints: records of what the kernel did, as a table and as ftrace text.

The kernel's tracepoints (``/sys/kernel/tracing/events/vmscan/...``) are how
kernel developers watch kswapd and kcompactd at work: every wake-up, sleep,
direct-reclaim stall and compaction pass leaves one line with a timestamp,
the task and a few fields. mmsim emits the same events with the same fields
from the same places in the code. A simulation keeps them in a
:class:`Tracer`; :meth:`Tracer.dataframe` gives a pandas table (time, task,
event, one column per field) and :meth:`Tracer.ftrace` the text a real
``trace_pipe`` would show, with v5.0's ``TP_printk`` formats.

Kernel source: include/trace/events/vmscan.h, compaction.h, kmem.h (v5.0),
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
        import pandas as pd

        rows = []
        for t, comm, pid, cpu, event, fields in self.records:
            row = {"time": t / 1e9, "comm": comm, "pid": pid, "cpu": cpu, "event": event}
            row.update(fields)
            rows.append(row)
        df = pd.DataFrame(rows)
        if df.empty:
            return pd.DataFrame(columns=list(BASE_COLUMNS))
        return df

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
