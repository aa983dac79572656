"""The RNNForecast indicator: batch, bar-by-bar and streaming runs agree bit for bit.

Also the helpers the strategy tests share: the real-data cases and :func:`backtest`, which
runs a strategy and records the indicator lines and the fills.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import backtrader as bt
import numpy as np
import pandas as pd
import pytest
from helpers import TINY, WARM, Lines, synthetic
from rnnstrategy.strategies.forecast_long import ForecastLong

from rnnstrategy.backtrader.feed import to_feed
from rnnstrategy.backtrader.indicator import feed_bars
from rnnstrategy.backtrader.rules import use_ashare_rules
from rnnstrategy.backtrader.trades import TradeLog
from rnnstrategy.data import load_bars
from rnnstrategy.data.fingerprint import DataFingerprint
from rnnstrategy.data.forecast_files import write_forecasts
from rnnstrategy.errors import ConfigError, DataError
from rnnstrategy.forecasting.forecaster import RNNForecaster
from rnnstrategy.forecasting.stream import WalkForwardStream
from rnnstrategy.forecasting.walkforward import walk_forward

# symbol: (file under the data folder, first bar, first forecast)
CASES = {
    "600519.SH": ("SH600519.csv", "2019-01-01", "2019-09-02", None),  # 319 bars, 7 folds
    "300750.SZ": ("stocks_tushare_qfq/300750.SZ.csv", "2021-01-04", "2021-07-01", "2021-12-31"),  # ChiNext, 20 % limits
}
FOLDS = {"600519.SH": 7, "300750.SZ": 5}
TRADE_OFTEN = {"entry_threshold": 0.0, "exit_threshold": 0.0}  # in on a predicted rise, out on a fall
MODES = {"once": {}, "next": {"runonce": False}, "stream": {"preload": False}}


def case_bars(data_dir, symbol: str) -> pd.DataFrame:
    path, first, _, last = CASES[symbol]
    return load_bars(data_dir / path).loc[first:last]


@dataclass
class Result:
    lines: pd.DataFrame  # (symbol, date) -> next_open, expected_return, as the strategy saw them
    fills: pd.DataFrame  # TradeLog rows
    value: float  # final portfolio value
    fits: int  # forecasters trained (RNNForecaster.fit and the batched fit_many both prepare through _prepare_fit)
    strategy: bt.Strategy


class Recorder(ForecastLong):
    """ForecastLong that records the indicator lines of every feed at every bar."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple] = []
        self.filled: list[tuple] = []  # (feed, date, signed size, price, portfolio value before)

    def notify_order(self, order: bt.Order) -> None:
        super().notify_order(order)
        if order.status == order.Completed:
            self.filled.append((order.data._name, order.data.datetime.date(0), order.executed.size,
                                order.executed.price, self.broker.getvalue()))

    def next(self) -> None:
        for data, signal in zip(self.datas, self.signals, strict=True):
            if len(data):
                self.seen.append((data._name, data.datetime.date(0), signal.next_open[0], signal.expected_return[0]))
        super().next()


def backtest(bars: Sequence[pd.DataFrame], strategy: type[bt.Strategy] = Recorder, cerebro_kwargs=None,
             monkeypatch: pytest.MonkeyPatch | None = None, **params) -> Result:
    """Run ``strategy`` on these feeds under A-share rules with 1,000,000 CNY; count the fits."""
    fits = []
    original = RNNForecaster._prepare_fit

    def counted(self, *args, **kwargs):
        fits.append(1)
        return original(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RNNForecaster, "_prepare_fit", counted)
        cerebro = bt.Cerebro(stdstats=False, **(cerebro_kwargs or {}))
        for frame in bars:
            cerebro.adddata(to_feed(frame))
        cerebro.broker.setcash(1_000_000)
        use_ashare_rules(cerebro)
        cerebro.addstrategy(strategy, **params)
        cerebro.addanalyzer(TradeLog, _name="fills")
        strat = cerebro.run()[0]
    seen = getattr(strat, "seen", [])
    lines = pd.DataFrame(seen, columns=["symbol", "date", "next_open", "expected_return"]).set_index(["symbol", "date"])
    return Result(lines, strat.analyzers.fills.frame(), cerebro.broker.getvalue(), len(fits), strat)


@pytest.fixture(scope="module")
def runs(data_dir):
    """Each case run in every mode, from scratch (no store): {symbol: {mode: Result}}."""
    out = {}
    for symbol, (_, _, start, _) in CASES.items():
        bars = case_bars(data_dir, symbol)
        out[symbol] = {mode: backtest([bars], cerebro_kwargs=kwargs, config=WARM, start=start, **TRADE_OFTEN)
                       for mode, kwargs in MODES.items()}
    return out


@pytest.mark.shared_data
@pytest.mark.parametrize("symbol", CASES)
def test_modes_give_identical_lines_and_trades(runs, symbol):
    once = runs[symbol]["once"]
    assert once.lines["next_open"].notna().sum() > 100 and len(once.fills) >= 15
    for mode in ("next", "stream"):
        other = runs[symbol][mode]
        pd.testing.assert_frame_equal(other.lines, once.lines)  # bit for bit, NaN where no forecast
        pd.testing.assert_frame_equal(other.fills, once.fills)
        assert other.value == once.value
    # every mode trains each fold exactly once: batch and streaming retrain on the same rows
    assert runs[symbol]["once"].fits == runs[symbol]["next"].fits == runs[symbol]["stream"].fits == FOLDS[symbol]


@pytest.mark.shared_data
@pytest.mark.parametrize("symbol", CASES)
def test_lines_are_the_walk_forward_forecasts(runs, data_dir, symbol):
    bars = case_bars(data_dir, symbol)
    start = CASES[symbol][2]
    reference = walk_forward(bars, WARM, start=start)
    lines = runs[symbol]["once"].lines.loc[symbol]
    lines.index = pd.DatetimeIndex(lines.index)
    assert lines.loc[: pd.Timestamp(start) - pd.Timedelta(days=1)].isna().all().all()
    forecast = lines.loc[start:]
    assert forecast.index.equals(reference.index)
    np.testing.assert_array_equal(forecast["next_open"], reference["pred_open_1"])
    np.testing.assert_array_equal(forecast["expected_return"], reference["pred_open_2"] / reference["pred_open_1"] - 1)


@pytest.mark.shared_data
def test_feed_bars_match_the_loaded_bars(data_dir):
    bars = case_bars(data_dir, "300750.SZ")
    cerebro = bt.Cerebro()
    feed = to_feed(bars)
    cerebro.adddata(feed)
    cerebro.addstrategy(bt.Strategy)
    cerebro.run()
    frame = feed_bars(feed)
    expected = bars[["open", "high", "low", "close", "volume"]]
    pd.testing.assert_frame_equal(frame, expected, check_freq=False, check_index_type=False)
    assert frame.attrs["symbol"] == "300750.SZ"
    # so batch, streaming and CLI runs share fold-store keys
    assert DataFingerprint(frame).upto(len(frame) - 1) == DataFingerprint(expected).upto(len(expected) - 1)


def lines_of(bars: pd.DataFrame, mode: str = "once", **indicator) -> pd.DataFrame:
    return backtest([bars], Lines, MODES[mode], indicator=indicator).lines


@pytest.mark.shared_data
def test_bar_by_bar_never_reads_ahead(data_dir, runs):
    """Preloaded but bar by bar: bars after D are in memory, and must not change the lines up to D."""
    bars = case_bars(data_dir, "600519.SH")
    cut = pd.Timestamp("2019-12-10")
    rng = np.random.default_rng(5)
    garbage = bars.copy()
    after = garbage.index > cut
    # a random walk unrelated to the real bars, in moves the feed's price check accepts (within the 10 % limit)
    base = bars.loc[cut, "close"] * np.exp(np.cumsum(rng.uniform(-0.04, 0.04, after.sum())))
    garbage.loc[after, ["open", "close"]] = np.column_stack([base, base * rng.uniform(0.97, 1.03, after.sum())])
    garbage.loc[after, "high"] = garbage.loc[after, ["open", "close"]].max(axis=1) * 1.01
    garbage.loc[after, "low"] = garbage.loc[after, ["open", "close"]].min(axis=1) * 0.99
    spoiled = lines_of(garbage, "next", config=WARM, start=CASES["600519.SH"][2])
    reference = runs["600519.SH"]["once"].lines
    dates = spoiled.index.get_level_values("date")
    pd.testing.assert_frame_equal(spoiled[dates <= cut.date()], reference[dates <= cut.date()])
    assert not np.allclose(spoiled[dates > cut.date()]["next_open"], reference[dates > cut.date()]["next_open"])


@pytest.mark.shared_data
def test_streaming_reuses_the_folds_of_a_batch_run(data_dir, runs, tmp_path):
    bars = case_bars(data_dir, "600519.SH")
    start = CASES["600519.SH"][2]
    first = backtest([bars], cerebro_kwargs=MODES["once"], config=WARM, start=start, store=tmp_path, **TRADE_OFTEN)
    again = backtest([bars], cerebro_kwargs=MODES["stream"], config=WARM, start=start, store=tmp_path, **TRADE_OFTEN)
    assert (first.fits, again.fits) == (FOLDS["600519.SH"], 0)
    pd.testing.assert_frame_equal(again.lines, runs["600519.SH"]["once"].lines)
    pd.testing.assert_frame_equal(first.fills, runs["600519.SH"]["once"].fills)


@pytest.fixture(scope="module")
def forecasts(data_dir):
    """Tiny-model forecasts of the Moutai case, computed once."""
    bars = case_bars(data_dir, "600519.SH")
    return bars, walk_forward(bars, WARM, start=CASES["600519.SH"][2])


@pytest.mark.shared_data
@pytest.mark.parametrize("mode", ["once", "stream"])
def test_precomputed_forecasts_give_the_computed_lines(forecasts, runs, tmp_path, mode):
    bars, frame = forecasts
    path = write_forecasts(frame, tmp_path / "forecasts.csv")
    reference = runs["600519.SH"]["once"].lines
    for source in (frame, path, str(path)):
        pd.testing.assert_frame_equal(lines_of(bars, mode, forecasts=source), reference)


def test_execution_close_is_the_overnight_return(forecasts):
    bars, frame = forecasts
    lines = lines_of(bars, forecasts=frame, execution="close").loc["600519.SH"]
    lines.index = pd.DatetimeIndex(lines.index)
    expected = frame["pred_open_1"] / bars["close"].reindex(frame.index) - 1
    np.testing.assert_array_equal(lines.loc[frame.index, "expected_return"], expected)
    np.testing.assert_array_equal(lines.loc[frame.index, "next_open"], frame["pred_open_1"])


def test_horizon_one_forecasts_work_with_close_execution(forecasts):
    bars, frame = forecasts
    lines = lines_of(bars, forecasts=frame[["pred_open_1"]], execution="close")
    assert lines["expected_return"].notna().sum() == len(frame)


@pytest.mark.parametrize(
    ("indicator", "match"),
    [
        ({"config": replace(TINY, horizon=1)},
         (r"execution='next_open' trades on ô\(t\+2\) / ô\(t\+1\) and needs horizon>=2, got horizon=1: "
          r"use horizon>=2 or execution='close'")),
        ({"execution": "open"}, r"execution='open' is unknown; use 'next_open'"),
        ({"forecasts": 42}, r"forecasts=int: pass a forecast frame, the path of a forecast CSV, or None"),
    ],
)
def test_bad_settings_raise_clear_errors(forecasts, indicator, match):
    bars, _ = forecasts
    with pytest.raises(ConfigError, match=match):
        lines_of(bars.iloc[:50], **indicator)


def test_forecasts_of_another_symbol_are_refused(forecasts):
    bars, frame = forecasts
    other = bars.copy()
    other.attrs["symbol"] = "000001.SZ"
    with pytest.raises(ConfigError, match=r"forecasts are for 600519.SH but the feed is 000001.SZ"):
        lines_of(other, forecasts=frame)


@pytest.mark.parametrize("mode", list(MODES))
def test_too_short_a_history_gives_nan_lines(data_dir, mode):
    bars = case_bars(data_dir, "600519.SH").iloc[:80]  # min_train=100 samples cannot exist
    lines = lines_of(bars, mode, config=WARM)
    assert len(lines) == 80 and lines.isna().all().all()


def test_forecasts_start_at_start_or_min_train(data_dir):
    bars = case_bars(data_dir, "600519.SH").iloc[:140]
    lines = lines_of(bars, "stream", config=WARM)
    # first retrain: lookback 10 + warm-up 1 + horizon 2 + min_train 100 - 1 = row 111
    assert lines["next_open"].notna().to_numpy().argmax() == 111
    assert lines["next_open"].notna().sum() == 140 - 111


def test_plots_on_the_price_panel(forecasts):
    bars, frame = forecasts
    strat = backtest([bars.iloc[:30]], Lines, indicator={"forecasts": frame}).strategy
    indicator = strat.forecast
    assert indicator.plotinfo.subplot is False and indicator.plotinfo.plotmaster is strat.data
    assert indicator.plotlines.expected_return._plotskip is True
    assert math.isnan(indicator.expected_return[0])  # no forecast in the first 30 bars


def test_stream_without_backtrader_matches_walk_forward():
    bars = synthetic(180, seed=4)
    reference = walk_forward(bars, WARM, start=120)
    stream = WalkForwardStream(WARM, start=120, symbol="000001.SZ")
    got = {date: stream.update(date, *row) for date, row in
           zip(bars.index, bars[["open", "high", "low", "close", "volume"]].to_numpy(), strict=True)}
    forecasts = pd.DataFrame({d: p for d, p in got.items() if p is not None}).T
    np.testing.assert_array_equal(forecasts.to_numpy(), reference[["pred_open_1", "pred_open_2"]].to_numpy())
    assert forecasts.index.equals(reference.index) and stream.fold == reference["fold"].max()
    with pytest.raises(DataError, match=r"bar 2020-01-01 is not after the previous bar .*ascending date order"):
        stream.update(bars.index[0], 1, 1, 1, 1, 1)
