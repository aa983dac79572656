"""TopkDropout on hand-made rankings of the bundled qlib sample (tests/rankings.py): at most ``n_drop``
replacements a day, and only for a better-ranked stock; the minimum holding period; empty slots refilled outside
``n_drop`` (a suspended holding keeps its slot); the money invested; a leaver sold and replaced; and one run
from the command line with a tiny pooled forecaster."""

from __future__ import annotations

import json
import logging

import pandas as pd
import pytest
from helpers import tiny_args
from rankings import (
    CASH,
    SYMBOLS,
    cash_share,
    fills,
    held,
    noisy_scores,
    refused_buys,
    run,
    sessions_held_at_sales,
    steady_scores,
)
from rnnstrategy.strategies.topk_dropout import TopkDropout

from rnnstrategy.cli import main
from rnnstrategy.errors import ConfigError
from rnnstrategy.forecasting.pooled.config import PooledConfig

POOLED = PooledConfig(hidden=(4,), lookback=5, epochs=1, patience=0, batch_size=1024, retrain_every_days=100,
                      train_days=250, device="cpu")
"""A pooled GRU of 4 units on 5-bar windows, one epoch, retrained every 100 market days on the last 250."""


def test_replaces_at_most_n_drop_a_day_after_min_hold_sessions(ranking_bars, ranking_days):
    scores = noisy_scores(ranking_days, SYMBOLS)
    for n_drop in (1, 2):
        result = run(ranking_bars, scores, TopkDropout, topk=4, n_drop=n_drop, min_hold=5)
        sales_a_day = fills(result, "sell").groupby("date").size()
        assert sales_a_day.max() == n_drop  # reached, never passed
        assert len(sales_a_day) > 20
        assert min(sessions_held_at_sales(result)) >= 5
    # the floor binds: without it fresh buys go again within days
    churn = run(ranking_bars, scores, TopkDropout, topk=4, n_drop=1, min_hold=1)
    assert sum(sessions < 5 for sessions in sessions_held_at_sales(churn)) > 20
    assert len(fills(churn, "sell")) > len(fills(result, "sell"))


def test_a_holding_is_replaced_only_by_a_better_ranked_stock(ranking_bars, ranking_days):
    steady = steady_scores(ranking_days)
    result = run(ranking_bars, steady, TopkDropout, topk=4, n_drop=2, min_hold=1)
    assert fills(result, "sell").empty  # the four best stay the four best: nothing to replace
    first = fills(result, "buy").query("date == date.min()")
    assert sorted(first["symbol"]) == sorted(SYMBOLS[:4])


def test_slots_stay_filled_and_the_money_invested(ranking_bars, ranking_days, caplog):
    caplog.set_level(logging.INFO, logger="rnnstrategy.backtrader.strategy")
    result = run(ranking_bars, noisy_scores(ranking_days, SYMBOLS), TopkDropout, topk=4, n_drop=2, min_hold=3)
    refused = refused_buys(caplog)
    counts = (held(result) > 0).sum(axis=1).iloc[1:]  # the first close is before the first fill
    assert set(counts[~counts.index.isin(refused)]) == {4}
    first = fills(result, "buy").query("date == date.min()")
    assert first["value"].sum() == pytest.approx(0.95 * CASH, rel=0.02)  # all but the gap reserve, in one go
    cash = cash_share(result).iloc[2:]  # from the third close on (the second tops up the reserve of the first)
    assert cash[~cash.index.isin(refused)].max() < 0.05
    assert cash.median() < 0.015
    assert len(refused) <= 1


def test_a_suspended_holding_keeps_its_slot(ranking_bars, ranking_days):
    leader = SYMBOLS[0]
    steady = steady_scores(ranking_days)
    pause = ranking_days[20:26]
    suspended = dict(ranking_bars) | {leader: ranking_bars[leader].drop(pause)}
    result = run(suspended, steady, TopkDropout, topk=4, n_drop=1, min_hold=1)
    holdings = held(result) > 0
    assert holdings.loc[pause, leader].all()  # still held through the pause
    assert (holdings.loc[pause].sum(axis=1) == 4).all()  # and nothing bought in its place
    assert set(fills(result, "buy")["symbol"]) == set(SYMBOLS[:4])


def test_a_leaver_is_sold_and_its_slot_filled_outside_n_drop(ranking_bars, ranking_days):
    leader, last_member = SYMBOLS[0], ranking_days[30]
    steady = steady_scores(ranking_days)
    members = {day.date(): frozenset(SYMBOLS) - ({leader} if day > last_member else set()) for day in ranking_days}
    result = run(ranking_bars, steady, TopkDropout, members=members, topk=4, n_drop=0, min_hold=1)
    sells, buys = fills(result, "sell"), fills(result, "buy")
    # no member at the close of days[31]: sold at the next open, and the fifth best bought with the money
    assert list(zip(sells["date"], sells["symbol"], strict=True)) == [(ranking_days[32], leader)]
    that_day = buys.loc[buys["date"] == ranking_days[32], "symbol"].tolist()
    assert that_day[0] == SYMBOLS[4] and set(that_day[1:]) <= set(SYMBOLS[1:4])  # then top-ups, if any
    assert leader not in set(buys.loc[buys["date"] > ranking_days[32], "symbol"])  # no member: never bought back


@pytest.mark.parametrize(("params", "message"), [
    ({"topk": 0}, r"^topk=0: hold at least one stock$"),
    ({"topk": 4, "n_drop": 5}, r"^n_drop=5: replace between 0 and topk=4 holdings a day$"),
    ({"min_hold": 0}, r"^min_hold=0: give the sessions a stock is held before it may be replaced, at least 1$"),
    ({"n_drop": "two"}, r"^TopkDropout: n_drop='two' is not a whole number; give e.g. n_drop=3$"),
    ({"target": 1.5}, r"^target=1.5: give the fraction of portfolio value"),
])
def test_bad_parameters_are_refused_in_one_line(params, message):
    with pytest.raises(ConfigError, match=message):
        TopkDropout.check_params(params)


def test_from_the_command_line_on_the_bundled_sample(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["backtest", "--example", "--universe", "csi300", "--strategy", "topk_dropout", "--topk", "5",
                 "--n-drop", "1", "--start", "2023-11-01", "--end", "2023-12-29", "--out", str(out), "--no-store",
                 *tiny_args(POOLED)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert printed.startswith("using the bundled sample: CSI 300 universe sample")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["backtest"]["strategy"] == "topk_dropout"
    assert manifest["config"]["backtest"]["params"] == {"topk": 5, "n_drop": 1}
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["strategy"]["turnover_per_year"] > 0
    trades = pd.read_csv(out / "trades.csv", parse_dates=["date"])
    shares = trades["size"].where(trades["side"] == "buy", -trades["size"]).groupby(
        [trades["date"], trades["symbol"]]).sum().unstack(fill_value=0).cumsum()
    assert (shares > 0).sum(axis=1).max() == 5
    assert 0 < trades[trades["side"] == "sell"].groupby("date").size().max() <= 2  # one swap (+ a leaver)
    equity = pd.read_csv(out / "equity.csv", index_col="date", parse_dates=True)
    assert (equity["cash"] / equity["value"]).iloc[2:].median() < 0.05  # 1M CNY in 5 slots: lots leave some
