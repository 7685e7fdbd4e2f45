"""The ``vm.*`` sysctls that shape reclaim and compaction, validated like the kernel.

Each setting lives in ``/proc/sys/vm/`` (``transparent_hugepage`` in
``/sys/kernel/mm/transparent_hugepage/enabled``) and is written through a
handler in the kernel: ``proc_dointvec_minmax`` rejects values outside the
table's ``extra1``/``extra2`` bounds with ``-EINVAL``, and some handlers then
recompute derived state. mmsim mirrors both halves: a :class:`Sysctl` refuses
an out-of-range value with a :class:`ValueError` naming the field, the value
and the allowed range, and once it belongs to a booted node, assigning a field
runs the same recomputation the kernel's handler runs - and nothing else:

============================  =========  ==========================================
sysctl                        range      on write (v5.0)
============================  =========  ==========================================
``min_free_kbytes``           0..INT_MAX ``user_min_free_kbytes = v``; ``setup_per_zone_wmarks()``
``watermark_scale_factor``    1..1000    ``setup_per_zone_wmarks()``
``watermark_boost_factor``    0..INT_MAX nothing (the next boost uses it)
``extfrag_threshold``         0..1000    nothing (read by ``compaction_suitable``)
``lowmem_reserve_ratio``      ints       ``setup_per_zone_lowmem_reserve()`` (values < 1 become 0)
``swappiness``                0..100     nothing (read by ``get_scan_count``)
``oom_kill_allocating_task``  any int    nothing (read by ``out_of_memory``: non-zero = set)
``transparent_hugepage``      always /   always, madvise: ``set_recommended_min_free_kbytes()``
                              madvise /
                              never
============================  =========  ==========================================

Note the v5.0 subtlety of ``setup_per_zone_wmarks``: a zone that is boosted at
the time of the write keeps the boost inside its new low and high watermarks
(see :func:`mmsim.mm.page_alloc.__setup_per_zone_wmarks`).

Kernel source: kernel/sysctl.c ``vm_table``
(https://elixir.bootlin.com/linux/v5.0/source/kernel/sysctl.c) and the handlers
in mm/page_alloc.c (``min_free_kbytes_sysctl_handler``,
``watermark_scale_factor_sysctl_handler``, ``watermark_boost_factor_sysctl_handler``,
``lowmem_reserve_ratio_sysctl_handler``), mm/compaction.c
(``sysctl_extfrag_handler``), mm/huge_memory.c (``enabled_store``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mmsim.units import check_int

if TYPE_CHECKING:  # pragma: no cover
    from mmsim.mm.mmzone import Machine

INT_MAX = 2**31 - 1
MAX_NR_ZONES = 5
THP_MODES = ("always", "madvise", "never")
DEFAULT_LOWMEM_RESERVE_RATIO = (256, 256, 32, 0, 0)

#: name -> (default, lo, hi) for the integer settings
_INT_FIELDS: dict[str, tuple[int | None, int, int]] = {
    "min_free_kbytes": (None, 0, INT_MAX),
    "watermark_scale_factor": (10, 1, 1000),
    "watermark_boost_factor": (15000, 0, INT_MAX),
    "extfrag_threshold": (500, 0, 1000),
    "swappiness": (60, 0, 100),
    "oom_kill_allocating_task": (1, -INT_MAX - 1, INT_MAX),  # proc_dointvec: any int
}
FIELDS = (*_INT_FIELDS, "lowmem_reserve_ratio", "transparent_hugepage")


class Sysctl:
    """The reclaim/compaction sysctls of one machine.

    Parameters
    ----------
    min_free_kbytes
        ``None`` (default) lets the kernel compute it at boot
        (``init_per_zone_wmark_min``, raised for THP); an int is written as the
        administrator would, after boot.
    watermark_scale_factor, watermark_boost_factor, extfrag_threshold, swappiness
        As in ``/proc/sys/vm``; defaults 10, 15000, 500, 60.
    lowmem_reserve_ratio
        One int per zone (DMA, DMA32, Normal, Movable, Device); default
        ``(256, 256, 32, 0, 0)``.
    transparent_hugepage
        ``"always"``, ``"madvise"`` (default, as Debian and Ubuntu ship) or ``"never"``.
    oom_kill_allocating_task
        1 (mmsim's default): the OOM killer kills the task whose allocation
        failed; 0 (the kernel's default): it kills the task with the highest
        ``oom_badness`` (see :func:`mmsim.mm.slowpath.select_bad_process`).
        mmsim defaults to 1 because in its scenarios the task that runs out is
        the memory hog, and the lessons were written that way.

    Examples
    --------
    >>> s = Sysctl(watermark_scale_factor=200)
    >>> s.watermark_scale_factor, s.min_free_kbytes, s.lowmem_reserve_ratio
    (200, None, (256, 256, 32, 0, 0))
    >>> Sysctl(swappiness=101)
    Traceback (most recent call last):
    ...
    ValueError: swappiness: 101 is out of range; allowed 0..100
    """

    def __init__(self, min_free_kbytes: int | None = None, watermark_scale_factor: int = 10,
                 watermark_boost_factor: int = 15000, extfrag_threshold: int = 500,
                 lowmem_reserve_ratio: Any = DEFAULT_LOWMEM_RESERVE_RATIO,
                 swappiness: int = 60, transparent_hugepage: str = "madvise",
                 oom_kill_allocating_task: int = 1):
        object.__setattr__(self, "_machine", None)
        object.__setattr__(self, "_values", {})
        object.__setattr__(self, "_lowmem_reserve_ratio", [])
        self.min_free_kbytes = min_free_kbytes
        self.watermark_scale_factor = watermark_scale_factor
        self.watermark_boost_factor = watermark_boost_factor
        self.extfrag_threshold = extfrag_threshold
        self.lowmem_reserve_ratio = lowmem_reserve_ratio
        self.swappiness = swappiness
        self.transparent_hugepage = transparent_hugepage
        self.oom_kill_allocating_task = oom_kill_allocating_task

    # ---- validation ---------------------------------------------------------
    @staticmethod
    def validate(name: str, value: Any, current: Any = None) -> Any:
        """Check one value as the kernel's handler would; return it normalised.

        ``current`` is the value in force: a ``lowmem_reserve_ratio`` write of fewer
        than five integers changes only those (``proc_dointvec``), the rest keep it.
        """
        if name in _INT_FIELDS:
            _default, lo, hi = _INT_FIELDS[name]
            if name == "min_free_kbytes" and value is None:
                return None
            if isinstance(value, str):
                try:
                    value = int(value.strip())
                except ValueError:
                    raise ValueError(f"{name}: {value!r} is not an integer; "
                                     f"allowed {lo}..{hi}") from None
            return check_int(name, value, lo, hi)
        if name == "lowmem_reserve_ratio":
            if isinstance(value, str):
                value = value.split()
            if isinstance(value, dict):
                from mmsim.mm.mmzone import zone_names

                unknown = set(value) - set(zone_names)
                if unknown:
                    raise ValueError(f"lowmem_reserve_ratio: unknown zone {sorted(unknown)[0]!r};"
                                     f" allowed {', '.join(zone_names)}")
                merged = list(current or DEFAULT_LOWMEM_RESERVE_RATIO)
                for k, v in value.items():
                    merged[zone_names.index(k)] = v
                value = merged
            try:
                vals = list(value)
            except TypeError:
                raise ValueError(f"lowmem_reserve_ratio: {value!r} is not a sequence of "
                                 f"{MAX_NR_ZONES} integers") from None
            if not 1 <= len(vals) <= MAX_NR_ZONES:
                raise ValueError(f"lowmem_reserve_ratio: {len(vals)} values given; allowed "
                                 f"1..{MAX_NR_ZONES} (DMA DMA32 Normal Movable Device)")
            out = []
            for i, v in enumerate(vals):
                if isinstance(v, str):
                    try:
                        v = int(v)
                    except ValueError:
                        raise ValueError(f"lowmem_reserve_ratio[{i}]: {v!r} is not an "
                                         f"integer; allowed {-INT_MAX - 1}..{INT_MAX}") from None
                out.append(check_int(f"lowmem_reserve_ratio[{i}]", v, -INT_MAX - 1, INT_MAX))
            # proc_dointvec writes only the values given; the rest keep their values
            out += list((current or DEFAULT_LOWMEM_RESERVE_RATIO)[len(out):])
            return out
        if name == "transparent_hugepage":
            if isinstance(value, str):
                v = value.strip()
                if "[" in v and "]" in v:  # "always [madvise] never" as sysfs prints it
                    v = v[v.index("[") + 1:v.index("]")]
                if v in THP_MODES:
                    return v
            raise ValueError(f"transparent_hugepage: {value!r} is not allowed; "
                             f"allowed {', '.join(THP_MODES)}")
        raise AttributeError(f"Sysctl has no setting {name!r}; known: {', '.join(FIELDS)}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
            return
        value = self.validate(name, value, self._lowmem_reserve_ratio
                              if name == "lowmem_reserve_ratio" else None)
        machine = self._machine
        if name == "min_free_kbytes" and value is None and machine is not None:
            raise ValueError("min_free_kbytes: None (kernel default) can only be chosen "
                             "before boot; write an integer 0..2147483647")
        if name == "lowmem_reserve_ratio":
            self._lowmem_reserve_ratio[:] = value
        else:
            self._values[name] = value
        if machine is not None:
            _run_handler(machine, name)

    def __getattr__(self, name: str) -> Any:
        if name == "lowmem_reserve_ratio":
            return tuple(self._lowmem_reserve_ratio)
        values = object.__getattribute__(self, "_values")
        if name in values:
            return values[name]
        raise AttributeError(f"Sysctl has no setting {name!r}; known: {', '.join(FIELDS)}")

    # ---- helpers ------------------------------------------------------------
    def _bind(self, machine: Machine) -> None:
        if self._machine is not None and self._machine is not machine:
            raise ValueError("sysctl: this Sysctl already belongs to another machine; "
                             "pass sysctl.copy()")
        object.__setattr__(self, "_machine", machine)

    def as_dict(self) -> dict[str, Any]:
        """All settings as plain values (what a run records as its parameters)."""
        d = {name: getattr(self, name) for name in FIELDS}
        return d

    def copy(self, **changes: Any) -> Sysctl:
        """An unbound copy, optionally with some fields changed."""
        d = self.as_dict()
        d.update(changes)
        return Sysctl(**d)

    @classmethod
    def from_proc(cls, vm_dir: str = "/proc/sys/vm",
                  thp_path: str = "/sys/kernel/mm/transparent_hugepage/enabled",
                  values: dict[str, str] | None = None) -> Sysctl:
        """Read the settings from this host (or from ``values``, file name → text).

        Files that are missing are left at their defaults.
        """
        import os

        raw: dict[str, str] = dict(values or {})
        if values is None:
            for name in FIELDS:
                path = thp_path if name == "transparent_hugepage" else os.path.join(vm_dir, name)
                try:
                    with open(path) as fh:
                        raw[name] = fh.read().strip()
                except OSError:
                    continue
        kwargs: dict[str, Any] = {}
        for name, text in raw.items():
            if name not in FIELDS:
                continue
            if name == "lowmem_reserve_ratio":
                kwargs[name] = [int(t) for t in text.split()][:MAX_NR_ZONES]
            else:
                kwargs[name] = text
        return cls(**kwargs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sysctl) and self.as_dict() == other.as_dict()

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.as_dict().items())
        return f"Sysctl({inner})"


def _run_handler(machine: Machine, name: str) -> None:
    """What the kernel recomputes after a write to ``name``."""
    from mmsim.mm import page_alloc
    from mmsim.mm.khugepaged import set_recommended_min_free_kbytes

    sysctl = machine.sysctl
    if name == "min_free_kbytes":
        machine.min_free_kbytes = sysctl.min_free_kbytes
        machine.user_min_free_kbytes = sysctl.min_free_kbytes
        page_alloc.setup_per_zone_wmarks(machine)
    elif name == "watermark_scale_factor":
        page_alloc.setup_per_zone_wmarks(machine)
    elif name == "lowmem_reserve_ratio":
        page_alloc.setup_per_zone_lowmem_reserve(machine)
    elif name == "transparent_hugepage" and sysctl.transparent_hugepage != "never":
        set_recommended_min_free_kbytes(machine)
    # watermark_boost_factor, extfrag_threshold, swappiness, oom_kill_allocating_task:
    # read where used
