# %% [markdown]
# # 17 · `kcompactd`: a thread that sleeps until asked, then makes one pass
#
# **Kernel function:** [`kcompactd`, mm/compaction.c L2055–2083](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L2055)
# (Linux **v5.0**), with its wake-up condition
# [`kcompactd_work_requested`, L1915–1918](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L1915).
#
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/mmsim/mmsim/main?urlpath=lab/tree/notebooks/17-kcompactd.ipynb)
#
# `kcompactd` is the body of the per-node thread `kcompactd<nid>` (started by
# `kcompactd_run`, lesson 16). It sleeps on the node's `kcompactd_wait` queue until a request is
# recorded, runs one `kcompactd_do_work` pass (lesson 18), and goes back to sleep. In v5.0 it has
# no timer and no notion of "balanced": it works only when `wakeup_kcompactd` (lesson 19) wakes
# it — and that is called from three places, all on kswapd's side of memory management.

# %%
# %matplotlib inline
from mmsim.lessons import show_source
from mmsim.panels import l17_kcompactd as lesson

# %% [markdown]
# ## Step by step
#
# 1. Bind the thread to the node's CPUs (if the node has any) and make it freezable, so that
#    suspend can park it.
# 2. `kcompactd_max_order = 0`, `kcompactd_classzone_idx = nr_zones − 1`: no request.
# 3. Until `kthread_should_stop()`:
#    1. tracepoint `mm_compaction_kcompactd_sleep`
#       ([L2073](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L2073)) — every
#       time it enters the wait, even when work is already pending;
#    2. `wait_event_freezable(kcompactd_wait, kcompactd_work_requested(pgdat))`
#       ([L2074](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L2074)): returns at
#       once if `kcompactd_max_order > 0` (or the thread should stop), else sleeps — **with no
#       timeout**;
#    3. `psi_memstall_enter`, `kcompactd_do_work(pgdat)`, `psi_memstall_leave`: the pass counts
#       as a memory stall in `/proc/pressure/memory`.
#
# **One wake-up, one pass.** The pass clears the request at its end unless a bigger one
# arrived meanwhile; then the loop finds work pending and runs another pass without sleeping.
#
# **Who calls `wakeup_kcompactd` in v5.0** (mm/vmscan.c):
#
# | caller | when | order asked |
# |---|---|---|
# | `kswapd_try_to_sleep` | kswapd is balanced and about to take its HZ/10 nap | the order kswapd was woken for |
# | `balance_pgdat` (end) | the run reclaimed for a watermark boost | `pageblock_order` (9) |
# | `wakeup_kswapd` | kswapd sleeps and is not needed (hopeless, or balanced and not boosted) and the caller lacks `__GFP_DIRECT_RECLAIM` | the caller's order |
#
# **What does not wake it:** an order-0 request (ignored); a node where no zone would say
# CONTINUE (request recorded, kcompactd left asleep); a kcompactd that is busy (request
# recorded, seen after the pass); a caller that can reclaim directly when kswapd is not needed
# (it compacts itself); time passing.

# %% [markdown]
# ## The mmsim twin

# %%
from mmsim.mm import compaction

show_source(compaction.kcompactd)

# %%
show_source(compaction.kcompactd_work_requested)

# %% [markdown]
# ## Experiment: six situations, one node
#
# A small node: DMA32 (16 MiB) of page cache with one free order-9 block; Normal (64 MiB) of
# anonymous memory — no swap, so kswapd cannot reclaim it, but compaction can move it — with
# 8 MiB free in order-4 blocks. kcompactd and kswapd are asleep. At t = 0 one task does one
# thing, and the real kswapd and kcompactd threads react for 0.25 s:

# %%
# NBVAL_CHECK_OUTPUT
print(lesson.summary_table().to_string())

# %% [markdown]
# * **THP fault, defrag=defer** — the fault wakes kswapd (order 9, not balanced); kswapd
#   reclaims `compact_gap(9)` = 1024 page-cache pages, drops to order 0, and just before its
#   nap calls `wakeup_kcompactd(order 9)`. kcompactd compacts Normal. The fault itself had
#   already failed: a THP fault with `defrag=defer` does not wait.
# * **slab allocations** — the steal boosts the watermarks and wakes kswapd (order 0); the
#   boosted run ends with `wakeup_kcompactd(pageblock_order)`.
# * **kswapd hopeless** — `wakeup_kswapd` leaves kswapd asleep and, since the caller cannot
#   reclaim, wakes kcompactd itself: the waker is the faulting task (`app`).
# * **big read** — kswapd is woken for order 0 again and again; its naps ask for order 0,
#   which `wakeup_kcompactd` ignores.
# * **GFP_KERNEL order 9** — the task compacts directly (and gets its block); kswapd's nap
#   still hands the order-9 request to kcompactd.
# * **defrag=madvise** — no `__GFP_KSWAPD_RECLAIM`: nobody is woken at all.
#
# The first situation as ftrace:

# %%
# NBVAL_CHECK_OUTPUT
r = lesson.run_situation("THP fault, defrag=defer")
print(lesson.ftrace_for(r))

# %% [markdown]
# After its pass kcompactd is back in its wait at 0.251 s; the run goes on until 0.5 s and
# nothing wakes it again — there is no periodic activity in v5.0.

# %%
lesson.update("THP fault, defrag=defer")

# %% [markdown]
# ## Try it
#
# Pick a situation: the figure shows the three threads (the task, kswapd0, kcompactd0) on a
# time axis that is linear for the first millisecond and logarithmic after; stars are calls
# that wake kcompactd, yellow bars the `compact_zone` runs.

# %%
lesson.PANELS[0].widget()

# %% [markdown]
# ## Check yourself

# %%
from mmsim.exercises import quiz

q1, = quiz("kcompactd_wake", seed=5)
q1

# %% hide
print(q1.reveal())

# %%
q2, = quiz("kcompactd_wake", seed=7)
q2

# %% hide
print(q2.reveal())

# %%
q3, = quiz("kcompactd_wake", seed=0)
q3

# %% hide
print(q3.reveal())

# %% [markdown]
# ## On your machine
#
# `compact_daemon_wake` counts kcompactd passes. On an idle machine it stays flat — a v5.0
# kcompactd only works when kswapd or an allocation asks. Run `ps -e | grep kcompactd` to see
# one thread per node with memory. On 5.9+ kernels with `vm.compaction_proactiveness` > 0 the
# counter can also grow on its own.

# %%
from mmsim.panels.l21_compact_zone import host_report

print(host_report(("vmstat",)))

# %% [markdown]
# ## After v5.0, and common misreadings
#
# * **5.8** renamed `kcompactd_classzone_idx` → `kcompactd_highest_zoneidx`.
# * **5.9** (proactive compaction): the wait becomes `wait_event_freezable_timeout` with a
#   500 ms timeout (`HPAGE_FRAG_CHECK_INTERVAL_MSEC`); on a timeout kcompactd compacts
#   proactively if the node's fragmentation score is above the target set by
#   `vm.compaction_proactiveness` (default 20).
# * Misreading: "kcompactd runs periodically, like a watchdog." Not in v5.0: no timeout at all.
# * Misreading: "kcompactd sleeps when the node is balanced, like kswapd." It has no balance
#   test and no watermark-based sleep: one request, one pass, back to sleep.
# * Misreading: "kswapd and kcompactd are woken by the same events." kcompactd is almost always
#   woken *by kswapd* (before its nap, or after a boosted run); only a hopeless or balanced node
#   lets `wakeup_kswapd` wake it directly, and only for callers that cannot reclaim.
