"""The ``mmsim`` command line.

``mmsim run SCENARIO`` runs a named scenario and prints its counters (``--plot``,
``--ftrace`` save the figure and the trace); ``mmsim quiz TOPIC --seed N [-c]``
prints seeded questions and, with ``-c``, their answers; ``mmsim lessons``
lists the lessons. Every command echoes the parameters it used.

``mmsim proc FILE`` prints a memory-management file of a simulated node in
Linux v5.0's exact format, so that it can be read side by side with (or
diffed against) a real machine's::

    mmsim proc zoneinfo --mem 8GiB --min-free-kbytes 90112
    mmsim proc buddyinfo --from-host

The node is either laid out as an x86_64 machine with ``--mem`` of RAM
(:meth:`mmsim.Node.build`) or copied from this host's ``/proc`` files
(``--from-host``, :func:`mmsim.procfs.node_from_proc`); ``--min-free-kbytes``
and ``--watermark-scale-factor`` are written as an administrator would after
boot. Before the file, one ``# mmsim proc ...`` line on standard error
repeats the parameters in force, so standard output stays the pure file.

Commands are argparse subcommands; later ones (``run``, ``quiz``,
``lessons``) plug in beside ``proc``. Bad input ends with exit status 2 and
one line on standard error naming the option, the value and what is allowed.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from typing import Any, NoReturn, TextIO

from mmsim.procfs import FILES
from mmsim.sysctl import INT_MAX

MEM_MIN = "64MiB"  #: smallest machine the x86_64 layout builds
MEM_MAX = "64GiB"  #: largest the command line builds (about 15 bytes of state per page)
WSF_RANGE = (1, 1000)
VALUE_OPTIONS = ("--mem", "--min-free-kbytes", "--watermark-scale-factor",
                 "--watermark-boost-factor", "--order", "--seconds", "--seed", "-n")


class UsageError(Exception):
    """Bad command-line input: one line for standard error, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse says "argument --mem: <ours>"; ours already names the option
        m = re.match(r"^argument [^:]+: ((?:--[\w-]+|FILE): .*)$", message)
        raise UsageError(m.group(1) if m else message)


def _mem(text: str) -> int:
    from mmsim.units import format_pages, parse_pages

    lo, hi = parse_pages(MEM_MIN), parse_pages(MEM_MAX)
    try:
        pages = parse_pages(text, "--mem")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{exc}; allowed {MEM_MIN}..{MEM_MAX}") from None
    if not lo <= pages <= hi:
        raise argparse.ArgumentTypeError(f"--mem: {text!r} ({format_pages(pages)}) is out of "
                                         f"range; allowed {MEM_MIN}..{MEM_MAX}")
    return pages


def _file(text: str) -> str:
    if text not in FILES:
        raise argparse.ArgumentTypeError(f"FILE: {text!r} is not a file mmsim prints; allowed "
                                         f"{', '.join(FILES)}")
    return text


def _int_in(option: str, lo: int, hi: int):
    def convert(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{option}: {text!r} is not an integer; allowed {lo}..{hi}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(
                f"{option}: {value} is out of range; allowed {lo}..{hi}")
        return value

    return convert


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with its subcommands (``proc`` for now)."""
    parser = _Parser(prog="mmsim", description="Linux v5.0 memory management, simulated.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    proc = sub.add_parser("proc", help="print a /proc (or debugfs) file of a simulated node",
                          description="Print a simulated node's file in Linux v5.0's format.")
    proc.add_argument("file", type=_file, metavar="FILE",
                      help=f"one of: {', '.join(FILES)}")
    proc.add_argument("--mem", type=_mem, default=None,
                      help=f"RAM of the built machine ({MEM_MIN}..{MEM_MAX}; default 8GiB)")
    proc.add_argument("--min-free-kbytes", type=_int_in("--min-free-kbytes", 0, INT_MAX),
                      default=None, help="vm.min_free_kbytes written after boot")
    proc.add_argument("--watermark-scale-factor",
                      type=_int_in("--watermark-scale-factor", *WSF_RANGE), default=None,
                      help="vm.watermark_scale_factor (1..1000; default 10)")
    proc.add_argument("--from-host", action="store_true",
                      help="copy this host's /proc files and sysctls instead of --mem")
    proc.set_defaults(run=_run_proc)

    run = sub.add_parser("run", help="run a named scenario and print its counters",
                         description="Run a scenario (see `mmsim run --list`) in simulated "
                                     "time and print a summary of its /proc/vmstat counters.")
    run.add_argument("scenario", nargs="?", metavar="SCENARIO",
                     help="scenario name (see --list)")
    run.add_argument("--list", action="store_true", help="list the scenarios and their knobs")
    run.add_argument("--mem", type=_mem, default=None,
                     help=f"RAM of the machine ({MEM_MIN}..{MEM_MAX}; default 1GiB)")
    run.add_argument("--min-free-kbytes", type=_int_in("--min-free-kbytes", 0, INT_MAX),
                     default=None, help="vm.min_free_kbytes written after boot")
    run.add_argument("--watermark-scale-factor",
                     type=_int_in("--watermark-scale-factor", *WSF_RANGE), default=None)
    run.add_argument("--watermark-boost-factor",
                     type=_int_in("--watermark-boost-factor", 0, INT_MAX), default=None)
    run.add_argument("--order", type=_int_in("--order", 1, 10), default=None,
                     help="order of the high-order requests (scenarios with an order knob)")
    run.add_argument("--seconds", type=_float_in("--seconds", 0.0, 3600.0), default=3.0,
                     help="simulated seconds (default 3)")
    run.add_argument("--seed", type=_int_in("--seed", 0, 2**32 - 1), default=0)
    run.add_argument("--set", action="append", default=[], metavar="KNOB=VALUE",
                     help="another scenario knob, e.g. --set rate=800MiB (repeatable)")
    run.add_argument("--plot", metavar="OUT.png", help="save the watermark timeline here")
    run.add_argument("--ftrace", metavar="OUT.txt", help="save the trace as ftrace text here")
    run.set_defaults(run=_run_run)

    quiz = sub.add_parser("quiz", help="seeded questions (with -c: the answers)",
                          description="Print seeded questions from the lessons' generators.")
    quiz.add_argument("topic", nargs="?", metavar="TOPIC", help="topic (see --list)")
    quiz.add_argument("--seed", type=_int_in("--seed", 0, 2**32 - 1), default=0)
    quiz.add_argument("-n", type=_int_in("-n", 1, 100), default=1, help="how many questions")
    quiz.add_argument("-c", action="store_true", help="compute and print the answers")
    quiz.add_argument("--list", action="store_true", help="list the topics")
    quiz.set_defaults(run=_run_quiz)

    lessons = sub.add_parser("lessons", help="list the lessons and their kernel functions")
    lessons.set_defaults(run=_run_lessons)
    return parser


def _float_in(option: str, lo: float, hi: float):
    def convert(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{option}: {text!r} is not a number; allowed {lo}..{hi}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(
                f"{option}: {value} is out of range; allowed {lo}..{hi}")
        return value

    return convert


def _knob_value(text: str) -> Any:
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    if text in ("None", "none"):
        return None
    return text


def _progress(err: TextIO, done: float, total: float, width: int = 30) -> None:
    frac = 0.0 if not total else min(1.0, done / total)
    bar = "#" * int(frac * width)
    err.write(f"\r[{bar:<{width}}] {done:6.2f}/{total:.2f} s simulated")
    err.flush()


def _run_run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from mmsim import Sysctl, scenarios
    from mmsim.units import format_pages

    if args.list:
        for name, desc in scenarios.NAMES.items():
            knobs = ", ".join(f"{k}={v}" for k, v in scenarios.KNOBS[name].items())
            out.write(f"{name:24s} {desc}\n{'':24s} knobs: {knobs}\n")
        return 0
    if not args.scenario:
        raise UsageError("SCENARIO: missing; allowed " + ", ".join(scenarios.NAMES))
    if args.scenario not in scenarios.NAMES:
        raise UsageError(f"SCENARIO: {args.scenario!r} is not a scenario; allowed "
                         + ", ".join(scenarios.NAMES))
    knobs: dict[str, Any] = {}
    for item in args.set:
        if "=" not in item:
            raise UsageError(f"--set: {item!r} is not KNOB=VALUE; e.g. --set rate=800MiB")
        k, v = item.split("=", 1)
        knobs[k.strip()] = _knob_value(v.strip())
    if args.order is not None:
        if "order" not in scenarios.KNOBS[args.scenario]:
            with_order = [n for n, k in scenarios.KNOBS.items() if "order" in k]
            raise UsageError(f"--order: scenario {args.scenario!r} has no order knob; allowed "
                             f"with {', '.join(with_order)}")
        knobs["order"] = args.order
    sysctl_kw: dict[str, Any] = {}
    if args.min_free_kbytes is not None:
        sysctl_kw["min_free_kbytes"] = args.min_free_kbytes
    if args.watermark_scale_factor is not None:
        sysctl_kw["watermark_scale_factor"] = args.watermark_scale_factor
    if args.watermark_boost_factor is not None:
        sysctl_kw["watermark_boost_factor"] = args.watermark_boost_factor
    mem = args.mem if args.mem is not None else 1 << 18
    sim = scenarios.build(args.scenario, mem=mem, seed=args.seed,
                          sysctl=Sysctl(**sysctl_kw), **knobs)
    echo = [f"mmsim run {args.scenario}", f"--mem {format_pages(mem).replace(' ', '')}",
            f"--seconds {args.seconds:g}", f"--seed {args.seed}",
            f"--min-free-kbytes {sim.machine.min_free_kbytes}",
            f"--watermark-scale-factor {sim.machine.sysctl.watermark_scale_factor}",
            f"--watermark-boost-factor {sim.machine.sysctl.watermark_boost_factor}"]
    echo += [f"--set {k}={v}" for k, v in knobs.items() if k != "order"]
    if "order" in knobs:
        echo.append(f"--order {knobs['order']}")
    out.write("# " + " ".join(echo) + "\n")
    steps = max(1, int(args.seconds / 0.25))
    show = err.isatty() if hasattr(err, "isatty") else False
    res = None
    for i in range(steps):
        res = sim.run(args.seconds / steps)
        if show:
            _progress(err, (i + 1) * args.seconds / steps, args.seconds)
    if show:
        err.write("\n")
    assert res is not None
    from mmsim.plots import metrics

    out.write(f"# simulated {args.seconds:g} s; final free pages per zone: " + ", ".join(
        f"{z.name} {z.nr_free_pages}" for z in sim.node.zones if z.managed_pages) + "\n")
    for k, v in metrics(res).items():
        out.write(f"{k:32s} {v:g}\n")
    for name in ("pgalloc_normal", "pgalloc_dma32", "pgfree", "pgmajfault", "pgrotated",
                 "compact_migrate_scanned", "compact_free_scanned", "pgmigrate_success",
                 "oom_kill"):
        out.write(f"{name:32s} {int(res.vmstat[name].iloc[-1])}\n")
    for line in res.oom_killed:
        out.write(f"# OOM: {line}\n")
    if args.ftrace:
        with open(args.ftrace, "w") as fh:
            fh.write(res.ftrace() + "\n")
        out.write(f"# ftrace text written to {args.ftrace}\n")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from mmsim.plots import watermark_timeline

        fig, ax = plt.subplots(figsize=(10, 4))
        watermark_timeline(res, ax=ax)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=100)
        out.write(f"# figure written to {args.plot}\n")
    return 0


def _run_quiz(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from mmsim.exercises import TOPICS, quiz
    from mmsim.panels import all_panels

    all_panels()
    if args.list or not args.topic:
        if not args.list:
            raise UsageError("TOPIC: missing; allowed " + ", ".join(sorted(TOPICS)))
        out.write("\n".join(sorted(TOPICS)) + "\n")
        return 0
    if args.topic not in TOPICS:
        raise UsageError(f"TOPIC: {args.topic!r} is not a topic; allowed "
                         + ", ".join(sorted(TOPICS)))
    out.write(f"# mmsim quiz {args.topic} --seed {args.seed} -n {args.n}"
              + (" -c" if args.c else "") + "\n")
    for q in quiz(args.topic, seed=args.seed, n=args.n):
        out.write(f"\nQ (seed {q.seed}): {q.prompt}\n")
        if args.c:
            out.write(q.reveal() + "\n")
    return 0


def _run_lessons(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from mmsim.lessons import LESSONS

    for le in LESSONS:
        out.write(f"{le.number:02d}  {le.notebook:38s} {le.function:45s} {le.file}"
                  + (f" L{le.lines}" if le.lines else "") + "\n")
    return 0


def _run_proc(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from mmsim import Node, Sysctl
    from mmsim.units import format_pages

    changes: dict[str, Any] = {}
    if args.min_free_kbytes is not None:
        changes["min_free_kbytes"] = args.min_free_kbytes
    if args.watermark_scale_factor is not None:
        changes["watermark_scale_factor"] = args.watermark_scale_factor
    if args.from_host:
        if args.mem is not None:
            raise UsageError("--mem: cannot be combined with --from-host (the host's memory "
                             "is used); allowed one of them")
        from mmsim.procfs import node_from_proc

        node = node_from_proc(sysctl=Sysctl.from_proc().copy(**changes))
        where = "--from-host"
    else:
        pages = args.mem if args.mem is not None else 8 << 18
        node = Node.build(mem=pages, sysctl=Sysctl(**changes))
        where = f"--mem {format_pages(pages).replace(' ', '')}"
    echo = (f"# mmsim proc {args.file} {where} --min-free-kbytes {node.min_free_kbytes} "
            f"--watermark-scale-factor {node.sysctl.watermark_scale_factor}")
    print(echo, file=err)
    out.write(node.render(args.file))
    return 0


def _join_negative_values(argv: list[str]) -> list[str]:
    """Let ``--mem -3GiB`` reach the option (argparse takes ``-3GiB`` for an option)."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok in VALUE_OPTIONS and i + 1 < len(argv) and argv[i + 1].startswith("-") \
                and not argv[i + 1].startswith("--"):
            out.append(f"{tok}={argv[i + 1]}")
            i += 2
            continue
        out.append(tok)
        i += 1
    return out


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    """Run the ``mmsim`` command; return the exit status.

    Parameters
    ----------
    argv
        Arguments without the program name (default ``sys.argv[1:]``).
    stdout, stderr
        Where to write (default the process's streams).

    Returns
    -------
    int
        0 on success, 2 for bad input (one line on stderr, no traceback).

    Examples
    --------
    >>> import io
    >>> out, err = io.StringIO(), io.StringIO()
    >>> main(["proc", "buddyinfo", "--mem", "1GiB"], stdout=out, stderr=err)
    0
    >>> err.getvalue()
    '# mmsim proc buddyinfo --mem 1GiB --min-free-kbytes 45056 --watermark-scale-factor 10\\n'
    >>> main(["proc", "zoneinfo", "--min-free-kbytes", "abc"], stdout=out, stderr=err)
    2
    """
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    args_in = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(_join_negative_values(args_in))
        return args.run(args, out, err)
    except UsageError as exc:
        print(f"mmsim: error: {exc}", file=err)
        return 2
    except ValueError as exc:
        print(f"mmsim: error: {str(exc).splitlines()[0]}", file=err)
        return 2
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else 0


__all__ = ["build_parser", "main"]
