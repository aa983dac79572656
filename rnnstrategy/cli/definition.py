"""``rnnstrategy run FILE``: the ``backtest`` pipeline from a run definition, a versioned TOML file or a
finished run's ``manifest.json`` (a replay, whose data is checked against what it recorded)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rnnstrategy.cli.backtest import execute
from rnnstrategy.cli.forecast import add_compute_options
from rnnstrategy.cli.options import HelpFormatter
from rnnstrategy.config import load_run_config

__all__ = ["register"]


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "run",
        help="run a backtest defined in a TOML file (see backtests/*.toml)",
        description="Read a backtest definition (tables [data], [benchmark], [forecast], [backtest], "
                    "[backtest.params]; see rnnstrategy.config) from FILE, or the configuration recorded in a "
                    "run's manifest.json, and forecast, backtest and report as `rnnstrategy backtest` does. "
                    "Relative paths in FILE are looked up beside it first.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("file", metavar="FILE", type=Path, help="TOML backtest definition, or a run's manifest.json")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="output directory (default: runs/<FILE name without suffix> in the current directory)")
    parser.add_argument("--allow-changed-data", action="store_true",
                        help="replaying a manifest.json whose data (or benchmark) changed since: re-run on the data "
                             "as it is now and say so, instead of refusing")
    add_compute_options(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    config = load_run_config(args.file)
    replay = args.file.suffix == ".json"
    stem = args.file.parent.name if args.file.name == "manifest.json" else args.file.stem
    out = args.out or Path("runs") / stem
    recorded = json.loads(args.file.read_text(encoding="utf-8")) if replay else None  # load_run_config read it
    return execute(config, out, args, config_file=args.file, recorded=recorded)
