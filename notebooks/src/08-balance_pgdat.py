# %% [markdown]
# # 08 · `balance_pgdat()`: kswapd's reclaim run
#
# **Kernel functions:** [`balance_pgdat`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L3534)
# (`mm/vmscan.c` lines **3534–3738** of Linux **v5.0**) and its pass,
# [`kswapd_shrink_node`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L3486) (L3486–3519).
#
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/mmsim/mmsim/main?urlpath=lab/tree/notebooks/08-balance_pgdat.ipynb)
#
# `kswapd()` calls `balance_pgdat(pgdat, order, classzone_idx)` once per wake-up (lesson 06) and
# counts it as `pageoutrun`. It reclaims from the node's LRU lists in passes of rising
# aggressiveness — priority 12 scans 1/4096 of each list, priority 1 half of it — until one zone
# at or below `classzone_idx` is above its high watermark for `order`, or until a watermark
# *boost* has been paid back. It returns the order it finished at, which may be lower than the
# one it was asked for (lesson 24).

# %%
# %matplotlib inline
from mmsim.lessons import show_source
from mmsim.mm import vmscan
from mmsim.panels import l08_balance_pgdat as lesson

# %% [markdown]
# ## Step by step
#
# | v5.0 lines | what happens |
# |---|---|
# | 3544–3548 | `scan_control`: `gfp_mask = GFP_KERNEL`, `order`, `may_unmap = 1`, the rest 0 |
# | 3553 | count **`pageoutrun`** |
# | 3560–3569 | `nr_boost_reclaim` = sum of `watermark_boost` over zones ≤ classzone, each zone's boost remembered in `zone_boosts[]`; `boosted` = any. The boosts stay in the watermarks during the run |
# | 3571–3572 | **`restart:`** `sc.priority = DEF_PRIORITY` (12) |
# | 3573–3575 | each pass: note `sc.nr_reclaimed`; `raise_priority = true` |
# | 3579–3600 | `sc.reclaim_idx = classzone_idx` (all zones if buffer heads are over their limit) |
# | 3609 | `balanced = pgdat_balanced(pgdat, sc.order, classzone_idx)` (lesson 07) |
# | 3610–3613 | not balanced while boosting: forget the boost (`nr_boost_reclaim = 0`) and **goto restart** — ordinary reclaim |
# | 3620–3621 | no boost owed and balanced: **goto out** — done |
# | 3624–3625 | boosting at priority 10: `raise_priority = false` — boost reclaim never goes below 10 |
# | 3633–3635 | `may_writepage`, `may_swap`, `may_shrinkslab` = not boosting: boost reclaim neither writes, swaps nor shrinks slab |
# | 3643 | `age_active_anon()`: deactivate some anon pages if swap exists |
# | 3649–3650 | below priority 10: `may_writepage = 1` |
# | 3653–3657 | `sc.nr_scanned = 0`; memcg soft-limit reclaim |
# | 3664–3665 | **`kswapd_shrink_node()`**; if it scanned at least `nr_to_reclaim`, keep the priority |
# | 3672–3674 | wake direct reclaimers throttled on `pfmemalloc_wait` once `allow_direct_reclaim()` |
# | 3677–3681 | frozen or stopping: break |
# | 3687–3688 | pages reclaimed by this pass; subtract them from `nr_boost_reclaim` |
# | 3695–3696 | boosting and nothing reclaimed: break |
# | 3698–3700 | `priority--` if `raise_priority` or nothing was reclaimed; loop while priority ≥ 1 |
# | 3702–3703 | after the loop (not after `goto out`): nothing reclaimed in the whole run → `kswapd_failures++` |
# | 3705–3726 | **`out:`** if `boosted`: subtract the remembered boosts (L3717) and `wakeup_kcompactd(pgdat, pageblock_order, classzone_idx)` (L3725) |
# | 3728–3737 | `snapshot_refaults()`; return **`sc.order`** |
#
# **`kswapd_shrink_node(pgdat, sc)`**: `nr_to_reclaim` = Σ `max(high_wmark_pages, 32)` over the
# managed zones ≤ `reclaim_idx` (L3493–3500); `shrink_node()` (L3506); if `sc.order` > 0 and the
# run has reclaimed `compact_gap(order)` = 2<sup>order+1</sup> pages in total, `sc.order = 0`
# (L3515–3516); return `nr_scanned >= nr_to_reclaim` (L3518). With kswapd's large
# `nr_to_reclaim` that is rarely true, so most passes lower the priority. `kswapd_failures` goes
# back to 0 whenever any `shrink_node` — kswapd's or a direct reclaimer's — makes progress
# ([L2857](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L2857)).

# %% [markdown]
# ## The mmsim twin

# %%
show_source(vmscan.kswapd_shrink_node)

# %%
show_source(vmscan.balance_pgdat)

# %% [markdown]
# ## Experiment 1: `nr_to_reclaim` on a real 3.5 GiB box
#
# The zones of a recorded x86_64 machine (managed pages DMA 3840, DMA32 772808, Normal 131072;
# `min_free_kbytes` 67584). For a Normal classzone, each kswapd pass aims at the sum of the
# three high watermarks (golden case `kswapd_nr_to_reclaim_real_box`: 25338 pages, 99 MiB):

# %%
# NBVAL_CHECK_OUTPUT
from mmsim import Node, Sysctl

box = Node.build(zones={"DMA": 3840, "DMA32": 772808, "Normal": 131072},
                 sysctl=Sysctl(min_free_kbytes=67584))
print("high watermarks:", [z.high_wmark_pages for z in box.zones[:3]])
print("nr_to_reclaim, reclaim_idx Normal:", lesson.nr_to_reclaim(box, 2))
print("nr_to_reclaim, reclaim_idx DMA32 :", lesson.nr_to_reclaim(box, 1))

# %% [markdown]
# ## Experiment 2: one second of runs
#
# A 256 MiB node filled with page cache (`min_free_kbytes` 2048: DMA32 min/low/high
# 475/593/711). From t = 0.1 s a reader streams a file at 16 MiB/s and a kernel task allocates
# reclaimable slab at 8 MiB/s; its fallbacks into movable pageblocks boost the watermark. In the
# second run a task also asks every 0.15 s for one order-9 block (a THP fault with
# `defrag=defer`: it may wake kswapd, not reclaim).

# %%
# NBVAL_CHECK_OUTPUT
plain = lesson.balance_run(order=0)
thp = lesson.balance_run(order=9)
print("\n".join(lesson.summary(plain)))
print()
print("\n".join(lesson.summary(thp)))
print()
print(lesson.runs_table(thp).to_string())

# %% [markdown]
# * **Order-0 runs** climb 12 → 9: each pass scans `lru_size >> priority` pages of the inactive
#   file list (about 13, 26, 52, 104 here), far below `nr_to_reclaim` (765), so every pass
#   raises the priority, until DMA32 is above *high* at the top of the next pass.
# * **Boosted runs** (first run only) start with a boost of 512 pages (one pageblock) inside
#   DMA32's watermarks — and here also DMA's. The node is below the boosted *high*, so
#   L3610–3613 turn the run into ordinary reclaim up to the raised mark (about 400 pages instead
#   of 200). While it runs, the boost also sits in *min* (475 + 512): the reader and the slab
#   task fall below it and reclaim directly (`allocstall`) — on purpose, says the comment at
#   L3555–3558. At `out:` the boosts are removed and kcompactd is asked to compact for
#   `pageblock_order`; here `kcompactd_node_suitable()` says no, so it is not woken
#   (`compact_daemon_wake` stays 0).
# * **Order-9 runs** use a single pass at priority 12: with `sc.order` 9, `shrink_node` keeps
#   going (`should_continue_reclaim`, [L2619](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L2619))
#   until it has reclaimed `compact_gap(9)` = 1024 pages and compaction could run. Then
#   `kswapd_shrink_node` drops `sc.order` to 0, the node is balanced at order 0 and the run
#   returns **0** — the `goto kswapd_try_sleep` of lesson 06. Notice also that the order-9 run
#   has no boosted runs beside it: with free pageblocks around, the slab's fallbacks take a
#   whole pageblock, and such steals do not boost.

# %%
lesson.balance_figure(thp)

# %% [markdown]
# ## Try it
#
# `min_free_kbytes` moves all three watermarks and with them `nr_to_reclaim`; `order` is the
# order of the requests that wake kswapd (0 = none beyond the page cache and slab);
# `watermark_boost_factor` caps each zone's boost (0 turns boosting off). Each setting simulates
# one second on the 256 MiB node (0.05–0.12 s of CPU); results are cached by value.

# %%
lesson.PANELS[0].widget()

# %% [markdown]
# ## Check yourself

# %%
from mmsim.exercises import quiz

q1, = quiz("balance_pgdat", seed=2)
q1

# %% hide
print(q1.reveal())

# %%
q2, = quiz("balance_pgdat_priority", seed=1)
q2

# %% hide
print(q2.reveal())

# %% [markdown]
# ## On your machine
#
# `pageoutrun` counts `balance_pgdat` runs; `pgscan_kswapd`/`pgsteal_kswapd` are the pages its
# passes scanned and reclaimed (their ratio is kswapd's reclaim efficiency); `/proc/zoneinfo`
# shows each zone's `high` (boost included in v5.0) and `node_unreclaimable` (1 after 16 runs
# that reclaimed nothing). Not Linux: the cell says so.

# %%
from mmsim.panels.l06_kswapd import host_vmstat

c = host_vmstat(["pageoutrun", "pgscan_kswapd", "pgsteal_kswapd"])
if not c:
    print("no /proc/vmstat here (not Linux?)")
else:
    for name, value in c.items():
        print(f"{name:16s} {value}")
    if c.get("pgscan_kswapd"):
        print(f"kswapd efficiency: {100 * c['pgsteal_kswapd'] / c['pgscan_kswapd']:.1f} %")
        print(f"pages reclaimed per run: {c['pgsteal_kswapd'] / max(c['pageoutrun'], 1):.0f}")

# %% [markdown]
# ## After v5.0
#
# * **v5.3** — `may_shrinkslab` is removed: boost reclaim shrinks slab again.
# * **v5.8** — `classzone_idx` → `highest_zoneidx`; same loop.
# * **v6.1** — with multi-gen LRU enabled, `kswapd_shrink_node` → `shrink_node` ages generations
#   instead of scanning active/inactive lists; the priority loop and `compact_gap` drop stay.
#
# ## Common misreadings
#
# * *"kswapd reclaims until every zone is above high."* One eligible zone above *high* (plus its
#   `lowmem_reserve`) ends the run.
# * *"The priority drops every pass."* Only after a pass that scanned less than `nr_to_reclaim`
#   or reclaimed nothing; kswapd never uses priority 0.
# * *"`kswapd_failures` counts runs that did not balance the node."* It counts runs that reclaimed
#   **nothing at all**, and any progress resets it.
# * *"A boosted run reclaims the boost."* Only while the node is balanced; an unbalanced node turns
#   it into ordinary reclaim — and the boost is removed at the end either way.
# * *"Returning a lower order means the run failed."* It had reclaimed `compact_gap(order)` pages
#   (lesson 24).
