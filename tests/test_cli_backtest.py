"""``rnnstrategy backtest``, ``run`` and ``report`` end to end on a tiny model and ~2 years of Moutai."""

import argparse
import contextlib
import io
import json
import re
import shutil
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from helpers import TINY as SHARED_TINY
from helpers import tiny_args

from rnnstrategy.cli import build_parser, main
from rnnstrategy.data import load_bars

TINY = [*tiny_args(replace(SHARED_TINY, retrain_every=60)), "--no-store"]  # few retrains: a quick backtest
PNGS = ("forecast_vs_actual.png", "training_loss.png", "equity_vs_benchmark.png")
FILES = {"report.html", *PNGS, "metrics.json", "years.csv", "trades.csv", "equity.csv", "forecasts.csv", "forecasts.meta.json",
         "manifest.json"}


@pytest.fixture(scope="module")
def bars_csv(data_dir, tmp_path_factory):
    """SH600519.csv cut to 2018-07..2020-04, beside a stock list naming it."""
    folder = tmp_path_factory.mktemp("data")
    lines = (data_dir / "SH600519.csv").read_text(encoding="utf-8").splitlines()
    keep = [lines[0]] + [line for line in lines[1:] if line.split(",")[1] >= "2018-07-01"]
    (folder / "SH600519.csv").write_text("\n".join(keep) + "\n", encoding="utf-8")
    (folder / "names").mkdir()
    (folder / "names" / "basic_stock_data.csv").write_text("ts_code,symbol,name\n600519.SH,600519,贵州茅台\n",
                                                           encoding="utf-8")
    return folder / "SH600519.csv"


@pytest.fixture(scope="module")
def tiny_run(bars_csv, data_dir, tmp_path_factory):
    """One tiny ``rnnstrategy backtest`` run: (output directory, its stdout)."""
    out = tmp_path_factory.mktemp("run")
    stdout = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(stdout):
        patch.delenv("RNNSTRATEGY_NAMES", raising=False)
        code = main(["backtest", str(bars_csv), "--benchmark", str(data_dir / "index" / "sh000300.csv"),
                     "--out", str(out), *TINY])
    assert code == 0
    return out, stdout.getvalue()


def read_json(path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_backtest_writes_every_file_with_its_columns_and_keys(tiny_run, bars_csv):
    out, _ = tiny_run
    assert {p.name for p in out.iterdir()} == FILES
    trades = pd.read_csv(out / "trades.csv")
    assert list(trades.columns) == ["date", "symbol", "side", "size", "price", "value", "commission", "stamp_duty",
                                    "transfer_fee"]
    equity = pd.read_csv(out / "equity.csv", index_col="date", parse_dates=True)
    assert list(equity.columns) == ["value", "cash", "position", "close", "return", "benchmark_return",
                                    "buy_and_hold_return"]
    forecasts = pd.read_csv(out / "forecasts.csv", index_col="date", parse_dates=True)
    assert list(forecasts.columns) == ["pred_open_1", "pred_open_2", "fold", "open_1", "open_2"]
    assert equity.index.equals(forecasts.index)  # the backtest runs over the forecast dates

    metrics = read_json(out / "metrics.json")
    assert set(metrics) == {"period", "strategy", "benchmark", "buy_and_hold", "excess_over_benchmark",
                            "excess_over_buy_and_hold", "trades", "by_year", "forecast"}
    headline = {"title", "total_return", "cagr", "sharpe", "sortino", "max_drawdown", "volatility", "win_rate",
                "sharpe_ci", "probabilistic_sharpe"}
    assert set(metrics["strategy"]) - {"turnover_per_year"} == set(metrics["benchmark"]) == set(
        metrics["buy_and_hold"]) == headline
    assert metrics["buy_and_hold"]["title"] == "Buy and hold 600519 贵州茅台"
    assert set(metrics["excess_over_buy_and_hold"]) == set(metrics["excess_over_benchmark"]) == {
        "days", "mean_daily", "annualised", "information_ratio", "hac_t", "p_value", "lags"}
    assert metrics["strategy"]["title"] == "GRU forecast on 600519 贵州茅台"
    assert metrics["benchmark"]["title"] == "CSI 300"
    assert {"count", "turnover", "total_fees", "commission", "stamp_duty", "transfer_fee"} <= set(metrics["trades"])
    assert {"rmse", "baseline_prev_close_rmse", "rmse_ratio", "verdict", "h1", "h2"} <= set(metrics["forecast"])

    # the figures agree with the tables, and the model-free ones with the data
    assert metrics["trades"]["count"] == len(trades) > 0
    fees = trades[["commission", "stamp_duty", "transfer_fee"]].to_numpy().sum()
    assert metrics["trades"]["total_fees"] == pytest.approx(fees)
    assert metrics["period"]["final_value"] == equity["value"].iloc[-1]
    assert metrics["strategy"]["total_return"] == pytest.approx(equity["value"].iloc[-1] / 1_000_000 - 1)
    bars = load_bars(bars_csv)
    closes = bars["close"].reindex(forecasts.index)
    nxt = bars["open"].shift(-1).reindex(forecasts.index)
    naive = np.sqrt(np.nanmean((closes - nxt) ** 2))
    assert metrics["forecast"]["baseline_prev_close_rmse"] == pytest.approx(naive)
    assert metrics["forecast"]["n"] == len(forecasts) - 1

    manifest = read_json(out / "manifest.json")
    assert {"command", "config", "data", "benchmark", "forecasts", "packages", "timings", "report"} <= set(manifest)
    assert manifest["config"]["forecast"]["hidden"] == [8]
    assert manifest["config"]["backtest"]["strategy"] == "forecast_long"
    assert manifest["data"]["symbol"] == "600519.SH" and len(manifest["data"]["fingerprint"]) == 16
    assert manifest["benchmark"]["symbol"] == "000300.SH"
    assert {"torch", "backtrader", "quantstats", "pandas"} <= set(manifest["packages"])
    assert set(manifest["timings"]) == {"load", "forecast", "backtest", "metrics", "report"}
    assert manifest["forecasts"]["retrains"] == manifest["forecasts"]["trained"] > 0
    for name in PNGS:
        assert (out / name).read_bytes()[:4] == b"\x89PNG"


def test_benchmark_is_csi300_on_the_same_days(tiny_run, data_dir):
    out, _ = tiny_run
    equity = pd.read_csv(out / "equity.csv", index_col="date", parse_dates=True)
    csi = load_bars(data_dir / "index" / "sh000300.csv")["close"].reindex(equity.index)
    assert read_json(out / "metrics.json")["benchmark"]["total_return"] == pytest.approx(csi.iloc[-1] / csi.iloc[0] - 1)


def test_tearsheet_shows_strategy_vs_csi300_offline(tiny_run):
    out, stdout = tiny_run
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<h1>GRU forecast on 600519 贵州茅台" in html
    assert "Benchmark: CSI 300" in html and "Strategy: forecast_long" in html and "Execution: next_open" in html
    assert re.search(r"<th>CSI 300</th>\s*<th>GRU forecast on 600519 贵州茅台</th>", html)
    assert "Sharpe" in html and "Max Drawdown" in html
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)=[\"']?(https?:)?//", html, re.I)
    assert "total return" in stdout and "vs CSI 300" in stdout and "RMSE" in stdout
    # buy-and-hold of the stock beside the strategy and the benchmark, on the page and the console
    assert re.search(r'<div id="buy_and_hold"><h3>Buy and hold beside the strategy</h3>.*'
                     r"<th>GRU forecast on 600519 贵州茅台</th><th>CSI 300</th><th>Buy and hold 600519 贵州茅台</th>",
                     html)
    held, excess = (read_json(out / "metrics.json")[k] for k in ("buy_and_hold", "excess_over_buy_and_hold"))
    line = next(line for line in stdout.splitlines() if "buy and hold" in line)
    assert line.startswith(f"  buy and hold 600519 贵州茅台 {held['total_return']:+.1%}, Sharpe {held['sharpe']:.2f}, "
                           f"max drawdown {held['max_drawdown']:+.1%}; the strategy's excess return over it "
                           f"{excess['annualised']:+.1%} a year (HAC t {excess['hac_t']:.2f}, p ")


def test_report_redraws_the_tearsheet_and_plots(tiny_run, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(tiny_run[0], out)
    for name in ("report.html", *PNGS):
        (out / name).unlink()
    assert main(["-q", "report", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == FILES
    assert "<h1>GRU forecast on 600519 贵州茅台" in (out / "report.html").read_text(encoding="utf-8")


def test_report_redraws_a_run_written_before_buy_and_hold(tiny_run, tmp_path):
    out = tmp_path / "old"
    shutil.copytree(tiny_run[0], out)
    equity = pd.read_csv(out / "equity.csv")
    equity.drop(columns="buy_and_hold_return").to_csv(out / "equity.csv", index=False)  # the old columns
    manifest = read_json(out / "manifest.json")
    del manifest["files"], manifest["kind"]  # nor were checksums recorded then
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    for name in ("report.html", *PNGS):
        (out / name).unlink()
    assert main(["-q", "report", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == FILES
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<h1>GRU forecast on 600519 贵州茅台" in html and "Buy and hold beside" not in html


def test_run_from_toml_reuses_forecasts_with_identical_results(tiny_run, bars_csv, data_dir, tmp_path):
    first, _ = tiny_run
    (tmp_path / "defs").mkdir()
    toml = tmp_path / "defs" / "tiny.toml"
    toml.write_text(f"""
[data]
source = "../data/SH600519.csv"
name = "贵州茅台"
[benchmark]
source = "{(data_dir / 'index' / 'sh000300.csv').as_posix()}"
[backtest]
forecasts = "../first/forecasts.csv"
""", encoding="utf-8")
    shutil.copytree(bars_csv.parent, tmp_path / "data")
    shutil.copytree(first, tmp_path / "first")
    out = tmp_path / "second"
    assert main(["-q", "run", str(toml), "--out", str(out)]) == 0
    again, before = read_json(out / "metrics.json"), read_json(first / "metrics.json")
    assert again["strategy"] == before["strategy"] and again["trades"] == before["trades"]
    manifest = read_json(out / "manifest.json")
    assert manifest["forecasts"]["source"] == str((tmp_path / "first" / "forecasts.csv").resolve())
    assert "[backtest]" in manifest["config_file_text"]
    assert (out / "training_loss.png").exists()  # fold reports travel with the forecasts (meta.json)


@pytest.mark.parametrize("extra, fragment", [
    (["--strategy", "forecast_lng"], "'forecast_lng' is not one of the ready strategies"),
    (["--start", "2030-01-01"], "2030-01-01"),
    (["--strategy", "overnight_gap", "--execution", "next_open"], "must be 'close'"),
])
def test_bad_input_is_one_line(bars_csv, tmp_path, capsys, extra, fragment):
    code = main(["backtest", str(bars_csv), "--out", str(tmp_path), *TINY, *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and fragment in err[0], err


def test_benchmark_not_covering_fails_before_training(bars_csv, tmp_path, capsys):
    short = tmp_path / "sh000300.csv"
    index = load_bars(bars_csv).loc[:"2019-06-28"]
    frame = pd.DataFrame({"日期": index.index.strftime("%Y-%m-%d"), "开盘": 3000.0, "收盘": 3000.0, "最高": 3000.0,
                          "最低": 3000.0, "成交量": 1e6, "成交额": 1e9})
    frame.to_csv(short, index=False)
    code = main(["backtest", str(bars_csv), "--benchmark", str(short), "--out", str(tmp_path / "o"), *TINY])
    err = capsys.readouterr().err
    assert code == 2 and "give a benchmark covering it" in err and "2019-06-28" in err
    assert not (tmp_path / "o").exists()


def test_every_option_is_explained_with_its_default(capsys):
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name in ("backtest", "run", "report"):
        parser = commands[name]
        parser.format_help()  # adds the options it defers (the ready strategies' parameters)
        assert issubclass(parser.formatter_class, argparse.ArgumentDefaultsHelpFormatter)
        for action in parser._actions:
            assert action.help, f"{name} {action.option_strings or action.dest} has no help"
        with pytest.raises(SystemExit):
            main([name, "--help"])
        text = capsys.readouterr().out
        options = [o for a in parser._actions for o in a.option_strings if o.startswith("--") and o != "--help"]
        assert all(option in text for option in options)
        if name != "report":  # report has no option with a default
            assert "(default: " in text
