# %% [markdown]
# # 27 · A real kernel beside the simulation
#
# **Data:** one recorded run of an unmodified Debian **Linux 6.1** kernel
# (`linux-image-6.1.0-56-amd64`) in a 512 MiB QEMU guest with 2 vCPUs and no swap, streaming a
# file through the page cache while ftrace recorded every kswapd, kcompactd and direct-reclaim
# event and `/proc/vmstat` and the zones' watermarks were sampled every 100 ms. It is bundled in
# `mmsim/data/real-6.1-filecache` (see its README and CREDIT). **Kernel functions:** the whole
# reclaim loop — [`wakeup_kswapd`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L3937),
# [`balance_pgdat`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L3534),
# [`kswapd_try_to_sleep`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L3756),
# [`pgdat_balanced`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L3402) — as
# v5.0 writes them.
#
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/mmsim/mmsim/main?urlpath=lab/tree/notebooks/27-real-kernel.ipynb)
#
# The first question anyone asks of a simulator is "does a real kernel do that?". This lesson
# answers it with data: it rebuilds the recorded guest in mmsim from its boot-time
# `/proc/zoneinfo` (watermarks recomputed from its sysctls, not copied), replays the same three
# phases with the same amounts and timings, and puts the two side by side — the watermark
# timelines and the statistics a kernel developer would ask for.

# %%
import pandas as pd

from mmsim.lessons import show_source
from mmsim.panels import l27_real_kernel as lesson

pd.set_option("display.width", 120)

# %% [markdown]
# ## Step by step: what was run, and how mmsim replays it
#
# 1. **The machine.** The guest's `/proc/zoneinfo` at boot gives the zones' spanned, present
#    and managed pages: DMA 3840 managed pages, DMA32 112691. `mmsim.procfs.node_from_proc`
#    rebuilds them and boots them as v5.0 would, then writes the guest's sysctls
#    (`min_free_kbytes` 2701 — the square-root default: with less than 512 MiB of RAM THP
#    switches itself off, so there is no THP raise).
# 2. **The workload**, from the recording's markers (times from `workload-begin`):

# %%
# NBVAL_CHECK_OUTPUT
lesson.phase_table()

# %% [markdown]
# 3. **The CPU.** QEMU emulated the guest's CPU (no hardware virtualisation): kswapd spent about
#    14 µs of wall time per page it reclaimed. mmsim's cost model describes a modern core
#    (0.45 µs to scan and free a clean page-cache page), so the replay multiplies every CPU cost
#    by `mmsim.realrun.EMULATED_CPU_FACTOR` (32) to run at the guest's speed. The factor is
#    set from the whole recording (14.4 µs per page); the table below checks it phase by
#    phase ("kswapd time per page reclaimed"): the two page-cache phases agree within 10 %,
#    the mixed phase does not, because its slab shrinking is charged a cost with no published
#    source (`CostModel.slab_object_ns`), multiplied by 32 as well.
#
# Here is the replay's set-up code:

# %%
from mmsim import realrun

show_source(realrun.build_replay)

# %% [markdown]
# ## Experiment: the statistics, real and replayed
#
# Running the 76 s replay takes about a second; it is computed once and cached for the panel
# below. `ratio` is mmsim / real.

# %%
# NBVAL_CHECK_OUTPUT
lesson.statistics_table()

# %% [markdown]
# One 1.5 s window of the burst phase, real above and replayed below (kswapd's
# `balance_pgdat` runs shaded, its wake-ups marked):

# %%
lesson.side_by_side("burst")

# %% [markdown]
# ## What agrees, and why
#
# * **Where kswapd stops.** A run ends at the first `pgdat_balanced` check that passes, a little
#   above **high**: pages reclaimed per run and `free − high` at the end agree closely, because
#   both follow from `nr_to_reclaim` (the sum of the high watermarks), `SWAP_CLUSTER_MAX`
#   batches and the priority ladder.
# * **The DMA zone ends a fifth of the runs.** `pgdat_balanced` accepts *any* eligible zone,
#   checked from the bottom; the 16 MiB DMA zone (high 32 + protection 440) is often above its
#   mark while DMA32 is still near low, so kswapd stops early and is woken again within
#   milliseconds. Both kernels show about 20 % of such runs.
# * **Naps cut short.** Reading refills the low–high gap (163 pages) in less than HZ/10, so
#   nine naps in ten end with `kswapd_low_wmark_hit_quickly`.
# * **Boosts of exactly one pageblock** in the mixed phase, when dentry allocations steal
#   pageblocks; and far more `wakeup_kcompactd` calls than kcompactd wake-ups, because order-9
#   compaction needs free ≥ low + 1024 pages, which this small guest almost never has.
#
# ## What differs, and why
#
# * **`free − low` at the wake-up call**: the real kernel is ~36 pages *below* low when
#   `wakeup_kswapd` runs, mmsim exactly at it. The kernel's allocations come through per-cpu
#   lists refilled `batch` pages at a time, so the zone counter steps past the watermark;
#   mmsim's batched allocation path stops exactly where the check would first fail.
# * **Direct reclaim in the paced phase**: the emulated CPU made the real kswapd (and the other
#   tasks) slow and bursty; mmsim's costs are smooth averages, so a 24 MiB/s reader never
#   outruns it. In the burst phase both fall into direct reclaim.
# * **6.1 is not 5.0**: its tracepoints lack `zid`, it names `classzone_idx` `highest_zoneidx`
#   (the parser maps it), the 5.1 compaction rework and the later `ALLOC_NOFRAGMENT` fix
#   change where pageblocks get stolen (fewer boosting fallbacks in mmsim), and proactive
#   compaction had to be switched off to match 5.0.
# * **mmsim simplifies**: no per-cpu lists on the batched path, constant costs per page,
#   memory in use at boot laid out as unreclaimable pages, no flusher threads.

# %% [markdown]
# ## Try it
#
# Pick a phase and slide the 1.5 s window through it.

# %%
lesson.PANELS[0].widget()

# %% [markdown]
# ## Check yourself

# %%
from mmsim.exercises import quiz

q1, = quiz("kswapd_try_to_sleep", seed=27)
q1

# %% hide
print(q1.reveal())

# %%
q2, = quiz("balance_pgdat", seed=270)
q2

# %% hide
print(q2.reveal())

# %% [markdown]
# ## On your machine
#
# Record your own kernel with `trace-cmd record -e vmscan -e compaction` (or by enabling the
# events under `/sys/kernel/tracing/events/`) and read the text with
# `mmsim.trace.read_ftrace(path)`: you get the same table as a simulation's `Result.trace`, and
# the standard plots draw it. The counters this lesson compares are in your `/proc/vmstat`:

# %%
from mmsim.lessons import read_host_file

text = read_host_file("/proc/vmstat")
if text is None:
    print("no /proc/vmstat here (not Linux?)")
else:
    wanted = ("pageoutrun", "kswapd_low_wmark_hit_quickly", "kswapd_high_wmark_hit_quickly",
              "pgsteal_kswapd", "pgsteal_direct", "compact_daemon_wake")
    for line in text.splitlines():
        if line.split()[0] in wanted:
            print(line)

# %% [markdown]
# ## After v5.0
#
# * 5.2 dropped `zid` from the kswapd tracepoints; 5.8 renamed `classzone_idx` to
#   `highest_zoneidx` (the trace text of 6.1 shows the new name).
# * 5.7 reads the classzone from the previous value instead of 0 after an empty wake-up.
# * 6.1's multi-gen LRU (off in this recording) would replace the active/inactive lists that
#   both runs here use.
