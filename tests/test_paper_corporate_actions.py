"""The paper account books its holdings' dividends, bonus shares and splits from the bars' adjustment factor,
and caps fills at the volume limit, as the backtest's broker does.

The test of record replays a backtest of 600519 across its 2022-06-30 ex-date (the bundled qlib sample: raw
prices and their factor) session by session through ``decide`` and ``PaperAccount.fill``: cash, shares and
equity are the backtest's to the fen after every session, with dividend tax off and on. Synthetic bars carry
a bonus issue and a share consolidation (with cash in lieu) under a volume limit that binds.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json

import numpy as np
import pandas as pd
import pytest
from helpers import synthetic
from rnnstrategy.strategies.forecast_long import ForecastLong
from test_signal import _order_ids

import rnnstrategy as rs
from rnnstrategy import datasets
from rnnstrategy.ashare.rules import AShareRules
from rnnstrategy.backtrader.results import run_backtest
from rnnstrategy.backtrader.signal import decide
from rnnstrategy.cli import main
from rnnstrategy.data.forecast_files import write_forecasts
from rnnstrategy.errors import ConfigError, DataError
from rnnstrategy.live import money
from rnnstrategy.live.ledger import journal_actions, journal_trades
from rnnstrategy.live.paper import PaperAccount

QLIB = datasets.path("csi300_universe")
MOUTAI = "600519.SH"
EX_DATE = "2022-06-30"  # 600519's 2021 dividend: 21.675 CNY a share before tax (216.75 per 10 shares)
CASH = 1_000_000
D = dt.date


@pytest.fixture(scope="module")
def moutai() -> pd.DataFrame:
    """600519's raw bars and factor around the ex-date."""
    return rs.load_bars(QLIB, symbol=MOUTAI).loc["2022-04-01":"2022-07-29"]


def _forecasts(bars: pd.DataFrame, first: str, sells: list[tuple[str, str]]) -> pd.DataFrame:
    """Forecasts from ``first`` on whose expected return is +1 % (buy, hold), -1 % in the ``sells`` windows."""
    dates = bars.loc[first:].index
    expected = pd.Series(0.01, index=dates)
    for start, end in sells:
        expected[(dates >= start) & (dates <= end)] = -0.01
    frame = pd.DataFrame({"pred_open_1": 1.0, "pred_open_2": 1.0 + expected, "fold": 0}, index=dates)
    frame.index.name = "date"
    frame.attrs["symbol"] = bars.attrs["symbol"]
    return frame


def _replay(bars, forecasts, rules, cash, folder):
    """The backtest, and a paper account that replayed it: decided at each close with its holdings, filled at
    each next session (orders or none, as the daily routine does). After every session the account's cash
    and shares are the backtest's, to the fen; a second fill of a session books nothing."""
    result = run_backtest(bars, forecasts, ForecastLong, cash=cash, rules=rules)
    account = PaperAccount.open(folder, cash=cash)
    symbol = bars.attrs["symbol"]
    dates = bars.loc[forecasts.index[0]:].index
    for day, session in itertools.pairwise(dates):
        orders = _order_ids(decide(bars.loc[:day], forecasts, ForecastLong, positions=account.positions,
                                   cash=account.cash, rules=rules), session)
        account.fill(orders, {symbol: bars.loc[:session]}, rules, session=session.date())
        again = account.fill(orders, {symbol: bars.loc[:session]}, rules, session=session.date())
        assert again.actions == () and again.booked == ()  # rerun: nothing booked twice
        held = result.equity.loc[session]
        assert abs(account.exact_cash - money.exact(held["cash"])) < 0.005, session
        assert account.positions.get(symbol, 0) == held["position"], session
    journal = account.journal()
    fills = journal_trades(journal)
    trades = result.trades.assign(date=result.trades["date"].astype(str))
    pd.testing.assert_frame_equal(fills, trades, check_dtype=False)
    booked = journal_actions(journal)
    backtest = result.corporate_actions.assign(date=result.corporate_actions["date"].astype(str))
    pd.testing.assert_frame_equal(booked, backtest, check_dtype=False)
    return account, result


@pytest.mark.parametrize("tax", [False, True], ids=["gross", "dividend_tax"])
def test_a_replay_across_the_ex_date_matches_the_backtest_to_the_fen(moutai, tmp_path, tax):
    # buy on 06-21, hold through the ex-date, sell on 07-06 (within a month: 20 % dividend tax), buy again
    forecasts = _forecasts(moutai, "2022-06-01", [("2022-06-17", "2022-06-17"), ("2022-07-05", "2022-07-05")])
    account, result = _replay(moutai, forecasts, AShareRules(dividend_tax=tax), CASH, tmp_path / "paper")
    actions = journal_actions(account.journal())
    dividend = actions[actions["kind"] == "dividend"].iloc[0]
    assert dividend["date"] == EX_DATE and dividend["shares_before"] == dividend["shares_after"] == 500
    assert dividend["cash_per_share"] == pytest.approx(21.675, rel=1e-3)
    assert dividend["cash"] == 10_834.91 and dividend["tax"] == 0.0  # 500 x 21.6698, to the fen
    taxed = actions[actions["kind"] == "dividend_tax"]
    assert taxed["tax"].tolist() == ([2_166.98] if tax else [])  # 20 % of the 10,834.91, due on the sale
    assert (taxed["date"] == "2022-07-06").all()

    run = rs.paper_report(account.folder, {MOUTAI: moutai})
    equity = result.equity
    assert run.equity.index.equals(equity.index)
    assert (run.equity["value"] - equity["value"]).abs().max() < 0.005
    assert (run.equity["cash"] - equity["cash"]).abs().max() < 0.005
    assert (run.equity["position"] == equity["position"]).all()
    at = run.equity.index.get_loc(pd.Timestamp(EX_DATE))  # continuous across the ex-date: the close's move only
    before, on = run.equity.iloc[at - 1], run.equity.iloc[at]
    assert on["value"] - before["value"] == pytest.approx(500 * (on["close"] - before["close"]) + 10_834.91, abs=0.01)
    assert run.metrics["paper"]["corporate_actions"] == len(actions)
    pd.testing.assert_frame_equal(run.report.corporate_actions, actions)
    written = run.write(tmp_path / "report")
    assert "corporate_actions.csv" in {path.name for path in written}


def test_cli_signal_and_paper_fill_book_the_dividend_once(moutai, tmp_path, capsys):
    """`signal` on the close before the ex-date, then `paper fill --data QLIB_DIR`: the held stock's bars come
    from the directory (no order names it), its dividend is booked before the session's orders; a second fill
    books nothing."""
    account = PaperAccount.open(tmp_path / "acct", cash=CASH)
    account.fill([{"id": "b", "symbol": MOUTAI, "side": "buy", "shares": 100}], {MOUTAI: moutai},
                 session=D(2022, 6, 29))
    forecasts = tmp_path / "forecasts.csv"
    write_forecasts(_forecasts(moutai, "2022-06-01", []), forecasts)
    out = tmp_path / "orders"
    assert main(["-q", "signal", f"{QLIB}::sh600519", "--forecasts", str(forecasts), "--positions",
                 str(account.folder), "--end", "2022-06-29", "--out", str(out)]) == 0
    content = json.loads((out / "orders.json").read_text())
    assert content["session"] == EX_DATE and content["orders"] == []  # held: nothing to do
    capsys.readouterr()
    fill = ["paper", "fill", str(account.folder), "--orders", str(out / "orders.json"), "--data", str(QLIB)]
    assert main(fill) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == f"{EX_DATE}: 0 orders booked (none), 0 already booked; 1 corporate action booked"
    assert printed[1] == f"  {MOUTAI} dividend on {EX_DATE}: 100 -> 100 shares, cash 2166.98, tax 0.00"
    assert main(fill) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"{EX_DATE}: 0 orders booked (none), 0 already booked"
    lines = PaperAccount.open(account.folder).journal()
    assert [line["order_id"] for line in lines] == ["b", f"{EX_DATE}/{MOUTAI}/dividend"]
    assert PaperAccount.open(account.folder).exact_cash == money.exact("797147.27") + \
        money.exact("2166.98")


def _with_factor(bars: pd.DataFrame, steps: dict[int, float]) -> pd.DataFrame:
    """``bars`` read as back-adjusted prices, turned into raw prices with a factor stepping by ``steps``
    (row: factor ratio): the raw price falls by the ratio on each ex-date."""
    ratio = np.ones(len(bars))
    for row, step in steps.items():
        ratio[row] = step
    factor = np.cumprod(ratio)
    raw = bars.copy()
    for column in ("open", "high", "low", "close"):
        raw[column] = bars[column] / factor
    raw["factor"] = factor
    raw.attrs.update(bars.attrs, factor_adjust="hfq")
    return raw


def test_bonus_shares_and_a_consolidation_match_the_backtest(tmp_path):
    """A 3-for-10 bonus issue (row 60), then a consolidation to 0.7654 (row 80) whose fraction of a share is paid
    in cash, on a stock whose volume limit (25 %) cuts the buys: the replay is the backtest."""
    bars = _with_factor(synthetic(120, seed=3, symbol="600000.SH"), {60: 1.3, 80: 0.7654})
    dates = bars.index
    forecasts = _forecasts(bars, f"{dates[40]:%Y-%m-%d}", [(f"{dates[50]:%Y-%m-%d}", f"{dates[50]:%Y-%m-%d}"),
                                                            (f"{dates[90]:%Y-%m-%d}", f"{dates[90]:%Y-%m-%d}")])
    account, _ = _replay(bars, forecasts, AShareRules(), 100_000, tmp_path / "paper")
    actions = journal_actions(account.journal())
    assert actions["kind"].tolist() == ["bonus", "restructuring"]
    bonus, merged = actions.iloc[0], actions.iloc[1]
    assert bonus["shares_after"] == round(bonus["shares_before"] * 1.3) and bonus["cash"] == 0.0
    assert merged["shares_after"] < merged["shares_before"] * 0.7654 < merged["shares_after"] + 1
    assert 0 < merged["cash"] < bars["close"].iloc[79] / 0.7654  # the fraction, at the reference price
    capped = [line for line in account.journal() if "volume limit" in line.get("reason", "")]
    assert capped and all(line["shares"] < line["requested"] for line in capped)


def test_the_volume_limit_cuts_a_paper_fill_and_reports_the_rest(tmp_path):
    bars = synthetic(5, seed=1, symbol="600000")
    bars["volume"] = [5000.0, 5000.0, 1000.0, 0.0, 5000.0]
    account = PaperAccount.open(tmp_path, cash=100_000)
    orders = [{"id": "a", "symbol": "600000", "side": "buy", "shares": 500},
              {"id": "b", "symbol": "600000", "side": "buy", "shares": 100}]
    day = bars.index[2].date()
    result = account.fill(orders, {"600000.SH": bars}, session=day)
    first, second = result.booked
    assert (first["status"], first["requested"], first["shares"]) == ("filled", 500, 200)
    assert first["reason"] == ("volume limit: 200 of 500 shares filled, 25% of the day's 1000 shares less 0 filled "
                               "earlier, rounded down to lots; the other 300 shares are cancelled (A-share orders are "
                               "day orders)")
    assert (second["status"], second["shares"]) == ("cancelled", 100)  # 50 shares of room left: no lot
    assert second["reason"].startswith("volume limit: 0 of 100 shares filled") and "200 filled earlier" in \
        second["reason"] and "the order is cancelled" in second["reason"]
    assert account.positions == {"600000.SH": 200}
    # a zero-volume row is a suspension; without the limit the whole order fills
    result = account.fill([{"id": "c", "symbol": "600000", "side": "buy", "shares": 100}], {"600000.SH": bars},
                          session=bars.index[3].date())
    assert result.booked[0]["reason"] == f"suspended: zero volume on {bars.index[3].date()}"
    result = account.fill([{"id": "d", "symbol": "600000", "side": "buy", "shares": 2000}], {"600000.SH": bars},
                          AShareRules(volume_limit=None), session=bars.index[4].date())
    assert result.booked[0]["shares"] == 2000


def test_price_limits_on_an_ex_date_are_judged_from_the_ex_reference_price(tmp_path):
    """Close 20.00, then a dividend of 2.00 (factor step 20/18): the ex-reference price is 18.00, so 19.80 is
    limit-up on the ex-date (judged from the raw 20.00 it would not be)."""
    index = pd.bdate_range("2024-06-03", periods=3, name="date")
    bars = pd.DataFrame({"open": [20.0, 20.0, 19.8], "high": [20.0, 20.0, 19.8], "low": [20.0, 20.0, 19.8],
                         "close": [20.0, 20.0, 19.8], "volume": 1e6, "factor": [1.0, 1.0, 20 / 18]}, index=index)
    bars.attrs.update(symbol="600000.SH", adjust="")
    account = PaperAccount.open(tmp_path, cash=100_000)
    result = account.fill([{"id": "b", "symbol": "600000", "side": "buy", "shares": 100}], {"600000.SH": bars},
                          session=index[2].date())
    assert result.booked[0]["reason"] == "buy at 19.8000 is at limit-up (10% above the previous close 18.0000)"
    forecasts = pd.DataFrame({"pred_open_1": 1.0, "pred_open_2": 1.05, "fold": 0}, index=index)
    (order,) = decide(bars, forecasts, ForecastLong, cash=100_000)
    assert order["note"] == f"at limit-up at the close of {index[2].date()}: the buy may not fill at the open"


def test_a_skipped_ex_date_is_booked_by_the_next_fill_on_its_own_date(moutai, tmp_path):
    account = PaperAccount.open(tmp_path, cash=CASH)
    account.fill([{"id": "b", "symbol": MOUTAI, "side": "buy", "shares": 100}], {MOUTAI: moutai}, session=D(2022, 6, 28))
    stale = {"cash": account.cash, "positions": account.positions}  # decided without the dividend of 06-30
    sell = [{"id": "s", "symbol": MOUTAI, "side": "sell", "shares": 100}]
    with pytest.raises(ConfigError, match="include corporate actions of sessions that were not filled "
                                          rf"\({MOUTAI} dividend on {EX_DATE}\): fill every session"):
        account.fill(sell, {MOUTAI: moutai}, session=D(2022, 7, 1), decided_for=stale)
    result = account.fill(sell, {MOUTAI: moutai}, session=D(2022, 7, 1))
    assert [line["session"] for line in result.actions] == [EX_DATE]
    assert [(line["kind"], line["cash"]) for line in account.journal()[1:2]] == [("dividend", 2166.98)]
    assert account.positions == {}


def test_what_cannot_be_booked_is_refused_with_one_line(moutai, tmp_path, capsys):
    """A held stock whose bars are not given (the data carries factors) or end before the session; a journal
    whose action line was edited. Each books nothing."""
    account = PaperAccount.open(tmp_path / "acct", cash=CASH)
    account.fill([{"id": "b", "symbol": MOUTAI, "side": "buy", "shares": 100}], {MOUTAI: moutai}, session=D(2022, 6, 28))
    orders = tmp_path / "orders.json"
    orders.write_text(json.dumps({"session": "2022-07-01", "orders": [
        {"id": "x", "session": "2022-07-01", "symbol": "600036.SH", "side": "buy", "shares": 100}]}))
    fill = ["paper", "fill", str(account.folder), "--orders", str(orders), "--force-account"]
    assert main([*fill, "--data", f"{QLIB}::sh600036"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"rnnstrategy: error: {MOUTAI} is held but no bars of it were given")
    with pytest.raises(DataError, match=f"{MOUTAI} is held but its bars end on 2022-06-29, before the session "
                                        "2022-07-01: its dividends and splits"):
        account.fill([], {MOUTAI: moutai.loc[:"2022-06-29"], "600036.SH": rs.load_bars(QLIB, symbol="600036")},
                     session=D(2022, 7, 1))
    assert len(account.journal()) == 1 and account.last_session == D(2022, 6, 28)

    account.fill([], {MOUTAI: moutai}, session=D(2022, 7, 1))  # books the dividend
    journal = account.folder / "journal.jsonl"
    lines = journal.read_text().splitlines()
    lines[1] = lines[1].replace('"shares_before": 100', '"shares_before": 200')
    journal.write_text("\n".join(lines) + "\n")
    assert main([*fill, "--data", str(QLIB)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "journal line 2 books a dividend of 600519.SH on 200 shares, but the lines before it " \
                               "leave 100: the journal was edited" in err[0]
