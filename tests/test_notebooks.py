"""The lessons: each notebook is built from its source and belongs to the lesson map."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmsim.lessons import LESSONS

ROOT = Path(__file__).resolve().parents[1]
NB = ROOT / "notebooks"
NOTEBOOKS = sorted(NB.glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_a_lesson_and_current(path: Path) -> None:
    import hashlib

    names = {le.notebook for le in LESSONS}
    assert path.name in names, f"{path.name} is not in mmsim.lessons.LESSONS"
    nb = json.loads(path.read_text())
    meta = nb["metadata"].get("mmsim", {})
    src = NB / meta.get("source", "missing")
    assert src.exists(), f"{path.name}: source {src} missing"
    digest = hashlib.sha256(src.read_text().encode()).hexdigest()
    assert meta.get("source_sha256") == digest, \
        f"{path.name} is older than {src.name}: run python tools/nb.py {path.stem}"
    counts = [c.get("execution_count") for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(isinstance(c, int) for c in counts), f"{path.name}: not executed top to bottom"
    assert counts == sorted(counts), f"{path.name}: cells executed out of order"
    for c in nb["cells"]:
        for o in c.get("outputs", []):
            assert o.get("output_type") != "error", f"{path.name}: stored error output"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_lesson_shape(path: Path) -> None:
    nb = json.loads(path.read_text())
    text = "\n".join("".join(c["source"]) for c in nb["cells"])
    if path.name.startswith("00-"):
        return
    for must in ("elixir.bootlin.com/linux/v5.0", "mybinder.org", "## Step by step",
                 "## Check yourself", "NBVAL_CHECK_OUTPUT", "After v5.0"):
        assert must in text, f"{path.name}: lesson lacks {must!r}"


def test_every_lesson_has_its_notebook_and_source() -> None:
    """The lesson map (README, lesson 00) promises 28 lessons: each must exist."""
    missing = [le.notebook for le in LESSONS if not (NB / le.notebook).exists()]
    assert not missing, f"lessons without a notebook: {missing}"
    sources = {p.stem for p in (NB / "src").glob("*.py")}
    nosrc = [le.notebook for le in LESSONS if Path(le.notebook).stem not in sources]
    assert not nosrc, f"lessons without a source in notebooks/src: {nosrc}"
    assert len(NOTEBOOKS) == len(LESSONS)


def test_start_here_links_every_lesson() -> None:
    nb = json.loads((NB / "00-start-here.ipynb").read_text())
    text = "\n".join("".join(c["source"]) for c in nb["cells"])
    for c in nb["cells"]:
        for o in c.get("outputs", []):
            data = o.get("data", {})
            text += "".join(data.get("text/markdown", "")) + "".join(data.get("text/html", ""))
    unlinked = [le.notebook for le in LESSONS[1:] if le.notebook not in text]
    assert not unlinked, f"00-start-here does not link {unlinked}"
