"""Every lesson panel renders headless at each control's min, default and max."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest

from mmsim.panels import all_panels
from mmsim.widgets import Control, Panel, PanelOutput

CASES = [(mod, p, c, v) for mod, panels in all_panels().items() for p in panels
         for c in p.controls for v in c.test_values()]


@pytest.mark.parametrize("mod,panel,control,value", CASES,
                         ids=[f"{m}:{p.name}:{c.name}={v}" for m, p, c, v in CASES])
def test_panel_renders(mod: str, panel: Panel, control: Control, value: object) -> None:
    out = panel.render(**{control.name: value})
    assert isinstance(out, PanelOutput)
    assert out.figure is not None or out.text or out.table is not None
    if out.figure is not None:
        assert out.png()[:8] == b"\x89PNG\r\n\x1a\n"


def test_panel_rejects_out_of_range() -> None:
    for panels in all_panels().values():
        for p in panels:
            for c in p.controls:
                if c.kind in ("int", "float", "log2") and c.max is not None:
                    with pytest.raises(ValueError, match=c.name):
                        p.render(**{c.name: c.max + (c.step or 1) * 2 if c.kind != "log2"
                                    else c.max * 2})


def test_min_free_kbytes_panel_numbers_move_with_the_slider() -> None:
    from mmsim.panels.l01_min_free_kbytes import PANELS

    p = PANELS[0]
    lo = p.render(min_free_kbytes=16384).text
    hi = p.render(min_free_kbytes=65536).text

    def low_of(text: str, zone: str) -> int:
        line = next(ln for ln in text.splitlines() if ln.startswith(zone + ":"))
        return int(line.split("low")[1].split()[0])

    assert low_of(hi, "DMA32") > low_of(lo, "DMA32")


def test_widget_builds_with_controls() -> None:
    pytest.importorskip("ipywidgets")
    from mmsim.panels.l01_min_free_kbytes import PANELS

    box = PANELS[0].widget(freeze_gc=False)
    assert set(box.mmsim_controls) == {c.name for c in PANELS[0].controls}


def test_widget_freezes_the_lessons_objects_for_the_collector() -> None:
    import gc

    pytest.importorskip("ipywidgets")
    from mmsim.panels.l01_min_free_kbytes import PANELS

    gc.unfreeze()
    try:
        PANELS[0].widget(freeze_gc=False)
        assert gc.get_freeze_count() == 0
        PANELS[0].widget()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()  # the rest of the test run collects as usual
