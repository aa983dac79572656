"""The live indicator: ``RNNForecast`` with ``preload=False`` and the ``WalkForwardStream`` under it.

Bars arrive one at a time; the per-bar path computes one feature row and one forward pass
instead of rebuilding frames, and must still give the batch walk-forward's numbers bit for
bit. Runs on the bundled Moutai sample, so no shared data is needed.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import backtrader as bt
import numpy as np
import pandas as pd
import pytest
from helpers import TINY, WARM, Lines, synthetic

from rnnstrategy import datasets
from rnnstrategy.backtrader.feed import to_feed
from rnnstrategy.errors import DataError
from rnnstrategy.forecasting.features import FEATURES, Feature, make_features
from rnnstrategy.forecasting.stream import WalkForwardStream, _RowFeatures
from rnnstrategy.forecasting.walkforward import FoldReport, walk_forward

BARS = 360  # first bars of the sample: 10 folds of TINY from row 111
COURSE = replace(TINY, features=("open",), target="level", feature_scaling="minmax")
"""TINY on the course-notes protocol: a price-level feature, MinMax-scaled features and targets."""


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return datasets.moutai().iloc[:BARS]


def lines_of(bars: pd.DataFrame, preload: bool = True, **indicator) -> pd.DataFrame:
    """The indicator's lines, by date, in a batch run (``preload``) or a live-like one."""
    cerebro = bt.Cerebro(stdstats=False, preload=preload)
    cerebro.adddata(to_feed(bars))
    cerebro.addstrategy(Lines, indicator=indicator)
    seen = cerebro.run()[0].seen
    lines = pd.DataFrame(seen, columns=["symbol", "date", "next_open", "expected_return"])
    return lines.drop(columns="symbol").set_index("date")


def stream_forecasts(stream: WalkForwardStream, bars: pd.DataFrame) -> pd.DataFrame:
    """Feed ``bars`` one at a time; the forecasts made, by date."""
    got = {}
    for date, row in zip(bars.index, bars[["open", "high", "low", "close", "volume"]].to_numpy(), strict=True):
        pred = stream.update(date, *row)
        if pred is not None:
            got[date] = pred
    return pd.DataFrame(got).T


@pytest.mark.parametrize("frame", ["moutai", "synthetic"])
def test_row_features_are_the_column_features_bit_for_bit(frame):
    """The stream computes one feature row per bar; ``make_features`` whole columns at once."""
    bars = datasets.moutai() if frame == "moutai" else synthetic(20_000, seed=3)
    names = list(FEATURES)
    values = bars[["open", "high", "low", "close", "volume"]].to_numpy()
    rows = _RowFeatures.of(names)
    got = np.array([rows.row(values, t) for t in range(len(values))])
    np.testing.assert_array_equal(got, make_features(bars, names).to_numpy())  # NaN in the first row alike


@pytest.mark.parametrize("config", [TINY, COURSE], ids=["tiny", "course"])
def test_streaming_lines_equal_the_batch_lines(bars, config):
    batch = lines_of(bars, config=config)
    live = lines_of(bars, preload=False, config=config)
    assert batch["next_open"].notna().sum() == BARS - (110 if config is COURSE else 111)  # the features' warm-up
    pd.testing.assert_frame_equal(live, batch)  # bit for bit, NaN before the first retrain


@pytest.mark.parametrize("config", [TINY, WARM, COURSE], ids=["tiny", "warm", "course"])
def test_one_bar_at_a_time_with_retrains_between_equals_walk_forward(bars, config):
    start = bars.index[200]  # the first retrain is due at this bar, then every 25 bars
    reference = walk_forward(bars, config, start=start)
    stream = WalkForwardStream(config, start=start, symbol="600519.SH")
    folds = []
    for end in (150, 201, 226, 227, BARS):  # bars arrive in pieces; retrains fall inside and on the edges
        before = stream.fold
        forecasts = stream_forecasts(stream, bars.iloc[len(stream) : end])
        folds.append(stream.fold - before)
        if len(forecasts):
            expected = reference.loc[forecasts.index, ["pred_open_1", "pred_open_2"]]
            np.testing.assert_array_equal(forecasts.to_numpy(), expected.to_numpy())
    assert folds == [0, 1, 1, 0, 5] and stream.fold == reference["fold"].max() == 6
    assert len(stream) == BARS


def test_a_feature_without_a_row_formula_takes_the_frame_path(monkeypatch):
    monkeypatch.setitem(FEATURES, "close", Feature(lambda b: b["close"], 0, "close price level"))
    config = replace(TINY, features=("ret", "close"))
    bars = synthetic(180, seed=2)
    reference = walk_forward(bars, config, start=130)
    forecasts = stream_forecasts(WalkForwardStream(config, start=130), bars)
    np.testing.assert_array_equal(forecasts.to_numpy(), reference[["pred_open_1", "pred_open_2"]].to_numpy())


@pytest.mark.filterwarnings("ignore:invalid value encountered in log1p:RuntimeWarning")
def test_a_non_finite_feature_raises_the_forecaster_error():
    bars = synthetic(140, seed=3)
    stream = WalkForwardStream(TINY, symbol="000001")
    stream_forecasts(stream, bars.iloc[:130])
    bar = bars.iloc[130]
    with pytest.raises(DataError, match=r"feature 'volume' is not finite on 2020-07-01 for 000001"):
        stream.update(bars.index[130], bar["open"], bar["high"], bar["low"], bar["close"], -5.0)


def test_a_retrain_logs_its_start_and_end_and_reports_progress(bars, caplog, tmp_path):
    walk_forward(bars.iloc[:140], TINY, store=tmp_path)  # the first two folds are in the store
    reports: list[FoldReport] = []
    caplog.set_level(logging.INFO, logger="rnnstrategy.forecasting.stream")
    live = lines_of(bars.iloc[:170], preload=False, config=TINY, store=tmp_path, progress=reports.append)
    assert live["next_open"].notna().sum() == 170 - 111
    messages = [r.getMessage() for r in caplog.records if "walk-forward stream" in r.getMessage()]
    assert messages[:4] == [
        "walk-forward stream 600519.SH: first retrain at 2010-10-18",
        "walk-forward stream 600519.SH: retrain 0 at 2010-10-18 on 100 samples",
        messages[2],
        "walk-forward stream 600519.SH: retrain 1 at 2010-11-22 on 125 samples",
    ]
    assert messages[2].startswith("walk-forward stream 600519.SH: retrain 0 at 2010-10-18 loaded from the store "
                                  "on 100 samples in ")
    assert messages[-1].startswith("walk-forward stream 600519.SH: retrain 2 at 2010-12-27 trained on 150 samples in ")
    assert [(r.fold, r.folds, f"{r.retrain_date:%Y-%m-%d}", r.trained, r.samples, r.epochs) for r in reports] == [
        (0, 1, "2010-10-18", False, 100, 3), (1, 2, "2010-11-22", False, 125, 3), (2, 3, "2010-12-27", True, 150, 3)]
