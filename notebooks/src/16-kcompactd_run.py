# %% [markdown]
# # 16 · `kcompactd_run`: start a node's kcompactd — once
#
# **Kernel function:** [`kcompactd_run`, mm/compaction.c L2089–2104](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L2089)
# and its counterpart [`kcompactd_stop`, L2110–2118](https://elixir.bootlin.com/linux/v5.0/source/mm/compaction.c#L2110)
# (Linux **v5.0**).
#
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/mmsim/mmsim/main?urlpath=lab/tree/notebooks/16-kcompactd_run.ipynb)
#
# `kcompactd_run(nid)` starts the thread `kcompactd<nid>` running `kcompactd(pgdat)` — unless the
# node already has one, which makes it safe to call again. It is called by `kcompactd_init` at boot
# (lesson 15) and by memory hotplug: [`online_pages`](https://elixir.bootlin.com/linux/v5.0/ident/online_pages)
# ends with `kswapd_run(nid); kcompactd_run(nid)` whenever it onlined pages, and offlining a
# node's last memory ([`__offline_pages`](https://elixir.bootlin.com/linux/v5.0/ident/__offline_pages))
# calls `kswapd_stop(node); kcompactd_stop(node)`.

# %%
# %matplotlib inline
from mmsim.lessons import show_source
from mmsim.panels import l16_kcompactd_run as lesson

# %% [markdown]
# ## Step by step
#
# **`kcompactd_run(nid)`**
# 1. `pgdat->kcompactd` already set → return 0: nothing is started.
# 2. `pgdat->kcompactd = kthread_run(kcompactd, pgdat, "kcompactd%d", nid)`.
# 3. On failure: print "Failed to start kcompactd on node %d", set the pointer back to NULL and
#    return the error. Unlike `kswapd_run`, which treats a failure during boot as fatal (`BUG_ON`),
#    a node simply runs without kcompactd.
#
# **`kcompactd_stop(nid)`**: if the node has a kcompactd, `kthread_stop()` it — the thread leaves
# its loop at the next `kthread_should_stop()` test, which its wait condition includes — and
# clear the pointer, so a later `kcompactd_run` starts a fresh thread.
#
# `kcompactd_run` does not look at the node's memory: its callers only call it for nodes that
# have some.

# %% [markdown]
# ## The mmsim twin

# %%
from mmsim.mm import compaction

show_source(compaction.kcompactd_run)

# %% [markdown]
# ## Experiment: start twice, hot-add, hot-remove
#
# Two nodes; node 1 boots without memory. Then: `kcompactd_run(0)` again, memory onlined on
# node 1 twice, and node 1's memory offlined.

# %%
# NBVAL_CHECK_OUTPUT
df = lesson.apply_ops(["kcompactd_run(node 0)", "online memory on node 1",
                       "online memory on node 1", "offline node 1's memory"])
for step, row in df.iterrows():
    print(f"{step}: {row.operation}\n   -> {row.result}\n   alive: {row.threads}")

# %%
lesson.update()

# %% [markdown]
# ## Try it

# %%
lesson.PANELS[0].widget()

# %% [markdown]
# ## Check yourself

# %%
from mmsim.exercises import quiz

q1, = quiz("kcompactd_run", seed=0)
q1

# %% hide
print(q1.reveal())

# %%
q2, = quiz("kcompactd_run", seed=5)
q2

# %% hide
print(q2.reveal())

# %% [markdown]
# ## On your machine
#
# One `kcompactd<N>` per node with memory; the PID changes only if the thread was stopped and
# started again (memory hot-remove and hot-add of a whole node).

# %%
import glob

from mmsim.lessons import read_host_file

found = []
for path in sorted(glob.glob("/proc/[0-9]*/comm")):
    comm = read_host_file(path)
    if comm and comm.startswith("kcompactd"):
        found.append(f"{comm.strip()} (pid {path.split('/')[2]})")
print(", ".join(found) if found else "no kcompactd visible (not Linux, or no /proc)")

# %% [markdown]
# ## After v5.0, and common misreadings
#
# * Later kernels keep the same idempotent start and the same thread name `kcompactd%d`, which
#   is why `ps` output looks alike on every kernel since kcompactd appeared (4.6).
# * Misreading: "calling `kcompactd_run` again restarts the daemon." It returns 0 and does nothing
#   while the thread exists; only `kcompactd_stop` followed by `kcompactd_run` gives a new one.
# * Misreading: "a failed kcompactd start stops the boot." That is kswapd's rule; kcompactd only
#   prints an error.
