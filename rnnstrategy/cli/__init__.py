"""The ``rnnstrategy`` command line.

Each sub-command lives in its own module with a ``register(subparsers)``
function that adds its parser and sets ``func``; :func:`main` wires them,
sets up logging from ``-v``/``--quiet`` and turns errors from bad input into
one clear line and exit code 2 (with ``-v`` the traceback follows; the exit
code stays 2), and Ctrl-C (or SIGTERM) at any moment into one line and exit code 130 (143):
see :mod:`rnnstrategy.cli.interrupts`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import traceback
from collections.abc import Sequence

from rnnstrategy import __version__
from rnnstrategy.cli.interrupts import (
    exit_code,
    forget_interrupt,
    interrupt_behind,
    interruptible,
    message,
)
from rnnstrategy.cli.options import CommandParser, HelpFormatter
from rnnstrategy.errors import RnnStrategyError

__all__ = ["build_parser", "main"]

COMMAND_MODULES = ("rnnstrategy.cli.forecast", "rnnstrategy.cli.backtest", "rnnstrategy.cli.definition", "rnnstrategy.cli.sweep", "rnnstrategy.cli.report", "rnnstrategy.cli.compare", "rnnstrategy.cli.data", "rnnstrategy.cli.signal", "rnnstrategy.cli.paper")
EXIT_BAD_INPUT = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnstrategy",
        description="Walk-forward RNN forecasts of A-share opens, backtested with Backtrader.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug); tracebacks on errors")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors; no progress bars")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=CommandParser)
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(commands)
    return parser


def _configure_logging(verbose: int, quiet: bool) -> None:
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code.

    ``argv`` None: this process's own command line, so once the command has returned, SIGINT and SIGTERM
    are ignored while the interpreter exits (see :mod:`rnnstrategy.cli.interrupts`)."""
    with interruptible(restore=argv is not None):
        try:
            return _main(argv)
        except KeyboardInterrupt as interrupt:  # Ctrl-C, or Terminated (SIGTERM), at any moment of the command
            return _interrupted(interrupt)
        except Exception as error:  # an interrupt inside a compiled module's import comes back as an ImportError
            interrupt = interrupt_behind(error)
            if interrupt is None:
                raise
            return _interrupted(interrupt)


def _interrupted(interrupt: KeyboardInterrupt) -> int:
    """Say the command was interrupted; its exit code."""
    print(message(interrupt), file=sys.stderr)
    forget_interrupt()  # handled: the interpreter must not end as if it were not
    return exit_code(interrupt)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose, args.quiet)
    try:
        return int(args.func(args) or 0)
    except RnnStrategyError as exc:
        print(f"rnnstrategy: error: {exc}", file=sys.stderr)
        if args.verbose:
            traceback.print_exc(file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
