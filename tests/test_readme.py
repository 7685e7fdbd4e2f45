"""The README's Quickstart and lesson map stay true."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location("readme_tool", ROOT / "tools" / "readme.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_lesson_table_is_current() -> None:
    text = (ROOT / "README.md").read_text()
    assert _tool().lesson_table() in text, "run python tools/readme.py"


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    cmd = ('python3 -m venv .venv && .venv/bin/pip install -q -e ".[test]" '
           '&& .venv/bin/python -m pytest')
    assert cmd in readme
    assert cmd in (ROOT / ".ci" / "run").read_text()
