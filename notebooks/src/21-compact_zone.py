# %% [markdown]
# # 21 · `compact_zone`: two scanners moving pages until a block is free
#
# **Kernel function:** [`compact_zone`, mm/compaction.c L1537–1699](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L1537)
# (Linux **v5.0**), with its scanners
# [`isolate_migratepages` L1225–1302](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L1225) /
# [`isolate_migratepages_block` L692–960](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L692),
# [`isolate_freepages` L1067–1163](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L1067) /
# [`isolate_freepages_block` L434–576](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L434),
# and [`compact_finished` L1404–1415](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L1404)
# / [`__compact_finished` L1313–1402](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L1313).
#
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/mmsim/mmsim/main?urlpath=lab/tree/notebooks/21-compact_zone.ipynb)
#
# `compact_zone` is where compaction actually happens, for one zone. A **migrate scanner**
# walks up from the bottom of the zone taking movable in-use pages; a **free scanner** walks
# down from the top taking free pages; each movable page is copied into a free one, and the
# source frames, now free, merge in the buddy allocator into large blocks at the bottom. It
# stops as soon as a free block of the wanted order exists, or when the scanners meet. It is
# called by `kcompactd_do_work` (kcompactd), by `compact_zone_order` (direct compaction from
# the allocator's slow path) and by `compact_node` (`/proc/sys/vm/compact_memory`).

# %%
# %matplotlib inline
from mmsim.lessons import show_source
from mmsim.panels import l21_compact_zone as lesson

# %% [markdown]
# ## Step by step
#
# The request is a `struct compact_control` (`cc`): `order`, `gfp_mask` (its migratetype —
# **Unmovable** for kcompactd's `GFP_KERNEL`), `mode` (`MIGRATE_ASYNC` / `MIGRATE_SYNC_LIGHT`),
# `classzone_idx`, `whole_zone`, `ignore_skip_hint`, `direct_compaction`.
#
# 1. **Ask first.** `compaction_suitable` (lesson 20): `SUCCESS` (block already free) or
#    `SKIPPED` (too little free memory, or fragindex veto) → return it at once.
# 2. **Last chance?** If `compaction_restarting` (maximum back-off, lesson 22) → clear the
#    zone's skip bits ([L1559](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L1559)).
# 3. **Where to start.** `whole_zone`: migrate scanner at the zone start, free scanner at the
#    start of the last pageblock. Otherwise resume from the zone's cached positions
#    (`compact_cached_migrate_pfn[sync]`, `compact_cached_free_pfn`), reset when out of the
#    zone; starting at the zone start also means `whole_zone`.
# 4. Tracepoint `mm_compaction_begin`; drain this CPU's LRU-add cache.
# 5. **Loop** while `compact_finished` says CONTINUE:
#    * `isolate_migratepages`: from `migrate_pfn` upward, one pageblock at a time, skipping
#      blocks with the **skip bit** (unless `ignore_skip_hint`) and — for async direct
#      compaction only — blocks of another migratetype; in the first acceptable block take up
#      to `COMPACT_CLUSTER_MAX` = 32 LRU pages off their lists (free blocks and compound pages
#      are jumped over). A block scanned to its end without taking anything gets its skip bit.
#    * `migrate_pages(…, compaction_alloc, …)`: each page gets a target from
#      `compaction_alloc`, which refills from `isolate_freepages`: from `free_pfn` downward,
#      only Movable (or CMA) pageblocks, never breaking a free pageblock-sized block, never at
#      or below the migrate scanner's block; it takes whole free buddy blocks (each must leave
#      the zone above min + 2^order, `__isolate_free_page`) and splits them into order-0 pages.
#    * No free page for a target (`-ENOMEM`) before the scanners met → `COMPACT_CONTENDED`.
#    * *check_drain*: once the migrate scanner leaves an order-aligned block it isolated from,
#      drain this CPU's per-cpu free lists so the freed pages can merge.
# 6. **`__compact_finished`** (L1313–1402), in order: contended → CONTENDED; scanners in the
#    same pageblock → reset the cached positions (direct compaction also sets
#    `compact_blockskip_flush`) and return **COMPLETE** if it was a whole-zone scan, else
#    **PARTIAL_SKIPPED**; `order == -1` → continue; a free block of ≥ `order` on the
#    request's list (or one it could steal) → **SUCCESS** (an Unmovable request may first
#    finish migrating the current pageblock). There is **no watermark test** here in v5.0.
# 7. **out:** unused free pages go back to the buddy allocator; count `compact_migrate_scanned`
#    and `compact_free_scanned` ([L1692–1693](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L1692));
#    tracepoint `mm_compaction_end`.
#
# **Result codes** (`enum compact_result`; callers take the maximum, so the numbers matter):
#
# | value | name | meaning |
# |---|---|---|
# | 1 | `COMPACT_SKIPPED` | too little free memory to compact, or fragindex veto |
# | 2 | `COMPACT_DEFERRED` | skipped because of earlier failures (lesson 22) |
# | 4 | `COMPACT_CONTINUE` | internal: go on |
# | 5 | `COMPACT_COMPLETE` | scanners met after a whole-zone scan: failed |
# | 6 | `COMPACT_PARTIAL_SKIPPED` | scanners met, but part of the zone was not scanned |
# | 7 | `COMPACT_CONTENDED` | lock contention, `need_resched` in async mode, fatal signal, no targets |
# | 8 | `COMPACT_SUCCESS` | a suitable free block exists now |

# %% [markdown]
# ## The mmsim twin

# %%
from mmsim.mm import compaction

show_source(compaction.compact_zone)

# %% [markdown]
# ## Experiment: kcompactd's kind of run on a fragmented zone
#
# A 64 MiB Normal zone is filled with page cache (with a pinned kernel page every 256 cache
# pages) and 40 % of the cache pages are punched out at random. Then `compact_zone` runs as
# kcompactd runs it — order 9, `GFP_KERNEL`, `MIGRATE_SYNC_LIGHT` — inside the simulation, so
# every scanned pfn and migrated page costs simulated time.

# %%
# NBVAL_CHECK_OUTPUT
r = lesson.compact_run(order=9, level="medium")
print(lesson.summary(r))

# %% [markdown]
# The start and the end of its ftrace, in the kernel's format: each loop isolates up to 32
# pages from the bottom, takes as many free pages from the top, migrates them, and asks
# `compact_finished` again.

# %%
# NBVAL_CHECK_OUTPUT
print("\n".join(r["ftrace"][:8] + ["..."] + r["ftrace"][-3:]))

# %% [markdown]
# The maps show one row per pageblock (512 frames); the strip on the left is the block's
# migratetype. The migrate scanner (green) starts at block 0; the free scanner (red) at the last
# block. Pages of block 0 move to the top of the zone; block 0 becomes one free order-9 block
# and `compact_finished` says SUCCESS — after a single pageblock.

# %%
lesson.update(order=9, fragmentation="medium")

# %% [markdown]
# The same for orders 7–10 and three levels of fragmentation (light: 70 % of the cache
# punched, a pin every 1024 pages; heavy: 20 % punched, a pin every 64):

# %%
# NBVAL_CHECK_OUTPUT
print(lesson.result_table().to_string())

# %% [markdown]
# Orders 7 and 8 never start: a block of that size is already free (SUCCESS from
# `compaction_suitable`). For orders 9 and 10 the work grows as free memory shrinks: the free
# scanner has to look at more pfns to find its 32 targets. The pinned kernel pages sit
# together in one Unmovable pageblock (the allocator steals whole pageblocks for them), which
# is why compaction succeeds here — grouping by mobility at work.

# %% [markdown]
# ## Try it
#
# The request's `order` and the `fragmentation` of the zone. Each update rebuilds the
# fragmented zone (about 50 ms) and runs `compact_zone` in simulated time.

# %%
lesson.PANELS[0].widget()

# %% [markdown]
# ## Check yourself

# %%
from mmsim.exercises import quiz

q1, = quiz("compact_scanners", seed=1)
q1

# %% hide
print(q1.reveal())

# %%
q2, = quiz("compact_result", seed=5)
q2

# %% hide
print(q2.reveal())

# %% [markdown]
# ## On your machine
#
# `compact_migrate_scanned` / `compact_free_scanned` count the pfns the two scanners visited
# (kcompactd's share is also in `compact_daemon_*_scanned`), `compact_isolated` the pages they
# took, and `pgmigrate_success` the pages moved. A free scanner that scans much more than the
# migrate scanner means free memory is scarce or scattered.

# %%
from mmsim.panels.l21_compact_zone import host_report

print(host_report(("vmstat", "buddyinfo")))

# %% [markdown]
# ## After v5.0, and common misreadings
#
# * **5.1** (Mel Gorman, "Increase success rates and reduce latency of compaction"): the free
#   scanner first looks on the free lists for a suitable block (`fast_isolate_freepages`) and
#   the migrate scanner picks a likely block (`fast_find_migrateblock`) instead of crawling;
#   direct compaction *captures* the page it freed; compaction always finishes a pageblock;
#   skip bits are handled differently; the free scanner ignores the watermark boost.
# * **5.8** renamed `classzone_idx` to `highest_zoneidx`; **5.9** added proactive compaction,
#   which calls `compact_zone` from kcompactd without a request.
# * Misreading: "compaction stops when the zone is above its watermark." In v5.0
#   `__compact_finished` has no watermark test: it stops when a free block of the order exists
#   on an acceptable list, or when the scanners meet.
# * Misreading: "compaction defragments the whole zone." kcompactd and direct compaction stop at
#   the first suitable block; only `compact_memory` (order −1) runs until the scanners meet.
# * Misreading: "skip bits are cleared when kcompactd finishes." Only a *direct* compaction
#   whose scanners met sets `compact_blockskip_flush`, which kswapd honours before its nap; or
#   maximum back-off (`compaction_restarting`).
