"""Check yourself: seeded questions whose answers mmsim computes.

In the spirit of OSTEP's homework simulators (``-s SEED`` to get a question,
``-c`` to compute the answer), every question here is generated from a seed
by the same code that knows the answer: the kernel's formulas as mmsim
implements them. A notebook shows the question; ``q.check(your_answer)`` says
whether it is right; ``q.reveal()`` gives the answer and how it is worked
out. ``mmsim quiz TOPIC --seed N [-c]`` does the same in a terminal.

Examples
--------
>>> q = quiz("swap_setup", seed=1)[0]
>>> q.check(q.answer)
correct
True
>>> "page_cluster" in q.reveal()
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Question:
    """One question; the answer stays hidden until :meth:`reveal`."""

    topic: str
    seed: int
    prompt: str
    answer: Any
    explanation: str

    def check(self, response: Any, verbose: bool = True) -> bool:
        """Is ``response`` right? (numbers must match exactly; text case-insensitively)"""
        ok = _same(response, self.answer)
        if verbose:
            print("correct" if ok else "not quite - try again, or call .reveal()")
        return ok

    def reveal(self) -> str:
        return f"answer: {self.answer}\n{self.explanation}"

    def __repr__(self) -> str:
        return f"[{self.topic} #{self.seed}] {self.prompt}"

    def _repr_markdown_(self) -> str:
        return f"**Question** ({self.topic}, seed {self.seed}): {self.prompt}"


def _same(a: Any, b: Any) -> bool:
    if isinstance(b, str):
        return str(a).strip().lower() == b.lower()
    if isinstance(b, (list, tuple)):
        return isinstance(a, (list, tuple)) and len(a) == len(b) and \
            all(_same(x, y) for x, y in zip(a, b))
    if isinstance(b, bool):
        return a is b or (isinstance(a, str) and a.strip().lower() in
                          (("true", "yes") if b else ("false", "no")))
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return False


# --------------------------------------------------------------------------
# generators: fn(rng, seed) -> Question
# --------------------------------------------------------------------------
def _q_min_free_kbytes(rng: np.random.Generator, seed: int) -> Question:
    from mmsim.mm.page_alloc import calculate_min_free_kbytes

    gib = int(rng.choice([1, 2, 4, 8, 16, 32, 64, 128, 512]))
    lowmem_pages = gib << 18
    ans = calculate_min_free_kbytes(lowmem_pages * 4)
    return Question("min_free_kbytes", seed,
                    f"A machine has {gib} GiB of lowmem above the high watermarks "
                    "(nr_free_buffer_pages) and THP is off. What min_free_kbytes does v5.0 "
                    "choose at boot?", ans,
                    f"int_sqrt({lowmem_pages} pages * 4 KiB * 16) = "
                    f"{int(np.sqrt(lowmem_pages * 4 * 16))}, clamped to 128..65536 -> {ans}.")


def _q_watermarks(rng: np.random.Generator, seed: int) -> Question:
    from mmsim.mm.page_alloc import mult_frac

    zones = {"DMA": 3977, "DMA32": int(rng.integers(200_000, 780_000)),
             "Normal": int(rng.integers(0, 4_000_000))}
    mfk = int(rng.choice([4096, 8192, 11584, 16384, 45056, 67584]))
    wsf = int(rng.choice([10, 10, 50, 200]))
    lowmem = sum(zones.values())
    pages_min = mfk >> 2
    z = "DMA32"
    managed = zones[z]
    mn = pages_min * managed // lowmem
    dist = max(mn >> 2, mult_frac(managed, wsf, 10000))
    which = str(rng.choice(["min", "low", "high"]))
    ans = {"min": mn, "low": mn + dist, "high": mn + 2 * dist}[which]
    return Question("watermarks", seed,
                    f"Zones have managed pages {zones}; min_free_kbytes={mfk}, "
                    f"watermark_scale_factor={wsf}. What is the {which} watermark of {z} "
                    "(no boost)?", ans,
                    f"pages_min = {mfk} >> 2 = {pages_min}; min = {pages_min}*{managed}/"
                    f"{lowmem} = {mn}; distance = max(min/4, managed*wsf/10000) = {dist}; "
                    f"low = min + distance = {mn + dist}, high = min + 2*distance = "
                    f"{mn + 2 * dist}.")


def _q_lowmem_reserve(rng: np.random.Generator, seed: int) -> Question:
    dma32 = int(rng.integers(100_000, 780_000))
    normal = int(rng.integers(100_000, 4_000_000))
    ans = (dma32 + normal) // 256
    return Question("lowmem_reserve", seed,
                    f"DMA32 manages {dma32} pages and Normal {normal}. With the default "
                    "lowmem_reserve_ratio (256 256 32 0 0), how many DMA pages are protected "
                    "from a GFP_KERNEL (classzone Normal) allocation, i.e. "
                    "DMA's protection[Normal]?", ans,
                    f"lowmem_reserve[Normal] of DMA = (DMA32 + Normal managed) / ratio[DMA] = "
                    f"({dma32} + {normal}) / 256 = {ans}.")


def _q_zone_watermark_ok(rng: np.random.Generator, seed: int) -> Question:
    mark = int(rng.integers(1000, 20000))
    reserve = int(rng.choice([0, 0, 512, 3530]))
    order = int(rng.choice([0, 0, 2, 4, 9]))
    free = mark + reserve + int(rng.integers(-600, 600))
    biggest = int(rng.integers(0, 11))
    high = bool(rng.integers(0, 2))
    min_ = mark - (mark // 2 if high else 0)
    free_after = free - ((1 << order) - 1)
    ok = free_after > min_ + reserve and (order == 0 or biggest >= order)
    flags = "ALLOC_HIGH" if high else "no flags"
    why = (f"free - (2^{order} - 1) = {free_after}; mark {'halved by ALLOC_HIGH ' if high else ''}"
           f"= {min_}; need free > mark + lowmem_reserve = {min_ + reserve}: "
           f"{'yes' if free_after > min_ + reserve else 'no'}")
    if order and free_after > min_ + reserve:
        why += f"; then a free block of order >= {order} is needed: largest is {biggest}"
    return Question("zone_watermark_ok", seed,
                    f"A zone has {free} free pages (largest free block order {biggest}, on the "
                    f"Movable list, no HighAtomic reserve). Is an order-{order} request with "
                    f"{flags} against mark {mark} and lowmem_reserve[classzone] {reserve} OK? "
                    "(True/False)", ok, why + ".")


def _q_kswapd_try_to_sleep(rng: np.random.Generator, seed: int) -> Question:
    first = bool(rng.integers(0, 2))
    woken = bool(rng.integers(0, 2)) if first else False
    second = bool(rng.integers(0, 2))
    if first and woken:
        ans = "kswapd_low_wmark_hit_quickly"
    elif second:
        ans = "mm_vmscan_kswapd_sleep"
    else:
        ans = "kswapd_high_wmark_hit_quickly"
    return Question("kswapd_try_to_sleep", seed,
                    f"kswapd_try_to_sleep: the first prepare_kswapd_sleep() says "
                    f"{'balanced' if first else 'not balanced'}"
                    + ((", the HZ/10 nap is "
                        + ("cut short by a wake-up" if woken else "not disturbed"))
                       if first else "")
                    + f", and a second check would say {'balanced' if second else 'not balanced'}"
                    ". Which counter or tracepoint results: kswapd_low_wmark_hit_quickly, "
                    "kswapd_high_wmark_hit_quickly or mm_vmscan_kswapd_sleep?", ans,
                    "A nap cut short counts LOW (the second check is skipped); otherwise a "
                    "balanced node sleeps (tracepoint) and an unbalanced one counts HIGH "
                    "(vmscan.c L3756-3834).")


def _q_balance_pgdat(rng: np.random.Generator, seed: int) -> Question:
    size = int(rng.integers(10_000, 5_000_000))
    prio = int(rng.integers(1, 13))
    ans = size >> prio
    return Question("balance_pgdat", seed,
                    f"An inactive file list holds {size} eligible pages and balance_pgdat runs "
                    f"at priority {prio}, SCAN_FILE. How many pages does get_scan_count ask "
                    "shrink_node_memcg to scan from it?", ans,
                    f"scan = size >> priority = {size} >> {prio} = {ans} "
                    f"(in chunks of SWAP_CLUSTER_MAX = 32: {-(-ans // 32)} chunks).")


def _q_compact_gap(rng: np.random.Generator, seed: int) -> Question:
    order = int(rng.integers(1, 11))
    ans = 2 << order
    return Question("kswapd", seed,
                    f"kswapd was woken for order {order}. After how many reclaimed pages "
                    "does kswapd_shrink_node drop sc.order to 0 (compact_gap)?", ans,
                    f"compact_gap(order) = 2 << order = {ans}; from then on kswapd balances "
                    "for order 0 and leaves the high-order part to kcompactd.")


def _q_wakeup_kswapd(rng: np.random.Generator, seed: int) -> Question:
    asleep = bool(rng.integers(0, 2))
    hopeless = bool(rng.integers(0, 4) == 0)
    balanced = bool(rng.integers(0, 2))
    boosted = bool(rng.integers(0, 2))
    direct = bool(rng.integers(0, 2))
    if not asleep:
        ans = "nothing"
        why = "kswapd is not on kswapd_wait (it is running): the request is only recorded."
    elif hopeless or (balanced and not boosted):
        ans = "nothing" if direct else "wake kcompactd"
        why = ("the node is hopeless or balanced and not boosted, so kswapd stays asleep; "
               + ("the caller can reclaim directly, so nothing else happens."
                  if direct else "the caller cannot reclaim directly: wakeup_kcompactd()."))
    else:
        ans = "wake kswapd"
        why = "kswapd sleeps and is needed: tracepoint mm_vmscan_wakeup_kswapd, wake_up."
    return Question("wakeup_kswapd", seed,
                    f"wakeup_kswapd(): kswapd is {'asleep' if asleep else 'running'}, "
                    f"the node is {'hopeless (16 failed runs)' if hopeless else 'not hopeless'}, "
                    f"{'balanced' if balanced else 'not balanced'} for the request, "
                    f"{'boosted' if boosted else 'not boosted'}; the caller "
                    f"{'has' if direct else 'lacks'} __GFP_DIRECT_RECLAIM. What happens: "
                    "'wake kswapd', 'wake kcompactd' or 'nothing'?", ans, why)


def _q_fragmentation_index(rng: np.random.Generator, seed: int) -> Question:
    from mmsim.mm.vmstat import __fragmentation_index, fill_contig_page_info

    order = int(rng.choice([4, 6, 9]))
    row = [int(x) for x in rng.integers(0, 300, order)] + [0] * (11 - order)
    info = fill_contig_page_info(row, order)
    ans = __fragmentation_index(order, info)
    return Question("fragmentation_index", seed,
                    f"A zone's buddyinfo row (orders 0..10) is {row}. What is "
                    f"fragmentation_index for order {order} (in thousandths)?", ans,
                    f"free_pages = {info.free_pages}, free blocks = {info.free_blocks_total}, "
                    f"suitable = {info.free_blocks_suitable}; index = 1000 - (1000 + "
                    f"free_pages*1000/2^{order}) / blocks = {ans}"
                    + (" (above extfrag_threshold 500: compaction may help)." if ans > 500 else
                       " (at or below extfrag_threshold 500: compaction is not tried)."))


def _q_compaction_deferred(rng: np.random.Generator, seed: int) -> Question:
    k = int(rng.integers(1, 7))
    ans = (1 << k) - 1
    return Question("compaction_deferred", seed,
                    f"Compaction of a zone for order 9 has failed {k} times in a row "
                    "(defer_compaction each time). How many of the following calls does "
                    "compaction_deferred() skip before one is allowed to run?", ans,
                    f"defer_shift = {k}, limit = 1 << {k} = {1 << k}: considered counts up and "
                    f"the call that reaches the limit runs, so {ans} are skipped.")


def _q_swap_setup(rng: np.random.Generator, seed: int) -> Question:
    mib = int(rng.choice([8, 12, 15, 16, 17, 64, 512, 4096]))
    ans = 2 if mib < 16 else 3
    return Question("swap_setup", seed,
                    f"A machine has {mib} MiB of managed memory (totalram_pages, the MemTotal "
                    "of /proc/meminfo - not the installed RAM). What page_cluster does "
                    "swap_setup() choose?", ans,
                    f"megs = totalram_pages >> (20 - PAGE_SHIFT) = {mib}; "
                    f"page_cluster = 2 if megs < 16 else 3 "
                    f"-> {ans} (swap read-ahead of up to 2^{ans} pages).")


def _q_boost(rng: np.random.Generator, seed: int) -> Question:
    from mmsim.mm.page_alloc import mult_frac

    high = int(rng.integers(200, 30000))
    factor = int(rng.choice([15000, 15000, 5000, 30000]))
    steals = int(rng.integers(1, 80))
    cap = max(512, mult_frac(high, factor, 10000))
    ans = min(steals * 512, cap)
    return Question("boost_watermark", seed,
                    f"A zone's raw high watermark is {high} pages and watermark_boost_factor "
                    f"is {factor}. After {steals} fallback steals of blocks smaller than a "
                    "pageblock, what is watermark_boost?", ans,
                    f"each steal adds a pageblock (512 pages), capped at max(512, "
                    f"high*factor/10000 = {mult_frac(high, factor, 10000)}) = {cap}: "
                    f"min({steals}*512, {cap}) = {ans}.")


TOPICS: dict[str, Callable[[np.random.Generator, int], Question]] = {
    "min_free_kbytes": _q_min_free_kbytes,
    "watermarks": _q_watermarks,
    "lowmem_reserve": _q_lowmem_reserve,
    "zone_watermark_ok": _q_zone_watermark_ok,
    "kswapd_try_to_sleep": _q_kswapd_try_to_sleep,
    "balance_pgdat": _q_balance_pgdat,
    "kswapd": _q_compact_gap,
    "wakeup_kswapd": _q_wakeup_kswapd,
    "fragmentation_index": _q_fragmentation_index,
    "compaction_deferred": _q_compaction_deferred,
    "swap_setup": _q_swap_setup,
    "boost_watermark": _q_boost,
}


def register(topic: str, generator: Callable[[np.random.Generator, int], Question]) -> None:
    """Add a question generator (lessons may define their own)."""
    TOPICS[topic] = generator


def quiz(topic: str, seed: int = 0, n: int = 1) -> list[Question]:
    """``n`` questions on ``topic`` from ``seed`` (the i-th uses seed + i)."""
    if topic not in TOPICS:
        from mmsim.panels import all_panels

        all_panels()  # lesson modules may register their own topics
    if topic not in TOPICS:
        raise ValueError(f"topic: unknown topic {topic!r}; allowed {', '.join(sorted(TOPICS))}")
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n: {n!r} is out of range; allowed an int >= 1")
    out = []
    for i in range(n):
        s = int(seed) + i
        out.append(TOPICS[topic](np.random.default_rng(s), s))
    return out
