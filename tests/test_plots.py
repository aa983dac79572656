"""Diagnostics figures: their content, Chinese text with and without a CJK font, PNG output."""

import io
import warnings

import numpy as np
import pandas as pd
import pytest

from rnnstrategy.report import plots

FOLDS = [
    {"retrain_date": "2020-01-02", "history": {"train_loss": [1.0, 0.6, 0.5], "val_loss": [1.2, 0.8, 0.9]}},
    {"retrain_date": "2020-02-03", "history": {"train_loss": [0.55], "val_loss": [float("nan")]}},
]


def forecast_frame(n=30):
    index = pd.bdate_range("2020-01-02", periods=n, name="date")
    opens = np.linspace(100, 110, n + 1)
    frame = pd.DataFrame({"pred_open_1": opens[1:] + 0.5, "open_1": opens[1:]}, index=index)
    frame.iloc[-1, 1] = np.nan  # the last open is not known yet
    closes = pd.Series(opens[:-1] + 0.2, index=index)
    return frame, closes


@pytest.fixture(params=["with CJK font", "without CJK font"])
def font(request, monkeypatch):
    if request.param == "without CJK font":
        monkeypatch.setattr(plots, "cjk_font", lambda: None)
    return request.param


def test_figure_text_drops_chinese_only_without_a_cjk_font(monkeypatch):
    monkeypatch.setattr(plots, "cjk_font", lambda: None)
    assert plots.figure_text("LSTM forecast on 600519 贵州茅台 vs CSI 300") == "LSTM forecast on 600519 vs CSI 300"
    monkeypatch.setattr(plots, "cjk_font", lambda: "Noto Sans CJK SC")
    assert plots.figure_text("600519 贵州茅台") == "600519 贵州茅台"


def test_forecast_figure_plots_against_the_date_of_the_predicted_open(font):
    frame, closes = forecast_frame()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no missing-glyph warning escapes
        figure = plots.forecast_figure(frame, closes, "600519 贵州茅台")
        figure.savefig(io.BytesIO(), format="png")  # drawn outside quiet_fonts
    top, bottom = figure.axes
    actual = top.get_lines()[0]
    dates = pd.DatetimeIndex(actual.get_xdata())
    assert dates[0] == frame.index[1] and len(dates) == 29  # open_1 of row t is the open of row t+1
    assert [line.get_label() for line in top.get_lines()] == ["actual open", "previous close (naive)", "predicted open"]
    title = figure.get_suptitle()
    assert "RMSE 0.50 vs previous close 0.13 (29 days)" in title
    assert ("贵州茅台" in title) == (font == "with CJK font" and plots.cjk_font() is not None)


def test_forecast_figure_shows_the_verdict_when_given():
    frame, closes = forecast_frame()
    verdict = "loses to the previous-close forecast: RMSE 3.846x [3.700, 4.000], DM p = < 0.001"
    top = plots.forecast_figure(frame, closes, "600519", verdict=verdict).axes[0]
    assert [t.get_text() for t in top.texts] == [f"h=1: the model {verdict}"]
    assert not plots.forecast_figure(frame, closes, "600519").axes[0].texts


def test_loss_figure_draws_every_fold(font):
    figure = plots.loss_figure(FOLDS, "600519 贵州茅台")
    curves, final = figure.axes
    assert len(curves.get_lines()) == 2
    labels = [line.get_label() for line in final.get_lines()]
    assert labels == ["final training loss", "best validation loss"]
    assert final.get_lines()[0].get_ydata().tolist() == [0.5, 0.55]
    assert curves.get_yscale() == "linear"  # losses within 20x of each other


def test_equity_figure_marks_trades_and_scales_the_benchmark(font):
    index = pd.bdate_range("2020-01-02", periods=5, name="date")
    equity = pd.Series([1e6, 1.01e6, 1.02e6, 1.0e6, 1.05e6], index=index)
    benchmark = pd.Series([0.0, 0.1, 0.0, 0.0, -0.5], index=index)
    trades = pd.DataFrame({"date": ["2020-01-03", "2020-01-07"], "side": ["buy", "sell"]})
    figure = plots.equity_figure(equity, benchmark, trades, "GRU forecast on 600519 贵州茅台", "CSI 300")
    top = figure.axes[0]
    strategy, bench = top.get_lines()
    assert bench.get_ydata().tolist() == pytest.approx([1e6, 1.1e6, 1.1e6, 1.1e6, 0.55e6])
    buys, sells = top.collections
    assert buys.get_offsets().shape == (1, 2) and sells.get_offsets().shape == (1, 2)
    assert sells.get_offsets()[0][1] == 1.0e6  # on the curve at 2020-01-07
    assert [t.get_text() for t in top.get_legend().get_texts()][2:] == ["buy (1)", "sell (1)"]


def test_equity_figure_draws_buy_and_hold_beside(font):
    index = pd.bdate_range("2020-01-02", periods=4, name="date")
    equity = pd.Series([1e6, 1.01e6, 1.02e6, 1.0e6], index=index)
    held = pd.Series([-0.01, 0.2, -0.5, 0.1], index=index, name="Buy and hold 600519 贵州茅台")
    figure = plots.equity_figure(equity, pd.Series(0.0, index=index), pd.DataFrame({"date": [], "side": []}),
                                 "GRU forecast on 600519 贵州茅台", "CSI 300", buy_and_hold=held)
    top, bottom = figure.axes
    *_, hold = top.get_lines()
    assert hold.get_ydata().tolist() == pytest.approx([1e6, 1.2e6, 0.6e6, 0.66e6])  # from the first close
    assert hold.get_label() == plots.figure_text("Buy and hold 600519 贵州茅台")
    assert bottom.get_lines()[0].get_ydata().tolist() == pytest.approx([0.0, 0.0, -50.0, -45.0])


def test_save_png_writes_a_png(tmp_path):
    frame, closes = forecast_frame()
    path = plots.save_png(plots.forecast_figure(frame, closes, "600519 贵州茅台"), tmp_path / "f.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".*.tmp"))
