"""RankBand on hand-made rankings of the bundled qlib sample (tests/rankings.py): buys from the top ``k``, keeps a
holding between ``k`` and ``exit_rank``, sells one below it or leaving the index and fills its slot; with
``max_turnover`` the band sells at most that share of the value a day, yet the money stays invested."""

from __future__ import annotations

import logging

import pandas as pd
import pytest
from rankings import (
    SYMBOLS,
    cash_share,
    fills,
    held,
    noisy_scores,
    refused_buys,
    run,
)
from rnnstrategy.strategies.rank_band import RankBand

from rnnstrategy.errors import ConfigError

A, B, C, D, E = SYMBOLS[:5]


def test_the_band_keeps_a_slipping_holding_and_sells_one_below_it_or_leaving(ranking_bars, ranking_days):
    """Scores rank the first eight stocks in order; C slips to 5th from days[20] (inside the band of k = 3,
    exit_rank = 5), then to last from days[40]; B leaves the index after days[50]."""
    eight = {symbol: ranking_bars[symbol] for symbol in SYMBOLS[:8]}
    scores = pd.DataFrame([list(range(8, 0, -1))] * len(ranking_days), index=ranking_days, columns=list(eight),
                          dtype=float)
    scores.loc[ranking_days[20]:, C] = 3.5
    scores.loc[ranking_days[40]:, C] = 0.0
    members = {day.date(): frozenset(eight) - ({B} if day > ranking_days[50] else set()) for day in ranking_days}
    result = run(eight, scores, RankBand, members=members, k=3, exit_rank=5)
    sells, buys = fills(result, "sell"), fills(result, "buy")
    first = buys[buys["date"] == ranking_days[1]]
    assert sorted(first["symbol"]) == sorted([A, B, C])
    # 5th is inside the band: C is kept and D (now 3rd) not bought until C falls out at the close of days[40]
    assert list(zip(sells["date"], sells["symbol"], strict=True)) == [(ranking_days[41], C), (ranking_days[52], B)]
    new = buys.drop_duplicates("symbol")
    assert list(zip(new["date"], new["symbol"], strict=True))[3:] == [(ranking_days[41], D), (ranking_days[52], E)]
    assert (held(result) > 0).sum(axis=1).iloc[1:].eq(3).all()


def test_the_turnover_cap_limits_the_band_sells_yet_keeps_the_money_invested(ranking_bars, ranking_days, caplog):
    caplog.set_level(logging.INFO, logger="rnnstrategy.backtrader.strategy")
    scores = noisy_scores(ranking_days, SYMBOLS)
    result = run(ranking_bars, scores, RankBand, k=4, exit_rank=6, max_turnover=0.1)
    equity = result.equity
    deciding = dict(zip(equity.index[1:], equity.index[:-1], strict=True))  # fill day -> the close that decided it
    closes = pd.DataFrame({symbol: frame["close"] for symbol, frame in ranking_bars.items()})
    sells = fills(result, "sell")
    worth = [row.size * closes.loc[deciding[row.date], row.symbol] for row in sells.itertuples()]
    sold = pd.Series(worth, index=sells["date"]).groupby(level=0).sum()
    share = sold / equity["value"].reindex([deciding[day] for day in sold.index]).to_numpy()
    assert share.max() <= 0.1 + 1e-9
    assert sells.groupby("symbol")["date"].apply(lambda dates: dates.diff().dt.days.le(4).sum()).sum() > 10  # in parts
    uncapped = fills(run(ranking_bars, scores, RankBand, k=4, exit_rank=6), "sell")
    assert (uncapped.groupby("date")["value"].sum() / equity["value"].mean()).max() > 0.3  # the cap binds
    # yet the money is not idle: each sale's cash buys the next candidate or tops up the holdings
    refused = refused_buys(caplog)
    cash = cash_share(result).iloc[2:]
    assert cash[~cash.index.isin(refused)].max() < 0.05 and cash.mean() < 0.015
    assert (held(result) > 0).sum(axis=1).iloc[1:].max() <= 5  # k, and one being sold in parts


@pytest.mark.parametrize(("params", "message"), [
    ({"k": 0}, r"^k=0: hold at least one stock$"),
    ({"k": 10, "exit_rank": 5}, r"^exit_rank=5 is below k=10: a new holding would be sold at once$"),
    ({"max_turnover": 1.5}, r"^max_turnover=1.5: give the fraction of the portfolio value the band may sell a day"),
    ({"max_turnover": "x"}, r"^RankBand: max_turnover='x' is not a number; give e.g. max_turnover=0.002$"),
])
def test_bad_parameters_are_refused_in_one_line(params, message):
    with pytest.raises(ConfigError, match=message):
        RankBand.check_params(params)
