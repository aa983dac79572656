"""Features, targets and windows: literal values, no look-ahead, views not copies."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import synthetic, with_garbage_after

from rnnstrategy.errors import ConfigError, DataError
from rnnstrategy.forecasting.config import DEFAULT_FEATURES, ForecastConfig
from rnnstrategy.forecasting.features import (
    FEATURES,
    checked_feature_names,
    feature_warmup,
    make_features,
    make_targets,
    sliding_windows,
    targets_to_prices,
)
from rnnstrategy.forecasting.forecaster import RNNForecaster


@pytest.fixture
def three_bars() -> pd.DataFrame:
    index = pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-04"], name="date")
    return pd.DataFrame(
        {
            "open": [10.0, 11.0, 12.0],
            "high": [10.5, 11.5, 12.5],
            "low": [9.5, 10.0, 11.0],
            "close": [10.0, 11.0, 11.5],
            "volume": [0.0, 100.0, 300.0],
        },
        index=index,
    )


def test_feature_values(three_bars: pd.DataFrame) -> None:
    f = make_features(three_bars, ["gap", "ret", "high", "low", "range", "volume", "open"])
    log = np.log
    assert list(f.columns) == ["gap", "ret", "high", "low", "range", "volume", "open"]
    assert f.iloc[0][["gap", "ret", "volume"]].isna().all()  # need the previous bar
    assert f.iloc[2].to_dict() == pytest.approx(
        {
            "gap": log(12 / 11),
            "ret": log(11.5 / 11),
            "high": log(12.5 / 11.5),
            "low": log(11 / 11.5),
            "range": log(12.5 / 11),
            "volume": log(301 / 101),
            "open": 12.0,
        },
        rel=1e-14,
    )
    assert f.iloc[1]["volume"] == pytest.approx(log(101))  # zero volume stays finite
    assert f.dtypes.eq("float64").all()


def test_warmup() -> None:
    assert feature_warmup(DEFAULT_FEATURES) == 1
    assert feature_warmup(["open"]) == 0
    assert feature_warmup(["high", "low", "range"]) == 0
    assert all(f.doc for f in FEATURES.values())


def test_the_configuration_and_the_forecaster_check_feature_names_alike() -> None:
    assert checked_feature_names(["gap", "open"]) == ("gap", "open")
    for config in (ForecastConfig(), ForecastConfig(features=("open",))):
        assert config.warmup == RNNForecaster(**config.model_params()).warmup
    for features, message in (((), r"features=\(\) must be a non-empty sequence"),
                              (("gap", "gap"), r"features=\('gap', 'gap'\) repeat a name")):
        with pytest.raises(ConfigError, match=message):
            _ = ForecastConfig(features=features).warmup
        with pytest.raises(ConfigError, match=message):
            _ = RNNForecaster(features=features).warmup


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # logs of the garbage
def test_no_look_ahead(moutai: pd.DataFrame) -> None:
    bars = moutai.iloc[:300]
    names = list(FEATURES)
    clean = make_features(bars, names)
    dirty = make_features(with_garbage_after(bars, 199), names)
    pd.testing.assert_frame_equal(clean.iloc[:200], dirty.iloc[:200], check_exact=True)
    # a shorter frame gives the same bits for the rows it has
    pd.testing.assert_frame_equal(make_features(bars.iloc[:200], names), clean.iloc[:200], check_exact=True)


def test_targets_and_their_inverse(three_bars: pd.DataFrame) -> None:
    logret = make_targets(three_bars, horizon=2, target="logret")
    np.testing.assert_allclose(logret[0], [np.log(11 / 10), np.log(12 / 10)], rtol=1e-14)
    assert np.isnan(logret[1, 1]) and np.isnan(logret[2]).all()  # opens not seen yet
    level = make_targets(three_bars, horizon=2, target="level")
    np.testing.assert_array_equal(level[0], [11.0, 12.0])
    close = three_bars["close"].to_numpy()[:1]
    np.testing.assert_allclose(targets_to_prices(logret[:1], close, "logret"), [[11.0, 12.0]], rtol=1e-14)
    np.testing.assert_array_equal(targets_to_prices(level[:1], close, "level"), [[11.0, 12.0]])


def test_targets_match_future_opens_on_real_bars(moutai: pd.DataFrame) -> None:
    bars = moutai.iloc[:100]
    raw = make_targets(bars, horizon=3, target="logret")[:97]
    prices = targets_to_prices(raw, bars["close"].to_numpy()[:97], "logret")
    expected = np.column_stack([bars["open"].to_numpy()[h : 97 + h] for h in (1, 2, 3)])
    np.testing.assert_allclose(prices, expected, rtol=1e-12)


def test_sliding_windows_are_views() -> None:
    x = torch.arange(24.0).reshape(8, 3)  # 8 rows, 3 features
    w = sliding_windows(x, lookback=5)
    assert w.shape == (4, 5, 3)
    assert w.untyped_storage().data_ptr() == x.untyped_storage().data_ptr()
    assert torch.equal(w[2], x[2:7])  # element k ends at row k + lookback - 1 = 6


def test_errors(three_bars: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match=r"feature 'rsi' is unknown; use some of \['gap', 'high'"):
        make_features(three_bars, ["gap", "rsi"])
    with pytest.raises(ConfigError, match=r"target='price' is unknown; use one of \['level', 'logret'\]"):
        make_targets(three_bars, 1, "price")
    with pytest.raises(DataError, match=r"000001 lacks columns \['volume'\]"):
        make_features(synthetic(5).drop(columns="volume"), ["gap"])
