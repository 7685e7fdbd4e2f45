# %% [markdown]
# # 06 · `kswapd()`: the main loop
#
# **Kernel function:** [`kswapd`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L3849)
# in `mm/vmscan.c`, lines **3849–3928** of Linux **v5.0**.
#
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/mmsim/mmsim/main?urlpath=lab/tree/notebooks/06-kswapd.ipynb)
#
# `kswapd()` is the body of the per-node thread `kswapd<nid>`. `kswapd_run()` starts it at boot
# (from `kswapd_init`, a `module_init`) and when memory is hot-added; it returns only when
# `kswapd_stop()` asks it to. Its loop alternates two things: trying to sleep
# (`kswapd_try_to_sleep`, lesson 07) and reclaiming (`balance_pgdat`, lesson 08). Between the
# two it reads the request that allocators left in `pgdat` (`wakeup_kswapd`, lesson 11): the
# highest **order** and the highest **classzone** (the highest zone index an allocation could
# use) asked for since the last read.

# %%
# %matplotlib inline
from mmsim.lessons import show_source
from mmsim.mm import vmscan
from mmsim.panels import l06_kswapd as lesson

# %% [markdown]
# ## Step by step
#
# | v5.0 lines | what happens |
# |---|---|
# | 3851–3852 | locals `alloc_order`, `reclaim_order`; `classzone_idx` starts at `MAX_NR_ZONES − 1` |
# | 3861–3863 | bind to the node's CPUs; install a `reclaim_state` so slab pages freed by reclaim are credited |
# | 3877–3878 | flags `PF_MEMALLOC` (its own allocations may dip below *min*, and it never enters direct reclaim), `PF_SWAPWRITE`, `PF_KSWAPD`; freezable |
# | 3880–3881 | `pgdat->kswapd_order = 0`, `pgdat->kswapd_classzone_idx = MAX_NR_ZONES` — the value that means "no request" |
# | 3885–3886 | **loop top:** take `pgdat->kswapd_order` as both orders; merge the pending classzone with the previous one (`kswapd_classzone_idx(pgdat, classzone_idx)`, L3747: the maximum, or the previous value if none is pending) |
# | 3888–3890 | label **`kswapd_try_sleep:`** — `kswapd_try_to_sleep(pgdat, alloc_order, reclaim_order, classzone_idx)` returns when kswapd was woken, or at once if the node was not balanced |
# | 3893–3896 | **read the request:** both orders = `pgdat->kswapd_order`; `classzone_idx = kswapd_classzone_idx(pgdat, 0)` — **0 when nothing was recorded**; then reset the two fields to 0 and `MAX_NR_ZONES` |
# | 3898–3907 | freezer: stop if `kthread_should_stop()`; after a thaw, skip reclaim (`continue`) |
# | 3917–3918 | tracepoint **`mm_vmscan_kswapd_wake`** `nid=… zid=classzone_idx order=alloc_order` |
# | 3919 | `reclaim_order = balance_pgdat(pgdat, alloc_order, classzone_idx)` — the order it *finished* at |
# | 3920–3921 | if `reclaim_order < alloc_order`: **`goto kswapd_try_sleep`**, skipping the loop top |
# | 3924–3927 | on stop: clear the flags and the `reclaim_state`, return 0 |
#
# **The goto.** `balance_pgdat` returns a lower order than it was asked for only because
# `kswapd_shrink_node` set `sc.order = 0` after the run had reclaimed `compact_gap(order)` =
# 2<sup>order+1</sup> pages ([L3515](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L3515)).
# That is not a failure: free memory is there, and assembling it into a high-order block is
# compaction's job. So kswapd goes straight to `kswapd_try_to_sleep` with *two* orders: it checks
# whether it may sleep at `reclaim_order` (0), and wakes kcompactd for `alloc_order`. Skipping the
# loop top also means a request that arrived during the run is not merged yet; it stays in
# `pgdat` and is read at L3893. Lesson 24 follows one such hand-over in a trace.
#
# **The classzone read as 0.** When kswapd returns from `kswapd_try_to_sleep` without a new
# request — typically after `kswapd_high_wmark_hit_quickly`: the node was not balanced, so it did
# not sleep, and no allocation has asked for anything since — L3894 yields classzone **0**.
# `balance_pgdat(…, 0)` then looks at ZONE_DMA only, usually finds it balanced and returns at once;
# the next sleep attempt also checks only DMA, so kswapd can nap and sleep while DMA32 or Normal
# is still below its high watermark, until the next allocation below *low* wakes it.

# %% [markdown]
# ## The mmsim twin
#
# `mmsim.mm.vmscan.kswapd` is a generator: `yield from kswapd_try_to_sleep(...)` is where the
# thread sleeps in simulated time, and the `goto` becomes a flag that skips the loop top.

# %%
show_source(vmscan.kswapd)

# %% [markdown]
# ## Experiment: one second of kswapd's loop
#
# A 256 MiB node (DMA and DMA32), `min_free_kbytes` = 4096, page cache filled to just above the
# low watermark at t = 0. From t = 0.1 s a reader streams a file at 16 MiB/s; at t = 0.62 s one
# order-9 request arrives that may wake kswapd but not reclaim itself (THP with `defrag=defer`:
# `GFP_TRANSHUGE_LIGHT|__GFP_KSWAPD_RECLAIM`). Each row is one `mm_vmscan_kswapd_wake`: what kswapd
# read, what `balance_pgdat` did and returned, where the loop went, and how the sleep attempt
# that followed ended. None of our tasks allocates from ZONE_DMA, so a classzone of 0 can only be
# the "nothing recorded" default of L3894.

# %%
# NBVAL_CHECK_OUTPUT
run = lesson.loop_story()
table = lesson.loop_table(run)
print(table.drop(columns=["free DMA32"]).to_string())

# %% [markdown]
# Read it as the kernel would:
#
# * **Most turns** — a reader's allocation fails the low watermark of DMA32, `wakeup_kswapd`
#   records order 0 and classzone 3 (`GFP_HIGHUSER_MOVABLE` may use ZONE_MOVABLE, which is empty
#   here) and wakes kswapd; `balance_pgdat` reclaims until DMA32 is above *high* and returns 0, the
#   order it was asked for, so the loop goes to its top.
# * **Turns with classzone 0** — the nap before them ended with the node *between* low and high
#   (`kswapd_high_wmark_hit_quickly`): no allocation had failed *low*, so nothing was recorded, and
#   L3894 read 0. `balance_pgdat(order 0, classzone 0)` found DMA balanced and reclaimed nothing;
#   kswapd napped again at classzone 0 until the reader woke it. (Turn 1 is the same case: kswapd's
#   first nap, at boot, ended after the page cache had been filled.)
# * **The order-9 turn** — the request failed the low watermark for order 9 (free pages minus the
#   block) and woke kswapd, then got its block from the reserve between *min* and *low* (the dip
#   in the figure). `balance_pgdat` reclaimed more than `compact_gap(9)` = 1024 pages,
#   dropped to order 0, found the node balanced and returned **0 < 9**: `goto kswapd_try_sleep`.
#   That sleep attempt checked order 0, napped 100 ms undisturbed and went to a full sleep.
#
# The same run as a picture: DMA32's free pages against its watermarks, with kswapd's runs shaded,
# and below it kswapd's state — running `balance_pgdat`, napping `HZ/10`, or fully asleep.

# %%
lesson.loop_figure(run)

# %% [markdown]
# ## Try it
#
# Change the reader's rate and `min_free_kbytes`, and switch the order-9 request off. Faster
# readers cut the naps short (`kswapd_low_wmark_hit_quickly`); a larger `min_free_kbytes` widens
# the gap between *low* and *high*, so naps end with the node between them more often — and each
# of those is followed by a wake that reads classzone 0. Every setting is one 1-second
# simulation (about 0.03–0.1 s of CPU); results are cached, so going back is instant.

# %%
lesson.PANELS[0].widget()

# %% [markdown]
# ## Check yourself

# %%
from mmsim.exercises import quiz

q1, = quiz("kswapd_read", seed=11)
q1

# %% hide
print(q1.reveal())

# %%
q2, = quiz("kswapd_goto", seed=1)
q2

# %% hide
print(q2.reveal())

# %%
q3, = quiz("kswapd", seed=4)
q3

# %% hide
print(q3.reveal())

# %% [markdown]
# ## On your machine
#
# Your kernel counts one `pageoutrun` per `balance_pgdat` call, and the two hit-quickly counters
# tell you how kswapd's sleep attempts end. On Linux the cell below reads them from `/proc/vmstat`
# and lists the kswapd and kcompactd threads (state `S` = sleeping, `R` = running); elsewhere it
# says so. To watch the loop itself, enable the tracepoints as root:
# `echo 1 > /sys/kernel/tracing/events/vmscan/mm_vmscan_kswapd_wake/enable` (and
# `mm_vmscan_kswapd_sleep`), then `cat /sys/kernel/tracing/trace_pipe`. On v5.0 a line with
# `zid=0` and no `mm_vmscan_wakeup_kswapd` just before it is a "nothing recorded" turn.

# %%
counters = lesson.host_vmstat()
if counters is None:
    print("no /proc/vmstat here (not Linux?)")
else:
    for name, value in counters.items():
        print(f"{name:32s} {value}")
for pid, comm, state in lesson.host_kswapd_threads():
    print(f"pid {pid:6d}  {comm:12s} state {state}")

# %% [markdown]
# ## After v5.0
#
# * **v5.2** — the kswapd tracepoints lose `zid`: `mm_vmscan_kswapd_wake: nid=… order=…`.
# * **by v5.7** — L3894 passes the previous classzone instead of 0, so a wake without a request
#   no longer shrinks kswapd's view to ZONE_DMA.
# * **v5.8** — `classzone_idx` becomes `highest_zoneidx` (`kswapd_highest_zoneidx()`), with
#   `READ_ONCE`/`WRITE_ONCE` on the shared fields; same logic.
# * **6.x** — the `alloc_order`/`reclaim_order` split and the `goto kswapd_try_sleep` are still
#   there; `PF_SWAPWRITE` is gone and the freezer check is `kthread_freezable_should_stop()`.
#
# ## Common misreadings
#
# * *"`reclaim_order < alloc_order` means reclaim failed."* No: it means the run already
#   reclaimed `compact_gap(alloc_order)` pages and finished balancing at order 0; the kernel
#   comment's "if a high-order reclaim fails" means the high-order watermark was not met *yet*.
#   kcompactd is then woken for the original order. A run that reclaims nothing is counted in
#   `kswapd_failures` instead (lesson 08).
# * *"kswapd sleeps once all zones — or all nodes — are above high."* Each kswapd looks at its own
#   node, and one eligible zone above *high* (for the order) is enough (`pgdat_balanced`).
# * *"After a wake kswapd balances the zones the allocation wanted."* Only if a request was
#   recorded: in v5.0 a wake without one reads classzone 0.
