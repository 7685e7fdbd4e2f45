# %% [markdown]
# # 20 · `kcompactd_node_suitable`: is there a zone that compaction can help?
#
# **Kernel function:** [`kcompactd_node_suitable`, mm/compaction.c L1920–1938](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L1920)
# (Linux **v5.0**), with
# [`compaction_suitable` L1467–1503](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L1467),
# [`__compaction_suitable` L1424–1465](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L1424)
# and, in mm/vmstat.c,
# [`fragmentation_index` L1077–1083](https://elixir.bootlin.com/linux/v5.0/source/mm/vmstat.c#L1077),
# [`__fragmentation_index` L1053–1074](https://elixir.bootlin.com/linux/v5.0/source/mm/vmstat.c#L1053),
# [`fill_contig_page_info` L1019–1044](https://elixir.bootlin.com/linux/v5.0/source/mm/vmstat.c#L1019).
#
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/mmsim/mmsim/main?urlpath=lab/tree/notebooks/20-kcompactd_node_suitable.ipynb)
#
# Before `wakeup_kcompactd` wakes a sleeping kcompactd it asks this function whether a pass
# would find anything to do: is there a zone, up to the requested classzone, for which
# `compaction_suitable` answers **CONTINUE**? That answer comes in three steps — is the block
# already free (nothing to do), is there enough free memory to work with (else reclaim first),
# and, for costly orders, is the failure due to *fragmentation* rather than a lack of memory
# (the fragmentation index against `vm.extfrag_threshold`). Its only caller is
# `wakeup_kcompactd`; `kcompactd_do_work` and `compact_zone` ask `compaction_suitable` again.

# %%
# %matplotlib inline
from mmsim.lessons import show_source
from mmsim.panels import l20_kcompactd_node_suitable as lesson

# %% [markdown]
# ## Step by step
#
# **`kcompactd_node_suitable(pgdat)` (L1920–1938).** For every *populated* zone from 0 up to
# `pgdat->kcompactd_classzone_idx`: return true as soon as
# `compaction_suitable(zone, kcompactd_max_order, alloc_flags = 0, kcompactd_classzone_idx)`
# is `COMPACT_CONTINUE`. Otherwise false. Note the classzone passed: a lower zone is judged
# *with the classzone's* `lowmem_reserve`.
#
# **`__compaction_suitable` (L1424–1465)**, the watermark part:
# 1. `order == -1` (`/proc/sys/vm/compact_memory`) → CONTINUE.
# 2. With `alloc_flags` 0 the mark is the zone's **min** watermark (boost included in v5.0).
#    If `zone_watermark_ok(zone, order, min, classzone, 0)` passes — enough free pages *and* a
#    free block of at least `order` — → **SUCCESS**: nothing to compact.
# 3. (L1457–1459) The mark becomes `low` (order > 3) or `min` (order ≤ 3) plus
#    `compact_gap(order) = 2 << order`: room for the pages being moved and their copies.
#    If free pages do not exceed it (order-0 check, plus `lowmem_reserve[classzone]`) →
#    **SKIPPED**: reclaim first.
# 4. → CONTINUE.
#
# **`compaction_suitable` (L1467–1503)** adds, for `order > PAGE_ALLOC_COSTLY_ORDER` (3) only:
# `fragindex = fragmentation_index(zone, order)`; if `0 <= fragindex <= extfrag_threshold`
# (default 500, [L1734](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L1734))
# the result is `COMPACT_NOT_SUITABLE_ZONE` ([L1494](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L1494)),
# visible in the `mm_compaction_suitable` tracepoint and returned as **SKIPPED**.
#
# **The fragmentation index (mm/vmstat.c).** `fill_contig_page_info` counts, from the free
# lists of all migratetypes, the free pages, the free blocks, and the free blocks big enough for
# the order. Then `__fragmentation_index`: no free blocks → 0; a big enough block exists →
# **−1000**; otherwise `1000 − (1000 + free_pages·1000/2^order) / free_blocks` (integer
# division). Near 1000: plenty of free memory, all in pieces too small — fragmentation, so
# compaction helps. Near 0 (or ≤ 500): few, fairly large blocks — the zone simply lacks memory.

# %% [markdown]
# ## The mmsim twin

# %%
from mmsim.mm import compaction, vmstat

show_source(compaction.kcompactd_node_suitable)

# %%
show_source(compaction.compaction_suitable_verdict)

# %%
show_source(vmstat.__fragmentation_index)

# %% [markdown]
# ## Experiment 1: the index on known rows
#
# The golden cases of the v5.0 notes: a realistic row for order 9 and order 3, 152 free pages
# in 123 tiny blocks, a single order-8 block (the formula goes negative: only −1000 means "a
# block exists", and a negative value never vetoes), and the boundary case that the default
# threshold 500 vetoes (the test is inclusive).

# %%
# NBVAL_CHECK_OUTPUT
from mmsim.mm.vmstat import __fragmentation_index, fill_contig_page_info

rows = {"realistic": [1200, 800, 400, 150, 60, 20, 5, 1, 0, 0, 0],
        "tiny blocks": [100, 20, 3, 0, 0, 0, 0, 0, 0, 0, 0],
        "one order-8": [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0],
        "boundary": [1, 0, 0, 0, 0, 0, 0, 2, 16, 0, 0]}
for name, row in rows.items():
    for order in (3, 9):
        info = fill_contig_page_info(row, order)
        print(f"{name:12s} order {order}: free {info.free_pages:5d} in {info.free_blocks_total:4d}"
              f" blocks, suitable {info.free_blocks_suitable:3d} -> fragindex "
              f"{__fragmentation_index(order, info)}")

# %% [markdown]
# ## Experiment 2: one zone, eleven shapes
#
# The panel's node: DMA32 (16 MiB, 48 free pages) and Normal (64 MiB) with exactly 8 MiB free,
# all in blocks of one order. kcompactd wants order 9 for classzone Normal. Same amount of free
# memory every time — only its shape changes:

# %%
# NBVAL_CHECK_OUTPUT
print(lesson.sweep(order=9, free_mib=8).to_string())

# %% [markdown]
# Blocks of order 0–7: fragindex above 500, compaction can help. Order 8: 8 blocks, index 375 —
# "not enough memory", vetoed, although 8 MiB is free. Order 9 or 10: the block exists, so
# nothing to do. DMA32 never matters here: its 48 free pages are far below low + gap +
# lowmem_reserve. The default settings in full:

# %%
# NBVAL_CHECK_OUTPUT
print(lesson.text_for(lesson.evaluate()))

# %%
lesson.update()

# %% [markdown]
# ## Try it
#
# `order` and `classzone` are the merged request; `free blocks of order` and `Normal free`
# shape the zone; `min_free_kbytes` moves every watermark (watch the order-0 mark climb past the
# free pages); `extfrag_threshold` moves the veto line. Try: order ≤ 3 (the index is not
# consulted), `extfrag_threshold` 1000 (compaction is vetoed whenever a block is missing),
# classzone DMA32 (Normal is not looked at).

# %%
lesson.PANELS[0].widget()

# %% [markdown]
# ## Check yourself

# %%
from mmsim.exercises import quiz

q1, = quiz("fragmentation_index", seed=4)
q1

# %% hide
print(q1.reveal())

# %%
q2, = quiz("compaction_suitable", seed=7)
q2

# %% hide
print(q2.reveal())

# %%
q3, = quiz("compaction_suitable", seed=14)
q3

# %% hide
print(q3.reveal())

# %% [markdown]
# ## On your machine
#
# The kernel prints the same index for every order in `/sys/kernel/debug/extfrag/extfrag_index`
# (root, debugfs; −1.000 = a block exists; v5.0 prints a negative non-−1000 value oddly, e.g.
# `0.-500`). mmsim renders it too — here for the panel's default node — next to this host's
# files where readable:

# %%
print(lesson.shaped_node(7, 8).render("extfrag_index"))

# %%
from mmsim.panels.l21_compact_zone import host_report

print(host_report())

# %% [markdown]
# ## After v5.0, and common misreadings
#
# * **5.8** renamed `classzone_idx` to `highest_zoneidx` (`kcompactd_highest_zoneidx`).
# * **5.9** proactive compaction added a second, periodic reason to compact (a per-node
#   fragmentation *score*, `vm.compaction_proactiveness`); this suitability test still guards
#   the wake-up path.
# * **5.1** made the free scanner's own watermark check (`__isolate_free_page`) ignore the
#   fragmentation boost; `__compaction_suitable` keeps the boosted marks.
# * Misreading: "the fragmentation index measures how fragmented memory is." It measures
#   *why an allocation of this order would fail*: it is −1000 when it would not fail at all,
#   and it ignores how much memory is free (152 free pages can score 990).
# * Misreading: "`extfrag_threshold` is a trigger for compaction." It is a veto: at or below
#   it compaction is not tried for costly orders; above it compaction *may* run if someone
#   asks. Nothing runs just because the index is high.
# * Misreading: "kcompactd checks the zones with their own watermarks." Here, lower zones are
#   judged with the request's classzone `lowmem_reserve`; `kcompactd_do_work` later uses each
#   zone's own index (no reserve) — the two answers can differ.
