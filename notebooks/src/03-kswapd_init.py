# %% [markdown]
# # 03 · `kswapd_init`: one kswapd per node with memory, after the watermarks exist
#
# **Kernel function:** [`kswapd_init`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L4075),
# `mm/vmscan.c` lines **4075–4087**, registered by
# [`module_init(kswapd_init)`](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L4089) at
# line 4089 — Linux **v5.0**.
#
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/mmsim/mmsim/main?urlpath=lab/tree/notebooks/03-kswapd_init.ipynb)
#
# `kswapd_init` runs once, at boot. It sets the swap read-ahead size (`swap_setup`, lesson 04) and
# starts a `kswapd<nid>` kernel thread for every NUMA node that has memory (`kswapd_run`,
# lesson 05). Nobody calls it directly: `module_init` in code built into the kernel is a
# `device_initcall`, level 6 of the boot-time initcalls, so it runs **after**
# `init_per_zone_wmark_min` (level 1, `core_initcall`) has computed `min_free_kbytes` and every
# zone's watermarks, and after `hugepage_init` and `kcompactd_init` (both level 4,
# `subsys_initcall`) have raised `min_free_kbytes` for transparent hugepages and started kcompactd.
# When kswapd first looks at its node, the watermarks it balances against are already final.

# %%
# %matplotlib inline
from mmsim.lessons import show_source
from mmsim.mm import vmscan
from mmsim.panels import l03_kswapd_init as lesson

# %% [markdown]
# ## Step by step
#
# | v5.0 line | what happens |
# |---|---|
# | 4075 | `kswapd_init` is an `__init` function: its code is discarded once boot is over. |
# | 4077 | locals: a node id and a return value. |
# | 4079 | `swap_setup()`: choose `page_cluster`, the swap read-ahead order, from the RAM size (lesson 04). |
# | 4080–4081 | for every node in the `N_MEMORY` state — nodes with present pages — `kswapd_run(nid)` creates and wakes `kswapd<nid>` (lesson 05). A CPU-only node gets no kswapd: its allocations are served, and its pressure relieved, by other nodes. |
# | 4082–4084 | register a CPU-hotplug "online" callback, `kswapd_cpu_online` (state `CPUHP_AP_ONLINE_DYN`, name `"mm/vmscan:online"`). The `_nocalls` variant does not run it for CPUs already online. When a CPU of a node comes online, the callback binds that node's kswapd back to the node's CPUs ([L4021–4036](https://elixir.bootlin.com/linux/v5.0/source/mm/vmscan.c#L4021)). |
# | 4085 | if the registration failed: a warning, nothing more. |
# | 4086 | return 0. |
# | 4089 | `module_init(kswapd_init)`: a `device_initcall` in a built-in kernel. |
#
# The boot order that matters here:
#
# | initcall level | function | effect |
# |---|---|---|
# | 1 `core_initcall` | `init_per_zone_wmark_min` | default `min_free_kbytes` (4·√lowmem KiB), min/low/high, `lowmem_reserve` (lesson 01) |
# | 4 `subsys_initcall` | `hugepage_init` → `set_recommended_min_free_kbytes` | THP `always`/`madvise` and ≥ 512 MiB: `min_free_kbytes` raised to 11 pageblocks per populated zone |
# | 4 `subsys_initcall` | `kcompactd_init` | `kcompactd<nid>` for every `N_MEMORY` node (lesson 15) |
# | 6 `device_initcall` | `kswapd_init` | `swap_setup`, `kswapd<nid>` for every `N_MEMORY` node, the hotplug callback |
#
# Nodes whose memory arrives later (memory hot-add) get their kswapd from the hotplug code, which
# calls `kswapd_run` itself (lesson 05).

# %% [markdown]
# ## The mmsim twin
#
# mmsim has no CPU hotplug, so its twin keeps the first two steps. `Simulation` calls it after
# `kcompactd_init`, in boot order:

# %%
show_source(vmscan.kswapd_init)

# %% [markdown]
# ## Experiment: what is in place when kswapd starts
#
# `min_free_kbytes` after each initcall stage, for four machines (zone sizes and watermarks only,
# computed by the same boot code as `Node.build`):

# %%
# NBVAL_CHECK_OUTPUT
print(lesson.machines_table().to_string())

# %% [markdown]
# * Below 512 MiB `hugepage_init` turns THP off, and the square-root default stays.
# * With THP the raise is per **populated zone, across all nodes**: 3 zones give the familiar
#   67584 KiB, two nodes of 16 GiB (DMA, DMA32, Normal + another Normal) give 90112 KiB.
#
# Now a real start-up: a machine with two nodes of 64 MiB and a third node with CPUs but no
# memory. mmsim runs `kcompactd_init` and `kswapd_init` on it and lets 0.25 s of simulated time
# pass. The node table shows who got which thread; the trace shows each daemon going to sleep —
# kcompactd at once (nothing was requested), kswapd after its 100 ms nap (its node is balanced,
# lesson 07):

# %%
# NBVAL_CHECK_OUTPUT
machine = lesson.numa_machine((64, 64, 0))
booted = lesson.start_daemons(machine)
booted.run(0.25)
print(lesson.node_table(machine).to_string())
print()
print(booted.ftrace())

# %% [markdown]
# (mmsim runs one node per `Simulation` today — its LRU lists need a node that starts at pfn 0 —
# so this machine runs the daemons on a bare scheduler, without workloads. Start-up is all it
# needs.)

# %%
lesson.boot_figure((16384, 16384, 0), "madvise")

# %% [markdown]
# ## Try it
#
# Change the memory per node, the number of nodes with memory and of CPU-only nodes, and the THP
# mode. The left plot follows `min_free_kbytes` through the initcalls; the right one shows the
# threads `kcompactd_init` and `kswapd_init` start. (Zone sizes and watermarks are computed on
# paper, so the panel answers at once.)

# %%
lesson.PANELS[0].widget()

# %% [markdown]
# ## Check yourself

# %%
from mmsim.exercises import quiz

q1, = quiz("kswapd_init", seed=2)
q1

# %% hide
print(q1.reveal())

# %%
q2, = quiz("boot_min_free_kbytes", seed=5)
q2

# %% hide
print(q2.reveal())

# %% [markdown]
# ## On your machine
#
# Each node with memory has a `kswapd<nid>` thread; `/sys/devices/system/node/has_memory` lists
# the `N_MEMORY` nodes and `/proc/<pid>/comm` the thread names. (On a host that is not Linux the
# cell says so.)

# %%
import os

from mmsim.lessons import read_host_file

has_memory = read_host_file("/sys/devices/system/node/has_memory")
print("N_MEMORY nodes:", has_memory.strip() if has_memory else "(not readable here)")
threads = []
if os.path.isdir("/proc"):
    for pid in os.listdir("/proc"):
        comm = read_host_file(f"/proc/{pid}/comm") if pid.isdigit() else None
        if comm and comm.startswith(("kswapd", "kcompactd")):
            threads.append(f"{comm.strip()} (pid {pid})")
print("threads:", ", ".join(sorted(threads)) or "(none found: not Linux, or /proc hidden)")
print("min_free_kbytes:", (read_host_file("/proc/sys/vm/min_free_kbytes") or "n/a").strip())

# %% [markdown]
# ## After v5.0, and common misreadings
#
# * Later kernels keep the shape of `kswapd_init`: `swap_setup()`, then `kswapd_run()` for each
#   `N_MEMORY` node. The CPU-hotplug callback is gone: a patch of February 2020 ("mm/vmscan.c:
#   remove cpu online notification for now") removed `kswapd_cpu_online`, arguing that CPU-less
#   nodes rarely gain CPUs at run time; 6.x `kswapd_init` registers no callback.
# * Misreading: "kswapd is started when memory first runs low". It is started at boot and sleeps;
#   allocations only *wake* it (lesson 11).
# * Misreading: "one kswapd per CPU" or "per zone". One per node with memory; a zone never has
#   its own thread.
# * Misreading: "kswapd starts with the square-root `min_free_kbytes`". On a THP-enabled machine
#   of 512 MiB or more, `hugepage_init` (level 4) has already raised it before `kswapd_init`
#   (level 6) runs.
