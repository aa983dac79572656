"""Faults in data files and reports: impossible dates, prices that never move, files that are not what they
seem, and report frictions (names, time in market, buy-and-hold in the chart).

Each bad input fails in one line naming the file, the value and the fix, with exit code 2, before any
training; each file a spreadsheet can write (UTF-16, semicolons and decimal commas, thousands separators,
timestamps) reads into the same bars as the plain CSV.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import TINY, synthetic, tiny_args
from PIL import Image

from rnnstrategy import datasets
from rnnstrategy.api.results import ForecastRun
from rnnstrategy.cli import main
from rnnstrategy.data import load_bars, validate_bars
from rnnstrategy.errors import DataError
from rnnstrategy.evaluation.metrics import forecast_metrics
from rnnstrategy.evaluation.significance import verdict
from rnnstrategy.live.decision_day import check_decision_day
from rnnstrategy.report import plots
from rnnstrategy.report.console import backtest_summary
from rnnstrategy.report.folder import read_run
from rnnstrategy.report.names import security_name
from rnnstrategy.report.titles import Titles, run_titles


def run_cli(capsys, *argv: str) -> tuple[int, list[str]]:
    code = main(list(argv))
    return code, [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def assert_one_line(code: int, err: list[str], *needles: str) -> None:
    assert code == 2, err
    assert len(err) == 1 and err[0].startswith("rnnstrategy: error: "), err
    for needle in needles:
        assert needle in err[0], err[0]


def moutai_csv(path: Path, *, last: str = "2020-04-24", dates: dict[int, str] | None = None,
               prices: float | None = None) -> Path:
    """The bundled Moutai CSV from 2019-07 to ``last``, rows re-dated by position (``dates``), or every price
    set to ``prices``."""
    raw = pd.read_csv(datasets.path("moutai"), dtype={"code": str})
    raw = raw[(raw["date"] >= "2019-07-01") & (raw["date"] <= last)].reset_index(drop=True)
    for row, day in (dates or {}).items():
        raw.loc[raw.index[row], "date"] = day
    if prices is not None:
        raw[["open", "high", "low", "close"]] = prices
    raw.to_csv(path, index=False)
    return path


# ---------------------------------------------------------------- impossible dates


def test_bars_dated_in_the_future_are_refused_naming_the_file_and_date(tmp_path, capsys, no_training):
    path = moutai_csv(tmp_path / "future.csv", dates={-2: "2030-01-02", -1: "2030-01-03"})
    code, err = run_cli(capsys, "backtest", str(path), "--out", str(tmp_path / "out"), *tiny_args(), "--no-store")
    assert_one_line(code, err, "future.csv", "dated after today", "on 2030-01-02, 2030-01-03", "--lenient")


def test_bars_dated_in_the_future_are_dropped_and_reported_when_lenient(tmp_path):
    path = moutai_csv(tmp_path / "future.csv", dates={-1: "2030-01-02"})
    bars = load_bars(path, strict=False)
    assert bars.index[-1] == pd.Timestamp("2020-04-23")
    (reason, days), = bars.attrs["dropped"].reasons.items()
    assert reason.startswith("dated after today") and days == [pd.Timestamp("2030-01-02")]


def test_a_subprocess_backtest_of_future_bars_exits_2_without_a_traceback(tmp_path):
    path = moutai_csv(tmp_path / "future.csv", dates={-1: "2030-01-02"})
    done = subprocess.run([sys.executable, "-m", "rnnstrategy.cli", "backtest", str(path), "--out",
                           str(tmp_path / "out"), *tiny_args(), "--no-store"], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [done.stderr.strip()] and "2030-01-02" in done.stderr


def test_a_saturday_bar_is_not_decided_on_by_signal(tmp_path, capsys, no_training):
    path = moutai_csv(tmp_path / "saturday.csv", dates={-1: "2020-04-25"})
    code, err = run_cli(capsys, "signal", str(path), "--end", "2020-04-25", "--out", str(tmp_path / "orders"),
                        *tiny_args(), "--no-store")
    assert_one_line(code, err, "saturday.csv", "weekend date (no session) on 2020-04-25")
    assert not (tmp_path / "orders").exists()


def test_a_holiday_bar_is_not_decided_on_by_signal(tmp_path, capsys, no_training):
    path = moutai_csv(tmp_path / "holiday.csv", last="2019-09-30")
    with path.open("a", encoding="utf-8") as handle:  # 2019-10-01, a Tuesday of the National Day holiday
        handle.write("9999,2019-10-01,1150.0,1150.0,1150.0,1150.0,100.0,600519\n")
    code, err = run_cli(capsys, "signal", str(path), "--end", "2019-10-01", "--out", str(tmp_path / "orders"),
                        *tiny_args(), "--no-store")
    assert_one_line(code, err, "holiday.csv", "the bar of 2019-10-01 (Tuesday) is not a trading session")


def test_the_decision_day_must_be_a_completed_session():
    check_decision_day(dt.date(2024, 3, 1), "x.csv", now=dt.datetime(2024, 3, 1, 15, 0))  # closed at 15:00
    with pytest.raises(DataError, match=r"x.csv: the bar of 2024-03-01 is after the last completed session "
                                        r"\(2024-02-29\)"):
        check_decision_day(dt.date(2024, 3, 1), "x.csv", now=dt.datetime(2024, 3, 1, 14, 59))


def test_weekends_are_bad_rows_from_1995_and_holidays_are_left_to_the_calendar():
    bars = synthetic(200)  # business days from 2020-01-01: New Year's Day and National Day among them
    assert len(validate_bars(bars, "synthetic")) == 200
    early = synthetic(3).set_axis(pd.DatetimeIndex(["1992-10-02", "1992-10-04", "1992-10-05"], name="date"))
    assert len(validate_bars(early, "000002.SZ")) == 3  # a Sunday session of the Shenzhen records
    late = bars.iloc[:3].set_axis(pd.DatetimeIndex(["2020-01-02", "2020-01-04", "2020-01-06"], name="date"))
    with pytest.raises(DataError, match=r"weekend date \(no session\) on 2020-01-04"):
        validate_bars(late, "late.csv")


def test_a_bar_before_the_exchanges_opened_is_a_bad_row(tmp_path, capsys):
    path = moutai_csv(tmp_path / "y1900.csv", dates={0: "1900-01-02"})
    code, err = run_cli(capsys, "data", "show", str(path))
    assert_one_line(code, err, "y1900.csv", "dated before the exchanges opened (1990-12-01) on 1900-01-02")


# ---------------------------------------------------------------- prices that never move


def test_a_constant_price_file_is_refused_before_training(tmp_path, capsys, no_training):
    path = moutai_csv(tmp_path / "constant.csv", prices=100.0)
    for command in ("backtest", "forecast"):
        code, err = run_cli(capsys, command, str(path), "--out", str(tmp_path / command), *tiny_args(), "--no-store")
        assert_one_line(code, err, "constant.csv: prices never move", "every open and close is 100",
                        "nothing to forecast")


def test_opens_that_never_leave_the_previous_close_cannot_be_judged():
    bars = synthetic(8)
    bars[["open", "high", "low", "close"]] = 10.0
    forecasts = pd.DataFrame({"pred_open_1": np.linspace(9.5, 10.5, 6)}, index=bars.index[:6])
    m = forecast_metrics(forecasts, bars)
    assert m["verdict"] == ("cannot be judged: every realised open equals the previous-close forecast (prices never "
                            "move: nothing to forecast)")
    assert verdict(float("nan"), float("nan")) == "has no realised opens to compare with yet"  # reads "the model has"


# ---------------------------------------------------------------- files that are not what they seem


def _plain(tmp_path: Path) -> tuple[pd.DataFrame, Path]:
    raw = pd.read_csv(moutai_csv(tmp_path / "plain.csv"), dtype={"code": str}).drop(columns="Unnamed: 0").tail(30)
    path = tmp_path / "600519.csv"
    raw.to_csv(path, index=False)
    return raw, path


def _utf16(raw, path):
    raw.to_csv(path, index=False, encoding="utf-16")


def _semicolons_and_decimal_commas(raw, path):
    raw.to_csv(path, index=False, sep=";", decimal=",")


def _thousands_separators(raw, path):
    raw.assign(volume=raw["volume"].map(lambda v: f"{v:,.2f}")).to_csv(path, index=False)


def _timestamps_with_zones(raw, path):
    stamps = pd.to_datetime(raw["date"]).dt.tz_localize("Asia/Shanghai").dt.tz_convert("UTC")  # 16:00 the day before
    raw.assign(date=stamps.dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(path, index=False)


def _timestamps_at_the_close(raw, path):
    raw.assign(date=raw["date"] + " 15:00:00").to_csv(path, index=False)


def _spaces_after_commas(raw, path):
    path.write_text(raw.to_csv(index=False).replace(",", ", "), encoding="utf-8")


@pytest.mark.parametrize("write", [_utf16, _semicolons_and_decimal_commas, _thousands_separators,
                                   _timestamps_with_zones, _timestamps_at_the_close, _spaces_after_commas])
def test_what_a_spreadsheet_writes_reads_as_the_plain_file(tmp_path, capsys, write):
    raw, plain = _plain(tmp_path)
    path = tmp_path / "other" / "600519.csv"
    path.parent.mkdir()
    write(raw, path)
    assert main(["data", "show", str(path)]) == 0
    pd.testing.assert_frame_equal(load_bars(path), load_bars(plain))


def _duplicate_column(raw, path):
    text = raw.to_csv(index=False)
    path.write_text(text.replace("high", "close", 1), encoding="utf-8")


def _workbook(raw, path):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")


def _binary(raw, path):
    path.write_bytes(b"\x00\x01\x02\x03" * 256)


def _two_securities(raw, path):
    raw.assign(code=["600519"] * 15 + ["000001"] * 15).to_csv(path, index=False)


def _header_twice(raw, path):
    path.write_text(raw.head(15).to_csv(index=False) + raw.tail(15).to_csv(index=False), encoding="utf-8")


def _overflowing_volume(raw, path):
    raw.assign(volume=[1e308] + list(raw["volume"].iloc[1:])).to_csv(path, index=False)


@pytest.mark.parametrize(("write", "needle"), [
    (_duplicate_column, "the header names column(s) close more than once; keep each column once"),
    (_workbook, "an Excel workbook (.xlsx) or a zip archive, not a CSV text file; save or export it as CSV"),
    (_binary, "binary data (NUL bytes), not a CSV text file"),
    (_two_securities, "bars of 2 securities (600519, 000001) in its code column, the second from data row 16"),
    (_header_twice, "the header appears again at data row 16"),
    (_overflowing_volume, "infinite volume on 2020-03-13"),
])
def test_a_file_that_is_not_one_security_s_bars_fails_in_one_line(tmp_path, capsys, write, needle):
    raw, _ = _plain(tmp_path)
    path = tmp_path / "bad" / "600519.csv"
    path.parent.mkdir()
    write(raw, path)
    code, err = run_cli(capsys, "data", "show", str(path))
    assert_one_line(code, err, str(path), needle)


# ---------------------------------------------------------------- reports


def test_the_stock_name_reaches_titles_without_a_stock_list():
    assert security_name("600519.SH") == "贵州茅台"  # the bundled sample's stock
    titles = run_titles("GRU forecast on {security}", ["600519.SH"], names=None)
    assert titles.strategy == "GRU forecast on 600519 贵州茅台" and titles.buy_and_hold == "Buy and hold 600519 贵州茅台"
    assert security_name("000002.SZ") == ""  # no list: the code alone
    bars = synthetic(5, symbol="600519.SH")
    metrics = {"symbol": "600519.SH", "first_forecast": "2020-01-01", "last_forecast": "2020-01-07", "retrains": 1,
               "trained": 1, "seconds": 0.5}
    run = ForecastRun(forecasts=bars.iloc[:0], metrics=metrics, bars=bars, config=TINY)
    assert run.summary()[0].startswith("600519.SH 贵州茅台: 0 forecasts 2020-01-01..2020-01-07")


def test_png_files_keep_the_whole_title_even_without_a_cjk_font(tmp_path, monkeypatch):
    monkeypatch.setattr(plots, "cjk_font", lambda: None)
    plots.use_agg()
    bars = synthetic(60)
    forecasts = pd.DataFrame({"pred_open_1": bars["open"].shift(-1), "open_1": bars["open"].shift(-1)}).dropna()
    figure = plots.forecast_figure(forecasts, bars["close"], "600519 贵州茅台")
    assert "贵州茅台" not in figure.get_suptitle()  # no glyphs to draw it
    path = plots.save_png(figure, tmp_path / "forecast.png")
    assert Image.open(path).text["Title"].startswith("600519 贵州茅台: next-day open")


def test_console_and_tearsheet_agree_on_time_in_market_and_the_chart_shows_buy_and_hold(tmp_path):
    from rnnstrategy.report.tearsheet import write_tearsheet

    plots.use_agg()
    index = pd.bdate_range("2021-01-04", periods=120, name="date")
    rng = np.random.default_rng(7)
    held = pd.Series(rng.normal(0.001, 0.02, 120), index=index)
    returns = held.where(np.arange(120) % 3 != 0, 0.0)  # out of the market a third of the days
    benchmark = pd.Series(rng.normal(0, 0.01, 120), index=index)
    titles = Titles(strategy="GRU forecast on 600519 <A&B>", benchmark="CSI 300", security="600519 <A&B>")
    path = write_tearsheet(tmp_path / "report.html", returns, benchmark, titles, buy_and_hold=held, exposure=0.55)
    html = path.read_text(encoding="utf-8")
    assert "<tr><td>Time in Market (days ending with a position)</td><td>100.0%</td><td>55.0%</td></tr>" in html
    first_chart = html.split('<div id="left">', 1)[1].split("</div>", 1)[0]
    assert "Buy and hold 600519 &lt;A&amp;B&gt;" in first_chart and "CSI 300" in first_chart
    assert "<h1>GRU forecast on 600519 &lt;A&amp;B&gt;" in html and "<A&B>" not in html
    summary = backtest_summary(_metrics(exposure=0.55))
    assert "exposure 55% (days ending with a position)" in summary[2]


def _metrics(exposure: float) -> dict:
    figures = {"title": "x", "total_return": 0.1, "cagr": 0.1, "max_drawdown": -0.1, "sharpe": 1.0}
    return {"strategy": figures, "benchmark": figures, "period": {"start": "2021-01-04", "end": "2021-06-18",
                                                                 "days": 120},
            "trades": {"count": 4, "turnover": 2.0, "total_fees": 100.0, "exposure": exposure}}


def test_report_of_a_forecast_folder_says_what_it_is(tmp_path, capsys):
    (tmp_path / "manifest.json").write_text(json.dumps({"kind": "forecast", "files": {}}), encoding="utf-8")
    with pytest.raises(DataError, match=r"holds a forecast run, not a backtest: give the output directory of "
                                        r"`rnnstrategy backtest`") as caught:
        read_run(tmp_path)
    assert "not a manifest" not in str(caught.value)
    code, err = run_cli(capsys, "report", str(tmp_path))
    assert_one_line(code, err, "holds a forecast run, not a backtest")
