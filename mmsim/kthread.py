"""Simulated time: a clock in jiffies, wait queues, and kernel threads as generators.

The kernel's daemons are loops that sleep on *wait queues* until somebody
wakes them, nap with ``schedule_timeout``, and otherwise spend CPU time on
their work. mmsim runs them in a small discrete-event loop in the spirit of
SimPy: every task is a Python generator that ``yield``\\ s what it wants to do
next, and the scheduler resumes it at the right simulated time. Events are
ordered by ``(time, seq)`` - the sequence number breaks ties in the order the
events were created - so a run is deterministic.

What a task can yield (the "syscalls" of this tiny kernel):

``Run(ns)``
    Spend ``ns`` nanoseconds of CPU time (the cost of work just done).
``Schedule()``
    Sleep until woken (``schedule()`` after ``prepare_to_wait``); returns at
    once if a wake-up already arrived after ``prepare_to_wait``.
``ScheduleTimeout(jiffies)``
    Sleep until woken or until the timeout; the value sent back is the time
    left in jiffies, 0 if it ran out (``schedule_timeout``).
``Sleep(ns)``
    Sleep a fixed time that no wake-up can cut short (``msleep``-like).
``None``
    Give others the CPU and continue at the same time (``cond_resched``).

Wait queues follow the kernel's protocol: ``prepare_to_wait`` puts the task on
the queue and marks it interruptible; ``wake_up_interruptible`` wakes every
task on the queue that is still marked so; ``finish_wait`` takes the task off;
``waitqueue_active`` tells whether anybody is on it. That is all the daemons
rely on, including the lost-wake-up protection: a wake-up between
``prepare_to_wait`` and ``schedule`` makes the ``schedule`` return at once.

Kernel source: kernel/sched/wait.c (``prepare_to_wait``, ``finish_wait``,
``__wake_up``), kernel/time/timer.c (``schedule_timeout``), kernel/kthread.c
(``kthread_run``, ``kthread_stop``, ``kthread_should_stop``);
https://elixir.bootlin.com/linux/v5.0/source/kernel/sched/wait.c

Simplifications
---------------
* Every task runs on its own CPU: there is no run queue and no CPU contention,
  only each task's own costs. (A 2-CPU box running kswapd, kcompactd and a
  workload at full speed would in reality share CPUs.)
* Wake-ups are immediate; the scheduler latency is zero.
* The freezer is not modelled: ``try_to_freeze`` always returns false.
* Time is kept in integer nanoseconds; ``jiffies`` is derived as
  ``now_ns * HZ // 10**9``.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

NSEC_PER_SEC = 1_000_000_000

# task flags (include/linux/sched.h, v5.0 values)
PF_KTHREAD = 0x00200000
PF_MEMALLOC = 0x00000800
PF_SWAPWRITE = 0x00800000
PF_KSWAPD = 0x00020000

TASK_RUNNING = 0
TASK_INTERRUPTIBLE = 1
TASK_UNINTERRUPTIBLE = 2
TASK_DEAD = 64


@dataclass(frozen=True)
class Run:
    """Spend ``ns`` of CPU time."""

    ns: int


@dataclass(frozen=True)
class Schedule:
    """Sleep until woken (after ``prepare_to_wait``)."""


@dataclass(frozen=True)
class ScheduleTimeout:
    """Sleep until woken or ``jiffies`` pass; sends back the jiffies left."""

    jiffies: int


@dataclass(frozen=True)
class Sleep:
    """Sleep ``ns``, not interruptible."""

    ns: int


TaskGen = Generator[Any, Any, Any]

#: marks "the task's generator returned" inside Scheduler.run_until
_DEAD = object()


class Task:
    """``struct task_struct``, reduced to what the daemons look at.

    Attributes
    ----------
    comm : str
        Command name (``kswapd0``, ``kcompactd0``, ``reader``...).
    pid : int
    flags : int
        ``PF_*`` flags (``PF_KSWAPD``, ``PF_MEMALLOC``...).
    state : int
        ``TASK_RUNNING``, ``TASK_INTERRUPTIBLE``, ``TASK_DEAD``.
    """

    def __init__(self, sched: Scheduler, comm: str, pid: int, cpu: int):
        self.sched = sched
        self.comm = comm
        self.pid = pid
        self.cpu = cpu
        self.flags = 0
        self.state = TASK_RUNNING
        self.gen: TaskGen | None = None
        self.should_stop = False
        self.result: Any = None
        self.cpu_ns = 0  # CPU time used (sum of Run)
        self._token = 0  # invalidates stale timer/resume events
        self._blocked = False  # suspended in Schedule/ScheduleTimeout
        self._timeout_expire = None  # jiffies at which a ScheduleTimeout ends
        self.waitqueues: set[WaitQueue] = set()
        #: raised inside the task at its next resumption (a fatal signal: :meth:`Scheduler.kill`)
        self.pending_exc: BaseException | None = None
        #: what an allocation in progress holds (taken, not yet mapped), for oom_badness:
        #: a page count over the fast path's one yield, or the slow path's request object
        #: (whose ``got`` grows as it retries)
        self.alloc_inflight: Any = 0

    @property
    def alive(self) -> bool:
        return self.state != TASK_DEAD

    def __repr__(self) -> str:
        return f"Task({self.comm}-{self.pid})"


class WaitQueue:
    """``wait_queue_head_t``: tasks waiting for an event.

    Examples
    --------
    >>> sched = Scheduler(hz=250)
    >>> wq = WaitQueue("demo")
    >>> log = []
    >>> def sleeper():
    ...     prepare_to_wait(wq, sched.current)
    ...     left = yield ScheduleTimeout(25)
    ...     finish_wait(wq, sched.current)
    ...     log.append((sched.jiffies, left))
    >>> def waker():
    ...     yield Sleep(40_000_000)          # 40 ms = 10 jiffies
    ...     log.append(("wake", waitqueue_active(wq)))
    ...     wake_up_interruptible(wq)
    >>> _ = sched.spawn(sleeper, "sleeper"); _ = sched.spawn(waker, "waker")
    >>> sched.run_until(10**9)
    >>> log
    [('wake', True), (10, 15)]
    """

    def __init__(self, name: str = ""):
        self.name = name
        self.tasks: list[Task] = []

    def __repr__(self) -> str:
        return f"WaitQueue({self.name!r}, {len(self.tasks)} waiting)"

    def __hash__(self) -> int:
        return id(self)


def prepare_to_wait(wq: WaitQueue, task: Task, state: int = TASK_INTERRUPTIBLE) -> None:
    """Put ``task`` on ``wq`` (if not there) and mark it sleeping."""
    if task not in wq.tasks:
        wq.tasks.append(task)
        task.waitqueues.add(wq)
    task.state = state


def finish_wait(wq: WaitQueue, task: Task) -> None:
    """Mark ``task`` running and take it off ``wq``."""
    task.state = TASK_RUNNING
    if task in wq.tasks:
        wq.tasks.remove(task)
        task.waitqueues.discard(wq)


def waitqueue_active(wq: WaitQueue) -> bool:
    """Is anybody waiting on ``wq``?"""
    return bool(wq.tasks)


def wake_up_process(task: Task) -> bool:
    """Make a sleeping task runnable; False if it was not sleeping."""
    if task.state not in (TASK_INTERRUPTIBLE, TASK_UNINTERRUPTIBLE):
        return False
    task.state = TASK_RUNNING
    if task._blocked:
        task.sched._resume_now(task)
    return True


def _autoremove_wake(wq: WaitQueue, task: Task) -> bool:
    """``autoremove_wake_function``: wake ``task``; if it woke, drop it from ``wq``.

    Every waiter in mmsim's daemons sleeps on an entry made by ``DEFINE_WAIT``
    or ``wait_event_*`` (kswapd, kcompactd, ``pfmemalloc_wait``), and those
    entries leave the queue as soon as they are woken. So a second wake-up
    before the task has run finds ``waitqueue_active()`` false.
    """
    if not wake_up_process(task):
        return False
    if task in wq.tasks:
        wq.tasks.remove(task)
        task.waitqueues.discard(wq)
    return True


def wake_up_interruptible(wq: WaitQueue) -> int:
    """Wake every interruptible sleeper on ``wq``; returns how many were woken.

    Woken tasks leave the queue (``autoremove_wake_function``).

    >>> sched = Scheduler(hz=250)
    >>> wq = WaitQueue("demo")
    >>> def sleeper():
    ...     prepare_to_wait(wq, sched.current)
    ...     yield Schedule()
    ...     finish_wait(wq, sched.current)
    >>> _ = sched.spawn(sleeper, "s")
    >>> sched.run_until(0)
    >>> waitqueue_active(wq), wake_up_interruptible(wq), waitqueue_active(wq)
    (True, 1, False)
    """
    n = 0
    for task in list(wq.tasks):
        if task.state == TASK_INTERRUPTIBLE and _autoremove_wake(wq, task):
            n += 1
    return n


def wake_up_all(wq: WaitQueue) -> int:
    """Wake every sleeper on ``wq`` (interruptible or not); woken tasks leave it."""
    n = 0
    for task in list(wq.tasks):
        if _autoremove_wake(wq, task):
            n += 1
    return n


class Scheduler:
    """The event loop: a heap of ``(time_ns, seq, task, token)`` resumptions.

    Parameters
    ----------
    hz
        Jiffies per second (``CONFIG_HZ``), 250 by default as on x86 distribution kernels.
    """

    def __init__(self, hz: int = 250):
        if hz <= 0:
            raise ValueError(f"hz: {hz} is out of range; allowed 1..")
        self.hz = hz
        self.now_ns = 0
        self._seq = 0
        self._heap: list[tuple[int, int, Task, int, Any]] = []
        self.tasks: list[Task] = []
        self.current: Task | None = None
        self._next_pid = 100
        self._send: dict[Task, Any] = {}
        #: called after every resumption, e.g. for invariant checks in tests
        self.after_step: Callable[[], None] | None = None

    # ---- time ---------------------------------------------------------------
    @property
    def jiffies(self) -> int:
        return self.now_ns * self.hz // NSEC_PER_SEC

    def jiffies_to_ns(self, j: int) -> int:
        return j * NSEC_PER_SEC // self.hz

    def ns_of_jiffy(self, j: int) -> int:
        """First nanosecond at which ``jiffies == j``."""
        return -(-j * NSEC_PER_SEC // self.hz)

    @property
    def now(self) -> float:
        """Simulated seconds."""
        return self.now_ns / NSEC_PER_SEC

    # ---- tasks --------------------------------------------------------------
    def spawn(self, fn: Callable[..., TaskGen], comm: str, *args: Any, flags: int = 0,
              cpu: int = 0, pid: int | None = None) -> Task:
        """Create a task running generator function ``fn(*args)`` now (``kthread_run``)."""
        if pid is None:
            pid = self._next_pid
            self._next_pid += 1
        task = Task(self, comm, pid, cpu)
        task.flags = flags
        self.tasks.append(task)
        prev = self.current
        self.current = task
        try:
            task.gen = fn(*args)
        finally:
            self.current = prev
        self._push(self.now_ns, task)
        return task

    def kthread_stop(self, task: Task) -> None:
        """Ask a kthread to stop and wake it (it exits at its next check)."""
        task.should_stop = True
        wake_up_process(task)

    def kill(self, task: Task, exc: BaseException) -> None:
        """Deliver a fatal signal: ``exc`` is raised inside ``task`` where it is suspended.

        Like ``SIGKILL``, it wakes the task at once from any sleep or wait; the
        task's code unwinds from the ``yield`` it was suspended at. A dead task
        is left alone.
        """
        if not task.alive:
            return
        task.pending_exc = exc
        for wq in list(task.waitqueues):
            finish_wait(wq, task)
        task._blocked = False
        task._timeout_expire = None
        task.state = TASK_RUNNING
        self._push(self.now_ns, task)

    def _push(self, t: int, task: Task, value: Any = None) -> None:
        task._token += 1
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, task, task._token, value))

    def _resume_now(self, task: Task) -> None:
        task._blocked = False
        value: Any = None
        if task._timeout_expire is not None:
            value = max(0, task._timeout_expire - self.jiffies)
            task._timeout_expire = None
        self._push(self.now_ns, task, value)

    # ---- the loop -----------------------------------------------------------
    def run_until(self, t_ns: int) -> None:
        """Run events up to and including time ``t_ns``; the clock ends at ``t_ns``.

        Each event is :meth:`_step` (resume the task) and :meth:`_dispatch`
        (act on what it yielded); the loop below does exactly that, with the
        two commands that make up most events - ``Run`` and ``Sleep`` - and
        their :meth:`_push` written out on local variables.
        """
        heap = self._heap
        heappop = heapq.heappop
        heappush = heapq.heappush
        while heap and heap[0][0] <= t_ns:
            t, _seq, task, token, value = heappop(heap)
            if token != task._token or task.state == TASK_DEAD:
                continue
            self.now_ns = t
            if task._blocked:  # a schedule_timeout timer ran out (process_timeout)
                task._blocked = False
                task._timeout_expire = None
                task.state = TASK_RUNNING
                value = 0
            # step the task: resume its generator with value (or a pending fatal signal)
            self.current = task
            gen = task.gen
            assert gen is not None
            signal = task.pending_exc
            try:
                if signal is None:
                    cmd = gen.send(value)
                else:
                    task.pending_exc = None
                    cmd = gen.throw(signal)
            except StopIteration as stop:
                task.state = TASK_DEAD
                task.result = stop.value
                for wq in list(task.waitqueues):
                    finish_wait(wq, task)
                cmd = _DEAD
            except BaseException as exc:
                if exc is not signal:
                    raise
                task.state = TASK_DEAD  # the fatal signal was not handled: the task dies
                for wq in list(task.waitqueues):
                    finish_wait(wq, task)
                cmd = _DEAD
            finally:
                self.current = None
            # _dispatch(task, cmd) for Run and Sleep; anything else goes to _dispatch
            cls = cmd.__class__
            if cls is Run:
                ns = cmd.ns
                if ns < 0:
                    raise ValueError(f"Run: negative cost {ns} ns from {task.comm}")
                task.cpu_ns += ns
                task._token += 1
                self._seq += 1
                heappush(heap, (self.now_ns + ns, self._seq, task, task._token, None))
            elif cls is Sleep:
                ns = cmd.ns
                task._token += 1
                self._seq += 1
                heappush(heap, (self.now_ns + (ns if ns > 0 else 0), self._seq, task, task._token,
                                  None))
            elif cmd is not _DEAD:
                self._dispatch(task, cmd)
            if self.after_step is not None:
                self.after_step()
        if t_ns > self.now_ns:
            self.now_ns = t_ns

    def _dispatch(self, task: Task, cmd: Any) -> None:
        if cmd is None:
            self._push(self.now_ns, task)
        elif isinstance(cmd, Run):
            if cmd.ns < 0:
                raise ValueError(f"Run: negative cost {cmd.ns} ns from {task.comm}")
            task.cpu_ns += cmd.ns
            self._push(self.now_ns + cmd.ns, task)
        elif isinstance(cmd, Sleep):
            self._push(self.now_ns + max(0, cmd.ns), task)
        elif isinstance(cmd, Schedule):
            if task.state == TASK_RUNNING:  # woken since prepare_to_wait
                self._push(self.now_ns, task)
            else:
                task._blocked = True
                task._token += 1  # no pending resumption
        elif isinstance(cmd, ScheduleTimeout):
            if task.state == TASK_RUNNING:
                self._push(self.now_ns, task, cmd.jiffies)
            else:
                expire = self.jiffies + cmd.jiffies
                task._timeout_expire = expire
                task._blocked = True
                # the timer: an early wake-up pushes a newer token and so cancels it
                self._push(self.ns_of_jiffy(expire), task, 0)
        else:
            raise TypeError(f"{task.comm}: cannot yield {cmd!r}; yield Run, Schedule, "
                            "ScheduleTimeout, Sleep or None")

    def pending(self) -> int:
        return len(self._heap)
