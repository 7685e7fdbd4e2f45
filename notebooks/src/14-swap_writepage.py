# %% [markdown]
# # 14 · `swap_writepage`: where reclaimed anonymous pages go
#
# **Kernel function:** [`swap_writepage`](https://elixir.bootlin.com/linux/v5.0/ident/swap_writepage)
# in `mm/page_io.c`, reached through [`swap_aops`](https://elixir.bootlin.com/linux/v5.0/ident/swap_aops)
# and [`swapper_spaces`](https://elixir.bootlin.com/linux/v5.0/ident/swapper_spaces) in
# `mm/swap_state.c`, from `pageout()` in
# [`shrink_page_list`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L1100)
# (`mm/vmscan.c` L1100–1505). Whether anonymous pages are scanned at all is decided by
# [`get_scan_count`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L2282)
# (L2282–2480). Linux **v5.0**; page_io.c and swap_state.c lines are not verified, so those
# links go by identifier.
#
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/mmsim/mmsim/main?urlpath=lab/tree/notebooks/14-swap_writepage.ipynb)
#
# A file page can be dropped, or written back to its file. An anonymous page has no file, so the
# only way to free it is to write it to swap. Reclaim gives the page a swap slot and puts it in
# the **swap cache**. The swap cache is a set of page caches, `swapper_spaces[type][offset >> 14]`,
# one `address_space` per 64 MiB of each swap device. Their operations are `swap_aops`, whose
# `.writepage` is `swap_writepage`. So when `shrink_page_list` calls `pageout()`, the generic
# `mapping->a_ops->writepage(page)` lands in `swap_writepage`, which submits the I/O and counts
# `pswpout`.

# %%
# %matplotlib inline
from mmsim.lessons import show_source
from mmsim.panels import l14_swap_writepage as lesson

# %% [markdown]
# ## Step by step
#
# 1. **Is anon scanned at all?** `get_scan_count`: if `!sc->may_swap` (kswapd's boost reclaim)
#    or no swap slot is free, use **SCAN_FILE**, and the anonymous lists get a target of 0.
#    Without swap, `inactive_list_is_low` also says "no" for anon, and `age_active_anon` does
#    nothing. Anonymous pages never reach `shrink_page_list`.
# 2. **`shrink_page_list`**, for an anonymous page not yet in the swap cache: without `__GFP_IO`,
#    keep it. Otherwise `add_to_swap()`: get a slot (`get_swap_page`), insert the page into the
#    swap cache (`swapper_spaces`), and mark it dirty (`swap_aops.set_page_dirty`). No slot
#    means the page is activated. The page is then unmapped (`try_to_unmap`): its PTEs become
#    swap entries.
# 3. **Dirty → `pageout()`**. Unlike dirty *file* pages (lesson 12), anonymous pages may be
#    written by kswapd and by direct reclaimers alike (with `may_writepage`). `pageout` sets
#    `PG_reclaim` and calls `mapping->a_ops->writepage`, which is `swap_writepage`.
# 4. **`swap_writepage`**: if the page no longer needs its slot (`try_to_free_swap`), it is done.
#    If frontswap/zswap stores it, writeback starts and ends at once. Otherwise
#    `__swap_writepage` builds a bio (or calls `bdev_write_page`), counts **`pswpout`**, sets
#    `PG_writeback` and submits.
# 5. Back in `shrink_page_list`, a page under writeback is **kept** on the inactive list.
# 6. **Completion** (`end_swap_bio_write` → `end_page_writeback`): `PG_reclaim` is set, so
#    `rotate_reclaimable_page` moves the page to the **tail** of the inactive list
#    (**`pgrotated`**). The next scan finds it clean and in the swap cache, and frees it
#    (`pgsteal_*`). A later touch faults it back in (`pswpin`).

# %% [markdown]
# ## The mmsim twin
#
# mmsim has no separate `swap_writepage`. Its `shrink_page_list` does steps 2–5 on whole
# arrays of pages: `add_to_swap` is `swap.get_swap_pages`, and the write is
# `pswpout` plus a submission to the block device:

# %%
from mmsim.mm import page_io, vmscan

lesson.source_excerpt(vmscan.shrink_page_list, "# ---- anonymous pages need a swap slot first",
                      "# ---- clean pages are freed")

# %% [markdown]
# Completion (step 6), and the first test of `get_scan_count` (step 1):

# %%
show_source(page_io.end_page_writeback)

# %%
lesson.source_excerpt(vmscan.get_scan_count, "if not sc.may_swap", "if balance is None:")

# %% [markdown]
# ## Experiment: the same process, with and without swap
#
# The box has 64 MiB, half full of clean page cache. A process grows its anonymous memory at
# 200 MiB/s to 1.2× the RAM and keeps touching a random 20 % of it. We run it with a 32 MiB swap
# device, with none, with a swap device that is too small (8 MiB), and with `swappiness = 0`:

# %%
# NBVAL_CHECK_OUTPUT
lesson.compare((("32MiB", 60), ("none", 60), ("8MiB", 60), ("32MiB", 0)))

# %% [markdown]
# * **With swap**, kswapd first reclaims all the page cache (~7800 pages). It then writes 4465
#   cold anonymous pages to swap. Every one of them is rotated after its write (`pgrotated`)
#   and then freed, and the hot ones come back (`pswpin`). Nobody stalls.
# * **Without swap**, the same cache is reclaimed. After that, `get_scan_count` has nothing to
#   scan (SCAN_FILE, and no file pages are left). `swap_writepage` is never called, and the
#   process is OOM-killed. Its anonymous memory is then freed, as `exit_mmap` does.
# * **A swap device that fills up** brings back the no-swap case: once
#   `get_nr_swap_pages() == 0`, anon is no longer scanned.
# * **`swappiness = 0`** swaps almost as much. When file pages plus free pages are at or below
#   the sum of the high watermarks, v5.0 forces **SCAN_ANON** whatever the swappiness.
#
# The pipeline over time (32 MiB swap). The simulated SSD completes each write within about
# 0.2 ms, so by every sample all written pages have already been rotated:

# %%
# NBVAL_CHECK_OUTPUT
lesson.pipeline(lesson.experiment("32MiB", 60))

# %%
lesson.update("32MiB", 60)

# %% [markdown]
# ## Try it
#
# Choose the swap device and `vm.swappiness`. The first cell runs the four swap sizes once
# (about 2 s). The other swappiness values run when you first choose them (about 0.4 s each).

# %%
lesson.warm()
lesson.PANELS[0].widget()

# %% [markdown]
# ## Check yourself

# %%
from mmsim.exercises import quiz

q1, = quiz("swapper_spaces", seed=2)
q1

# %% hide
print(q1.reveal())

# %%
q2, = quiz("swap_reclaim", seed=0)
q2

# %% hide
print(q2.reveal())

# %%
q3, = quiz("swap_reclaim", seed=1)
q3

# %% hide
print(q3.reveal())

# %% [markdown]
# ## On your machine
#
# `/proc/swaps` lists the swap devices. For each one, mmsim computes how many `address_space`
# structs v5.0 would give it in `swapper_spaces`. `/proc/vmstat` has the swap counters, and
# `/proc/sys/vm/swappiness` the knob.

# %%
from mmsim.lessons import read_host_file

swaps = (read_host_file("/proc/swaps") or "").splitlines()[1:]
if not swaps:
    print("no swap device here (or not Linux): reclaim can only take file pages")
for line in swaps:
    name, _type, size_kb = line.split()[:3]
    print(f"{name}: {int(size_kb) // 1024} MiB -> "
          f"{lesson.swapper_spaces(f'{size_kb}KiB')} address_space(s) in swapper_spaces")
print("swappiness:", (read_host_file("/proc/sys/vm/swappiness") or "n/a").strip())
vmstat = dict(ln.split() for ln in (read_host_file("/proc/vmstat") or "").splitlines())
for name in ("pswpout", "pswpin", "pgrotated", "nr_vmscan_write"):
    print(f"{name:16s}", vmstat.get(name, "n/a"))

# %% [markdown]
# ## After v5.0, and common misreadings
#
# * **5.8**: swappiness goes up to 200 (for fast swap such as zram). `get_scan_count` balances
#   on the cost of refaults and IO (`lru_note_cost`) rather than `recent_rotated`, and
#   `pgscan_anon`/`pgscan_file` show which lists were scanned.
# * **5.9**: workingset detection covers anonymous pages too, so swap-ins can refault and
#   activate.
# * **6.x**: folios replace pages (`swap_writepage` takes a folio, and `pswpout` counts folio
#   pages). A later series replaces the per-64 MiB `swapper_spaces` with a single swap-cache
#   `swap_space` backed by a "swap table".
# * Misreading: "with swap, the kernel swaps as soon as memory is full". In v5.0 cheap page cache
#   goes first (SCAN_FILE while the inactive file list is not low), and swappiness weighs the
#   rest.
# * Misreading: "`swappiness = 0` disables swapping". It does not, for global reclaim: see the
#   SCAN_ANON rule above.
# * Misreading: "`pgrotated` means something was rotated on the active list". It counts pages
#   moved to the inactive **tail** when their writeback ended, so they are freed next.
