"""The report layer: metrics, benchmark returns, trade statistics, the offline tearsheet, run files."""

import dataclasses
import json
import re
import socket

import numpy as np
import pandas as pd
import pytest
import quantstats as qs

from rnnstrategy.backtrader.trades import TRADE_COLUMNS
from rnnstrategy.errors import DataError
from rnnstrategy.evaluation.sharpe import (
    deflated_sharpe,
    probabilistic_sharpe,
    sharpe_interval,
)
from rnnstrategy.report import (
    FILES,
    RunReport,
    Titles,
    benchmark_returns,
    benchmark_title,
    headline_metrics,
    read_run,
    run_metrics,
    security_name,
    trade_statistics,
    write_run,
    write_tearsheet,
)
from rnnstrategy.report.tearsheet import offline_html
from rnnstrategy.report.titles import run_titles

TITLES = Titles.for_run("lstm", "600519 贵州茅台", "CSI 300")


def _offline(monkeypatch):
    """Any attempt to open a network connection (quantstats' yfinance downloads) fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(qs.utils, "download_returns", refuse)


@pytest.fixture
def offline(monkeypatch):
    _offline(monkeypatch)


def returns_on(values, start="2020-01-02"):
    return pd.Series(values, index=pd.bdate_range(start, periods=len(values), name="date"), dtype=float)


def small_run(n=80, seed=0):
    """A RunReport of n days with two trades, on synthetic prices."""
    rng = np.random.default_rng(seed)
    index = pd.bdate_range("2020-01-02", periods=n, name="date")
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    position = np.where((np.arange(n) >= 10) & (np.arange(n) < 50), 1000.0, 0.0)
    value = 1_000_000 + np.cumsum(np.r_[0, np.diff(close)] * np.r_[0, position[:-1]])
    equity = pd.DataFrame({"value": value, "cash": value - position * close, "position": position, "close": close},
                          index=index)
    equity["return"] = equity["value"].pct_change().fillna(0.0)
    equity["benchmark_return"] = rng.normal(0, 0.01, n)
    equity["buy_and_hold_return"] = equity["close"].pct_change().fillna(0.0)
    trades = pd.DataFrame([
        {"date": "2020-01-16", "side": "buy", "size": 1000, "price": 100.0, "value": 100_000.0, "commission": 25.0,
         "stamp_duty": 0.0, "transfer_fee": 2.0},
        {"date": "2020-03-12", "side": "sell", "size": 1000, "price": 110.0, "value": 110_000.0, "commission": 27.5,
         "stamp_duty": 110.0, "transfer_fee": 2.2},
    ], columns=list(TRADE_COLUMNS))
    forecasts = pd.DataFrame({"pred_open_1": close * 1.001, "pred_open_2": close * 1.002, "fold": np.arange(n) // 40,
                              "open_1": np.r_[close[1:], np.nan], "open_2": np.r_[close[2:], np.nan, np.nan]},
                             index=index)
    forecasts.attrs = {"symbol": "600519.SH", "folds": [
        {"fold": k, "retrain_date": f"{index[40 * k]:%Y-%m-%d}", "trained": True,
         "history": {"train_loss": [1.0, 0.5, 0.4], "val_loss": [1.1, 0.7, float("nan")]}} for k in range(2)]}
    return RunReport(equity=equity, trades=trades, forecasts=forecasts, titles=TITLES,
                     parameters={"Strategy": "forecast_long"})


def test_headline_metrics_are_quantstats_figures():
    r = returns_on([0.01, -0.02, 0.03, 0.0, -0.01])
    m = headline_metrics(r, periods_per_year=243)
    assert m["total_return"] == pytest.approx(1.01 * 0.98 * 1.03 * 1.0 * 0.99 - 1)
    assert m["max_drawdown"] == pytest.approx(-0.02)
    assert m["win_rate"] == pytest.approx(2 / 4)  # zero-return days do not count
    assert m["volatility"] == pytest.approx(r.std() * np.sqrt(243))
    assert m["sharpe"] == pytest.approx(r.mean() / r.std() * np.sqrt(243))
    assert m["cagr"] == pytest.approx((1 + m["total_return"]) ** (243 / 5) - 1)


def test_headline_metrics_of_a_flat_run_are_defined():
    m = headline_metrics(returns_on([0.0] * 10))
    assert m == {"total_return": 0.0, "cagr": 0.0, "sharpe": None, "sortino": None, "max_drawdown": 0.0,
                 "volatility": 0.0, "win_rate": None}


def test_benchmark_returns_start_at_zero_and_carry_missing_days():
    dates = pd.DatetimeIndex(["2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07"], name="date")
    bars = pd.DataFrame({"close": [99.0, 100.0, 110.0, 121.0]},
                        index=pd.DatetimeIndex(["2020-01-01", "2020-01-02", "2020-01-03", "2020-01-07"]))
    bars.attrs["symbol"] = "000300.SH"
    r = benchmark_returns(bars, dates)
    # no bar on 01-06: its close carries, the move lands on 01-07
    assert r.tolist() == pytest.approx([0.0, 0.1, 0.0, 0.1])
    assert r.name == "000300.SH" and r.index.equals(dates)
    with pytest.raises(DataError, match="000300.SH has bars 2020-01-01..2020-01-07 but the backtest runs"):
        benchmark_returns(bars, dates.append(pd.DatetimeIndex(["2020-01-08"])))


def test_trade_statistics():
    report = small_run()
    stats = trade_statistics(report.trades, report.equity, periods_per_year=243)
    mean_value = report.equity["value"].mean()
    assert stats["count"] == 2 and stats["buys"] == 1 and stats["sells"] == 1
    assert stats["traded_value"] == 210_000.0
    assert stats["turnover"] == pytest.approx(210_000 / 2 / mean_value)
    assert stats["annual_turnover"] == pytest.approx(stats["turnover"] / (80 / 243))
    assert stats["total_fees"] == pytest.approx(25 + 2 + 27.5 + 110 + 2.2)
    assert stats["stamp_duty"] == 110.0
    assert stats["exposure"] == pytest.approx(40 / 80)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A small run written once, with the network cut off: (directory, report, metrics, paths)."""
    out = tmp_path_factory.mktemp("run")
    report = dataclasses.replace(small_run(), trials=3)
    metrics = run_metrics(report, {"rmse": 1.5})
    with pytest.MonkeyPatch.context() as patch:
        _offline(patch)
        paths = write_run(out, report, metrics=metrics, manifest={"config": {"x": 1}, "timings": {"load": 0.1}})
    return out, report, metrics, paths


def test_tearsheet_is_offline_and_names_both_series(written):
    html = (written[0] / "report.html").read_text(encoding="utf-8")
    assert "<h1>LSTM forecast on 600519 贵州茅台" in html
    assert "<title>LSTM forecast on 600519 贵州茅台 vs CSI 300</title>" in html
    assert "Benchmark: CSI 300" in html and "Strategy: forecast_long" in html
    assert "Sharpe" in html and "Max Drawdown" in html and "Cumulative Return" in html
    assert html.count("<svg") >= 9  # the charts are inline SVG
    assert 'id="rolling_vol"' not in html and "80 sessions: too few for the rolling charts" in html  # drawn empty
    # nothing the page needs comes from the network
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)=[\"']?(https?:)?//", html, re.I)
    assert not re.search(r"url\(\s*[\"']?(https?:)?//|@import", html, re.I)
    # chart text stays text, so a browser draws the Chinese name with its own fonts
    assert "600519 贵州茅台" in html.split("<svg", 1)[1]


def test_tearsheet_refuses_a_ticker_string(tmp_path, offline):
    with pytest.raises(TypeError, match="download a ticker"):
        write_tearsheet(tmp_path / "t.html", returns_on([0.01, 0.02]), "000300.SS", TITLES)


def test_offline_html_strips_external_resources():
    page = ('<html><head><title>Tearsheet</title><link rel="shortcut icon" href="https://qtpylib.io/favicon.ico">'
            '</head><body onload="save()"><?xml version="1.0"?><!DOCTYPE svg PUBLIC "-" "http://x/svg11.dtd"><svg/>'
            '<div id="eoy_returns"><svg><text>EOY Returns</text></svg></div></body></html>')
    assert offline_html(page, "A vs B") == "<html><head><title>A vs B</title></head><body><svg/></body></html>"


def test_names_and_titles(tmp_path, monkeypatch):
    monkeypatch.delenv("RNNSTRATEGY_NAMES", raising=False)
    names = tmp_path / "basic_stock_data.csv"
    names.write_text("ts_code,symbol,name\n600519.SH,600519,贵州茅台\n000858.SZ,000858,五粮液\n", encoding="utf-8")
    assert security_name("600519", names) == "贵州茅台"
    assert security_name("300750", names) == ""
    assert benchmark_title("sh000300") == "CSI 300"
    assert benchmark_title("000858.SZ", names) == "000858 五粮液"
    assert Titles.for_run("gru", "600519 贵州茅台", "CSI 300").strategy == "GRU forecast on 600519 贵州茅台"


def test_run_titles_name_one_stock_a_universe_and_what_stands_beside(tmp_path, monkeypatch):
    """The titles every kind of run shares: the security, then the benchmark's given name, its looked-up
    name, or buy-and-hold of the security."""
    monkeypatch.delenv("RNNSTRATEGY_NAMES", raising=False)
    names = tmp_path / "basic_stock_data.csv"
    names.write_text("ts_code,symbol,name\n600519.SH,600519,贵州茅台\n", encoding="utf-8")
    one = run_titles("GRU forecast on {security}", ["600519.SH"], names=names, benchmark="000300.SH")
    assert one == Titles("GRU forecast on 600519 贵州茅台", "CSI 300", "600519 贵州茅台")
    assert run_titles("x", ["600519.SH"], names=None, name="Moutai").security == "600519 Moutai"
    several = run_titles("Top 2 of 4", ["600519.SH", "000001.SZ", "000002.SZ", "600000.SH"], names=names)
    assert several == Titles("Top 2 of 4", "Buy and hold 4 A-shares, equal weight", "4 A-shares, equal weight")
    assert run_titles("x", ["600519.SH"], names=names, benchmark="000300.SH", benchmark_name="Index").benchmark == \
        "Index"


def test_write_run_then_read_run_round_trips(written):
    tmp_path, report, metrics, paths = written
    names = {p.name for p in paths}
    assert names == {"report.html", "forecast_vs_actual.png", "training_loss.png", "equity_vs_benchmark.png",
                     "metrics.json", "years.csv", "trades.csv", "equity.csv", "forecasts.csv", "forecasts.meta.json",
                     "manifest.json"}
    assert set(FILES.values()) <= names
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["config"] == {"x": 1} and set(manifest["timings"]) == {"load", "report"}
    assert manifest["report"]["titles"]["benchmark"] == "CSI 300"
    saved = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    assert saved["forecast"] == {"rmse": 1.5}
    final = report.equity["value"].iloc[-1]
    assert saved["period"] == {"start": "2020-01-02", "end": "2020-04-22", "days": 80, "periods_per_year": 243,
                               "start_value": 1_000_000.0, "final_value": pytest.approx(final)}

    back = read_run(tmp_path)
    pd.testing.assert_frame_equal(back.equity, report.equity, check_freq=False, check_index_type=False)
    pd.testing.assert_frame_equal(back.trades, report.trades)
    assert back.titles == report.titles and back.parameters == report.parameters and back.trials == 3
    assert len(back.folds) == 2 and back.folds[0]["history"]["train_loss"] == [1.0, 0.5, 0.4]
    again = run_metrics(back, {"rmse": 1.5})
    for section in ("strategy", "benchmark", "buy_and_hold", "excess_over_benchmark", "excess_over_buy_and_hold",
                    "trades"):
        numbers = {k: v for k, v in metrics[section].items() if not isinstance(v, (str, list))}
        assert {k: again[section][k] for k in numbers} == pytest.approx(numbers, rel=1e-12)
        if "sharpe_ci" in metrics[section]:
            assert again[section]["sharpe_ci"] == pytest.approx(metrics[section]["sharpe_ci"], rel=1e-12)


def test_buy_and_hold_beside_the_strategy(written, tmp_path):
    out, report, metrics, _ = written
    held = metrics["buy_and_hold"]
    assert held["title"] == "Buy and hold 600519 贵州茅台"
    assert set(held) == set(metrics["strategy"]) - {"deflated_sharpe", "trials", "turnover_per_year"}
    assert held["total_return"] == pytest.approx(report.equity["close"].iloc[-1] / report.equity["close"].iloc[0] - 1)
    excess = metrics["excess_over_buy_and_hold"]
    daily = (report.equity["return"] - report.equity["buy_and_hold_return"]).mean()
    assert excess["days"] == 80 and excess["annualised"] == pytest.approx(daily * 243)
    assert excess["hac_t"] is not None and 0 <= excess["p_value"] <= 1
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<th>LSTM forecast on 600519 贵州茅台</th><th>CSI 300</th><th>Buy and hold 600519 贵州茅台</th>" in html
    # a run directory written before buy-and-hold was recorded: read, measured and drawn without it
    old = tmp_path / "old"
    old.mkdir()
    for name in ("trades.csv", "forecasts.csv", "forecasts.meta.json"):
        (old / name).write_bytes((out / name).read_bytes())
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    del manifest["files"], manifest["kind"]  # nor were checksums recorded then
    (old / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    pd.read_csv(out / "equity.csv").drop(columns="buy_and_hold_return").to_csv(old / "equity.csv", index=False)
    back = read_run(old)
    assert back.buy_and_hold is None and not back.benchmark_is_buy_and_hold
    assert "buy_and_hold" not in run_metrics(back)


def test_sharpe_ratios_carry_their_uncertainty(written):
    _, report, metrics, _ = written
    for section, returns in (("strategy", report.returns), ("benchmark", report.benchmark),
                             ("buy_and_hold", report.buy_and_hold)):
        figures = metrics[section]
        assert figures["sharpe_ci"] == pytest.approx(list(sharpe_interval(returns, 0.95, 243)))
        assert sum(figures["sharpe_ci"]) / 2 == pytest.approx(figures["sharpe"])  # quantstats' Sharpe in the middle
        assert figures["probabilistic_sharpe"] == pytest.approx(probabilistic_sharpe(returns))
        assert ("deflated_sharpe" in figures) == (section == "strategy")
    strategy = metrics["strategy"]
    assert strategy["trials"] == 3
    assert strategy["deflated_sharpe"] == pytest.approx(deflated_sharpe(report.returns, 3))
    assert strategy["deflated_sharpe"] < strategy["probabilistic_sharpe"]
    assert "deflated_sharpe" not in run_metrics(dataclasses.replace(report, trials=1))["strategy"]


# a positive Sharpe ratio and one crash: quantstats' PSR (pandas' bias-adjusted skewness and excess
# kurtosis + 3) is 81.07 %, the paper's (sample skewness and kurtosis) 81.71 %
FAT_TAILED = [0.012, -0.004, 0.007, 0.003, -0.006, 0.010, 0.002, -0.001, 0.009, -0.030,
              0.011, 0.004, 0.006, 0.001, 0.008, 0.005, -0.002, 0.007, 0.003, 0.006]


def test_tearsheet_shows_our_probabilistic_and_deflated_sharpe(tmp_path, offline):
    returns = returns_on(FAT_TAILED)
    benchmark = returns_on(np.random.default_rng(1).normal(0, 0.01, 20))
    theirs = qs.stats.probabilistic_sharpe_ratio(returns, periods=243)
    ours, deflated = probabilistic_sharpe(returns), deflated_sharpe(returns, 6)
    assert f"{theirs:.2%}" != f"{ours:.2%}" == "81.71%"
    html = write_tearsheet(tmp_path / "t.html", returns, benchmark, TITLES, periods_per_year=243,
                           trials=6).read_text(encoding="utf-8")
    row = re.search(r"<tr><td>Prob\. Sharpe Ratio †</td><td>([^<]*)</td><td>([^<]*)</td></tr>", html)
    assert row and row.groups() == (f"{probabilistic_sharpe(benchmark):.2%}", "81.71%")  # benchmark first
    assert f"{theirs:.2%}" not in html
    assert f"<tr><td>Deflated Sharpe Ratio (6 trials) †</td><td>-</td><td>{deflated:.2%}</td></tr>" in html
    assert "not the excess kurtosis" in html and "the best of the 6 configurations tried if none" in html
    single = write_tearsheet(tmp_path / "u.html", returns, benchmark, TITLES, periods_per_year=243)
    assert "Deflated Sharpe" not in single.read_text(encoding="utf-8")


def test_read_run_names_a_missing_directory(tmp_path):
    with pytest.raises(DataError, match="no manifest.json; give the output directory of a finished backtest"):
        read_run(tmp_path)


def test_run_report_checks_its_columns():
    report = small_run()
    with pytest.raises(DataError, match="missing benchmark_return"):
        RunReport(equity=report.equity.drop(columns="benchmark_return"), trades=report.trades,
                  forecasts=report.forecasts, titles=TITLES)


def test_a_strategy_that_never_traded_gets_a_plain_page(tmp_path, offline):
    path = write_tearsheet(tmp_path / "t.html", returns_on([0.0] * 5), returns_on([0.0, 0.01, -0.01, 0.02, 0.0]),
                           TITLES)
    html = path.read_text(encoding="utf-8")
    assert "<h1>LSTM forecast on 600519 贵州茅台</h1>" in html
    assert "made no trade in 2020-01-02..2020-01-08" in html and "<h3>CSI 300</h3>" in html
    assert "<td>total_return</td><td>0.0199</td>" in html


def test_buy_and_hold_is_shown_once_when_it_is_the_benchmark(tmp_path, offline):
    flat, moves = returns_on([0.0] * 5), returns_on([0.0, 0.01, -0.01, 0.02, 0.0])
    beside = write_tearsheet(tmp_path / "a.html", flat, moves, TITLES, buy_and_hold=returns_on([0.0, 0.02, 0, 0, 0]))
    assert "<th>Buy and hold 600519 贵州茅台</th></tr></thead><tbody><tr><td>total return</td><td>2.00%</td>" in (
        beside.read_text(encoding="utf-8"))
    same = write_tearsheet(tmp_path / "b.html", flat, moves, TITLES, buy_and_hold=moves)
    assert "Buy and hold beside" not in same.read_text(encoding="utf-8")
