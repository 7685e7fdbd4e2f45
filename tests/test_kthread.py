"""The event loop of mmsim.kthread: wait queues, schedule_timeout, kthread_stop, ordering.

The daemons rely on the kernel's wait-queue protocol (kernel/sched/wait.c) and on
``schedule_timeout`` (kernel/time/timer.c) returning the jiffies left. Every
expected value below follows from those rules at HZ = 250 (one jiffy = 4 ms):
a timeout of ``n`` jiffies started at jiffy ``j`` fires at the first nanosecond
of jiffy ``j + n`` (``expire = jiffies + timeout``), and a task woken before
that gets ``expire - jiffies`` back.
"""

from __future__ import annotations

import pytest

from mmsim.kthread import (
    PF_KSWAPD,
    TASK_INTERRUPTIBLE,
    TASK_RUNNING,
    TASK_UNINTERRUPTIBLE,
    Run,
    Schedule,
    Scheduler,
    ScheduleTimeout,
    Sleep,
    WaitQueue,
    finish_wait,
    prepare_to_wait,
    waitqueue_active,
    wake_up_all,
    wake_up_interruptible,
    wake_up_process,
)

MS = 1_000_000  # ns


def _sched() -> Scheduler:
    return Scheduler(hz=250)


# --------------------------------------------------------------------------
# clock
# --------------------------------------------------------------------------
def test_jiffies_and_first_ns_of_a_jiffy_at_hz250():
    s = _sched()
    assert s.jiffies_to_ns(25) == 100 * MS  # HZ/10 = 25 jiffies = 100 ms
    assert s.ns_of_jiffy(25) == 100 * MS
    s.now_ns = 100 * MS - 1
    assert s.jiffies == 24
    s.now_ns = 100 * MS
    assert s.jiffies == 25
    # HZ=300: a jiffy is 3.333.. ms, the first ns of jiffy 1 is rounded up
    assert Scheduler(hz=300).ns_of_jiffy(1) == 3_333_334
    with pytest.raises(ValueError):
        Scheduler(hz=0)


# --------------------------------------------------------------------------
# wait queues
# --------------------------------------------------------------------------
def test_prepare_to_wait_finish_wait_and_waitqueue_active():
    s = _sched()
    wq = WaitQueue("wq")
    seen = []

    def task():
        me = s.current
        seen.append(waitqueue_active(wq))
        prepare_to_wait(wq, me)
        prepare_to_wait(wq, me)  # a second call does not queue the task twice
        seen.append((waitqueue_active(wq), len(wq.tasks), me.state))
        finish_wait(wq, me)
        seen.append((waitqueue_active(wq), me.state))
        finish_wait(wq, me)  # harmless when no longer queued
        yield None

    s.spawn(task, "t")
    s.run_until(0)
    assert seen == [False, (True, 1, TASK_INTERRUPTIBLE), (False, TASK_RUNNING)]


def test_wake_up_interruptible_wakes_only_interruptible_sleepers():
    s = _sched()
    wq = WaitQueue("wq")
    log = []

    def sleeper(name, state):
        prepare_to_wait(wq, s.current, state)
        yield Schedule()
        finish_wait(wq, s.current)
        log.append((name, s.now_ns))

    def waker():
        yield Sleep(10 * MS)
        log.append(("interruptible", wake_up_interruptible(wq)))
        yield Sleep(10 * MS)
        log.append(("all", wake_up_all(wq)))
        log.append(("again", wake_up_all(wq)))  # nobody is asleep any more

    s.spawn(sleeper, "i", "i", TASK_INTERRUPTIBLE)
    s.spawn(sleeper, "u", "u", TASK_UNINTERRUPTIBLE)
    s.spawn(waker, "waker")
    s.run_until(100 * MS)
    assert log == [("interruptible", 1), ("i", 10 * MS), ("all", 1), ("again", 0),
                   ("u", 20 * MS)]


def test_a_woken_entry_leaves_the_queue_at_once():
    """DEFINE_WAIT entries use autoremove_wake_function (kernel/sched/wait.c): a woken
    waiter is off the queue before it runs, so waitqueue_active() turns false and a
    second wake-up finds nobody (what wakeup_kswapd relies on)."""
    s = _sched()
    wq = WaitQueue("wq")
    log = []

    def sleeper(name):
        prepare_to_wait(wq, s.current)
        yield Schedule()
        log.append((name, waitqueue_active(wq)))
        finish_wait(wq, s.current)

    def waker():
        yield Sleep(10 * MS)
        log.append(("woken", wake_up_interruptible(wq), waitqueue_active(wq)))
        log.append(("again", wake_up_interruptible(wq), wake_up_all(wq)))

    s.spawn(sleeper, "a", "a")
    s.spawn(sleeper, "b", "b")
    s.spawn(waker, "waker")
    s.run_until(0)
    assert waitqueue_active(wq) and len(wq.tasks) == 2
    s.run_until(100 * MS)
    assert log == [("woken", 2, False), ("again", 0, 0), ("a", False), ("b", False)]


def test_schedule_timeout_returns_the_jiffies_left():
    s = _sched()
    wq = WaitQueue("wq")
    log = []

    def napper():
        yield Sleep(149 * MS)  # jiffy 37 (148..152 ms)
        prepare_to_wait(wq, s.current)
        left = yield ScheduleTimeout(25)  # expire = 37 + 25 = jiffy 62 = 248 ms
        finish_wait(wq, s.current)
        log.append(("early", s.now_ns, left))
        prepare_to_wait(wq, s.current)
        left = yield ScheduleTimeout(25)
        finish_wait(wq, s.current)
        log.append(("timeout", s.now_ns, left))

    def waker():
        yield Sleep(200 * MS)  # jiffy 50: 12 jiffies before the timer
        wake_up_interruptible(wq)

    s.spawn(napper, "napper")
    s.spawn(waker, "waker")
    s.run_until(1000 * MS)
    # second nap: starts at jiffy 50, ends at the first ns of jiffy 75 = 300 ms
    assert log == [("early", 200 * MS, 12), ("timeout", 300 * MS, 0)]


def test_an_early_wake_cancels_the_timer():
    """The stale timer of a nap cut short must not end a later schedule()."""
    s = _sched()
    wq = WaitQueue("wq")
    resumed = []

    def task():
        prepare_to_wait(wq, s.current)
        left = yield ScheduleTimeout(25)  # timer at 100 ms
        resumed.append((s.now_ns, left))
        prepare_to_wait(wq, s.current)
        yield Schedule()  # no timeout: only a wake-up ends this
        resumed.append((s.now_ns, None))

    def waker():
        yield Sleep(40 * MS)
        wake_up_interruptible(wq)
        yield Sleep(460 * MS)
        wake_up_interruptible(wq)

    t = s.spawn(task, "t")
    s.spawn(waker, "waker")
    s.run_until(300 * MS)
    assert resumed == [(40 * MS, 15)]
    assert t.state == TASK_INTERRUPTIBLE and t._blocked
    s.run_until(1000 * MS)
    assert resumed == [(40 * MS, 15), (500 * MS, None)]


def test_lost_wakeup_protection():
    """A wake-up between prepare_to_wait and schedule makes schedule return at once."""
    s = _sched()
    wq = WaitQueue("wq")
    log = []

    def worker():
        prepare_to_wait(wq, s.current)
        yield Run(10 * MS)  # still checking its condition when the wake-up comes
        log.append(("state before schedule", s.current.state))
        yield Schedule()
        log.append(("schedule returned", s.now_ns))
        prepare_to_wait(wq, s.current)
        yield Run(10 * MS)
        left = yield ScheduleTimeout(25)
        log.append(("schedule_timeout returned", s.now_ns, left))
        finish_wait(wq, s.current)

    def waker():
        yield Sleep(5 * MS)
        log.append(("woken", wake_up_interruptible(wq)))
        yield Sleep(10 * MS)
        log.append(("woken", wake_up_interruptible(wq)))

    s.spawn(worker, "worker")
    s.spawn(waker, "waker")
    s.run_until(1000 * MS)
    assert log == [
        ("woken", 1),
        ("state before schedule", TASK_RUNNING),
        ("schedule returned", 10 * MS),
        ("woken", 1),
        # already running: the full timeout is "left", no time passes
        ("schedule_timeout returned", 20 * MS, 25),
    ]


def test_without_a_wakeup_schedule_sleeps_for_good():
    s = _sched()
    wq = WaitQueue("wq")

    def task():
        prepare_to_wait(wq, s.current)
        yield Schedule()
        raise AssertionError("nobody woke this task")

    t = s.spawn(task, "t")
    s.run_until(10_000 * MS)
    assert t.alive and t._blocked and waitqueue_active(wq)
    assert s.pending() == 0


def test_sleep_is_not_cut_short_by_a_wakeup():
    s = _sched()
    log = []

    def sleeper():
        yield Sleep(50 * MS)
        log.append(s.now_ns)

    def waker(t):
        yield Sleep(10 * MS)
        log.append(wake_up_process(t))  # a running (msleep-ing) task is not "woken"

    t = s.spawn(sleeper, "sleeper")
    s.spawn(waker, "waker", t)
    s.run_until(100 * MS)
    assert log == [False, 50 * MS]


def test_run_charges_cpu_time_and_rejects_bad_yields():
    s = _sched()

    def worker():
        yield Run(3 * MS)
        yield Run(2 * MS)
        yield None
        return "done"

    t = s.spawn(worker, "w")
    s.run_until(100 * MS)
    assert (t.cpu_ns, t.result, t.alive) == (5 * MS, "done", False)

    def bad():
        yield 42

    s.spawn(bad, "bad")
    with pytest.raises(TypeError, match="cannot yield 42"):
        s.run_until(200 * MS)

    def negative():
        yield Run(-1)

    s2 = _sched()
    s2.spawn(negative, "neg")
    with pytest.raises(ValueError, match="negative cost"):
        s2.run_until(0)


def test_run_until_moves_the_clock_and_after_step_sees_every_resumption():
    s = _sched()
    steps = []
    s.after_step = lambda: steps.append((s.now_ns, s.current))

    def task():
        yield Sleep(5 * MS)
        yield Sleep(5 * MS)

    t = s.spawn(task, "t")
    s.run_until(7 * MS)
    assert s.now_ns == 7 * MS
    s.run_until(50 * MS)
    assert s.now_ns == 50 * MS
    # spawn (0), after 5 ms, after 10 ms (the generator ends); current is cleared after a step
    assert steps == [(0, None), (5 * MS, None), (10 * MS, None)]
    assert not t.alive


# --------------------------------------------------------------------------
# kthread_stop
# --------------------------------------------------------------------------
def test_kthread_stop_wakes_a_sleeping_kthread_that_then_exits():
    s = _sched()
    wq = WaitQueue("daemon_wait")
    log = []

    def daemon():
        me = s.current
        while not me.should_stop:
            prepare_to_wait(wq, me)
            yield Schedule()
            finish_wait(wq, me)
            log.append(("woken", s.now_ns))
        return 0

    def stopper(t):
        yield Sleep(30 * MS)
        s.kthread_stop(t)

    t = s.spawn(daemon, "daemon", flags=PF_KSWAPD)
    s.spawn(stopper, "stopper", t)
    s.run_until(100 * MS)
    assert log == [("woken", 30 * MS)]
    assert not t.alive and t.result == 0 and not waitqueue_active(wq)


def test_kthread_stop_ends_a_schedule_timeout_early():
    s = _sched()
    wq = WaitQueue("wq")
    log = []

    def napper():
        me = s.current
        while not me.should_stop:
            prepare_to_wait(wq, me)
            left = yield ScheduleTimeout(25)
            finish_wait(wq, me)
            log.append((s.now_ns, left))

    def stopper(t):
        yield Sleep(120 * MS)  # jiffy 30, the second nap ends at jiffy 50
        s.kthread_stop(t)

    t = s.spawn(napper, "napper")
    s.spawn(stopper, "stopper", t)
    s.run_until(1000 * MS)
    assert log == [(100 * MS, 0), (120 * MS, 20)]
    assert not t.alive


# --------------------------------------------------------------------------
# determinism: ties broken by (time, seq)
# --------------------------------------------------------------------------
def _tie_log() -> list[tuple[int, str]]:
    s = _sched()
    wq = WaitQueue("wq")
    log = []

    def sleeper(name):
        yield Sleep(10 * MS)
        log.append((s.now_ns, name))
        if name == "B":
            wake_up_interruptible(wq)  # D becomes runnable at 10 ms, after C's event
        yield None  # cond_resched: back in line after everything already due now
        log.append((s.now_ns, name + "'"))

    def blocked():
        prepare_to_wait(wq, s.current)
        yield Schedule()
        log.append((s.now_ns, "D"))

    s.spawn(blocked, "D")
    for name in "ABC":
        s.spawn(sleeper, name, name)
    s.run_until(20 * MS)
    return log


def test_events_at_the_same_time_run_in_creation_order():
    log = _tie_log()
    assert log == [(10 * MS, "A"), (10 * MS, "B"), (10 * MS, "C"),
                   (10 * MS, "A'"), (10 * MS, "D"), (10 * MS, "B'"), (10 * MS, "C'")]
    assert _tie_log() == log  # and identically on every run


def test_kill_wakes_a_sleeper_and_an_unhandled_signal_ends_it():
    """``Scheduler.kill``: the exception is raised where the task sleeps, at once; a task
    that does not catch it dies (no crash of the loop), one that catches it goes on."""
    from mmsim.kthread import Schedule, Scheduler, Sleep, WaitQueue, prepare_to_wait

    class Fatal(Exception):
        pass

    sched = Scheduler(hz=250)
    log = []
    wq = WaitQueue("q")

    def sleeper():
        yield Sleep(10**9)
        log.append("woke normally")  # pragma: no cover - must not happen

    def waiter():
        try:
            prepare_to_wait(wq, sched.current)
            yield Schedule()
        except Fatal:
            log.append(("waiter caught", sched.now_ns))
        yield Sleep(5)
        log.append(("waiter done", sched.now_ns))

    a = sched.spawn(sleeper, "sleeper")
    b = sched.spawn(waiter, "waiter")
    sched.run_until(1000)
    assert b in wq.tasks
    sched.kill(a, Fatal())
    sched.kill(b, Fatal())
    assert b not in wq.tasks
    sched.run_until(2000)
    assert not a.alive and a.pending_exc is None
    assert log == [("waiter caught", 1000), ("waiter done", 1005)]
    assert not b.alive
    sched.kill(a, Fatal())  # a dead task is left alone
    assert a.pending_exc is None
