"""The allocator's slow path: wake kswapd, dip to min, reclaim directly, or fail.

When ``get_page_from_freelist`` finds no zone above its *low* watermark the
allocation enters ``__alloc_pages_slowpath``: it wakes the kswapd of every node
in its zonelist (``wake_all_kswapds``), retries against the *min* watermark -
which is what lets kswapd's background work keep most allocations from ever
waiting - and only when free memory is below min does the allocating task
reclaim pages itself (``__alloc_pages_direct_reclaim``, counted as an
``allocstall``). Direct reclaim may first be throttled until kswapd has brought
back half of the min reserve. Requests that keep failing retry while reclaim
makes progress (``should_reclaim_retry``) and end in the OOM killer.

mmsim runs this as a task generator: ``yield from alloc_pages_task(...)``
returns the pfns obtained and costs simulated time for any reclaim done. A
request for many order-0 pages is served as consecutive single-page
allocations would be: each round takes as many pages as the current
watermark allows, and only a shortfall goes through the next slow-path step.

Kernel source: mm/page_alloc.c ``__alloc_pages_nodemask``,
``__alloc_pages_slowpath``, ``gfp_to_alloc_flags``, ``wake_all_kswapds``,
``__alloc_pages_direct_reclaim``, ``should_reclaim_retry``,
``__alloc_pages_may_oom``; https://elixir.bootlin.com/linux/v5.0/ident/__alloc_pages_slowpath

Simplifications
---------------
* Each round serves all the blocks still missing of a multi-block request;
  ``drain_all_pages`` after a failed reclaim round happens once per round.
* No cpusets, no ``__GFP_THISNODE``/NUMA policies, no ``__GFP_NOFAIL`` loop
  beyond the OOM killer, no memcg charging.
* The OOM killer (``out_of_memory``) follows ``vm.oom_kill_allocating_task``:
  mmsim's default 1 kills the allocating task; the kernel's default 0 picks the
  user task with the highest ``oom_badness`` (:func:`select_bad_process`) and
  the allocation retries. No ``oom_score_adj``, no preference for children,
  no cpuset/mempolicy constraint. It records ``oom_kill`` and ``mark_victim``.
  The victim's anonymous memory is freed at once (``exit_mmap``, what the OOM
  reaper hurries along) and it ends where it is suspended; no ``oom_reaper``
  thread or reaping tracepoints.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import numpy as np

from mmsim.kthread import PF_MEMALLOC, Run, Sleep
from mmsim.mm import gfp as G
from mmsim.mm.mmzone import MAX_ORDER, PAGE_ALLOC_COSTLY_ORDER, WMARK_MIN
from mmsim.mm.page_alloc import (
    ALLOC_CMA,
    ALLOC_CPUSET,
    ALLOC_HARDER,
    ALLOC_HIGH,
    ALLOC_KSWAPD,
    ALLOC_NO_WATERMARKS,
    ALLOC_WMARK_HIGH,
    ALLOC_WMARK_MIN,
    __zone_watermark_ok,
    alloc_pages,
    alloc_pages_bulk,
    drain_all_pages,
    fast_path_alloc_flags,
    prepare_alloc_pages,
)

if TYPE_CHECKING:  # pragma: no cover
    from mmsim.mm.mmzone import Node

MAX_RECLAIM_RETRIES = 16
Gen = Generator[Any, Any, Any]
#: the fast path beside the readable code (same results; False: the readable code alone)
_FAST_PATHS = True


class OutOfMemory(Exception):
    """Raised inside a task's generator when the OOM killer picked it."""

    def __init__(self, order: int, gfp: int, nr_pages: int):
        super().__init__(f"out of memory: order {order}, gfp {G.show_gfp_flags(gfp)}, "
                         f"{nr_pages} pages still wanted")
        self.order = order
        self.gfp = gfp
        self.nr_pages = nr_pages


class OOMKilled(BaseException):
    """Raised inside the victim when another task's allocation made the OOM killer
    choose it: the victim's ``SIGKILL``.

    A ``BaseException``, like ``GeneratorExit``: code that catches ``Exception``
    or :class:`OutOfMemory` to go on after a failed allocation cannot catch a
    kill; the simulation's task wrapper records it and frees the task's memory.
    """

    def __init__(self, order: int, gfp: int, by_pid: int, points: int):
        super().__init__(f"killed by the OOM killer (oom_badness {points}) for pid {by_pid}'s "
                         f"allocation: order {order}, gfp {G.show_gfp_flags(gfp)}")
        self.order = order
        self.gfp = gfp
        self.by_pid = by_pid
        self.points = points


#: what :func:`out_of_memory` returns instead of a victim when it kills nothing but
#: says "progress" (the allocation retries): a victim is still exiting, or the
#: request has no ``__GFP_FS``
OOM_WAIT_VICTIM = "wait for the victim"
OOM_NO_FS = "no __GFP_FS"


def oom_badness(machine: Any, task: Any) -> int:
    """How much memory killing ``task`` would free, in pages (``oom_badness``).

    Kernel source: mm/oom_kill.c ``oom_badness``,
    https://elixir.bootlin.com/linux/v5.0/ident/oom_badness

    Resident pages + swap entries + page-table pages of the task's ``mm`` (here:
    the anonymous regions it created, and the pages an allocation in progress
    already holds - the kernel maps a fault's pages one by one, mmsim a batch at
    its end), at least 1 for any user task.

    Simplifications: ``oom_score_adj`` is always 0; page tables are counted as
    one PTE page per 512-page stretch of a region with a page present or in
    swap (no upper levels), and they go away with the pages (the kernel keeps
    them until ``munmap``); page cache read with ``read()`` is not in any task's
    RSS (as in the kernel: it is not mapped), but neither are the pages of a
    mapped file (``FileMapping(mapped=True)``), which the kernel counts in
    ``MM_FILEPAGES``.
    """
    from mmsim.mm.filemap import AnonRegion

    inflight = task.alloc_inflight
    points = inflight if inflight.__class__ is int else inflight.got << inflight.order
    for m in machine.mappings:
        if isinstance(m, AnonRegion) and m.owner_task is task:
            used = (m.pfn >= 0) | m.swapped
            points += int(np.count_nonzero(used))
            if used.any():
                chunks = np.flatnonzero(used) >> 9
                points += int(np.count_nonzero(np.diff(chunks))) + 1
    return max(points, 1)


def select_bad_process(machine: Any) -> tuple[Any, int]:
    """The OOM killer's victim: the user task with the highest :func:`oom_badness`.

    Kernel source: mm/oom_kill.c ``select_bad_process`` / ``oom_evaluate_task``,
    https://elixir.bootlin.com/linux/v5.0/ident/select_bad_process

    Tasks are looked at in creation order (``for_each_process``); kernel threads
    are never chosen; a tie keeps the task found first. A victim that has not
    exited yet aborts the search (:data:`OOM_WAIT_VICTIM`: the allocation
    retries and kills nobody else). Returns ``(task, points)``, or ``(None, 0)``
    when there is no user task.

    Simplifications: a victim's memory is freed at once (what the OOM reaper
    does) and it exits at its next step; a task that has not run yet has no
    memory and is not chosen; no cpuset/mempolicy constraint; no preference for
    children.
    """
    import inspect

    from mmsim.kthread import PF_KTHREAD

    chosen, chosen_points = None, 0
    sched = machine.sched
    for t in sched.tasks if sched is not None else ():
        if not t.alive or t.flags & PF_KTHREAD:
            continue
        if t.pending_exc is not None:
            return OOM_WAIT_VICTIM, 0
        if t.gen is None or inspect.getgeneratorstate(t.gen) == inspect.GEN_CREATED:
            continue
        points = oom_badness(machine, t)
        if points > chosen_points:
            chosen, chosen_points = t, points
    return chosen, chosen_points


def out_of_memory(machine: Any, task: Any, gfp: int) -> tuple[Any, int]:
    """Whom the OOM killer kills for ``task``'s failed allocation (``out_of_memory``).

    Kernel source: mm/oom_kill.c ``out_of_memory``,
    https://elixir.bootlin.com/linux/v5.0/ident/out_of_memory

    In v5.0's order: a request without ``__GFP_FS`` kills nobody
    (:data:`OOM_NO_FS`: "the OOM killer does not compensate for IO-less
    reclaim"; the allocation retries); with ``vm.oom_kill_allocating_task`` set,
    a user task that allocates is the victim; otherwise
    :func:`select_bad_process`. Returns ``(victim or OOM_*, points)``.

    Simplifications: outside a simulation (no task) and when there is nothing to
    kill (v5.0 panics: "System is deadlocked on memory") the allocating side
    fails instead.
    """
    from mmsim.kthread import PF_KTHREAD

    if task is None:
        return None, 0
    if not gfp & G.__GFP_FS:
        return OOM_NO_FS, 0
    if machine.sysctl.oom_kill_allocating_task and not task.flags & PF_KTHREAD:
        return task, 0
    victim, points = select_bad_process(machine)
    if victim is None:
        return task, 0
    return victim, points


def gfp_to_alloc_flags(gfp: int, task_flags: int = 0) -> int:
    """Slow-path ALLOC_* flags (``gfp_to_alloc_flags``): MIN watermark and friends.

    >>> from mmsim.mm.page_alloc import ALLOC_HIGH, ALLOC_HARDER, ALLOC_KSWAPD
    >>> f = gfp_to_alloc_flags(G.GFP_ATOMIC)
    >>> bool(f & ALLOC_HIGH), bool(f & ALLOC_HARDER), bool(f & ALLOC_KSWAPD)
    (True, True, True)
    """
    alloc_flags = ALLOC_WMARK_MIN | ALLOC_CPUSET
    if gfp & G.__GFP_HIGH:
        alloc_flags |= ALLOC_HIGH
    if gfp & G.__GFP_ATOMIC:
        if not gfp & G.__GFP_NOMEMALLOC:
            alloc_flags |= ALLOC_HARDER
        alloc_flags &= ~ALLOC_CPUSET
    if gfp & G.__GFP_KSWAPD_RECLAIM:
        alloc_flags |= ALLOC_KSWAPD
    if G.gfpflags_to_migratetype(gfp) == 1:  # MIGRATE_MOVABLE
        alloc_flags |= ALLOC_CMA
    return alloc_flags


def gfp_pfmemalloc_flags(gfp: int, task_flags: int = 0) -> int:
    """May this request dip into the reserves below *min*? (``__gfp_pfmemalloc_flags``)

    Kernel source: mm/page_alloc.c, ``__gfp_pfmemalloc_flags`` (v5.0),
    https://elixir.bootlin.com/linux/v5.0/source/mm/page_alloc.c - search
    ``__gfp_pfmemalloc_flags``. ``__GFP_NOMEMALLOC`` wins over everything;
    ``__GFP_MEMALLOC`` or a ``PF_MEMALLOC`` task (reclaim, kswapd) gets
    ``ALLOC_NO_WATERMARKS``.

    Simplifications: never in interrupt or softirq context, and no OOM victims
    (``ALLOC_OOM``): mmsim's OOM killer ends the victim at once.

    >>> gfp_pfmemalloc_flags(G.GFP_KERNEL, PF_MEMALLOC) == ALLOC_NO_WATERMARKS
    True
    >>> gfp_pfmemalloc_flags(G.GFP_KERNEL | G.__GFP_NOMEMALLOC, PF_MEMALLOC)
    0
    >>> gfp_pfmemalloc_flags(G.GFP_KERNEL)
    0
    """
    if gfp & G.__GFP_NOMEMALLOC:
        return 0
    if gfp & G.__GFP_MEMALLOC or task_flags & PF_MEMALLOC:
        return ALLOC_NO_WATERMARKS
    return 0


def wake_all_kswapds(node: Node, order: int, gfp: int, high_zoneidx: int) -> None:
    """Ask each node of the zonelist once to reclaim (``wake_all_kswapds``)."""
    from mmsim.mm.vmscan import wakeup_kswapd

    ac = prepare_alloc_pages(node, gfp)
    last = None
    for zone in ac.zonelist:
        if zone.node is last:
            continue
        last = zone.node
        wakeup_kswapd(zone, gfp, order, high_zoneidx)


def should_reclaim_retry(node: Node, gfp: int, order: int, alloc_flags: int,
                         did_some_progress: bool, no_progress_loops: int) -> tuple[bool, int]:
    """Retry after reclaim? (``should_reclaim_retry``) Returns (retry, no_progress_loops).

    Progress on an order ≤ 3 request resets the loop count; more than 16 loops
    without progress give up. Otherwise retry if some zone would pass the min
    watermark counting its reclaimable pages as free.
    """
    from mmsim.mm.vmscan import zone_reclaimable_pages

    if did_some_progress and order <= PAGE_ALLOC_COSTLY_ORDER:
        no_progress_loops = 0
    else:
        no_progress_loops += 1
    if no_progress_loops > MAX_RECLAIM_RETRIES:
        return False, no_progress_loops
    ac = prepare_alloc_pages(node, gfp)
    for zone in ac.zonelist:
        available = zone_reclaimable_pages(zone) + zone.nr_free_pages
        if __zone_watermark_ok(zone, order, zone.wmark_pages(WMARK_MIN), ac.classzone_idx,
                               alloc_flags, available):
            return True, no_progress_loops
    return False, no_progress_loops


def _take(node: Node, nr: int, order: int, gfp: int, kind: Any, alloc_flags: int) -> np.ndarray:
    if order == 0:
        return alloc_pages_bulk(node, nr, gfp, kind=kind, alloc_flags=alloc_flags)
    out = []
    for _ in range(nr):
        pfn = alloc_pages(node, order, gfp, kind=kind, alloc_flags=alloc_flags)
        if pfn is None:
            break
        out.append(pfn)
    return np.asarray(out, dtype=np.int64)


def alloc_pages_task(node: Node, nr: int, gfp: int | str, *, order: int = 0,
                     kind: Any = None) -> Gen:
    """Allocate ``nr`` blocks of ``2**order`` pages from a task; returns their pfns.

    Fast path at *low*; for the shortfall the slow path of v5.0: wake kswapd,
    retry at *min*; for high-order requests direct compaction (async) first;
    then the retry loop - wake kswapd again, direct reclaim (with throttling),
    direct compaction, retry while ``should_reclaim_retry`` or
    ``should_compact_retry`` say so; finally the OOM killer, which raises
    :class:`OutOfMemory` in the calling task. Requests that may not block
    (``GFP_ATOMIC``, ``GFP_NOWAIT``) return what they got.
    """
    if isinstance(gfp, str):
        gfp = G.parse_gfp(gfp)
    if not 0 <= order < MAX_ORDER:
        raise ValueError(f"order: {order} is out of range; allowed 0..{MAX_ORDER - 1}")
    machine = node.machine
    ac = prepare_alloc_pages(node, gfp)
    grab = _Grab(node, nr, order, gfp, kind)
    take = grab.take
    if _FAST_PATHS:
        # the usual case: the fast path has it all (take(); the Run and result below)
        first = _take(node, nr, order, gfp, kind, fast_path_alloc_flags(gfp, ac.migratetype))
        if first.size == nr:
            if nr:
                sched = machine.sched
                cur = sched.current if sched is not None else None
                if cur is not None:  # oom_badness counts the pages held over the yield
                    cur.alloc_inflight = nr << order
                try:
                    yield Run(nr * machine.cost.alloc_page_ns)
                except OOMKilled:  # killed meanwhile: the pages go back
                    _give_back(node, first, order)
                    raise
                if cur is not None:
                    cur.alloc_inflight = 0
            return first
        if first.size:
            grab.parts.append(first)
            grab.got += int(first.size)
    else:
        take(fast_path_alloc_flags(gfp, ac.migratetype))
    cur = machine.sched.current if machine.sched is not None else None
    if cur is not None:
        cur.alloc_inflight = grab  # oom_badness counts what the request holds so far
    try:
        return (yield from _alloc_slow(node, nr, gfp, order, ac, grab))
    except OOMKilled:  # killed by the OOM killer while in here: what it holds goes back
        for p in grab.parts:
            _give_back(node, p, order)
        grab.parts.clear()
        raise
    finally:
        if cur is not None:
            cur.alloc_inflight = 0


def _alloc_slow(node: Node, nr: int, gfp: int, order: int, ac: Any, grab: Any) -> Gen:
    """The slow path of :func:`alloc_pages_task` (``__alloc_pages_slowpath``)."""
    machine = node.machine
    sched = machine.sched
    take = grab.take
    if grab.got < nr:
        from mmsim.mm.compaction import DEF_COMPACT_PRIORITY, INIT_COMPACT_PRIORITY

        task = sched.current if sched is not None else None
        task_flags = task.flags if task is not None else 0
        alloc_flags = gfp_to_alloc_flags(gfp, task_flags)
        can_direct_reclaim = bool(gfp & G.__GFP_DIRECT_RECLAIM)
        costly = order > PAGE_ALLOC_COSTLY_ORDER
        movable = ac.migratetype == 1
        reserve_flags = gfp_pfmemalloc_flags(gfp, task_flags)
        pfmemalloc = bool(reserve_flags)
        if alloc_flags & ALLOC_KSWAPD:
            wake_all_kswapds(node, order, gfp, ac.high_zoneidx)
        take(alloc_flags)
        compact_priority = DEF_COMPACT_PRIORITY
        compact_result = None
        if grab.got < nr and can_direct_reclaim and order and (costly or not movable) \
                and not pfmemalloc:
            compact_result = yield from _direct_compact(node, gfp, order, alloc_flags,
                                                        INIT_COMPACT_PRIORITY, grab)
            if grab.got < nr and costly and gfp & G.__GFP_NORETRY:
                from mmsim.mm.compaction import COMPACT_DEFERRED

                if compact_result == COMPACT_DEFERRED:
                    return grab.result()
                compact_priority = INIT_COMPACT_PRIORITY
        no_progress_loops = 0
        compaction_retries = 0
        while grab.got < nr:
            # retry:
            if alloc_flags & ALLOC_KSWAPD:
                wake_all_kswapds(node, order, gfp, ac.high_zoneidx)
            if reserve_flags:
                # the reserve flags *replace* alloc_flags: no more kswapd wake-ups,
                # and later attempts in this call ignore the watermarks too
                alloc_flags = reserve_flags
            take(alloc_flags)
            if grab.got >= nr:
                break
            if not can_direct_reclaim or task_flags & PF_MEMALLOC:
                break  # GFP_ATOMIC / GFP_NOWAIT / kswapd itself: fail
            # __alloc_pages_direct_reclaim
            progress = yield from _perform_reclaim(node, order, gfp, task)
            before = grab.got
            take(alloc_flags)
            if grab.got == before and progress:
                drain_all_pages(node)  # once "drained", per allocation attempt
                take(alloc_flags)
            if grab.got >= nr:
                break
            if order:
                compact_result = yield from _direct_compact(node, gfp, order, alloc_flags,
                                                            compact_priority, grab)
                if grab.got >= nr:
                    break
            if gfp & G.__GFP_NORETRY:
                break
            if costly and not gfp & G.__GFP_RETRY_MAYFAIL:
                break
            retry, no_progress_loops = should_reclaim_retry(node, gfp, order, alloc_flags,
                                                           bool(progress), no_progress_loops)
            if retry:
                continue
            if progress and order and compact_result is not None:
                retry, compact_priority, compaction_retries = should_compact_retry(
                    node, gfp, order, alloc_flags, compact_result, compact_priority,
                    compaction_retries)
                if retry:
                    continue
            # __alloc_pages_may_oom: one last try at the high watermark, then OOM
            take(ALLOC_WMARK_HIGH | (ALLOC_CMA if movable else 0))
            if grab.got >= nr:
                break
            if costly or gfp & G.__GFP_RETRY_MAYFAIL or ac.high_zoneidx < 2:
                break  # no OOM kill for these: the allocation just fails
            victim, points = out_of_memory(machine, task, gfp)
            if victim is OOM_WAIT_VICTIM or victim is OOM_NO_FS:
                # did_some_progress = 1 with nobody killed: retry, after the victim has
                # had its turn to exit (or, for IO-less requests, a jiffy later)
                no_progress_loops = 0
                yield Sleep(0 if victim is OOM_WAIT_VICTIM else sched.jiffies_to_ns(1))
                continue
            machine.vm_events["oom_kill"] += 1
            tr = machine.tracer
            if tr is not None:
                tr("mark_victim", pid=victim.pid if victim is not None else 0)
            if victim is not task:
                # SIGKILL to the victim, whose memory the OOM reaper frees at once;
                # did_some_progress = 1: this allocation goes back to retry
                _oom_kill_other(machine, victim, OOMKilled(order, gfp, task.pid, points))
                no_progress_loops = 0
                continue
            for p in grab.parts:  # the victim's partial allocation is given back
                _give_back(node, p, order)
            grab.parts.clear()
            raise OutOfMemory(order, gfp, nr - grab.got)
    if grab.got:
        yield Run(grab.got * machine.cost.alloc_page_ns)
    return grab.result()


def _oom_kill_other(machine: Any, victim: Any, exc: OOMKilled) -> None:
    """``oom_kill_process`` on another task: its anonymous memory and swap slots are
    freed now (``__oom_reap_task_mm``), and ``exc`` ends it where it is suspended."""
    from mmsim.mm.filemap import exit_mmap

    exit_mmap(machine, victim)
    machine.sched.kill(victim, exc)


def _give_back(node: Node, pfns: np.ndarray, order: int) -> None:
    from mmsim.mm.page_alloc import free_pages, free_pages_bulk

    if order == 0:
        free_pages_bulk(node, pfns)
    else:
        for p in pfns.tolist():
            free_pages(node, p, order)


class _Grab:
    """The pages one request has obtained so far, and how to take more."""

    def __init__(self, node: Node, nr: int, order: int, gfp: int, kind: Any):
        self.node, self.nr, self.order, self.gfp, self.kind = node, nr, order, gfp, kind
        self.parts: list[np.ndarray] = []
        self.got = 0

    def take(self, flags: int) -> int:
        """Take as many of the missing blocks as ``flags`` allow; returns how many."""
        p = _take(self.node, self.nr - self.got, self.order, self.gfp, self.kind, flags)
        if p.size:
            self.parts.append(p)
            self.got += int(p.size)
        return int(p.size)

    def result(self) -> np.ndarray:
        if not self.parts:
            return np.empty(0, dtype=np.int64)
        return self.parts[0] if len(self.parts) == 1 else np.concatenate(self.parts)


def should_compact_retry(node: Node, gfp: int, order: int, alloc_flags: int,
                         compact_result: int, compact_priority: int,
                         retries: int) -> tuple[bool, int, int]:
    """Retry compaction? (``should_compact_retry``) Returns (retry, priority, retries).

    Kernel source: https://elixir.bootlin.com/linux/v5.0/ident/should_compact_retry

    Success (progress) counts a retry and allows up to 16 (4 above
    ``PAGE_ALLOC_COSTLY_ORDER``); a withdrawn result (skipped, deferred,
    contended, partial) retries if some zone could still be compacted; a failed
    run (complete) or too many retries raises the priority, until the lowest
    allowed. Every decision for order > 0 emits ``compact_retry`` with the
    retries and priority the call started with.
    """
    from mmsim.mm.compaction import (
        COMPACT_COMPLETE,
        COMPACT_CONTENDED,
        COMPACT_DEFERRED,
        COMPACT_PARTIAL_SKIPPED,
        COMPACT_SKIPPED,
        COMPACT_SUCCESS,
        MIN_COMPACT_COSTLY_PRIORITY,
        MIN_COMPACT_PRIORITY,
        compaction_zonelist_suitable,
    )

    max_retries = 16  # MAX_COMPACT_RETRIES
    if not order:
        return False, compact_priority, retries
    start_priority, start_retries = compact_priority, retries
    if compact_result == COMPACT_SUCCESS:  # compaction_made_progress
        retries += 1
    feedback = "progress"
    if compact_result == COMPACT_COMPLETE:  # compaction_failed: goto check_priority
        feedback = "failed"
        ret = None
    elif compact_result in (COMPACT_SKIPPED, COMPACT_DEFERRED, COMPACT_CONTENDED,
                            COMPACT_PARTIAL_SKIPPED):  # compaction_withdrawn: goto out
        feedback = "withdrawn"
        ret = compaction_zonelist_suitable(node, gfp, order, alloc_flags)
    else:
        if order > PAGE_ALLOC_COSTLY_ORDER:
            max_retries //= 4
        ret = True if retries <= max_retries else None
    if ret is None:  # check_priority
        min_priority = MIN_COMPACT_COSTLY_PRIORITY if order > PAGE_ALLOC_COSTLY_ORDER \
            else MIN_COMPACT_PRIORITY
        ret = False
        if compact_priority > min_priority:
            compact_priority -= 1
            retries = 0
            ret = True
    # out:
    tr = node.machine.tracer
    if tr is not None:
        tr("compact_retry", order=order, priority=_COMPACT_PRIORITY_NAMES[start_priority],
           compaction_result=feedback, retries=start_retries, max_retries=max_retries,
           should_retry=int(ret))
    return ret, compact_priority, retries


#: ``COMPACTION_PRIORITY`` of include/trace/events/mmflags.h, by priority value
_COMPACT_PRIORITY_NAMES = ("COMPACT_PRIO_SYNC_FULL", "COMPACT_PRIO_SYNC_LIGHT",
                           "COMPACT_PRIO_ASYNC")


def _perform_reclaim(node: Node, order: int, gfp: int, task: Any) -> Gen:
    """``__perform_reclaim``: direct reclaim with ``PF_MEMALLOC`` set on the task.

    Kernel source: https://elixir.bootlin.com/linux/v5.0/ident/__perform_reclaim

    ``memalloc_noreclaim_save`` / ``_restore`` around ``try_to_free_pages``: an
    allocation the reclaimer makes meanwhile may use the reserves and never
    recurses into reclaim. Returns the pages reclaimed.
    """
    from mmsim.mm.vmscan import try_to_free_pages

    saved = task.flags & PF_MEMALLOC if task is not None else 0
    if task is not None:
        task.flags |= PF_MEMALLOC
    try:
        progress = yield from try_to_free_pages(node, order, gfp)
    finally:
        if task is not None:
            task.flags = (task.flags & ~PF_MEMALLOC) | saved
    return progress


def _direct_compact(node: Node, gfp: int, order: int, alloc_flags: int, prio: int,
                    grab: _Grab) -> Gen:
    """``__alloc_pages_direct_compact``: compact, then try to allocate; count the outcome."""
    from mmsim.mm.compaction import COMPACT_INACTIVE, compaction_defer_reset, try_to_compact_pages

    if not order:
        return None
    machine = node.machine
    sched = machine.sched
    task = sched.current if sched is not None else None
    saved = task.flags & PF_MEMALLOC if task is not None else 0
    if task is not None:
        task.flags |= PF_MEMALLOC  # memalloc_noreclaim_save
    try:
        result = yield from try_to_compact_pages(node, gfp, order, alloc_flags, prio)
    finally:
        if task is not None:  # memalloc_noreclaim_restore
            task.flags = (task.flags & ~PF_MEMALLOC) | saved
    if result <= COMPACT_INACTIVE:
        return result
    machine.vm_events["compact_stall"] += 1
    if grab.take(alloc_flags):
        zone = node.page_zone(int(grab.parts[-1][-1]))
        zone.compact_blockskip_flush = False
        compaction_defer_reset(zone, order, True)
        machine.vm_events["compact_success"] += 1
    else:
        machine.vm_events["compact_fail"] += 1
    return result


__all__ = ["OutOfMemory", "alloc_pages_task", "gfp_to_alloc_flags", "should_reclaim_retry",
           "wake_all_kswapds"]
