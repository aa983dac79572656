"""Daily signals: the orders of a day from the backtest's own decision code (``rnnstrategy signal``).

The test of record replays a backtest day by day: each day's orders from :func:`decide` with the paper
account's holdings, filled by :class:`PaperAccount` at the next open, give the backtest's fills exactly.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from helpers import TINY
from rnnstrategy.strategies.forecast_long import ForecastLong

from rnnstrategy import datasets
from rnnstrategy.backtrader.results import run_backtest
from rnnstrategy.backtrader.signal import ORDER_FIELDS, decide
from rnnstrategy.data.loader import load_bars
from rnnstrategy.errors import ConfigError
from rnnstrategy.forecasting.walkforward import walk_forward
from rnnstrategy.live.paper import PaperAccount

PARAMS = {"exit_threshold": 0.003}  # exits often, so the 60 days hold several round trips


@pytest.fixture(scope="module")
def moutai_bars() -> pd.DataFrame:
    return load_bars(datasets.path("moutai")).loc["2019-01-01":"2019-12-31"]


@pytest.fixture(scope="module")
def moutai_forecasts(moutai_bars) -> pd.DataFrame:
    """TINY's walk-forward forecasts of 60 trading days, computed once for the backtest and the signals."""
    return walk_forward(moutai_bars, TINY, "2019-09-02", "2019-11-27")


def _sample_copy(path, last: pd.Timestamp | None = None):
    """The bundled Moutai CSV, as it is, up to ``last``."""
    raw = pd.read_csv(datasets.path("moutai"), dtype={"code": str})
    if last is not None:
        raw = raw[pd.to_datetime(raw["date"]) <= last]
    raw.to_csv(path, index=False)
    return path


def _order_ids(orders: list[dict], session: pd.Timestamp) -> list[dict]:
    return [{**order, "id": f"{session:%Y-%m-%d}/{order['symbol']}/{order['side']}"} for order in orders]


def test_replaying_the_signals_through_a_paper_account_gives_the_backtests_fills(moutai_bars, moutai_forecasts,
                                                                                  tmp_path):
    """The test of record: decide at each close with the paper holdings, fill at the next open; the journal's
    fills are the backtest's trades.csv, fill for fill, and the cash and shares end equal."""
    bars, forecasts = moutai_bars, moutai_forecasts
    result = run_backtest(bars, forecasts, ForecastLong, cash=1_000_000, params=PARAMS)
    trades = result.trades
    assert len(trades) >= 4 and set(trades["side"]) == {"buy", "sell"}

    account = PaperAccount.open(tmp_path / "paper", cash=1_000_000)
    symbol = bars.attrs["symbol"]
    window = bars.loc[forecasts.index[0]:forecasts.index[-1]]
    dates = window.index
    for day, session in zip(dates[:-1], dates[1:], strict=True):
        history = bars.loc[:day]
        orders = decide(history, forecasts, ForecastLong, positions=account.positions, cash=account.cash,
                        params=PARAMS)
        assert all(tuple(order) == ORDER_FIELDS for order in orders)
        if orders:
            account.fill(_order_ids(orders, session), {symbol: bars.loc[:session]}, session=session.date())
    fills = [line for line in account.journal() if line["status"] == "filled"]
    assert len(fills) == len(trades)
    for line, row in zip(fills, trades.itertuples(), strict=True):
        assert (line["session"], line["side"], line["shares"], line["price"]) == \
               (str(row.date), row.side, row.size, row.price)
        assert (line["commission"], line["stamp_duty"], line["transfer_fee"]) == \
               (row.commission, row.stamp_duty, row.transfer_fee)
    final = result.equity.iloc[-1]
    assert account.cash == pytest.approx(final["cash"], abs=0.005)
    assert account.positions.get(symbol, 0) == final["position"]


def test_decide_reports_the_expected_return_threshold_and_reference_price(moutai_bars, moutai_forecasts):
    day = moutai_forecasts.index[0]
    orders = decide(moutai_bars.loc[:day], moutai_forecasts, ForecastLong, cash=1_000_000)
    assert len(orders) == 1
    order = orders[0]
    expected = moutai_forecasts.loc[day, "pred_open_2"] / moutai_forecasts.loc[day, "pred_open_1"] - 1
    assert order["symbol"] == "600519.SH" and order["side"] == "buy" and order["shares"] % 100 == 0
    assert order["reference_price"] == moutai_bars.loc[day, "close"]
    assert order["expected_return"] == pytest.approx(expected)
    assert 0 < order["threshold"] < order["expected_return"]  # the round-trip cost it beat
    assert order["note"] == ""
    again = decide(moutai_bars.loc[:day], moutai_forecasts, ForecastLong, cash=1_000_000)
    assert again == orders


def test_decide_refuses_what_a_close_decision_cannot_trade(moutai_bars, moutai_forecasts):
    day = moutai_forecasts.index[0]
    with pytest.raises(ConfigError, match="execution='close'"):
        decide(moutai_bars.loc[:day], moutai_forecasts, ForecastLong, cash=1_000_000, execution="close")
    with pytest.raises(ConfigError, match="000001.SZ but no bars of it"):
        decide(moutai_bars.loc[:day], moutai_forecasts, ForecastLong, cash=0, positions={"000001": 100})


def test_cli_signal_writes_the_buy_the_backtest_made_and_paper_fill_books_it(moutai_bars, moutai_forecasts,
                                                                             tmp_path, capsys):
    """On a copy of the sample cut at D, with no positions and 1,000,000 CNY: the order is the backtest's buy
    of the next session, same shares; twice gives the same orders; `paper fill` books it at that open."""
    from rnnstrategy.cli import main
    from rnnstrategy.forecasting.frames import write_forecasts

    day = moutai_forecasts.index[0]
    trades = run_backtest(moutai_bars, moutai_forecasts, ForecastLong, cash=1_000_000).trades
    first = trades.iloc[0]
    cut = _sample_copy(tmp_path / "SH600519.csv", day)
    forecasts = tmp_path / "forecasts.csv"
    write_forecasts(moutai_forecasts, forecasts)
    args = ["signal", str(cut), "--forecasts", str(forecasts), "--cash", "1000000", "--end", f"{day:%Y-%m-%d}"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    printed = capsys.readouterr().out
    session = first["date"]
    assert f"decided on the bar of {day:%Y-%m-%d}; orders for the session {session}" in printed
    content = json.loads((tmp_path / "a" / "orders.json").read_text())
    assert content["session"] == str(session) and len(content["orders"]) == 1
    order = content["orders"][0]
    assert (order["symbol"], order["side"], order["shares"]) == ("600519.SH", "buy", first["size"])
    assert list(pd.read_csv(tmp_path / "a" / "orders.csv").columns) == ["id", "session", *ORDER_FIELDS]
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    assert json.loads((tmp_path / "b" / "orders.json").read_text()) == content

    full = _sample_copy(tmp_path / "full.csv")
    account = tmp_path / "paper"
    fill = ["paper", "fill", str(account), "--orders", str(tmp_path / "a" / "orders.json"), "--data", str(full),
            "--cash", "1000000"]
    assert main(fill) == 0
    assert "1 orders booked (1 filled)" in capsys.readouterr().out
    line = PaperAccount.open(account).journal()[0]
    assert (line["session"], line["shares"], line["price"], line["commission"]) == \
           (str(session), first["size"], first["price"], first["commission"])
    assert main(fill) == 0
    assert "already booked" in capsys.readouterr().out


def test_cli_signal_says_when_the_data_is_stale_and_reads_positions(moutai_bars, moutai_forecasts, tmp_path, capsys):
    from rnnstrategy.cli import main
    from rnnstrategy.forecasting.frames import write_forecasts

    day = moutai_forecasts.index[0]
    cut = _sample_copy(tmp_path / "SH600519.csv", day)
    write_forecasts(moutai_forecasts, tmp_path / "forecasts.csv")
    base = ["signal", str(cut), "--forecasts", str(tmp_path / "forecasts.csv"), "--out", str(tmp_path / "out")]
    assert main(base) == 2
    assert f"stale data: the bars end on {day:%Y-%m-%d}" in capsys.readouterr().err
    positions = tmp_path / "positions.json"
    positions.write_text(json.dumps({"cash": 5000.0, "positions": {"600519.SH": 100}}))
    assert main([*base, "--end", f"{day:%Y-%m-%d}", "--positions", str(positions)]) == 0
    assert "no orders" in capsys.readouterr().out  # held, and the forecast is above the exit threshold
    (tmp_path / "bad.csv").write_text("code,qty\n600519,100\n")
    assert main([*base, "--end", f"{day:%Y-%m-%d}", "--positions", str(tmp_path / "bad.csv")]) == 2
    assert "symbol,shares" in capsys.readouterr().err
