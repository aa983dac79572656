"""``rnnstrategy run FILE``: the ``backtest`` pipeline from a run definition, a versioned TOML file or a
finished run's ``manifest.json`` (a replay, whose data is checked against what it recorded).

A replay never writes into the run it replays: by default it writes beside it, into ``<run folder>-replay``
(a replay of ``runs/x/manifest.json`` into ``runs/x-replay``; run again, it overwrites that replay), and an
``--out`` naming the replayed run's own folder is refused."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rnnstrategy.cli.backtest import execute
from rnnstrategy.cli.forecast import add_compute_options
from rnnstrategy.cli.options import HelpFormatter
from rnnstrategy.config import load_run_config
from rnnstrategy.errors import ConfigError

__all__ = ["register", "replay_folder"]


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "run",
        help="run a backtest defined in a TOML file (see backtests/*.toml)",
        description="Read a backtest definition (tables [data], [benchmark], [forecast], [backtest], "
                    "[backtest.params]; see rnnstrategy.config) from FILE, or the configuration recorded in a "
                    "run's manifest.json (a replay: its data must be the data it recorded), and forecast, backtest and "
                    "report as `rnnstrategy backtest` does. Relative paths in FILE are looked up beside it first. A "
                    "replay writes into a new folder beside the run (runs/x/manifest.json: runs/x-replay), never "
                    "into the run it replays; its manifest records the run's definition, not the manifest replayed.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("file", metavar="FILE", type=Path, help="TOML backtest definition, or a run's manifest.json")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="output directory (default for a TOML file: runs/<FILE name without suffix> in the current "
                             "directory; for a manifest.json: the run's folder with -replay appended, beside it)")
    parser.add_argument("--allow-changed-data", action="store_true",
                        help="replaying a manifest.json whose data (or benchmark) changed since: re-run on the data "
                             "as it is now and say so, instead of refusing")
    add_compute_options(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    config = load_run_config(args.file)
    replay = args.file.suffix == ".json"
    out = replay_folder(args.file, args.out) if replay else args.out or Path("runs") / args.file.stem
    recorded = json.loads(args.file.read_text(encoding="utf-8")) if replay else None  # load_run_config read it
    return execute(config, out, args, config_file=args.file, recorded=recorded)


def replay_folder(manifest_file: Path, out: Path | None) -> Path:
    """Where a replay of ``manifest_file`` writes: ``out``, else ``<its folder>-replay`` beside its folder
    (``<name>-replay`` beside it for a manifest not named manifest.json).

    Raises:
        ConfigError: when ``out`` is the replayed run's own folder.
    """
    folder = manifest_file.resolve().parent
    if out is None:
        if manifest_file.name == "manifest.json":
            return folder.with_name(f"{folder.name}-replay")
        return folder / f"{manifest_file.stem}-replay"
    if out.resolve() == folder:
        raise ConfigError(f"--out {out} is the folder of the run being replayed ({manifest_file}): a replay never "
                          f"overwrites the run it replays; choose another --out, or leave it out to write "
                          f"{folder.name}-replay beside it")
    return out
