"""Benchmark: wall time of a daily signal (``rnnstrategy.api.signal``) by what its fold store holds.

    python backtests/benchmarks/bench_signal.py [DATA] [--start DATE] [--end DATE] [--folds 3] [--pooled] [--symbols N]
        [--k K] [--set key=value ...] [--store DIR] [--threads 1] [--executor auto] [--json FILE]

DATA is one stock (a CSV; default ../shared/data/SH600519.csv, traded by ``forecast_long``) or a
universe (a folder of CSVs, traded by ``top_k``; ``--symbols N``: its first N files; ``--pooled``:
one pooled model per retrain, ``PooledConfig``, else one model per symbol, ``ForecastConfig``). The
forecaster has its class's defaults, or ``--set`` overrides of its fields (``--set epochs=2
--set hidden=8``). Each call decides with no positions and 1,000,000 CNY, into its own folder,
with one fold store that starts empty (a temporary folder unless ``--store``):

- ``cold``: decide on P, the bar before D, with the store empty: every fold from ``start`` to P
  is trained;
- ``one fold due``: decide on D, a retrain day of the walk-forward schedule (P is not): the folds
  up to P come from the store, the fold of D is trained;
- ``none due``: decide on D again: everything comes from the store;
- ``next bar``: decide on the bar after D (when there is one), which is no retrain day either.

The decision day D is found from the schedule the signal runs: per symbol, the retrain rows of
:func:`~rnnstrategy.forecasting.walkforward.first_retrain_row` over the bars loaded as the signal
loads them (``history_needed()`` bars before ``start``), then every ``retrain_every`` bars; pooled,
the market days of :func:`~rnnstrategy.forecasting.pooled.panel.retrain_days` on the union calendar of
the symbols (every ``retrain_every_days``). D is the latest day on or before ``--end`` (default: the
bar before the last, so that a next bar exists) that is a retrain day for the most symbols and whose previous bar is one for
the fewest. Without ``--start``, the start is put ``--folds`` retrain periods before that day, so
the cold run trains ``--folds`` folds per symbol (per pooled run).

Each row gives the seconds of the ``signal`` call (everything: loading, forecasting, writing the
forecasts, the one-bar Cerebro; the modules it imports on a first call are imported before), the
folds trained (``on_fold`` reports for one stock; for a universe the ``trained`` column of the
run's ``summary.csv``: summed over symbols per symbol, the pooled folds otherwise) and the orders.
``--executor`` is how a universe is forecast (``auto``: a process pool for several symbols;
``inprocess`` saves the pool's start when little is due).
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import logging
import os
import platform
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from rnnstrategy import api
from rnnstrategy.data import load_bars
from rnnstrategy.errors import RnnStrategyError
from rnnstrategy.forecasting.config import ForecastConfig
from rnnstrategy.forecasting.pooled.config import PooledConfig
from rnnstrategy.forecasting.pooled.panel import retrain_days
from rnnstrategy.forecasting.walkforward import first_retrain_row
from rnnstrategy.universe.sources import resolve_sources

DEFAULT_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "SH600519.csv"


def _overrides(items: list[str], cls: type[ForecastConfig] | type[PooledConfig]) -> dict[str, object]:
    """``--set key=value`` as fields of ``cls`` (a sequence field takes one value too: hidden=8)."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, object] = {}
    for item in items:
        key, _, raw = item.partition("=")
        if key not in fields:
            raise SystemExit(f"--set {item}: {key!r} is no {cls.__name__} field; valid: {', '.join(sorted(fields))}")
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw
        if isinstance(getattr(cls(), key), tuple) and not isinstance(value, (tuple, list)):
            value = tuple(str(value).split(",")) if isinstance(value, str) else (value,)
        values[key] = value
    return values


def _schedule(config: ForecastConfig | PooledConfig) -> tuple[int, int | None]:
    """(retrain period, training window): market days for a pooled model, bars of the stock otherwise."""
    if isinstance(config, PooledConfig):
        return config.retrain_every_days, config.train_days
    return config.retrain_every, config.train_window


def _loaded(sources: list[str], config: ForecastConfig | PooledConfig, start: str | None) -> dict[str, pd.DataFrame]:
    """Each source's bars as the signal loads them: ``history_needed()`` bars before ``start``, then all."""
    bars = {}
    for source in sources:
        try:
            frame = load_bars(source, start=start, history=config.history_needed() if start else None)
        except RnnStrategyError as exc:  # left out, as the universe run leaves it out
            print(f"left out {source}: {str(exc).splitlines()[0]}")
            continue
        bars[str(frame.attrs.get("symbol") or Path(source).stem)] = frame
    return bars


def _calendar(bars: dict[str, pd.DataFrame]) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(sorted(set().union(*(frame.index for frame in bars.values()))))


def _retrain_dates(bars: dict[str, pd.DataFrame], config: ForecastConfig | PooledConfig,
                   start: str) -> dict[str, set[pd.Timestamp]]:
    """The retrain days of each symbol (pooled: of the pooled model, under the key ``"pooled"``)."""
    if isinstance(config, PooledConfig):
        calendar = _calendar(bars)
        return {"pooled": {calendar[p] for p, _ in retrain_days(calendar, start, None, config.retrain_every_days)}}
    days = {}
    for symbol, frame in bars.items():
        first = first_retrain_row(config, frame.index, start)
        days[symbol] = set() if first is None else set(frame.index[first::config.retrain_every])
    return days


def _decision_day(bars: dict[str, pd.DataFrame], config: ForecastConfig | PooledConfig, start: str,
                  end: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp, int, int]:
    """``(D, P, symbols due on D, symbols due on P)``: D a retrain day on or before ``end`` after the first
    retrain, for the most symbols, whose previous market day P is one for the fewest (the latest such D)."""
    calendar = _calendar(bars)
    due = _retrain_dates(bars, config, start)
    firsts = [min(days) for days in due.values() if days]
    if not firsts:
        needed = "" if isinstance(config, PooledConfig) else f" (min_train={config.min_train})"
        raise SystemExit(f"no retrain from {start} on: too little history{needed}; give an earlier --start or more "
                         "bars")
    best: tuple[int, int, int] | None = None
    for position in range(1, len(calendar)):
        day = calendar[position]
        if day > end or day <= min(firsts):
            continue
        on_day = sum(day in days for days in due.values())
        on_previous = sum(calendar[position - 1] in days for days in due.values())
        if on_day and (best is None or (on_day - on_previous, position) >= (best[0], best[2])):
            best = (on_day - on_previous, on_day, position)
    if best is None:
        raise SystemExit(f"no retrain day after the first ({min(firsts):%Y-%m-%d}) on or before {end:%Y-%m-%d}: "
                         f"give an earlier --start or a later --end (a retrain every {_schedule(config)[0]})")
    position = best[2]
    day, previous = calendar[position], calendar[position - 1]
    return day, previous, best[1], sum(previous in days for days in due.values())


def _default_start(calendar: pd.DatetimeIndex, config: ForecastConfig | PooledConfig, end: pd.Timestamp,
                   folds: int) -> str:
    """The start that puts ``folds`` retrain periods between it and the last market day on or before ``end``
    (counted on the union calendar: exact for symbols that traded every day)."""
    last = int(calendar.searchsorted(end, side="right")) - 1
    return f"{calendar[max(0, last - folds * _schedule(config)[0])]:%Y-%m-%d}"


def _folds_trained(out: Path, reports: list[object], pooled: bool) -> int:
    """Folds the call trained: its ``on_fold`` reports, or a universe run's summary."""
    summary = out / "summary.csv"
    if not summary.is_file():
        return sum(bool(getattr(report, "trained", False)) for report in reports)
    table = pd.read_csv(summary)
    trained = table.loc[table["status"] == "ok", "trained"].fillna(0).astype(int)
    return int(trained.max() if pooled else trained.sum()) if len(trained) else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA,
                        help="one stock's CSV, or a folder of CSVs (a universe)")
    parser.add_argument("--start", default=None, help="first forecast date (default: --folds periods before D)")
    parser.add_argument("--end", default=None, help="D is on or before it (default: the bar before the last)")
    parser.add_argument("--folds", type=int, default=3, help="folds per symbol the cold run trains, without --start")
    parser.add_argument("--pooled", action="store_true", help="universe: one pooled model (PooledConfig)")
    parser.add_argument("--symbols", type=int, default=None, help="universe: only the first N files of the folder")
    parser.add_argument("--k", type=int, default=None, help="top_k: stocks to hold (default: the strategy's)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="a field of the forecaster's class (repeatable): --set epochs=2 --set hidden=8")
    parser.add_argument("--store", type=Path, default=None, help="fold store, empty (default: a temporary folder)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    parser.add_argument("--executor", default="auto", choices=("auto", "inprocess", "process"),
                        help="how a universe is forecast (see rnnstrategy.universe.executors)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    threads = args.threads or None

    universe = args.data.is_dir()
    if args.pooled and not universe:
        raise SystemExit("--pooled: a pooled model learns across a universe; give a folder of CSVs")
    forecaster = PooledConfig if args.pooled else ForecastConfig
    config = forecaster(**_overrides(args.overrides, forecaster))
    sources = resolve_sources(args.data)[: args.symbols] if universe else [str(args.data)]
    data: str | list[str] = sources if universe and args.symbols else str(args.data)
    strategy = "top_k" if universe else "forecast_long"

    logging.disable(logging.WARNING)  # the dates of every bar, for the calendar (bad rows dropped quietly)
    calendar = _calendar({source: load_bars(source, strict=False) for source in sources})
    logging.disable(logging.NOTSET)
    end = calendar[-2] if args.end is None else pd.Timestamp(args.end)
    start = args.start or _default_start(calendar, config, end, args.folds)
    bars = _loaded(sources, config, start)  # as the signal loads them
    day, previous, due, due_before = _decision_day(bars, config, start, end)
    after = calendar[calendar > day]
    following = after[0] if len(after) else None
    kind = "pooled" if args.pooled else "per symbol"
    every, window = _schedule(config)
    print(f"{args.data}: {len(bars)} symbol(s), {strategy}, {kind} models ({config.cell} {config.hidden}, lookback "
          f"{config.lookback}, {config.epochs} epochs, retrain every {every}, train window {window}); start {start}")
    what = "the pooled model" if args.pooled else f"{due} of {len(bars)} symbol(s)"
    print(f"D = {day:%Y-%m-%d}: a retrain day of {what} (the bar before, {previous:%Y-%m-%d}, of {due_before}); "
          f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
          f"{os.cpu_count()} CPU(s), {platform.processor() or platform.machine()}")

    # what signal imports on its first call (Backtrader, the strategy): imported now, so cold times the store
    from rnnstrategy.backtrader.registry import load_strategy
    from rnnstrategy.backtrader.signal import decide  # noqa: F401
    from rnnstrategy.live.sessions import check_fresh  # noqa: F401

    load_strategy(strategy)
    states = [("cold", previous), ("one fold due", day), ("none due", day)]
    if following is not None:
        states.append(("next bar", following))
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        store = args.store or Path(scratch) / "store"
        if args.store and any(args.store.iterdir() if args.store.exists() else []):
            raise SystemExit(f"--store {args.store} is not empty; the cold run needs an empty store")
        for n, (state, when) in enumerate(states):
            out = Path(scratch) / f"signal{n}"
            reports: list[object] = []
            started = time.perf_counter()
            run = api.signal(data, strategy=strategy, forecast=config, start=start, end=f"{when:%Y-%m-%d}",
                             k=args.k, cash=1_000_000, store=store, threads=threads, on_fold=reports.append, out=out,
                             executor=args.executor)
            seconds = time.perf_counter() - started
            rows.append({"state": state, "decided_on": f"{run.decided_on}", "seconds": round(seconds, 3),
                         "folds_trained": _folds_trained(out, reports, args.pooled), "on_fold_calls": len(reports),
                         "orders": len(run.orders), "order_list": [(o["symbol"], o["side"], o["shares"])
                                                                   for o in run.orders]})
            row = rows[-1]
            print(f"{state:13} {row['decided_on']}  {seconds:8.2f} s  {row['folds_trained']:5d} folds trained  "
                  f"{row['orders']:3d} orders", flush=True)
    if rows[1]["order_list"] != rows[2]["order_list"]:
        print("warning: deciding on D twice gave different orders")
    if args.json:
        args.json.write_text(json.dumps({
            "data": str(args.data), "symbols": len(bars), "strategy": strategy, "pooled": args.pooled,
            "executor": args.executor,
            "config": config.to_dict(), "start": start, "decision_day": f"{day:%Y-%m-%d}",
            "previous_bar": f"{previous:%Y-%m-%d}", "due_on_decision_day": due, "due_on_previous_bar": due_before,
            "threads": torch.get_num_threads(), "cpus": os.cpu_count(), "torch": torch.__version__,
            "states": [{k: v for k, v in row.items() if k != "order_list"} for row in rows]}, indent=1))


if __name__ == "__main__":
    main()
