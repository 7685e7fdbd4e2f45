"""Drive JupyterLab in headless Debian Chromium (Playwright) for the mmsim lessons.

The pieces the browser suite (``tests/browser/test_lessons_in_lab.py``) and the
Binder check share:

* :class:`LabServer` starts JupyterLab from a given Python on 127.0.0.1 with no
  token, a random free port, throw-away settings/workspace/runtime/config/data
  folders, autosave off and ``--allow-root`` when run as root. It serves a
  temporary *copy* of the repository (see :func:`copy_repo`), so Lab's autosave can
  never write into the checkout, deletes each notebook's kernel session through
  the REST API, and stops Lab by its PID.
* :class:`LessonPage` opens one lesson, clears and runs all cells through the Run
  menu, waits for the kernel to go idle, lists error outputs and widget error or
  placeholder texts, finds an mmsim panel (``mmsim.widgets.Panel.widget()``: a
  VBox of a bold title, one control per knob labelled with the knob's name, and
  an Output with the PNG figure and the printed text), reads its control values,
  moves a control with the keyboard, and reads the figure and the printed text.

Nothing here imports Playwright at import time, so pytest's ``--doctest-modules``
can collect this file on a machine without it.

Selectors and waits follow what was measured with JupyterLab 4.6 and
ipywidgets 8.1 (see the project's notes): the status bar's "| Idle" is the
reliable kernel-ready signal; Run All is only in the Run menu; the slider handle
is ``.widget-slider [role=slider]`` (noUiSlider) and takes ArrowLeft/ArrowRight,
PageUp/PageDown, Home/End.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("MMSIM_CHROMIUM", "/usr/bin/chromium")

#: root needs --no-sandbox; the rest keep Chromium off the (closed) network
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
    "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
]

#: user settings written to the throw-away JUPYTERLAB_SETTINGS_DIR
LAB_SETTINGS = {
    # no "Would you like to get notified about official Jupyter news?" toast
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
    # never write outputs back to disk (and it is a temporary copy anyway)
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    # every cell in the DOM: no virtual scrolling
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}

#: what the widget manager shows instead of a widget when something is wrong
WIDGET_ERROR_TEXTS = (
    "Error displaying widget", "model not found", "Loading widget...", "Loading widget\u2026",
    "Failed to load model class", "Could not create model", "Could not create a view",
)

#: folders never copied into the served root
_SKIP_NAMES = {".git", ".venv", "venv", "__pycache__", ".pytest_cache", ".ruff_cache",
               ".hypothesis", ".ipynb_checkpoints", "node_modules", "build", "dist",
               "ci-artifacts", ".tox", ".nox"}


def copy_repo(src: Path, dst: Path) -> Path:
    """Copy the working tree ``src`` to ``dst`` without VCS data, caches or virtualenvs."""

    def ignore(folder: str, names: list[str]) -> set[str]:
        skip = {n for n in names if n in _SKIP_NAMES or n.endswith(".egg-info")}
        skip.update(n for n in names if (Path(folder, n) / "pyvenv.cfg").is_file())
        return skip

    shutil.copytree(src, dst, ignore=ignore, symlinks=True)
    return dst


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class LabServer:
    """A throw-away JupyterLab: ``python -m jupyterlab`` serving ``root`` from ``work``."""

    python: str
    root: Path
    work: Path
    log_path: Path
    port: int = 0
    proc: subprocess.Popen | None = None
    start_seconds: float = 0.0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120) -> LabServer:
        settings = self.work / "lab-user-settings"
        for rel, value in LAB_SETTINGS.items():
            f = settings / rel
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(json.dumps(value))
        env = dict(os.environ)
        env.update({
            "JUPYTERLAB_SETTINGS_DIR": str(settings),
            "JUPYTERLAB_WORKSPACES_DIR": str(self.work / "lab-workspaces"),
            "JUPYTER_RUNTIME_DIR": str(self.work / "jupyter-runtime"),
            "JUPYTER_CONFIG_DIR": str(self.work / "jupyter-config"),
            "JUPYTER_DATA_DIR": str(self.work / "jupyter-data"),
            "IPYTHONDIR": str(self.work / "ipython"),
            "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        })
        env.pop("MPLBACKEND", None)  # the lessons choose the inline backend themselves
        self.port = self.port or free_port()
        cmd = [self.python, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
               f"--port={self.port}", "--port-retries=0", f"--ServerApp.root_dir={self.root}",
               "--IdentityProvider.token=", "--ServerApp.password=",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")  # else: "Running as root is not recommended", exit
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        with open(self.log_path, "w") as logf:
            self.proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, env=env,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        while not _http_ok(f"{self.base}/api/status"):
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.proc.returncode}: "
                                   f"{self.log_tail()}")
            if time.monotonic() - t0 > timeout:
                self.stop()
                raise RuntimeError(f"jupyter lab did not answer in {timeout:.0f} s: "
                                   f"{self.log_tail()}")
            time.sleep(0.1)
        self.start_seconds = time.monotonic() - t0
        return self

    def log_tail(self, n: int = 15) -> str:
        try:
            return " | ".join(self.log_path.read_text().splitlines()[-n:])
        except OSError:
            return "(no log)"

    def url(self, rel: str) -> str:
        """Lab's URL for a file (path relative to the served root), with a reset layout."""
        return f"{self.base}/lab/tree/{urllib.parse.quote(rel)}?reset"

    def shutdown_sessions(self, rel: str | None = None) -> int:
        """Delete the kernel sessions of one notebook (all when ``rel`` is None).

        Closing a browser tab does not stop kernels. Without a token, Jupyter Server
        wants the XSRF double-submit on DELETE: an ``_xsrf`` cookie and an equal header.
        """
        xsrf = {"Cookie": "_xsrf=mmsim", "X-XSRFToken": "mmsim"}
        n = 0
        try:
            with urllib.request.urlopen(f"{self.base}/api/sessions", timeout=5) as r:
                sessions = json.load(r)
            for s in sessions:
                if rel is None or s.get("path") == rel:
                    req = urllib.request.Request(f"{self.base}/api/sessions/{s['id']}",
                                                 method="DELETE", headers=xsrf)
                    urllib.request.urlopen(req, timeout=10).close()
                    n += 1
        except (urllib.error.URLError, OSError, ValueError):
            pass
        return n

    def stop(self) -> None:
        """SIGTERM by PID (Lab then shuts its kernels down); SIGKILL if it hangs."""
        p = self.proc
        if p is None or p.poll() is not None:
            return
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)


# ---------------------------------------------------------------------------
# in-page JavaScript
# ---------------------------------------------------------------------------
_KERNEL_IDLE_JS = r"""
() => {
  const sb = document.querySelector('#jp-main-statusbar');
  return !!sb && /\|\s*Idle/.test(sb.innerText);
}
"""

_PROMPTS_JS = r"""
() => {
  const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!nb) return null;
  return Array.from(nb.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt'))
    .map(p => p.textContent.trim());
}
"""

# all code cells show "[n]:"; or Run All stopped at an exception (an error output)
_ALL_RUN_JS = r"""
() => {
  const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!nb) return false;
  const ps = Array.from(nb.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt'))
    .map(p => p.textContent.trim());
  if (!ps.length || ps.some(t => t === '[*]:')) return false;
  if (ps.every(t => /^\[\d+\]:$/.test(t))) return true;
  return Array.from(nb.querySelectorAll(
      ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"))
    .some(e => /Traceback|Error/.test(e.innerText));
}
"""

# Every mmsim panel on the page: a VBox whose first child is the bold title.
# For each: title, controls (label -> readout / value), figure data URL, printed text.
PANELS_JS = r"""
() => {
  const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  const out = [];
  if (!nb) return out;
  const boxes = Array.from(nb.querySelectorAll('.widget-vbox'));
  boxes.forEach((box, index) => {
    const kids = Array.from(box.children);
    if (!kids.length || !kids[0].classList.contains('widget-html')) return;
    const b = kids[0].querySelector('b');
    if (!b) return;
    box.dataset.mmsimPanel = String(index);
    const controls = {};
    for (const k of kids.slice(1)) {
      const lab = k.querySelector(':scope > .widget-label');
      if (!lab) continue;
      // ipywidgets renders spaces in labels and option texts as U+00A0, and an
      // indented Checkbox keeps its description in .widget-label-basic (the outer
      // label is a U+200B spacer)
      const clean = (t) => (t || '').replace(/\u00a0/g, ' ').replace(/\u200b/g, '').trim();
      const basic = k.querySelector('.widget-label-basic');
      const name = clean(lab.textContent) || (basic ? clean(basic.textContent) : '');
      let value = null, kind = 'other';
      const handle = k.querySelector('[role=slider]');
      const readout = k.querySelector(':scope > .widget-readout');
      const select = k.querySelector('select');
      const check = k.querySelector('input[type=checkbox]');
      if (handle) { kind = 'slider'; value = readout ? readout.textContent.trim()
                                                     : handle.getAttribute('aria-valuenow'); }
      else if (select) { kind = 'dropdown';
                         value = clean(select.options[select.selectedIndex]?.text); }
      else if (check) { kind = 'checkbox'; value = check.checked ? 'True' : 'False'; }
      controls[name] = {kind, value,
                        aria: handle ? handle.getAttribute('aria-valuenow') : null};
    }
    const outArea = box.querySelector('.widget-output');
    let img = null, text = '';
    if (outArea) {
      const im = outArea.querySelector('img');
      img = im ? (im.getAttribute('src') || '') : null;
      text = Array.from(outArea.querySelectorAll(
          ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stdout']"))
        .map(e => e.innerText).join('');
    }
    out.push({index, title: b.textContent.trim(), controls, img, text});
  });
  return out;
}
"""


@dataclass
class PanelView:
    """One mmsim panel as the browser shows it."""

    index: int  # position among the page's .widget-vbox elements (data-mmsim-panel)
    title: str
    controls: dict[str, dict[str, Any]]
    img: str | None
    text: str

    @property
    def figure_fingerprint(self) -> str:
        return self.img or ""


@dataclass
class LessonPage:
    """One lesson open in JupyterLab."""

    page: Any  # playwright.sync_api.Page
    server: LabServer
    rel: str  # path of the notebook relative to the served root
    timeout_ms: int = 120_000
    timings: dict[str, float] = field(default_factory=dict)
    console_errors: list[str] = field(default_factory=list)

    # -- opening and running ------------------------------------------------
    def open(self) -> None:
        t = time.monotonic()
        self.page.on("console", lambda m: self.console_errors.append(m.text[:300])
                     if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.console_errors.append(f"pageerror: {e}"[:300]))
        self.page.goto(self.server.url(self.rel), timeout=self.timeout_ms)
        self.page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=self.timeout_ms)
        self.page.wait_for_function(_KERNEL_IDLE_JS, timeout=self.timeout_ms)
        self.timings["open_until_kernel_idle"] = round(time.monotonic() - t, 2)

    def _menu(self, menu: str, item: str) -> None:
        self.page.locator("#jp-menu-panel").get_by_role("menuitem", name=menu,
                                                         exact=True).click()
        self.page.get_by_role("menuitem", name=item, exact=True).click()

    def run_all(self) -> None:
        """Clear the stored outputs (so "[n]:" prompts are this run's), then Run All Cells."""
        t = time.monotonic()
        self._menu("Edit", "Clear Outputs of All Cells")
        self.page.wait_for_function(
            "() => { const p = (" + _PROMPTS_JS + ")(); "
            "return p && p.every(t => !/^\\[\\d+\\]:$/.test(t)); }",
            timeout=self.timeout_ms)
        self._menu("Run", "Run All Cells")
        self.page.wait_for_function(_ALL_RUN_JS, timeout=self.timeout_ms, polling=250)
        self.page.wait_for_function(_KERNEL_IDLE_JS, timeout=self.timeout_ms)
        self.timings["run_all"] = round(time.monotonic() - t, 2)

    def prompts(self) -> list[str]:
        return self.page.evaluate(_PROMPTS_JS) or []

    # -- what went wrong ----------------------------------------------------
    def error_outputs(self) -> list[str]:
        """Tracebacks and error lines shown in cell outputs."""
        errs = self.page.locator(
            ".jp-NotebookPanel .jp-OutputArea-output"
            "[data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts()
        return [e for e in errs if "Traceback" in e or re.search(r"\w+Error\b", e)]

    def stderr_outputs(self) -> list[str]:
        return self.page.locator(
            ".jp-NotebookPanel .jp-OutputArea-output"
            "[data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts()

    def widget_problems(self) -> list[str]:
        """Widget-manager error or placeholder texts, and widgets shown as plain text."""
        body = self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").inner_text()
        bad = [s for s in WIDGET_ERROR_TEXTS if s in body]
        # the text/plain fallback of a widget view: the widget extension is missing
        bad += [f"widget shown as text: {m.group(0)}"
                for m in re.finditer(r"\b(VBox|HBox|IntSlider|SelectionSlider)\(children=|"
                                     r"\bIntSlider\(value=", body)]
        return bad

    # -- panels ---------------------------------------------------------------
    def panels(self) -> list[PanelView]:
        return [PanelView(**p) for p in self.page.evaluate(PANELS_JS)]

    def panel_with(self, label: str) -> PanelView | None:
        """The first panel with a control labelled ``label``."""
        return next((p for p in self.panels() if label in p.controls), None)

    def panel_box(self, panel: PanelView) -> Any:
        return self.page.locator(f".jp-NotebookPanel:not(.lm-mod-hidden) "
                                 f"[data-mmsim-panel='{panel.index}']")

    def panel_cell(self, panel: PanelView) -> Any:
        return self.page.locator(f".jp-NotebookPanel:not(.lm-mod-hidden) "
                                 f".jp-Cell:has([data-mmsim-panel='{panel.index}'])")

    def refresh(self, panel: PanelView) -> PanelView:
        return next(p for p in self.panels() if p.index == panel.index)

    def press_on(self, panel: PanelView, label: str, keys: list[str]) -> None:
        """Focus the control labelled ``label`` (slider handle or dropdown) and press keys."""
        # labels are rendered with U+00A0 for spaces: match either
        pattern = re.escape(label).replace(r"\ ", "[ \u00a0]")
        ctrl = self.panel_box(panel).locator(":scope > *", has=self.page.locator(
            ":scope > .widget-label", has_text=re.compile(rf"^\s*{pattern}\s*$")))
        target = ctrl.locator("[role=slider], select").first
        target.scroll_into_view_if_needed()
        target.focus()
        if target.evaluate("e => e.tagName") == "SELECT":
            # headless Chromium opens a popup for arrow keys on a <select>; choose the
            # neighbouring option as the keys would, firing the same change event
            step = sum(1 if k in ("ArrowDown", "ArrowRight") else -1 for k in keys)
            n = target.evaluate("e => e.options.length")
            i = target.evaluate("e => e.selectedIndex")
            target.select_option(index=max(0, min(n - 1, i + step)))
            self.page.wait_for_timeout(120)
            return
        for k in keys:
            self.page.keyboard.press(k)
            self.page.wait_for_timeout(120)

    def wait_until(self, panel: PanelView, predicate: Any, what: str,
                   timeout_s: float = 60) -> PanelView:
        """Poll the panel until ``predicate(view)`` holds; AssertionError naming ``what``."""
        t0 = time.monotonic()
        view = self.refresh(panel)
        while not predicate(view):
            if time.monotonic() - t0 > timeout_s:
                raise AssertionError(f"{self.rel}: {what} did not happen within {timeout_s:.0f} s"
                                     f" (controls {view.controls}, text {view.text!r:.300})")
            self.page.wait_for_timeout(150)
            view = self.refresh(panel)
        return view

    def settle(self, panel: PanelView, quiet_s: float = 1.0, timeout_s: float = 60) -> PanelView:
        """Wait until the panel's figure and text have not changed for ``quiet_s``."""
        t0 = time.monotonic()
        view = self.refresh(panel)
        last, since = (view.img, view.text), time.monotonic()
        while time.monotonic() - since < quiet_s and time.monotonic() - t0 < timeout_s:
            self.page.wait_for_timeout(150)
            view = self.refresh(panel)
            if (view.img, view.text) != last:
                last, since = (view.img, view.text), time.monotonic()
        return view

    def close(self) -> None:
        self.server.shutdown_sessions(self.rel)


def launch_chromium(playwright: Any, executable: str = CHROMIUM) -> Any:
    """Debian's Chromium, headless; never a downloaded browser."""
    return playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS,
                                      headless=True)


def require_browser() -> str:
    """Debian Chromium's path and an importable Playwright, or skip/fail with one line.

    With ``MMSIM_REQUIRE_BROWSER=1`` (set by ``.ci/run``) a missing browser fails the
    suite; otherwise the tests skip, with the same reason.
    """
    import pytest

    reason = None
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        reason = (f"no Chromium at {CHROMIUM}: `apt-get install chromium` "
                  "(Debian's; never `playwright install`)")
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the playwright package is missing: pip install -e '.[test]'"
    if reason:
        if os.environ.get("MMSIM_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser suite required (MMSIM_REQUIRE_BROWSER=1) but {reason}",
                        pytrace=False)
        pytest.skip(reason)
    return CHROMIUM
