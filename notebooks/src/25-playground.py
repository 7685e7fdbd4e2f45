# %% [markdown]
# # 25 · Playground: every knob on one panel
#
# **Kernel functions:** all of them — the watermarks of
# [`__setup_per_zone_wmarks`](https://elixir.bootlin.com/linux/v5.0/ident/__setup_per_zone_wmarks),
# [`kswapd`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L3849) and
# [`balance_pgdat`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L3534),
# [`boost_watermark`](https://elixir.bootlin.com/linux/v5.0/ident/boost_watermark),
# [`kcompactd`](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L2055) — Linux v5.0.
#
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/mmsim/mmsim/main?urlpath=lab/tree/notebooks/25-playground.ipynb)
#
# Here you set the machine (memory, swap), the `vm.*` sysctls the earlier lessons explained, and
# a workload mix (file reads, anonymous growth, slab allocations, high-order bursts); each
# change reruns a short simulation and redraws the standard figures: free pages against the
# watermarks with kswapd's runs, the reclaim priority, free blocks per order before and after,
# and a memory map at the end. Runs are short (half a simulated second on 64 MiB by default) so
# the panel answers quickly; results are cached by setting.

# %%
from mmsim.lessons import show_source
from mmsim.panels import l25_playground as lesson

# %% [markdown]
# ## Step by step: what one run does
#
# 1. `Node.build(mem=...)` lays out an x86_64 box and boots it (`init_per_zone_wmark_min`,
#    the THP raise when RAM ≥ 512 MiB, your `min_free_kbytes` written last).
# 2. A `Simulation` starts kcompactd and kswapd (`kcompactd_init` before `kswapd_init`, as the
#    initcall levels order them) and one task per workload.
# 3. Allocations that fail at low wake kswapd (`wakeup_kswapd`); fallback steals boost the
#    watermarks (`boost_watermark`); high-order requests may compact directly; kswapd hands
#    high-order work to kcompactd when it naps.
#
# ## The mmsim twin

# %%
show_source(lesson.run)

# %% [markdown]
# ## Experiment: A against B
#
# The default mix with the kernel's `min_free_kbytes` (A) against 8192 (B), in the numbers a
# reclaim discussion quotes (`ratio` is B/A):

# %%
# NBVAL_CHECK_OUTPUT
lesson.compare_settings({}, {"min_free_kbytes": 8192}, ("default", "mfk 8192"))

# %%
lesson.PANELS[0].render()

# %% [markdown]
# The first lines of the run's ftrace text — what `trace-cmd` would show on a real machine:

# %%
# NBVAL_CHECK_OUTPUT
print(lesson.ftrace_head(10))

# %% [markdown]
# ## Try it
#
# Every knob. Ideas: set `swap (MiB)` to 0 and `anon growth` to 200 — anonymous memory cannot be
# reclaimed without swap; raise `order` to 9 with `watermark_boost_factor` 0 and then 15000;
# move `min_free_kbytes` and watch the allocation stalls.

# %%
lesson.PANELS[0].widget()

# %% [markdown]
# ## Check yourself

# %%
from mmsim.exercises import quiz

q1, = quiz("wakeup_kswapd", seed=25)
q1

# %% hide
print(q1.reveal())

# %%
q2, = quiz("boost_watermark", seed=250)
q2

# %% hide
print(q2.reveal())

# %% [markdown]
# ## On your machine
#
# The same knobs live in `/proc/sys/vm/` (`min_free_kbytes`, `watermark_scale_factor`,
# `watermark_boost_factor`, `extfrag_threshold`, `swappiness`); `mmsim proc zoneinfo
# --from-host` prints what mmsim recomputes from them for your zones.

# %%
from mmsim.lessons import read_host_file

for name in ("min_free_kbytes", "watermark_scale_factor", "watermark_boost_factor",
             "extfrag_threshold", "swappiness"):
    print(f"{name:24s}", (read_host_file(f"/proc/sys/vm/{name}") or "n/a").strip())

# %% [markdown]
# ## After v5.0
#
# * 5.1 and 5.7 changed how boosts are paid back and when they are applied; 5.9 added proactive
#   compaction (`compaction_proactiveness`), and 6.1 the multi-gen LRU — none of which this
#   v5.0 playground has.
