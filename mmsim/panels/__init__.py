"""The interactive panels of the lessons, one module per lesson.

Each module ``lNN_<slug>.py`` defines ``PANELS``: a list of
:class:`mmsim.widgets.Panel`. ``all_panels()`` collects them, so the tests
render every panel headless at each control's minimum, default and maximum,
and the benchmarks time them.
"""

from __future__ import annotations

import importlib
import pkgutil

from mmsim.widgets import Panel


def all_panels() -> dict[str, list[Panel]]:
    """Lesson module name -> its panels."""
    out: dict[str, list[Panel]] = {}
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not mod.name.startswith("l"):
            continue
        m = importlib.import_module(f"{__name__}.{mod.name}")
        out[mod.name] = list(getattr(m, "PANELS", []))
    return out


def panel(name: str) -> Panel:
    """Find a panel by its name."""
    for panels in all_panels().values():
        for p in panels:
            if p.name == name:
                return p
    raise ValueError(f"panel: no panel named {name!r}")
