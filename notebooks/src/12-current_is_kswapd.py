# %% [markdown]
# # 12 · `current_is_kswapd`: one task flag, three kinds of difference
#
# **Kernel function:** [`current_is_kswapd`](https://elixir.bootlin.com/linux/v5.0/ident/current_is_kswapd)
# in `include/linux/swap.h`. The flags it reads are set by
# [`kswapd`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L3849) (`mm/vmscan.c`
# L3849–3928) and tested in [`shrink_inactive_list`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L1894)
# (L1894–2003), [`shrink_node`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L2691)
# (L2691–2860) and the allocator slow path
# ([`__alloc_pages_slowpath`](https://elixir.bootlin.com/linux/v5.0/ident/__alloc_pages_slowpath),
# [`__gfp_pfmemalloc_flags`](https://elixir.bootlin.com/linux/v5.0/ident/__gfp_pfmemalloc_flags);
# page_alloc.c lines not verified, linked by identifier) — Linux **v5.0**.
#
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/mmsim/mmsim/main?urlpath=lab/tree/notebooks/12-current_is_kswapd.ipynb)
#
# Reclaim code is shared: kswapd and any task that falls into direct reclaim run the same
# `shrink_node`. `current_is_kswapd()` is how that code tells the two apart. It is a one-line
# inline that returns `current->flags & PF_KSWAPD`. When kswapd starts, it gives itself three
# flags: `PF_MEMALLOC | PF_SWAPWRITE | PF_KSWAPD`. `PF_KSWAPD` selects kswapd's counters and
# lets it set the node's `PGDAT_*` state bits. `PF_MEMALLOC` lets its own allocations ignore the
# watermarks and stops them from recursing into reclaim. `PF_SWAPWRITE` lets it write to
# congested devices.

# %%
# %matplotlib inline
from mmsim.lessons import show_source
from mmsim.panels import l12_current_is_kswapd as lesson

# %% [markdown]
# ## Step by step: where the flags are read
#
# **`PF_KSWAPD` (through `current_is_kswapd()`)**
# * `shrink_inactive_list` counts `pgscan_kswapd` (L1937) or `pgscan_direct` (L1942), and
#   `pgsteal_kswapd` (L1958) or `pgsteal_direct` (L1963).
# * `too_many_isolated` (L1792–1820) never stalls kswapd. Only direct reclaimers wait when too
#   many pages are isolated.
# * `shrink_page_list` (L1100–1505) writes a dirty **file** page only from kswapd. The page must
#   already be marked `PageReclaim`, and the node must be flagged `PGDAT_DIRTY`. Anyone else marks
#   the page and moves it back to the active list (`nr_vmscan_immediate_reclaim`). Anonymous pages
#   go to swap from either kind of reclaimer. A page under writeback counts as `nr_immediate` only
#   for kswapd, on a node flagged `PGDAT_WRITEBACK`.
# * `shrink_node` sets `PGDAT_WRITEBACK`, `PGDAT_CONGESTED` and `PGDAT_DIRTY` from what it just
#   saw, and naps `HZ/10` on `nr_immediate`, only for kswapd. Direct reclaimers only
#   `wait_iff_congested`. kswapd clears the bits again when the node is balanced
#   (`clear_pgdat_congested`, L3435–3440).
# * `shrink_node_memcg` (L2485–2599): only direct reclaim's first pass at priority 12 scans the
#   full targets without the proportional cut-off.
#
# **`PF_MEMALLOC`**
# * `__gfp_pfmemalloc_flags`: outside interrupts, a `PF_MEMALLOC` task (unless the mask has
#   `__GFP_NOMEMALLOC`) gets `ALLOC_NO_WATERMARKS`. Its allocation may take the last free page
#   below min. That is what min is *for*: reclaim itself sometimes needs a little memory to free
#   more.
# * In the slow path, after that attempt: "Avoid recursion of direct reclaim". A `PF_MEMALLOC`
#   task goes to `nopage` and never calls direct reclaim or compaction.
# * Direct reclaimers get `PF_MEMALLOC` too, for the duration of `try_to_free_pages`:
#   `__perform_reclaim` sets it with `memalloc_noreclaim_save()`. Direct compaction does the same.
#
# **`PF_SWAPWRITE`**: `may_write_to_inode` lets a flagged task write back to an inode whose
# backing device is congested. `migrate_pages` sets it too.

# %% [markdown]
# ## The mmsim twin
#
# `current_is_kswapd` in `mmsim/mm/vmscan.py` (it takes the node, to find the simulated
# `current`), and the line in `kswapd()` that sets the flags:

# %%
from mmsim.mm import vmscan

show_source(vmscan.current_is_kswapd)

# %%
import inspect

print("\n".join(ln for ln in inspect.getsource(vmscan.kswapd).splitlines() if "flags" in ln))

# %% [markdown]
# ## Experiment 1: the tasks of a running simulation
#
# Here are the flag words of every task after 0.3 s of a file stream on a 256 MiB box (the
# values are those of `include/linux/sched.h` in v5.0):

# %%
# NBVAL_CHECK_OUTPUT
lesson.kernel_task_flags()

# %% [markdown]
# ## Experiment 2: same node, same request, different flags
#
# Each row starts from an identical one-zone node (Normal, 256 MiB). Its memory is full of page
# cache; the 512 oldest pages (the inactive tail) are dirty, and free memory is 64 pages below
# min. One task sets its flags, then either allocates pages (`GFP_KERNEL`) or runs one
# `shrink_node` pass at priority 10. No daemons run.

# %%
# NBVAL_CHECK_OUTPUT
lesson.flags_table()

# %% [markdown]
# * The ordinary task is below min, so it reclaims by itself. It stalls 7 times (`allocstall`),
#   working past the dirty tail, and stops once free is back above min (515 > 512).
# * The `PF_MEMALLOC` task takes its 256 pages **below min** (192 left), with no reclaim at all.
# * With kswapd's three flags, a task asking for more than exists gets every free page (down to
#   0) and then fails. It never enters reclaim: there is no recursion.
# * The same `shrink_node` pass shows up under `pgscan_direct` or under `pgscan_kswapd`,
#   depending only on `PF_KSWAPD`. Only the kswapd-flagged pass marks the node `PGDAT_DIRTY`:
#   every file page it isolated was dirty and not yet queued for writeback.
#
# The kswapd-flagged pass in counters:

# %%
lesson.update(PF_KSWAPD=True, action="shrink_node")

# %% [markdown]
# ## Try it
#
# Toggle the flags and choose what the task does. Try `PF_MEMALLOC` with 4096 pages, and
# `GFP_ATOMIC` without it: `ALLOC_HIGH|ALLOC_HARDER` lets that one go below min, but only down
# to 3/8 of it.

# %%
lesson.PANELS[0].widget()

# %% [markdown]
# ## Check yourself

# %%
from mmsim.exercises import quiz

q1, = quiz("task_flags", seed=0)
q1

# %% hide
print(q1.reveal())

# %%
q2, = quiz("task_flags", seed=5)
q2

# %% hide
print(q2.reveal())

# %% [markdown]
# ## On your machine
#
# `/proc/<pid>/stat` field 9 is the task's flag word. The bit values changed after v5.0 (for
# example `PF_SWAPWRITE` was removed in 5.18), so this cell names only `PF_KTHREAD`,
# `PF_MEMALLOC` and `PF_KSWAPD`, which kept their values. `/proc/vmstat` shows the split between
# kswapd and direct reclaim.

# %%
import os

from mmsim.lessons import read_host_file

for pid in (os.listdir("/proc") if os.path.isdir("/proc") else []):
    comm = read_host_file(f"/proc/{pid}/comm") if pid.isdigit() else None
    if comm and comm.startswith(("kswapd", "kcompactd")):
        stat = read_host_file(f"/proc/{pid}/stat") or ""
        flags = int(stat.rsplit(")", 1)[1].split()[6]) if stat else 0
        names = [n for n, v in (("PF_MEMALLOC", 0x800), ("PF_KSWAPD", 0x20000),
                                ("PF_KTHREAD", 0x200000)) if flags & v]
        print(f"{comm.strip():12s} flags {flags:#010x}  {'|'.join(names)}")
vmstat = dict(ln.split() for ln in (read_host_file("/proc/vmstat") or "").splitlines())
for name in ("pgscan_kswapd", "pgscan_direct", "pgsteal_kswapd", "pgsteal_direct"):
    print(f"{name:16s}", vmstat.get(name, "n/a"))

# %% [markdown]
# ## After v5.0, and common misreadings
#
# * **5.8**: `pgscan_anon`/`pgscan_file` and `pgsteal_anon`/`pgsteal_file` appear beside the
#   kswapd/direct split. Later kernels also add `pgscan_khugepaged`.
# * **5.16**: `reclaim_throttle()` replaces `congestion_wait`/`wait_iff_congested`. The `PGDAT_*`
#   bits change meaning, and later some of them go away.
# * **5.18** ("mm/fs: delete PF_SWAPWRITE", with the removal of congestion tracking):
#   kswapd sets only `PF_MEMALLOC | PF_KSWAPD` (plus `PF_KTHREAD`).
# * Misreading: "kswapd never goes below min". Its own allocations may, through `PF_MEMALLOC`.
#   So may a direct reclaimer's allocations while it reclaims. The min watermark is the reserve
#   they draw on.
# * Misreading: "`pgscan_direct` means some process scanned by itself, so kswapd is too slow".
#   Usually true, but `pgscan_kswapd` counts *pages*, not runs. The matching count of direct
#   reclaim entries is `allocstall_*`.
# * mmsim note: as in v5.0, mmsim's direct reclaim and direct compaction hold `PF_MEMALLOC` only
#   while they run (`memalloc_noreclaim_save` / `_restore`). Nothing in the model allocates from
#   inside reclaim, so the flag changes no number in these runs.
