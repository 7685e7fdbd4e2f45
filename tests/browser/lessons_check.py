"""Check one lesson in a real JupyterLab: run it, move its panel's controls, compare with the model.

Used by ``tests/browser/test_lessons_in_lab.py`` (JupyterLab from the project's
environment) and ``tests/binder/test_binder_env.py`` (JupyterLab from the
Binder environment). The panel in the browser is matched to its
:class:`mmsim.widgets.Panel` by its bold title; the control values shown in the
browser are fed to ``Panel.render`` in this process, and the printed text in the
browser must be exactly the model's text for those values (so "the numbers
changed as the model says" is checked number by number), while the figure must
change whenever the model's figure changes.
"""

from __future__ import annotations

import base64
import contextlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labdriver import PANELS_JS, LabServer, LessonPage, PanelView

#: how each control is moved: (keys when there is room upwards, keys otherwise)
MOVES = {
    # a jump to the end of the range: one kernel round trip, a change the printed
    # numbers must show whatever the slider's step
    "min_free_kbytes": (["End"], ["Home"]),
    "order": (["ArrowRight"], ["ArrowLeft"]),
}
SLIDER_MOVES = (["ArrowRight"], ["ArrowLeft"])
DROPDOWN_MOVES = (["ArrowDown"], ["ArrowUp"])


@dataclass
class Report:
    """What happened, for the test's log and its assertions."""

    notebook: str
    timings: dict[str, float] = field(default_factory=dict)
    moves: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    screenshots: list[str] = field(default_factory=list)


def _norm(text: str) -> str:
    return "\n".join(ln.rstrip() for ln in text.strip().splitlines())


def model_panel(title: str) -> Any:
    from mmsim.panels import panel

    return panel(title)


def find_control(lp: LessonPage, name: str) -> tuple[PanelView, str] | None:
    """The first panel with a control *named* ``name``, and that control's label.

    The browser shows labels (``order (kcompactd_max_order)``); the model panel, found
    by the panel's title, says which label belongs to the knob ``name``.
    """
    for view in lp.panels():
        try:
            panel = model_panel(view.title)
        except ValueError:
            panel = None
        if panel is not None:
            for c in panel.controls:
                if c.name == name and (c.label or c.name) in view.controls:
                    return view, c.label or c.name
        elif name in view.controls:
            return view, name
    return None


def model_values(panel: Any, view: PanelView) -> dict[str, Any]:
    """The browser's control values, converted to the model's types."""
    vals: dict[str, Any] = {}
    for c in panel.controls:
        label = c.label or c.name
        shown = view.controls.get(label)
        if shown is None or shown.get("value") in (None, ""):
            raise ValueError(f"control {label!r} not readable in the browser "
                             f"(found {sorted(view.controls)})")
        raw = str(shown["value"]).replace("\u00a0", " ").strip()
        if c.kind in ("int", "log2"):
            vals[c.name] = int(raw.replace(",", ""))
        elif c.kind == "float":
            v = float(raw)
            step = c.step or (c.max - c.min) / 100
            on_grid = c.min + round((v - c.min) / step) * step
            vals[c.name] = round(min(c.max, max(c.min, on_grid)), 10)
        elif c.kind == "choice":
            vals[c.name] = next(o for o in c.options if str(o) == raw)
        else:
            vals[c.name] = raw == "True"
    return vals


def watermark_lows(text: str) -> dict[str, int]:
    """``{zone: low}`` from printed lines.

    >>> watermark_lows("DMA32: min 6356  low 7945  high 9534  (managed 773120)")
    {'DMA32': 7945}
    >>> watermark_lows("min_free_kbytes 2048: DMA32 min/low/high = 475/593/711; lowest 9")
    {'DMA32': 593}
    >>> watermark_lows("Normal free  2048 | watermarks min 228 low 285 high 342 | mark low + 1")
    {'Normal': 285}
    """
    out = {}
    for ln in text.splitlines():
        # "... DMA32 min/low/high = 475/593/711 ..."
        for m in re.finditer(r"\b([A-Za-z][\w.]*)\s+min/low/high\s*=\s*\d+/(\d+)/\d+", ln):
            out[m.group(1)] = int(m.group(2))
        m = re.match(r"\s*([A-Za-z][\w.]*):?\s.*?\blow\b\s*[:=]?\s*(\d+)", ln)
        if m and m.group(1) not in out:
            out[m.group(1)] = int(m.group(2))
    return out


def _png_b64(out: Any) -> str:
    png = out.png()
    return base64.b64encode(png).decode() if png else ""


def check_lesson(lp: LessonPage, shots: Path, stem: str, required: tuple[str, ...] = (),
                 optional: tuple[str, ...] = (), exact_png: bool = True) -> Report:
    """Run the lesson and check it; raises AssertionError with a readable message."""
    rep = Report(lp.rel)
    page = lp.page
    lp.open()
    lp.run_all()
    rep.timings.update(lp.timings)

    errors = lp.error_outputs()
    if errors:
        page.screenshot(path=str(shots / f"{stem}-error.png"))
    assert not errors, f"{lp.rel}: error output after Run All:\n{errors[0][:1500]}"
    prompts = lp.prompts()
    assert prompts and all(re.fullmatch(r"\[\d+\]:", p) for p in prompts), \
        f"{lp.rel}: not every cell ran: {prompts}"
    for s in lp.stderr_outputs():
        rep.notes.append(f"stderr output (not an error): {s[:200]!r}")

    # the panels render asynchronously after their cell finished
    wanted = required + optional
    deadline = 30_000
    # (on a timeout, go on: the checks below say what is missing)
    with contextlib.suppress(Exception):
        page.wait_for_function(
            "() => (" + PANELS_JS + ")().some(p => p.img && p.img.length > 100)",
            timeout=deadline)
    # placeholders ("Loading widget...") must be gone once everything is rendered
    problems = lp.widget_problems()
    for _ in range(20):
        if not problems:
            break
        page.wait_for_timeout(500)
        problems = lp.widget_problems()
    if problems:
        page.screenshot(path=str(shots / f"{stem}-widget-error.png"))
    assert not problems, f"{lp.rel}: widget errors or placeholders on the page: {problems}"

    panels = lp.panels()
    found = {name: find_control(lp, name) for name in wanted}
    first = next((f[0] for f in found.values() if f), None)
    if first is None and not required and panels:
        # none of the named controls: drive the first slider of the first panel instead
        # (no slider at all: a dropdown, moved with the keyboard like a slider)
        sliders = [lbl for lbl, c in panels[0].controls.items() if c["kind"] == "slider"] \
            or [lbl for lbl, c in panels[0].controls.items() if c["kind"] == "dropdown"]
        if sliders:
            rep.notes.append(f"no {' / '.join(wanted)} control: "
                             f"moved {sliders[0]!r} of {panels[0].title!r} instead")
            first, wanted = panels[0], (sliders[0],)
            found = {sliders[0]: (first, sliders[0])}
    if first is None:
        page.screenshot(path=str(shots / f"{stem}-no-panel.png"))
    assert first is not None, (
        f"{lp.rel}: no mmsim panel with a control labelled {' or '.join(map(repr, wanted))}; "
        f"panels found: {[(p.title, sorted(p.controls)) for p in panels]}")
    _shoot(lp, first, shots / f"{stem}-before.png", rep)

    for name in wanted:
        if found[name] is None:
            assert name not in required, (
                f"{lp.rel}: no panel with a {name!r} control; panels: "
                f"{[(p.title, sorted(p.controls)) for p in panels]}")
            rep.notes.append(f"no {name!r} control in this lesson")
            continue
        view, label = found[name]
        _move_and_check(lp, lp.refresh(view), name, label, rep, exact_png)
        safe = re.sub(r"[^\w.-]+", "_", name).strip("_")  # labels like "rate (MiB/s)"
        _shoot(lp, view, shots / f"{stem}-after-{safe}.png", rep)

    body_problems = lp.widget_problems()
    assert not body_problems, f"{lp.rel}: widget errors after moving controls: {body_problems}"
    assert not lp.error_outputs(), f"{lp.rel}: error output after moving controls: " \
        f"{lp.error_outputs()[0][:1500]}"
    page.screenshot(path=str(shots / f"{stem}-page.png"))
    rep.screenshots.append(str(shots / f"{stem}-page.png"))
    return rep


def _shoot(lp: LessonPage, view: PanelView, path: Path, rep: Report) -> None:
    cell = lp.panel_cell(view)
    cell.scroll_into_view_if_needed()
    lp.page.wait_for_timeout(200)
    cell.screenshot(path=str(path))
    rep.screenshots.append(str(path))


def _move_and_check(lp: LessonPage, view: PanelView, name: str, label: str, rep: Report,
                    exact_png: bool) -> None:
    import time

    panel = model_panel(view.title)
    view = lp.settle(view)
    vals0 = model_values(panel, view)
    out0 = panel.render(**vals0)
    assert _norm(view.text) == _norm(out0.text), (
        f"{lp.rel}: panel {view.title!r} prints something else than the model for "
        f"{vals0}:\nbrowser: {view.text!r}\nmodel:   {out0.text!r}")
    ctl = view.controls[label]
    up, down = MOVES.get(name, SLIDER_MOVES) if ctl["kind"] == "slider" else DROPDOWN_MOVES
    keys = up
    control = next(c for c in panel.controls if (c.label or c.name) == label)
    if control.kind in ("int", "float") and control.max is not None:
        room = control.max - vals0[control.name]
        keys = up if room >= (control.max - control.min) / 10 else down
    elif control.kind == "log2":
        keys = up if vals0[control.name] < control.max else down
    elif control.kind == "choice":
        keys = up if control.options.index(vals0[control.name]) < len(control.options) - 1 \
            else down

    t = time.monotonic()
    lp.press_on(view, label, keys)
    moved = lp.wait_until(view, lambda v: v.controls[label]["value"] != ctl["value"],
                          f"{label} moving with {keys}", timeout_s=30)
    # wait for the printed text of the *new* values (one kernel round trip per key)
    expected: dict[tuple, Any] = {}

    def shows_model(v: PanelView) -> bool:
        try:
            vals = model_values(panel, v)
        except (ValueError, StopIteration):
            return False
        key = tuple(sorted(vals.items()))
        if key not in expected:
            expected[key] = panel.render(**vals)
        return _norm(v.text) == _norm(expected[key].text) and bool(v.img)

    lp.wait_until(moved, shows_model, f"the printed text after moving {label}", timeout_s=90)
    after = lp.settle(moved)
    assert shows_model(after), f"{lp.rel}: panel changed again after settling"
    elapsed = time.monotonic() - t
    vals1 = model_values(panel, after)
    out1 = panel.render(**vals1)
    rep.timings[f"move_{name}"] = round(elapsed, 2)
    rep.moves.append(f"{view.title}: {label} {vals0[control.name]} -> {vals1[control.name]} "
                     f"({'+'.join(keys)}, {elapsed:.1f} s)")
    assert vals1[control.name] != vals0[control.name], f"{label} did not move"

    # the figure: changed whenever the model's figure changed
    png0, png1 = _png_b64(out0), _png_b64(out1)
    if png0 != png1:
        assert after.img and after.img != view.img, \
            f"{lp.rel}: {label} {vals0[control.name]} -> {vals1[control.name]}: " \
            "the model's figure changed but the browser's did not"
    else:
        rep.notes.append(f"{label}: the model draws the same figure for both values")
    if exact_png and png1:
        # same environment as the kernel: the very same PNG bytes
        assert after.img and after.img.split(",", 1)[-1] == png1, (
            f"{lp.rel}: {label} = {vals1[control.name]}: the browser's figure is not the "
            "model's figure for the values the controls show")
        rep.notes.append(f"{label}: browser figure is byte-identical to the model's PNG")

    # the numbers: exactly the model's (checked above), and for min_free_kbytes the
    # direction the kernel's formulas give: more min_free_kbytes -> higher low watermarks
    if name == "min_free_kbytes":
        assert _norm(out0.text) != _norm(out1.text), (
            f"{lp.rel}: panel {view.title!r}: moving min_free_kbytes "
            f"{vals0[control.name]} -> {vals1[control.name]} changes none of the printed "
            "numbers")
        assert png0 != png1, f"{lp.rel}: moving min_free_kbytes does not change the figure"
        lows0, lows1 = watermark_lows(view.text), watermark_lows(after.text)
        common = sorted(set(lows0) & set(lows1))
        if common:
            up_ = vals1[control.name] > vals0[control.name]
            diffs = {z: lows1[z] - lows0[z] for z in common}
            if up_:
                assert all(d >= 0 for d in diffs.values()) and any(d > 0 for d in diffs.values()), \
                    f"{lp.rel}: larger min_free_kbytes but printed low watermarks moved {diffs}"
            else:
                assert all(d <= 0 for d in diffs.values()) and any(d < 0 for d in diffs.values()), \
                    f"{lp.rel}: smaller min_free_kbytes but printed low watermarks moved {diffs}"
            rep.notes.append(f"low watermark changes: {diffs}")
        else:
            rep.notes.append("no 'zone: ... low N' lines printed; checked against the model only")


def open_lesson(page: Any, server: LabServer, stem: str) -> LessonPage:
    return LessonPage(page, server, f"notebooks/{stem}.ipynb")
