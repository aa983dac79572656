"""``rnnstrategy signal``: the next session's orders, from the backtest's strategy at the last close.

The options are those of ``backtest`` (derived from the same dataclasses) less the ones a decision on
one day has no use for, or ``--run FILE``, a run definition (TOML or a run's manifest.json) that sets
them; the work is :func:`rnnstrategy.api.signal`. A universe (a folder, several paths, or
``--forecasts`` the folder of a universe run) is decided by ``--strategy top_k`` into one orders file.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path
from typing import Any

from rnnstrategy import datasets
from rnnstrategy.ashare.rules import AShareRules
from rnnstrategy.cli.forecast import (
    add_forecaster_options,
    add_universe_options,
    compute_options,
    fold_progress,
)
from rnnstrategy.cli.forecaster import forecaster_from_args
from rnnstrategy.cli.options import (
    STRATEGY_OPTIONS,
    HelpFormatter,
    add_options,
    add_strategy_options,
    build,
    check_output_dir,
    output_dir,
    strategy_params,
    values_from_args,
)
from rnnstrategy.cli.os_errors import one_line_os_errors
from rnnstrategy.cli.progress import progress
from rnnstrategy.cli.universe_options import (
    add_symbol_option,
    example_last_day,
    example_universe,
    universe_example_note,
    with_symbol,
)
from rnnstrategy.config import BacktestSpec, DataSpec
from rnnstrategy.errors import ConfigError

__all__ = ["register"]

_UNUSED = ("execution", "cash", "trials")  # next_open only; cash has its own option; no Sharpe to deflate
_ALWAYS = {"DataSpec.source", "symbol", "run", "out", "positions", "cash", "BacktestSpec.end", "threads", "store",
           "no_store", "executor", "workers", "help"}
"""Options that mean the same with --run: where the data is, the holdings, the day, the output and compute."""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "signal",
        help="write the next session's orders, decided by the backtest's strategy at the last close",
        description="Forecast DATA as the backtest does (or reuse --forecasts), run the strategy on the last bar D "
                    "(on or before --end) with the holdings of --positions, and write DIR/orders.csv and "
                    "DIR/orders.json: the orders for the session after D. --positions is a CSV symbol,shares, a "
                    "JSON {\"cash\": ..., \"positions\": {\"600519.SH\": 100}} or a paper account folder (then "
                    "`rnnstrategy paper fill ACCOUNT --orders DIR/orders.json --data DATA` books them). A universe "
                    "(a folder, several paths, or --forecasts the folder of a universe run) is decided by "
                    "--strategy top_k, its forecasts computed into DIR as `backtest` does. --run FILE follows a run "
                    "definition instead (a TOML file or a finished run's manifest.json). Without --end the data must "
                    "reach the last completed session.",
        formatter_class=HelpFormatter,
    )
    add_options(parser, DataSpec, exclude=("name", "names"))
    parser.add_argument("--run", type=Path, default=None, metavar="FILE",
                        help="the run definition to follow: a TOML file as `rnnstrategy run` reads, or a finished "
                             "run's manifest.json; it defines the data (DATA overrides it), forecaster, strategy and "
                             "rules, so their options are not given beside it (default: the options below)")
    parser.add_argument("--example", action="store_true",
                        help="decide on the bundled sample, Moutai (600519.SH) 2010-2020, at its last bar (or --end); "
                             "no DATA needed (rnnstrategy.datasets)")
    add_symbol_option(parser)
    parser.add_argument("--out", type=output_dir, required=True, metavar="DIR", help="output directory")
    parser.add_argument("--positions", metavar="FILE|ACCOUNT_DIR", default=None,
                        help="holdings at the last close: CSV symbol,shares; JSON {\"cash\": ..., \"positions\": "
                             "{...}}; or a paper account folder (default: none)")
    parser.add_argument("--cash", type=float, default=None,
                        help="cash at the last close, CNY (default: the positions' cash; 1000000 without positions)")
    add_options(parser.add_argument_group("strategy (BacktestSpec)"), BacktestSpec, exclude=_UNUSED)
    ready = parser.add_argument_group(STRATEGY_OPTIONS)
    add_options(parser.add_argument_group("A-share broker rules (AShareRules)"), AShareRules)
    add_forecaster_options(parser)
    add_universe_options(parser, retries=False)
    defaults: dict[str, tuple[str, object]] = {}  # dest: (its flags, the value argparse starts it at)

    def add_ready(parser: argparse.ArgumentParser) -> None:  # they import Backtrader: not while the CLI is built
        add_strategy_options(ready)
        for action in parser._actions:
            if action.dest not in _ALWAYS and action.option_strings:
                flags, default = defaults.get(action.dest, ("", action.default))
                defaults[action.dest] = ("/".join(filter(None, (flags, action.option_strings[-1]))), default)

    parser.defer(add_ready)
    parser.set_defaults(func=_signal, defined_options=defaults)




@one_line_os_errors
def _signal(args: argparse.Namespace) -> int:
    from rnnstrategy.api import signal

    check_output_dir(args.out)
    options = _definition(args) if args.run is not None else _options(args)
    if args.example and not args.quiet:
        print(f"{universe_example_note()}; deciding on {options['end']}" if options.get("universe") else
              f"using the bundled sample: {datasets.describe('moutai')}; deciding on its last bar, {options['end']}")
    with progress(desc="folds", unit="fold", quiet=args.quiet) as folds:
        result = signal(positions=args.positions, cash=args.cash, on_fold=fold_progress(folds), out=args.out,
                        executor=args.executor, workers=args.workers, **options, **compute_options(args))
    print("\n".join(result.summary()))
    print(f"wrote {args.out / 'orders.csv'}, {args.out / 'orders.json'}")  # signal(out=...) wrote them
    return 0


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """What :func:`~rnnstrategy.api.signal` decides with, from the options given."""
    from rnnstrategy.api.preflight import check_sources

    data = build(DataSpec, args, name=None, names=None)
    spec = values_from_args(BacktestSpec, args, exclude=_UNUSED)
    if args.example:
        data, spec = _example(data, spec)
    check_sources(spec["forecasts"], "--forecasts")  # before the folder test below reads the path
    if data.source is None and not (spec["forecasts"] and os.path.isdir(spec["forecasts"])):
        raise ConfigError("no data: give DATA, a CSV path or a symbol such as 600519, a folder or several paths "
                          "(a universe), or --forecasts the folder of a universe run")
    return {"data": with_symbol(data.source, args), "strategy": spec["strategy"],
            "params": strategy_params(args, spec["params"]), "forecast": forecaster_from_args(args),
            "forecasts": spec["forecasts"], "rules": build(AShareRules, args), "start": spec["start"], "end": spec["end"],
            "adjust": data.adjust, "strict": data.strict, "universe": data.universe,
            "members_only_training": data.members_only_training, "keep_leavers": spec["keep_leavers"]}


def _example(data: DataSpec, spec: dict[str, Any]) -> tuple[DataSpec, dict[str, Any]]:
    """``--example``: the bundled Moutai sample as DATA, decided on its last bar unless ``--end`` says otherwise
    (its bars end in 2020: they are not fresh, so the decision is historical)."""
    if data.source is not None:
        raise ConfigError(f"give DATA ({data.source}) or --example, not both")
    sample = example_universe(data.universe)  # --universe: the bundled qlib directory, to its last day
    if sample is not None:
        return dataclasses.replace(data, source=sample), {**spec, "end": spec["end"] or example_last_day()}
    end = spec["end"] or f"{datasets.moutai().index[-1]:%Y-%m-%d}"
    return dataclasses.replace(data, source=str(datasets.path("moutai"))), {**spec, "end": end}


def _definition(args: argparse.Namespace) -> dict[str, Any]:
    """``--run FILE``: the definition's data (or DATA), forecaster, strategy and rules; only the day from the
    options (an option the definition sets is refused)."""
    given = sorted(flag for dest, (flag, default) in args.defined_options.items()
                   if getattr(args, dest, default) != default)
    if given:
        raise ConfigError(f"{', '.join(given)} given beside --run {args.run}, which defines them: edit the definition, "
                          "or leave --run out and give every option")
    return {"data": with_symbol(build(DataSpec, args, name=None, names=None).source, args), "config": args.run,
            "end": values_from_args(BacktestSpec, args, exclude=_UNUSED)["end"]}
