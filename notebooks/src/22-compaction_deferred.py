# %% [markdown]
# # 22 · `compaction_deferred`: backing off after failures, and what resets it
#
# **Kernel functions** (`mm/compaction.c`, Linux **v5.0**):
# [`compaction_deferred`, L157–174](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L157),
# [`defer_compaction`, L142–154](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L142),
# [`compaction_defer_reset`, L181–192](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L181),
# [`compaction_restarting`, L195–202](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L195).
#
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/mmsim/mmsim/main?urlpath=lab/tree/notebooks/22-compaction_deferred.ipynb)
#
# Compaction costs CPU time, and when it fails for a zone it will most likely fail again soon.
# So every zone keeps a small back-off state — `compact_considered`, `compact_defer_shift`
# and `compact_order_failed` — and after *k* failures in a row the next 2^k − 1 requests skip
# the zone. `compaction_deferred` is asked by both users of compaction: `kcompactd_do_work`
# (before each zone) and `try_to_compact_pages` (direct compaction, except at the highest
# priority). The state is per zone and **shared**: a failure in kcompactd delays direct
# compaction of that zone too, and the other way round.

# %%
# %matplotlib inline
from mmsim.lessons import show_source
from mmsim.panels import l22_compaction_deferred as lesson

# %% [markdown]
# ## Step by step
#
# All three fields start at **0** when a zone is set up — including `compact_order_failed`.
#
# **`defer_compaction(zone, order)` (L142–154)** — called after a run that failed
# (`COMPACT_COMPLETE` or `COMPACT_PARTIAL_SKIPPED`):
# `considered = 0`; `defer_shift` + 1, capped at `COMPACT_MAX_DEFER_SHIFT` = 6
# ([L135](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L135));
# `order_failed = min(order_failed, order)`; tracepoint `mm_compaction_defer_compaction`.
#
# **`compaction_deferred(zone, order)` (L157–174)** — "skip this zone now?":
# 1. `order < order_failed` → **false**: orders below the one that failed are never deferred.
# 2. `considered` + 1, but not above `limit = 1 << defer_shift`.
# 3. `considered >= limit` → **false**: this request runs.
# 4. Otherwise **true** (skip) and tracepoint `mm_compaction_deferred`.
#
# **`compaction_defer_reset(zone, order, alloc_success)` (L181–192)** — after a success:
# only if `alloc_success` are `considered` and `defer_shift` set to 0; in every case
# `order_failed` rises to `order + 1` when `order >= order_failed`. Tracepoint
# `mm_compaction_defer_reset`.
#
# **`compaction_restarting(zone, order)` (L195–202)** — true when the zone is at the maximum
# back-off (`defer_shift == 6` and `considered >= 64`) for an order ≥ `order_failed`.
# `compact_zone` then clears every skip bit of the zone before its "last chance" run.
#
# **Who calls the reset, and with what.** `kcompactd_do_work` calls
# `compaction_defer_reset(zone, order, false)` after `COMPACT_SUCCESS`
# ([L1988](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L1988)); so does
# `try_to_compact_pages`. Only the allocator, when a direct compaction really produced the
# page it then allocated (`__alloc_pages_direct_compact`), passes `alloc_success = true`.
# So a kcompactd success leaves the shift where it was.

# %% [markdown]
# ## The mmsim twin
#
# `mmsim/mm/compaction.py` keeps the same three fields on its `Zone` and the same order of
# tests:

# %%
from mmsim.mm import compaction

show_source(compaction.compaction_deferred)

# %%
show_source(compaction.defer_compaction)

# %% [markdown]
# ## Experiment 1: the golden sequence
#
# The known-answer case `defer_sequence_basic` of the v5.0 reference notes: one request, a
# failure, two requests, another failure, four requests — all for order 9 on a fresh zone.
# One failure skips one request; two failures skip three.

# %%
# NBVAL_CHECK_OUTPUT
print(lesson.run_events(lesson.GOLDEN_BASIC).to_string(index=False))

# %% [markdown]
# ## Experiment 2: what a success does to the next back-off
#
# Forty requests for order 9: three runs fail, the fourth run succeeds, and every run after
# it fails again. The only difference between the two tables is who succeeded — kcompactd
# (`alloc_success = false`) or a direct compaction whose allocation got the page
# (`alloc_success = true`). Rows are the requests that ran; the others were deferred.

# %%
# NBVAL_CHECK_OUTPUT
for outcome in lesson.OUTCOMES[1:]:
    df = lesson.attempts(failures=3, outcome=outcome, calls=40)
    ran = df[~df.deferred]
    print(f"--- then: {outcome} ({len(ran)} of 40 requests ran)")
    print(ran[["order", "defer_shift", "limit", "considered", "order_failed", "what"]]
          .to_string())

# %% [markdown]
# After the kcompactd success the shift is still 3, so the next failure makes it 4 and the
# zone is skipped for 15 requests; after a direct success it restarts from 1. Note also
# request 16: right after a success, `order_failed` = 10 lets an order-9 request through
# without touching `considered` at all.

# %%
lesson.update(failures=3, outcome=lesson.OUTCOMES[1], calls=60)

# %% [markdown]
# ## Try it
#
# How many failures come first, what the next run does, how many requests arrive, and the
# order of the requests after the success. Try an order below 9 after a kcompactd success
# (never deferred until it fails itself), and 6+ failures (the limit stays at 64).

# %%
lesson.PANELS[0].widget()

# %% [markdown]
# ## Check yourself
#
# Seeded questions; `q.check(answer)` checks, the collapsed cell below each one reveals it.

# %%
from mmsim.exercises import quiz

q1, = quiz("compaction_deferred", seed=3)
q1

# %% hide
print(q1.reveal())

# %%
q2, = quiz("defer_reset", seed=2)
q2

# %% hide
print(q2.reveal())

# %%
q3, = quiz("compaction_restarting", seed=1)
q3

# %% hide
print(q3.reveal())

# %% [markdown]
# ## On your machine
#
# The deferral fields are not exported in `/proc`; what you can see are the compaction
# counters, the free lists and — as root with debugfs — the fragmentation index. To watch
# deferral itself, enable the tracepoints (as root):
# `echo 1 > /sys/kernel/tracing/events/compaction/mm_compaction_deferred/enable` (and
# `mm_compaction_defer_compaction`, `mm_compaction_defer_reset`), then read
# `/sys/kernel/tracing/trace_pipe`.

# %%
from mmsim.panels.l21_compact_zone import host_report

print(host_report())

# %% [markdown]
# ## After v5.0, and common misreadings
#
# * **5.1** (Mel Gorman's "Increase success rates and reduce latency of compaction" series)
#   added page *capture*: the direct compactor takes the block it freed before anyone else
#   can, so direct compactions end with the allocation succeeding — the only path to a full
#   reset — more often; it did not change the back-off arithmetic shown here.
# * **5.8** renamed `classzone_idx` to `highest_zoneidx` around these calls; **5.9** added
#   proactive compaction, which runs outside this back-off.
# * Misreading: "a successful compaction resets the back-off." Only a direct compaction whose
#   allocation got the page does; kcompactd's success only raises `order_failed`, and the
#   next failure continues from the old shift.
# * Misreading: "`compact_order_failed` is −1 / MAX_ORDER until something fails." It starts at
#   0, so once `defer_shift` > 0 *every* order of that zone is subject to deferral.
# * Misreading: "after k failures compaction is skipped for 2^k *seconds*." The back-off
#   counts requests, not time: a quiet zone stays deferred until 2^k − 1 requests have passed.
