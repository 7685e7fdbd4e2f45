# %% [markdown]
# # 02 · `__zone_watermark_ok`: may this zone serve an order-*n* request?
#
# **Kernel function:** [`__zone_watermark_ok`](https://elixir.bootlin.com/linux/v5.0/ident/__zone_watermark_ok)
# in `mm/page_alloc.c`, with its wrappers
# [`zone_watermark_fast`](https://elixir.bootlin.com/linux/v5.0/ident/zone_watermark_fast),
# [`zone_watermark_ok`](https://elixir.bootlin.com/linux/v5.0/ident/zone_watermark_ok) and
# [`zone_watermark_ok_safe`](https://elixir.bootlin.com/linux/v5.0/ident/zone_watermark_ok_safe) —
# Linux **v5.0**. The v5.0 line numbers of page_alloc.c could not be verified, so the links go by
# identifier and the steps below are numbered instead.
#
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/mmsim/mmsim/main?urlpath=lab/tree/notebooks/02-zone_watermark_ok.ipynb)
#
# Every decision about a zone's free memory goes through this one function: given a watermark
# (`mark`), a request of 2^order pages and the caller's `ALLOC_*` flags, is the zone rich enough?
# The allocator's fast path asks it against *low* (through `zone_watermark_fast`, from
# `get_page_from_freelist`), the slow path against *min*, kswapd against *high* when it decides
# whether a node is balanced (`pgdat_balanced` → `zone_watermark_ok_safe`), and compaction
# before and during its work. It has no side effects: it only reads the zone's free-page
# counters and free lists.

# %%
# %matplotlib inline
from mmsim.lessons import show_source
from mmsim.mm import page_alloc
from mmsim.panels import l02_zone_watermark_ok as lesson

# %% [markdown]
# ## Step by step
#
# Inputs: the zone, `order`, `mark` (a boosted watermark: `min`, `low` or `high` +
# `watermark_boost`), `classzone_idx` (the highest zone the caller may use), `alloc_flags`, and
# `free_pages` (a signed count, allowed to go negative).
#
# 1. Start with `min = mark`. The caller is *harder* if it has `ALLOC_HARDER` or `ALLOC_OOM`.
# 2. Take `2^order − 1` off `free_pages`: after this allocation the zone must still be above the
#    mark.
# 3. `ALLOC_HIGH` (from `__GFP_HIGH`) halves `min`.
# 4. A caller that is not *harder* cannot use the HighAtomic reserve, so the pages of the zone's
#    HighAtomic pageblocks (`nr_reserved_highatomic`, free or not) come off `free_pages`.
#    A *harder* caller instead lowers `min` again: by half for `ALLOC_OOM`, else by a quarter.
#    Steps 3 and 4 compound: `GFP_ATOMIC` (`ALLOC_HIGH|ALLOC_HARDER`) may go down to 3/8 of the mark.
# 5. Without `ALLOC_CMA` (only movable requests get it) free CMA pages come off `free_pages`.
# 6. If `free_pages <= min + lowmem_reserve[classzone_idx]` → **false**. Strictly greater is
#    needed, and the lower zone's protection against this classzone is added (lesson 01).
# 7. If `order == 0` → **true**.
# 8. For each order `o` from `order` to 10 with `free_area[o].nr_free > 0`: **true** if any of
#    the Unmovable, Movable or Reclaimable lists has a block; **true** if the CMA list has one and
#    the caller has `ALLOC_CMA`; **true** if the HighAtomic list has one and the caller is *harder*.
# 9. Otherwise → **false**.
#
# Two things step 8 does **not** do: it does not look for a block of the caller's own
# migratetype (any ordinary list will do: the allocator can steal from another type), and it does
# not weigh the pages at lower orders — since 4.4 there is no per-order watermark, only the total
# of step 6 and then "is there one block big enough?".
#
# The wrappers: `zone_watermark_ok` passes the zone's `NR_FREE_PAGES`. `zone_watermark_fast`
# (the allocator) first tries an order-0 shortcut — free pages minus free CMA pages (unless
# `ALLOC_CMA`) above `mark + lowmem_reserve` → true at once, without steps 3–4, so the
# HighAtomic reserve is *not* subtracted there — and otherwise calls the full check.
# `zone_watermark_ok_safe` (kswapd) reads an exact free count when the zone is below its
# `percpu_drift_mark`, and passes `alloc_flags = 0`: no CMA pages, HighAtomic reserve subtracted.

# %% [markdown]
# ## The mmsim twin
#
# `__zone_watermark_ok` in mmsim returns the first element of `_watermark_check`, which follows the
# same steps and also says which one decided, with the numbers it compared:

# %%
show_source(page_alloc._watermark_check)

# %% [markdown]
# ## Experiment: the golden cases
#
# The shared v5.0 notes work five cases out by hand from the kernel source (numbers of a real
# x86_64 box: DMA32 min/low/high 14384/17980/21576, Normal 2439/3048/3657). mmsim's twin gives
# the same verdicts and the same intermediate `free_pages` and `min`:

# %%
# NBVAL_CHECK_OUTPUT
print(lesson.golden_table().to_string())

# %% [markdown]
# The fourth case drawn: 4512 free pages, plenty for the count, but the only block of order ≥ 9
# sits on the HighAtomic list, which an ordinary caller may not use.

# %%
lesson.golden_figure("wmark_ok_order9_only_highatomic_normal")

# %% [markdown]
# One free area, many callers. DMA32 of the same box holds 18400 free pages, none in a block
# larger than order 8. The table shows what each kind of caller needs and gets for an order-0 and
# an order-9 request:

# %%
# NBVAL_CHECK_OUTPUT
print(lesson.callers_table(free_pages=18400, largest_order=8).to_string())

# %% [markdown]
# * The 512-page `lowmem_reserve` of DMA32 against Normal (= Normal's managed pages / 256) turns
#   the same free pages into "no" for `GFP_KERNEL` and "yes" for `GFP_DMA32`.
# * Order 9 fails at step 6 on the fast path (511 pages come off first) and at step 9 on the slow
#   path: the count is fine but there is no block of order ≥ 9. That is the job of compaction.
# * kswapd would not consider this zone balanced: 18400 is below *high* + reserve.

# %% [markdown]
# ## Try it
#
# The zone is DMA32 of the same box, with a free area you shape: a number of free pages, one block
# of the largest order on a list you choose, the rest in smaller Movable blocks; `alloc_flags`
# offers the flag sets real callers have, and the classzone is DMA32 for `GFP_DMA32`, Normal for
# `GFP_KERNEL`, Movable for `GFP_HIGHUSER_MOVABLE`. Things to try: switch the classzone between DMA32 and
# Normal at 18400 free pages; ask for order 9 with the largest free order at 8; put the largest
# block on the HighAtomic list, then choose `ALLOC_HARDER`; put it on the CMA list, then choose
# `ALLOC_CMA`; set the watermark to *min* with few free pages and choose
# `ALLOC_HIGH|ALLOC_HARDER` (GFP_ATOMIC).

# %%
lesson.PANELS[0].widget()

# %% [markdown]
# ## Check yourself
#
# Each question is generated from its seed; `q.check(answer)` says whether you are right, and the
# collapsed cell below reveals the answer.

# %%
from mmsim.exercises import quiz

q1, = quiz("zone_watermark_ok", seed=9)
q1

# %% hide
print(q1.reveal())

# %%
q2, = quiz("watermark_flags", seed=1)
q2

# %% hide
print(q2.reveal())

# %%
q3, = quiz("zone_watermark_ok", seed=6)
q3

# %% hide
print(q3.reveal())

# %% [markdown]
# ## On your machine
#
# mmsim rebuilds this host's zones and free lists from `/proc/zoneinfo`, `/proc/buddyinfo` and
# `/proc/pagetypeinfo` (a bundled snapshot when they cannot be read) and asks, for each zone and
# order, what a `GFP_KERNEL` fast-path allocation would be told right now (low watermark,
# classzone Normal). "no (6)" means the count failed, "no (9)" that no block was big enough. The
# watermarks are recomputed with the v5.0 formulas; free memory changes from second to second.

# %%
from mmsim.lessons import read_host_file, your_machine

host, where = your_machine()
print("from", where)
print(read_host_file("/proc/buddyinfo") or "(no /proc/buddyinfo here)")
lesson.host_verdicts(host, watermark="low")

# %% [markdown]
# ## After v5.0, and common misreadings
#
# * **Before v5.0, still in many explanations:** until 4.4 ("mm, page_alloc: only enforce
#   watermarks for order-0 allocations") the check looped over the orders below the request,
#   subtracting their free pages and halving `min` at each step. v5.0 has no such loop.
# * **Later:** a 2020 change ("consider highatomic reserve in watermark fast") makes the order-0
#   shortcut of `zone_watermark_fast` subtract the HighAtomic reserve too, through a new helper,
#   `__zone_watermark_unusable_free`. **5.8** renames `classzone_idx` to `highest_zoneidx`.
#   **6.3** splits `ALLOC_HARDER` into `ALLOC_MIN_RESERVE`, `ALLOC_NON_BLOCK` and
#   `ALLOC_HIGHATOMIC` ("explicitly define what alloc flags deplete min reserves").
# * Misreading: "free pages must reach the watermark". They must be strictly *above*
#   `min + lowmem_reserve[classzone]`, after the request itself is taken off.
# * Misreading: "a high-order request needs a free block of its own migratetype". Any ordinary
#   list counts; only CMA and HighAtomic blocks are reserved for callers with the right flags.
# * Misreading: "kswapd checks the same thing as the allocator". kswapd passes no flags, so free
#   CMA pages never count for it and the HighAtomic reserve is always subtracted.
