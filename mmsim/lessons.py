"""The lesson map: one notebook per kernel function, in learning order.

``LESSONS`` is the single list that the README's lesson table, the
``00-start-here`` map, ``mmsim lessons`` and the tests that check every
notebook exists are all built from.
"""

from __future__ import annotations

from dataclasses import dataclass

ELIXIR = "https://elixir.bootlin.com/linux/v5.0/source/"
ELIXIR_IDENT = "https://elixir.bootlin.com/linux/v5.0/ident/"
BINDER = "https://mybinder.org/v2/gh/mmsim/mmsim/main"


@dataclass(frozen=True)
class Lesson:
    """One lesson: notebook slug, the kernel function it teaches and where it lives."""

    number: int
    slug: str
    function: str
    file: str
    lines: str  # "3534-3738", or "" when v5.0 lines are not verified
    sees: str  # what the learner will see

    @property
    def notebook(self) -> str:
        return f"{self.number:02d}-{self.slug}.ipynb"

    @property
    def elixir(self) -> str:
        """Link to the function in v5.0 on Elixir (by line when verified)."""
        if self.lines:
            return f"{ELIXIR}{self.file}#L{self.lines.split('-')[0]}"
        name = self.function.split()[0].strip("`")
        return f"{ELIXIR_IDENT}{name}"

    @property
    def binder(self) -> str:
        return f"{BINDER}?urlpath=lab/tree/notebooks/{self.notebook}"


LESSONS: tuple[Lesson, ...] = (
    Lesson(0, "start-here", "(map of the series)", "mm/", "",
           "the model in one picture, a first simulation, your own machine's zones"),
    Lesson(1, "min_free_kbytes", "init_per_zone_wmark_min", "mm/page_alloc.c", "",
           "how min_free_kbytes and watermark_scale_factor become per-zone min/low/high"),
    Lesson(2, "zone_watermark_ok", "__zone_watermark_ok", "mm/page_alloc.c", "",
           "the per-order free-area walk and the line of the check that decides"),
    Lesson(3, "kswapd_init", "kswapd_init", "mm/vmscan.c", "4075-4087",
           "one kswapd per node with memory, started after the watermarks exist"),
    Lesson(4, "swap_setup", "swap_setup", "mm/swap.c", "",
           "page_cluster from the RAM size"),
    Lesson(5, "kswapd_run", "kswapd_run", "mm/vmscan.c", "4042-4059",
           "idempotent start; what a second call and a second node do"),
    Lesson(6, "kswapd", "kswapd", "mm/vmscan.c", "3849-3928",
           "the main loop, alloc_order vs reclaim_order, the goto kswapd_try_sleep"),
    Lesson(7, "kswapd_try_to_sleep", "kswapd_try_to_sleep", "mm/vmscan.c", "3756-3834",
           "the HZ/10 nap, full sleep, and the two hit-quickly counters on a timeline"),
    Lesson(8, "balance_pgdat", "balance_pgdat", "mm/vmscan.c", "3534-3738",
           "free pages against the three watermarks, kswapd's runs and priorities"),
    Lesson(9, "boost_watermark", "boost_watermark", "mm/page_alloc.c", "",
           "fallback steals, the boost, boosted reclaim and the kcompactd hand-off"),
    Lesson(10, "wake_all_kswapds", "wake_all_kswapds", "mm/page_alloc.c", "",
           "which nodes are asked to reclaim, with which classzone"),
    Lesson(11, "wakeup_kswapd", "wakeup_kswapd", "mm/vmscan.c", "3937-3973",
           "every early return of wakeup_kswapd as a decision path"),
    Lesson(12, "current_is_kswapd", "current_is_kswapd", "include/linux/swap.h", "",
           "task flags, and why kswapd may dip below the min watermark"),
    Lesson(13, "direct_reclaim", "throttle_direct_reclaim", "mm/vmscan.c", "3133-3215",
           "allocation stalls when the allocator outruns kswapd"),
    Lesson(14, "swap_writepage", "swap_writepage", "mm/page_io.c", "",
           "where reclaimed anonymous pages go, and why no swap means no anon reclaim"),
    Lesson(15, "kcompactd_init", "kcompactd_init", "mm/compaction.c", "2143-2159",
           "one kcompactd per node, started before kswapd"),
    Lesson(16, "kcompactd_run", "kcompactd_run", "mm/compaction.c", "2089-2104",
           "idempotent start of kcompactd"),
    Lesson(17, "kcompactd", "kcompactd", "mm/compaction.c", "2055-2083",
           "the wait on kcompactd_wait: one pass per wake, what wakes it"),
    Lesson(18, "kcompactd_do_work", "kcompactd_do_work", "mm/compaction.c", "1940-2023",
           "the per-zone loop: deferred, suitable, compact_zone, drain, defer"),
    Lesson(19, "wakeup_kcompactd", "wakeup_kcompactd", "mm/compaction.c", "2025-2049",
           "order 0 ignored, highest order and lowest classzone kept"),
    Lesson(20, "kcompactd_node_suitable", "kcompactd_node_suitable", "mm/compaction.c",
           "1920-1938", "compaction_suitable and the fragmentation index veto"),
    Lesson(21, "compact_zone", "compact_zone", "mm/compaction.c", "1537-1699",
           "the two scanners on a memory map, before, during and after"),
    Lesson(22, "compaction_deferred", "compaction_deferred", "mm/compaction.c", "157-174",
           "deferral after failures, and what resets it"),
    Lesson(23, "case-phone-min_free_kbytes", "(case study) min_free_kbytes on a phone",
           "mm/page_alloc.c", "", "a 2 GiB phone's DMA zone: is raising min_free_kbytes right?"),
    Lesson(24, "case-reclaim_order", "(case study) reclaim_order < alloc_order",
           "mm/vmscan.c", "3849-3928", "what the goto in kswapd really means, with a trace"),
    Lesson(25, "playground", "(all knobs)", "mm/", "",
           "every knob on one panel, the standard figures, A/B comparison"),
    Lesson(26, "sweeps", "(parameter sweeps)", "mm/", "",
           "allocation stalls and kswapd wake-ups as min_free_kbytes grows"),
    Lesson(27, "real-kernel", "(a real 6.1 kernel beside mmsim)", "mm/", "",
           "a recorded kernel run and its mmsim replay, side by side"),
)


def lesson(slug_or_number: str | int) -> Lesson:
    """Look a lesson up by number or slug."""
    for le in LESSONS:
        if slug_or_number in (le.number, le.slug, le.notebook):
            return le
    raise ValueError(f"lesson: unknown lesson {slug_or_number!r}; allowed 0..{len(LESSONS) - 1} "
                     "or a slug such as 'balance_pgdat'")


def markdown_table(base: str = "") -> str:
    """The lesson map as a Markdown table (links relative to ``base``)."""
    rows = ["| # | lesson | kernel function | what you will see |", "|---|---|---|---|"]
    for le in LESSONS:
        fn = le.function if le.function.startswith("(") else \
            f"[`{le.function}`]({le.elixir}) ({le.file})"
        rows.append(f"| {le.number:02d} | [{le.slug}]({base}{le.notebook}) | {fn} | {le.sees} |")
    return "\n".join(rows)


# --------------------------------------------------------------------------
# helpers the notebooks call
# --------------------------------------------------------------------------
def show_source(obj: object) -> object:
    """Display the source of an mmsim function (the "mmsim twin" cell of a lesson)."""
    import inspect

    from IPython.display import Code

    return Code(inspect.getsource(obj), language="python")


SNAPSHOT = "snapshot-6.18"


def your_machine(prefer_host: bool = True) -> tuple[object, str]:
    """A node built from this host's /proc when readable, else from the bundled snapshot.

    Returns ``(node, where)`` where ``where`` says which one it is.
    """
    import os
    from importlib import resources

    from mmsim.procfs import node_from_proc

    if prefer_host and os.path.exists("/proc/zoneinfo"):
        try:
            return node_from_proc(), "this machine's /proc"
        except (OSError, ValueError) as exc:
            reason = f" (host /proc not usable: {exc})"
        else:  # pragma: no cover
            reason = ""
    else:
        reason = ""
    root = resources.files("mmsim") / "data" / SNAPSHOT
    return node_from_proc(root=str(root)), f"the bundled snapshot of a Linux 6.18 VM{reason}"


def read_host_file(path: str) -> str | None:
    """Text of a /proc or /sys file, or None when it cannot be read (not Linux, no access)."""
    try:
        with open(path) as fh:
            return fh.read()
    except OSError:
        return None
