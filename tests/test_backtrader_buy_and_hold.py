"""Buy-and-hold of the traded stock under the strategy's broker, and the excess-return test beside it."""

import datetime

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from rnnstrategy.backtrader.buy_and_hold import run_buy_and_hold
from rnnstrategy.errors import ConfigError
from rnnstrategy.evaluation.excess import excess_return_test

START, END = "2019-01-02", "2019-01-10"  # 600519 opens 609.98 on 2019-01-02 and closes 618.77 on 2019-01-10


def test_buys_whole_lots_at_the_first_open_with_fees_and_holds(moutai):
    held = run_buy_and_hold(moutai, START, END, cash=1_000_000)
    # 1,000,000 / 609.98 = 1639.4 shares: 16 lots; value 975,968.00, commission 0.025 % = 243.99,
    # transfer fee 0.002 % = 19.52, no stamp duty on a buy
    assert held.trades.drop(columns="date").to_dict("records") == [
        {"symbol": "600519.SH", "side": "buy", "size": 1600, "price": 609.98, "value": 975_968.0,
         "commission": 243.99, "stamp_duty": 0.0, "transfer_fee": 19.52}]
    assert held.trades["date"].tolist() == [datetime.date(2019, 1, 2)]
    assert held.equity.index.equals(moutai.loc[START:END].index)
    assert (held.equity["position"] == 1600).all()
    assert held.equity["cash"].tolist() == pytest.approx([23_768.49] * 7, abs=1e-6)  # 1,000,000 - 975,968 - 263.51
    assert held.final_value == pytest.approx(23_768.49 + 1600 * 618.77, abs=1e-6)  # 1,013,800.49
    # the first day's return is against the starting cash: fees and the open-to-close move
    assert held.returns.iloc[0] == pytest.approx((23_768.49 + 1600 * 598.98) / 1_000_000 - 1, abs=1e-12)
    assert (1 + held.returns).prod() == pytest.approx(1_013_800.49 / 1_000_000, abs=1e-12)


def test_the_fees_count_when_sizing(moutai):
    # 200 shares cost 121,996.00 + 30.50 commission + 2.44 transfer fee > 122,000: one lot
    held = run_buy_and_hold(moutai, START, END, cash=122_000)
    assert held.trades["size"].tolist() == [100]
    assert held.trades[["commission", "transfer_fee"]].iloc[0].tolist() == [15.25, 1.22]
    assert held.equity["cash"].iloc[-1] == pytest.approx(122_000 - 60_998 - 15.25 - 1.22, abs=1e-6)

    # the strategy's own target (95 % of the value) buys 15 lots instead: 0.95e6 / 609.98 = 1557.4
    assert run_buy_and_hold(moutai, START, END, cash=1_000_000, target=0.95).trades["size"].tolist() == [1500]


def test_a_basket_splits_the_cash_equally(moutai):
    other = moutai.copy()
    other.attrs = {**moutai.attrs, "symbol": "600036.SH"}
    held = run_buy_and_hold([moutai, other], START, END, cash=1_000_000)
    assert held.trades[["symbol", "size"]].values.tolist() == [["600519.SH", 800], ["600036.SH", 800]]


def test_a_window_without_bars_is_refused(moutai):
    with pytest.raises(ConfigError, match="no bar in that window"):
        run_buy_and_hold(moutai, "2030-01-02", "2030-02-01")
    with pytest.raises(ConfigError, match=r"target=1.5: give the fraction of the starting cash to invest, in \(0, 1\]"):
        run_buy_and_hold(moutai, START, END, target=1.5)


def test_excess_return_test_is_the_newey_west_t_of_the_mean():
    days = pd.bdate_range("2020-01-02", periods=10)
    strategy = pd.Series([0.01, -0.02, 0.015, 0.0, 0.005, -0.01, 0.02, 0.003, -0.004, 0.006], index=days)
    baseline = pd.Series(0.0, index=days)
    result = excess_return_test(strategy, baseline, periods_per_year=243)
    # mean 0.0025; Newey-West with Bartlett weights over 2 lags, no small-sample correction
    assert result["days"] == 10 and result["lags"] == 2
    assert result["mean_daily"] == pytest.approx(0.0025) and result["annualised"] == pytest.approx(0.6075)
    assert result["hac_t"] == pytest.approx(1.3675979634, rel=1e-9)
    assert result["p_value"] == pytest.approx(0.1714379543, rel=1e-8)
    fit = sm.OLS(strategy.to_numpy(), np.ones(10)).fit(cov_type="HAC", cov_kwds={"maxlags": 2, "use_correction": False})
    assert (result["hac_t"], result["p_value"]) == pytest.approx((fit.tvalues[0], fit.pvalues[0]), rel=1e-9)
    flat = excess_return_test(baseline, baseline)
    assert flat["mean_daily"] == 0.0 and flat["hac_t"] is None and flat["p_value"] is None
