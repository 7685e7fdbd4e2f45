# %% [markdown]
# # 04 · `swap_setup`: `page_cluster` from the size of RAM
#
# **Kernel function:** [`swap_setup`](https://elixir.bootlin.com/linux/v5.0/ident/swap_setup) in
# `mm/swap.c` — Linux **v5.0** (its v5.0 line numbers could not be verified, so the link goes by
# identifier), called from
# [`kswapd_init`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L4079) at
# `mm/vmscan.c` line 4079.
#
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/mmsim/mmsim/main?urlpath=lab/tree/notebooks/04-swap_setup.ipynb)
#
# `swap_setup` is the first thing `kswapd_init` does at boot (lesson 03), and the whole function is
# one decision: the default of `vm.page-cluster`. `page_cluster` is an *order*: when a process
# faults on a page that is in swap, the kernel may read up to 2^`page_cluster` pages around it in
# the same I/O (swap read-ahead), betting that they will be needed soon. Machines with less than
# 16 MiB get 2 (up to 4 pages), all others 3 (up to 8 pages). It runs once; afterwards only an
# administrator's write to `/proc/sys/vm/page-cluster` changes the value.

# %%
# %matplotlib inline
from mmsim.lessons import show_source
from mmsim.mm import swap
from mmsim.panels import l04_swap_setup as lesson

# %% [markdown]
# ## Step by step
#
# 1. `megs = totalram_pages() >> (20 − PAGE_SHIFT)`: the memory in MiB, rounded down. With 4 KiB
#    pages that is a shift by 8. `totalram_pages()` counts the pages handed to the buddy
#    allocator (what `/proc/meminfo` calls `MemTotal`), **not** the RAM installed: the kernel
#    image, the `struct page` array and firmware areas are not in it.
# 2. `megs < 16` → `page_cluster = 2`; otherwise `page_cluster = 3`. The test is strict: 16 MiB of
#    managed memory already gets 3.
#
# That is all; a comment in the source adds that other parts of the system make larger clusters
# unattractive. In v5.0 `page_cluster` is read by swap read-ahead in `mm/swap_state.c`: the
# cluster read-ahead (`swapin_nr_pages`, which also shrinks the window when read-ahead pages go
# unused) and the VMA-based read-ahead (window up to 2^min(`page_cluster`, 5) on 64-bit).
# Swap-*out* does not use it: reclaim writes each page with its own `writepage` call.
#
# When it runs, `totalram_pages()` is still a little smaller than the final `MemTotal`: the
# kernel's `__init` code and data are freed only after the last initcall.

# %% [markdown]
# ## The mmsim twin

# %%
show_source(swap.swap_setup)

# %% [markdown]
# mmsim computes `page_cluster` as v5.0 does, but its swap-in reads one page at a time: read-ahead
# itself is not modelled.
#
# ## Experiment: around 16 MiB
#
# `swap_setup` on machines whose managed memory is just below, at and above the boundary
# (zone sizes only, booted on paper):

# %%
# NBVAL_CHECK_OUTPUT
print(lesson.cases_table().to_string())

# %% [markdown]
# And on real nodes, where a `Simulation` boots the daemons (`kswapd_init` → `swap_setup`):

# %%
# NBVAL_CHECK_OUTPUT
print("\n".join(lesson.kswapd_init_sets_it(("15MiB", "16MiB", "64MiB"))))

# %%
lesson.step_figure(16, 1024)

# %% [markdown]
# A board with exactly 16 MiB of RAM installed never reaches `megs = 16`: boot code keeps part of
# it, so it gets `page_cluster = 2`.
#
# ## Try it
#
# Installed RAM and the part boot code keeps; the dot is what `swap_setup` sees.

# %%
lesson.PANELS[0].widget()

# %% [markdown]
# ## Check yourself

# %%
from mmsim.exercises import quiz

q1, = quiz("swap_setup_memtotal", seed=0)
q1

# %% hide
print(q1.reveal())

# %%
q2, = quiz("page_cluster_window", seed=3)
q2

# %% hide
print(q2.reveal())

# %% [markdown]
# ## On your machine
#
# `MemTotal` in `/proc/meminfo` is `totalram_pages` × 4 KiB, so it tells what v5.0's `swap_setup`
# would have chosen (give or take the `__init` memory freed after it ran, and memory hot-plugged
# since boot), beside the value in force now. Distributions that swap to compressed RAM (zram)
# often set `vm.page-cluster` to 0, which turns read-ahead off. (Without `/proc/meminfo` the cell
# falls back to the zones of `your_machine()`.)

# %%
print("\n".join(lesson.host_report()))

# %% [markdown]
# ## After v5.0, and common misreadings
#
# * `swap_setup` makes the same decision in later kernels, 6.x included. Later kernels also cap
#   the sysctl at 31 (`page_cluster_max`), which keeps 2^`page_cluster` within an `int`.
# * Misreading (the seed blog): "16 MiB **or less** gives 2". The test is `megs < 16`, and `megs` is
#   the *managed* memory: exactly 16 MiB managed gives 3, while a 16 MiB board, whose managed memory
#   is smaller, gets 2.
# * Misreading: "`page-cluster` is a number of pages". It is an order: 3 means up to 8 pages.
# * Misreading: "kswapd swaps out `page-cluster` pages at a time". In v5.0 it bounds swap-in
#   read-ahead only; reclaim works in batches of `SWAP_CLUSTER_MAX` (32) pages, a different thing.
