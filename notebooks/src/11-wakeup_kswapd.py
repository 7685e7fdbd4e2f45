# %% [markdown]
# # 11 · `wakeup_kswapd`: record the request, then maybe wake someone
#
# **Kernel function:** [`wakeup_kswapd`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L3937)
# in `mm/vmscan.c`, lines 3937–3973, with its helpers
# [`kswapd_classzone_idx`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L3747)
# (L3747–3754), [`pgdat_balanced`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L3402)
# (L3402–3432) and [`pgdat_watermark_boosted`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L3374)
# (L3374–3396) — Linux **v5.0**.
#
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/mmsim/mmsim/main?urlpath=lab/tree/notebooks/11-wakeup_kswapd.ipynb)
#
# `wakeup_kswapd(zone, gfp_flags, order, classzone_idx)` asks one node's kswapd to reclaim. Two
# paths call it. The allocator slow path goes through `wake_all_kswapds` (lesson 10): once per
# node on entry and again on every retry, with the allocation's gfp mask, order and highest
# usable zone. `rmqueue` calls it after a watermark boost (lesson 09) with `gfp_flags = 0`,
# order 0 and the zone's own index. The function always **records** the request. It then
# returns early at several points, and only in one case does it actually wake kswapd. In
# another case it wakes **kcompactd** instead. No counter is incremented. The only trace of the
# call is the tracepoint `mm_vmscan_wakeup_kswapd`, emitted when kswapd is really woken.

# %%
# %matplotlib inline
from mmsim.lessons import show_source
from mmsim.panels import l11_wakeup_kswapd as lesson

# %% [markdown]
# ## Step by step
#
# 1. **Zone not managed** (no pages handed to the buddy allocator) → return.
# 2. **Cpuset:** if the task's cpuset does not allow this zone for these gfp flags, return.
# 3. **Record the request** before looking at kswapd at all.
#    `kswapd_classzone_idx = kswapd_classzone_idx(pgdat, classzone_idx)` takes this classzone if
#    none is pending (`MAX_NR_ZONES` means "none"), and the larger of the two otherwise
#    (L3747–3754). `kswapd_order = max(kswapd_order, order)`. A request made while kswapd is busy
#    is therefore never lost. kswapd reads both fields when it next wakes (`kswapd()`,
#    L3893–3896) and resets them. If nothing was recorded, the classzone it reads is **0**.
# 4. **kswapd not on `kswapd_wait`** (it is running, or between two checks) → return.
# 5. **Not needed** (L3955–3957): `kswapd_failures >= MAX_RECLAIM_RETRIES` (16 runs in a row
#    that reclaimed nothing: a "hopeless" node), **or** the node is balanced for this order and
#    classzone (`pgdat_balanced`: *one* eligible zone above its high watermark) and no eligible
#    zone has a watermark boost. In that case, if the caller **cannot** reclaim directly (no
#    `__GFP_DIRECT_RECLAIM`: `GFP_ATOMIC`, `GFP_NOWAIT`, the boost hook), call
#    `wakeup_kcompactd(pgdat, order, classzone_idx)`. Free memory may be there but fragmented.
#    That call ignores order 0 and wakes kcompactd only if it sleeps and
#    `kcompactd_node_suitable` finds a zone to compact. Then return.
# 6. **Wake kswapd:** tracepoint `mm_vmscan_wakeup_kswapd` (nid, zid = classzone, order,
#    gfp_flags) at L3970, then `wake_up_interruptible(&pgdat->kswapd_wait)`.

# %% [markdown]
# ## The mmsim twin

# %%
from mmsim.mm import vmscan

show_source(vmscan.wakeup_kswapd)

# %% [markdown]
# ## Experiment 1: request merging (golden `kswapd_request_merging`)
#
# Four requests arrive while kswapd is busy, so none of them wakes anything. kswapd then reads
# the merged request and resets the fields. The expected numbers come from the v5.0 notes; the
# mmsim columns come from calling `wakeup_kswapd` and `kswapd_classzone_idx`:

# %%
# NBVAL_CHECK_OUTPUT
lesson.request_merging()

# %% [markdown]
# The last row is the v5.0 quirk of step 3. If kswapd is woken with nothing recorded (for
# example by `allow_direct_reclaim`, or after a failed nap), it balances for classzone 0 (DMA)
# only.
#
# ## Experiment 2: the early returns
#
# The node has DMA32 and Normal zones of 128 MiB each. It is put into each situation below, and
# `wakeup_kswapd` is called the way its callers call it. The node is "unbalanced" when every
# zone sits between its min and low watermarks:

# %%
# NBVAL_CHECK_OUTPUT
lesson.decision_table()

# %% [markdown]
# Read the rows against the steps:
# * A balanced node is left alone, **unless** a zone is boosted. That is why the boost hook's
#   `gfp_flags=none` call wakes kswapd even here.
# * `GFP_ATOMIC` order 3 on a balanced node goes to `wakeup_kcompactd`. kcompactd stays asleep
#   unless a zone really needs compaction (`compaction_suitable` = continue), as in the row where
#   Normal's free memory is in single pages.
# * On a hopeless node, kswapd is never woken from here. Only callers that cannot reclaim directly
#   reach kcompactd, and for order 0 even that is ignored.
#
# The path of the boost hook through the function:

# %%
lesson.update(gfp="none", balanced=True, boosted=True)

# %% [markdown]
# ## Try it
#
# Set the situation and the request. The flowchart lights up the path the engine took, and the
# text lists each decision with the numbers it used. Try order 3 with `GFP_ATOMIC` on a
# balanced node, with and without "free memory in single pages".

# %%
lesson.PANELS[0].widget()

# %% [markdown]
# ## Check yourself

# %%
from mmsim.exercises import quiz

q1, = quiz("wakeup_kswapd", seed=4)
q1

# %% hide
print(q1.reveal())

# %%
q2, = quiz("kswapd_request_merging", seed=3)
q2

# %% hide
print(q2.reveal())

# %% [markdown]
# ## On your machine
#
# You can see two of the inputs. `node_unreclaimable` in `/proc/zoneinfo` is 1 when
# `kswapd_failures >= 16`. The state of the `kswapd0` thread (S = sleeping, R = running) shows
# whether it sits on `kswapd_wait`. mmsim also rebuilds the node from `/proc` and asks its
# `pgdat_balanced` whether kswapd would be needed for an order-0 `GFP_KERNEL` request.

# %%
import os

from mmsim.lessons import read_host_file, your_machine
from mmsim.mm.vmscan import pgdat_balanced, pgdat_watermark_boosted

for line in (read_host_file("/proc/zoneinfo") or "").splitlines():
    if "node_unreclaimable" in line:
        print("node_unreclaimable:", line.split()[-1])
for pid in (os.listdir("/proc") if os.path.isdir("/proc") else []):
    comm = read_host_file(f"/proc/{pid}/comm") if pid.isdigit() else None
    if comm and comm.startswith("kswapd"):
        stat = read_host_file(f"/proc/{pid}/stat") or ""
        print(comm.strip(), "state", stat.rsplit(")", 1)[-1].split()[0] if stat else "?")
node, where = your_machine()
print("from", where)
print("pgdat_balanced(order 0, classzone Normal):", pgdat_balanced(node, 0, 2),
      "| boosted:", pgdat_watermark_boosted(node, 2))

# %% [markdown]
# ## After v5.0, and common misreadings
#
# * **5.2**: the `mm_vmscan_wakeup_kswapd` and `mm_vmscan_kswapd_wake` tracepoints lose `zid`.
# * **By 5.7**: when kswapd finds nothing recorded, it reuses its previous classzone instead of 0.
# * **5.8**: `classzone_idx` becomes `highest_zoneidx` (`kswapd_highest_zoneidx`, with
#   `READ_ONCE`/`WRITE_ONCE`). The logic is the same.
# * **6.5**: `rmqueue` wakes kswapd after a boost only if the allocation itself has
#   `__GFP_KSWAPD_RECLAIM` ("don't wake kswapd from rmqueue() unless __GFP_KSWAPD_RECLAIM is
#   specified").
# * Misreading: "`wakeup_kswapd` wakes kswapd". Often it only records the request: kswapd is
#   already running, or not needed, or the node is hopeless.
# * Misreading: "kswapd is woken when *all* zones are below low". It is woken unless one eligible
#   zone is above its **high** watermark (plus `lowmem_reserve`), or a boost is pending.
# * Misreading: "the allocator wakes kswapd and kcompactd". From here, kcompactd is woken only for
#   callers that cannot reclaim directly, and only when kswapd is not needed.
