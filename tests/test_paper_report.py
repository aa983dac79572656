"""``rnnstrategy paper report``: a paper account's record as a backtest's files.

The test of record: a backtest replayed day by day through ``decide`` and a paper account (as in
test_signal) gives a report whose equity, cash, positions, returns and trades are the backtest's,
for one stock and for a top_k universe; beside it stand buy-and-hold (or the equal-weight universe)
and the benchmark as a backtest measures them.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from helpers import TINY
from rnnstrategy.strategies.forecast_long import ForecastLong
from test_signal import TOPK_PARAMS, _order_ids, _replay, _universe

import rnnstrategy as rs
from rnnstrategy import datasets
from rnnstrategy.backtrader.buy_and_hold import run_buy_and_hold
from rnnstrategy.backtrader.results import run_backtest, run_universe_backtest
from rnnstrategy.backtrader.signal import decide
from rnnstrategy.cli import main
from rnnstrategy.data.loader import load_bars
from rnnstrategy.errors import ConfigError, DataError
from rnnstrategy.forecasting.walkforward import walk_forward
from rnnstrategy.live.paper import PaperAccount
from rnnstrategy.report.folder import read_run

PARAMS = {"exit_threshold": 0.003}
CASH = 1_000_000


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    """A forecast_long backtest of 60 days on Moutai and the paper account that replayed it."""
    bars = load_bars(datasets.path("moutai")).loc["2019-01-01":"2019-12-31"]
    forecasts = walk_forward(bars, TINY, "2019-09-02", "2019-11-27")
    result = run_backtest(bars, forecasts, ForecastLong, cash=CASH, params=PARAMS)
    account = PaperAccount.open(tmp_path_factory.mktemp("paper") / "moutai", cash=CASH)
    symbol = bars.attrs["symbol"]
    dates = bars.loc[forecasts.index[0]:forecasts.index[-1]].index
    for day, session in zip(dates[:-1], dates[1:], strict=True):
        orders = decide(bars.loc[:day], forecasts, ForecastLong, positions=account.positions, cash=account.cash,
                        params=PARAMS)  # filled every day, orders or none, as the daily routine does
        account.fill(_order_ids(orders, session), {symbol: bars.loc[:session]}, session=session.date())
    return bars.loc[:forecasts.index[-1]], result, account


def _assert_equity_is_the_backtests(run, result) -> None:
    equity, backtest = run.equity, result.equity
    assert equity.index.equals(backtest.index)
    assert (equity["value"] - backtest["value"]).abs().max() < 1e-6
    assert (equity["cash"] - backtest["cash"]).abs().max() < 1e-6
    assert (equity["return"] - result.returns).abs().max() < 1e-12


def test_the_report_of_a_replayed_backtest_is_the_backtest(replayed, tmp_path):
    """Equity, cash, shares, returns, trades and the buy-and-hold beside them equal the backtest's."""
    bars, result, account = replayed
    assert str(account.first_session) == "2019-09-03"  # the first session filled, orders or none
    run = rs.paper_report(account.folder, {bars.attrs["symbol"]: bars})
    _assert_equity_is_the_backtests(run, result)  # from the close of 2019-09-02, as the backtest
    assert (run.equity["position"] == result.equity["position"]).all()
    assert (run.equity["close"] == result.equity["close"]).all()
    trades = result.trades.assign(date=result.trades["date"].astype(str))
    pd.testing.assert_frame_equal(run.trades, trades, check_dtype=False)
    dates = result.equity.index
    held = run_buy_and_hold(bars, dates[0], dates[-1], cash=CASH).returns.reindex(dates)
    assert (run.equity["buy_and_hold_return"] - held).abs().max() < 1e-12
    assert run.equity["benchmark_return"].equals(run.equity["buy_and_hold_return"])  # no benchmark given

    m = run.metrics
    assert m["strategy"]["total_return"] == pytest.approx(result.equity["value"].iloc[-1] / CASH - 1)
    assert m["period"]["start_value"] == pytest.approx(CASH)
    assert m["trades"]["count"] == len(result.trades) and m["trades"]["total_fees"] > 0
    assert m["paper"]["cash"] == pytest.approx(result.equity["cash"].iloc[-1], abs=0.005)
    assert m["paper"]["filled"] == len(result.trades) and m["paper"]["price_mismatches"] == []
    assert m["excess_over_buy_and_hold"]["verdict"].startswith("After costs the strategy does not beat buy and hold")
    lines = run.summary()
    assert lines[0].startswith("Paper account moutai 2019-09-02..2019-11-27 (57 days)")
    # 57 sessions are too few for a yearly figure: no CAGR, no excess a year, and a note that says so
    assert m["strategy"]["cagr"] is None and m["buy_and_hold"]["cagr"] is None
    assert m["excess_over_buy_and_hold"]["annualised"] is None and m["excess_over_buy_and_hold"]["p_value"] is not None
    assert "CAGR n/a vs n/a" in lines[1]
    assert lines[-1] == ("  note: 57 sessions are too few to measure a yearly figure: CAGR and the excess return a year "
                         "are left out until the record has 63, and the tearsheet's rolling charts until it has half "
                         "a year")
    assert any("excess return over buy and hold" in line for line in lines)

    # a later start: the same equity from that day, its first return against the close before, its trades only
    later = rs.paper_report(account.folder, {bars.attrs["symbol"]: bars}, start="2019-10-08")
    window = result.equity.loc["2019-10-08":]
    assert later.equity.index.equals(window.index)
    assert (later.equity["value"] - window["value"]).abs().max() < 1e-6
    assert later.equity["return"].iloc[0] == pytest.approx(result.returns.loc[window.index[0]], abs=1e-12)
    assert later.trades["date"].min() >= "2019-10-08" and len(later.trades) < len(run.trades)

    written = run.write(tmp_path / "report")
    assert {path.name for path in written} >= {"report.html", "metrics.json", "trades.csv", "equity.csv",
                                                "equity_vs_benchmark.png", "manifest.json"}
    again = read_run(tmp_path / "report")
    assert again.symbols == ("600519.SH",)
    assert (again.equity["value"] - run.equity["value"]).abs().max() < 1e-6
    manifest = json.loads((tmp_path / "report" / "manifest.json").read_text())
    assert manifest["kind"] == "backtest" and manifest["paper"]["last_seq"] == account.last_seq
    assert set(manifest["paper"]["files"]) == {"account.json", "journal.jsonl"}


def test_the_report_of_a_replayed_top_k_universe_is_the_backtest(tmp_path):
    """Five stocks (one suspended, one listed late) traded by top_k: the report's equity is the backtest's,
    ``position`` counts the stocks held, and the equal-weight universe stands beside it."""
    from rnnstrategy.strategies.top_k import TopK

    frames, forecasts = _universe(slice(121, 124))
    result = run_universe_backtest(frames, forecasts, TopK, cash=CASH, params=TOPK_PARAMS)
    account = PaperAccount.open(tmp_path / "paper", cash=CASH)
    _replay(frames, forecasts, account, TOPK_PARAMS, TopK)
    run = rs.paper_report(account, {f.attrs["symbol"]: f for f in frames}, end=result.equity.index[-1])
    _assert_equity_is_the_backtests(run, result)
    held = result.trades.assign(signed=result.trades["size"].where(result.trades["side"] == "buy",
                                                                   -result.trades["size"]))
    at_end = (held.groupby("symbol")["signed"].sum() > 0).sum()
    assert run.equity["position"].iloc[-1] == at_end
    dates = result.equity.index
    basket = run_buy_and_hold([f.loc[dates[0]:] for f in frames], dates[0], dates[-1], cash=CASH)
    assert (run.equity["buy_and_hold_return"] - basket.returns.reindex(dates)).abs().max() < 1e-12
    m = run.metrics
    assert m["universe"]["symbols"] == 5 and m["trades"]["symbols_traded"] == result.trades["symbol"].nunique()
    assert "the equal-weight universe" in m["excess_over_buy_and_hold"]["verdict"]
    assert "universe" in run.summary()[1]


def test_cli_paper_report_writes_a_backtest_folder_that_report_redraws(replayed, tmp_path, capsys):
    bars, result, account = replayed
    csv = tmp_path / "SH600519.csv"
    raw = pd.read_csv(datasets.path("moutai"), dtype={"code": str})
    raw[pd.to_datetime(raw["date"]) <= bars.index[-1]].to_csv(csv, index=False)
    out = tmp_path / "report"
    assert main(["paper", "report", str(account.folder), "--data", str(csv), "--benchmark",
                 str(datasets.path("csi300")), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Paper account moutai" in printed and "CSI 300" in printed and "account: cash" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["benchmark"]["title"] == "CSI 300"
    assert metrics["buy_and_hold"]["title"].startswith("Buy and hold 600519")
    equity = pd.read_csv(out / "equity.csv", index_col="date", parse_dates=["date"])
    assert (equity["value"] - result.equity["value"]).abs().max() < 1e-6
    html = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="rolling_vol"' not in html and 'id="rolling_sharpe"' not in html  # empty for 57 days: left out
    assert "57 sessions: too few for the rolling charts (a 122-session window)" in html
    assert metrics["strategy"]["cagr"] is None and "note: 57 sessions are too few" in printed
    assert main(["report", str(out)]) == 0
    capsys.readouterr()
    assert main(["run", str(out / "manifest.json"), "--out", str(tmp_path / "replay")]) == 2
    assert "report of a paper account" in capsys.readouterr().err


def test_paper_report_refuses_what_it_cannot_report(replayed, tmp_path, capsys):
    bars, _, account = replayed
    symbol = bars.attrs["symbol"]
    empty = PaperAccount.open(tmp_path / "empty", cash=CASH)
    with pytest.raises(ConfigError, match="has filled no session yet"):
        rs.paper_report(empty, {symbol: bars})
    with pytest.raises(DataError, match="the bars end on 2019-10-31, before the report's end 2019-11-27"):
        rs.paper_report(account, {symbol: bars.loc[:"2019-10-31"]}, end="2019-11-27")
    session = account.journal()[0]["session"]
    with pytest.raises(DataError, match=f"filled 600519.SH on {session} but its bars have no bar that day"):
        rs.paper_report(account, {symbol: bars.drop(pd.Timestamp(session))})
    other = load_bars(datasets.path("csi300")).loc["2019-01-01":"2019-12-31"]
    with pytest.raises(DataError, match="no bars of it were given"):
        rs.paper_report(account, {"000300.SH": other})
    (tmp_path / "forecast").mkdir()
    (tmp_path / "forecast" / "manifest.json").write_text(json.dumps({"kind": "forecast"}))
    csv = tmp_path / "SH600519.csv"
    pd.read_csv(datasets.path("moutai"), dtype={"code": str}).to_csv(csv, index=False)
    assert main(["paper", "report", str(account.folder), "--data", str(csv), "--out",
                 str(tmp_path / "forecast")]) == 2
    assert "holds a forecast run" in capsys.readouterr().err
    assert main(["paper", "report", str(tmp_path / "nowhere"), "--data", str(csv), "--out",
                 str(tmp_path / "r")]) == 2
    assert "no paper account" in capsys.readouterr().err


def test_paper_report_names_fills_the_bars_do_not_show(replayed):
    """Bars that changed since the fills (e.g. re-based forward adjustment): each such fill is listed."""
    bars, _, account = replayed
    first = account.journal()[0]
    changed = bars.copy()
    changed.loc[first["session"], "open"] += 1.0
    run = rs.paper_report(account, {bars.attrs["symbol"]: changed})
    assert run.metrics["paper"]["price_mismatches"] == [
        f"600519.SH buy on {first['session']} was filled at {first['price']} but the bars open at "
        f"{first['price'] + 1.0}"]
    assert any(line.startswith("  warning: 600519.SH buy") for line in run.summary())


def test_a_record_of_a_quarter_keeps_its_yearly_figures():
    from rnnstrategy.api.paper import SHORT_RECORD, _short_record

    metrics = {"strategy": {"cagr": 0.1}, "excess_over_buy_and_hold": {"annualised": 0.02}}
    assert _short_record(metrics, SHORT_RECORD) == [] and metrics["strategy"]["cagr"] == 0.1
    assert _short_record(metrics, 9)[0].startswith("9 sessions are too few") and metrics["strategy"]["cagr"] is None
