"""Interactive panels built from a declarative list of controls.

A lesson's panel is *data*: a list of :class:`Control` (name, range, default,
label) and an ``update`` function that turns control values into a
:class:`PanelOutput` (a figure, a short text with the numbers that matter,
optionally a table). :class:`Panel` validates values against the controls,
caches results by value (an LRU cache, so moving a slider back is instant),
and builds the ipywidgets form only when asked - so tests drive every panel
headless, at each control's minimum, default and maximum, with no browser.

Examples
--------
>>> def update(order=0):
...     return PanelOutput(text=f"order {order} = {1 << order} pages")
>>> p = Panel("demo", [Control("order", "int", 3, 0, 10)], update)
>>> p.render(order=9).text
'order 9 = 512 pages'
>>> p.render(order=11)
Traceback (most recent call last):
...
ValueError: order: 11 is out of range; allowed 0..10
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

#: widget kinds a control can have
KINDS = ("int", "float", "choice", "bool", "log2")


@dataclass(frozen=True)
class Control:
    """One knob of a panel.

    Parameters
    ----------
    name
        Keyword passed to the update function.
    kind
        ``int``, ``float``, ``choice`` (one of ``options``), ``bool``, or
        ``log2`` (an int slider over powers of two between min and max).
    default, min, max, step
        Range; ``step`` defaults to 1 for ints.
    options
        Values of a ``choice`` control.
    label
        What the widget shows (defaults to ``name``: use the kernel's name).
    help
        One line for the tooltip and the docs.
    """

    name: str
    kind: str
    default: Any
    min: Any = None
    max: Any = None
    step: Any = None
    options: tuple = ()
    label: str = ""
    help: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Control.kind: {self.kind!r} is not allowed; allowed "
                             f"{', '.join(KINDS)}")
        if self.kind == "choice" and self.default not in self.options:
            raise ValueError(f"Control {self.name}: default {self.default!r} is not one of "
                             f"{list(self.options)}")
        if self.kind in ("int", "float", "log2"):
            self.validate(self.default)

    def validate(self, value: Any) -> Any:
        """The value, checked and normalised; a clear ValueError otherwise."""
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"{self.name}: {value!r} is not allowed; allowed True, False")
            return value
        if self.kind == "choice":
            if value not in self.options:
                raise ValueError(f"{self.name}: {value!r} is not allowed; allowed "
                                 f"{', '.join(map(str, self.options))}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{self.name}: {value!r} is not a number")
        if self.kind in ("int", "log2"):
            if int(value) != value:
                raise ValueError(f"{self.name}: {value!r} is not an integer")
            value = int(value)
        if (self.min is not None and value < self.min) or \
                (self.max is not None and value > self.max):
            raise ValueError(f"{self.name}: {value} is out of range; allowed "
                             f"{self.min}..{self.max}")
        if self.kind == "log2" and value & (value - 1):
            raise ValueError(f"{self.name}: {value} is not a power of two")
        return value

    def test_values(self) -> list[Any]:
        """The values a headless test should try: min, default, max (or all options)."""
        if self.kind == "bool":
            return [False, True]
        if self.kind == "choice":
            return list(self.options)
        vals = [self.min, self.default, self.max]
        out: list[Any] = []
        for v in vals:
            if v is not None and v not in out:
                out.append(v)
        return out

    def widget(self) -> Any:
        """The ipywidgets control for this knob."""
        import ipywidgets as w

        desc = self.label or self.name
        style = {"description_width": "initial"}
        layout = w.Layout(width="420px")
        common = dict(description=desc, style=style, layout=layout, continuous_update=False)
        if self.kind == "int":
            return w.IntSlider(value=self.default, min=self.min, max=self.max,
                               step=self.step or 1, **common)
        if self.kind == "log2":
            opts = []
            v = self.min
            while v <= self.max:
                opts.append(v)
                v *= 2
            return w.SelectionSlider(options=opts, value=self.default, **common)
        if self.kind == "float":
            return w.FloatSlider(value=self.default, min=self.min, max=self.max,
                                 step=self.step or (self.max - self.min) / 100, **common)
        if self.kind == "choice":
            return w.Dropdown(options=list(self.options), value=self.default, description=desc,
                              style=style, layout=layout)
        return w.Checkbox(value=self.default, description=desc, style=style)


@dataclass
class PanelOutput:
    """What one update produced: a figure, a short text, maybe a table."""

    figure: Any = None
    text: str = ""
    table: Any = None

    def show(self) -> None:
        """Display the figure (as PNG), the table and the text."""
        from IPython.display import display

        _display(self, display)

    def png(self) -> bytes | None:
        return png_bytes(self.figure) if self.figure is not None else None

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        import base64

        out: dict[str, Any] = {"text/plain": self.text or "<mmsim panel output>"}
        if self.figure is not None:
            out["image/png"] = base64.b64encode(png_bytes(self.figure)).decode()
        return out


@dataclass
class Panel:
    """A lesson panel: controls plus a pure update function, with a result cache."""

    name: str
    controls: Sequence[Control]
    update: Callable[..., PanelOutput]
    cache_size: int = 32
    _cache: OrderedDict = field(default_factory=OrderedDict, repr=False)

    def defaults(self) -> dict[str, Any]:
        return {c.name: c.default for c in self.controls}

    def validate(self, values: dict[str, Any]) -> dict[str, Any]:
        names = {c.name for c in self.controls}
        unknown = set(values) - names
        if unknown:
            raise ValueError(f"{self.name}: unknown control {sorted(unknown)[0]!r}; allowed "
                             f"{', '.join(sorted(names))}")
        out = self.defaults()
        for c in self.controls:
            if c.name in values:
                out[c.name] = c.validate(values[c.name])
        return out

    def render(self, **values: Any) -> PanelOutput:
        """Validated, cached ``update(**values)`` (defaults for missing values)."""
        vals = self.validate(values)
        key = tuple(sorted(vals.items()))
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        out = self.update(**vals)
        if not isinstance(out, PanelOutput):
            raise TypeError(f"{self.name}: update must return a PanelOutput, got "
                            f"{type(out).__name__}")
        self._cache[key] = out
        while len(self._cache) > self.cache_size:
            _key, old = self._cache.popitem(last=False)
            _close(old)
        return out

    def show(self, **values: Any) -> PanelOutput:
        """Render and display once (a static output for the stored notebook)."""
        from IPython.display import display

        out = self.render(**values)
        _display(out, display)
        return out

    def widget(self, freeze_gc: bool = True) -> Any:
        """The interactive form: controls, then the figure and the text below them.

        With ``freeze_gc`` (the default) the objects the lesson has built so far
        are moved out of the garbage collector's sight first
        (:func:`freeze_setup`), so moving a control is not held up by full
        collections over them.
        """
        import ipywidgets as w
        from IPython.display import display

        if freeze_gc:
            freeze_setup()
        ctrls = {c.name: c.widget() for c in self.controls}
        output = w.Output()

        def redraw(**vals: Any) -> None:
            with output:
                output.clear_output(wait=True)
                _display(self.render(**vals), display)

        def on_change(_change: Any = None) -> None:
            redraw(**{k: v.value for k, v in ctrls.items()})

        for c in ctrls.values():
            c.observe(on_change, names="value")
        on_change()
        box = w.VBox([w.HTML(f"<b>{self.name}</b>"), *ctrls.values(), output])
        box.mmsim_controls = ctrls  # for tests and the browser check
        return box


def freeze_setup() -> None:
    """Collect garbage, then ``gc.freeze()`` what is left (the lesson's long-lived state).

    A notebook keeps hundreds of thousands of objects alive (simulation
    results, matplotlib artists); every full collection walks all of them,
    which shows as pauses of 100-200 ms on random control moves. Frozen
    objects are skipped by the collector. They are still freed by reference
    counting; only reference cycles among them are never collected, which is
    fine for state that lives as long as the notebook. ``benchmarks/run.py``
    does the same before it times the panels.
    """
    import gc

    gc.collect()
    gc.freeze()


def png_bytes(fig: Any, dpi: int = 90) -> bytes:
    """PNG of a matplotlib figure, drawn with Agg (no pyplot, no backend needed).

    With the default ``savefig.*`` settings the figure is drawn once at
    ``dpi`` and its buffer encoded, which is what ``fig.savefig`` does after a
    first draw that only runs the layout engine (constrained layout): the same
    pixels, in one pass instead of two. zlib level 1: less encoding time than
    the default 6, for files of about the same size (lesson figures are mostly
    flat colour).
    """
    import io

    import matplotlib as mpl
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = fig.canvas
    if not isinstance(canvas, FigureCanvasAgg):
        canvas = _canvas_class()(fig)
    buf = io.BytesIO()
    pil_kwargs = {"compress_level": 1}
    rc = mpl.rcParams
    if (rc["savefig.facecolor"] != "auto" or rc["savefig.edgecolor"] != "auto"
            or rc["savefig.bbox"] is not None or rc["savefig.transparent"]):
        fig.savefig(buf, format="png", dpi=dpi, pil_kwargs=pil_kwargs)
        return buf.getvalue()
    old_dpi, saving = fig.dpi, canvas._is_saving
    try:
        fig.dpi = dpi
        canvas._is_saving = True
        canvas.draw()  # the layout engine runs first in Figure.draw, then everything is drawn
        mpl.image.imsave(buf, canvas.buffer_rgba(), format="png", origin="upper", dpi=dpi,
                         pil_kwargs=pil_kwargs)
    finally:
        fig.dpi = old_dpi
        canvas._is_saving = saving
    return buf.getvalue()


_CANVAS_CLASS: Any = None
#: Agg renderers shared by the figures drawn here, by (width, height, dpi)
_RENDERERS: OrderedDict = OrderedDict()


def _canvas_class() -> Any:
    """An Agg canvas that draws with a renderer shared by all figures of its size.

    Matplotlib caches text measurements and parsed mathtext per renderer, so a
    new figure with its own renderer measures every tick label and title
    again. Lesson figures of one size share most of their text; with one
    renderer per size those measurements are cache hits. The renderer is
    cleared at the start of every draw, and ``png_bytes`` reads the pixels
    right after drawing, so the images are the same.
    """
    global _CANVAS_CLASS
    if _CANVAS_CLASS is None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        renderer_class = _renderer_class()

        class SharedRendererCanvasAgg(FigureCanvasAgg):
            def get_renderer(self) -> Any:
                w, h = self.get_width_height(physical=True)
                key = w, h, self.figure.dpi
                renderer = _RENDERERS.get(key)
                if renderer is None:
                    renderer = _RENDERERS[key] = renderer_class(w, h, self.figure.dpi)
                    while len(_RENDERERS) > 8:
                        _RENDERERS.popitem(last=False)
                else:
                    _RENDERERS.move_to_end(key)
                self.renderer = renderer
                self._lastKey = key
                return renderer

        _CANVAS_CLASS = SharedRendererCanvasAgg
    return _CANVAS_CLASS


#: rendered glyph bitmaps by (font, size, dpi, glyph, flags, mode, matrix, subpixel offset)
_GLYPHS: dict = {}


def _renderer_class() -> Any:
    """``RendererAgg``, with glyph bitmaps cached on matplotlib 3.11.

    Matplotlib 3.11 draws text glyph by glyph: for each one it sets the font
    size, builds the same rotation matrix with numpy, and has FreeType render
    the glyph at its exact position. FreeType hints before it transforms, and
    a shift by whole pixels moves the bitmap without changing it, so a glyph's
    bitmap depends only on the font, size, dpi, glyph, flags, render mode,
    matrix and the sub-pixel part of its position. This renderer keeps the
    bitmaps by those keys and draws them at the same pixels (all lesson-panel
    figures were checked byte for byte against the plain renderer). Other
    matplotlib versions get the plain renderer.
    """
    import matplotlib as mpl
    from matplotlib.backends.backend_agg import RendererAgg

    if not (mpl.__version__.startswith("3.11.")
            and hasattr(RendererAgg, "_draw_text_glyphs_and_boxes")):
        return RendererAgg
    import math

    import numpy as np
    from matplotlib.backends.backend_agg import get_hinting_flag
    from matplotlib.ft2font import RenderMode

    class GlyphCachingRendererAgg(RendererAgg):
        def _draw_text_glyphs_and_boxes(self, gc: Any, x: float, y: float, angle: float,
                                        glyphs: Any, boxes: Any) -> None:
            # RendererAgg._draw_text_glyphs_and_boxes with the bitmaps cached (see above)
            cos = math.cos(math.radians(angle))
            sin = math.sin(math.radians(angle))
            load_flags = get_hinting_flag()
            antialiased = gc.get_antialiased()
            mode = RenderMode.NORMAL if antialiased else RenderMode.MONO
            height = self.height
            dpi = self.dpi
            draw = self._renderer.draw_text_image
            cache = _GLYPHS
            if len(cache) > 50_000:
                cache.clear()
            matrices: dict = {}
            sized: dict = {}  # font -> size set here (only renders need it set)
            last: dict = {}  # font -> size of its last glyph (the size it is left at)
            for font, size, glyph_index, slant, extend, dx, dy in glyphs:  # dy is upwards.
                m = matrices.get((extend, slant))
                if m is None:
                    m = matrices[(extend, slant)] = (
                        0x10000 * np.array([[cos, -sin], [sin, cos]])
                        @ [[extend, extend * slant], [0, 1]]).round().astype(int)
                px = round(0x40 * (x + dx * cos - dy * sin))
                py = round(0x40 * (height - y + dx * sin + dy * cos))  # FreeType's y is up
                key = (font, size, dpi, glyph_index, load_flags, mode, m.tobytes(),
                       px & 0x3f, py & 0x3f)
                last[font] = size
                hit = cache.get(key)
                if hit is None:
                    if sized.get(font) != size:
                        font.set_size(size, dpi)
                        sized[font] = size
                    font._set_transform(m, [px & 0x3f, py & 0x3f])
                    bitmap = font._render_glyph(glyph_index, load_flags, mode)
                    buffer = bitmap.buffer
                    if not antialiased:
                        buffer = buffer * 0xff
                    hit = cache[key] = (buffer, bitmap.left, bitmap.top)
                buffer, left, top = hit
                # draw_text_image's y is downwards & the bitmap bottom side.
                draw(buffer, left + (px >> 6), int(height) - (top + (py >> 6)) + buffer.shape[0],
                     0, gc)
            for font, size in last.items():  # fonts end at their last glyph's size
                if sized.get(font) != size:
                    font.set_size(size, dpi)
            if boxes:
                super()._draw_text_glyphs_and_boxes(gc, x, y, angle, iter(()), boxes)

    return GlyphCachingRendererAgg


def _display(out: PanelOutput, display: Callable[[Any], None]) -> None:
    if out.figure is not None:
        from IPython.display import Image

        display(Image(data=png_bytes(out.figure), format="png"))
    if out.table is not None:
        display(out.table)
    if out.text:
        print(out.text)


def _close(out: PanelOutput) -> None:
    if out.figure is not None:
        import matplotlib.pyplot as plt

        plt.close(out.figure)


def figure(*args: Any, **kwargs: Any) -> Any:
    """A matplotlib Figure that pyplot does not track (so panels never leak figures)."""
    from matplotlib.figure import Figure

    kwargs.setdefault("figsize", (9, 4))
    kwargs.setdefault("layout", "constrained")
    return Figure(*args, **kwargs)
