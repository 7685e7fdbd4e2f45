"""`mmsim run`, `mmsim quiz`, `mmsim lessons`: echo their parameters, fail with exit 2."""

from __future__ import annotations

import io

from mmsim.cli import main


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = main(list(argv), stdout=out, stderr=err)
    return rc, out.getvalue(), err.getvalue()


def test_run_echoes_parameters_and_counts(tmp_path) -> None:
    trace = tmp_path / "t.txt"
    rc, out, _err = _run("run", "file-stream", "--mem", "256MiB", "--seconds", "1",
                         "--set", "rate=400MiB", "--ftrace", str(trace))
    assert rc == 0
    first = out.splitlines()[0]
    assert first.startswith("# mmsim run file-stream --mem 256MiB --seconds 1 --seed 0")
    assert "--set rate=400MiB" in first
    # 400 MiB/s for 1 s on a 256 MiB box: the cache fills and kswapd must reclaim
    steal = int(next(ln for ln in out.splitlines() if ln.startswith("pgsteal_kswapd")).split()[1])
    assert steal > 0
    assert "mm_vmscan_kswapd_wake" in trace.read_text()


def test_run_same_seed_same_output() -> None:
    a = _run("run", "boost", "--mem", "256MiB", "--seconds", "1.5", "--seed", "3")[1]
    b = _run("run", "boost", "--mem", "256MiB", "--seconds", "1.5", "--seed", "3")[1]
    assert a == b


def test_run_bad_input_exit_2() -> None:
    rc, _out, err = _run("run", "file-stream", "--order", "3")
    assert rc == 2 and "--order" in err and "thp-burst" in err
    rc, _out, err = _run("run", "nope")
    assert rc == 2 and "'nope'" in err and "file-stream" in err
    rc, _out, err = _run("run", "file-stream", "--seconds", "-1")
    assert rc == 2 and "--seconds" in err
    rc, _out, err = _run("run", "file-stream", "--set", "bogus=1")
    assert rc == 2 and "bogus" in err
    assert len(err.strip().splitlines()) == 1


def test_quiz_answers_with_c() -> None:
    rc, out, _ = _run("quiz", "swap_setup", "--seed", "4", "-n", "2", "-c")
    assert rc == 0
    assert out.count("answer:") == 2
    rc, out2, _ = _run("quiz", "swap_setup", "--seed", "4", "-n", "2")
    assert "answer:" not in out2
    assert _run("quiz", "nope")[0] == 2


def test_lessons_lists_every_lesson() -> None:
    from mmsim.lessons import LESSONS

    rc, out, _ = _run("lessons")
    assert rc == 0
    assert len(out.splitlines()) == len(LESSONS)
    assert "balance_pgdat" in out and "mm/vmscan.c L3534-3738" in out
