"""Fixtures of the real-browser suite: one JupyterLab and one Chromium per session."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import labdriver

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("MMSIM_ARTIFACTS", ROOT / "ci-artifacts"))


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    d = ARTIFACTS / "screenshots"
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture(scope="session")
def report_dir() -> Path:
    """Per-lesson JSON reports (timings, moves, notes) and the JupyterLab log."""
    d = ARTIFACTS / "browser"
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture(scope="session")
def chromium_path() -> str:
    return labdriver.require_browser()


@pytest.fixture(scope="session")
def lab(chromium_path: str) -> Iterator[labdriver.LabServer]:
    """JupyterLab from this environment, serving a temporary copy of the repository."""
    work = Path(tempfile.mkdtemp(prefix="mmsim-lab-"))
    try:
        root = labdriver.copy_repo(ROOT, work / "repo")
        server = labdriver.LabServer(sys.executable, root, work,
                                     ARTIFACTS / "browser" / "jupyterlab.log")
        server.start()
        try:
            yield server
        finally:
            server.shutdown_sessions()
            server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="session")
def chromium(chromium_path: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        browser = labdriver.launch_chromium(pw, chromium_path)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        pw.stop()


@pytest.fixture
def page(chromium: object) -> Iterator[object]:
    context = chromium.new_context(viewport={"width": 1280, "height": 1400})
    try:
        yield context.new_page()
    finally:
        context.close()
