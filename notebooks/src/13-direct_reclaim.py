# %% [markdown]
# # 13 · Direct reclaim: `throttle_direct_reclaim`, `allow_direct_reclaim`, `try_to_free_pages`
#
# **Kernel functions** in `mm/vmscan.c` (Linux **v5.0**):
# [`throttle_direct_reclaim`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L3133)
# L3133–3215, [`allow_direct_reclaim`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L3085)
# L3085–3122, [`try_to_free_pages`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L3217)
# L3217–3260 and [`do_try_to_free_pages`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L3022)
# L3022–3083. Their caller is
# [`__perform_reclaim`](https://elixir.bootlin.com/linux/v5.0/ident/__perform_reclaim) in
# `mm/page_alloc.c` (lines not verified, linked by identifier).
#
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/mmsim/mmsim/main?urlpath=lab/tree/notebooks/13-direct_reclaim.ipynb)
#
# kswapd reclaims in the background so that allocations seldom wait. When allocations consume
# memory faster than kswapd frees it, free pages fall below the **min** watermark. An allocation
# that may sleep then reclaims pages itself, in its own context: this is *direct reclaim*, and
# the time it takes is an allocation stall. The slow path calls `__perform_reclaim`, which sets
# `PF_MEMALLOC` and PSI's memstall and then calls `try_to_free_pages`. That function may first
# park the task in `throttle_direct_reclaim` until kswapd has restored part of the reserve. It
# then runs the priority loop of `do_try_to_free_pages` for just **32 pages**.

# %%
# %matplotlib inline
from mmsim.lessons import show_source
from mmsim.panels import l13_direct_reclaim as lesson

# %% [markdown]
# ## Step by step
#
# **`try_to_free_pages(zonelist, order, gfp_mask, nodemask)`** (L3217–3260)
# 1. Build a `scan_control`: `nr_to_reclaim = SWAP_CLUSTER_MAX` (32), `reclaim_idx = gfp_zone(gfp)`,
#    `priority = DEF_PRIORITY` (12), `may_writepage = !laptop_mode`, and `may_unmap`, `may_swap`,
#    `may_shrinkslab` all 1.
# 2. `throttle_direct_reclaim()`. If a fatal signal arrived while the task waited, return 1
#    ("progress", so the allocator does not go to OOM).
# 3. Tracepoint `mm_vmscan_direct_reclaim_begin` (order, may_writepage, gfp_flags, classzone_idx),
#    `do_try_to_free_pages`, tracepoint `mm_vmscan_direct_reclaim_end` (nr_reclaimed).
#
# **`throttle_direct_reclaim(gfp_mask, zonelist, nodemask)`** (L3133–3215)
# 1. Kernel threads (`PF_KTHREAD`) and tasks with a fatal signal are never throttled.
# 2. Take the first zone ≤ `ZONE_NORMAL` in the zonelist. Its node decides. If
#    `allow_direct_reclaim(node)`, there is no throttle.
# 3. Count **`pgscan_direct_throttle`** (L3188).
# 4. Without `__GFP_FS`: wait on `pfmemalloc_wait` until allowed, or at most `HZ` (1 s).
#    With `__GFP_FS`: wait (killable, no timeout) until allowed. kswapd wakes the waiters from
#    `balance_pgdat` as soon as `allow_direct_reclaim` is true again, and from
#    `prepare_kswapd_sleep`.
#
# **`allow_direct_reclaim(pgdat)`** (L3085–3122), the "pfmemalloc reserve" test
# 1. A hopeless node (`kswapd_failures >= 16`) is never throttled.
# 2. Over zones DMA…Normal that are managed **and** have reclaimable pages: `reserve += min`,
#    `free += NR_FREE_PAGES`. A reserve of 0 means no throttle.
# 3. `wmark_ok = free > reserve / 2` (L3112). If not, and kswapd sleeps, lower its classzone to
#    at most Normal and wake it (no tracepoint on this path).
#
# Ordinary allocations cannot go below min, so only allocations that may dip under min (atomic
# ones, or `PF_MEMALLOC` tasks) can push free below *half* of it.
#
# **`do_try_to_free_pages`** (L3022–3083)
# 1. Count **`allocstall_<zone>`** for `sc->reclaim_idx` (L3033), once per call. A
#    `GFP_HIGHUSER_MOVABLE` page-cache read counts `allocstall_movable`, even without a Movable zone.
# 2. From priority 12 down to 0, `shrink_zones` (one `shrink_node` per node). Stop when 32 pages
#    are reclaimed or when compaction is ready. Below priority 10, writeback is allowed.

# %% [markdown]
# ## The mmsim twin

# %%
from mmsim.mm import vmscan

show_source(vmscan.try_to_free_pages)

# %%
show_source(vmscan.throttle_direct_reclaim)

# %%
show_source(vmscan.allow_direct_reclaim)

# %% [markdown]
# ## Experiment: outrunning kswapd
#
# The box is one 128 MiB Normal zone, full of clean page cache at t = 0. Eight readers stream a
# file for 0.1 s, 16 pages per read. The simulated CPU is 32× slower than mmsim's default (like
# the emulated CPU of the bundled real-kernel recording). At that speed kswapd reclaims at most
# about 270 MiB/s, and the runs are cheap. It takes several readers to outrun it: reading a page
# in costs a reader about twice the CPU that reclaiming it costs kswapd, so one reader alone gets
# about 115 MiB/s. Optionally, a network-like task allocates `GFP_ATOMIC` pages in 1 ms bursts.

# %%
# NBVAL_CHECK_OUTPUT
lesson.table(((200, 4096, False), (400, 4096, False), (800, 4096, False),
              (800, 16384, False), (800, 1024, True)))

# %% [markdown]
# * At **200 MiB/s** kswapd keeps up, and no one stalls.
# * At **400 MiB/s** the readers outrun it and reclaim 32 pages at a time themselves: 52 stalls
#   of about 0.75 ms each. They still get their 400 MiB/s.
# * At **800 MiB/s** they stall 202 times and get only 738 MiB/s. Raising `min_free_kbytes` to
#   16384 widens the gaps between min, low and high, so kswapd starts earlier and reclaims more
#   per run: fewer stalls (149), more throughput.
# * The atomic bursts dip below min (down to 3/8 of it). Only then can free fall to half the
#   reserve, so readers entering direct reclaim are **throttled** (`pgscan_direct_throttle`).
#   The bursts are unmovable, and their first fallbacks also *boost* the watermarks (lesson 09).
#
# The first direct reclaims, as ftrace shows them (`nr_reclaimed` can exceed 32: reclaim works
# in 32-page chunks per list):

# %%
# NBVAL_CHECK_OUTPUT
print(lesson.excerpt(lesson.experiment(400, 4096, False), n=3))

# %% [markdown]
# Free pages against the watermarks at 400 MiB/s. kswapd is running (blue) almost all the time,
# free memory hovers at min, and each red tick is a direct reclaim:

# %%
lesson.update(400, 4096, False)

# %% [markdown]
# ## Try it
#
# Move the rate, `min_free_kbytes` and the atomic bursts. The text gives the counters and the
# stall time, measured the way the tracepoints allow: from each `direct_reclaim_begin` to its
# `_end`. **Time spent throttled is not included**, because the wait comes before `_begin`.
# The first cell runs 16 settings once (about 3 s). Other settings run when you first choose
# them (0.1–0.3 s each).

# %%
lesson.warm()
lesson.PANELS[0].widget()

# %% [markdown]
# ## Check yourself

# %%
from mmsim.exercises import quiz

q1, = quiz("allow_direct_reclaim", seed=3)
q1

# %% hide
print(q1.reveal())

# %%
q2, = quiz("allocstall_zone", seed=1)
q2

# %% hide
print(q2.reveal())

# %% [markdown]
# ## On your machine
#
# `/proc/vmstat` has the counters. `/proc/pressure/memory` (PSI, since 4.20) measures the time
# tasks spent stalled on memory, direct reclaim included (`__perform_reclaim` marks it as a
# memstall). mmsim rebuilds the zones from `/proc/zoneinfo` and computes the throttle line,
# half the sum of the min watermarks up to Normal. (It counts every managed zone, and does not
# check which ones have reclaimable pages.)

# %%
from mmsim.lessons import read_host_file, your_machine

vmstat = dict(ln.split() for ln in (read_host_file("/proc/vmstat") or "").splitlines())
for name in ("allocstall_dma32", "allocstall_normal", "allocstall_movable", "pgscan_direct",
             "pgsteal_direct", "pgscan_direct_throttle"):
    print(f"{name:24s}", vmstat.get(name, "n/a"))
print((read_host_file("/proc/pressure/memory") or "no /proc/pressure/memory here").strip())
node, where = your_machine()
zones = [z for z in node.zones[:3] if z.managed_pages]
reserve, free = sum(z.min_wmark_pages for z in zones), sum(z.nr_free_pages for z in zones)
print(f"from {where}: free {free} pages, throttling below {reserve // 2} (half of the min sum)")

# %% [markdown]
# ## After v5.0, and common misreadings
#
# * **5.2**: `mm_vmscan_direct_reclaim_begin` loses `may_writepage` and `classzone_idx`.
# * **5.16**: `reclaim_throttle()` replaces `congestion_wait`/`wait_iff_congested` inside
#   reclaim, with its own tracepoints. The pfmemalloc throttle described here stays.
# * **6.1**: with MGLRU enabled, `shrink_node` ages generations instead of scanning
#   active/inactive lists. The entry path is the same.
# * Misreading: "`allocstall` counts pages". It counts **entries** into direct reclaim, per zone
#   of `reclaim_idx`. Pages are in `pgscan_direct`/`pgsteal_direct`.
# * Misreading: "direct reclaim frees what the task needs". It targets 32 pages from any eligible
#   zone, and another task may take them first. The allocation retries, and may reclaim again.
# * Misreading: "the begin/end tracepoints show the whole stall". Throttling happens before
#   `_begin`. PSI's memory pressure, or a task's own latency, shows the full wait.
