"""``rnnstrategy compare RUN_DIR... --out DIR``: finished runs side by side, with the tests that judge them."""

from __future__ import annotations

import argparse
from pathlib import Path

from rnnstrategy.cli.options import HelpFormatter, check_output_dir, output_dir
from rnnstrategy.cli.os_errors import one_line_os_errors
from rnnstrategy.errors import ConfigError
from rnnstrategy.files import check_path_length

__all__ = ["register"]


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "compare",
        help="compare finished backtests: metrics, forecast tests, and whether the best beats buy-and-hold",
        description="Read the output directories of finished backtests and write DIR/compare.html, "
                    "compare.json and compare_equity.png: headline metrics and forecast verdicts side by side, "
                    "pairwise Diebold-Mariano tests between the runs' forecasts on their common dates, and "
                    "Hansen's SPA test of whether the best strategy beats buy-and-hold (and the benchmark, when it "
                    "is an index: a universe run's equal-weight basket and its index) after accounting for how "
                    "many were compared.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("runs", metavar="RUN_DIR", type=Path, nargs="+",
                        help="output directories of `rnnstrategy backtest` or `run`")
    parser.add_argument("--out", metavar="DIR", type=output_dir, required=True,
                        help="directory to write the comparison to")
    parser.add_argument("--trials", type=int, default=None,
                        help="strategies tried before these were picked (default: the number of RUN_DIRs)")
    parser.add_argument("--name", dest="names", action="append", default=None, metavar="NAME",
                        help="a name per run, in order, repeated (default: the directory names)")
    parser.set_defaults(func=_compare)


@one_line_os_errors
def _compare(args: argparse.Namespace) -> int:
    from rnnstrategy.report.compare import FILES, compare_runs, summary_lines
    from rnnstrategy.report.plots import use_agg

    check_output_dir(args.out)
    for run in args.runs:
        _check_backtest(run)
    use_agg()
    result = compare_runs(args.runs, args.out, trials=args.trials, names=args.names)
    if not args.quiet:
        print("\n".join(summary_lines(result)))
        print(f"wrote {args.out / FILES['html']} ({FILES['json']}, {FILES['equity_plot']} beside it)")
    return 0


def _check_backtest(run: Path) -> None:
    """Refuse a RUN_DIR that holds another kind of run (a forecast, a paper account) before reading it."""
    from rnnstrategy.report.folder_checks import folder_kind

    check_path_length(run, "RUN_DIR")
    kind = folder_kind(run) if run.is_dir() else None
    if kind is not None and kind != "backtest":
        raise ConfigError(f"{run} is a {kind} run; compare takes backtests: give the output directories of "
                          "`rnnstrategy backtest` or `rnnstrategy run` (to judge forecasts alone, see its "
                          "metrics.json)")
