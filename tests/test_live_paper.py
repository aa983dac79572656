"""The paper account: the broker's A-share rules and fees, each fill booked once, crash-safe."""

import datetime as dt
import json

import pandas as pd
import pytest
from helpers import perfect_foresight
from rnnstrategy.strategies.forecast_long import ForecastLong

import rnnstrategy.live.paper as paper
from rnnstrategy.ashare.rules import AShareRules
from rnnstrategy.backtrader.results import run_backtest
from rnnstrategy.errors import ConfigError, DataError
from rnnstrategy.live.paper import PaperAccount

D = dt.date


def bars_of(rows, symbol="600519.SH"):
    """A canonical bar frame from (date, open, close) rows."""
    index = pd.DatetimeIndex([pd.Timestamp(day) for day, _, _ in rows], name="date")
    opens = [float(o) for _, o, _ in rows]
    closes = [float(c) for _, _, c in rows]
    frame = pd.DataFrame({"open": opens, "high": [max(o, c) for o, c in zip(opens, closes)],
                          "low": [min(o, c) for o, c in zip(opens, closes)], "close": closes,
                          "volume": 1e6}, index=index)
    frame.attrs.update(symbol=symbol, adjust="")
    return frame


def order(id, side, shares, symbol="600519.SH"):
    return {"id": id, "symbol": symbol, "side": side, "shares": shares, "reference_price": 0.0, "notes": ""}


MOUTAI = bars_of([("2023-08-31", 1800.0, 1800.0), ("2023-09-01", 1800.0, 1810.0), ("2023-09-04", 1850.0, 1860.0)])


def test_a_buy_then_a_sell_pay_the_statement_fees(tmp_path):
    account = PaperAccount.open(tmp_path / "acct", cash=1_000_000)
    result = account.fill([order("b1", "buy", 150)], {"600519": MOUTAI}, session=D(2023, 9, 1))
    (line,) = result.booked
    assert line["status"] == "filled" and line["shares"] == 100 and line["requested"] == 150
    assert line["reason"] == "rounded down from 150 to 100 shares (lots)"
    assert (line["price"], line["commission"], line["stamp_duty"], line["transfer_fee"]) == (1800.0, 45.0, 0.0, 1.8)
    assert account.cash == pytest.approx(1_000_000 - 180_000 - 46.8, abs=1e-9)
    assert account.positions == {"600519.SH": 100}
    # next session: the sell of 500 is capped at the 100 held, sold at the open with stamp duty
    result = account.fill([order("s1", "sell", 500)], {"600519.SH": MOUTAI}, session=D(2023, 9, 4))
    (line,) = result.booked
    assert line["shares"] == 100 and line["reason"] == "capped at the position of 100 shares"
    assert (line["price"], line["commission"], line["stamp_duty"], line["transfer_fee"]) == (1850.0, 46.25, 92.5, 1.85)
    assert account.cash == pytest.approx(1_000_000 - 180_046.8 + 185_000 - 140.6, abs=1e-9)
    assert account.positions == {} and account.last_seq == 2 and account.last_session == D(2023, 9, 4)
    # the files say the same, and the account verifies its own checksum
    reopened = PaperAccount.open(tmp_path / "acct")
    assert (reopened.cash, reopened.positions, reopened.currency) == (account.cash, {}, "CNY")
    assert [line["order_id"] for line in reopened.journal()] == ["b1", "s1"]
    assert list(reopened.journal()[0]) == list(paper.JOURNAL_FIELDS)


def test_refusals_follow_the_broker(tmp_path):
    account = PaperAccount.open(tmp_path, cash=200_000)
    bars = {
        # 10.00 -> open 11.00 is limit-up (10 %), and a 5 % ST limit makes 10.50 limit-up too
        "600000.SH": bars_of([("2024-02-29", 10.0, 10.0), ("2024-03-01", 11.0, 11.0)], "600000.SH"),
        "600666.SH": bars_of([("2024-02-29", 10.0, 10.0), ("2024-03-01", 10.5, 10.5)], "600666.SH"),
        # suspended on 2024-03-01: its bars go on after it
        "000001.SZ": bars_of([("2024-02-28", 10.0, 10.0), ("2024-03-04", 10.0, 10.0)], "000001.SZ"),
        "600519.SH": bars_of([("2024-02-29", 1700.0, 1700.0), ("2024-03-01", 1710.0, 1720.0)]),
    }
    rules = AShareRules(st=("600666",))
    orders = [order("a", "sell", 100, "600000.SH"), order("b", "buy", 100, "600000.SH"),
              order("c", "buy", 100, "600666"), order("d", "buy", 100, "000001.SZ"),
              order("e", "buy", 100), order("f", "sell", 100), order("g", "buy", 100), order("h", "buy", 50)]
    result = account.fill(orders, bars, rules, session=D(2024, 3, 1))
    got = {line["order_id"]: (line["status"], line["reason"]) for line in result.booked}
    assert got["a"] == ("cancelled", "not sent: no long position (A-shares cannot be sold short)")
    assert got["b"] == ("cancelled", "buy at 11.0000 is at limit-up (10% above the previous close 10.0000)")
    assert got["c"] == ("cancelled", "buy at 10.5000 is at limit-up (5% above the previous close 10.0000)")
    assert got["d"] == ("cancelled", "suspended: no bar on 2024-03-01")
    assert got["e"] == ("filled", "")
    assert got["f"] == ("rejected", "sell of 100 shares needs some of the 100 bought on 2024-03-01: "
                                    "only 0 are sellable (T+1)")
    assert got["g"][0] == "rejected" and got["g"][1].startswith("margin: 100 shares at 1710.0000 cost 171044.46 with fees, the cash is 28955.54")
    assert got["h"] == ("cancelled", "not sent: below the 100-share minimum of the main board")
    assert account.positions == {"600519.SH": 100}
    assert account.cash == pytest.approx(200_000 - 171_000 - 42.75 - 1.71, abs=1e-9)
    # price limits off: the same limit-up buy fills
    more = account.fill([order("i", "buy", 100, "600000.SH")], bars, AShareRules(price_limits=False),
                        session=D(2024, 3, 1))
    assert more.booked[0]["status"] == "filled"
    # a limit-down sell is cancelled on the next session; a sell of everything may be an odd lot
    later = {"600000.SH": bars_of([("2024-03-01", 11.0, 11.0), ("2024-03-04", 9.9, 9.9)], "600000.SH"),
             "600519.SH": bars_of([("2024-03-01", 1710.0, 1720.0), ("2024-03-04", 1730.0, 1730.0)])}
    result = account.fill([order("j", "sell", 100, "600000.SH"), order("k", "sell", 100)], later,
                          session=D(2024, 3, 4))
    assert result.booked[0]["reason"] == "sell at 9.9000 is at limit-down (10% below the previous close 11.0000)"
    assert result.booked[1]["status"] == "filled"


def test_listing_days_are_unlimited(tmp_path):
    # STAR listed 2024-03-01: 5 unlimited days, the feed starts on the listing day
    days = ["2024-03-01", "2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07", "2024-03-08"]
    rows = [(day, 100.0 * 1.3 ** i, 100.0 * 1.3 ** i) for i, day in enumerate(days)]
    bars = {"688001.SH": bars_of(rows, "688001.SH")}
    rules = AShareRules(listing_dates={"688001": "2024-03-01"})
    account = PaperAccount.open(tmp_path, cash=1_000_000)
    fifth = account.fill([order("x", "buy", 200, "688001.SH")], bars, rules, session=D(2024, 3, 7))
    sixth = account.fill([order("y", "buy", 200, "688001.SH")], bars, rules, session=D(2024, 3, 8))
    assert fifth.booked[0]["status"] == "filled"
    assert sixth.booked[0]["reason"].startswith("buy at 371.2930 is at limit-up (20% above")


def test_a_repeated_fill_books_nothing_and_says_so(tmp_path, caplog):
    account = PaperAccount.open(tmp_path, cash=1_000_000)
    orders = [order("b1", "buy", 100), order("b2", "buy", 200)]
    first = account.fill(orders, {"600519.SH": MOUTAI}, session=D(2023, 9, 1))
    cash, journal = account.cash, (tmp_path / "journal.jsonl").read_bytes()
    caplog.set_level("INFO", logger="rnnstrategy.live.paper")
    again = PaperAccount.open(tmp_path).fill(orders, {"600519.SH": MOUTAI}, session=D(2023, 9, 1))
    assert len(first.booked) == 2 and again.booked == () and again.already_booked == ("b1", "b2")
    assert again.summary() == "2023-09-01: all 2 orders were already booked; nothing was booked again"
    assert "order b1 is already booked (journal line 1): not booked again" in caplog.text
    assert PaperAccount.open(tmp_path).cash == cash and (tmp_path / "journal.jsonl").read_bytes() == journal
    with pytest.raises(ConfigError, match="session 2023-08-31 is before the account's last session 2023-09-01"):
        account.fill([order("old", "buy", 100)], {"600519.SH": MOUTAI}, session=D(2023, 8, 31))


def _orders_by_session():
    bars = {"600519.SH": MOUTAI}
    return bars, [([order("b1", "buy", 300), order("b2", "buy", 100)], D(2023, 9, 1)),
                  ([order("s1", "sell", 200), order("b3", "buy", 100)], D(2023, 9, 4))]


def test_a_crash_between_journal_and_account_is_replayed(tmp_path, monkeypatch):
    bars, sessions = _orders_by_session()
    clean = PaperAccount.open(tmp_path / "clean", cash=1_000_000)
    for orders, day in sessions:
        clean.fill(orders, bars, session=day)

    crashed = PaperAccount.open(tmp_path / "crash", cash=1_000_000)
    crashed.fill(*sessions[0][:1], bars, session=sessions[0][1])

    def die(folder, state):
        raise KeyboardInterrupt("killed before account.json was written")

    monkeypatch.setattr(paper, "write_account", die)
    with pytest.raises(KeyboardInterrupt, match="killed"):
        crashed.fill(sessions[1][0], bars, session=sessions[1][1])
    monkeypatch.undo()
    journal = tmp_path / "crash" / "journal.jsonl"
    on_disk = json.loads((tmp_path / "crash" / "account.json").read_text())
    assert on_disk["last_seq"] == 2 and len(journal.read_text().splitlines()) == 4  # the fill's lines in one write
    # killed in the middle of that write: only its first line (the sell) reached the journal
    journal.write_text("".join(journal.read_text().splitlines(keepends=True)[:3]))

    reopened = PaperAccount.open(tmp_path / "crash")  # replays journal line 3 (the sell)
    assert reopened.last_seq == 3
    result = reopened.fill(sessions[1][0], bars, session=sessions[1][1])
    assert result.already_booked == ("s1",) and [line["order_id"] for line in result.booked] == ["b3"]
    assert (reopened.cash, reopened.positions) == (clean.cash, clean.positions)
    ids = [line["order_id"] for line in reopened.journal()]
    assert ids == ["b1", "b2", "s1", "b3"] == [line["order_id"] for line in clean.journal()]


def test_a_torn_journal_line_is_dropped_and_a_tampered_account_refused(tmp_path):
    account = PaperAccount.open(tmp_path, cash=1_000_000)
    account.fill([order("b1", "buy", 100)], {"600519.SH": MOUTAI}, session=D(2023, 9, 1))
    with (tmp_path / "journal.jsonl").open("ab") as handle:
        handle.write(b'{"seq": 2, "order_id": "b2", "ses')  # died mid-write
    reopened = PaperAccount.open(tmp_path)
    assert reopened.last_seq == 1 and len(reopened.journal()) == 1
    content = json.loads((tmp_path / "account.json").read_text())
    content["cash"] += 1_000
    (tmp_path / "account.json").write_text(json.dumps(content))
    with pytest.raises(DataError, match="account.json: its SHA-256 does not match its content"):
        PaperAccount.open(tmp_path)


def test_bad_input_is_named(tmp_path):
    with pytest.raises(ConfigError, match="give the opening cash to create one"):
        PaperAccount.open(tmp_path / "new")
    account = PaperAccount.open(tmp_path, cash=1_000)
    with pytest.raises(ConfigError, match="was opened with 1000.0 CNY, not 5"):
        PaperAccount.open(tmp_path, cash=5)
    with pytest.raises(ConfigError, match="order x: side='hold'; use 'buy' or 'sell'"):
        account.fill([{**order("x", "buy", 100), "side": "hold"}], {}, session=D(2023, 9, 1))
    with pytest.raises(ConfigError, match="order x: shares=10.5; give a positive whole number"):
        account.fill([order("x", "buy", 10.5)], {}, session=D(2023, 9, 1))
    with pytest.raises(ConfigError, match="no session: pass fill"):
        account.fill([order("x", "buy", 100)], {})
    result = account.fill([{**order("x", "buy", 100), "session": "2023-09-01"}], {"600519.SH": MOUTAI})
    assert result.session == D(2023, 9, 1) and result.booked[0]["reason"].startswith("margin")


def test_fees_and_cash_match_the_backtrader_broker(moutai, tmp_path):
    """Replaying the backtest's fills through the paper account gives its prices, fees and cash to the fen."""
    bars = moutai.loc["2019-01-01":"2019-12-31"]
    forecasts = perfect_foresight(bars)
    result = run_backtest(bars, forecasts, ForecastLong, cash=1_000_000)
    trades = result.trades
    assert len(trades) >= 4 and set(trades["side"]) == {"buy", "sell"}

    account = PaperAccount.open(tmp_path, cash=1_000_000)
    symbol = bars.attrs["symbol"]
    for day, fills in trades.groupby("date", sort=True):
        fills = fills.sort_values("side", key=lambda side: side.map({"sell": 0, "buy": 1}))
        orders = [order(f"{day}/{i}", row.side, int(row.size), symbol) for i, row in enumerate(fills.itertuples())]
        booked = account.fill(orders, {symbol: bars}, session=day).booked
        for line, row in zip(booked, fills.itertuples()):
            assert line["status"] == "filled" and line["shares"] == row.size and line["side"] == row.side
            assert line["price"] == row.price
            assert (line["commission"], line["stamp_duty"], line["transfer_fee"]) == \
                   (row.commission, row.stamp_duty, row.transfer_fee)
    final = result.equity.iloc[-1]
    assert account.cash == pytest.approx(final["cash"], abs=0.005)
    assert account.positions.get(paper.symbol_info(symbol).ts_code, 0) == final["position"]


# -- money to the fen ------------------------------------------------------------------------------------


def test_cash_is_an_exact_decimal_in_the_account_file(tmp_path):
    """The previous version's binary floats summed these fills to 297989.55999999994; the account books exact
    decimals and writes them so."""
    bars = bars_of([("2024-02-29", 10.0, 10.0), ("2024-03-01", 10.01, 10.0), ("2024-03-04", 10.03, 10.0)])
    account = PaperAccount.open(tmp_path, cash=300_000.1)
    account.fill([order("b", "buy", 300)], {"600519.SH": bars}, session=D(2024, 3, 1))
    account.fill([order("s", "sell", 100)], {"600519.SH": bars}, session=D(2024, 3, 4))
    fees = (5.0 + 0.03) + (5.0 + 0.5 + 0.01)  # minimum commission, transfer fee; then stamp duty on the sell
    assert str(account.exact_cash) == "297989.56"
    assert account.exact_cash == paper.money.exact(300_000.1) - paper.money.exact(3003) + paper.money.exact(1003) - \
        paper.money.exact(round(fees, 2))
    text = (tmp_path / "account.json").read_text()
    assert '"cash": 297989.56,' in text and '"opening_cash": 300000.10,' in text
    assert json.loads(text)["format"] == 2
    with pytest.raises(ConfigError, match=r"cash=1000\.005: the opening cash is 0 or a positive amount in CNY, in whole"):
        PaperAccount.open(tmp_path / "sub", cash=1000.005)


def _format_1(folder, journal_lines, opening, cash_error=0.0):
    """``folder`` as the previous version left it: account.json in format 1 (binary float cash, hashed as such)."""
    import hashlib

    cash, positions, bought = float(opening), {}, {"session": None, "shares": {}}
    for line in journal_lines:
        if line["status"] == "filled":
            sign = -1 if line["side"] == "buy" else 1
            cash += sign * line["shares"] * line["price"]
            cash -= line["commission"] + line["stamp_duty"] + line["transfer_fee"]
            positions[line["symbol"]] = positions.get(line["symbol"], 0) - sign * line["shares"]
            if line["side"] == "buy":
                bought = {"session": line["session"], "shares": {line["symbol"]: line["shares"]}}
    content = {"format": 1, "currency": "CNY", "opening_cash": float(opening), "cash": cash + cash_error,
               "positions": {k: v for k, v in positions.items() if v}, "bought": bought,
               "last_seq": len(journal_lines), "last_session": journal_lines[-1]["session"],
               "first_session": journal_lines[0]["session"]}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    content["sha256"] = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    (folder / "account.json").write_text(json.dumps(content, indent=2))
    return content


def test_an_account_of_the_previous_version_is_read_and_converted(tmp_path):
    bars = {"600519.SH": bars_of([("2024-02-29", 10.0, 10.0), ("2024-03-01", 10.01, 10.0), ("2024-03-04", 10.03, 10.0)])}
    new = PaperAccount.open(tmp_path / "new", cash=300_000.1)
    new.fill([order("b1", "buy", 300)], bars, session=D(2024, 3, 1))
    new.fill([order("s1", "sell", 100)], bars, session=D(2024, 3, 4))
    old = tmp_path / "old"
    old.mkdir()
    (old / "journal.jsonl").write_bytes((tmp_path / "new" / "journal.jsonl").read_bytes())
    written = _format_1(old, new.journal(), 300_000.1)
    assert written["cash"] == 297989.55999999994  # as the previous version summed it
    converted = PaperAccount.open(old)
    assert str(converted.exact_cash) == "297989.56" and converted.positions == new.positions
    assert json.loads((old / "account.json").read_text())["format"] == 2  # written back converted
    assert '"cash": 297989.56,' in (old / "account.json").read_text()
    _format_1(old, new.journal(), 300_000.1, cash_error=1.0)  # a float cash a yuan off its journal
    (old / "journal.jsonl").write_bytes((tmp_path / "new" / "journal.jsonl").read_bytes())
    with pytest.raises(DataError, match="account.json does not match .*journal.jsonl: its 2 journal lines give cash"):
        PaperAccount.open(old)


def test_an_open_that_is_no_price_is_refused_and_books_nothing(tmp_path):
    bars = MOUTAI.copy()
    bars.loc["2023-09-01", "open"] = float("nan")
    account = PaperAccount.open(tmp_path, cash=1_000_000)
    with pytest.raises(DataError, match="the bar of 600519.SH on 2023-09-01 opens at nan: not a price"):
        account.fill([order("b1", "buy", 100)], {"600519.SH": bars}, session=D(2023, 9, 1))
    assert account.journal() == [] and account.last_session is None


def test_an_empty_fill_counts_and_orders_carry_their_account(tmp_path):
    account = PaperAccount.open(tmp_path, cash=1_000_000)
    account.fill([], {"600519.SH": MOUTAI}, session=D(2023, 9, 1))
    assert account.last_session == D(2023, 9, 1) == account.first_session and account.journal() == []
    with pytest.raises(ConfigError, match="session 2023-08-31 is before the account's last session 2023-09-01"):
        account.fill([order("b0", "buy", 100)], {"600519.SH": MOUTAI}, session=D(2023, 8, 31))
    mine = {"cash": 1_000_000.0, "positions": {}}
    result = account.fill([order("b1", "buy", 100)], {"600519.SH": MOUTAI}, session=D(2023, 9, 4), decided_for=mine)
    assert result.booked[0]["status"] == "filled"
    # an interrupted fill of the same session is checked against the account before the session, not after it
    again = account.fill([order("b1", "buy", 100), order("b2", "buy", 100)], {"600519.SH": MOUTAI},
                         session=D(2023, 9, 4), decided_for=mine)
    assert again.already_booked == ("b1",) and [line["order_id"] for line in again.booked] == ["b2"]
    with pytest.raises(ConfigError, match="the orders were decided for cash 1,000,000.00 CNY and positions none, but "
                                          "before 2023-09-05 the account .* holds cash 629,903.80 CNY and positions "
                                          "600519.SH 200"):
        account.fill([order("s1", "sell", 100)], {"600519.SH": MOUTAI}, session=D(2023, 9, 5), decided_for=mine)
