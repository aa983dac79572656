"""Daily signals: the orders of a day from the backtest's own decision code (``rnnstrategy signal``).

The test of record replays a backtest day by day: each day's orders from :func:`decide` with the paper
account's holdings, filled by :class:`PaperAccount` at the next open, give the backtest's fills exactly.
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
from helpers import TINY, missing_data
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
    from rnnstrategy.data.forecast_files import write_forecasts

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
    from rnnstrategy.data.forecast_files import write_forecasts

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


# -- a universe traded with top_k ---------------------------------------------------------------------

UNIVERSE = (("600000", 11), ("600036", 12), ("000001", 13), ("000002", 14), ("601318", 15))
TOPK_PARAMS = {"k": 2, "exit_rank": 2, "max_turnover": 0.6}  # churns: several sells and buys a day
SUSPENDED = "600036"  # three sessions without a bar inside the forecast window
LISTED_LATE = "000002"  # bars from row 100 on, forecasts from row 104 on; the others' from row 94


def _universe_forecasts(bars: pd.DataFrame, first: int, seed: int) -> pd.DataFrame:
    """Noisy forecasts of the next two opens for the rows ``first`` .. len - 3 of ``bars``."""
    import numpy as np

    rng = np.random.default_rng(seed)
    opens = bars["open"].to_numpy()
    rows = np.arange(first, len(bars) - 2)
    frame = pd.DataFrame({
        "pred_open_1": opens[rows + 1] * np.exp(rng.normal(0, 0.01, len(rows))),
        "pred_open_2": opens[rows + 2] * np.exp(rng.normal(0, 0.01, len(rows))),
        "fold": 0, "open_1": opens[rows + 1], "open_2": opens[rows + 2]}, index=bars.index[rows])
    frame.attrs["symbol"] = bars.attrs["symbol"]
    return frame


def _universe(suspended: slice) -> tuple[list[pd.DataFrame], dict[str, pd.DataFrame]]:
    """Five random walks of 150 sessions with ~54 forecast days: SUSPENDED loses the rows ``suspended``,
    LISTED_LATE starts 6 sessions after the others (its forecasts 4 sessions later still)."""
    from helpers import synthetic

    frames, forecasts = [], {}
    for symbol, seed in UNIVERSE:
        bars, first = synthetic(150, seed=seed, symbol=symbol), 94
        bars["volume"] *= 10_000  # a liquid stock's volume: the 25 % volume limit never binds in these replays
        if symbol == SUSPENDED:
            bars = bars.drop(bars.index[suspended])
        if symbol == LISTED_LATE:
            bars, first = bars.iloc[100:], 4
        bars.attrs.update(symbol=symbol, adjust="")
        frames.append(bars)
        forecasts[symbol] = _universe_forecasts(bars, first, seed)
    return frames, forecasts


@pytest.fixture(scope="module")
def universe() -> tuple[list[pd.DataFrame], dict[str, pd.DataFrame]]:
    """SUSPENDED held by top_k through its suspension (2020-06-18..22), no order in flight into it."""
    return _universe(slice(121, 124))


def _replay(frames, forecasts, account, params, strategy):
    """Decide at each close of the backtest's dates, fill at the next session's open."""
    dates = sorted(set().union(*(f.loc[forecasts[f.attrs["symbol"]].index[0]:forecasts[f.attrs["symbol"]].index[-1]]
                                 .index for f in frames)))
    by_symbol = {f.attrs["symbol"]: f for f in frames}
    for day, session in zip(dates[:-1], dates[1:], strict=True):
        history = [f.loc[:day] for f in frames if len(f.loc[:day])]
        orders = decide(history, forecasts, strategy, positions=account.positions, cash=account.cash, params=params)
        if orders:
            account.fill(_order_ids(orders, session), {o["symbol"]: by_symbol[o["symbol"]] for o in orders},
                         session=session.date())
    return dates


def test_replaying_the_top_k_signals_of_a_universe_gives_the_backtests_fills(universe, tmp_path):
    """The test of record for a universe: top_k with k=2 over five stocks (one suspended inside the window,
    one listed late, each feed from its own first forecast), replayed day by day through a paper account,
    gives the backtest's trades fill for fill, and the same cash and shares at the end."""
    from rnnstrategy.strategies.top_k import TopK

    from rnnstrategy.backtrader.results import run_universe_backtest

    frames, forecasts = universe
    result = run_universe_backtest(frames, forecasts, TopK, cash=1_000_000, params=TOPK_PARAMS)
    trades = result.trades
    assert len(trades) >= 10 and set(trades["symbol"]) == {s for s, _ in UNIVERSE}
    assert set(trades["side"]) == {"buy", "sell"}
    held = trades[trades["symbol"] == SUSPENDED]  # bought before the suspension, sold after it
    assert any(b.date < dt.date(2020, 6, 18) and s.date > dt.date(2020, 6, 22)
               for b, s in zip(held.iloc[::2].itertuples(), held.iloc[1::2].itertuples(), strict=True))
    _assert_replay_matches(frames, forecasts, result, tmp_path)


def _assert_replay_matches(frames, forecasts, result, tmp_path) -> None:
    from rnnstrategy.strategies.top_k import TopK

    from rnnstrategy.ashare.symbols import symbol_info

    trades = result.trades
    account = PaperAccount.open(tmp_path / "paper", cash=1_000_000)
    _replay(frames, forecasts, account, TOPK_PARAMS, TopK)
    fills = [line for line in account.journal() if line["status"] == "filled"]
    got = [(line["session"], line["symbol"], line["side"], line["shares"], line["price"], line["commission"],
            line["stamp_duty"], line["transfer_fee"]) for line in fills]
    want = [(str(row.date), symbol_info(row.symbol).ts_code, row.side, row.size, row.price, row.commission,
             row.stamp_duty, row.transfer_fee) for row in trades.itertuples()]
    assert got == want
    final = result.equity.iloc[-1]
    assert account.cash == pytest.approx(final["cash"], abs=0.005)
    signed = trades["size"].where(trades["side"] == "buy", -trades["size"])
    shares = {symbol_info(s).ts_code: int(n) for s, n in signed.groupby(trades["symbol"]).sum().items() if n}
    assert account.positions == shares


def test_an_order_sent_into_a_suspension_expires_in_the_backtest_as_in_the_paper_account(tmp_path):
    # A-share orders are day orders: a sell sent at the close before a suspension expires on the first
    # suspended day (AShareBroker's skip_suspended), it is not filled when the stock trades again
    from rnnstrategy.strategies.top_k import TopK

    from rnnstrategy.backtrader.results import run_universe_backtest

    frames, forecasts = _universe(slice(110, 113))  # suspended 2020-06-03..05, a sell sent on 06-02
    result = run_universe_backtest(frames, forecasts, TopK, cash=1_000_000, params=TOPK_PARAMS)
    sold = result.trades[(result.trades["symbol"] == SUSPENDED) & (result.trades["side"] == "sell")]
    assert dt.date(2020, 6, 8) not in set(sold["date"])  # Backtrader alone fills 06-02's sell on 06-08
    _assert_replay_matches(frames, forecasts, result, tmp_path)


def test_cli_signal_of_a_universe_writes_decides_orders_and_paper_fill_books_them(universe, tmp_path, capsys):
    """`signal --forecasts RUN --strategy top_k` on a universe run folder: one orders.json for every stock, the
    orders decide() gives; `paper fill --data FOLDER` books them; the next day decides from the account."""
    from rnnstrategy.strategies.top_k import TopK

    from rnnstrategy.ashare.symbols import symbol_info
    from rnnstrategy.cli import main
    from rnnstrategy.data.forecast_files import write_forecasts

    frames, forecasts = universe
    stocks, run = tmp_path / "stocks", tmp_path / "run"
    (run / "forecasts").mkdir(parents=True)
    stocks.mkdir()
    rows = []
    for frame in frames:
        symbol = frame.attrs["symbol"]
        frame.rename_axis("date").reset_index().assign(code=symbol).to_csv(stocks / f"{symbol}.csv", index=False)
        write_forecasts(forecasts[symbol], run / "forecasts" / f"{symbol}.csv")
        rows.append({"symbol": symbol, "source": str(stocks / f"{symbol}.csv"), "status": "ok", "message": ""})
    pd.DataFrame(rows).to_csv(run / "summary.csv", index=False)
    topk = ["--strategy", "top_k", "--k", "2", "--exit-rank", "2", "--max-turnover", "0.6"]
    account = tmp_path / "paper"
    days = [pd.Timestamp("2020-06-17"), pd.Timestamp("2020-06-18")]  # 600036 suspended on the second
    by_symbol = {f.attrs["symbol"]: f for f in frames}
    for n, day in enumerate(days):
        out = tmp_path / f"orders{n}"
        positions = ["--positions", str(account)] if n else ["--cash", "1000000"]
        assert main(["signal", "--forecasts", str(run), *topk, "--end", f"{day:%Y-%m-%d}", *positions,
                     "--out", str(out)]) == 0
        assert f"decided on the bar of {day:%Y-%m-%d}" in capsys.readouterr().out
        content = json.loads((out / "orders.json").read_text())
        held = PaperAccount.open(account).positions if n else {}
        cash = PaperAccount.open(account).cash if n else 1_000_000
        want = decide([f.loc[:day] for f in frames if len(f.loc[:day])], forecasts, TopK, positions=held, cash=cash,
                      params=TOPK_PARAMS)
        assert [{k: o[k] for k in ORDER_FIELDS} for o in content["orders"]] == want and want
        assert [o["id"] for o in content["orders"]] == [f"{content['session']}/{o['symbol']}/{o['side']}"
                                                        for o in want]
        assert len(pd.read_csv(out / "orders.csv")) == len(want)
        fill = ["paper", "fill", str(account), "--orders", str(out / "orders.json"), "--data", str(stocks)]
        assert main(fill + ([] if n else ["--cash", "1000000"])) == 0
        assert f"{len(want)} orders booked" in capsys.readouterr().out
        journal = PaperAccount.open(account).journal()[-len(want):]
        session = pd.Timestamp(content["session"])
        assert [(line["symbol"], line["price"]) for line in journal if line["status"] == "filled"] == [
            (symbol_info(o["symbol"]).ts_code, by_symbol[o["symbol"]].loc[session, "open"]) for o in want
            if session in by_symbol[o["symbol"]].index]


# -- a universe signal that forecasts the universe itself ---------------------------------------------

LIQUID = ("600000.SH", "600036.SH", "000001.SZ", "000002.SZ")
FIRST_DAY = "2022-03-01"  # D: the universe backtest's first decision day (its start)
TOPK_FIRST_DAY = {"k": 2, "max_turnover": 1.0, "entry_threshold": -1.0, "exit_threshold": -1.0}  # buys the top 2
                                                                                            # whatever they forecast


@pytest.mark.shared_data
def test_a_universe_signal_forecasts_like_the_backtest_and_orders_its_first_buys(data_dir, tmp_path):
    """`signal(FOLDER, strategy="top_k")` without forecasts= walks each stock forward into out/forecasts, as the
    universe backtest of the same folder, configuration and start does: on the backtest's first decision day D,
    with no positions, its orders are the backtest's buys of the next session (symbol, side, shares); its
    forecasts are the backtest's up to D, bit for bit; again with the same fold store it trains nothing and gives
    the same orders."""
    import rnnstrategy as rs
    from rnnstrategy.ashare.symbols import symbol_info
    from rnnstrategy.data.forecast_files import read_forecasts

    source = data_dir / "stocks_liquid300"
    if not all((source / f"{symbol}.csv").is_file() for symbol in LIQUID):
        missing_data(f"needs {', '.join(LIQUID)} of the 300-stock universe in {source}")
    stocks = tmp_path / "stocks"
    stocks.mkdir()
    for symbol in LIQUID:  # ~14 months: 240 bars before D (TINY's min_train is 100 samples), a month after
        raw = pd.read_csv(source / f"{symbol}.csv", dtype={"trade_date": str})
        raw[raw["trade_date"].between("20210101", "20220331")].to_csv(stocks / f"{symbol}.csv", index=False)
    day = pd.Timestamp(FIRST_DAY)

    backtest = rs.backtest(stocks, strategy="top_k", **TOPK_FIRST_DAY, start=FIRST_DAY, end="2022-03-08",
                           forecast=TINY, store=tmp_path / "backtest_store", out=tmp_path / "backtest",
                           executor="inprocess", threads=1)
    trades = backtest.trades
    session = min(trades["date"])
    assert session > day.date()
    bought = [(symbol_info(row.symbol).ts_code, row.side, row.size) for row in trades.itertuples()
              if row.date == session]
    assert len(bought) == 2 and {side for _, side, _ in bought} == {"buy"}

    def signal(out):
        return rs.signal(stocks, strategy="top_k", **TOPK_FIRST_DAY, start=FIRST_DAY, end=FIRST_DAY, forecast=TINY,
                         cash=1_000_000, store=tmp_path / "signal_store", out=tmp_path / out, threads=1)

    first = signal("signal")
    assert first.decided_on == day.date() and first.session == session
    assert [(symbol_info(o["symbol"]).ts_code, o["side"], o["shares"]) for o in first.orders] == bought
    for symbol in LIQUID:
        own = read_forecasts(tmp_path / "signal" / "forecasts" / f"{symbol}.csv")
        assert own.index[-1] == day
        pd.testing.assert_frame_equal(own, read_forecasts(tmp_path / "backtest" / "forecasts" / f"{symbol}.csv")
                                      .loc[:day], check_exact=True, obj=symbol)
    summary = pd.read_csv(tmp_path / "signal" / "summary.csv", dtype={"symbol": str}).set_index("symbol")
    assert (summary.loc[list(LIQUID), ["status", "folds", "trained"]] == ["ok", 1, 1]).all(axis=None)
    # a signal measures nothing (the bootstrap intervals and the cross-section cost more than the forecasts)
    assert summary["rmse_ratio"].isna().all() and not (tmp_path / "signal" / "cross_section_daily.csv").exists()
    assert (tmp_path / "backtest" / "cross_section_daily.csv").is_file()

    again = signal("again")  # the same day once more: every fold from the store
    assert again.orders == first.orders
    assert json.loads((tmp_path / "again" / "orders.json").read_text()) == \
           json.loads((tmp_path / "signal" / "orders.json").read_text())
    assert pd.read_csv(tmp_path / "again" / "summary.csv")["trained"].tolist() == [0] * len(LIQUID)


# -- following a run definition ---------------------------------------------------------------------

RUN_TOML = """
[data]
source = "{source}"
[forecast]
cell = "gru"
hidden = [4]
lookback = 10
epochs = 2
retrain_every = 40
min_train = 120
seed = 0
device = "cpu"
[backtest]
strategy = "forecast_long"
start = "2019-09-02"
end = "2019-10-31"
cash = 500000
[backtest.params]
exit_threshold = 0.003
"""


def test_signal_follows_a_run_definition_or_a_finished_runs_manifest(tmp_path, capsys):
    """`signal --run FILE`: the TOML's data, forecaster, strategy, parameters and cash decide the backtest's first
    buy (same session, same shares); the finished run's manifest.json decides the same; options the definition
    sets are refused beside it, and so is a definition executing at the close."""
    import rnnstrategy as rs
    from rnnstrategy.cli import main

    toml = tmp_path / "moutai.toml"
    toml.write_text(RUN_TOML.format(source=datasets.path("moutai").as_posix()))
    store = ["--store", str(tmp_path / "store")]
    assert main(["run", str(toml), "--out", str(tmp_path / "run"), *store]) == 0
    first = pd.read_csv(tmp_path / "run" / "trades.csv").iloc[0]
    assert first["side"] == "buy"
    capsys.readouterr()

    assert main(["signal", "--run", str(toml), "--end", "2019-09-02", "--out", str(tmp_path / "a"), *store]) == 0
    assert "decided on the bar of 2019-09-02; orders for the session 2019-09-03" in capsys.readouterr().out
    orders = json.loads((tmp_path / "a" / "orders.json").read_text())
    assert orders["cash"] == 500_000
    assert [(o["session"], o["side"], o["shares"]) for o in orders["orders"]] == [
        (first["date"], "buy", first["size"])]
    manifest = tmp_path / "run" / "manifest.json"
    assert main(["signal", "--run", str(manifest), "--end", "2019-09-02", "--out", str(tmp_path / "b"), *store]) == 0
    assert json.loads((tmp_path / "b" / "orders.json").read_text()) == orders

    capsys.readouterr()
    assert main(["signal", "--run", str(toml), "--k", "3", "--lenient", "--out", str(tmp_path / "c")]) == 2
    assert "--k, --strict/--lenient given beside --run" in capsys.readouterr().err
    toml.write_text(RUN_TOML.format(source=datasets.path("moutai").as_posix()).replace(
        'cash = 500000', 'cash = 500000\nexecution = "close"'))
    with pytest.raises(ConfigError, match="executes at the close"):
        rs.signal(config=toml, end="2019-09-02")
