"""Benchmark: per-bar cost of the live ``RNNForecast`` (``preload=False``, one bar at a time).

    python backtests/benchmarks/bench_live_indicator.py [--config tiny|default] [--bars 700] [--start ROW]
                                                        [--repeat 5] [--store DIR] [--threads 1]

Runs a Cerebro over the bundled Moutai sample (``rnnstrategy.datasets.path("moutai")``,
its first ``--bars`` bars) with ``preload=False``, so Backtrader feeds the indicator one bar
at a time and its :class:`~rnnstrategy.forecasting.stream.WalkForwardStream` retrains and
forecasts as bars arrive. The fold store is warmed first by a batch
:func:`~rnnstrategy.forecasting.walkforward.walk_forward` over the same bars, so every retrain
loads its fold from the store and the timings show the streaming path, not training.

Each call of the indicator's ``next``/``prenext`` is timed. Bars fall in three kinds:
``warm-up`` (before the first retrain: no forecast yet), ``forecast`` (a forecast, no retrain
due: the live cost per bar) and ``retrain`` (a fold is due and loaded from the store). The run
is repeated ``--repeat`` times; the medians and 95th percentiles are over all bars of all runs,
and ``total`` is the median seconds of one whole Cerebro run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import backtrader as bt
import numpy as np
import torch

from rnnstrategy import datasets
from rnnstrategy.backtrader.feed import to_feed
from rnnstrategy.backtrader.indicator import RNNForecast
from rnnstrategy.data import load_bars
from rnnstrategy.forecasting.walkforward import ForecastConfig, walk_forward

TINY = ForecastConfig(hidden=(8,), lookback=10, horizon=2, epochs=3, patience=0, retrain_every=25, min_train=100,
                      batch_size=32, device="cpu")  # as tests/helpers.py
CONFIGS = {"tiny": TINY, "default": ForecastConfig(device="cpu")}


class TimedForecast(RNNForecast):
    """``RNNForecast`` that times each bar it consumes and tells retrain bars apart."""

    def __init__(self) -> None:
        super().__init__()
        self.timings: list[tuple[str, float]] = []

    def prenext(self) -> None:
        self._timed(super().prenext)

    def next(self) -> None:
        self._timed(super().next)

    def _timed(self, step) -> None:
        folds = self._stream.fold if self._stream is not None else -1
        started = time.perf_counter()
        step()
        seconds = time.perf_counter() - started
        now = self._stream.fold if self._stream is not None else -1
        kind = "retrain" if now != folds else ("forecast" if now >= 0 else "warm-up")
        self.timings.append((kind, seconds))


class Host(bt.Strategy):
    """Holds the timed indicator; trades nothing."""

    params = (("indicator", None),)

    def __init__(self) -> None:
        self.forecast = TimedForecast(self.data, **self.p.indicator)


def run_once(bars, config: ForecastConfig, start: int, store: Path) -> tuple[list[tuple[str, float]], float, list]:
    cerebro = bt.Cerebro(stdstats=False, preload=False)
    cerebro.adddata(to_feed(bars))
    cerebro.addstrategy(Host, indicator={"config": config, "start": start, "store": store})
    started = time.perf_counter()
    (strategy,) = cerebro.run()
    seconds = time.perf_counter() - started
    forecast = strategy.forecast
    lines = list(zip(forecast.next_open.array, forecast.expected_return.array, strict=True))
    return forecast.timings, seconds, lines


def summary(kind: str, values: list[float]) -> str:
    if not values:
        return f"{kind:9} no bars"
    ms = np.array(values) * 1e3
    return (f"{kind:9} {len(ms):6d} bars: median {np.median(ms):8.3f} ms  p95 {np.percentile(ms, 95):8.3f} ms  "
            f"mean {ms.mean():8.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", choices=sorted(CONFIGS), default="tiny")
    parser.add_argument("--bars", type=int, default=700, help="first N bars of the sample (0: all 2,426)")
    parser.add_argument("--start", type=int, default=None, help="first forecast row (default: once min_train allows)")
    parser.add_argument("--repeat", type=int, default=5, help="whole runs to time")
    parser.add_argument("--store", type=Path, default=None, help="fold store to use (default: a temporary folder)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    args = parser.parse_args()

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    config = replace(CONFIGS[args.config])
    bars = load_bars(datasets.path("moutai"))
    if args.bars:
        bars = bars.iloc[: args.bars]
    with tempfile.TemporaryDirectory() as scratch:
        store = args.store or Path(scratch)
        warmed = time.perf_counter()
        reference = walk_forward(bars, config, args.start, store=store)
        print(f"{bars.attrs['symbol']}: {len(bars)} bars {bars.index[0]:%Y-%m-%d}..{bars.index[-1]:%Y-%m-%d}; "
              f"config {args.config}: {config.cell} {config.hidden} lookback {config.lookback} H {config.horizon}, "
              f"retrain every {config.retrain_every}; {len(reference.attrs['folds'])} folds in the store "
              f"(warmed in {time.perf_counter() - warmed:.1f} s); torch {torch.get_num_threads()} thread(s)")
        timings: dict[str, list[float]] = {"warm-up": [], "forecast": [], "retrain": []}
        totals, first_lines = [], None
        for _ in range(args.repeat):
            bar_times, seconds, lines = run_once(bars, config, args.start, store)
            for kind, value in bar_times:
                timings[kind].append(value)
            totals.append(seconds)
            if first_lines is None:
                first_lines = lines
            elif lines != first_lines and not np.array_equal(np.array(lines), np.array(first_lines), equal_nan=True):
                raise SystemExit("two runs gave different lines")
    forecasts = np.array(first_lines)[:, 0]
    expected = reference["pred_open_1"].to_numpy()
    same = np.array_equal(forecasts[-len(expected):], expected)
    print(f"lines equal the batch walk-forward bit for bit: {same}")
    for kind, values in timings.items():
        print(summary(kind, values))
    print(f"total     median {np.median(totals):.2f} s per run of {len(bars)} bars ({args.repeat} runs: "
          f"{', '.join(f'{t:.2f}' for t in totals)})")


if __name__ == "__main__":
    main()
