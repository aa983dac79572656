"""The one-call API: a backtest or forecast in one call, the same numbers as the command line."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from helpers import TINY, tiny_args

import rnnstrategy as rs
from rnnstrategy.cli import main
from rnnstrategy.config import RunConfig
from rnnstrategy.data.records import EQUITY_COLUMNS, TRADE_COLUMNS
from rnnstrategy.forecasting.walkforward import walk_forward

START, END = "2019-01-02", "2019-12-31"


@pytest.fixture(scope="module")
def api_run(data_dir, tmp_path_factory):
    store = tmp_path_factory.mktemp("folds")
    run = rs.backtest(data_dir / "SH600519.csv", benchmark=data_dir / "index" / "sh000300.csv", forecast=TINY,
                      start=START, end=END, store=store)
    return run, store


def test_backtest_returns_every_result(api_run, moutai):
    run, _ = api_run
    assert list(run.trades.columns) == list(TRADE_COLUMNS)
    assert list(run.equity.columns) == list(EQUITY_COLUMNS)
    assert run.forecasts.index[0] == pd.Timestamp(START) and run.forecasts.index[-1] == pd.Timestamp(END)
    assert run.equity.index.equals(run.forecasts.index)  # one equity row per traded day
    # the metrics are those of the equity and trades returned beside them
    strategy = run.metrics["strategy"]
    assert strategy["title"].startswith("GRU forecast on 600519")
    assert strategy["total_return"] == pytest.approx(run.equity["value"].iloc[-1] / 1_000_000 - 1, abs=1e-12)
    assert run.metrics["trades"]["count"] == len(run.trades) > 0
    assert run.metrics["benchmark"]["title"] == "CSI 300"
    # buy-and-hold of the stock beside it: one buy of whole lots at the first open, the same days and cash
    held = run.buy_and_hold
    first = run.equity.index[0]
    assert held.equity.index.equals(run.equity.index) and held.start_value == 1_000_000
    assert list(held.trades[["date", "side"]].itertuples(index=False, name=None)) == [(first.date(), "buy")]
    assert held.trades["price"].iloc[0] == moutai.loc[first, "open"] and held.trades["size"].iloc[0] % 100 == 0
    pd.testing.assert_series_equal(run.equity["buy_and_hold_return"], held.returns, check_names=False)
    assert run.metrics["buy_and_hold"]["title"].startswith("Buy and hold 600519")
    assert run.metrics["buy_and_hold"]["total_return"] == pytest.approx(held.final_value / 1_000_000 - 1, abs=1e-12)
    assert set(run.metrics["buy_and_hold"]) == set(strategy) - {"turnover_per_year"}
    assert sum(line.startswith("  buy and hold 600519") for line in run.summary()) == 1
    # the loaded history does not change a forecast: identical to walk_forward over every bar
    expected = walk_forward(moutai, TINY, START, END)
    pd.testing.assert_frame_equal(run.forecasts[expected.columns], expected)
    assert run.manifest["config"]["forecast"]["hidden"] == (8,)
    assert run.manifest["data"]["rows"] < len(moutai)  # only what the run needs was read


def test_write_gives_what_the_command_line_writes(api_run, data_dir, tmp_path):
    run, store = api_run
    names = {path.name for path in run.write(tmp_path / "api")}
    assert {"report.html", "metrics.json", "manifest.json", "trades.csv", "equity.csv", "forecasts.csv",
            "forecast_vs_actual.png", "training_loss.png", "equity_vs_benchmark.png"} <= names
    code = main(["-q", "backtest", str(data_dir / "SH600519.csv"), "--benchmark",
                 str(data_dir / "index" / "sh000300.csv"), "--start", START, "--end", END, "--store", str(store),
                 "--out", str(tmp_path / "cli"), *tiny_args()])
    assert code == 0
    for name in ("metrics.json", "trades.csv", "equity.csv", "forecasts.csv"):
        assert (tmp_path / "api" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes(), name
    manifest = json.loads((tmp_path / "cli" / "manifest.json").read_text(encoding="utf-8"))
    assert RunConfig.from_dict(manifest["config"]) == run.config  # the manifest reproduces the run


def test_frames_in_and_reused_forecasts_trade_the_same(api_run, moutai):
    run, _ = api_run
    again = rs.backtest(moutai, forecasts=run.forecasts, store=None)
    pd.testing.assert_frame_equal(again.trades, run.trades)
    assert again.metrics["benchmark"]["title"].startswith("Buy and hold")
    # without a benchmark, buy-and-hold is the benchmark: the same series, shown once on the console
    assert again.equity["benchmark_return"].equals(again.equity["buy_and_hold_return"])
    assert again.metrics["buy_and_hold"] == again.metrics["benchmark"]
    summary = again.summary()
    assert not any(line.startswith("  buy and hold") for line in summary)
    assert sum(line.startswith("  excess return over buy and hold (the benchmark) ") for line in summary) == 1
    assert again.manifest["config"]["data"]["source"] == "<frame 600519.SH>"
    assert again.config.forecast == TINY  # the configuration that made the reused forecasts


def test_a_run_that_reused_a_frame_can_be_rerun_from_its_manifest(api_run, data_dir, tmp_path):
    run, _ = api_run
    reused = rs.backtest(data_dir / "SH600519.csv", forecasts=run.forecasts, store=None)
    reused.write(tmp_path / "reused")
    again = rs.run(rs.load_run_config(tmp_path / "reused" / "manifest.json"), store=None)
    pd.testing.assert_frame_equal(again.trades, reused.trades)


def test_strategy_settings_are_keywords_checked_like_any_other(moutai):
    """A strategy's parameters are keywords of backtest() and signal() too (k=10, as params={"k": 10}); the
    strategy refuses a name it does not have, or a bad value, before any work."""
    with pytest.raises(rs.ConfigError, match="^ForecastLong has no parameter 'kk'; valid: target, entry_threshold, "
                                             "exit_threshold$"):
        rs.backtest(moutai, kk=3)
    with pytest.raises(rs.ConfigError, match="^ForecastLong has no parameter 'exit'"):
        rs.signal(moutai, exit=0.1)
    with pytest.raises(rs.ConfigError, match="^ForecastLong: exit_threshold='abc' is not a number"):
        rs.backtest(moutai, exit_threshold="abc")
    with pytest.raises(rs.ConfigError, match="^exit_threshold is given twice, 0.0 and 0.1: keep one$"):
        rs.backtest(moutai, params={"exit_threshold": 0.0}, exit_threshold=0.1)
    with pytest.raises(rs.ConfigError, match="strategy top_k ranks a universe"):
        rs.backtest(moutai, strategy="top_k", k=3, exit_threshold=None)


@pytest.mark.shared_data
def test_forecast_one_symbol_and_a_universe(data_dir, tmp_path):
    one = rs.forecast(data_dir / "SH600519.csv", TINY, start="2020-01-02", store=None)
    assert isinstance(one, rs.ForecastRun)
    assert one.metrics["symbol"] == "600519.SH" and one.metrics["retrains"] == len(one.forecasts.attrs["folds"])
    assert 0.8 < one.metrics["rmse_ratio"] < 1.2  # beside the previous close, not a claim of skill
    with pytest.raises(rs.ConfigError, match="pass out='runs/universe'"):
        rs.forecast([data_dir / "SH600519.csv", data_dir / "SH600519.csv"], TINY)

    folder = tmp_path / "stocks"
    folder.mkdir()
    for name in ("600519.SH.csv", "000001.SZ.csv", "basic_stock_data.csv"):
        shutil.copy(data_dir / "stocks_tushare_qfq" / name, folder / name)
    universe = rs.forecast(folder, TINY, start="2022-06-01", out=tmp_path / "universe", store=None,
                           executor="inprocess")
    assert isinstance(universe, rs.UniverseForecastRun) and universe.ok
    assert sorted(universe.summary["symbol"]) == ["000001.SZ", "600519.SH"]  # the stock list is metadata
    alone = rs.forecast(folder / "000001.SZ.csv", TINY, start="2022-06-01", store=None)
    pd.testing.assert_frame_equal(universe.forecasts("000001.SZ")[alone.forecasts.columns], alone.forecasts,
                                  check_freq=False)


def test_a_forecast_summary_of_a_few_days_says_n_a_where_the_cross_section_is_undefined(tmp_path):
    """A universe forecast over a day or two has a rank IC but no spread (ICIR, t): the console said a traceback
    (a None formatted as a number) after the forecasts were written."""
    from rnnstrategy.api.results import UniverseForecastRun

    cross_section = {"n_days": 1, "rank_ic": 0.125, "rank_icir": None, "rank_ic_t": None, "long_short": None,
                     "baseline_reversal5_rank_ic": None}
    (tmp_path / "summary.json").write_text(json.dumps({"config": {"pooled": True}, "cross_section": cross_section}),
                                           encoding="utf-8")
    table = pd.DataFrame({"status": ["ok"], "forecasts": [3]})
    lines = UniverseForecastRun(table, tmp_path, 2.0).summary_lines()
    assert lines[1] == ("cross-section over 1 days: mean daily rank IC 0.1250 (ICIR n/a, t n/a), top-minus-bottom "
                        "quintile n/a bp a day; 5-day reversal on the same stock-days: rank IC n/a")
