"""Lessons in a real JupyterLab, in headless Debian Chromium (Playwright).

For each lesson below: open it in JupyterLab (started from this environment,
serving a temporary copy of the repository), clear and run all cells, wait for
the kernel to go idle, and require no error output and no widget error or
placeholder text. Then move the panel's ``min_free_kbytes`` slider and, where the
lesson has one, its ``order`` control with the keyboard, and require that the
figure changed and that the printed numbers are the model's for the new values
(for min_free_kbytes: the printed low watermarks rise with it). Screenshots go to
``ci-artifacts/screenshots/``.

Needs ``/usr/bin/chromium`` (Debian's ``chromium`` package) and the ``playwright``
package, never ``playwright install``. Without them the tests skip, or fail when
``MMSIM_REQUIRE_BROWSER=1`` (``.ci/run`` sets it).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lessons_check import check_lesson, open_lesson

ROOT = Path(__file__).resolve().parents[2]

#: lesson -> (controls it must have, controls checked when present)
LESSONS = {
    "00-start-here": (("min_free_kbytes",), ("order",)),
    "08-balance_pgdat": (("min_free_kbytes",), ("order",)),
    "20-kcompactd_node_suitable": (("min_free_kbytes",), ("order",)),
    # the first lesson written: the reference case while the others are being written
    "01-min_free_kbytes": (("min_free_kbytes",), ("order",)),
}
# every other lesson: Run All must finish without errors, its panels must render and
# be readable, and moving the first slider of its first panel must redraw the figure
# exactly as the model draws it for the values the browser shows
for _nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
    LESSONS.setdefault(_nb.stem, ((), ()))


@pytest.mark.parametrize("stem", list(LESSONS))
def test_lesson_in_jupyterlab(stem: str, lab, page, screenshot_dir: Path,
                              report_dir: Path) -> None:
    nb = ROOT / "notebooks" / f"{stem}.ipynb"
    if not nb.exists():
        pytest.skip(f"notebooks/{stem}.ipynb does not exist yet (lesson not written)")
    if not (lab.root / "notebooks" / nb.name).exists():
        pytest.skip(f"notebooks/{stem}.ipynb appeared after this session's JupyterLab started")
    required, optional = LESSONS[stem]
    lp = open_lesson(page, lab, stem)
    try:
        rep = check_lesson(lp, screenshot_dir, stem, required, optional)
    finally:
        lp.close()
    rep.timings["lab_start_once_per_session"] = round(lab.start_seconds, 2)
    report = json.dumps(rep.__dict__, indent=1)
    (report_dir / f"{stem}.json").write_text(report + "\n")
    print(report)
