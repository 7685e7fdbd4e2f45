"""Sizes and checked values: the small vocabulary every other module uses.

Sizes reach mmsim in two forms: an ``int`` is a number of 4 KiB pages, a string
is an amount with a binary unit (``"16MiB"``, ``"3GiB"``, ``"512KiB"``, or a
plain ``"4096"`` that is again pages). Every conversion rejects what the kernel
would never see - a negative size, an amount that is not a whole number of
pages - with a :class:`ValueError` that names the field, the value and what is
allowed, so a mistake is reported where it was made and not deep inside the
allocator.
"""

from __future__ import annotations

import re

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT

_UNITS = {
    "": None,  # bare number: pages
    "b": 1,
    "k": 1 << 10,
    "kb": 1 << 10,
    "kib": 1 << 10,
    "m": 1 << 20,
    "mb": 1 << 20,
    "mib": 1 << 20,
    "g": 1 << 30,
    "gb": 1 << 30,
    "gib": 1 << 30,
    "t": 1 << 40,
    "tb": 1 << 40,
    "tib": 1 << 40,
    "pages": None,
    "page": None,
}

_SIZE_RE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")


def parse_pages(value: int | str, field: str = "size") -> int:
    """Convert a size to a number of 4 KiB pages.

    Parameters
    ----------
    value
        An ``int`` (pages) or a string such as ``"16MiB"`` (``KB``/``MB``/``GB``
        are read as binary units, as ``/proc`` does).
    field
        Name used in the error message.

    Raises
    ------
    ValueError
        For negative sizes, unknown units, or amounts that are not a whole
        number of pages.

    Examples
    --------
    >>> parse_pages("16MiB"), parse_pages(512), parse_pages("2GiB")
    (4096, 512, 524288)
    >>> parse_pages("-1MiB", "zones['DMA']")
    Traceback (most recent call last):
    ...
    ValueError: zones['DMA']: size '-1MiB' is negative; sizes are >= 0
    """
    if isinstance(value, bool):
        raise ValueError(f"{field}: {value!r} is not a size; give pages (int) or e.g. '16MiB'")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{field}: size {value} pages is negative; sizes are >= 0")
        return value
    if not isinstance(value, str):
        raise ValueError(
            f"{field}: {value!r} is not a size; give pages (int) or a string like '16MiB'"
        )
    m = _SIZE_RE.match(value)
    if not m:
        raise ValueError(f"{field}: cannot read size {value!r}; expected e.g. '16MiB' or 4096")
    num, unit = m.group(1), m.group(2).lower()
    if unit not in _UNITS:
        raise ValueError(
            f"{field}: unknown unit {m.group(2)!r} in {value!r}; use KiB, MiB, GiB, TiB or pages"
        )
    if num.startswith("-"):
        raise ValueError(f"{field}: size {value!r} is negative; sizes are >= 0")
    mult = _UNITS[unit]
    if mult is None:
        if "." in num:
            raise ValueError(f"{field}: {value!r} is not a whole number of pages")
        return int(num)
    if "." in num:
        whole, frac = num.split(".")
        scale = 10 ** len(frac)
        nbytes_num = (int(whole) * scale + int(frac)) * mult
        if nbytes_num % scale:
            raise ValueError(f"{field}: {value!r} is not a whole number of bytes")
        nbytes = nbytes_num // scale
    else:
        nbytes = int(num) * mult
    if nbytes % PAGE_SIZE:
        raise ValueError(
            f"{field}: size {value!r} is not a multiple of the 4 KiB page size "
            f"({nbytes} bytes = {nbytes / PAGE_SIZE:.3f} pages)"
        )
    return nbytes // PAGE_SIZE


def format_pages(pages: int) -> str:
    """A human-readable binary size for a page count.

    >>> format_pages(4096), format_pages(786432), format_pages(3)
    ('16 MiB', '3 GiB', '12 KiB')
    """
    nbytes = pages * PAGE_SIZE
    for unit, shift in (("TiB", 40), ("GiB", 30), ("MiB", 20)):
        if nbytes >= (1 << shift) and nbytes % (1 << shift) == 0:
            return f"{nbytes >> shift} {unit}"
    if nbytes >= (1 << 30):
        return f"{nbytes / (1 << 30):.2f} GiB"
    if nbytes >= (1 << 20):
        return f"{nbytes / (1 << 20):.1f} MiB"
    return f"{nbytes >> 10} KiB"


def check_int(field: str, value: object, lo: int | None = None, hi: int | None = None) -> int:
    """Return ``value`` as an int if it lies in ``[lo, hi]``; else a clear ValueError.

    >>> check_int("order", 3, 0, 10)
    3
    >>> check_int("order", 11, 0, 10)
    Traceback (most recent call last):
    ...
    ValueError: order: 11 is out of range; allowed 0..10
    """
    if isinstance(value, bool) or not isinstance(value, (int,)):
        try:
            import numpy as np

            if isinstance(value, np.integer):
                value = int(value)
            else:
                raise TypeError
        except TypeError:
            allowed = "" if lo is None and hi is None else \
                f"; allowed {'' if lo is None else lo}..{'' if hi is None else hi}"
            raise ValueError(f"{field}: {value!r} is not an integer{allowed}") from None
    assert isinstance(value, int)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        lo_s = "" if lo is None else str(lo)
        hi_s = "" if hi is None else str(hi)
        raise ValueError(f"{field}: {value} is out of range; allowed {lo_s}..{hi_s}")
    return value
