"""``build_panel`` fills one preallocated float32 table symbol by symbol; its panel is bit for bit the one the
first algorithm built by concatenating float64 frames and casting the whole table at the end.

The reference below is that first algorithm, kept here as the definition: every array the panel holds
(features, labels, label days, window flags, days, offsets, prices) must be equal with the same dtype, NaN at
the same places, and the float arrays equal in their bits (so NaN signs and payloads too).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import synthetic, with_garbage_after

from rnnstrategy import datasets
from rnnstrategy.data import load_bars
from rnnstrategy.data.adjust import adjusted_bars
from rnnstrategy.data.qlib_dir import qlib_source, qlib_stock_sources
from rnnstrategy.forecasting.features import feature_warmup, make_features
from rnnstrategy.forecasting.pooled.panel import Panel, build_panel, normalise_by_day

FEATURES = ("gap", "ret", "high", "low", "range", "volume")
SAMPLE = datasets.path(datasets.UNIVERSE)
pytestmark = pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning", "ignore:divide by zero:RuntimeWarning")


def _reference(bars: dict, features: tuple, lookback: int, feature_norm: str, market: pd.DataFrame | None,
               h: int) -> dict[str, object]:
    """The panel's arrays as the first ``build_panel`` computed them (float64 concatenations, one cast)."""
    symbols = tuple(bars)
    calendar = pd.DatetimeIndex(sorted(set().union(*(frame.index for frame in bars.values()))), name="date")
    offsets = np.concatenate([[0], np.cumsum([len(bars[s]) for s in symbols])])
    day = np.concatenate([calendar.get_indexer(bars[s].index) for s in symbols]).astype(np.int32)
    stock = np.concatenate([make_features(bars[s], features).to_numpy(np.float64) for s in symbols])
    if feature_norm != "none":
        stock = normalise_by_day(stock, day, len(calendar), feature_norm)
    if market is not None:
        own = make_features(market, features).reindex(calendar).ffill().to_numpy(np.float64)
        stock = np.concatenate([stock, own[day]], axis=1)
    signal = np.concatenate([adjusted_bars(bars[s])["open"].to_numpy(np.float64) for s in symbols])
    label = np.full(len(day), np.nan)
    label_day = np.full(len(day), np.iinfo(np.int32).max, dtype=np.int32)
    window_ok = np.zeros(len(day), dtype=bool)
    finite = np.isfinite(stock).all(axis=1)
    for lo, hi in zip(offsets[:-1], offsets[1:], strict=True):
        if hi - lo > h + 1:
            label[lo:hi - h - 1] = np.log(signal[lo + h + 1:hi] / signal[lo + 1:hi - h])
            label_day[lo:hi - h - 1] = day[lo + h + 1:hi]
        bad = np.concatenate([[0], np.cumsum(~finite[lo:hi])])
        ends = np.arange(hi - lo)
        window_ok[lo:hi] = ((ends >= feature_warmup(features) + lookback - 1)
                            & (bad[ends + 1] - bad[np.maximum(ends + 1 - lookback, 0)] == 0))
    return {"offsets": offsets, "day": day, "features": stock.astype(np.float32), "window_ok": window_ok,
            "label": label, "label_day": label_day,
            "open": np.concatenate([bars[s]["open"].to_numpy(np.float64) for s in symbols]),
            "close": np.concatenate([bars[s]["close"].to_numpy(np.float64) for s in symbols]),
            "calendar": calendar}


def _bits(array: np.ndarray) -> np.ndarray:
    return array.view({4: np.uint32, 8: np.uint64}[array.itemsize]) if array.dtype.kind == "f" else array


@pytest.fixture(scope="module")
def bars() -> dict[str, pd.DataFrame]:
    """Real back-adjusted bars with a factor column (labels of adjusted opens), listed on different days, and
    synthetic ones with suspensions and junk (NaN, zero and negative prices: NaN and infinite features)."""
    sources = qlib_stock_sources(SAMPLE)[:4]
    real = {source: load_bars(source, start="2022-06-01") for source in sources}
    real[sources[1]] = real[sources[1]].iloc[40:]  # lists later
    made = {f"S{k}": synthetic(300, seed=k, symbol=f"S{k}").iloc[k * 7:] for k in range(3)}
    made["S0"] = made["S0"].drop(made["S0"].index[100:130])  # suspended a month
    made["S0"].iloc[200, made["S0"].columns.get_loc("close")] = 0.0  # infinite returns and shadows
    made["S1"] = with_garbage_after(made["S1"], 250)
    made["S2"] = made["S2"].iloc[:3]  # too short for any label
    return {**real, **made}


@pytest.fixture(scope="module")
def market() -> pd.DataFrame:
    """The index's own bars, missing some days of the calendar (forward-filled) and a few junk rows."""
    index = load_bars(qlib_source(SAMPLE, datasets.UNIVERSE_INDEX), start="2020-01-01")
    return with_garbage_after(index.drop(index.index[300:310]), len(index) - 40)


@pytest.mark.parametrize("feature_norm", ["none", "rank", "zscore"])
@pytest.mark.parametrize("with_market", [False, True])
def test_panel_is_bit_for_bit_the_concatenated_one(bars, market, feature_norm, with_market):
    index = market if with_market else None
    for h in (1, 3):
        panel = build_panel(bars, FEATURES, 5, feature_norm=feature_norm, market=index, label_sessions=h)
        expected = _reference(bars, FEATURES, 5, feature_norm, index, h)
        assert panel.calendar.equals(expected.pop("calendar"))
        assert panel.features.shape == (len(panel), len(FEATURES) * (2 if with_market else 1))
        assert panel.features.flags.c_contiguous
        for name, want in expected.items():
            got = getattr(panel, name)
            assert got.dtype == want.dtype, name
            assert np.array_equal(got, want, equal_nan=got.dtype.kind == "f"), name
            assert np.array_equal(_bits(got), _bits(want)), name
    # the data exercise what the table must keep: undefined and infinite features, rows with and without windows
    assert np.isnan(panel.features).any() and np.isinf(panel.features).any() == (feature_norm == "none")
    assert 0 < panel.window_ok.sum() < len(panel)
    assert isinstance(panel, Panel) and np.isnan(panel.label).any() and np.isfinite(panel.label).any()
