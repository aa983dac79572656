"""``rnnstrategy sweep FILE.toml``: a grid of forecaster and strategy settings, compared and judged.

The definition is a run definition (as for ``rnnstrategy run``) plus a ``[sweep]`` table
(:mod:`rnnstrategy.api.sweep_definition`); the work is :func:`rnnstrategy.api.sweeps.sweep`, shared with Python.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rnnstrategy.cli.forecast import add_compute_options, compute_options
from rnnstrategy.cli.options import HelpFormatter, check_output_dir, output_dir
from rnnstrategy.cli.os_errors import one_line_os_errors
from rnnstrategy.cli.progress import progress
from rnnstrategy.files import check_path_length
from rnnstrategy.report.console import percent as _percent
from rnnstrategy.report.console import ratio as _ratio

__all__ = ["register", "table_lines"]


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "sweep",
        help="backtest a grid of forecaster and strategy settings; compare them and judge the best",
        description="Run every configuration of FILE (a run definition plus a [sweep] table of settings to try) "
                    "into DIR/<name>/, training each forecaster configuration once (its strategy variants reuse "
                    "its forecasts), then write DIR/compare/ and DIR/sweep.json: the best configuration by Sharpe "
                    "ratio, its Sharpe ratio deflated for the number tried, and the SPA p-values against "
                    "buy-and-hold and the benchmark. A universe (a folder, or a qlib directory with universe = "
                    "\"csi300\") is forecast once into the first variant's folder; the others trade those "
                    "forecasts, judged against the index and the equal-weight basket (see "
                    "backtests/csi300_portfolio_sweep.toml). Finished configurations are kept, so a killed sweep "
                    "resumes.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="TOML sweep definition, e.g. backtests/moutai_sweep.toml")
    parser.add_argument("--out", type=output_dir, default=None, metavar="DIR",
                        help="output directory (default: runs/<FILE name without suffix> in the current directory)")
    add_compute_options(parser)
    tasks = parser.add_argument_group("where the configurations run (not part of the research definition)")
    tasks.add_argument("--executor", choices=["auto", "ray"], default="auto",
                       help="auto: one after another here; ray: the configurations that train a forecaster as Ray "
                            "tasks (the cluster RAY_ADDRESS names, else a local one), then their variants here")
    tasks.add_argument("--workers", type=int, default=None, help="Ray tasks at a time (default: the cluster's CPUs)")
    parser.set_defaults(func=_sweep)


@one_line_os_errors
def _sweep(args: argparse.Namespace) -> int:
    from rnnstrategy.api import expand, load_sweep, sweep

    check_path_length(args.file, "FILE")
    out = args.out or Path("runs") / args.file.stem
    check_output_dir(out)
    spec = load_sweep(args.file)
    configs = expand(spec)
    _check_before_work(configs, out, compute_options(args)["store"])
    with progress(total=len(configs), desc="sweep", unit="config", quiet=args.quiet) as bar:

        def on_run(row: dict[str, Any]) -> None:
            bar.set_postfix(last=row["name"], status=row["status"], refresh=False)
            bar.update()

        summary = sweep(spec, out, on_run=on_run, executor=args.executor, workers=args.workers,
                        **compute_options(args))
    if not args.quiet:
        print("\n".join(table_lines(summary)))
        print(f"wrote {len(summary['names'])} runs, {out / 'compare'}/ and {out / 'sweep.json'}")
    return 0


def _check_before_work(configs: list[tuple[str, Any]], out: Path, store: Any) -> None:
    """Every configuration's strategy parameters, sources, window, folder (``out/<name>``), cache and forecaster,
    before the first one trains."""
    from rnnstrategy.api.preflight import check_run
    from rnnstrategy.errors import ConfigError

    for name, config in configs:
        try:
            check_run(config, out=out / name, store=store, reused=bool(config.backtest.forecasts))
        except ConfigError as exc:
            raise ConfigError(f"sweep configuration {name}: {exc}") from None


def table_lines(summary: dict[str, Any]) -> list[str]:
    """The configurations as a console table (name, total return, Sharpe, verdict; a universe's: its excess over
    the benchmark and the equal-weight basket, turnover, where its forecasts came from), then the best one."""
    rows = summary["configurations"]
    width = max([len("configuration"), *(len(r["name"]) for r in rows)])
    if any("forecasts_from" in row for row in rows):
        header = (f"{'configuration':<{width}}  {'return':>8}  {'Sharpe':>6}  {'excess/yr vs benchmark':>22}  "
                  f"{'vs basket':>17}  {'turnover/yr':>11}  forecasts")
        lines = [header]
        lines += [_universe_line(row, width) for row in rows]
    else:
        lines = [f"{'configuration':<{width}}  {'return':>8}  {'Sharpe':>6}  forecast verdict"]
        lines += [f"{row['name']:<{width}}  {_percent(row['total_return']):>8}  {_ratio(row['sharpe']):>6}  "
                  f"{(row['verdict'] or 'n/a').split(':')[0]}" for row in rows]
    if summary["best"] is not None:
        against = (summary.get("spa") or {}).get("benchmark")
        benchmark = "" if not against else (f"; SPA p vs {against['title']} {_ratio(against['pvalue'], 3)} (best alone "
                                             f"{_ratio(against['pvalue_best_alone'], 3)})")
        lines.append(f"best: {summary['best']} (Sharpe {_ratio(summary['best_sharpe'])} of {summary['trials']} tried); "
                     f"deflated Sharpe {_deflated(summary['deflated_sharpe'])}; SPA p vs buy and hold "
                     f"{_ratio(summary['spa_pvalue'], 3)} (best alone {_ratio(summary.get('spa_pvalue_best_alone'), 3)})"
                     + benchmark)
    return lines


def _universe_line(row: dict[str, Any], width: int) -> str:
    """One universe configuration: return, Sharpe, annualised excess (p) over the benchmark and the basket,
    turnover a year, and whose forecasts it traded."""
    excess = [row.get(key) or {} for key in ("excess_over_benchmark", "excess_over_buy_and_hold")]
    cells = [f"{_percent(e.get('annualised'))} (p {_ratio(e.get('p_value'), 3)})" for e in excess]
    made = "own" if row.get("forecasts_from") is None else f"of {row['forecasts_from']}"
    return (f"{row['name']:<{width}}  {_percent(row['total_return']):>8}  {_ratio(row['sharpe']):>6}  "
            f"{cells[0]:>22}  {cells[1]:>17}  {_ratio(row.get('turnover_per_year'), 1):>11}  {made}")


def _deflated(value: Any) -> str:
    """The deflated Sharpe ratio: a probability, or the mapping deflated_sharpe returned."""
    if isinstance(value, dict):
        found = next((value[k] for k in ("deflated_sharpe", "dsr", "probability", "psr") if k in value), None)
        return _ratio(found, 3)
    return _ratio(value, 3)
