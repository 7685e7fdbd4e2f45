"""GFP flags: how a caller tells the page allocator what it may do.

Every allocation carries a ``gfp_t`` mask. Its low bits name the highest zone
the pages may come from (``__GFP_DMA``, ``__GFP_DMA32``, ``__GFP_HIGHMEM`` with
``__GFP_MOVABLE`` for ``ZONE_MOVABLE``; none means ``ZONE_NORMAL``) and the
mobility of the pages (``__GFP_MOVABLE``, ``__GFP_RECLAIMABLE``; none means
unmovable), which selects the migratetype free list. The rest say how hard
the allocator may try: ``__GFP_KSWAPD_RECLAIM`` lets it wake kswapd,
``__GFP_DIRECT_RECLAIM`` lets the caller sleep and reclaim itself,
``__GFP_HIGH``/``__GFP_ATOMIC`` let it dip below the min watermark, and so on.

The bit values are those of v5.0 (with ``CONFIG_LOCKDEP`` off), so a trace that
prints a raw mask reads the same as the kernel's.

Kernel source: include/linux/gfp.h,
https://elixir.bootlin.com/linux/v5.0/source/include/linux/gfp.h
"""

from __future__ import annotations

from mmsim.mm.mmzone import (
    MIGRATE_MOVABLE,
    MIGRATE_RECLAIMABLE,
    MIGRATE_UNMOVABLE,
    ZONE_DMA,
    ZONE_DMA32,
    ZONE_MOVABLE,
    ZONE_NORMAL,
)

__GFP_DMA = 0x01
__GFP_HIGHMEM = 0x02
__GFP_DMA32 = 0x04
__GFP_MOVABLE = 0x08
__GFP_RECLAIMABLE = 0x10
__GFP_HIGH = 0x20
__GFP_IO = 0x40
__GFP_FS = 0x80
__GFP_WRITE = 0x100
__GFP_NOWARN = 0x200
__GFP_RETRY_MAYFAIL = 0x400
__GFP_NOFAIL = 0x800
__GFP_NORETRY = 0x1000
__GFP_MEMALLOC = 0x2000
__GFP_COMP = 0x4000
__GFP_ZERO = 0x8000
__GFP_NOMEMALLOC = 0x10000
__GFP_HARDWALL = 0x20000
__GFP_THISNODE = 0x40000
__GFP_ATOMIC = 0x80000
__GFP_ACCOUNT = 0x100000
__GFP_DIRECT_RECLAIM = 0x200000
__GFP_KSWAPD_RECLAIM = 0x400000
__GFP_RECLAIM = __GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM
__GFP_BITS_SHIFT = 23

GFP_ZONEMASK = __GFP_DMA | __GFP_HIGHMEM | __GFP_DMA32 | __GFP_MOVABLE
GFP_MOVABLE_MASK = __GFP_RECLAIMABLE | __GFP_MOVABLE

GFP_ATOMIC = __GFP_HIGH | __GFP_ATOMIC | __GFP_KSWAPD_RECLAIM
GFP_KERNEL = __GFP_RECLAIM | __GFP_IO | __GFP_FS
GFP_KERNEL_ACCOUNT = GFP_KERNEL | __GFP_ACCOUNT
GFP_NOWAIT = __GFP_KSWAPD_RECLAIM
GFP_NOIO = __GFP_RECLAIM
GFP_NOFS = __GFP_RECLAIM | __GFP_IO
GFP_USER = __GFP_RECLAIM | __GFP_IO | __GFP_FS | __GFP_HARDWALL
GFP_DMA = __GFP_DMA
GFP_DMA32 = __GFP_DMA32
GFP_HIGHUSER = GFP_USER | __GFP_HIGHMEM
GFP_HIGHUSER_MOVABLE = GFP_HIGHUSER | __GFP_MOVABLE
GFP_TRANSHUGE_LIGHT = (GFP_HIGHUSER_MOVABLE | __GFP_COMP | __GFP_NOMEMALLOC
                       | __GFP_NOWARN) & ~__GFP_RECLAIM
GFP_TRANSHUGE = GFP_TRANSHUGE_LIGHT | __GFP_DIRECT_RECLAIM

#: composite names first, as ``show_gfp_flags`` (include/trace/events/mmflags.h) prints them
_COMPOSITES = (
    ("GFP_TRANSHUGE", GFP_TRANSHUGE),
    ("GFP_TRANSHUGE_LIGHT", GFP_TRANSHUGE_LIGHT),
    ("GFP_HIGHUSER_MOVABLE", GFP_HIGHUSER_MOVABLE),
    ("GFP_HIGHUSER", GFP_HIGHUSER),
    ("GFP_USER", GFP_USER),
    ("GFP_KERNEL_ACCOUNT", GFP_KERNEL_ACCOUNT),
    ("GFP_KERNEL", GFP_KERNEL),
    ("GFP_NOFS", GFP_NOFS),
    ("GFP_ATOMIC", GFP_ATOMIC),
    ("GFP_NOIO", GFP_NOIO),
    ("GFP_NOWAIT", GFP_NOWAIT),
    ("GFP_DMA", GFP_DMA),
    ("__GFP_HIGHMEM", __GFP_HIGHMEM),
    ("GFP_DMA32", GFP_DMA32),
    ("__GFP_HIGH", __GFP_HIGH),
    ("__GFP_ATOMIC", __GFP_ATOMIC),
    ("__GFP_IO", __GFP_IO),
    ("__GFP_FS", __GFP_FS),
    ("__GFP_NOWARN", __GFP_NOWARN),
    ("__GFP_RETRY_MAYFAIL", __GFP_RETRY_MAYFAIL),
    ("__GFP_NOFAIL", __GFP_NOFAIL),
    ("__GFP_NORETRY", __GFP_NORETRY),
    ("__GFP_COMP", __GFP_COMP),
    ("__GFP_ZERO", __GFP_ZERO),
    ("__GFP_NOMEMALLOC", __GFP_NOMEMALLOC),
    ("__GFP_MEMALLOC", __GFP_MEMALLOC),
    ("__GFP_HARDWALL", __GFP_HARDWALL),
    ("__GFP_THISNODE", __GFP_THISNODE),
    ("__GFP_RECLAIMABLE", __GFP_RECLAIMABLE),
    ("__GFP_MOVABLE", __GFP_MOVABLE),
    ("__GFP_ACCOUNT", __GFP_ACCOUNT),
    ("__GFP_WRITE", __GFP_WRITE),
    ("__GFP_RECLAIM", __GFP_RECLAIM),
    ("__GFP_DIRECT_RECLAIM", __GFP_DIRECT_RECLAIM),
    ("__GFP_KSWAPD_RECLAIM", __GFP_KSWAPD_RECLAIM),
)

#: names a user may pass as ``gfp="GFP_KERNEL|__GFP_NOWARN"``
GFP_NAMES: dict[str, int] = {name: value for name, value in _COMPOSITES}


def show_gfp_flags(gfp: int) -> str:
    """Symbolic text of a mask, as the ``gfp_flags=%s`` tracepoint field prints it.

    >>> show_gfp_flags(GFP_KERNEL), show_gfp_flags(0)
    ('GFP_KERNEL', 'none')
    >>> show_gfp_flags(GFP_KERNEL | __GFP_NOWARN | __GFP_COMP)
    'GFP_KERNEL|__GFP_NOWARN|__GFP_COMP'
    """
    if gfp == 0:
        return "none"
    parts = []
    rest = gfp
    for name, value in _COMPOSITES:
        if value and (rest & value) == value:
            parts.append(name)
            rest &= ~value
    if rest:
        parts.append(hex(rest))
    return "|".join(parts)


def parse_gfp(value: int | str) -> int:
    """Accept an int mask or ``"GFP_KERNEL|__GFP_NOWARN"`` text.

    >>> parse_gfp("GFP_KERNEL") == GFP_KERNEL
    True
    >>> parse_gfp("GFP_NOPE")
    Traceback (most recent call last):
    ...
    ValueError: gfp: unknown flag 'GFP_NOPE'; known: GFP_TRANSHUGE, GFP_TRANSHUGE_LIGHT, ...
    """
    if isinstance(value, bool):
        raise ValueError(f"gfp: {value!r} is not a gfp mask")
    if isinstance(value, int):
        if value < 0 or value >> __GFP_BITS_SHIFT:
            raise ValueError(
                f"gfp: {value:#x} has bits outside the {__GFP_BITS_SHIFT} gfp bits of v5.0")
        return value
    if not isinstance(value, str):
        raise ValueError(f"gfp: {value!r} is not a gfp mask (int or 'GFP_KERNEL|...')")
    mask = 0
    for part in value.replace(" ", "").split("|"):
        if part in ("", "none", "0"):
            continue
        if part.startswith("0x"):
            try:
                mask |= int(part, 16)
                continue
            except ValueError:
                pass
        if part not in GFP_NAMES:
            known = ", ".join(list(GFP_NAMES)[:2])
            raise ValueError(f"gfp: unknown flag {part!r}; known: {known}, ...")
        mask |= GFP_NAMES[part]
    return mask


def gfp_zone(gfp: int) -> int:
    """Highest zone index the mask allows (``gfp_zone``).

    Simplifications: the kernel's ``GFP_ZONE_TABLE`` treats invalid combinations
    (``__GFP_DMA|__GFP_DMA32``) as a bug; mmsim takes the lowest zone named.

    >>> gfp_zone(GFP_KERNEL), gfp_zone(GFP_HIGHUSER_MOVABLE), gfp_zone(GFP_DMA32)
    (2, 3, 1)
    """
    if gfp & __GFP_DMA:
        return ZONE_DMA
    if gfp & __GFP_DMA32:
        return ZONE_DMA32
    if (gfp & (__GFP_HIGHMEM | __GFP_MOVABLE)) == (__GFP_HIGHMEM | __GFP_MOVABLE):
        return ZONE_MOVABLE
    return ZONE_NORMAL  # __GFP_HIGHMEM alone is Normal on 64-bit; so is __GFP_MOVABLE alone


def gfpflags_to_migratetype(gfp: int) -> int:
    """The free list an allocation takes from (``gfpflags_to_migratetype``).

    >>> gfpflags_to_migratetype(GFP_KERNEL), gfpflags_to_migratetype(GFP_HIGHUSER_MOVABLE)
    (0, 1)
    """
    bits = gfp & GFP_MOVABLE_MASK
    if bits & __GFP_MOVABLE:
        return MIGRATE_MOVABLE
    if bits & __GFP_RECLAIMABLE:
        return MIGRATE_RECLAIMABLE
    return MIGRATE_UNMOVABLE


def gfpflags_allow_blocking(gfp: int) -> bool:
    return bool(gfp & __GFP_DIRECT_RECLAIM)
