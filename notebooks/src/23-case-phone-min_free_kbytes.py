# %% [markdown]
# # 23 · Case study: a 2 GiB phone, a failing `kzalloc`, and `min_free_kbytes`
#
# **Kernel functions:** [`__setup_per_zone_wmarks`](https://elixir.bootlin.com/linux/v5.0/ident/__setup_per_zone_wmarks),
# [`__zone_watermark_ok`](https://elixir.bootlin.com/linux/v5.0/ident/__zone_watermark_ok) (`mm/page_alloc.c`),
# [`compaction_suitable`](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L1467) (`mm/compaction.c`) — Linux v5.0.
#
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/mmsim/mmsim/main?urlpath=lab/tree/notebooks/23-case-phone-min_free_kbytes.ipynb)
#
# A reader asked under the seed article: on a 2 GiB phone a `kzalloc(GFP_KERNEL)` fails, while
# `/proc/zoneinfo` shows zone **DMA** with *free 6985, min 1342, low 4204, high 4540* and
# `min_free_kbytes` is 5368. Is raising `min_free_kbytes` to 107216 the right fix? We rebuild
# that zone in mmsim and answer in three steps: where do those watermarks come from, why does
# the allocation fail with 6985 free pages, and what would 107216 buy and cost.

# %%
import pandas as pd

from mmsim.lessons import show_source
from mmsim.panels import l23_case_phone_min_free_kbytes as lesson

pd.set_option("display.width", 130)

# %% [markdown]
# ## Step by step
#
# **1. The watermarks are not mainline's.** On a phone everything sits in one zone, so that
# zone gets all of `pages_min = 5368 / 4 = 1342` pages: **min 1342** ✓. Mainline then adds
# `dist = max(min/4, managed × watermark_scale_factor / 10000)`: with ~480 000 managed pages
# that is 480, giving low 1822 and high 2302 — not 4204 and 4540. Kernels before 4.6 (no
# `watermark_scale_factor`) used `min/4` and `min/2`: 1677 and 2013. The gap of exactly
# **2527 pages** on *both* low and high is Android's out-of-tree `extra_free_kbytes` sysctl
# (an idea proposed for mainline in 2012 and not merged): `extra_free_kbytes = 2527 × 4 =
# 10108` KiB, added to low and high but not to min, so kswapd starts earlier and works longer
# without enlarging the emergency reserve.

# %%
# NBVAL_CHECK_OUTPUT
print("extra_free_kbytes that reproduces the phone:", lesson.solve_extra_free_kbytes())
lesson.marks_table(5368, 10108)

# %% [markdown]
# **2. Why 6985 free pages are not enough.** 6985 is far above every watermark, so an
# *order-0* allocation passes. `kzalloc` of more than a page asks the buddy allocator for
# `2^order` contiguous pages; `__zone_watermark_ok` then also needs a free block of at least
# that order (watermarks.md §8, step 8). A phone that has run for days has its free memory in
# small pieces. We rebuild the zone with `Node.from_proc` from its zoneinfo and a fragmented
# buddyinfo with the same 6985 free pages, and ask each order:

# %%
# NBVAL_CHECK_OUTPUT
lesson.order_table(5368, 10108)

# %% [markdown]
# Orders 0–3 pass; **order 4 (64 KiB) fails: no free block that large**. For orders above
# `PAGE_ALLOC_COSTLY_ORDER` (3) a `GFP_KERNEL` request gives up after one round of direct
# reclaim and compaction instead of retrying (`__alloc_pages_slowpath`), so a `kzalloc` of
# 33–64 KiB can fail with plenty of free memory. `compaction_suitable` says *continue*: the
# fragmentation index (891) is above `extfrag_threshold` (500), so compaction could build the
# block — if it gets to run and the pinned kernel pages allow it.
#
# **3. What 107216 buys and costs.** The same zone with `min_free_kbytes = 107216`:

# %%
# NBVAL_CHECK_OUTPUT
lesson.marks_table(107216, 10108)

# %%
# NBVAL_CHECK_OUTPUT
lesson.order_table(107216, 0)

# %% [markdown]
# * **Cost:** min becomes 26804 pages and high (with Android's extra) ~42 700 pages: about
#   **167 MiB kept free** on a 2 GiB phone — memory that apps and the page cache no longer get.
# * **Buys:** kswapd wakes at a much higher free level and keeps far more memory free, so
#   high-order blocks survive longer and compaction (`free > low + 2<<order`) is more often
#   possible. In the rebuilt state above, 6985 free pages are now *below low*: kswapd would be
#   woken at once and reclaim until ~30 000 pages are free.
# * **The better fix** is usually at the allocation: `kvzalloc` (falls back to vmalloc for
#   large sizes), a smaller allocation, or `__GFP_RETRY_MAYFAIL` where waiting is acceptable;
#   and, on the tuning side, a moderate `extra_free_kbytes`/`watermark_scale_factor` rather than
#   a 20× larger emergency reserve.

# %% [markdown]
# ## The mmsim twin
#
# The Android formula is modelled beside mainline's in the lesson module (it is not v5.0 code):

# %%
show_source(lesson.android_marks)

# %% [markdown]
# ## Try it
#
# `min_free_kbytes`, Android's `extra_free_kbytes` and the allocation order. (The rebuilt zones
# are computed once when the lesson opens.)

# %%
lesson.PANELS[0].widget()

# %% [markdown]
# ## Check yourself

# %%
from mmsim.exercises import quiz

q1, = quiz("zone_watermark_ok", seed=23)
q1

# %% hide
print(q1.reveal())

# %%
q2, = quiz("fragmentation_index", seed=230)
q2

# %% hide
print(q2.reveal())

# %% [markdown]
# ## On your machine
#
# `/proc/zoneinfo` shows the three watermarks per zone; `/proc/buddyinfo` how free memory is
# split. A failing high-order allocation shows in `dmesg` as "page allocation failure:
# order:N" with a buddyinfo-like dump.

# %%
from mmsim.lessons import read_host_file

print(read_host_file("/proc/buddyinfo") or "no /proc/buddyinfo here")

# %% [markdown]
# ## After v5.0
#
# * 4.6 added `watermark_scale_factor`, the mainline way to widen low and high (Android common
#   kernels later dropped `extra_free_kbytes` in its favour).
# * 5.0 itself added `watermark_boost_factor`: after fragmentation events, all three marks rise
#   temporarily so that kswapd and kcompactd restore high-order blocks (lesson 09).
# * 5.9's proactive compaction (`vm.compaction_proactiveness`) compacts in the background
#   before a high-order request fails.
