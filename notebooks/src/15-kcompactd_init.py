# %% [markdown]
# # 15 · `kcompactd_init`: one kcompactd per node with memory, started before kswapd
#
# **Kernel function:** [`kcompactd_init`, mm/compaction.c L2143–2159](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L2143),
# registered by `subsys_initcall(kcompactd_init)` at
# [L2160](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L2160) (Linux **v5.0**).
#
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/mmsim/mmsim/main?urlpath=lab/tree/notebooks/15-kcompactd_init.ipynb)
#
# At boot, `kcompactd_init` registers a CPU-hotplug callback and starts one compaction daemon,
# `kcompactd<nid>`, for every NUMA node that has memory. Nobody calls it directly: the kernel's
# `do_initcalls()` runs it at the *subsys* level (4), after the watermarks exist
# (`init_per_zone_wmark_min`, core level 1) and before `kswapd_init` (`module_init`, which for
# built-in code is the *device* level 6).

# %%
# %matplotlib inline
from mmsim.lessons import show_source
from mmsim.panels import l15_kcompactd_init as lesson

# %% [markdown]
# ## Step by step
#
# 1. Register the hotplug state `"mm/compaction:online"` with `kcompactd_cpu_online`
#    ([L2126–2141](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L2126)) as the
#    callback: when a CPU comes online, every node with memory that now has an online CPU gets its
#    kcompactd re-bound to the node's CPUs. If the registration fails: print
#    "kcompactd: failed to register hotplug callbacks." and **return** — no kcompactd at all.
# 2. `for_each_node_state(nid, N_MEMORY)`: `kcompactd_run(nid)` (lesson 16). Nodes without memory
#    (CPU-only or not-yet-populated nodes) are skipped; memory hotplug starts their kcompactd later.
# 3. Return 0 (a `kcompactd_run` failure is only printed).
#
# The thread binds itself to its node's CPUs when it starts (lesson 17), so its compaction work
# runs next to the memory it moves.

# %% [markdown]
# ## The mmsim twin
#
# mmsim has no hotplug callbacks, so its `kcompactd_init` is step 2; `Simulation` calls it before
# `kswapd_init`, in the kernel's initcall order.

# %%
from mmsim.mm import compaction

show_source(compaction.kcompactd_init)

# %% [markdown]
# ## Experiment: booting a 4-node machine with one memoryless node
#
# Nodes 0–2 have 32 MiB each; node 3 has CPUs but no memory. The two initcalls run as at boot:

# %%
# NBVAL_CHECK_OUTPUT
df = lesson.boot_threads(nodes=4, memoryless=1)
print(df.to_string(index=False))

# %%
lesson.update(nodes=4, memoryless=1)

# %% [markdown]
# ## Try it

# %%
lesson.PANELS[0].widget()

# %% [markdown]
# ## Check yourself

# %%
from mmsim.exercises import quiz

q1, = quiz("kcompactd_init", seed=3)
q1

# %% hide
print(q1.reveal())

# %%
q2, = quiz("kcompactd_init", seed=8)
q2

# %% hide
print(q2.reveal())

# %% [markdown]
# ## On your machine
#
# The threads, one per node with memory, and the nodes (`N_MEMORY` is `has_memory`):

# %%
import glob
import os

from mmsim.lessons import read_host_file

comms = sorted(c.strip() for c in (read_host_file(p) for p in glob.glob("/proc/[0-9]*/comm"))
               if c and c.startswith(("kcompactd", "kswapd")))
print("threads:", ", ".join(comms) if comms else "none visible (not Linux, or no /proc)")
print("nodes with memory:", (read_host_file("/sys/devices/system/node/has_memory")
                             or "not readable here\n").strip())
print("CPUs online:", os.cpu_count())

# %% [markdown]
# ## After v5.0, and common misreadings
#
# * kcompactd first appeared in **4.6** as a `module_init`; v5.0 runs it as `subsys_initcall`.
# * Later kernels moved `init_per_zone_wmark_min` from `core_initcall` to `postcore_initcall`; the
#   order "watermarks → kcompactd → kswapd" stays.
# * Later (6.x) kernels also register the compaction sysctls (`vm.compaction_proactiveness`,
#   `vm.extfrag_threshold`, …) from `kcompactd_init`.
# * Misreading: "there is one kcompactd per zone" (or per CPU). There is one per **node** with
#   memory; it walks that node's zones.
# * Misreading: "kswapd starts kcompactd." They are independent threads started by separate
#   initcalls; kswapd only *wakes* kcompactd later (lesson 17).
