"""TopK: the k best forecasts held in equal weight, the daily turnover limit, A-share rules."""

from __future__ import annotations

import backtrader as bt
import pandas as pd
import pytest
from rnnstrategy.strategies.top_k import TopK

from rnnstrategy.backtrader.feed import to_feed
from rnnstrategy.backtrader.results import add_result_analyzers, collect_results
from rnnstrategy.backtrader.rules import use_ashare_rules
from rnnstrategy.data import load_bars
from rnnstrategy.errors import ConfigError

SYMBOLS = ("600519.SH", "000858.SZ", "600036.SH", "601318.SH")
FIRST, LAST, SWITCH = "2022-06-01", "2022-07-29", "2022-07-01"


@pytest.fixture(scope="module")
def universe(data_dir):
    folder = data_dir / "stocks_tushare_qfq"
    return {s: load_bars(folder / f"{s}.csv", start=FIRST, end=LAST) for s in SYMBOLS}


def forecasts(bars: pd.DataFrame, before: float, after: float) -> pd.DataFrame:
    """Expected return ô(t+2) / ô(t+1) - 1 of ``before`` until SWITCH, ``after`` from it."""
    expected = pd.Series(before, index=bars.index).where(bars.index < SWITCH, after)
    return pd.DataFrame({"pred_open_1": bars["close"], "pred_open_2": bars["close"] * (1 + expected)},
                        index=bars.index.rename("date"))


def run(universe, expected, **params):
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.broker.setcash(10_000_000)
    for symbol, bars in universe.items():
        cerebro.adddata(to_feed(bars), name=symbol)
    use_ashare_rules(cerebro)
    frames = {s: forecasts(universe[s], *expected[s]) for s in universe}
    cerebro.addstrategy(TopK, forecasts=frames, **params)
    add_result_analyzers(cerebro)
    return collect_results(cerebro.run()[0])


# the ranking flips on SWITCH: 600519 and 000858 lead before, 601318 and 600036 after
EXPECTED = {"600519.SH": (0.03, -0.01), "000858.SZ": (0.02, 0.005), "600036.SH": (0.01, 0.02),
            "601318.SH": (-0.01, 0.03)}


@pytest.mark.shared_data
def test_holds_the_top_k_in_equal_weight_and_follows_the_ranking(universe):
    result = run(universe, EXPECTED, k=2, max_turnover=1.0)
    trades = result.trades
    first_day = trades[trades["date"] == trades["date"].min()]
    assert sorted(first_day["symbol"]) == ["000858.SZ", "600519.SH"] and set(first_day["side"]) == {"buy"}
    # equal weight at entry: each about target / k = 47.5 % of 10,000,000 CNY, in whole lots
    assert first_day["value"].between(0.44e7, 0.475e7).all() and (first_day["size"] % 100 == 0).all()
    after = trades[trades["date"] > pd.Timestamp(SWITCH).date()]
    # 600519 turns negative: sold; 000858 (rank 3 of 4 <= exit_rank 4, still positive) is kept;
    # the freed slot goes to the new leader 601318
    assert [(r.symbol, r.side) for r in after.itertuples()][:2] == [("600519.SH", "sell"), ("601318.SH", "buy")]
    assert "000858.SZ" not in set(after["symbol"])
    held = trades.assign(signed=trades["size"].where(trades["side"] == "buy", -trades["size"]))
    assert (held.groupby("symbol")["signed"].sum() > 0).sum() == 2  # never more than k at the end


@pytest.mark.shared_data
def test_turnover_limit_spreads_the_buys_over_days(universe):
    expected = {s: (0.01 * (4 - k), 0.01 * (4 - k)) for k, s in enumerate(SYMBOLS)}  # constant ranking
    result = run(universe, expected, k=4, max_turnover=0.5)  # one position: 23.75 %; two a day
    buys = result.trades[result.trades["side"] == "buy"]
    days = sorted(buys["date"].unique())
    assert list(buys[buys["date"] == days[0]]["symbol"]) == list(SYMBOLS[:2])  # the best two first
    assert list(buys[buys["date"] == days[1]]["symbol"]) == list(SYMBOLS[2:])
    bought_each_day = buys.groupby("date")["value"].sum() / 10_000_000
    assert (bought_each_day <= 0.5).all()


@pytest.mark.shared_data
def test_exit_rank_sells_a_holding_that_slips(universe):
    result = run(universe, EXPECTED, k=2, max_turnover=1.0, exit_rank=2)
    after = result.trades[result.trades["date"] > pd.Timestamp(SWITCH).date()]
    assert set(after[after["side"] == "sell"]["symbol"]) == {"600519.SH", "000858.SZ"}
    assert set(after[after["side"] == "buy"]["symbol"]) == {"601318.SH", "600036.SH"}


@pytest.mark.shared_data
@pytest.mark.parametrize(("params", "message"), [
    ({"k": 2, "max_turnover": 0.2}, r"max_turnover=0.2 is below one position"),
    ({"k": 2, "exit_rank": 1}, r"exit_rank=1 is below k=2"),
    ({"k": 0}, r"k=0: hold at least one stock"),
    ({"max_turnover": 2.5}, r"max_turnover=2.5: give the fraction of portfolio value"),
    ({"k": "two"}, r"TopK: k='two' is not a whole number; give e.g. k=5"),
])
def test_bad_parameters_are_refused_before_the_run_as_during_it(universe, params, message):
    with pytest.raises(ConfigError, match=message) as before:
        TopK.check_params(params)  # what the API and the command line call before forecasting
    with pytest.raises(ConfigError, match=message) as during:
        run(universe, EXPECTED, **params)
    assert str(before.value) == str(during.value)


@pytest.mark.shared_data
def test_a_buy_must_clear_the_exit_threshold_too(universe):
    """An entry threshold below the exit threshold would buy a stock at one close and sell it at the next on the
    same forecast (or sell and buy it back in one session): the exit threshold is a floor for buys."""
    steady = {s: (r, r) for s, r in zip(SYMBOLS, (0.03, 0.005, -0.01, -0.02), strict=True)}
    result = run(universe, steady, k=2, max_turnover=1.0, entry_threshold=0.001, exit_threshold=0.01)
    assert list(zip(result.trades["symbol"], result.trades["side"], strict=True)) == [("600519.SH", "buy")]
