# %% [markdown]
# # 01 · `min_free_kbytes`: from one sysctl to every zone's watermarks
#
# **Kernel functions:** [`init_per_zone_wmark_min`](https://elixir.bootlin.com/linux/v5.0/ident/init_per_zone_wmark_min),
# [`__setup_per_zone_wmarks`](https://elixir.bootlin.com/linux/v5.0/ident/__setup_per_zone_wmarks),
# [`setup_per_zone_lowmem_reserve`](https://elixir.bootlin.com/linux/v5.0/ident/setup_per_zone_lowmem_reserve)
# in `mm/page_alloc.c`, and
# [`set_recommended_min_free_kbytes`](https://elixir.bootlin.com/linux/v5.0/ident/set_recommended_min_free_kbytes)
# in `mm/khugepaged.c` — Linux **v5.0** (page_alloc.c line numbers are not verified for v5.0,
# so these links go by identifier).
#
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/mmsim/mmsim/main?urlpath=lab/tree/notebooks/01-min_free_kbytes.ipynb)
#
# Every zone has three watermarks — **min**, **low** and **high** — and everything kswapd does
# is measured against them: an allocation that finds a zone below *low* wakes kswapd, kswapd
# reclaims until a zone is above *high*, and only emergency allocations may go below *min*.
# All three come from a single number, `vm.min_free_kbytes`, which the kernel computes at boot
# (`init_per_zone_wmark_min`, a `core_initcall`), raises for transparent hugepages
# (`set_recommended_min_free_kbytes`) and recomputes whenever an administrator writes it.

# %%
# %matplotlib inline
import mmsim
from mmsim import Node, Sysctl
from mmsim.lessons import show_source
from mmsim.panels import l01_min_free_kbytes as lesson

# %% [markdown]
# ## Step by step
#
# **1. The default (`init_per_zone_wmark_min`).** `lowmem_kbytes = nr_free_buffer_pages() * 4`
# — the managed pages of DMA, DMA32 and Normal minus their high watermarks, which are still 0
# this early in boot. Then `min_free_kbytes = int_sqrt(lowmem_kbytes * 16)`, i.e. four times the
# square root, clamped to 128…65536 — *unless* the administrator set a value
# (`user_min_free_kbytes`, −1 until the sysctl is written). Then it calls
# `setup_per_zone_wmarks()`, `refresh_zone_stat_thresholds()` and
# `setup_per_zone_lowmem_reserve()`.
#
# **2. Sharing it out (`__setup_per_zone_wmarks`).** `pages_min = min_free_kbytes >> 2`. Each
# zone gets the share of `pages_min` that its managed pages are of all lowmem:
# `min = pages_min × managed / lowmem_pages`. The gap between the watermarks is
# `dist = max(min / 4, managed × watermark_scale_factor / 10000)`; `low = min + dist`,
# `high = min + 2·dist`. With the default scale factor of 10 (0.1 %), `min/4` usually wins.
# A v5.0 detail: `low` and `high` are computed from `min_wmark_pages()`, which still includes a
# watermark boost in force at that moment; the boost is zeroed only afterwards.
#
# **3. Protection (`setup_per_zone_lowmem_reserve`).** A lower zone keeps some pages back from
# allocations that could have used a higher zone: `zone[i].lowmem_reserve[j]` = managed pages
# of zones i+1…j divided by `lowmem_reserve_ratio[i]` (256 for DMA and DMA32). `/proc/zoneinfo`
# prints it as `protection:`.
#
# **4. THP raises it (`set_recommended_min_free_kbytes`).** When transparent hugepages are
# `always` or `madvise` and the machine has at least 512 MiB, khugepaged's start-up asks for
# 11 pageblocks per populated zone (2 free + 3×3 for migratetype fallbacks), capped at 5 % of
# lowmem, and raises `min_free_kbytes` if that is more. Three zones × 11 × 512 pages × 4 KiB =
# **67584 KiB** — the value most x86_64 boxes show.

# %% [markdown]
# ## The mmsim twin
#
# The same steps in mmsim (`mmsim/mm/page_alloc.py`), reading like the kernel function:

# %%
from mmsim.mm import page_alloc

show_source(page_alloc.__setup_per_zone_wmarks)

# %% [markdown]
# ## Experiment: an 8 GiB box
#
# `Node.build(mem="8GiB")` lays out zones as x86_64 firmware does and boots them. First with THP
# off (the square-root default), then with the distribution default `madvise` (the THP raise):

# %%
# NBVAL_CHECK_OUTPUT
plain = Node.build(mem="8GiB", sysctl=Sysctl(transparent_hugepage="never"))
thp = Node.build(mem="8GiB")
print("min_free_kbytes without THP:", plain.min_free_kbytes)
print("min_free_kbytes with THP   :", thp.min_free_kbytes)
lesson.watermark_table(8, None, 10)

# %% [markdown]
# The same machine with `min_free_kbytes` written as 67584 and 16384, and with a larger
# `watermark_scale_factor` (only the gaps widen, `min` does not move):

# %%
# NBVAL_CHECK_OUTPUT
for mfk, wsf in ((67584, 10), (16384, 10), (67584, 200)):
    df = lesson.watermark_table(8, mfk, wsf)
    print(f"min_free_kbytes={mfk:6d} wsf={wsf:4d}  DMA32 min/low/high = "
          f"{df.loc['DMA32', 'min']}/{df.loc['DMA32', 'low']}/{df.loc['DMA32', 'high']}  "
          f"Normal = {df.loc['Normal', 'min']}/{df.loc['Normal', 'low']}/{df.loc['Normal', 'high']}")

# %%
lesson.default_curve()

# %% [markdown]
# ## Try it
#
# Move the sliders: memory size, `min_free_kbytes` and `watermark_scale_factor`. The numbers
# under the figure are the pages of each zone's min/low/high.

# %%
lesson.PANELS[0].widget()

# %% [markdown]
# ## Check yourself
#
# Each question is generated from a seed by the same formulas; change the seed for a new one.
# `q.check(answer)` tells you if you are right; the collapsed cell below each reveals the answer.

# %%
from mmsim.exercises import quiz

q1, = quiz("watermarks", seed=11)
q1

# %% hide
print(q1.reveal())

# %%
q2, = quiz("lowmem_reserve", seed=5)
q2

# %% hide
print(q2.reveal())

# %%
q3, = quiz("min_free_kbytes", seed=2)
q3

# %% hide
print(q3.reveal())

# %% [markdown]
# ## On your machine
#
# mmsim rebuilds this host's zones from `/proc/zoneinfo` and **recomputes** the watermarks from
# `/proc/sys/vm/*`; where the kernel is not Linux (or /proc is unreadable) it uses a bundled
# snapshot of a Linux 6.18 VM. Compare the recomputed values with the `min`/`low`/`high` lines of
# your `/proc/zoneinfo`.

# %%
from mmsim.lessons import your_machine

node, where = your_machine()
print("from", where, "- min_free_kbytes", node.min_free_kbytes)
for z in node.zones:
    if z.managed_pages:
        print(f"{z.name:7s} managed {z.managed_pages:8d}  min {z.min_wmark_pages:6d}  "
              f"low {z.low_wmark_pages:6d}  high {z.high_wmark_pages:6d}  "
              f"protection {tuple(z.lowmem_reserve)}")

# %% [markdown]
# ## After v5.0, and common misreadings
#
# * **5.1** ("mm: reclaim small amounts of memory when an external fragmentation event occurs"
#   follow-ups): the compaction free scanner ignores the boost; `__setup_per_zone_wmarks` later
#   zeroes the boost *before* computing low/high, removing the quirk of step 2.
# * **5.7** raised the upper clamp of the default from 65536 to 262144 KiB.
# * **6.x** prints a separate `boost` line in `/proc/zoneinfo`, adds a `promo` watermark for
#   memory tiering, and treats an empty `ZONE_MOVABLE` like highmem (min 32 pages instead of 0).
# * Misreading: "`min_free_kbytes` is the free memory the kernel keeps". It sets **min** only;
#   kswapd keeps free memory between *low* and *high*, which sit `dist` and `2·dist` above it.
