# %% [markdown]
# # 26 · Sweeps: what `min_free_kbytes` buys, across workloads
#
# **Kernel functions:** the watermark setup of
# [`__setup_per_zone_wmarks`](https://elixir.bootlin.com/linux/v5.0/ident/__setup_per_zone_wmarks)
# and the reclaim it drives — [`wakeup_kswapd`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L3937),
# [`balance_pgdat`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L3534),
# [`throttle_direct_reclaim`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L3133) — Linux v5.0.
#
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/mmsim/mmsim/main?urlpath=lab/tree/notebooks/26-sweeps.ipynb)
#
# One run answers "what happens"; tuning questions need many: *how do allocation stalls and
# kswapd's activity change as `min_free_kbytes` grows, and does the answer depend on the
# workload?* `mmsim.sweep` runs a scenario once per grid point and seed and returns one tidy
# table.

# %%
from mmsim.lessons import show_source
from mmsim.panels import l26_sweeps as lesson
from mmsim.sweep import sweep

# %% [markdown]
# ## Step by step
#
# 1. Raising `min_free_kbytes` raises every zone's **min**, and with it **low** and **high**
#    (`dist = max(min/4, managed × watermark_scale_factor / 10000)`): kswapd is woken earlier
#    (free falls below low sooner) and reclaims further (up to high).
# 2. The allocator's fast path needs free > low; its slow path retries at min before reclaiming
#    directly (`__alloc_pages_slowpath`). A larger gap between low and min gives kswapd more
#    time before a task stalls in direct reclaim (`allocstall_*`).
# 3. `throttle_direct_reclaim` parks direct reclaimers when free memory in the low zones falls
#    to half of their summed min watermarks (`pgscan_direct_throttle`).
# 4. The price: memory kept free and never used for cache, and kswapd runs more often.
#
# ## The mmsim twin
#
# `sweep` builds one `Simulation` per point with the scenario's knobs and the swept sysctls:

# %%
show_source(sweep)

# %% [markdown]
# ## Experiment
#
# Three workloads on a 192 MiB box for 1.2 simulated seconds each, with `min_free_kbytes` of
# 1024, 4096, 16384 and 32768 (12 runs, computed once and cached by the panel). Allocation
# stalls (`allocstall`, all zones) per workload:

# %%
# NBVAL_CHECK_OUTPUT
lesson.table("allocstall")

# %%
# NBVAL_CHECK_OUTPUT
lesson.table("pageoutrun")

# %%
lesson.update("allocstall")

# %% [markdown]
# The same sweep runs in parallel with any `concurrent.futures` executor, and the table is
# identical: `sweep(..., executor=ProcessPoolExecutor())` uses the local cores, and a Dask
# cluster's `Client(...).get_executor()` spreads a large grid over many machines with no other
# change (mmsim must be installed on the workers).

# %% [markdown]
# ## Try it
#
# Pick the metric to plot (`stall_seconds` is the time tasks spent in direct reclaim).

# %%
lesson.PANELS[0].widget()

# %% [markdown]
# ## Check yourself

# %%
from mmsim.exercises import quiz

q1, = quiz("watermarks", seed=26)
q1

# %% hide
print(q1.reveal())

# %%
q2, = quiz("min_free_kbytes", seed=260)
q2

# %% hide
print(q2.reveal())

# %% [markdown]
# ## On your machine
#
# `sysctl vm.min_free_kbytes` shows the value in force; `allocstall_*`, `pageoutrun` and
# `pgscan_direct_throttle` in `/proc/vmstat` are the counters of this lesson. Writing a larger
# value (as root, `sysctl -w vm.min_free_kbytes=...`) recomputes the watermarks at once.

# %%
from mmsim.lessons import read_host_file

print("min_free_kbytes:", (read_host_file("/proc/sys/vm/min_free_kbytes") or "n/a").strip())
vm = read_host_file("/proc/vmstat") or ""
print("\n".join(ln for ln in vm.splitlines() if ln.startswith(("allocstall", "pageoutrun"))))

# %% [markdown]
# ## After v5.0
#
# * 5.7 raised the default's upper clamp to 262144 KiB; 5.1 added `watermark_boost_factor`'s
#   companion changes, so boosts temporarily move all three watermarks on top of what
#   `min_free_kbytes` sets.
# * A common misreading: "a higher `min_free_kbytes` always helps". It trades cache for headroom;
#   past the point where kswapd keeps up, more only idles memory.
