"""RNNForecaster: the estimator contract, the timing contract, state round-trips, errors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import TINY, with_garbage_after
from safetensors.torch import load_file, save_file
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from rnnstrategy.errors import ConfigError, DataError
from rnnstrategy.forecasting.features import make_features
from rnnstrategy.forecasting.forecaster import RNNForecaster
from rnnstrategy.forecasting.splitter import WalkForwardSplit

# early stopping on (TINY has it off), so that the tests of record cover the validation split too
CONFIG = replace(TINY, patience=2)
TAU = 199  # retrain at the close of 2011-02-16 (row 199 of Moutai)


def forecaster(**changes) -> RNNForecaster:
    """A fresh forecaster of CONFIG with these changes."""
    return RNNForecaster(**replace(CONFIG, **changes).model_params())


@pytest.fixture(scope="module")
def bars(moutai: pd.DataFrame) -> pd.DataFrame:
    return moutai.iloc[:300]


@pytest.fixture(scope="module")
def fitted(bars: pd.DataFrame) -> RNNForecaster:
    return forecaster().fit(bars, until=TAU)


def test_init_only_stores_and_clone_copies(fitted: RNNForecaster) -> None:
    f = RNNForecaster(cell="lstm", hidden=(16, 8))
    assert not hasattr(f, "module_")
    params = f.get_params()
    assert params["cell"] == "lstm" and params["hidden"] == (16, 8) and params["device"] == "auto"
    twin = clone(fitted)
    assert twin.get_params() == fitted.get_params() and not hasattr(twin, "module_")
    assert f.set_params(lookback=20) is f and f.lookback == 20
    with pytest.raises(TypeError):
        RNNForecaster(hiden=(8,))  # a typo is not swallowed


def test_fit_and_predict_shapes(bars: pd.DataFrame, fitted: RNNForecaster) -> None:
    assert fitted.n_features_in_ == 5 and fitted.device_ == torch.device("cpu")
    assert fitted.history_.index.name == "epoch" and list(fitted.history_.columns) == ["train_loss", "val_loss"]
    pred = fitted.predict(bars)
    first = 1 + 10 - 1  # warm-up bar + lookback
    assert pred.shape == (300 - first, 2)
    assert list(pred.columns) == ["pred_open_1", "pred_open_2"] and pred.index.name == "date"
    assert pred.index.equals(bars.index[first:])
    # forecasts stay close to the prices they start from (next-day moves of a few %)
    ratio = pred["pred_open_1"] / bars["close"].iloc[first:]
    assert ratio.between(0.9, 1.1).all()


def test_label_horizon_guard_matches_the_splitter(bars: pd.DataFrame, fitted: RNNForecaster) -> None:
    assert fitted.train_ends_[-1] + fitted.horizon == TAU  # newest label: the open of row TAU
    assert fitted.train_ends_[0] == fitted.warmup + fitted.lookback - 1
    splitter = WalkForwardSplit(
        fitted.lookback, fitted.horizon, retrain_every=50, min_train=50, warmup=fitted.warmup, start=TAU
    )
    train, test = next(splitter.split(bars))
    assert test[0] == TAU
    np.testing.assert_array_equal(fitted.train_ends_, train)
    sliding = forecaster(train_window=60).fit(bars, until=TAU)
    np.testing.assert_array_equal(sliding.train_ends_, np.arange(TAU - 2 - 59, TAU - 2 + 1))


def test_same_seed_same_forecasts(bars: pd.DataFrame, fitted: RNNForecaster) -> None:
    again = forecaster().fit(bars, until=TAU)
    pd.testing.assert_frame_equal(again.predict(bars), fitted.predict(bars), check_exact=True)
    other = forecaster(seed=1).fit(bars, until=TAU)
    assert not np.array_equal(other.predict(bars).to_numpy(), fitted.predict(bars).to_numpy())


def test_forecasts_ignore_later_bars(bars: pd.DataFrame, fitted: RNNForecaster) -> None:
    """Test of record: forecasts up to D are identical when bars after D are garbage or gone."""
    d = 250
    garbage = with_garbage_after(bars, d)
    refit = forecaster().fit(garbage, until=TAU)
    rows = np.arange(TAU, d + 1)
    expected = fitted.predict(bars, rows=rows)
    pd.testing.assert_frame_equal(refit.predict(garbage, rows=rows), expected, check_exact=True)
    pd.testing.assert_frame_equal(fitted.predict(bars.iloc[: d + 1]).loc[expected.index], expected, check_exact=True)
    # a forecast does not depend on which other rows are predicted with it
    pd.testing.assert_frame_equal(fitted.predict(bars, rows=[d]), expected.iloc[[-1]], check_exact=True)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_walk_forward_up_to_d_ignores_later_bars(bars: pd.DataFrame, cell: str) -> None:
    """The test of record over several folds, the way the walk-forward engine will run them."""

    def walk_forward(data: pd.DataFrame) -> pd.DataFrame:
        proto = forecaster(cell=cell, epochs=2)
        splitter = WalkForwardSplit(proto.lookback, proto.horizon, retrain_every=30, min_train=100, warmup=proto.warmup)
        model, frames = None, []
        for _, rows in splitter.split(data):
            model = clone(proto).fit(data, until=int(rows[0]), init_from=model)
            frames.append(model.predict(data, rows=rows))
        return pd.concat(frames)

    d = 260
    full, cut = walk_forward(bars), walk_forward(bars.iloc[: d + 1])
    assert len(cut) == d + 1 - 111 and cut.index[-1] == bars.index[d]  # first retrain: row 1 + 10 - 1 + 2 + 100 - 1
    pd.testing.assert_frame_equal(full.iloc[: len(cut)], cut, check_exact=True)


def test_scalers_fit_on_the_training_rows_only(bars: pd.DataFrame, fitted: RNNForecaster) -> None:
    first, last = fitted.train_ends_[0] - fitted.lookback + 1, fitted.train_ends_[-1]
    feats = make_features(bars, fitted.features).iloc[first : last + 1]  # the rows of the training windows
    np.testing.assert_allclose(fitted.feature_scaler_.mean_, feats.mean().to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(fitted.feature_scaler_.scale_, feats.std(ddof=0).to_numpy(), rtol=1e-10)
    ends = fitted.train_ends_  # h=1 targets: next open over the sample's last close
    logret = np.log(bars["open"].to_numpy()[ends + 1] / bars["close"].to_numpy()[ends])
    assert fitted.target_scaler_.mean_[0] == pytest.approx(logret.mean(), rel=1e-10)

    # a sliding window sees neither the bars before its first window (and warm-up bar) nor
    # the high, low and volume after its last sample, although those bars are before TAU
    sliding = forecaster(train_window=60).fit(bars, until=TAU)
    first, last = sliding.train_ends_[0] - sliding.lookback + 1, sliding.train_ends_[-1]
    changed = bars.copy()
    changed.iloc[: first - 1] *= 3.0
    changed.loc[changed.index[last + 1] :, ["high", "low", "volume"]] *= 3.0
    refit = forecaster(train_window=60).fit(changed, until=TAU)
    for attr in ("feature_scaler_", "target_scaler_"):
        np.testing.assert_array_equal(getattr(refit, attr).mean_, getattr(sliding, attr).mean_)
        np.testing.assert_array_equal(getattr(refit, attr).scale_, getattr(sliding, attr).scale_)
    assert all(torch.equal(a, b) for a, b in zip(refit.get_state().values(), sliding.get_state().values(), strict=True))


def test_logret_output_zero_means_last_close(bars: pd.DataFrame, fitted: RNNForecaster) -> None:
    model = clone(fitted).set_state(fitted.get_state())
    with torch.no_grad():  # make the net output the scaled value of log-return 0
        model.module_.head.weight.zero_()
        scaler = model.target_scaler_
        model.module_.head.bias.copy_(torch.from_numpy(-scaler.mean_ / scaler.scale_))
    pred = model.predict(bars, rows=[100, 200])
    close = bars["close"].to_numpy()[[100, 200]]
    np.testing.assert_allclose(pred.to_numpy(), np.column_stack([close, close]), rtol=1e-6)


def test_level_target_course_protocol(bars: pd.DataFrame) -> None:
    f = forecaster(
        cell="rnn",
        hidden=(8, 8),
        dropout=0.2,
        lookback=20,
        horizon=1,
        features=("open",),
        target="level",
        patience=0,
    ).fit(bars, until=TAU)
    opens = bars["open"].to_numpy()[f.train_ends_ + 1]
    assert f.warmup == 0 and f.train_ends_[0] == 19
    assert (f.target_scaler_.data_min_[0], f.target_scaler_.data_max_[0]) == (opens.min(), opens.max())
    scaled = f.target_scaler_.transform(opens[:, None])
    assert (scaled.min(), scaled.max()) == pytest.approx((0.0, 1.0), abs=1e-15)
    np.testing.assert_allclose(f.target_scaler_.inverse_transform(scaled)[:, 0], opens, rtol=1e-12)
    pred = f.predict(bars, rows=range(TAU, 210))
    assert list(pred.columns) == ["pred_open_1"] and len(pred) == 11
    assert len(f.history_) == 3 and f.history_["val_loss"].isna().all()


def test_state_round_trip_through_safetensors(tmp_path: Path, bars: pd.DataFrame, fitted: RNNForecaster) -> None:
    params = fitted.get_params()
    path = tmp_path / "fold.safetensors"
    save_file(fitted.get_state(), path, metadata={"params": json.dumps(params)})
    loaded = load_file(path)
    restored = RNNForecaster.from_state(loaded, {**json.loads(json.dumps(params))})  # tuples become lists
    pd.testing.assert_frame_equal(restored.predict(bars), fitted.predict(bars), check_exact=True)
    pd.testing.assert_frame_equal(restored.history_, fitted.history_, check_exact=True)
    np.testing.assert_array_equal(restored.train_ends_, fitted.train_ends_)
    assert all(isinstance(v, torch.Tensor) for v in loaded.values())
    match = r"state does not fit this network \(cell='gru', hidden=\(4,\), 5 features, horizon=2\)"
    with pytest.raises(ConfigError, match=match):
        RNNForecaster.from_state(loaded, {**params, "hidden": (4,)})


def test_warm_start(bars: pd.DataFrame, fitted: RNNForecaster) -> None:
    nxt = forecaster(patience=0)
    from_model = clone(nxt).fit(bars, until=TAU + 20, init_from=fitted, epochs=1)
    from_state = clone(nxt).fit(bars, until=TAU + 20, init_from=fitted.get_state(), epochs=1)
    cold = clone(nxt).fit(bars, until=TAU + 20, epochs=1)
    pd.testing.assert_frame_equal(from_model.predict(bars), from_state.predict(bars), check_exact=True)
    assert not torch.equal(from_model.module_.head.weight, cold.module_.head.weight)
    assert len(from_model.history_) == 1
    assert from_model.feature_scaler_.n_samples_seen_ == fitted.feature_scaler_.n_samples_seen_ + 20
    with pytest.raises(ConfigError, match=r"init_from does not fit this network"):
        forecaster(cell="lstm").fit(bars, until=TAU, init_from=fitted)


def test_until_accepts_dates(bars: pd.DataFrame, fitted: RNNForecaster) -> None:
    date = bars.index[TAU] + pd.Timedelta(hours=12)  # not a bar: the last bar before it
    by_date = forecaster().fit(bars, until=date)
    np.testing.assert_array_equal(by_date.train_ends_, fitted.train_ends_)


def test_too_few_bars(moutai: pd.DataFrame) -> None:
    short = moutai.iloc[:40]
    with pytest.raises(
        DataError,
        match=r"lookback=60 and horizon=2 need at least 63 bars to train \(1 warm-up bar .*\), "
        r"got 40 up to until for 600519.SH \(2010-04-26..2010-06-28\); use more history or a shorter lookback",
    ):
        RNNForecaster(lookback=60).fit(short)


@pytest.mark.filterwarnings("ignore:divide by zero encountered:RuntimeWarning")  # log of the zero close
def test_bad_rows_and_bad_bars(bars: pd.DataFrame, fitted: RNNForecaster) -> None:
    with pytest.raises(DataError, match=r"row 5 cannot be forecast: rows 10..299 have a full lookback=10 window"):
        fitted.predict(bars, rows=[5, 50])
    with pytest.raises(NotFittedError):
        RNNForecaster().predict(bars)
    broken = bars.copy()
    broken.iloc[120, broken.columns.get_loc("close")] = 0.0
    with pytest.raises(DataError, match=r"feature 'ret' is not finite on 2010-10-29 for 600519.SH"):
        forecaster().fit(broken, until=TAU)
    with pytest.raises(DataError, match=r"not ascending and unique"):
        forecaster().fit(bars.iloc[::-1])


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"cell": "cnn"}, r"cell='cnn' is unknown; use one of \['gru', 'lstm', 'rnn'\]"),
        ({"features": "open"}, r"features='open' must be a non-empty sequence of names, e.g. \('open',\)"),
        ({"features": ("gap", "macd")}, r"feature 'macd' is unknown"),
        ({"features": ("gap", "gap")}, r"features=\('gap', 'gap'\) repeat a name"),
        ({"target": "close"}, r"target='close' is unknown; use one of \['level', 'logret'\]"),
        ({"loss": "l1"}, r"loss='l1' is unknown"),
        ({"lookback": 0}, r"lookback=0 must be >= 1"),
        ({"device": "gpu0"}, r"device='gpu0' is not a torch device"),
    ],
)
def test_bad_params_are_named(bars: pd.DataFrame, params: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        RNNForecaster(**{**CONFIG.model_params(), **params}).fit(bars, until=TAU)


def test_minmax_feature_scaling_round_trips(moutai):
    from sklearn.preprocessing import MinMaxScaler

    bars = moutai.iloc[:200]
    model = forecaster(horizon=1, features=("open",), target="level", feature_scaling="minmax", epochs=1,
                       patience=0).fit(bars)
    assert isinstance(model.feature_scaler_, MinMaxScaler)
    restored = RNNForecaster.from_state(model.get_state(), model.get_params())
    pd.testing.assert_frame_equal(restored.predict(bars, [150, 199]), model.predict(bars, [150, 199]))
    with pytest.raises(ConfigError, match=r"feature_scaling='robust' is unknown; use one of \['minmax', 'standard'\]"):
        RNNForecaster(feature_scaling="robust").fit(bars)
