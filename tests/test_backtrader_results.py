"""Collecting a Backtrader run for the report: equity, daily returns, fills; strategies by name."""

import textwrap

import numpy as np
import pandas as pd
import pytest
from helpers import perfect_foresight
from rnnstrategy.strategies.forecast_long import ForecastLong

from rnnstrategy.backtrader.registry import load_strategy, strategy_names
from rnnstrategy.backtrader.results import run_backtest
from rnnstrategy.backtrader.trades import TRADE_COLUMNS
from rnnstrategy.errors import ConfigError


@pytest.fixture(scope="module")
def year(moutai):
    """Moutai 2019 and a perfect-foresight forecast frame (the realised opens) for it."""
    bars = moutai.loc["2019-01-01":"2019-12-31"]
    forecasts = perfect_foresight(bars)
    return bars, forecasts


def test_run_backtest_collects_equity_returns_and_fills(year):
    bars, forecasts = year
    seen = []
    result = run_backtest(bars, forecasts, ForecastLong, cash=1_000_000,
                          progress=lambda done, total: seen.append(total))
    equity = result.equity
    assert list(equity.columns) == ["value", "cash", "position", "close"]
    assert equity.index.equals(forecasts.index) and equity.index.tz is None  # the feed covers the forecast dates
    assert equity["close"].tolist() == bars["close"].reindex(forecasts.index).tolist()
    expected = equity["value"] / equity["value"].shift(1).fillna(1_000_000) - 1
    pd.testing.assert_series_equal(result.returns, expected.rename("return"))
    assert seen[-1] == len(forecasts) and len(seen) == len(forecasts)
    # fills: exact columns, each buy in whole lots, the cash ledger adds up
    trades = result.trades
    assert list(trades.columns) == list(TRADE_COLUMNS) and len(trades) >= 2
    assert (trades["size"] % 100 == 0).all()
    assert set(trades["side"]) == {"buy", "sell"}
    fees = trades[["commission", "stamp_duty", "transfer_fee"]].sum().sum()
    signed = np.where(trades["side"] == "buy", -1, 1) * trades["value"]
    held = equity["position"].iloc[-1] * equity["close"].iloc[-1]
    assert result.final_value == pytest.approx(1_000_000 + signed.sum() - fees + held, abs=0.01)
    assert result.final_value > 1_000_000  # foresight of the opens pays even after A-share costs


def test_strategy_parameters_are_checked(year):
    bars, forecasts = year
    with pytest.raises(ConfigError, match="ForecastLong has no parameter 'entry'; valid: target, entry_threshold"):
        run_backtest(bars, forecasts, ForecastLong, params={"entry": 0.01})
    with pytest.raises(ConfigError, match="'execution' is set by the backtest itself"):
        run_backtest(bars, forecasts, ForecastLong, params={"execution": "close"})


def test_ready_strategies_load_by_name():
    assert {"forecast_long", "overnight_gap"} <= set(strategy_names())
    assert load_strategy("forecast_long") is ForecastLong
    assert load_strategy("rnnstrategy.strategies.forecast_long.ForecastLong") is ForecastLong
    assert load_strategy("rnnstrategy.strategies.forecast_long") is ForecastLong


def test_a_users_strategy_loads_from_the_current_directory(tmp_path, monkeypatch):
    (tmp_path / "my_rnn_strategies.py").write_text(textwrap.dedent("""
        from rnnstrategy.strategies.forecast_long import ForecastLong

        class Patient(ForecastLong):
            params = (("entry_threshold", 0.01),)

        class NotOne:
            pass
    """), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert load_strategy("my_rnn_strategies.Patient").params.entry_threshold == 0.01
    assert load_strategy("my_rnn_strategies:Patient").__name__ == "Patient"
    with pytest.raises(ConfigError, match="not a subclass of rnnstrategy.backtrader.strategy.ForecastStrategy"):
        load_strategy("my_rnn_strategies.NotOne")


@pytest.mark.parametrize("name, message", [
    ("forecast_lng", r"strategy 'forecast_lng' is not one of the ready strategies \(forecast_long, overnight_gap"),
    ("nowhere.Strategy", "strategy 'nowhere.Strategy': no such module or class"),
])
def test_unknown_strategies_are_named(name, message):
    with pytest.raises(ConfigError, match=message):
        load_strategy(name)
