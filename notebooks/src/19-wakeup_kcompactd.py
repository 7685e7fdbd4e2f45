# %% [markdown]
# # 19 · `wakeup_kcompactd`: recording a request, and maybe waking kcompactd
#
# **Kernel function:** [`wakeup_kcompactd`, mm/compaction.c L2025–2049](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L2025)
# (Linux **v5.0**).
#
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/mmsim/mmsim/main?urlpath=lab/tree/notebooks/19-wakeup_kcompactd.ipynb)
#
# `wakeup_kcompactd(pgdat, order, classzone_idx)` is how the rest of the kernel asks a node's
# kcompactd for a free block of `order`. It *records* the request in two fields of the node —
# the **highest** order and the **lowest** classzone asked for since kcompactd's last pass — and
# wakes kcompactd only if it is asleep and a pass would find a zone to compact. In v5.0 it has
# three callers, all in mm/vmscan.c: `kswapd_try_to_sleep` before kswapd's short nap (for the
# order kswapd was woken for), the end of a `balance_pgdat` run that reclaimed for a watermark
# boost (for `pageblock_order` = 9), and `wakeup_kswapd` when kswapd is not needed but the
# caller cannot reclaim directly.

# %%
# %matplotlib inline
from mmsim.lessons import show_source
from mmsim.panels import l19_wakeup_kcompactd as lesson

# %% [markdown]
# ## Step by step
#
# 1. `order == 0` → return. Nothing is recorded: there is no compaction for order 0.
# 2. `kcompactd_max_order = max(kcompactd_max_order, order)`.
# 3. `kcompactd_classzone_idx = min(kcompactd_classzone_idx, classzone_idx)` — the **lowest**
#    classzone wins (kswapd keeps the highest). "No request" is `nr_zones − 1`, so a request
#    for a classzone above the highest populated zone (e.g. `Movable` from a
#    `GFP_HIGHUSER_MOVABLE` allocation) changes nothing.
# 4. Nobody sleeps on `kcompactd_wait` (`wq_has_sleeper`) → return. The request stays
#    recorded: a kcompactd that is busy finds it when its pass ends.
# 5. `kcompactd_node_suitable(pgdat)` is false (lesson 20) → return. The request stays
#    recorded, but the sleeping kcompactd is **not** woken and will not look at it until some
#    later call passes this test (or the thread is stopped/frozen).
# 6. Tracepoint `mm_compaction_wakeup_kcompactd` (nid, order, classzone — the *caller's*
#    values, [L2046](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L2046));
#    `wake_up_interruptible(&kcompactd_wait)`. kcompactd waits with `wait_event_freezable`,
#    whose entry removes itself from the queue on wake-up: until kcompactd runs, further calls
#    see no sleeper (step 4).
#
# Step 5 evaluates the *merged* request. Two consequences: a small request can ride on a
# pending large one, and a request for a low classzone can hide zones above it from every
# later request until the next pass.

# %% [markdown]
# ## The mmsim twin

# %%
from mmsim.mm import compaction

show_source(compaction.wakeup_kcompactd)

# %% [markdown]
# ## Experiment 1: the merge rule on its own
#
# Requests `(order, classzone)` on a node with DMA, DMA32 and Normal, starting from "no
# request" (order 0, classzone Normal = `nr_zones − 1`):

# %%
# NBVAL_CHECK_OUTPUT
zn = ("DMA", "DMA32", "Normal", "Movable")
for order, cz, max_order, merged in lesson.merge_table([(0, 1), (3, 2), (9, 3), (2, 1), (10, 2)]):
    print(f"wakeup_kcompactd(order {order:2d}, {zn[cz]:7s}) -> kcompactd_max_order {max_order:2d},"
          f" kcompactd_classzone_idx {zn[merged]}")

# %% [markdown]
# ## Experiment 2: real calls against a sleeping kcompactd
#
# The node: DMA32 (16 MiB) with one free order-9 block; Normal (64 MiB) filled with page cache
# and 8 MiB free in order-4 blocks. kcompactd and kswapd have started and sleep. A task calls
# `wakeup_kcompactd` four times at the same instant — order 0, order 2, order 9, order 7, all
# for classzone Normal — then kcompactd gets the CPU:

# %%
# NBVAL_CHECK_OUTPUT
r = lesson.run_sequence(["order 0, Normal", "order 2, Normal", "order 9, Normal",
                         "order 7, Normal"], gap_us=0)
print(lesson.text_for(r))

# %% [markdown]
# Order 0: ignored. Order 2: recorded, but Normal already has order-4 blocks — not suitable,
# kcompactd stays asleep. Order 9: suitable, tracepoint, wake. Order 7: kcompactd has left the
# queue, so it is only recorded, and the pass (order 9) covers it. The same requests 200 µs
# apart, with an order-10 request arriving while kcompactd is busy:

# %%
# NBVAL_CHECK_OUTPUT
r2 = lesson.run_sequence(["order 9, Normal", "order 7, Normal", "order 10, Normal", "none"],
                         gap_us=200)
print(lesson.text_for(r2))

# %% [markdown]
# The order-10 request survives the end of the first pass (`kcompactd_max_order` 10 > the
# pass's 9), so kcompactd goes round its loop — `mm_compaction_kcompactd_sleep` — and starts a
# second pass at once, without sleeping. (It finds nothing to do: Normal has too little free
# memory for order 10.) The order-7 request was absorbed: the pass was already for order 9.
#
# And the classzone trap: a request for DMA32 first, then one for Normal.

# %%
# NBVAL_CHECK_OUTPUT
r3 = lesson.run_sequence(["order 9, DMA32", "order 9, Normal", "none", "none"], gap_us=0)
print(lesson.text_for(r3))

# %% [markdown]
# DMA32 has its order-9 block, so the first request is not worth a wake-up. The second one
# would be — Normal needs compaction — but the merged classzone is now DMA32, so
# `kcompactd_node_suitable` looks at DMA32 only: kcompactd stays asleep with a request pending.

# %%
lesson.update()

# %% [markdown]
# ## Try it
#
# Four requests (order and classzone) and the time between them. A kcompactd pass here takes
# about 0.8 ms of simulated time: with a gap below that, later requests meet a busy kcompactd.

# %%
lesson.PANELS[0].widget()

# %% [markdown]
# ## Check yourself

# %%
from mmsim.exercises import quiz

q1, = quiz("wakeup_kcompactd", seed=3)
q1

# %% hide
print(q1.reveal())

# %%
q2, = quiz("wakeup_kcompactd", seed=1)
q2

# %% hide
print(q2.reveal())

# %%
q3, = quiz("wakeup_kswapd", seed=3)
q3

# %% hide
print(q3.reveal())

# %% [markdown]
# ## On your machine
#
# `compact_daemon_wake` counts kcompactd passes, not `wakeup_kcompactd` calls. To see the
# calls, as root: `echo 1 > /sys/kernel/tracing/events/compaction/mm_compaction_wakeup_kcompactd/enable`
# (and `mm_compaction_kcompactd_wake`), then read `/sys/kernel/tracing/trace_pipe`. On 5.8+ the
# field is printed as `highest_zoneidx`.

# %%
from mmsim.panels.l21_compact_zone import host_report

print(host_report(("vmstat",)))

# %% [markdown]
# ## After v5.0, and common misreadings
#
# * **5.8**: `kcompactd_classzone_idx` → `kcompactd_highest_zoneidx`, same rule (lowest wins).
# * **5.9**: kcompactd no longer depends only on these calls: it also wakes every 500 ms to
#   check the node's fragmentation score (proactive compaction).
# * Misreading: "kcompactd keeps the highest zone index, like kswapd." It keeps the
#   **lowest**: a pass covers zones 0 … classzone, and the lowest request is the one whose
#   zones all requesters can use.
# * Misreading: "every `wakeup_kcompactd` wakes kcompactd." Order 0 is ignored, a busy
#   kcompactd is not woken (it sees the request when its pass ends), and an unsuitable node is
#   left asleep — with the request recorded.
# * Misreading: "kcompactd polls every few hundred milliseconds." Not in v5.0: no timer; it
#   sleeps until one of the three callers wakes it.
