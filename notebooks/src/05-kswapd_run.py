# %% [markdown]
# # 05 · `kswapd_run`: start a node's kswapd, once
#
# **Kernel function:** [`kswapd_run`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L4042),
# `mm/vmscan.c` lines **4042–4059**, and its counterpart
# [`kswapd_stop`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L4065) (lines 4065–4073) —
# Linux **v5.0**.
#
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/mmsim/mmsim/main?urlpath=lab/tree/notebooks/05-kswapd_run.ipynb)
#
# `kswapd_run(nid)` creates the kernel thread `kswapd<nid>` for one node and starts it running
# `kswapd()` (lesson 06) — unless the node already has one, in which case it does nothing and
# returns 0. Two callers rely on that: `kswapd_init` at boot, once per node with memory
# (lesson 03), and memory hot-add (`online_pages` in `mm/memory_hotplug.c`), which calls it every
# time a memory block of a node comes online. Memory hot-remove calls `kswapd_stop(nid)` when a node
# loses its last memory; the next hot-add then starts a new thread.

# %%
# %matplotlib inline
from mmsim.lessons import show_source
from mmsim.mm import vmscan
from mmsim.panels import l05_kswapd_run as lesson

# %% [markdown]
# ## Step by step
#
# | v5.0 line | what happens |
# |---|---|
# | 4042 | `int kswapd_run(int nid)` — a node id in, 0 or an error code out. |
# | 4044–4045 | find the node (`NODE_DATA(nid)`); the result starts as 0. |
# | 4047–4048 | **`pgdat->kswapd` already set → return 0.** A second call, or the tenth memory block of a node coming online, changes nothing. |
# | 4050 | `kthread_run(kswapd, pgdat, "kswapd%d", nid)`: create the thread, wake it, store it in `pgdat->kswapd`. The new thread binds itself to its node's CPUs (if the node has any), sets `PF_MEMALLOC`, `PF_SWAPWRITE` and `PF_KSWAPD`, and soon tries to sleep (lessons 06–07). |
# | 4051–4057 | creation failed: during boot (`system_state < SYSTEM_RUNNING`) that is a `BUG` — a kernel does not boot without kswapd; later it prints "Failed to start kswapd on node %d", keeps the error as the result and clears `pgdat->kswapd`, so that a later call can try again. |
# | 4058 | return 0 (started, or already running) or the error. |
#
# `kswapd_stop(nid)` (4065–4073): if the node has a kswapd, `kthread_stop` asks it to stop, wakes it
# and **waits** until it has left its loop, then `pgdat->kswapd` is cleared.
#
# What a two-node machine gets: `kswapd_init` calls `kswapd_run(0)` and `kswapd_run(1)`, so two
# independent threads, `kswapd0` and `kswapd1`, each with its own wait queue and its own
# `kswapd_order`/`kswapd_classzone_idx` requests; each balances only its own node's zones. A node
# with CPUs but no memory gets none — until memory is hot-added to it, when `online_pages` starts
# its `kswapd<nid>` (and `kcompactd<nid>`).

# %% [markdown]
# ## The mmsim twin

# %%
show_source(vmscan.kswapd_run)

# %% [markdown]
# Differences: the twin takes the node rather than its id, returns the thread (the kernel returns
# 0 in both the "started" and the "already running" case), and thread creation cannot fail, so the
# error branch has no twin. It needs the machine's scheduler, which a `Simulation` provides.
#
# ## Experiment: a second call, a hot-remove and a hot-add
#
# A machine with two 64 MiB nodes and a CPU-only node 2 boots (lesson 03). At 0.2 s `kswapd_run(0)`
# is called again; then node 1 loses its memory (`kswapd_stop(1)`, `kcompactd_stop(1)`, as memory
# hot-remove does) and at 0.3 s gets it back (`kswapd_run(1)`, `kcompactd_run(1)`, as hot-add
# does), twice. mmsim has no memory hot-plug, so the pages stay where they are: only the calls are
# made. The log interleaves the calls (`# call`) with the trace:

# %%
# NBVAL_CHECK_OUTPUT
story = lesson.tell((64, 64, 0), second_call=True, hotplug=True)
print(story.log())
print()
print(lesson.threads_table(story).to_string())

# %%
lesson.timeline(story, with_log=False)

# %% [markdown]
# * The second `kswapd_run(0)` returned the thread that was already there: no new pid, no new
#   trace line.
# * Stopping node 1's threads ended `kswapd1` (pid 103) and `kcompactd1`; the hot-add created new
#   ones with new pids (104, 105). The new `kswapd1` went through its own first 100 ms nap before
#   sleeping at 0.4 s. The second hot-add call found it running.
# * Node 2 never got a thread.
#
# ## Try it
#
# The number of nodes with memory and CPU-only nodes, the second call, the hot-remove/add of
# node 1. The text under the figure is the log.

# %%
lesson.PANELS[0].widget()

# %% [markdown]
# ## Check yourself

# %%
from mmsim.exercises import quiz

q1, = quiz("kswapd_run", seed=4)
q1

# %% hide
print(q1.reveal())

# %%
q2, = quiz("kswapd_run", seed=2)
q2

# %% hide
print(q2.reveal())

# %% [markdown]
# ## On your machine
#
# Each `kswapd<nid>` thread, and the CPUs it may run on (`Cpus_allowed_list` in
# `/proc/<pid>/status`) next to its node's CPUs (`/sys/devices/system/node/node<nid>/cpulist`).
# Output depends on the host; where this is not Linux the cell says so.

# %%
import os

from mmsim.lessons import read_host_file

found = False
for pid in sorted(os.listdir("/proc"), key=lambda p: (len(p), p)) if os.path.isdir("/proc") else []:
    comm = read_host_file(f"/proc/{pid}/comm") if pid.isdigit() else None
    if not comm or not comm.startswith("kswapd"):
        continue
    found = True
    comm = comm.strip()
    status = read_host_file(f"/proc/{pid}/status") or ""
    allowed = next((ln.split(":", 1)[1].strip() for ln in status.splitlines()
                    if ln.startswith("Cpus_allowed_list")), "?")
    nid = comm[len("kswapd"):].split(":")[0]
    node_cpus = (read_host_file(f"/sys/devices/system/node/node{nid}/cpulist") or "?").strip()
    print(f"{comm:10s} pid {pid:>6s}  may run on CPUs {allowed:10s}  node {nid} CPUs {node_cpus}")
if not found:
    print("no kswapd thread visible here (not Linux, or /proc hidden)")

# %% [markdown]
# ## After v5.0, and common misreadings
#
# * Later kernels make `kswapd_run` return nothing (`void __meminit kswapd_run(int nid)`): the
#   callers never used the value. 6.x kernels also take a per-node mutex (`pgdat_kswapd_lock`)
#   around the check-and-create and in `kswapd_stop`, so that hot-plug and readers of
#   `pgdat->kswapd` cannot race, and print the error code on failure. Recent kernels create the
#   thread with a preferred node affinity in `kswapd_run` instead of letting kswapd bind itself.
# * Misreading: "calling `kswapd_run` wakes kswapd up". It starts a thread that does not exist yet;
#   waking an existing kswapd is `wakeup_kswapd` (lesson 11).
# * Misreading: "a NUMA machine has one kswapd that walks all nodes". Each node with memory has its
#   own thread, started by its own `kswapd_run`, and it reclaims only its own node.
