"""``rnnstrategy report DIR``: redraw the tearsheet and plots of a finished run from its files."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rnnstrategy.cli.options import HelpFormatter

__all__ = ["register"]


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "report",
        help="redraw the tearsheet and plots of a finished backtest from its files",
        description="Read DIR/equity.csv, trades.csv, forecasts.csv and manifest.json of a finished backtest "
                    "and write DIR/report.html and the PNG plots again (e.g. after an upgrade of quantstats).",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("run", metavar="DIR", type=Path, help="output directory of `rnnstrategy backtest` or `run`")
    parser.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    from rnnstrategy.report.folder import FILES, read_run, render
    from rnnstrategy.report.plots import use_agg

    use_agg()

    started = time.perf_counter()
    report = read_run(args.run)  # first: it checks the files against the manifest's checksums
    metrics = args.run / FILES["metrics"]  # the forecast verdict drawn in the forecast plot, when recorded
    saved = json.loads(metrics.read_text(encoding="utf-8")) if metrics.is_file() else {}
    paths = render(args.run, report, verdict=(saved.get("forecast") or {}).get("verdict"))
    if not args.quiet:
        print(f"redrew {', '.join(p.name for p in paths)} in {args.run} ({time.perf_counter() - started:.1f}s)")
    return 0
