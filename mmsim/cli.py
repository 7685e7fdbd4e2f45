"""The ``mmsim`` command line.

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
VALUE_OPTIONS = ("--mem", "--min-free-kbytes", "--watermark-scale-factor")


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
    return parser


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
