# %% [markdown]
# # 10 · `wake_all_kswapds`: the slow path asks every node to reclaim
#
# **Kernel function:** [`wake_all_kswapds`](https://elixir.bootlin.com/linux/v5.0/ident/wake_all_kswapds)
# in `mm/page_alloc.c`, called from
# [`__alloc_pages_slowpath`](https://elixir.bootlin.com/linux/v5.0/ident/__alloc_pages_slowpath)
# (v5.0 line numbers of page_alloc.c are not verified, so these links go by identifier); it calls
# [`wakeup_kswapd`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L3937) in
# `mm/vmscan.c`, L3937–3973 — Linux **v5.0**.
#
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/mmsim/mmsim/main?urlpath=lab/tree/notebooks/10-wake_all_kswapds.ipynb)
#
# The allocator's fast path only checks the **low** watermark; it never wakes kswapd (apart from
# the boost hook of lesson 09). When no zone passes, the allocation enters
# `__alloc_pages_slowpath`. If the request may wake kswapd (`ALLOC_KSWAPD`, from
# `__GFP_KSWAPD_RECLAIM`), the first thing the slow path does is call
# `wake_all_kswapds(order, gfp_mask, ac)`. This walks the allocation's zonelist and calls
# `wakeup_kswapd` (lesson 11) **once per node**. The classzone passed is the *allocation's*
# `ac->high_zoneidx`, not the zone's own index. The slow path calls it again at the top of every
# retry, "to ensure kswapd doesn't accidentally go to sleep as long as we loop".

# %%
# %matplotlib inline
from mmsim.lessons import show_source
from mmsim.panels import l10_wake_all_kswapds as lesson

# %% [markdown]
# ## Step by step
#
# **`wake_all_kswapds(order, gfp_mask, ac)`**
# 1. Walk the zonelist with `for_each_zone_zonelist_nodemask`, over zones ≤ `ac->high_zoneidx` that
#    the nodemask allows. Since 4.14 zonelists are ordered by node, so the zones of one node are
#    consecutive. The local node comes first, then the others by distance.
# 2. For each zone whose node differs from the previous zone's node (`last_pgdat`), call
#    `wakeup_kswapd(zone, gfp_mask, order, ac->high_zoneidx)`. Each node is asked exactly once,
#    through the first (highest) eligible zone it has in the list.
#
# **Where it is called (`__alloc_pages_slowpath`)**
# 1. `alloc_flags = gfp_to_alloc_flags(gfp_mask)`: the **min** watermark, plus `ALLOC_KSWAPD` if
#    `__GFP_KSWAPD_RECLAIM`, plus `ALLOC_HIGH`/`ALLOC_HARDER` for `GFP_ATOMIC`.
# 2. If `ALLOC_KSWAPD`: `wake_all_kswapds` (**call 1**). Then try the free lists at min.
# 3. Costly orders, and non-movable orders above 0, first try direct compaction
#    (async).
# 4. **retry:** if `ALLOC_KSWAPD`: `wake_all_kswapds` again (**call 2, 3, …**). Callers with
#    `PF_MEMALLOC` or `__GFP_MEMALLOC` now get `ALLOC_NO_WATERMARKS`. These flags *replace*
#    `alloc_flags`, so they drop `ALLOC_KSWAPD` for later passes. Try the free lists.
# 5. No `__GFP_DIRECT_RECLAIM` (`GFP_ATOMIC`, `GFP_NOWAIT`) → fail. Otherwise direct reclaim,
#    direct compaction, and the retry decision (`should_reclaim_retry`, `should_compact_retry`).
#    If the task retries, go back to 4 (and wake kswapd again). Otherwise it ends in the OOM
#    killer or a failure.

# %% [markdown]
# ## The mmsim twin
#
# `wake_all_kswapds` in `mmsim/mm/slowpath.py`. mmsim models one node, so the walk visits that
# node's zonelist and makes a single call. Look for the two call sites in `alloc_pages_task`
# (the slow path): after `gfp_to_alloc_flags` and at the top of the `while` loop.

# %%
from mmsim.mm import slowpath

show_source(slowpath.wake_all_kswapds)

# %% [markdown]
# ## Experiment: one allocation per gfp mask
#
# The node has DMA32 and Normal zones of 256 MiB each, full of clean page cache. Each zone has
# been brought just **below its min watermark**, and kswapd sleeps. One allocation is made with
# each mask. We wrap the engine functions to count the calls, without changing them. The table
# shows whether the mask sets `ALLOC_KSWAPD`, the zonelist, the classzone passed, the number of
# `wake_all_kswapds` calls, and how it ended:

# %%
# NBVAL_CHECK_OUTPUT
lesson.gfp_table("below min")

# %% [markdown]
# * `GFP_KERNEL` calls it twice: on slow-path entry, then at `retry:` before the direct reclaim
#   that saves it. Only the first call wakes kswapd; the second finds it running and only records
#   the request.
# * `GFP_ATOMIC` calls it once. `ALLOC_HIGH|ALLOC_HARDER` let it dip below min (down to 3/8 of
#   it), so the first attempt succeeds.
# * `GFP_NOWAIT` calls it twice and fails. It goes through `retry:` once before the "cannot
#   reclaim" exit.
# * `GFP_HIGHUSER_MOVABLE` passes **classzone 3 (Movable)**, although this box has no Movable
#   zone. `GFP_KERNEL|GFP_DMA32` passes 1. So kswapd balances for the *allocation's* highest
#   zone.
# * `GFP_TRANSHUGE_LIGHT` (a THP fault outside `MADV_HUGEPAGE` regions under the default
#   `defrag=madvise`) has no
#   `__GFP_KSWAPD_RECLAIM`: it never wakes kswapd and just fails.
#
# The whole path of the `GFP_KERNEL` allocation:

# %%
lesson.update("GFP_KERNEL", 0, "below min")

# %% [markdown]
# ## Try it
#
# Choose the mask, the order and where free memory sits. "Above low" never reaches the slow
# path. "Between min and low" wakes kswapd once and succeeds at min. With "nothing to reclaim",
# `GFP_KERNEL` goes to the OOM killer after a single failed reclaim, because
# `should_reclaim_retry` sees no reclaimable pages. Order 3 with `GFP_KERNEL` tries direct
# compaction before it retries.

# %%
lesson.PANELS[0].widget()

# %% [markdown]
# ## Check yourself

# %%
from mmsim.exercises import quiz

q1, = quiz("wake_all_kswapds", seed=1)
q1

# %% hide
print(q1.reveal())

# %%
q2, = quiz("wake_all_kswapds_calls", seed=2)
q2

# %% hide
print(q2.reveal())

# %% [markdown]
# ## On your machine
#
# `wake_all_kswapds` has no counter of its own. The closest visible quantity is how often kswapd
# was asked to run (`pageoutrun` counts `balance_pgdat` runs). On NUMA machines,
# `/sys/devices/system/node/` lists the nodes, each of which has its own kswapd. Tracing
# `vmscan:mm_vmscan_wakeup_kswapd` (as root) shows the calls that really woke one.

# %%
import os

from mmsim.lessons import read_host_file

node_dir = "/sys/devices/system/node"
nodes = sorted(d for d in os.listdir(node_dir) if d.startswith("node")) \
    if os.path.isdir(node_dir) else []
print("NUMA nodes:", nodes or "not available here")
vmstat = dict(ln.split() for ln in (read_host_file("/proc/vmstat") or "").splitlines())
for name in ("pageoutrun", "allocstall_normal", "allocstall_movable"):
    print(f"{name:20s}", vmstat.get(name, "n/a"))

# %% [markdown]
# ## After v5.0, and common misreadings
#
# * **5.8**: `high_zoneidx` becomes `highest_zoneidx`, with the same meaning.
# * **6.x**: `wake_all_kswapds` skips zones with no managed pages before it compares nodes. In
#   v5.0, zonelists hold only managed zones anyway.
# * Misreading: "kswapd is woken when an allocation goes below the low watermark". The allocation
#   first has to **fail** the low watermark in *every* zone of its zonelist. Only then does the
#   slow path wake kswapd, which then balances against the *high* watermark.
# * Misreading: "it wakes the kswapd of the zone's node with the zone's index". The classzone is
#   the allocation's highest allowed zone (`gfp_zone`). For user pages that is Movable, even on
#   a box without a Movable zone.
# * Misreading: "a looping allocation wakes kswapd once". It re-records the request on every
#   retry, so kswapd keeps balancing while the task is stuck in direct reclaim.
