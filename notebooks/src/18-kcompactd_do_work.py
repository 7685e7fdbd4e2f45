# %% [markdown]
# # 18 · `kcompactd_do_work`: one pass of kcompactd over a node's zones
#
# **Kernel function:** [`kcompactd_do_work`, mm/compaction.c L1940–2023](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L1940)
# (Linux **v5.0**).
#
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/mmsim/mmsim/main?urlpath=lab/tree/notebooks/18-kcompactd_do_work.ipynb)
#
# Each time kcompactd wakes up it calls `kcompactd_do_work` once. The pass takes the merged
# request — the highest order and the lowest classzone asked for since the last pass — and
# walks the zones from 0 up to that classzone. A zone is compacted only if it is populated,
# not in back-off (`compaction_deferred`) and `compaction_suitable` says CONTINUE; a success
# raises the zone's `compact_order_failed`, a failure drains the per-cpu lists and backs off.
# Its only caller is the `kcompactd` thread (lesson 17).

# %%
# %matplotlib inline
from mmsim.lessons import show_source
from mmsim.panels import l18_kcompactd_do_work as lesson

# %% [markdown]
# ## Step by step
#
# The `compact_control` of the pass: `order = kcompactd_max_order`,
# `classzone_idx = kcompactd_classzone_idx`, `mode = MIGRATE_SYNC_LIGHT`,
# `gfp_mask = GFP_KERNEL` (so the compaction migratetype is **Unmovable**), `alloc_flags = 0`,
# not `direct_compaction`, skip hints honoured.
#
# 1. Tracepoint `mm_compaction_kcompactd_wake` ([L1957](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L1957))
#    and **`compact_daemon_wake`** + 1 ([L1959](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L1959)) —
#    once per pass, whatever happens next.
# 2. For `zoneid` = 0 … `cc.classzone_idx`, skipping unpopulated zones:
#    1. `compaction_deferred(zone, order)` → skip (this *counts* the request, lesson 22).
#    2. `compaction_suitable(zone, order, 0, zoneid)` ≠ CONTINUE → skip. The classzone passed
#       is the zone's **own** index (no `lowmem_reserve`); `compact_zone` repeats the test with
#       the request's classzone.
#    3. Reset the per-zone counters in `cc`, point it at the zone; stop if the thread should stop.
#    4. `status = compact_zone(zone, &cc)` (lesson 21).
#    5. `COMPACT_SUCCESS` → `compaction_defer_reset(zone, order, false)`
#       ([L1988](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L1988)): only
#       `order_failed` rises; the back-off shift stays.
#       `COMPACT_PARTIAL_SKIPPED` or `COMPACT_COMPLETE` → `drain_all_pages(zone)`
#       ([L1996](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L1996)), so pages
#       parked on per-cpu lists can merge, then `defer_compaction(zone, order)`
#       ([L2002](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L2002)).
#       Anything else (CONTENDED, SKIPPED from the inner check): nothing.
#    6. **`compact_daemon_migrate_scanned`** and **`compact_daemon_free_scanned`** += the pass's
#       scanner counts ([L2005/2007](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L2005));
#       `compact_zone` already added them to `compact_migrate_scanned`/`compact_free_scanned`.
# 3. After the loop ([L2019–2022](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L2019)):
#    clear the request only if nothing bigger arrived meanwhile — `kcompactd_max_order = 0` if
#    it is still ≤ `cc.order`, `kcompactd_classzone_idx = nr_zones − 1` if it is still ≥
#    `cc.classzone_idx`. A larger request that came in during the pass survives and causes
#    another pass at once.
#
# No `compact_stall`/`compact_success`/`compact_fail` here: those count direct compaction.

# %% [markdown]
# ## The mmsim twin

# %%
from mmsim.mm import compaction

show_source(compaction.kcompactd_do_work)

# %% [markdown]
# ## Experiment: kcompactd in a running system
#
# The `kcompactd-after-kswapd` scenario on a 128 MiB machine (zones DMA and DMA32): a reader
# streams a file through the page cache, keeping kswapd busy, and from 0.5 s a task asks twice
# every 0.25 s for order-9 pages with `GFP_TRANSHUGE_LIGHT | __GFP_KSWAPD_RECLAIM` (a THP fault
# with `defrag=defer`: it may wake kswapd but not reclaim or compact itself). kswapd reclaims,
# then hands the order-9 request to kcompactd before its nap. kcompactd's part of the trace:

# %%
# NBVAL_CHECK_OUTPUT
res = lesson.scenario_run(seconds=1.8)
print("\n".join(lesson.kcompactd_log(res)))

# %% [markdown]
# Read it pass by pass. The requests at 0.5, 0.75 and 1.25 s wake no pass: kswapd's reclaim had
# left a free order-9 block in DMA32, so `compaction_suitable` said SUCCESS and
# `wakeup_kcompactd` did not wake the thread. kswapd asks for classzone `Movable` (the highest
# zone a `GFP_HIGHUSER_MOVABLE` request may use), but the passes run for `DMA32`: with no
# request pending the field holds `nr_zones − 1` = DMA32, and `wakeup_kcompactd` keeps the
# *lower* value. DMA is skipped (too little free memory). DMA32 is checked twice — once by the
# loop, once inside `compact_zone`. The pass at 1.0 s runs until the two scanners meet without
# building an order-9 block (`complete`): drain and `defer_compaction` (shift 1, limit 2;
# `order_failed` stays 0, as no success has raised it yet). The pass at 1.5 s counts a wake-up
# but `compaction_deferred` skips DMA32 (considered 1 of 2). At 1.75 s the zone is tried again,
# the pass ends `complete` after 52 µs, and the back-off doubles (limit 4).

# %%
# NBVAL_CHECK_OUTPUT
print(res.counters(["compact_daemon_wake", "compact_daemon_migrate_scanned",
                    "compact_daemon_free_scanned", "compact_migrate_scanned",
                    "compact_free_scanned", "compact_stall"]).astype(int).to_string())

# %%
lesson.passes_figure(res)

# %% [markdown]
# ## Experiment: one pass, zone by zone
#
# The panel's machine: DMA 16 MiB, DMA32 16 MiB, Normal 32 MiB, filled with page cache and
# pinned kernel pages, 40 % of the cache punched out. We set the request (order 9, classzone
# Normal) and wake kcompactd's wait queue; the real thread runs one pass. Here DMA32 had one
# earlier failure (`defer_compaction` once):

# %%
# NBVAL_CHECK_OUTPUT
r = lesson.one_pass(order=9, extfrag_threshold=500, deferred_zone="DMA32", classzone="Normal")
print(lesson.text_for(r))

# %%
lesson.show(r)

# %% [markdown]
# ## Try it
#
# `order` and `classzone` are the request; `extfrag_threshold` decides whether a zone whose
# fragindex is high enough is compacted; `zone that failed once before` puts one zone in
# back-off. Orders ≤ 8 find a free block already (SUCCESS from `compaction_suitable`: nothing
# to do); order 10 is too big for the 16 MiB zones' free memory (SKIPPED); the fragindex here is
# ~997, so only a threshold ≥ 997 vetoes.

# %%
lesson.PANELS[0].widget()

# %% [markdown]
# ## Check yourself

# %%
from mmsim.exercises import quiz

q1, = quiz("kcompactd_do_work", seed=1)
q1

# %% hide
print(q1.reveal())

# %%
q2, = quiz("kcompactd_do_work", seed=0)
q2

# %% hide
print(q2.reveal())

# %% [markdown]
# ## On your machine
#
# `compact_daemon_wake` counts kcompactd passes; `compact_daemon_migrate_scanned` /
# `compact_daemon_free_scanned` its scanning. Subtract them from `compact_migrate_scanned` /
# `compact_free_scanned` to get what direct compaction (and `compact_memory`) scanned.

# %%
from mmsim.panels.l21_compact_zone import host_report

print(host_report(("vmstat", "buddyinfo")))

# %% [markdown]
# ## After v5.0, and common misreadings
#
# * **5.1**: the compaction rework makes each pass cheaper (fast free-page and migrate-block
#   searches) and changes skip-bit handling; the per-zone loop stays.
# * **5.8**: `kcompactd_classzone_idx` → `kcompactd_highest_zoneidx`.
# * **5.9**: kcompactd also runs *proactive* compaction (`proactive_compact_node`) when its
#   500 ms timeout expires and the node's fragmentation score is above the
#   `vm.compaction_proactiveness` target — a different path from this request-driven pass.
# * Misreading: "`compact_daemon_wake` counts zones compacted." It counts passes: a pass that
#   skips every zone still counts one.
# * Misreading: "a kcompactd success resets the back-off." It calls
#   `compaction_defer_reset(…, false)`: `defer_shift` stays (lesson 22).
# * Misreading: "kcompactd compacts until the zone is above its high watermark." It stops at
#   the first suitable free block of the requested order, zone by zone; there is no watermark
#   target.
