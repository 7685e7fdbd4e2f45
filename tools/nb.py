#!/usr/bin/env python3
"""Build lesson notebooks from their text sources and store a clean run's outputs.

Lessons are written as ``notebooks/src/NN-slug.py`` in the "percent" format:

    # %% [markdown]
    # # Title
    # text ...

    # %%
    code ...

    # %% hide
    code whose cell is collapsed (answers to "check yourself")

``python tools/nb.py [NN-slug ...]`` converts each source to
``notebooks/NN-slug.ipynb`` and executes it top to bottom in a fresh kernel
(nbclient), so the stored outputs are those of a clean run. ``--check`` only
verifies that every notebook is up to date with its source (used in tests).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "notebooks" / "src"
OUT = ROOT / "notebooks"


def parse(text: str) -> list[nbformat.NotebookNode]:
    cells = []
    kind, meta, lines = None, {}, []

    def flush() -> None:
        if kind is None:
            return
        body = "\n".join(lines).strip("\n")
        if kind == "markdown":
            md = "\n".join(ln[2:] if ln.startswith("# ") else ln.lstrip("#")
                           for ln in body.splitlines())
            cells.append(nbformat.v4.new_markdown_cell(md))
        else:
            c = nbformat.v4.new_code_cell(body)
            c.metadata.update(meta)
            cells.append(c)

    for ln in text.splitlines():
        if ln.startswith("# %%"):
            flush()
            rest = ln[4:].strip()
            lines = []
            meta = {}
            if rest.startswith("[markdown]"):
                kind = "markdown"
            else:
                kind = "code"
                if "hide" in rest.split():
                    meta = {"jupyter": {"source_hidden": True, "outputs_hidden": True},
                            "tags": ["hide-input", "hide-output"]}
        else:
            lines.append(ln)
    flush()
    return cells


def build(src: Path, execute: bool = True) -> Path:
    from nbclient import NotebookClient

    text = src.read_text()
    nb = nbformat.v4.new_notebook()
    nb.cells = parse(text)
    for i, c in enumerate(nb.cells):  # stable ids: rebuilding does not churn the diff
        c.id = f"cell-{i:03d}"
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["mmsim"] = {"source": f"src/{src.name}",
                            "source_sha256": hashlib.sha256(text.encode()).hexdigest()}
    out = OUT / (src.stem + ".ipynb")
    if execute:
        t = time.time()
        for attempt in (1, 2):
            # a lesson runs in seconds; a cell silent for 3 minutes is a lost kernel
            # message (seen on a loaded 2-core box), so start again once
            client = NotebookClient(nb, timeout=180, kernel_name="python3",
                                    resources={"metadata": {"path": str(OUT)}})
            try:
                client.execute()
                break
            except TimeoutError:
                if attempt == 2:
                    raise
                print(f"{src.stem}: a cell timed out; executing the notebook again")
        for c in nb.cells:
            c.metadata.pop("execution", None)
        print(f"{src.stem}: executed in {time.time() - t:.1f} s")
    nbformat.write(nb, out)
    return out


def is_current(src: Path) -> bool:
    out = OUT / (src.stem + ".ipynb")
    if not out.exists():
        return False
    nb = nbformat.read(out, as_version=4)
    want = hashlib.sha256(src.read_text().encode()).hexdigest()
    return nb.metadata.get("mmsim", {}).get("source_sha256") == want


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="lessons to build (default: all)")
    ap.add_argument("--check", action="store_true", help="only check notebooks are current")
    ap.add_argument("--no-execute", action="store_true")
    args = ap.parse_args(argv)
    srcs = sorted(SRC.glob("*.py"))
    if args.names:
        srcs = [s for s in srcs if any(s.stem.startswith(n) for n in args.names)]
    if args.check:
        stale = [s.stem for s in srcs if not is_current(s)]
        if stale:
            print("stale notebooks (run tools/nb.py):", ", ".join(stale))
            return 1
        print(f"{len(srcs)} notebooks current")
        return 0
    for s in srcs:
        build(s, execute=not args.no_execute)
    return 0


if __name__ == "__main__":
    sys.exit(main())
