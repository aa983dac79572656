"""Pooled labels over a holding period: log(open(t+1+h)/open(t+1)) with ``label_sessions = h``.

The label, its day and the training rows against literal arrays of a hand-made panel; the validation
purge for h > 1; the timing contract of record (forecasts up to D ignore every later bar) for h = 1, 3
and 5; the setting's checks, its place in the fold store's key and its way in from the command line.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import synthetic, with_garbage_after

from rnnstrategy.errors import ConfigError
from rnnstrategy.forecasting.config_dict import forecast_config_from_dict
from rnnstrategy.forecasting.pooled import fit
from rnnstrategy.forecasting.pooled.config import PooledConfig
from rnnstrategy.forecasting.pooled.panel import (
    build_panel,
    training_rows,
    validation_split,
)
from rnnstrategy.forecasting.pooled.walkforward import pooled_walk_forward

NEVER = np.iinfo(np.int32).max
DAYS = pd.bdate_range("2021-01-04", periods=8, name="date")


def _bars(days: list[int], opens: list[float]) -> pd.DataFrame:
    """Bars on the given positions of ``DAYS`` whose close, high and low equal the open."""
    o = np.array(opens, dtype=float)
    return pd.DataFrame({"open": o, "high": o, "low": o, "close": o, "volume": 100.0}, index=DAYS[days])


def _hand_made(h: int):
    # A trades every day; B is suspended on days 2 and 3 (no rows); C lists on day 3.
    bars = {"A": _bars(list(range(8)), [10, 11, 12, 13, 14, 15, 16, 17]),
            "B": _bars([0, 1, 4, 5, 6, 7], [20, 22, 24, 26, 28, 30]),
            "C": _bars([3, 4, 5, 6, 7], [5, 6, 7, 8, 9])}
    return build_panel(bars, ["ret"], lookback=1, label_sessions=h)


def test_a_three_session_label_is_the_symbols_own_open_r_plus_4_over_open_r_plus_1():
    panel = _hand_made(3)
    assert panel.label_sessions == 3
    expected = [np.log(14 / 11), np.log(15 / 12), np.log(16 / 13), np.log(17 / 14)] + [np.nan] * 4 \
        + [np.log(28 / 22), np.log(30 / 24)] + [np.nan] * 4 \
        + [np.log(9 / 6)] + [np.nan] * 4
    np.testing.assert_array_equal(panel.label, expected)
    # known on the day of row r + 4: B's row 0 (day 0) needs its rows 1 and 4, on days 1 and 6
    assert panel.label_day.tolist() == [4, 5, 6, 7] + [NEVER] * 4 + [6, 7] + [NEVER] * 4 + [7] + [NEVER] * 4


@pytest.mark.parametrize("h", [1, 2, 3, 5])
def test_every_label_is_exactly_open_r_plus_1_plus_h_over_open_r_plus_1(h):
    panel = _hand_made(h)
    for i in range(len(panel.symbols)):
        own = panel.rows_of(i)
        opens, days = panel.open[own], panel.day[own]
        n = len(opens)
        np.testing.assert_array_equal(panel.label[own][:max(n - h - 1, 0)], np.log(opens[h + 1:] / opens[1:n - h]))
        assert np.isnan(panel.label[own][max(n - h - 1, 0):]).all()
        assert panel.label_day[own].tolist() == days[h + 1:].tolist() + [NEVER] * min(h + 1, n)


def test_training_rows_wait_h_plus_1_sessions_for_a_label():
    panel = _hand_made(3)
    # by day 6 A's rows 1, 2 are known (row 0 has no full window; B's row 0 neither)
    assert training_rows(panel, 6, None).tolist() == [1, 2]
    # by day 7 also A's row 3 and B's row 1 (index 9), day-sorted; C's row 0 has no full window
    assert training_rows(panel, 7, None).tolist() == [1, 9, 2, 3]
    # a window of one market day: the latest day whose labels can be known by day 7 (7 - 1 - 3 = 3)
    assert training_rows(panel, 7, 1).tolist() == [3]


@pytest.mark.parametrize(("h", "first", "train_days"), [(1, 14, list(range(1, 13))), (3, 12, list(range(1, 9)))])
def test_the_validation_split_purges_every_label_that_overlaps_validation(h, first, train_days):
    bars = {s: _ramp(np.linspace(10 + k, 20 + k, 20)) for k, s in enumerate("AB")}
    panel = build_panel(bars, ["ret"], lookback=1, label_sessions=h)
    rows = training_rows(panel, 19, None)
    assert sorted(set(panel.day[rows].tolist())) == list(range(1, 19 - h))
    train, val = validation_split(panel, rows, 0.25)
    # validation: the latest days holding ~25 % of the rows; training labels end on or before its first day
    # (validation labels start the day after it), so the h days of samples before it are purged
    assert sorted(set(panel.day[val].tolist())) == list(range(first, 19 - h))
    assert panel.label_day[train].max() <= first
    assert sorted(set(panel.day[train].tolist())) == train_days
    assert first - max(train_days) == h + 1


def _ramp(opens: np.ndarray) -> pd.DataFrame:
    """Bars on business days from 2021-01-04 whose prices are ``opens``."""
    index = pd.bdate_range("2021-01-04", periods=len(opens), name="date")
    return pd.DataFrame({"open": opens, "high": opens, "low": opens, "close": opens, "volume": 100.0}, index=index)


POOLED = PooledConfig(hidden=(4,), lookback=5, epochs=2, batch_size=64, patience=1, val_fraction=0.2, train_days=120,
                      retrain_every_days=40, device="cpu")
"""A tiny pooled GRU, retrained every 40 market days: from START the folds begin on 2020-07-15, 2020-09-09
and 2020-11-04."""
START = "2020-07-15"
CUT = pd.Timestamp("2020-09-09")
"""D: a retrain day, so a fold that learnt a label known only after its retrain (in the h sessions after
it) would see bars the cut run lacks."""


def _universe() -> dict[str, pd.DataFrame]:
    """Six random-walk stocks on business days from 2020-01-01; one suspended for two weeks, one listed in April."""
    bars = {f"S{k}": synthetic(240, seed=k, symbol=f"S{k}") for k in range(6)}
    bars["S1"] = bars["S1"].drop(bars["S1"].index[160:170])
    bars["S2"] = bars["S2"].iloc[70:]
    return bars


def _predictions(frames: dict[str, pd.DataFrame], upto: pd.Timestamp) -> dict[str, pd.DataFrame]:
    return {s: f.loc[:upto, ["pred_open_1", "pred_open_2", "fold"]] for s, f in frames.items()}


def _assert_same_upto(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame], upto: pd.Timestamp) -> None:
    a, b = _predictions(a, upto), _predictions(b, upto)
    assert sorted(a) == sorted(b)
    for symbol in a:
        pd.testing.assert_frame_equal(a[symbol], b[symbol], check_exact=True, obj=symbol)


@pytest.fixture(scope="module")
def runs() -> dict[int, dict[str, pd.DataFrame]]:
    return {h: pooled_walk_forward(_universe(), replace(POOLED, label_sessions=h), START) for h in (1, 3, 5)}


@pytest.mark.parametrize("h", [1, 3, 5])
def test_forecasts_up_to_d_ignore_every_later_bar_for_every_h(h, runs):
    cut = pooled_walk_forward({s: b.loc[:CUT] for s, b in _universe().items()}, replace(POOLED, label_sessions=h),
                              START)
    assert {f["fold"] for f in runs[h]["S0"].attrs["folds"]} == {0, 1, 2}
    _assert_same_upto(runs[h], cut, CUT)


@pytest.mark.parametrize("spoiled", [["S3"], ["S0", "S1", "S2", "S3", "S4", "S5"]], ids=["one symbol", "every symbol"])
def test_forecasts_up_to_d_ignore_garbage_with_a_five_session_label(spoiled, runs):
    bars = _universe()
    for k, s in enumerate(spoiled):
        bars[s] = with_garbage_after(bars[s], int(bars[s].index.searchsorted(CUT, side="right")) - 1, seed=k)
    with np.errstate(all="ignore"):
        garbled = pooled_walk_forward(bars, replace(POOLED, label_sessions=5), START)
    _assert_same_upto(runs[5], garbled, CUT)
    if "S0" not in spoiled:  # the check has teeth: an unspoiled stock's later forecasts change
        later = runs[5]["S0"].loc[CUT + pd.Timedelta(days=60):, "pred_open_2"]
        assert not np.array_equal(later, garbled["S0"].loc[later.index, "pred_open_2"])


def test_each_h_is_another_model_and_h_1_is_the_next_open_label(runs):
    assert not np.array_equal(runs[1]["S0"]["pred_open_2"], runs[3]["S0"]["pred_open_2"])
    assert not np.array_equal(runs[3]["S0"]["pred_open_2"], runs[5]["S0"]["pred_open_2"])
    # fewer samples with a longer label (their labels are known later)
    samples = {h: runs[h]["S0"].attrs["folds"][0]["samples"] for h in runs}
    assert samples[1] > samples[3] > samples[5]
    assert runs[3]["S0"].attrs["config"]["label_sessions"] == 3


def test_a_fold_learns_and_ranks_only_labels_known_at_its_retrain(monkeypatch):
    seen: list[tuple[int, int]] = []
    split = fit.validation_split

    def spy(panel, rows, fraction):
        train, val = split(panel, rows, fraction)
        both = np.concatenate([train, val])
        seen.append((int(panel.label_day[both].max()), int(panel.day[both].max())))
        return train, val

    monkeypatch.setattr(fit, "validation_split", spy)
    frames = pooled_walk_forward(_universe(), replace(POOLED, label_sessions=5), START)
    retrains = [int(pd.bdate_range("2020-01-01", periods=240).get_loc(pd.Timestamp(f["retrain_date"])))
                for f in frames["S0"].attrs["folds"]]
    assert len(seen) == len(retrains) == 3
    for (label_day, day), p in zip(seen, retrains, strict=True):
        assert label_day <= p and day <= p - 6  # the labels ranked each day are all known by the retrain


def test_the_setting_is_checked_and_recorded():
    assert PooledConfig().label_sessions == 1
    for bad in (0, -2, True, 2.5, "3"):
        with pytest.raises(ConfigError, match=r"label_sessions=.* must be a whole number >= 1"):
            PooledConfig(label_sessions=bad)
    with pytest.raises(ConfigError, match=r"label_sessions=61 spans more than half of train_days=120"):
        replace(POOLED, label_sessions=61)
    assert replace(POOLED, label_sessions=60, train_days=0).train_days is None  # expanding: any h
    config = replace(POOLED, label_sessions=5)
    assert config.to_dict()["label_sessions"] == 5
    assert forecast_config_from_dict(config.to_dict(), recorded=True) == config
    # a record written before the setting existed reads as h = 1
    old = {key: value for key, value in POOLED.to_dict().items() if key != "label_sessions"}
    assert forecast_config_from_dict(old, recorded=True).label_sessions == 1
    # the history a run reads covers the longer label
    assert config.history_needed() - POOLED.history_needed() == 4


def test_the_fold_store_keys_h_and_keeps_the_keys_of_h_1(tmp_path: Path):
    # h = 1 leaves the setting out of the fingerprint: folds stored before it existed keep their keys
    assert "label_sessions" not in POOLED.fingerprint()["config"]
    assert replace(POOLED, label_sessions=3).fingerprint()["config"]["label_sessions"] == 3

    def trained(h: int) -> list[bool]:
        frames = pooled_walk_forward(_universe(), replace(POOLED, label_sessions=h), CUT, CUT + pd.offsets.BDay(3),
                                     store=tmp_path)
        return [not f["stored"] for f in frames["S0"].attrs["folds"]]

    assert trained(1) == [True]
    assert trained(3) == [True]  # another h never reuses a fold
    assert trained(3) == [False] and trained(1) == [False]


@pytest.mark.parametrize(("value", "needle"), [
    ("0", "label_sessions=0 must be a whole number >= 1"),
    ("700", "label_sessions=700 spans more than half of train_days=1250"),
])
def test_a_bad_label_sessions_is_one_line_and_exit_2(value, needle, tmp_path):
    done = subprocess.run([sys.executable, "-m", "rnnstrategy.cli", "forecast", "--example", "--universe", "csi300",
                           "--pooled", "--label-sessions", value, "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120, check=False)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and needle in lines[0], lines
    assert not (tmp_path / "out").exists()
