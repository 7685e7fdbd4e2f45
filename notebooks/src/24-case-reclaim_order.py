# %% [markdown]
# # 24 · Case study: what `reclaim_order < alloc_order` in `kswapd()` really means
#
# **Kernel code:** the test at the end of [`kswapd`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L3849)
# (`mm/vmscan.c` lines 3849–3928 of Linux **v5.0**; the test is
# [L3920–3921](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L3920)), the order drop in
# [`kswapd_shrink_node`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L3515) (L3515–3516)
# and the hand-over in [`kswapd_try_to_sleep`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L3787) (L3787).
#
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/mmsim/mmsim/main?urlpath=lab/tree/notebooks/24-case-reclaim_order.ipynb)
#
# The question, raised in the comments under the seed article ("Zoned Allocator -14- (Kswapd &
# Kcompactd)", kernel v5.0): after `reclaim_order = balance_pgdat(pgdat, alloc_order,
# classzone_idx)`, what does `if (reclaim_order < alloc_order) goto kswapd_try_sleep;` mean? The
# tempting reading — helped by the kernel's own comment, "if a high-order reclaim fails then kswapd
# falls back to reclaiming for order-0" — is *"kswapd could not reclaim enough for the big
# allocation, so it gives up and goes to sleep"*. This notebook shows, with a trace, that the
# opposite is true: the goto is taken when kswapd **succeeded** in freeing enough memory for the
# request, and it is how kswapd hands the rest of the job — making the memory contiguous — to
# **kcompactd**.

# %%
# %matplotlib inline
from mmsim.lessons import show_source
from mmsim.mm import vmscan
from mmsim.panels import l24_case_reclaim_order as lesson
from mmsim.panels.l06_kswapd import loop_table

# %% [markdown]
# ## Step by step: the path of one order-9 request
#
# | where (v5.0) | what happens |
# |---|---|
# | `wakeup_kswapd` L3937–3973 | the failing allocation records order 9 and its classzone in `pgdat`, then wakes kswapd |
# | `kswapd` L3893–3896, L3917 | kswapd reads `alloc_order = reclaim_order = 9`; tracepoint `mm_vmscan_kswapd_wake … order=9` |
# | `balance_pgdat` L3609, L3620 | `pgdat_balanced(pgdat, 9, …)` is false: no free block of order 9 above the high watermark |
# | `kswapd_shrink_node` L3506 | `shrink_node` at priority 12 — which, for `sc.order` > 3, keeps going (`should_continue_reclaim`, L2619) until `compact_gap(9)` = **1024** pages are reclaimed and compaction could succeed |
# | `kswapd_shrink_node` L3515–3516 | `sc.nr_reclaimed >= compact_gap(sc.order)`, so **`sc.order = 0`** — from now on the run only needs an order-0 balanced zone |
# | `balance_pgdat` L3609, L3620–3621 | next pass: balanced at order 0 → `goto out` |
# | `balance_pgdat` L3737 | `return sc.order` → **0** |
# | `kswapd` L3920–3921 | `0 < 9` → **`goto kswapd_try_sleep`** with `alloc_order` 9, `reclaim_order` 0 |
# | `kswapd_try_to_sleep` L3774 | `prepare_kswapd_sleep(pgdat, reclaim_order = 0, …)` — true |
# | `kswapd_try_to_sleep` L3781, L3787 | `reset_isolation_suitable()`; **`wakeup_kcompactd(pgdat, alloc_order = 9, …)`** |
# | `wakeup_kcompactd` (compaction.c L2025–2049) | records order 9; kcompactd sleeps and `kcompactd_node_suitable()` says compaction can help → tracepoint `mm_compaction_wakeup_kcompactd order=9`, wake |
# | `kswapd_try_to_sleep` L3789 | kswapd naps `HZ/10`; kcompactd runs one `kcompactd_do_work()` pass (L1940–2023) |
#
# So `reclaim_order < alloc_order` means: *this run reclaimed at least `compact_gap(alloc_order)`
# pages and then balanced the node at order 0*. `reclaim_order` can only drop at L3515–3516, and
# only after that many pages were freed. The decision to sleep is taken at order 0 because free
# memory is now there; turning it into one order-9 block is compaction's job, and the original
# order goes to kcompactd. The line of the kernel comment is about the high-order *watermark*,
# which reclaim alone did not meet — not about reclaim failing.

# %% [markdown]
# ## The mmsim twin
#
# The drop happens in `kswapd_shrink_node`; the `goto` is in `kswapd` (lesson 06).

# %%
show_source(vmscan.kswapd_shrink_node)

# %% [markdown]
# ## Experiment 1: the hand-over in a trace
#
# A 256 MiB node full of page cache. The cache was read once, then every other run of 32 pages was
# read twice more, so those runs are on the active list: reclaim will free the others, leaving
# free memory in pieces of at most 32 pages. One unmovable kernel page breaks the only free
# pageblock. From t = 0.25 s, every 0.3 s, one order-9 request arrives that may wake kswapd but
# not reclaim or compact itself (`GFP_TRANSHUGE_LIGHT|__GFP_KSWAPD_RECLAIM`, a THP fault with
# `defrag=defer`). First, request by request:

# %%
# NBVAL_CHECK_OUTPUT
run = lesson.case_run(order=9, stripe=32)
print(lesson.requests_table(run).to_string())

# %% [markdown]
# The first request, as ftrace lines (`#` lines are added: what `balance_pgdat` returned, which
# no tracepoint shows, and runs of identical events collapsed):

# %%
# NBVAL_CHECK_OUTPUT
print(lesson.story(run))

# %% [markdown]
# Every step of the table above is there: `mm_vmscan_kswapd_wake … order=9`; 1026 pages
# reclaimed at priority 12 (just over `compact_gap(9)` = 1024); `balance_pgdat` returning 0; the
# goto; `mm_compaction_wakeup_kcompactd … order=9` emitted by **kswapd0** from
# `kswapd_try_to_sleep`, at the instant its run ended; kcompactd's single pass migrating pages and
# ending with `status=success`; and kswapd's full sleep 100 ms later, after an undisturbed nap.
# (The allocator's slow path calls `wakeup_kswapd` twice — on entry and on its first retry —
# before it gives up, because this request may not reclaim. kcompactd's wake prints classzone
# DMA32, not Movable: `wakeup_kcompactd` keeps the *lowest* classzone, and kcompactd starts from
# `nr_zones − 1` = DMA32 on this node.)
#
# The figure: free pages with kswapd's runs and kcompactd's passes, and DMA32's free blocks per
# order at three instants of the first request, captured by a tap on the tracepoints — reclaim
# produced 1026 free pages but no block of order 9; compaction assembled one. The second request
# is served without waking anybody; the third finds no block again, and the cycle repeats.

# %%
lesson.case_figure(run)

# %% [markdown]
# ## Experiment 2: what a real failure looks like
#
# The same requests on a node filled with **anonymous** memory and no swap: there is nothing
# kswapd can reclaim. One row per loop turn (lesson 06):

# %%
# NBVAL_CHECK_OUTPUT
fail = lesson.failure_run(order=9)
print(loop_table(fail).drop(columns=["free DMA32"]).to_string())
print("kswapd_failures:", fail.node.kswapd_failures, " compact_daemon_wake:",
      fail.counter("compact_daemon_wake"))

# %% [markdown]
# Here reclaim really failed: every order-9 run went down to priority 1, reclaimed **0** pages and
# returned **9** — *not* lower than `alloc_order` — so there was **no goto**, `kswapd_failures`
# grew by one per run, and kcompactd was never woken. The sleep attempt that followed found the
# node unbalanced (`high_wmark_hit_quickly`); the next wake read classzone 0 (lesson 06) and kswapd
# fell asleep. After 16 such runs the node would be "hopeless" and kswapd would stop waking for it.
#
# | | reclaim succeeded (experiment 1) | reclaim failed (experiment 2) |
# |---|---|---|
# | pages reclaimed by the order-9 run | ≥ `compact_gap(9)` = 1024 | 0 |
# | `balance_pgdat` returns | 0 | 9 |
# | `reclaim_order < alloc_order` | **yes → goto kswapd_try_sleep** | no → loop top |
# | `kswapd_failures` | 0 | +1 per run |
# | kcompactd woken for order 9 | yes | no |

# %% [markdown]
# ## Try it
#
# `order` is the order of the requests. Small orders find a free block at once; middle ones fail
# only the watermark (free pages minus the block must stay above *low*), wake kswapd and — after
# its `compact_gap` reclaim and the goto — find a block that was already there, so kcompactd is
# not needed; orders 9 and 10 need kcompactd. Each setting is one simulated second (0.03–0.2 s
# of CPU); results are cached.

# %%
lesson.PANELS[0].widget()

# %% [markdown]
# ## Check yourself

# %%
from mmsim.exercises import quiz

q1, = quiz("kswapd_handover", seed=5)
q1

# %% hide
print(q1.reveal())

# %%
q2, = quiz("kswapd_handover", seed=2)
q2

# %% hide
print(q2.reveal())

# %%
q3, = quiz("kswapd_goto", seed=3)
q3

# %% hide
print(q3.reveal())

# %% [markdown]
# ## On your machine
#
# With THP `defrag` set to `defer` (or `defer+madvise`), THP faults behave like the requests here:
# they wake kswapd and kcompactd but do not stall. `compact_daemon_wake` counts kcompactd's passes.
# To see the hand-over, enable (as root) `vmscan/mm_vmscan_kswapd_wake`,
# `compaction/mm_compaction_wakeup_kcompactd` and `compaction/mm_compaction_kcompactd_wake` under
# `/sys/kernel/tracing/events/` and read `trace_pipe`: a `kswapd_wake … order=9` followed, from
# kswapd's own pid, by `wakeup_kcompactd … order=9` is this path.

# %%
from mmsim.lessons import read_host_file
from mmsim.panels.l06_kswapd import host_vmstat

defrag = read_host_file("/sys/kernel/mm/transparent_hugepage/defrag")
print("THP defrag:", defrag.strip() if defrag else "not available here")
c = host_vmstat(["pageoutrun", "compact_daemon_wake", "compact_stall", "thp_fault_alloc",
                 "thp_fault_fallback"])
print(c if c is not None else "no /proc/vmstat here (not Linux?)")

# %% [markdown]
# ## After v5.0
#
# * The split into `alloc_order`/`reclaim_order`, the `compact_gap` drop in
#   `kswapd_shrink_node` and the `goto kswapd_try_sleep` are unchanged in 6.x kernels.
# * **v5.9** — kcompactd also wakes on its own timer for proactive compaction
#   (`vm.compaction_proactiveness`), so kswapd's hand-over is no longer its only trigger besides
#   `wakeup_kswapd` and boosted reclaim.
#
# ## Common misreadings
#
# * *"`reclaim_order < alloc_order`: reclaim failed, kswapd gives up."* It succeeded: at least
#   `compact_gap(order)` pages were reclaimed; a failed run returns the order it was given.
# * *"kswapd keeps reclaiming until the high-order allocation can succeed."* It stops at
#   `compact_gap(order)`; reclaiming more would not create contiguity — compaction does.
# * *"kswapd wakes kcompactd after every run."* Only from `kswapd_try_to_sleep` when its first
#   check passes and `alloc_order` > 0, or at the end of a boosted run; and kcompactd only wakes
#   if `kcompactd_node_suitable()` says compaction can help.
