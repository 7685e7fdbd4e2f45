# %% [markdown]
# # 00 · Start here: kswapd and kcompactd in Linux v5.0, made visible
#
# **Kernel code:** [`mm/`](https://elixir.bootlin.com/linux/v5.0/source/mm) of Linux **v5.0** —
# chiefly [`kswapd`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L3849)
# (mm/vmscan.c L3849–3928) and
# [`kcompactd`](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L2055)
# (mm/compaction.c L2055–2083).
#
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/mmsim/mmsim/main?urlpath=lab/tree/notebooks/00-start-here.ipynb)
#
# Linux keeps a little memory free at all times so that allocations rarely have to wait. Two
# kernel threads per NUMA node do that work in the background: **kswapd** reclaims pages
# (drops clean page cache, writes back dirty pages, swaps anonymous memory) when a zone's free
# pages fall below its *low* watermark, and stops once they are above *high*; **kcompactd**
# moves pages around so that free memory forms the large contiguous blocks that huge pages
# and some drivers need. **mmsim** models the state they work on — nodes, zones, the buddy
# allocator's free lists, pageblocks, watermarks — page frame by page frame, and runs their v5.0
# logic against workloads in simulated time. Each lesson takes one kernel function, explains
# its branches against the v5.0 source, shows mmsim's twin of it, and lets you play with it.

# %%
# %matplotlib inline
import mmsim
from mmsim import Node
from mmsim.panels import l00_start_here as lesson

# %% [markdown]
# ## The map
#
# One notebook per kernel function, in learning order. Newcomers: 01 → 02 → 08 → 07 → 11.
# Tuning `vm.*` sysctls: 01, 08, 09, 13, 23, 26. Compaction: 15 → 22. Every link below goes to
# the function in v5.0 on Elixir (by line where the v5.0 line numbers were verified).

# %%
lesson.lesson_map()

# %% [markdown]
# ## The model in one picture
#
# | word | what it is in v5.0 |
# |---|---|
# | **page frame**, **pfn** | 4 KiB of physical memory and its number |
# | **node** (`pg_data_t`) | the memory close to one group of CPUs; one kswapd and one kcompactd each |
# | **zone** (`struct zone`) | a pfn range of a node that some devices can reach: on x86_64 DMA (< 16 MiB), DMA32 (< 4 GiB), Normal (the rest) |
# | **managed pages** | the zone's pages handed to the buddy allocator (present pages minus what boot code kept) |
# | **free area**, **order** | the buddy allocator keeps free memory as aligned blocks of 2^order pages, order 0…10 (4 KiB…4 MiB); `free_area[order].nr_free` is what `/proc/buddyinfo` prints |
# | **pageblock**, **migratetype** | 512-page (2 MiB) units, each labelled Unmovable, Movable, Reclaimable (or HighAtomic, CMA, Isolate), so that pages that can be moved stay together |
# | **watermarks** | per zone *min* < *low* < *high* free pages; below *low* an allocation wakes kswapd, above *high* kswapd may sleep (lesson 01) |
#
# Here is a freshly booted 512 MiB machine, drawn from mmsim's per-frame state: the node's pfn
# range cut into zones (with the pages boot code reserved), each zone's free pages against its
# three watermarks, free blocks per order, and the pageblocks of the largest zone. At boot almost
# everything is free, in order-10 blocks, and every pageblock is Movable.

# %%
node = Node.build(mem="512MiB")
lesson.model_picture(node)

# %% [markdown]
# Now shape the machine yourself: set `vm.min_free_kbytes` (it places the watermarks, lesson 01),
# fill memory with page cache — up to twice the high watermarks, so that kswapd is not woken —
# pin an unmovable kernel page now and then, and free part of the cache again at random. Watch
# free memory fall into small blocks, and the pinned pages gather in one or two **Unmovable
# pageblocks** instead of spreading everywhere: the allocator steals a whole pageblock for
# unmovable pages and keeps using it (lesson 09). The lines under the figure give each zone's
# watermarks and its `/proc/buddyinfo` row. (Allocations here go straight to the allocator,
# without simulated time.)

# %%
lesson.PANELS[0].widget()

# %% [markdown]
# ## A first simulation
#
# One process streams a large file through the page cache at 400 MiB/s on the 512 MiB machine
# (the `file-stream` scenario, 3 s of simulated time). The cell prints the run's reclaim counters,
# named as in `/proc/vmstat`, and the first kswapd events in ftrace format:

# %%
# NBVAL_CHECK_OUTPUT
res = lesson.first_run()
print(lesson.counters(res))
print()
print(lesson.ftrace_excerpt(res))

# %%
lesson.first_run_figure(res)

# %% [markdown]
# What happened:
#
# * At 0.1 s kswapd, started at boot, found the node balanced and went to sleep
#   (`mm_vmscan_kswapd_sleep`) after its 100 ms nap (lesson 07).
# * The reader filled the free memory in about 1.15 s. Its next allocation found DMA32 below
#   *low*, recorded a request and woke kswapd (`mm_vmscan_wakeup_kswapd`, lesson 11).
# * Each kswapd run (`balance_pgdat`, counted by `pageoutrun`, lesson 08) reclaimed the
#   used-once cache until DMA32 was above *high*. Every page scanned was reclaimed
#   (`pgscan_kswapd` = `pgsteal_kswapd`): clean, unmapped page cache is the easiest memory to free.
# * The low–high gap of this 452 MiB zone is only 167 pages (a quarter of *min*; the
#   `watermark_scale_factor` share, 0.1 % of the zone, is smaller still — lesson 01), so the reader
#   used it up in under 2 ms: kswapd's nap was cut short almost every time
#   (`kswapd_low_wmark_hit_quickly` ≈ `pageoutrun`), and 39 times the reader was faster still: its
#   retry at the *min* watermark failed and it reclaimed by itself (`allocstall_movable`,
#   `pgscan_direct`, lesson 13).
#
# The same picture after the run. Free memory is down to about 870 pages in DMA32, in a handful
# of blocks — some of them large, because cache that was read sequentially and reclaimed in LRU
# order comes back as runs of neighbouring pages that the buddy allocator merges. DMA keeps its
# few hundred free pages: `lowmem_reserve` protects it from this page-cache reader (lesson 01).

# %%
lesson.model_picture(res.node)

# %% [markdown]
# ## On your machine
#
# `your_machine()` rebuilds this host's zones and free lists from `/proc/zoneinfo`,
# `/proc/buddyinfo` and `/proc/pagetypeinfo` (on a host that is not Linux, or whose `/proc`
# cannot be read, it uses a bundled snapshot of a Linux 6.18 VM). mmsim recomputes *min*,
# *low* and *high* from your `/proc/sys/vm` settings with the v5.0 formulas, so a newer kernel's
# own numbers can differ a little; the excerpt is printed in v5.0's `/proc/zoneinfo` format.
# This output depends on the host.

# %%
from mmsim.lessons import your_machine

host, where = your_machine()
print("from", where, "-", host)
lesson.machine_table(host)

# %%
print(lesson.zoneinfo_excerpt(host))

# %%
lesson.model_picture(host)

# %% [markdown]
# ## After v5.0, and common misreadings
#
# * **5.8** renamed `classzone_idx` to `highest_zoneidx`; **5.9** added proactive compaction
#   (`vm.compaction_proactiveness`), so kcompactd also wakes on a timer; **6.1** added the
#   multi-gen LRU, which changes what reclaim scans but not the kswapd loop you will read here;
#   **6.x** `/proc/zoneinfo` prints a separate `boost` line.
# * Misreading: "kswapd runs periodically". It sleeps until an allocation wakes it; the only
#   timer is a 100 ms nap before it goes back to sleep.
# * Misreading: "there is one kswapd". There is one per node with memory (`kswapd0`, `kswapd1`…),
#   and each looks only at its own node (lessons 03 and 05).
# * Misreading: "kswapd frees memory until it reaches the high watermark in every zone". It stops
#   when **one** eligible zone is above *high* for the requested order (lesson 08).
