"""A universe as it stood (issue 24), on the bundled qlib sample: ``--universe`` ranks and trades each day's
index members, sells a stock that leaves (or keeps it with ``--keep-leavers``), shows the equal-weight basket
of the day's members and the index's own bars beside the strategy, and reports the members it could not trade;
``--symbol`` trades one stock of the directory, its buy-and-hold booking the dividends.

The point-in-time test of record: a membership change after D (the spells as known at D, or a made-up future)
changes nothing before D: the pooled forecasts (learning from member days only), the orders and the fills.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from helpers import TINY, tiny_args
from rnnstrategy.strategies.top_k import TopK

from rnnstrategy import datasets
from rnnstrategy.backtrader.buy_and_hold import run_buy_and_hold
from rnnstrategy.backtrader.members_basket import run_members_basket
from rnnstrategy.backtrader.results import run_universe_backtest
from rnnstrategy.cli import main
from rnnstrategy.data import load_bars
from rnnstrategy.data.forecast_files import read_forecasts
from rnnstrategy.forecasting.pooled.config import PooledConfig
from rnnstrategy.universe.as_of import AsOfUniverse
from rnnstrategy.universe.forecast import forecast_universe
from rnnstrategy.universe.membership import IndexMembership
from rnnstrategy.universe.membership_sources import load_membership

SAMPLE = datasets.path(datasets.UNIVERSE)
POOLED = PooledConfig(hidden=(4,), lookback=5, epochs=1, patience=0, batch_size=1024, retrain_every_days=100,
                      train_days=250, device="cpu")
"""A pooled GRU of 4 units on 5-bar windows, one epoch, retrained every 100 market days on the last 250."""
D = pd.Timestamp("2022-05-31")  # 300207.SZ joins on 2022-06-10, after it
TOPK = {"k": 3, "max_turnover": 1.0, "entry_threshold": 0.0}
TOPK_SCORES = {"k": 3, "max_turnover": 1.0}  # pooled forecasts are scores: top_k ranks them, no threshold


def _bars(symbol: str, start: str, end: str) -> pd.DataFrame:
    return load_bars(SAMPLE, symbol=symbol, start=start, end=end)


def _forecasts(bars: pd.DataFrame, expected: float) -> pd.DataFrame:
    """A forecast frame that expects the same return every day: ô(t+2)/ô(t+1) - 1 = ``expected``."""
    return pd.DataFrame({"pred_open_1": bars["close"], "pred_open_2": bars["close"] * (1 + expected), "fold": 0},
                        index=bars.index)


@pytest.fixture(scope="module")
def made_up() -> SimpleNamespace:
    """Four stocks of the sample late in 2020 under a made-up index: 002466.SZ leaves after 2020-12-11, 000858.SZ
    joins on 2020-12-21 with the best forecast, 600519.SH and 601318.SH stay; forecasts best to worst in that
    order (the leaver second)."""
    start, end = "2020-11-02", "2020-12-31"
    expected = {"000858.SZ": 0.08, "002466.SZ": 0.05, "600519.SH": 0.03, "601318.SH": 0.01}
    frames = [_bars(symbol, start, end) for symbol in expected]
    forecasts = {str(f.attrs["symbol"]): _forecasts(f, expected[str(f.attrs["symbol"])]) for f in frames}
    index = AsOfUniverse("made-up", IndexMembership([("002466.SZ", "2020-01-02", "2020-12-11"),
                                                     ("000858.SZ", "2020-12-21", None),
                                                     ("600519.SH", "2020-01-02", None),
                                                     ("601318.SH", "2020-01-02", None)]))
    members = index.by_day(frames[0].index.union(frames[1].index), list(expected))
    return SimpleNamespace(frames=frames, forecasts=forecasts, members=members, start=start, end=end)


def _fills(trades: pd.DataFrame, symbol: str, side: str) -> list[str]:
    rows = trades[(trades["symbol"] == symbol) & (trades["side"] == side)]
    return [f"{day:%Y-%m-%d}" for day in pd.to_datetime(rows["date"])]


@pytest.mark.parametrize("keep", [False, True])
def test_top_k_ranks_the_days_members_and_sells_a_leaver_at_the_next_open(made_up, keep):
    run = run_universe_backtest(made_up.frames, made_up.forecasts, TopK, params=TOPK, members=made_up.members,
                                keep_leavers=keep)
    trades = run.trades
    assert _fills(trades, "002466.SZ", "buy")[:1] == ["2020-11-03"]  # a member with a good forecast
    # out of the index after 2020-12-11: at the close of 2020-12-14 it is no member, sold at the next open
    assert _fills(trades, "002466.SZ", "sell") == ([] if keep else ["2020-12-15"])
    # the best forecast of all, but no member before 2020-12-21: bought at the open after, when a slot is free
    assert _fills(trades, "000858.SZ", "buy") == ([] if keep else ["2020-12-22"])


def test_the_members_basket_holds_the_days_members_in_equal_weight(made_up):
    basket = run_members_basket(made_up.frames, made_up.members, made_up.start, made_up.end)
    trades = basket.trades
    assert sorted(trades.loc[pd.to_datetime(trades["date"]) == "2020-11-02", "symbol"]) == [
        "002466.SZ", "600519.SH", "601318.SH"]  # the first day's members, at its open
    assert _fills(trades, "002466.SZ", "sell") == ["2020-12-15"]  # no member at the close of 2020-12-14
    assert _fills(trades, "000858.SZ", "buy") == ["2020-12-22"]
    last = basket.equity.iloc[-1]
    assert last["cash"] < 0.05 * last["value"]  # invested: set again at each change, with the same costs
    assert (basket.trades[["commission", "transfer_fee"]].to_numpy() > 0).all()


def _pooled_run(folder: Path, index: AsOfUniverse) -> tuple[dict[str, pd.DataFrame], list[pd.DataFrame]]:
    """The universe forecast of ``index`` into ``folder`` (learning from member days only), and each forecast
    stock's bars from its first forecast on, as a universe backtest reads them."""
    summary = forecast_universe(SAMPLE, POOLED, "2022-01-04", "2022-08-31", out_dir=folder, store=None,
                                evaluate=False, as_of=index)
    forecasts = {str(s): read_forecasts(folder / "forecasts" / f"{s}.csv") for s in summary["symbol"]}
    frames = [load_bars(SAMPLE, symbol=s, start=f.index[0], history=1) for s, f in forecasts.items()]
    return forecasts, frames


@pytest.fixture(scope="module")
def point_in_time(tmp_path_factory) -> dict[str, SimpleNamespace]:
    """The pooled forecasts and top-k trades under the sample's membership as it is, as it was known at D, and
    with a made-up future after D (600522.SH back in the index from 2022-06-01, 600519.SH out after 2022-07-15)."""
    full = load_membership(datasets.UNIVERSE_MEMBERSHIP, directory=SAMPLE)
    known = full.truncated(D)
    made_up = IndexMembership([*known.spells, ("600522.SH", "2022-06-01", None)], name="csi300")
    made_up = IndexMembership([(s.symbol, s.first, pd.Timestamp("2022-07-15") if s.symbol == "600519.SH" else s.last)
                               for s in made_up.spells], name="csi300")
    runs = {}
    for name, spells in (("full", full), ("known", known), ("made_up", made_up)):
        index = AsOfUniverse("csi300", spells, members_only_training=True)
        folder = tmp_path_factory.mktemp(name)
        forecasts, frames = _pooled_run(folder, index)
        days = pd.DatetimeIndex(sorted(set().union(*(frame.index for frame in frames))))
        members = index.by_day(days, [str(frame.attrs["symbol"]) for frame in frames])
        traded = run_universe_backtest(frames, forecasts, TopK, params=TOPK_SCORES, members=members)
        runs[name] = SimpleNamespace(forecasts=forecasts, result=traded, folder=folder)
    return runs


def test_membership_after_d_changes_no_forecast_before_d(point_in_time):
    full, others = point_in_time["full"], [point_in_time["known"], point_in_time["made_up"]]
    assert "300207.SZ" in full.forecasts and "300207.SZ" not in point_in_time["known"].forecasts  # joins after D
    assert "600522.SH" in point_in_time["made_up"].forecasts and "600522.SH" not in full.forecasts
    for other in others:
        for symbol in set(full.forecasts) & set(other.forecasts):
            pd.testing.assert_frame_equal(full.forecasts[symbol].loc[:D], other.forecasts[symbol].loc[:D])
    # and the fold retrained after D learns from the new member days: its forecasts do change
    after = [s for s in full.forecasts if not full.forecasts[s].loc["2022-08"].equals(
        point_in_time["made_up"].forecasts.get(s, full.forecasts[s]).loc["2022-08"])]
    assert after


def test_membership_after_d_changes_no_order_or_fill_before_d(point_in_time):
    full = point_in_time["full"].result
    assert len(full.trades) > 10
    for name in ("known", "made_up"):
        other = point_in_time[name].result
        before = full.trades[pd.to_datetime(full.trades["date"]) <= D].reset_index(drop=True)
        pd.testing.assert_frame_equal(before, other.trades[pd.to_datetime(other.trades["date"]) <= D]
                                      .reset_index(drop=True))
        pd.testing.assert_frame_equal(full.equity.loc[:D], other.equity.loc[:D])
    made_up = point_in_time["made_up"].result.trades
    assert not made_up[pd.to_datetime(made_up["date"]) > D].equals(full.trades[pd.to_datetime(full.trades["date"]) > D])


def test_a_universe_backtest_reports_coverage_the_index_and_the_members_basket(point_in_time, tmp_path, capsys):
    forecasts = point_in_time["full"].folder
    code = main(["backtest", "--example", "--universe", "csi300", "--forecasts", str(forecasts), "--strategy", "top_k",
                 "--k", "3", "--start", "2022-01-04", "--end", "2022-08-31", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("using the bundled sample: CSI 300 universe sample: 33 members and the index")
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    covered = metrics["universe"]["coverage"]
    daily = pd.read_csv(tmp_path / "coverage.csv", index_col="date", parse_dates=True)
    assert list(daily.columns) == ["members", "with_bars", "without_bars", "without_share", "without"]
    assert covered["days"] == len(daily) == metrics["period"]["days"]
    assert covered["members"] == pytest.approx(daily["members"].mean(), abs=1e-6)
    assert daily.loc["2022-06-09", "members"] + 1 == daily.loc["2022-06-10", "members"]  # 300207.SZ joins
    assert "csi300 as it stood:" in out and "lacked bars" in out
    assert metrics["benchmark"]["title"] == "CSI 300"  # the index's own bars in the directory
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["config"]["benchmark"]["source"].endswith("::sh000300")
    assert "coverage.csv" in manifest["files"]
    assert metrics["buy_and_hold"]["title"].startswith("Equal weight csi300 members as they stood")
    assert "equal-weight members basket" in metrics["excess_over_buy_and_hold"]["verdict"]


def test_the_example_forecasts_the_members_of_the_bundled_index(tmp_path, capsys):
    code = main(["forecast", "--example", "--universe", "csi300", "--start", "2023-12-01", "--out", str(tmp_path),
                 "--no-store", *tiny_args(POOLED)])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0 and lines[0].startswith("using the bundled sample: CSI 300 universe sample")
    universe = json.loads((tmp_path / "summary.json").read_text())["universe"]
    # 600522.SH and 600703.SH left the index in 2021: learnt from, not forecast
    assert universe["learnt_from_only"] == ["600522.SH", "600703.SH"] and universe["members_ever"] == 33
    assert len(list((tmp_path / "forecasts").glob("*.csv"))) == 31


def test_a_stock_of_a_directory_with_symbol_books_its_dividend_beside_buy_and_hold(tmp_path, capsys):
    window = ["--start", "2022-06-01", "--end", "2022-07-29"]
    code = main(["-q", "backtest", str(SAMPLE), "--symbol", "600519.SH", *window, "--out", str(tmp_path),
                 "--no-store", *tiny_args(replace(TINY, retrain_every=20, min_train=60))])
    assert code == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["config"]["data"]["source"] == f"{SAMPLE}::sh600519"
    assert manifest["config"]["benchmark"]["source"].endswith("::sh000300")
    equity = pd.read_csv(tmp_path / "equity.csv", index_col="date", parse_dates=True)
    # buy-and-hold beside it is the broker's, on the raw bars with their factor: the 2022-06-30 dividend is booked
    bars = load_bars(SAMPLE, symbol="600519.SH", start=equity.index[0], end=equity.index[-1])
    held = run_buy_and_hold(bars, equity.index[0], equity.index[-1])
    pd.testing.assert_series_equal(held.returns, equity["buy_and_hold_return"], check_names=False,
                                   check_index_type=False)
    actions = held.corporate_actions
    dividend = actions[pd.to_datetime(actions["date"]) == "2022-06-30"].iloc[0]
    assert dividend["kind"] == "dividend" and dividend["cash_per_share"] == pytest.approx(21.675, rel=1e-3)


@pytest.mark.parametrize("argv, needle", [
    (["forecast", str(SAMPLE), "--universe", "nosuch"], "'nosuch': no index membership of that name"),
    (["backtest", str(SAMPLE), "--universe", "csi300", "--members-only-training", "--strategy", "top_k"],
     "members_only_training applies to a pooled model"),
    (["backtest", f"{SAMPLE}::600519.SH", "--universe", "csi300"], "is one stock"),
    (["backtest", str(SAMPLE), "--members-only-training", "--strategy", "top_k"],
     "members_only_training needs an index as the universe"),
    (["backtest", str(SAMPLE), "--keep-leavers", "--strategy", "top_k"], "keep_leavers keeps a holding that leaves"),
])
def test_a_bad_universe_is_refused_in_one_line_before_any_training(argv, needle, tmp_path, capsys):
    code = main([*argv, "--out", str(tmp_path / "out"), "--start", "2022-01-04", "--no-store", *tiny_args(TINY)])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("rnnstrategy")]
    assert code == 2 and len(errors) == 1 and errors[0].startswith("rnnstrategy: error: "), errors
    assert needle in errors[0], errors[0]
    assert not (tmp_path / "out" / "forecasts").exists()


def test_a_symbol_beside_data_that_is_no_qlib_directory_is_one_line_from_the_command_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "rnnstrategy.cli", "forecast", str(datasets.path("moutai")),
                           "--symbol", "600519.SH", "--out", str(tmp_path)], check=False, capture_output=True,
                          text=True, timeout=120)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("rnnstrategy: error: --symbol 600519.SH names a stock of a qlib data directory")
