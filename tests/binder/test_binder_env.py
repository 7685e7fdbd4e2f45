"""The Binder environment, built as repo2docker would, runs every lesson.

``tests/binder/binder_sim.sh`` builds a fresh venv from ``binder/`` alone (Python
from ``runtime.txt``, ``pip install -r requirements.txt``, then ``postBuild``) out
of a copy of the working tree, the way repo2docker builds from a clone. Then:

* every notebook runs under ``pytest --nbval-lax`` *in that environment* (pytest
  and nbval are added to it for this, after the Binder build was checked);
* lesson 01 is opened in a JupyterLab started from that environment, in headless
  Chromium, and its panel is driven like in ``tests/browser``: proof that the
  Binder image's JupyterLab renders the widgets and the kernel redraws them.

Building takes about a minute and half a gigabyte, so outside CI (``CI`` unset)
this module skips unless ``MMSIM_BINDER_CHECK=1`` (``.ci/run`` sets it;
``MMSIM_BINDER_CHECK=0`` skips it in CI too). Logs go to
``ci-artifacts/binder/``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ARTIFACTS = Path(os.environ.get("MMSIM_ARTIFACTS", ROOT / "ci-artifacts"))
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

sys.path.insert(0, str(ROOT / "tests" / "browser"))
import labdriver  # noqa: E402

_WANTED = os.environ.get("MMSIM_BINDER_CHECK",
                         "1" if os.environ.get("CI", "").lower() in ("1", "true") else "0")
pytestmark = pytest.mark.skipif(
    _WANTED != "1",
    reason="building the Binder environment takes ~1-2 min and ~0.5 GB: "
           "set MMSIM_BINDER_CHECK=1 to run it (it runs in CI; .ci/run sets it)")


@dataclass
class BinderEnv:
    repo: Path  # the copy the environment was built from (mmsim is installed from it)
    env: Path
    build_seconds: float
    log: Path

    @property
    def python(self) -> str:
        return str(self.env / "bin" / "python")


@pytest.fixture(scope="module")
def binder() -> Iterator[BinderEnv]:
    work = Path(tempfile.mkdtemp(prefix="mmsim-binder-"))
    logdir = ARTIFACTS / "binder"
    logdir.mkdir(parents=True, exist_ok=True)
    log = logdir / "build.log"
    try:
        repo = labdriver.copy_repo(ROOT, work / "repo")
        t = time.monotonic()
        with open(log, "w") as fh:
            r = subprocess.run(["bash", str(HERE / "binder_sim.sh"), str(repo), str(work / "env")],
                               stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               timeout=1200)
        seconds = time.monotonic() - t
        if r.returncode != 0:
            tail = " | ".join(log.read_text().splitlines()[-12:])
            pytest.fail(f"binder_sim.sh failed ({r.returncode}) after {seconds:.0f} s: {tail}",
                        pytrace=False)
        yield BinderEnv(repo, work / "env", seconds, log)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_binder_environment_builds(binder: BinderEnv) -> None:
    text = binder.log.read_text()
    assert f"BINDER_ENV={binder.env}" in text
    assert "every pin installed as written" in text
    print(f"Binder environment built in {binder.build_seconds:.1f} s")


@pytest.fixture(scope="module")
def nbval_results(binder: BinderEnv) -> dict[str, list[tuple[str, str]]]:
    """Run every notebook with nbval in the Binder env; notebook -> [(cell, problem)]."""
    junit = ARTIFACTS / "binder" / "nbval-junit.xml"
    log = ARTIFACTS / "binder" / "nbval.log"
    # test tools only, added after the Binder build was checked; same versions as here
    t = time.monotonic()
    with open(log, "w") as fh:
        subprocess.run([binder.python, "-m", "pip", "install", "-q",
                        f"pytest=={version('pytest')}", f"nbval=={version('nbval')}"],
                       check=True, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT,
                       timeout=600)
    print(f"pytest and nbval added to the Binder env in {time.monotonic() - t:.1f} s")
    nbs = [f"notebooks/{p.name}" for p in NOTEBOOKS
           if (binder.repo / "notebooks" / p.name).exists()]
    t = time.monotonic()
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = f"{binder.env / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    with open(log, "a") as fh:
        subprocess.run([binder.python, "-m", "pytest", "-p", "no:cacheprovider", "-o", "addopts=",
                        "-q", "--nbval-lax", "--nbval-current-env", f"--junitxml={junit}", *nbs],
                       cwd=binder.repo, stdout=fh, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL, env=env, timeout=3600)
    print(f"nbval of {len(nbs)} notebooks in the Binder env: {time.monotonic() - t:.1f} s")
    results: dict[str, list[tuple[str, str]]] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        cls = case.get("classname", "")
        nb = next((p.name for p in NOTEBOOKS if cls.endswith(p.stem + ".ipynb")
                   or cls.endswith(p.stem)), cls)
        problem = ""
        for tag in ("failure", "error"):
            el = case.find(tag)
            if el is not None:
                problem = f"{tag}: {(el.get('message') or '')[:300]} {(el.text or '')[-1500:]}"
        results.setdefault(nb, []).append((case.get("name", ""), problem))
    return results


@pytest.mark.parametrize("nb", [p.name for p in NOTEBOOKS])
def test_lesson_runs_in_binder_env(nb: str, nbval_results: dict) -> None:
    cells = nbval_results.get(nb)
    assert cells, f"nbval ran no cell of {nb} in the Binder env (see ci-artifacts/binder/nbval.log)"
    failed = [(c, p) for c, p in cells if p]
    assert not failed, f"{nb} fails in the Binder env: {failed[0][0]}: {failed[0][1]}"


def test_lesson_widgets_in_binder_jupyterlab(binder: BinderEnv) -> None:
    """Binder's own JupyterLab renders lesson 01's panel and redraws it from the kernel."""
    chromium = labdriver.require_browser()
    from lessons_check import check_lesson, open_lesson
    from playwright.sync_api import sync_playwright

    stem = "01-min_free_kbytes"
    if not (binder.repo / "notebooks" / f"{stem}.ipynb").exists():
        pytest.skip(f"notebooks/{stem}.ipynb does not exist")
    shots = ARTIFACTS / "screenshots" / "binder"
    shots.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="mmsim-binder-lab-"))
    try:
        root = labdriver.copy_repo(binder.repo, work / "repo")
        server = labdriver.LabServer(binder.python, root, work,
                                     ARTIFACTS / "binder" / "jupyterlab.log").start()
        try:
            with sync_playwright() as pw:
                browser = labdriver.launch_chromium(pw, chromium)
                try:
                    page = browser.new_page(viewport={"width": 1280, "height": 1400})
                    lp = open_lesson(page, server, stem)
                    try:
                        # the kernel is the Binder env's; this process's matplotlib may differ
                        rep = check_lesson(lp, shots, stem, ("min_free_kbytes",), ("order",),
                                           exact_png=False)
                    finally:
                        lp.close()
                finally:
                    browser.close()
        finally:
            server.shutdown_sessions()
            server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(rep.moves, rep.timings)
