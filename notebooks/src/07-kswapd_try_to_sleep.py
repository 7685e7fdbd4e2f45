# %% [markdown]
# # 07 · `kswapd_try_to_sleep()`: the HZ/10 nap, the full sleep and the two hit-quickly counters
#
# **Kernel functions:** [`kswapd_try_to_sleep`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L3756)
# (`mm/vmscan.c` lines **3756–3834** of Linux **v5.0**), with its helpers
# [`prepare_kswapd_sleep`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L3448)
# (L3448–3476) and [`pgdat_balanced`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L3402)
# (L3402–3432).
#
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/mmsim/mmsim/main?urlpath=lab/tree/notebooks/07-kswapd_try_to_sleep.ipynb)
#
# Only `kswapd()` calls it (lesson 06): at the top of every loop turn and after the
# `goto kswapd_try_sleep`. It decides whether kswapd may stop reclaiming. If the node is balanced
# it hands high-order work to kcompactd, naps for `HZ/10` (100 ms), and — if nobody woke it and
# the node is *still* balanced — goes to sleep until the next `wakeup_kswapd`. Otherwise it
# returns at once and kswapd reclaims again. Each attempt that does not end in a full sleep is
# counted in `/proc/vmstat`: `kswapd_low_wmark_hit_quickly` or `kswapd_high_wmark_hit_quickly`.

# %%
# %matplotlib inline
from mmsim.lessons import show_source
from mmsim.mm import vmscan
from mmsim.panels import l07_kswapd_try_to_sleep as lesson

# %% [markdown]
# ## Step by step
#
# **`kswapd_try_to_sleep(pgdat, alloc_order, reclaim_order, classzone_idx)`**
#
# | v5.0 lines | what happens |
# |---|---|
# | 3762–3763 | freezing or being stopped → return at once |
# | 3765 | `prepare_to_wait(&pgdat->kswapd_wait, TASK_INTERRUPTIBLE)`: from here `wakeup_kswapd` sees kswapd on its wait queue and can wake it |
# | 3774 | **first check**: `prepare_kswapd_sleep(pgdat, reclaim_order, classzone_idx)` |
# | 3781 | if it passed: `reset_isolation_suitable(pgdat)` — clear compaction skip bits in zones whose `compact_blockskip_flush` is set |
# | 3787 | `wakeup_kcompactd(pgdat, alloc_order, classzone_idx)` — the hand-over; nothing for order 0 |
# | 3789 | `remaining = schedule_timeout(HZ/10)`: nap up to 100 ms (25 jiffies at HZ=250); `remaining > 0` means a wake-up cut it short |
# | 3796–3799 | cut short: write the classzone back (merged) and raise `pgdat->kswapd_order` to at least `reclaim_order`, so the interrupted request is not lost |
# | 3801–3802 | `finish_wait`, then `prepare_to_wait` again |
# | 3809–3810 | **second check**, only if the nap was *not* cut short: `prepare_kswapd_sleep(...)` again |
# | 3811 | passed: tracepoint **`mm_vmscan_kswapd_sleep`** |
# | 3821 | `set_pgdat_percpu_threshold(pgdat, calculate_normal_threshold)`: larger per-cpu vmstat drift while idle |
# | 3823–3824 | `schedule()` — sleep with no timeout until `wakeup_kswapd` (or `allow_direct_reclaim`) wakes it |
# | 3826 | on wake: back to the small `calculate_pressure_threshold` |
# | 3827–3831 | otherwise count exactly one: nap cut short → **`KSWAPD_LOW_WMARK_HIT_QUICKLY`** (L3829); not balanced, before or after the nap → **`KSWAPD_HIGH_WMARK_HIT_QUICKLY`** (L3831) |
# | 3833 | `finish_wait` |
#
# **`prepare_kswapd_sleep(pgdat, order, classzone_idx)`** (L3448–3476): wake every task throttled
# on `pfmemalloc_wait` (L3463–3464; a sleeping kswapd must not leave them behind); a *hopeless*
# node (`kswapd_failures >= MAX_RECLAIM_RETRIES`, 16 runs that reclaimed nothing) may always
# sleep (L3467–3468); otherwise sleep only if `pgdat_balanced`, and then clear the node's
# `PGDAT_CONGESTED`/`DIRTY`/`WRITEBACK` flags (L3470–3473).
#
# **`pgdat_balanced(pgdat, order, classzone_idx)`** (L3402–3432): walk zones 0 … `classzone_idx`
# bottom-up, skipping unmanaged ones; for each, `mark = high_wmark_pages(zone)` (which includes
# any watermark boost, L3418) and `zone_watermark_ok_safe(zone, order, mark, classzone_idx)`
# (L3419: exact free count, `lowmem_reserve[classzone_idx]` added, a free block of `order`
# needed). The **first** zone that passes makes the node balanced. No managed zone at all also
# counts as balanced (L3428–3429).
#
# Two consequences worth remembering: the *check* uses `reclaim_order` while kcompactd is woken
# for `alloc_order`; and when the first check fails there is no nap, no skip-bit reset and no
# kcompactd wake-up.

# %% [markdown]
# ## The mmsim twin

# %%
show_source(vmscan.kswapd_try_to_sleep)

# %% [markdown]
# ## Experiment 1: every path through the function
#
# `lesson.decision_table()` runs mmsim's `kswapd_try_to_sleep` six times, once for each reachable
# combination of the two checks and the nap, with the answers of `prepare_kswapd_sleep` forced
# and `reset_isolation_suitable`/`wakeup_kcompactd` replaced by recorders. Case 2 (first check
# fails, second passes) needs memory to be freed between two lines of code — rare, but possible
# in the kernel. Case 6 shows that a cut-short nap skips the second check entirely.

# %%
# NBVAL_CHECK_OUTPUT
print(lesson.decision_table().to_string())

# %% [markdown]
# ## Experiment 2: naps, sleeps and wake-ups over one second
#
# A 256 MiB node (`min_free_kbytes` 4096: DMA32 low 1187, high 1424 pages) filled with page cache
# to just above *low*; from t = 0.1 s a reader streams a file. kswapd's life is rebuilt from the
# trace and the time-stamped counters (`kswapd_states`). Three reader speeds:

# %%
# NBVAL_CHECK_OUTPUT
import pandas as pd

runs = {f"{r} MiB/s": lesson.sleep_run(rate_mib=r) for r in (2, 8, 32)}
print(pd.DataFrame({k: lesson.sleep_summary(v) for k, v in runs.items()}).to_string())

# %% [markdown]
# * **2 MiB/s** — the reader needs about 460 ms to eat the 237-page gap between *high* and *low*:
#   the nap after a run completes with free pages still above *high*, and kswapd sleeps until the
#   reader reaches *low* again (0.65 s of the second asleep).
# * **8 MiB/s** — about 116 ms: most naps end with the node between *low* and *high*
#   (`high_wmark_hit_quickly`). The next turn reads classzone 0 (lesson 06) and naps against
#   ZONE_DMA only; that nap is either cut short by the reader (`low_wmark_hit_quickly`) or, DMA
#   being balanced, ends in a **full sleep with DMA32 still below its high watermark** — a v5.0
#   quirk.
# * **32 MiB/s** — 29 ms: the reader cuts every nap short.
#
# (The one `high_wmark_hit_quickly` of the 2 and 32 MiB/s columns is kswapd's first nap, at boot,
# which ended after the page cache had been filled.)
#
# The middle case as a timeline:

# %%
lesson.sleep_figure(runs["8 MiB/s"])

# %% [markdown]
# ## Try it
#
# Reader rate and `min_free_kbytes`. Each setting simulates one second on the 256 MiB node
# (0.02–0.2 s of CPU); results are cached by value. The first line under the figure says how long
# the reader needs to eat the gap between *high* and *low* — compare it with the 100 ms nap.

# %%
lesson.PANELS[0].widget()

# %% [markdown]
# ## Check yourself

# %%
from mmsim.exercises import quiz

q1, = quiz("kswapd_try_to_sleep", seed=5)
q1

# %% hide
print(q1.reveal())

# %%
q2, = quiz("prepare_kswapd_sleep", seed=7)
q2

# %% hide
print(q2.reveal())

# %% [markdown]
# ## On your machine
#
# The two counters since boot, next to `pageoutrun` (one per `balance_pgdat` run). Many
# `low_wmark_hit_quickly` per run means naps are being cut short — allocations outpace the gap
# between *low* and *high*, which `vm.watermark_scale_factor` widens. (Not Linux: the cell says
# so.)

# %%
from mmsim.panels.l06_kswapd import host_vmstat

c = host_vmstat(["pageoutrun", "kswapd_low_wmark_hit_quickly", "kswapd_high_wmark_hit_quickly"])
if not c:
    print("no /proc/vmstat here (not Linux?)")
else:
    for name, value in c.items():
        print(f"{name:32s} {value}")
    if c.get("pageoutrun"):
        print(f"low/high hit quickly per balance_pgdat run: "
              f"{c['kswapd_low_wmark_hit_quickly'] / c['pageoutrun']:.2f} / "
              f"{c['kswapd_high_wmark_hit_quickly'] / c['pageoutrun']:.2f}")

# %% [markdown]
# ## After v5.0
#
# * **by v5.7** — kswapd re-reads the previous classzone after a sleep attempt instead of 0, so the
#   "nap against ZONE_DMA only" after `high_wmark_hit_quickly` seen above is gone.
# * **v5.8** — `classzone_idx` → `highest_zoneidx`; the function's logic is unchanged.
# * **6.x** — same two checks, same `HZ/10` nap, same counters.
#
# ## Common misreadings
#
# * *"`kswapd_low_wmark_hit_quickly` means the low watermark was reached quickly after kswapd
#   slept."* It counts **naps cut short by a wake-up** — usually, but not necessarily, an
#   allocation below *low*. *"`kswapd_high_wmark_hit_quickly`"* counts attempts where the node was
#   **not balanced at the high watermark**, either at once (no nap at all) or right after the nap.
#   Neither counter says a watermark was "reached".
# * *"kswapd sleeps when every zone is above high."* One eligible zone (≤ `classzone_idx`) above
#   *high* plus its `lowmem_reserve`, with a free block of the order, is enough.
# * *"kcompactd is woken whenever kswapd finishes."* Only if the first check passes, and only for
#   an order above 0.
