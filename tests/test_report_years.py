"""The excess return over the benchmark and over buy-and-hold (information ratio, HAC test) and the table per
year: hand-made series with figures worked out by hand, then a small universe backtest of the bundled sample."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pandas as pd
import pytest
from helpers import tiny_args

from rnnstrategy.api.paper import _short_record
from rnnstrategy.cli import main
from rnnstrategy.data.records import TRADE_COLUMNS
from rnnstrategy.errors import DataError
from rnnstrategy.evaluation.excess import excess_return_test, information_ratio
from rnnstrategy.forecasting.pooled.config import PooledConfig
from rnnstrategy.report import RunReport, Titles, read_run, run_metrics, write_run
from rnnstrategy.report.compare import compare_runs
from rnnstrategy.report.years import (
    YEAR_COLUMNS,
    year_lines,
    year_rows,
    years_csv_bytes,
    years_html,
)

ROOT_243 = math.sqrt(243)
TWO_YEARS = pd.DatetimeIndex(["2020-12-30", "2020-12-31", "2021-01-04", "2021-01-05"], name="date")
STRATEGY = pd.Series([0.10, -0.05, 0.02, 0.03], index=TWO_YEARS)
BENCHMARK = pd.Series([0.0, 0.01, 0.01, 0.0], index=TWO_YEARS)
BASKET = pd.Series([0.05, 0.05, -0.01, 0.01], index=TWO_YEARS)
VALUES = pd.Series([100.0, 100.0, 200.0, 200.0], index=TWO_YEARS)
FILLS = pd.DataFrame({"date": ["2020-12-30", "2021-01-04", "2021-01-05"], "value": [50.0, 100.0, 60.0]})


def test_information_ratio_is_the_annualised_mean_over_the_annualised_std_of_the_daily_excess():
    excess = [0.001, 0.003, -0.001, 0.002]
    # mean 0.00125; squared deviations 6.25e-8 + 3.0625e-6 + 5.0625e-6 + 5.625e-7 = 8.75e-6 over 3 degrees
    assert information_ratio(np.array(excess), 243) == pytest.approx(0.00125 / math.sqrt(8.75e-6 / 3) * ROOT_243)
    assert information_ratio(pd.Series([*excess, np.nan])) == pytest.approx(11.4096, abs=1e-4)  # NaN left out
    assert information_ratio([0.002] * 5) is None  # an excess that never varies
    assert information_ratio([0.002]) is None


def test_the_excess_test_keeps_its_keys_and_adds_the_information_ratio():
    dates = pd.bdate_range("2021-03-01", periods=4)
    baseline = pd.Series([0.01, -0.02, 0.0, 0.005], index=dates)
    test = excess_return_test(baseline + [0.001, 0.003, -0.001, 0.002], baseline, 243)
    assert set(test) == {"days", "mean_daily", "annualised", "information_ratio", "hac_t", "p_value", "lags"}
    assert test["days"] == 4 and test["mean_daily"] == pytest.approx(0.00125)
    assert test["annualised"] == pytest.approx(0.00125 * 243)
    assert test["information_ratio"] == pytest.approx(0.00125 / math.sqrt(8.75e-6 / 3) * ROOT_243)
    assert test["hac_t"] > 0 and 0 < test["p_value"] < 1
    zero = baseline * 0
    flat = excess_return_test(zero + 0.001, zero, 243)
    assert flat["information_ratio"] is None and flat["hac_t"] is None and flat["p_value"] is None


def test_two_years_give_the_rows_worked_out_by_hand():
    rows = year_rows(STRATEGY, BENCHMARK, BASKET, values=VALUES, trades=FILLS, periods_per_year=243)
    assert [(row["year"], row["days"]) for row in rows] == [(2020, 2), (2021, 2)]
    first, second = rows
    # 2020: 1.10 * 0.95 - 1, the benchmark 1.00 * 1.01 - 1, the basket 1.05 * 1.05 - 1
    assert first["strategy"] == pytest.approx(0.045) and first["benchmark"] == pytest.approx(0.01)
    assert first["buy_and_hold"] == pytest.approx(0.1025)
    assert first["excess_over_benchmark"] == pytest.approx(0.035)
    assert first["excess_over_buy_and_hold"] == pytest.approx(-0.0575)
    # daily excess over the benchmark 0.10, -0.06: mean 0.02, std 0.08 * sqrt(2); over the basket 0.05, -0.10
    assert first["information_ratio_over_benchmark"] == pytest.approx(0.02 / (0.08 * math.sqrt(2)) * ROOT_243)
    assert first["information_ratio_over_buy_and_hold"] == pytest.approx(-0.025 / (0.075 * math.sqrt(2)) * ROOT_243)
    assert first["turnover"] == pytest.approx(50 / 2 / 100)
    # 2021: 1.02 * 1.03 - 1, 1.01 * 1.00 - 1, 0.99 * 1.01 - 1; excess 0.01, 0.03 and 0.03, 0.02 a day
    assert second["strategy"] == pytest.approx(0.0506) and second["benchmark"] == pytest.approx(0.01)
    assert second["buy_and_hold"] == pytest.approx(-0.0001)
    assert second["excess_over_benchmark"] == pytest.approx(0.0406)
    assert second["excess_over_buy_and_hold"] == pytest.approx(0.0507)
    assert second["information_ratio_over_benchmark"] == pytest.approx(0.02 / (0.01 * math.sqrt(2)) * ROOT_243)
    assert second["information_ratio_over_buy_and_hold"] == pytest.approx(0.025 / (0.005 * math.sqrt(2)) * ROOT_243)
    assert second["turnover"] == pytest.approx((100 + 60) / 2 / 200)
    # a year of one session has no information ratio; no buy-and-hold recorded: its columns are None
    one = year_rows(STRATEGY[1:], BENCHMARK[1:], None, values=VALUES[1:], trades=FILLS[1:])
    assert one[0]["days"] == 1 and one[0]["information_ratio_over_benchmark"] is None and one[0]["turnover"] == 0
    assert one[0]["buy_and_hold"] is None and one[0]["excess_over_buy_and_hold"] is None


def test_years_csv_holds_the_rows_at_full_precision_and_none_as_empty():
    rows = year_rows(STRATEGY, BENCHMARK, BASKET, values=VALUES, trades=FILLS)
    rows[1]["information_ratio_over_buy_and_hold"] = None
    text = years_csv_bytes(rows).decode("utf-8")
    assert text.splitlines()[0] == ",".join(YEAR_COLUMNS)
    back = pd.read_csv(io.StringIO(text))
    assert back["strategy"].tolist() == [rows[0]["strategy"], rows[1]["strategy"]]
    assert math.isnan(back.loc[1, "information_ratio_over_buy_and_hold"])


def test_the_console_and_the_page_show_the_rows():
    rows = year_rows(STRATEGY, BENCHMARK, BASKET, values=VALUES, trades=FILLS)
    lines = year_lines(rows, "universe")
    assert lines[0].startswith("  by year: returns compounded in the year; excess = the strategy's year return")
    assert lines[1].split() == ["year", "days", "strategy", "benchmark", "universe", "excess", "bench", "IR", "bench",
                                "excess", "universe", "IR", "universe", "turnover"]
    assert lines[3].split() == ["2021", "2", "+5.1%", "+1.0%", "-0.0%", "+4.1%", "22.05", "+5.1%", "55.11", "0.4x"]
    # a run without a benchmark: the benchmark is buy-and-hold, shown once
    alone = year_rows(STRATEGY, BASKET, BASKET, values=VALUES, trades=FILLS)
    assert year_lines(alone)[1].split() == ["year", "days", "strategy", "benchmark", "excess", "bench", "IR", "bench",
                                            "turnover"]
    assert year_lines([]) == []
    page = years_html(rows, {"strategy": "Top 3 <A&B>", "benchmark": "CSI 300", "buy_and_hold": "Basket"})
    assert page.startswith('<div id="by_year"><h3>Excess return by year</h3>') and "Top 3 &lt;A&amp;B&gt;" in page
    assert "<td>2020</td><td>2</td><td>+4.5%</td><td>+1.0%</td><td>+10.3%</td><td>+3.5%</td><td>2.76</td>" in page


def _report() -> RunReport:
    """Fifteen sessions across a year end, the strategy in the market from the fourth, one buy and one sell."""
    dates = pd.bdate_range("2020-12-21", periods=15, name="date")
    rng = np.random.default_rng(3)
    returns = np.r_[0, 0, 0, rng.normal(0.002, 0.01, 12)]
    value = 1_000_000 * np.cumprod(1 + returns)
    equity = pd.DataFrame({"value": value, "cash": np.where(returns == 0, value, 0.0),
                           "position": np.where(returns == 0, 0.0, 1.0), "close": np.nan, "return": returns,
                           "benchmark_return": rng.normal(0, 0.01, 15), "buy_and_hold_return": rng.normal(0.001, 0.01, 15)},
                          index=dates)
    trades = pd.DataFrame([
        {"date": "2020-12-23", "symbol": "600519.SH", "side": "buy", "size": 100, "price": 9000.0, "value": 900_000.0,
         "commission": 225.0, "stamp_duty": 0.0, "transfer_fee": 9.0},
        {"date": "2021-01-07", "symbol": "600519.SH", "side": "sell", "size": 50, "price": 9500.0, "value": 475_000.0,
         "commission": 118.75, "stamp_duty": 475.0, "transfer_fee": 4.75}], columns=list(TRADE_COLUMNS))
    return RunReport(equity=equity, trades=trades, forecasts=pd.DataFrame(),
                     titles=Titles.for_run("gru", "600519 贵州茅台", "CSI 300"), symbols=("600519.SH", "000858.SZ"))


def test_metrics_json_and_years_csv_of_a_written_run(tmp_path):
    report = _report()
    metrics = run_metrics(report)
    over = metrics["excess_over_benchmark"]
    assert over == excess_return_test(report.returns, report.benchmark, 243)
    assert over["information_ratio"] == pytest.approx(information_ratio(report.returns - report.benchmark))
    assert metrics["strategy"]["turnover_per_year"] == metrics["trades"]["annual_turnover"] > 0
    assert metrics["by_year"] == year_rows(report.returns, report.benchmark, report.buy_and_hold,
                                           values=report.equity["value"], trades=report.trades)
    assert [row["days"] for row in metrics["by_year"]] == [9, 6]
    assert metrics["by_year"][1]["turnover"] == pytest.approx(475_000 / 2 / report.equity["value"].iloc[9:].mean())
    out = tmp_path / "run"
    write_run(out, report, metrics=metrics, manifest={"config": {}})
    table = pd.read_csv(out / "years.csv")
    assert table.to_dict("records") == json.loads((out / "metrics.json").read_text(encoding="utf-8"))["by_year"]
    assert '<div id="by_year"><h3>Excess return by year</h3>' in (out / "report.html").read_text(encoding="utf-8")
    compared = compare_runs([out], tmp_path / "compare")
    assert compared["runs"][0]["excess_over_benchmark"]["information_ratio"] == pytest.approx(
        over["information_ratio"])
    assert "excess over the benchmark, a year" in (tmp_path / "compare" / "compare.html").read_text(encoding="utf-8")
    (out / "years.csv").write_text(table.assign(turnover=0.0).to_csv(index=False), encoding="utf-8")
    with pytest.raises(DataError, match=r"years.csv: changed since the run wrote it"):
        read_run(out)  # the manifest records its SHA-256


def test_a_short_paper_record_leaves_out_both_yearly_excess_returns():
    metrics = {"excess_over_benchmark": {"annualised": 0.3, "information_ratio": 1.2},
               "excess_over_buy_and_hold": {"annualised": 0.1}}
    _short_record(metrics, 9)
    assert metrics["excess_over_benchmark"] == {"annualised": None, "information_ratio": 1.2}
    assert metrics["excess_over_buy_and_hold"]["annualised"] is None


POOLED = PooledConfig(hidden=(4,), lookback=5, epochs=1, patience=0, batch_size=1024, retrain_every_days=200,
                      train_days=120, device="cpu")
"""A pooled GRU of 4 units on 5-bar windows, one epoch, trained once on the last 120 market days."""


def test_a_universe_backtest_of_the_bundled_sample_records_both_excess_returns_and_the_years(tmp_path, capsys):
    code = main(["backtest", "--example", "--universe", "csi300", "--strategy", "top_k", "--k", "3",
                 "--start", "2021-12-01", "--end", "2022-01-28", "--out", str(tmp_path), "--no-store",
                 *tiny_args(POOLED)])
    out = capsys.readouterr().out
    assert code == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    for name in ("excess_over_benchmark", "excess_over_buy_and_hold"):
        excess = metrics[name]
        assert {"days", "mean_daily", "lags", "verdict"} <= set(excess)
        assert all(math.isfinite(excess[k]) for k in ("annualised", "information_ratio", "hac_t", "p_value")), excess
    assert "the strategy does not beat CSI 300" in metrics["excess_over_benchmark"]["verdict"] or \
        metrics["excess_over_benchmark"]["p_value"] < 0.05
    assert metrics["strategy"]["turnover_per_year"] == metrics["trades"]["annual_turnover"] > 0
    equity = pd.read_csv(tmp_path / "equity.csv", index_col="date", parse_dates=True)
    daily = (equity["return"] - equity["benchmark_return"]).dropna()
    assert metrics["excess_over_benchmark"]["information_ratio"] == pytest.approx(
        daily.mean() / daily.std() * ROOT_243, rel=1e-9)
    rows = metrics["by_year"]
    assert [(row["year"], row["days"]) for row in rows] == [
        (year, int((equity.index.year == year).sum())) for year in (2021, 2022)]
    for row in rows:
        assert all(math.isfinite(row[k]) for k in YEAR_COLUMNS), row
        year = equity[equity.index.year == row["year"]]
        assert row["strategy"] == pytest.approx((1 + year["return"]).prod() - 1, rel=1e-9)
        assert row["excess_over_benchmark"] == pytest.approx(
            row["strategy"] - ((1 + year["benchmark_return"]).prod() - 1), rel=1e-9)
    table = pd.read_csv(tmp_path / "years.csv")
    assert table.to_dict("records") == rows
    assert "years.csv" in json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))["files"]
    assert "excess return over CSI 300 " in out and "  by year: returns compounded in the year" in out
    assert any(line.split()[:2] == ["2022", str(rows[1]["days"])] for line in out.splitlines())
