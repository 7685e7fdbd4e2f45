"""binder/ follows repo2docker's rules and agrees with pyproject.toml (fast, no build)."""

from __future__ import annotations

import ast
import os
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BINDER = ROOT / "binder"

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = None


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins() -> dict[str, str]:
    out = {}
    for ln in (BINDER / "requirements.txt").read_text().splitlines():
        ln = ln.split("#", 1)[0].strip()
        if not ln:
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([0-9][^\s;]*)", ln)
        assert m, f"binder/requirements.txt: {ln!r} is not an exact pin (name==version)"
        out[_canon(m.group(1))] = m.group(2)
    return out


def test_only_pip_files_in_binder() -> None:
    assert not (ROOT / ".binder").exists(), "both binder/ and .binder/: repo2docker refuses"
    for f in ("environment.yml", "environment.yaml", "Dockerfile", "Pipfile", "setup.py"):
        assert not (BINDER / f).exists(), f"binder/{f} would change repo2docker's buildpack"


def test_runtime_is_python_311() -> None:
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"


def test_requirements_pin_the_notebook_stack() -> None:
    p = pins()
    for name in ("jupyterlab", "ipywidgets", "ipykernel", "matplotlib", "numpy", "pandas"):
        assert name in p, f"binder/requirements.txt does not pin {name}"
    assert p["jupyterlab"].startswith("4."), "repo2docker's base has jupyterlab 4"
    assert p["ipywidgets"].startswith("8."), "repo2docker's base has ipywidgets 8"
    text = (BINDER / "requirements.txt").read_text()
    assert not re.search(r"^\s*(-e\s+)?\.", text, re.M), \
        "install mmsim in postBuild (a local path in requirements.txt defeats Binder's cache)"


def _third_party_imports() -> dict[str, str]:
    """Top-level modules that mmsim imports (anywhere, lazily too) -> a file importing it."""
    out: dict[str, str] = {}
    for f in sorted((ROOT / "mmsim").rglob("*.py")):
        for node in ast.walk(ast.parse(f.read_text(), str(f))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for n in names:
                top = n.split(".")[0]
                if top != "mmsim" and top not in sys.stdlib_module_names:
                    out.setdefault(top, str(f.relative_to(ROOT)))
    return out


def test_everything_mmsim_imports_is_pinned() -> None:
    p = pins()
    dists = packages_distributions()
    missing = []
    for mod, where in _third_party_imports().items():
        names = {_canon(d) for d in dists.get(mod, [mod])}
        if not names & set(p):
            missing.append(f"{mod} (imported in {where})")
    assert not missing, f"binder/requirements.txt lacks a pin for: {', '.join(missing)}"


@pytest.mark.skipif(tomllib is None, reason="tomllib needs Python 3.11")
def test_pins_fall_inside_pyproject_ranges() -> None:
    from packaging.requirements import Requirement

    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in meta["dependencies"]]
    reqs += [Requirement(r) for r in meta["optional-dependencies"]["lessons"]]
    p = pins()
    checked = []
    for r in reqs:
        name = _canon(r.name)
        if name in p:
            assert r.specifier.contains(p[name], prereleases=True), \
                f"binder pins {name}=={p[name]} outside pyproject's {r}"
            checked.append(name)
    for name in ("numpy", "pandas", "matplotlib", "jupyterlab", "ipywidgets"):
        assert name in checked, f"pyproject.toml has no range for {name}"


def test_postbuild_installs_mmsim_and_fails_loudly() -> None:
    pb = BINDER / "postBuild"
    text = pb.read_text()
    assert text.startswith("#!"), "postBuild needs a shebang"
    assert os.access(pb, os.X_OK), "postBuild must be executable (git mode 100755)"
    assert re.search(r"^set -euo pipefail$", text, re.M), "postBuild must `set -euo pipefail`"
    assert re.search(r"pip install .*--no-deps .*-e \.$", text, re.M), \
        "postBuild must install mmsim from the checkout: pip install --no-deps -e ."
    assert "labextension install" not in text, \
        "no `jupyter labextension install`: the widget extensions come prebuilt with the wheels"
