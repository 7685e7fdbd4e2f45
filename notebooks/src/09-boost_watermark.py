# %% [markdown]
# # 09 · `boost_watermark`: a fallback steal raises the watermarks
#
# **Kernel functions:** [`boost_watermark`](https://elixir.bootlin.com/linux/v5.0/ident/boost_watermark),
# [`steal_suitable_fallback`](https://elixir.bootlin.com/linux/v5.0/ident/steal_suitable_fallback) and
# [`rmqueue`](https://elixir.bootlin.com/linux/v5.0/ident/rmqueue) in `mm/page_alloc.c`
# (v5.0 line numbers of page_alloc.c are not verified, so these links go by identifier); the
# boosted reclaim in [`balance_pgdat`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L3534),
# `mm/vmscan.c` L3534–3738, and
# [`pgdat_watermark_boosted`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L3374)
# L3374–3396 — Linux **v5.0**.
#
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/mmsim/mmsim/main?urlpath=lab/tree/notebooks/09-boost_watermark.ipynb)
#
# When an allocation finds no free block on the free lists of its own migratetype, the buddy
# allocator *steals* one from another type. Stealing a whole pageblock is harmless. Stealing a
# smaller block leaves unmovable and movable pages mixed in one pageblock, which is the
# fragmentation that later defeats huge-page allocations. v5.0 (new in this release) responds to
# each such steal: `steal_suitable_fallback` calls `boost_watermark`, which adds one pageblock
# (512 pages) to the zone's `watermark_boost`. The boost lifts **min, low and high** together.
# The allocation then wakes kswapd for a short, gentle reclaim of the boost, and kswapd hands
# over to kcompactd to rebuild whole free pageblocks. The only caller is
# `steal_suitable_fallback`, on the `__rmqueue` → `__rmqueue_fallback` path.

# %%
# %matplotlib inline
from mmsim.lessons import show_source
from mmsim.panels import l09_boost_watermark as lesson

# %% [markdown]
# ## Step by step
#
# **1. The steal (`steal_suitable_fallback`).** `__rmqueue_fallback` picks the *largest* free
# block on a fallback list and passes it here. A block from a HighAtomic pageblock is only
# moved, never claimed. A block of at least `pageblock_order` (9) re-types its pageblocks and
# returns **without a boost**. Otherwise the function calls `boost_watermark(zone)`, and if the
# caller's `alloc_flags` carry `ALLOC_KSWAPD` (from `__GFP_KSWAPD_RECLAIM`) it sets the zone
# flag `ZONE_BOOSTED_WATERMARK`. Only then does it decide whether to move the block's other free
# pages and whether to claim the pageblock (at least 256 free or "alike" pages).
#
# **2. The boost (`boost_watermark`).** If `vm.watermark_boost_factor` is 0, nothing happens. Otherwise
# `max_boost = high × factor / 10000` (`mult_frac`, using the *raw* high watermark). If that is 0
# (watermarks not yet set up), nothing happens. The cap is never below one pageblock:
# `max_boost = max(512, max_boost)`. Then `watermark_boost = min(watermark_boost + 512, max_boost)`.
# So **each steal adds exactly one pageblock, and the factor only caps the sum**. The
# watermark accessors add `watermark_boost` to min, low and high alike.
#
# **3. The wake-up (`rmqueue`).** At its end (after the per-cpu path or the buddy path, but not
# when it failed), `rmqueue` tests the flag, clears it and calls
# `wakeup_kswapd(zone, 0, 0, zone_idx(zone))`. The tracepoint prints
# `gfp_flags=none`. In `wakeup_kswapd` (L3955–3957) a *balanced* node would normally be left
# alone, but `pgdat_watermark_boosted` (L3374–3396: any zone ≤ classzone with a boost) keeps the
# wake-up going. Before v5.0 was released, this call was moved here from inside
# `steal_suitable_fallback`, where it ran under `zone->lock`.
#
# **4. Boosted reclaim (`balance_pgdat`).** At L3560 kswapd adds up the boosts of the zones ≤
# classzone (`nr_boost_reclaim`) and remembers each zone's value. The boosts stay in force during
# the run. At the top of every pass:
# * if the node is **not** balanced while a boost is owed, `nr_boost_reclaim = 0` and the run
#   restarts as **normal reclaim** (L3611–3612);
# * if it is balanced and no boost is owed, the run ends (`goto out`).
#
# While a boost is owed, `may_writepage`, `may_swap` and `may_shrinkslab` are 0 (L3633). So this
# reclaim drops clean page cache only. The priority stops falling at `DEF_PRIORITY − 2` = 10, and
# a pass that reclaims nothing ends the loop. Each pass subtracts what it reclaimed from
# `nr_boost_reclaim`.
#
# **5. The hand-off (`out:`).** Each zone's boost is reduced by the amount seen at the start (boosts
# added meanwhile survive). Then `wakeup_kcompactd(pgdat, pageblock_order, classzone_idx)`
# (L3725) is called. kcompactd runs only if `compaction_suitable` says `continue`.

# %% [markdown]
# ## The mmsim twin
#
# `boost_watermark` in `mmsim/mm/page_alloc.py`, step 2 line for line:

# %%
from mmsim.mm import page_alloc, vmscan

show_source(page_alloc.boost_watermark)

# %% [markdown]
# And kswapd's side, `balance_pgdat` in `mmsim/mm/vmscan.py`: look for `nr_boost_reclaim`, the
# `restart` loop, the three `may_*` lines, the priority floor and `wakeup_kcompactd` at the end.

# %%
show_source(vmscan.balance_pgdat)

# %% [markdown]
# **Known answers.** Here are the golden `boost_watermark_*` cases from the v5.0 notes. They were worked out
# from the formula, independently of mmsim. Each row runs mmsim's `boost_watermark` on a zone
# with that raw high watermark:

# %%
# NBVAL_CHECK_OUTPUT
lesson.golden_table()

# %% [markdown]
# ## Experiment: fragmenting steals with and without the boost
#
# The box has 512 MiB. Page cache fills memory, and then one cached page in eight is dropped at
# random, so the free memory sits in small holes inside Movable pageblocks. From
# t = 0.15 s, a kernel task allocates 1024 unmovable pages (`GFP_KERNEL`) every 100 ms. The
# Unmovable lists are empty, so every burst steals. The run is one simulated second, with
# `watermark_boost_factor` set to 0 and to the default 15000:

# %%
# NBVAL_CHECK_OUTPUT
lesson.compare((0, 15000))

# %% [markdown]
# With the boost, kswapd reclaims about 7900 extra pages of clean cache in six runs. All six are
# *boosted* runs (the node stays balanced), and kcompactd migrates 612 pages. In
# return, about five times fewer steals fragment a pageblock, and about nine times fewer
# pageblocks end up mixing kernel and cache pages. Reclaiming the oldest cache frees contiguous runs of memory,
# so many later steals can take a whole free pageblock (`fragmenting=0`).
#
# One boost episode as ftrace shows it (steals → `wakeup_kswapd … gfp_flags=none` → boosted
# reclaim at priority 12, 11, then stuck at 10 → `wakeup_kcompactd order=9`):

# %%
# NBVAL_CHECK_OUTPUT
print(lesson.excerpt(lesson.experiment(15000)))

# %% [markdown]
# Over the whole second, the boost of DMA32 (blue) jumps at each burst and is paid back less than
# a millisecond later. The red dots are the boost that `balance_pgdat` recorded at its start; they match the
# curve rebuilt from the trace. The lower plot counts fragmenting steals with the boost (blue)
# and without it (grey), and shows the pages kswapd reclaimed (dotted):

# %%
lesson.update(15000)

# %% [markdown]
# ## Try it
#
# `vm.watermark_boost_factor` from 0 (off) to 30000. The first cell runs the seven slider
# positions once (about 2 s), so that moving the slider afterwards is instant. A larger factor
# raises the cap, so more steals in one burst count, kswapd reclaims more, and fewer pageblocks end up mixed.
# Factors of 5000 and below all cap at one pageblock here: DMA32's raw high watermark is only
# 1002 pages, and the floor of 512 wins.

# %%
lesson.warm()
lesson.PANELS[0].widget()

# %% [markdown]
# ## Check yourself
#
# Each question is generated from a seed; `q.check(answer)` tells you whether you are right.
# The collapsed cell below each question reveals the answer.

# %%
from mmsim.exercises import quiz

q1, = quiz("boost_watermark", seed=7)
q1

# %% hide
print(q1.reveal())

# %%
q2, = quiz("boosted_reclaim", seed=0)
q2

# %% hide
print(q2.reveal())

# %%
q3, = quiz("boosted_reclaim", seed=1)
q3

# %% hide
print(q3.reveal())

# %% [markdown]
# ## On your machine
#
# The sysctl is in `/proc/sys/vm/watermark_boost_factor`. v5.0's `/proc/zoneinfo` has no boost
# line: its min/low/high already include the boost. Later kernels print a separate `boost` line.
# Extra kswapd runs and kcompactd passes show up in `/proc/vmstat`.

# %%
from mmsim.lessons import read_host_file

factor = read_host_file("/proc/sys/vm/watermark_boost_factor")
print("watermark_boost_factor:", factor.strip() if factor else "not available here")
zoneinfo = read_host_file("/proc/zoneinfo") or ""
zone = None
for line in zoneinfo.splitlines():
    if line.startswith("Node"):
        zone = line.split("zone")[-1].strip()
    elif line.strip().startswith("boost"):
        print(f"zone {zone:8s} boost {line.split()[-1]}")
vmstat = dict(ln.split() for ln in (read_host_file("/proc/vmstat") or "").splitlines())
for name in ("pageoutrun", "compact_daemon_wake", "pgsteal_kswapd"):
    print(f"{name:22s}", vmstat.get(name, "n/a"))

# %% [markdown]
# ## After v5.0, and common misreadings
#
# * **5.1** (also in 5.0.y stable): no boosting on the DISCONTIGMEM memory model. The compaction
#   series makes compaction's free-page isolation check the *raw* min watermark and ignore the boost.
# * **Spring 2019** ("fix never set ALLOC_NOFRAGMENT flag"): allocations first try the other local
#   zones before they fragment a pageblock. In v5.0 that flag is never set.
# * **5.3**: boosted reclaim shrinks slab again (`may_shrinkslab` is removed).
# * **5.7** (and 5.4.41): "mm: limit boost_watermark on small zones" means a zone with fewer than
#   4 pageblocks of managed pages is never boosted, and `ZONE_BOOSTED_WATERMARK` is set only
#   when a boost happened.
# * Misreading: "the factor is the boost". Each fragmenting steal adds one pageblock. The factor
#   only caps the sum, and any non-zero factor allows at least one pageblock.
# * Misreading: "the boost only makes kswapd work harder". In v5.0 it raises **min** as well.
#   A large boost on a nearly full zone can push ordinary allocations into the slow path.
#   It can also turn kswapd's gentle boost reclaim into normal reclaim (step 4), because the boosted high
#   watermark makes the node unbalanced.
# * Misreading: "stealing a whole pageblock boosts". It does not (step 1), and neither do steals
#   from HighAtomic blocks.
