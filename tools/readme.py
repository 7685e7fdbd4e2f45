#!/usr/bin/env python3
"""Refresh the generated parts of README.md: the lesson table and the benchmark table.

``python tools/readme.py`` rewrites the lesson map from ``mmsim.lessons.LESSONS``;
``python tools/readme.py --perf results.json`` also puts a ``benchmarks/run.py --json``
report into the performance section.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def lesson_table() -> str:
    from mmsim.lessons import BINDER, LESSONS

    rows = ["| # | lesson | kernel function | what you will see | |", "|---|---|---|---|---|"]
    for le in LESSONS:
        fn = le.function if le.function.startswith("(") else \
            f"[`{le.function}`]({le.elixir}) `{le.file}`"
        rows.append(f"| {le.number:02d} | [{le.slug}](notebooks/{le.notebook}) | {fn} | "
                    f"{le.sees} | [Binder]({BINDER}?urlpath=lab/tree/notebooks/{le.notebook}) |")
    return "\n".join(rows)


def perf_table(path: Path) -> str:
    data = json.loads(path.read_text())
    m = data["machine"]
    lines = [f"Measured on {m['system']}, {m['cpus']} CPUs ({m.get('processor') or m['machine']}), "
             f"Python {m['python']}, numpy {m['numpy']}; medians of {data['repeats']} runs.", "",
             "| section | benchmark | median | target | met |", "|---|---|---|---|---|"]
    for f in data["figures"]:
        med = f["median"]
        val = f"{med:,.0f} {f['unit']}" if med >= 100 else f"{med:.3g} {f['unit']}"
        target = f["target"] or "-"
        met = ""
        if f["target"]:
            op, v = f["target"].split(" ", 1)
            met = "yes" if (med >= float(v) if op == ">=" else med <= float(v)) else "**no**"
        lines.append(f"| {f['section']} | {f['name']} | {val} | {target} | {met} |")
    return "\n".join(lines)


def replace(text: str, tag: str, body: str) -> str:
    pat = re.compile(rf"(<!-- {tag}:start -->\n).*?(<!-- {tag}:end -->)", re.S)
    return pat.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--perf", type=Path)
    args = ap.parse_args(argv)
    text = README.read_text()
    text = replace(text, "lessons", lesson_table())
    if args.perf:
        text = replace(text, "perf", perf_table(args.perf))
    README.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
