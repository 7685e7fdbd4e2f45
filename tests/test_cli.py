"""Tests of the ``mmsim`` command line (mmsim.cli)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mmsim import Node, Sysctl
from mmsim import procfs as P
from mmsim.cli import main

REPO = Path(__file__).parents[1]


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_proc_prints_the_file_of_a_built_node():
    code, out, err = run("proc", "buddyinfo", "--mem", "1GiB")
    assert code == 0
    assert out == Node.build(mem="1GiB").render("buddyinfo")
    assert err == ("# mmsim proc buddyinfo --mem 1GiB --min-free-kbytes 45056 "
                   "--watermark-scale-factor 10\n")


def test_proc_defaults_to_8gib_and_applies_the_sysctls():
    code, out, err = run("proc", "zoneinfo", "--min-free-kbytes", "90112",
                         "--watermark-scale-factor", "200")
    assert code == 0
    expected = Node.build(mem="8GiB", sysctl=Sysctl(min_free_kbytes=90112,
                                                    watermark_scale_factor=200))
    assert out == expected.render("zoneinfo")
    normal = P.parse_zoneinfo(out)[0].zones["Normal"]
    assert normal.low - normal.min == 1277954 * 200 // 10000
    assert err.startswith("# mmsim proc zoneinfo --mem 8GiB --min-free-kbytes 90112 "
                          "--watermark-scale-factor 200")
    assert err.count("\n") == 1


@pytest.mark.parametrize("name", P.FILES)
def test_every_file_is_available(name):
    code, out, _ = run("proc", name, "--mem", "256MiB")
    assert code == 0 and out == Node.build(mem="256MiB").render(name)


@pytest.mark.parametrize(("argv", "message"), [
    (["--mem", "-3GiB"], "mmsim: error: --mem: size '-3GiB' is negative; sizes are >= 0; "
                         "allowed 64MiB..64GiB"),
    (["--mem", "100GiB"], "mmsim: error: --mem: '100GiB' (100 GiB) is out of range; "
                          "allowed 64MiB..64GiB"),
    (["--mem", "lots"], "mmsim: error: --mem: cannot read size 'lots'"),
    (["--min-free-kbytes", "abc"], "mmsim: error: --min-free-kbytes: 'abc' is not an integer; "
                                   "allowed 0..2147483647"),
    (["--min-free-kbytes", "-5"], "mmsim: error: --min-free-kbytes: -5 is out of range; "
                                  "allowed 0..2147483647"),
    (["--watermark-scale-factor", "0"], "mmsim: error: --watermark-scale-factor: 0 is out of "
                                        "range; allowed 1..1000"),
    (["--from-host", "--mem", "1GiB"], "mmsim: error: --mem: cannot be combined with "
                                       "--from-host"),
])
def test_bad_input_exits_2_with_one_line(argv, message):
    code, out, err = run("proc", "zoneinfo", *argv)
    assert code == 2 and out == ""
    assert err.startswith(message)
    assert err.count("\n") == 1 and "Traceback" not in err


def test_unknown_file_and_missing_command():
    code, _, err = run("proc", "meminfo")
    assert code == 2 and err.startswith("mmsim: error: FILE: 'meminfo' is not a file mmsim "
                                        "prints; allowed zoneinfo, buddyinfo")
    code, _, err = run()
    assert code == 2 and err.count("\n") == 1


@pytest.mark.skipif(not os.access("/proc/zoneinfo", os.R_OK), reason="needs a Linux /proc")
def test_from_host_copies_this_machine():
    code, out, err = run("proc", "buddyinfo", "--from-host")
    assert code == 0, err
    assert P.parse_buddyinfo(out)  # the host's zones, printed in v5.0's layout
    assert err.startswith("# mmsim proc buddyinfo --from-host --min-free-kbytes ")


def test_python_dash_m_mmsim():
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "mmsim", "proc", "buddyinfo", "--mem", "512MiB"],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == Node.build(mem="512MiB").render("buddyinfo")
    assert proc.stderr.startswith("# mmsim proc buddyinfo --mem 512MiB ")
    bad = subprocess.run([sys.executable, "-m", "mmsim", "proc", "zoneinfo", "--mem", "-3GiB"],
                         capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "Traceback" not in bad.stderr
