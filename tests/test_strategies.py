"""The ready strategies: end-to-end backtests, thresholds and costs, sweeps, several feeds, overnight gaps."""

from __future__ import annotations

import importlib

import backtrader as bt
import numpy as np
import pandas as pd
import pytest
from helpers import WARM
from rnnstrategy.strategies.forecast_long import ForecastLong
from rnnstrategy.strategies.overnight_gap import OvernightGap
from test_backtrader_indicator import CASES, FOLDS, MODES, backtest, case_bars

from rnnstrategy.backtrader.commission import AShareCommission
from rnnstrategy.backtrader.feed import to_feed
from rnnstrategy.backtrader.rules import use_ashare_rules
from rnnstrategy.backtrader.strategy import ForecastStrategy
from rnnstrategy.backtrader.trades import TradeLog
from rnnstrategy.data import load_bars
from rnnstrategy.errors import ConfigError
from rnnstrategy.forecasting.forecaster import RNNForecaster
from rnnstrategy.forecasting.walkforward import walk_forward

MOUTAI = "600519.SH"
START = CASES[MOUTAI][2]


@pytest.fixture(scope="module")
def moutai_case(data_dir):
    return case_bars(data_dir, MOUTAI)


@pytest.fixture(scope="module")
def moutai_forecasts(moutai_case):
    return walk_forward(moutai_case, WARM, start=START)


def planned_forecasts(bars: pd.DataFrame, expected: dict[str, float], execution: str = "next_open") -> pd.DataFrame:
    """A forecast frame whose expected return for ``execution`` is ``expected[date]``.

    ``next_open``: ô(t+2) / ô(t+1) - 1 with ô(t+1) = close(t); ``close``: ô(t+1) / close(t) - 1.
    """
    index = pd.DatetimeIndex([pd.Timestamp(d) for d in expected], name="date")
    close = bars["close"].reindex(index).to_numpy()
    moved = close * (1 + np.array(list(expected.values())))
    if execution == "close":
        return pd.DataFrame({"pred_open_1": moved, "pred_open_2": moved}, index=index)
    return pd.DataFrame({"pred_open_1": close, "pred_open_2": moved}, index=index)


# -- the default strategy, end to end ---------------------------------------------------------------


def test_default_strategy_on_moutai(moutai_case, moutai_forecasts):
    """ForecastLong with its defaults (entry: round-trip cost, exit: 0) on tiny walk-forward forecasts.

    (The forecasts are computed once for this module; test_backtrader_indicator shows that computing
    them inside the indicator gives the same lines and trades.)
    """
    result = backtest([moutai_case], ForecastLong, forecasts=moutai_forecasts)
    fills = result.fills
    assert result.fits == 0
    assert len(fills) == 9 and fills["side"].tolist() == ["buy", "sell"] * 4 + ["buy"]
    assert result.value == pytest.approx(1_038_230.84, abs=0.01)
    assert fills["date"].min() == pd.Timestamp("2019-09-03").date()  # the day after the first forecast
    first = fills.iloc[0]
    assert first["size"] == 800 and first["size"] * first["price"] < 0.95 * 1_000_000
    assert first["commission"] == pytest.approx(0.00025 * first["value"], abs=0.01)
    sells = fills[fills["side"] == "sell"]
    assert (sells["stamp_duty"] == (0.001 * sells["value"]).round(2)).all()
    # buys fill at the next open
    opens = moutai_case["open"]
    for fill in fills.itertuples():
        assert fill.price == opens.loc[pd.Timestamp(fill.date)]


def test_round_trip_cost_from_the_commission_scheme(moutai_case):
    costs = {}

    class Probe(ForecastLong):
        def next(self):
            if self.data.datetime.date(0) == pd.Timestamp("2019-09-03").date():
                costs["big"] = self.round_trip_cost(self.data, 800)
                costs["default"] = self.round_trip_cost(self.data)
                costs["size"] = self.order_size(self.data)
                costs["price"] = self.data.close[0]

    backtest([moutai_case], Probe, forecasts=planned_forecasts(moutai_case, {"2019-09-03": 0.0}))
    value = 800 * costs["price"]
    scheme = AShareCommission()
    day = pd.Timestamp("2019-09-03").date()
    exact = (scheme.fees(800, costs["price"], day).total + scheme.fees(-800, costs["price"], day).total) / value
    assert costs["big"] == exact == pytest.approx(0.00025 * 2 + 0.001 + 0.00002 * 2, abs=1e-6)
    assert costs["size"] == 800 and costs["default"] == costs["big"]


@pytest.mark.shared_data
def test_minimum_commission_raises_the_cost_of_small_orders(data_dir):
    bars = load_bars(data_dir / "stocks_tushare_qfq/600000.SH.csv").loc["2019-01-02":"2019-03-29"]
    seen = {}

    class Probe(ForecastLong):
        def next(self):
            seen.setdefault("cost", self.round_trip_cost(self.data, 100))
            seen.setdefault("price", self.data.close[0])

    backtest([bars], Probe, forecasts=planned_forecasts(bars, {str(bars.index[0].date()): 0.0}))
    value = 100 * seen["price"]
    assert value < 20_000  # commission below 5 CNY: the minimum applies on both sides
    assert seen["cost"] == pytest.approx((5 + 5) / value + 0.001 + 0.00004, abs=1e-4)


# -- thresholds, execution -------------------------------------------------------------------------

PLAN = {  # forecast date -> expected return ô(t+2)/ô(t+1) - 1
    "2019-09-02": 0.0,  # below the cost (0.154 %): nothing
    "2019-09-03": 0.010,  # buy (fills 09-04)
    "2019-09-04": 0.0001,  # hold (>= exit 0)
    "2019-09-05": -0.001,  # sell (fills 09-06)
    "2019-09-06": 0.0015,  # just below the cost: nothing
    "2019-09-09": 0.002,  # buy (fills 09-10)
    "2019-09-10": -0.0001,  # sell (fills 09-11)
}


@pytest.mark.parametrize(("execution", "price"), [("next_open", "open"), ("close", "close")])
def test_entries_and_exits_follow_the_thresholds(moutai_case, execution, price):
    plan = planned_forecasts(moutai_case, PLAN, execution)
    result = backtest([moutai_case], ForecastLong, forecasts=plan, execution=execution)
    fills = result.fills
    assert fills["side"].tolist() == ["buy", "sell", "buy", "sell"]
    signals = ["2019-09-03", "2019-09-05", "2019-09-09", "2019-09-10"]
    dates = list(moutai_case.loc["2019-09-02":].index)
    fill_dates = [dates[dates.index(pd.Timestamp(d)) + 1] for d in signals] if execution == "next_open" else signals
    assert [pd.Timestamp(d) for d in fills["date"]] == [pd.Timestamp(d) for d in fill_dates]
    assert fills["price"].tolist() == moutai_case[price].reindex(pd.DatetimeIndex(fill_dates)).tolist()
    assert result.strategy.broker.p.coc is (execution == "close")


def test_explicit_thresholds(moutai_case):
    plan = planned_forecasts(moutai_case, PLAN)
    fills = backtest([moutai_case], ForecastLong, forecasts=plan, entry_threshold=0.005, exit_threshold=-0.0005).fills
    assert fills["side"].tolist() == ["buy", "sell"]  # only the 1 % signal enters, only -0.1 % exits


def test_execution_is_set_on_the_broker_each_run(moutai_case):
    plan = planned_forecasts(moutai_case, PLAN)
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(to_feed(moutai_case))
    use_ashare_rules(cerebro)
    cerebro.broker.set_coc(True)
    cerebro.addstrategy(ForecastLong, forecasts=plan)  # next_open: cheat-on-close goes off
    cerebro.run()
    assert cerebro.broker.p.coc is False


# -- parameter sweeps ---------------------------------------------------------------------------------


def sweep(bars, store, maxcpus, monkeypatch=None):
    cerebro = bt.Cerebro(stdstats=False, maxcpus=maxcpus)
    cerebro.adddata(to_feed(bars))
    cerebro.broker.setcash(1_000_000)
    use_ashare_rules(cerebro)
    cerebro.optstrategy(ForecastLong, config=WARM, start=START, store=store,
                        entry_threshold=[None, 0.0, 0.003], exit_threshold=[0.0, -0.002])
    cerebro.addanalyzer(TradeLog, _name="fills")
    cerebro.addanalyzer(bt.analyzers.Returns, _name="returns")
    runs = [run[0] for run in cerebro.run()]
    return {(r.params.entry_threshold, r.params.exit_threshold): (len(r.analyzers.fills.get_analysis()),
                                                                  r.analyzers.returns.get_analysis()["rtot"])
            for r in runs}


def test_optstrategy_trains_each_fold_once(moutai_case, tmp_path, monkeypatch):
    fits = []
    original = RNNForecaster._prepare_fit  # where every training starts, batched or not
    monkeypatch.setattr(RNNForecaster, "_prepare_fit", lambda self, *a, **k: fits.append(1) or original(self, *a, **k))
    results = sweep(moutai_case, tmp_path, maxcpus=1)
    assert len(results) == 6
    assert len(fits) == FOLDS[MOUTAI]  # not 6 x 7: the first run stores the folds, the others read them
    assert len({fills for fills, _ in results.values()}) > 2  # the thresholds really change the trades
    # the same sweep in two processes reads the store and gives the same results
    again = sweep(moutai_case, tmp_path, maxcpus=2)
    assert again == results and len(fits) == FOLDS[MOUTAI]


# -- several feeds ------------------------------------------------------------------------------------


@pytest.mark.shared_data
def test_several_feeds_get_their_own_forecasts(data_dir, moutai_case, moutai_forecasts):
    chinext = load_bars(data_dir / CASES["300750.SZ"][0]).loc["2019-01-01":"2020-04-24"]  # overlaps Moutai
    feeds = [moutai_case, chinext]
    results = {mode: backtest(feeds, config=WARM, start=START, cerebro_kwargs=MODES[mode]) for mode in ("once", "next")}
    once = results["once"]
    pd.testing.assert_frame_equal(results["next"].lines, once.lines)
    pd.testing.assert_frame_equal(results["next"].fills, once.fills)
    folds = 0
    references = {MOUTAI: moutai_forecasts, "300750.SZ": walk_forward(chinext, WARM, start=START)}
    for bars in feeds:  # each feed's lines are its own walk-forward forecasts
        reference = references[bars.attrs["symbol"]]
        lines = once.lines.loc[bars.attrs["symbol"]]
        lines.index = pd.DatetimeIndex(lines.index)
        np.testing.assert_array_equal(lines.loc[reference.index, "next_open"], reference["pred_open_1"])
        assert lines.loc[: START, "next_open"].iloc[:-1].isna().all()
        folds += len(reference.attrs["folds"])
    assert once.fits == folds == 14
    # both feeds trade, each with at most half of the 95 % target
    traded = {symbol for symbol, *_ in once.strategy.filled}
    assert traded == {MOUTAI, "300750.SZ"}
    for symbol, date, size, price, value in once.strategy.filled:
        if size > 0:
            assert size * price < 0.95 / 2 * value * 1.1  # bought at the open after a close-based sizing


@pytest.mark.shared_data
def test_forecasts_by_feed_name(moutai_case, moutai_forecasts, data_dir):
    other = load_bars(data_dir / CASES["300750.SZ"][0]).loc["2019-01-01":"2020-04-24"]
    with pytest.raises(ConfigError, match=r"forecasts is one DataFrame but there are 2 feeds: pass a mapping"):
        backtest([moutai_case, other], forecasts=moutai_forecasts)
    result = backtest([moutai_case, other], forecasts={MOUTAI: moutai_forecasts}, config=WARM, start=START)
    assert result.fits == FOLDS[MOUTAI]  # only the feed without precomputed forecasts trains
    lines = result.lines.loc[MOUTAI]
    assert lines["next_open"].notna().sum() == len(moutai_forecasts)


# -- overnight gap ------------------------------------------------------------------------------------


OVERNIGHT_VALUE = 864_120.79  # the tiny model's gaps are no edge: 72 round trips pay their costs


@pytest.mark.parametrize("mode", list(MODES))
def test_overnight_gap_buys_at_close_and_sells_next_open(moutai_case, moutai_forecasts, mode):
    result = backtest([moutai_case], OvernightGap, cerebro_kwargs=MODES[mode], forecasts=moutai_forecasts)
    fills = result.fills
    assert len(fills) == 144 and fills["side"].tolist() == ["buy", "sell"] * 72
    dates = list(moutai_case.index)
    overnight = moutai_forecasts["pred_open_1"] / moutai_case["close"].reindex(moutai_forecasts.index) - 1
    for buy, sell in zip(fills.iloc[::2].itertuples(), fills.iloc[1::2].itertuples(), strict=True):
        bought, sold = pd.Timestamp(buy.date), pd.Timestamp(sell.date)
        assert buy.price == moutai_case.loc[bought, "close"]  # at the close
        assert sold == dates[dates.index(bought) + 1]  # the next trading day: T+1 allows it
        assert sell.price == moutai_case.loc[sold, "open"]  # at its open
        assert sell.size == buy.size
        assert overnight.loc[bought] > 0.0015  # beat the round-trip cost
    assert result.strategy.broker.getposition(result.strategy.data).size in (0, fills["size"].iloc[-1])
    assert result.value == pytest.approx(OVERNIGHT_VALUE, abs=0.01)


def synthetic_bars(opens: list[float], closes: list[float], symbol: str = "600000.SH") -> pd.DataFrame:
    index = pd.DatetimeIndex(pd.bdate_range("2021-03-01", periods=len(opens)).to_numpy(), name="date")
    opens, closes = np.array(opens, dtype=float), np.array(closes, dtype=float)
    bars = pd.DataFrame({"open": opens, "high": np.maximum(opens, closes), "low": np.minimum(opens, closes),
                         "close": closes, "volume": 1e6}, index=index)
    bars.attrs["symbol"] = symbol
    return bars


def test_overnight_sell_refused_at_limit_down_is_retried_next_open():
    # buy at the close of day 2 (10.00); day 3 opens limit-down (9.00): no sell; day 4 opens at 9.50
    bars = synthetic_bars([10, 10, 10, 9.0, 9.5, 9.6], [10, 10, 10, 9.2, 9.6, 9.6])
    forecasts = pd.DataFrame({"pred_open_1": [10.0, 10.0, 10.5, 9.2, 9.6, 9.6]}, index=bars.index)
    result = backtest([bars], OvernightGap, forecasts=forecasts)
    fills = result.fills
    assert fills[["side", "price"]].values.tolist() == [["buy", 10.0], ["sell", 9.5]]
    assert [pd.Timestamp(d) for d in fills["date"]] == [bars.index[2], bars.index[4]]


def test_overnight_gap_needs_close_execution(moutai_case, moutai_forecasts):
    with pytest.raises(ConfigError, match=r"OvernightGap buys at the close: execution='next_open' must be 'close'"):
        backtest([moutai_case], OvernightGap, forecasts=moutai_forecasts, execution="next_open")


def test_target_out_of_range(moutai_case, moutai_forecasts):
    with pytest.raises(ConfigError, match=r"target=1.5"):
        backtest([moutai_case], ForecastLong, forecasts=moutai_forecasts, target=1.5)


# -- the strategies package ---------------------------------------------------------------------------


@pytest.mark.parametrize(("module", "name"), [("forecast_long", "ForecastLong"), ("overnight_gap", "OvernightGap")])
def test_ready_strategies_are_importable_by_name(module, name):
    mod = importlib.import_module(f"strategies.{module}")
    assert mod.__doc__ and mod.__all__ == [name]
    cls = getattr(mod, name)
    assert issubclass(cls, ForecastStrategy)
    doc = cls.__doc__
    assert "Buy:" in doc and "Sell:" in doc
