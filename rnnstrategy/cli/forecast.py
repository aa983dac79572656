"""``rnnstrategy forecast``: walk-forward forecasts of one security or a universe, with metrics.

One source (a CSV or a symbol) writes ``DIR/forecasts.csv`` and ``DIR/metrics.json``;
several, or a folder of CSVs, run :func:`rnnstrategy.forecasting.universe.forecast_universe` and
write ``DIR/forecasts/<symbol>.csv`` with ``DIR/summary.csv`` and ``DIR/summary.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from tqdm import tqdm

from rnnstrategy.data import load_bars
from rnnstrategy.data.fingerprint import DataFingerprint
from rnnstrategy.errors import ConfigError
from rnnstrategy.evaluation import forecast_metrics
from rnnstrategy.files import atomic_write_bytes
from rnnstrategy.forecasting.executors import EXECUTORS
from rnnstrategy.forecasting.foldstore import default_store_dir
from rnnstrategy.forecasting.frames import write_forecasts
from rnnstrategy.forecasting.universe import forecast_universe
from rnnstrategy.forecasting.walkforward import FoldReport, ForecastConfig, walk_forward

__all__ = ["register", "add_compute_options", "add_forecaster_options", "config_from_args", "run_walk_forward"]

_DEFAULTS = ForecastConfig()


def _hidden(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--hidden {text!r}: give units per layer, e.g. 64 or 80,100") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"--hidden {text!r}: every layer needs at least 1 unit")
    return sizes


def add_forecaster_options(parser: argparse.ArgumentParser) -> None:
    """The forecaster and schedule options shared by ``forecast`` and ``backtest``."""
    d = _DEFAULTS
    group = parser.add_argument_group("forecaster")
    group.add_argument("--cell", choices=["rnn", "lstm", "gru"], default=d.cell, help="recurrent cell")
    group.add_argument("--hidden", type=_hidden, default=d.hidden, help="units per layer, comma-separated (80,100 = two layers)")
    group.add_argument("--dropout", type=float, default=d.dropout, help="dropout between layers")
    group.add_argument("--lookback", type=int, default=d.lookback, help="bars per input window")
    group.add_argument("--horizon", type=int, default=d.horizon, help="opens forecast ahead (H); the default strategy needs 2")
    group.add_argument("--features", default=",".join(d.features), help="input features, comma-separated")
    group.add_argument("--target", choices=["logret", "level"], default=d.target, help="log(open/close) returns or MinMax price levels")
    group.add_argument("--epochs", type=int, default=d.epochs, help="epochs of a cold (first) fit")
    group.add_argument("--batch-size", type=int, default=d.batch_size, help="mini-batch size")
    group.add_argument("--lr", type=float, default=d.lr, help="Adam learning rate")
    group.add_argument("--loss", choices=["mse", "huber"], default=d.loss, help="training loss")
    group.add_argument("--patience", type=int, default=d.patience, help="early-stopping patience in epochs; 0 turns it off")
    group.add_argument("--seed", type=int, default=d.seed, help="random seed (same seed, same forecasts)")
    group.add_argument("--device", default=d.device, help="auto (CUDA when present), cpu, cuda, cuda:1, ...")
    schedule = parser.add_argument_group("walk-forward schedule")
    schedule.add_argument("--retrain-every", type=int, default=d.retrain_every, help="bars between retrains")
    schedule.add_argument("--train-window", type=int, default=d.train_window,
                          help="training samples per fold, the latest ones; 0 = all (expanding)")
    schedule.add_argument("--min-train", type=int, default=d.min_train, help="samples needed before the first retrain")
    schedule.add_argument("--warm-start-epochs", type=int, default=d.warm_start_epochs, help="epochs of a warm-started fit")
    schedule.add_argument("--warm-start", action=argparse.BooleanOptionalAction, default=d.warm_start,
                          help="start each retrain from the previous fold's weights (faster; drifts over long "
                               "runs, see ForecastConfig); --no-warm-start trains every fold from scratch")
    schedule.add_argument("--start", help="first forecast date (training may use earlier bars)")
    schedule.add_argument("--end", help="last forecast date")
    add_compute_options(parser)


def add_compute_options(parser: argparse.ArgumentParser) -> None:
    """Where and how to compute: threads and the fold store (not part of a research definition)."""
    compute = parser.add_argument_group("compute (not part of the research definition)")
    compute.add_argument("--threads", type=int, default=0,
                         help="torch threads (per worker in a universe run); 0 = every core, none oversubscribed")
    compute.add_argument("--store", type=Path, default=None, help="fold store directory (default: folds/ in the cache)")
    compute.add_argument("--no-store", action="store_true", help="keep no folds on disk (always retrain)")


def config_from_args(args: argparse.Namespace) -> ForecastConfig:
    """The :class:`ForecastConfig` the command-line options describe."""
    features = tuple(name.strip() for name in args.features.split(",") if name.strip())
    if not features:
        raise ConfigError("--features is empty; name at least one feature, e.g. gap,ret,high,low,volume")
    return ForecastConfig(
        cell=args.cell, hidden=args.hidden, dropout=args.dropout, lookback=args.lookback, horizon=args.horizon,
        features=features, target=args.target, train_window=args.train_window or None, epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, loss=args.loss, patience=args.patience, seed=args.seed,
        device=args.device, retrain_every=args.retrain_every, min_train=args.min_train,
        warm_start=args.warm_start, warm_start_epochs=args.warm_start_epochs,
    )


def run_walk_forward(args: argparse.Namespace, bars, config: ForecastConfig):
    """walk_forward with the threads, the store and a progress bar as the options say."""
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    store = _store(args)
    with tqdm(desc=f"folds {bars.attrs.get('symbol', '')}", unit="fold", disable=args.quiet or None) as bar:

        def progress(report: FoldReport) -> None:
            bar.total = report.folds
            bar.set_postfix(date=f"{report.retrain_date:%Y-%m-%d}", trained=report.trained, refresh=False)
            bar.update()

        return walk_forward(bars, config, args.start, args.end, store=store, progress=progress)


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "forecast",
        help="walk-forward forecasts of the next opens, with metrics against naive baselines",
        description="Retrain a recurrent forecaster walk-forward and write DIR/forecasts.csv and DIR/metrics.json. "
                    "With several sources, or a folder of CSVs: DIR/forecasts/<symbol>.csv, DIR/summary.csv and "
                    "DIR/summary.json; the exit code is 1 when a symbol failed (skipped ones do not count).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("data", metavar="DATA", nargs="+",
                        help="CSV path or 6-digit symbol (akshare, cached); several, or a folder of CSVs, for a universe")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory")
    parser.add_argument("--adjust", default="qfq", choices=["", "qfq", "hfq"], help="price adjustment of a symbol download")
    add_forecaster_options(parser)
    universe = parser.add_argument_group("universe runs (several sources or a folder)")
    universe.add_argument("--executor", choices=["auto", *EXECUTORS], default="auto",
                          help="auto: a local process pool; ray: the cluster RAY_ADDRESS names, else a local one")
    universe.add_argument("--workers", type=int, default=None, help="parallel workers (default: one per core)")
    universe.add_argument("--retries", type=int, default=1, help="extra attempts for a symbol whose worker crashed")
    universe.add_argument("--lenient", action="store_true",
                          help="drop rows that fail validation (with a warning) instead of failing the symbol")
    parser.set_defaults(func=_forecast)


def _store(args: argparse.Namespace) -> Path | None:
    return None if args.no_store else (args.store or default_store_dir())


def _forecast(args: argparse.Namespace) -> int:
    if len(args.data) > 1 or Path(args.data[0]).is_dir():
        return _forecast_universe(args)
    config = config_from_args(args)
    bars = load_bars(args.data[0], adjust=args.adjust)
    started = time.perf_counter()
    forecasts = run_walk_forward(args, bars, config)
    seconds = time.perf_counter() - started
    folds = forecasts.attrs["folds"]
    metrics = {
        **forecast_metrics(forecasts, bars),
        "retrains": len(folds),
        "trained": sum(f["trained"] for f in folds),
        "seconds": round(seconds, 3),
        "symbol": bars.attrs.get("symbol"),
        "first_forecast": f"{forecasts.index[0]:%Y-%m-%d}",
        "last_forecast": f"{forecasts.index[-1]:%Y-%m-%d}",
        "data": {"source": bars.attrs.get("source"), "rows": len(bars), "fingerprint": DataFingerprint(bars).upto(len(bars) - 1)},
        "config": config.to_dict(),
        "folds": [{k: v for k, v in f.items() if k != "history"} for f in folds],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write_forecasts(forecasts, args.out / "forecasts.csv")
    atomic_write_bytes(args.out / "metrics.json", json.dumps(metrics, indent=1, ensure_ascii=False).encode())
    if not args.quiet:
        print(
            f"{metrics['symbol']}: {len(forecasts)} forecasts {metrics['first_forecast']}..{metrics['last_forecast']}, "
            f"{metrics['retrains']} retrains ({metrics['trained']} trained) in {seconds:.1f}s"
        )
        if "rmse" in metrics:
            print(f"h=1 RMSE {metrics['rmse']:.3f} vs previous close {metrics['baseline_prev_close_rmse']:.3f}: "
                  f"the model {metrics['verdict']}")
        print(f"wrote {args.out / 'forecasts.csv'} and {args.out / 'metrics.json'}")
    return 0


def _forecast_universe(args: argparse.Namespace) -> int:
    """Forecast every source; a progress bar over symbols and a one-screen summary."""
    config = config_from_args(args)
    sources = args.data[0] if len(args.data) == 1 else args.data
    started = time.perf_counter()
    with tqdm(desc="symbols", unit="symbol", disable=args.quiet or None) as bar:

        def progress(row: dict[str, object]) -> None:
            bar.set_postfix(symbol=row["symbol"], status=row["status"], refresh=False)
            bar.update()

        summary = forecast_universe(
            sources, config, args.start, args.end, out_dir=args.out, executor=args.executor, store=_store(args),
            workers=args.workers, retries=args.retries, threads=args.threads or None, strict=not args.lenient,
            adjust=args.adjust, progress=progress,
        )
    seconds = time.perf_counter() - started
    if not args.quiet:
        ok = summary[summary["status"] == "ok"]
        forecasts = int(ok["forecasts"].sum())
        counts = summary["status"].value_counts()
        print(f"{len(summary)} sources: {counts.get('ok', 0)} ok, {counts.get('skipped', 0)} skipped, "
              f"{counts.get('failed', 0)} failed; {forecasts:,} forecasts in {seconds:.1f}s "
              f"({forecasts / seconds:.1f}/s)")
        if len(ok):
            print(f"median h=1 RMSE ratio vs previous close {ok['rmse_ratio'].median():.3f}, "
                  f"median direction hit rate {ok['direction_hit_rate'].median():.3f}")
        for _, row in summary[summary["status"] != "ok"].iterrows():
            print(f"  {row['symbol']}: {row['status']}: {row['message']}")
        print(f"wrote {args.out / 'forecasts'}/, {args.out / 'summary.csv'} and {args.out / 'summary.json'}")
    return 1 if (summary["status"] == "failed").any() else 0
