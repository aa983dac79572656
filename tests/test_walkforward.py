"""The walk-forward engine: the timing contract, determinism, persistence and resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from helpers import TINY, WARM, tiny_args

from rnnstrategy.forecasting.walkforward import FoldTrainer, walk_forward, walk_forward_many

# cold folds train side by side in one batched computation: odd sizes on purpose (kernels round by
# memory alignment and vector tails), and early stopping on, so that folds stop at different epochs
COLD = replace(TINY, hidden=(7,), lookback=9, patience=1, batch_size=20)
START = "2019-09-02"


@pytest.fixture(scope="module")
def bars(moutai):
    return moutai.loc["2019-01-01":]  # 319 bars; folds retrain at 2019-09-02 and every 25 bars


@pytest.fixture(scope="module")
def reference(bars):
    return walk_forward(bars, WARM, start=START)


@pytest.fixture(scope="module")
def references(bars, reference):
    return {"warm": (WARM, reference), "cold": (COLD, walk_forward(bars, COLD, start=START))}


def trained_folds(bars, store, **kwargs):
    reports = []
    frame = walk_forward(bars, WARM, start=START, store=store, progress=reports.append, **kwargs)
    return frame, [r.trained for r in reports]


def test_forecast_frame_shape(reference, bars):
    assert list(reference.columns) == ["pred_open_1", "pred_open_2", "fold", "open_1", "open_2"]
    assert reference.index[0] == pd.Timestamp(START) and reference.index[-1] == bars.index[-1]
    assert reference.index.name == "date" and len(reference) == 156
    assert reference["fold"].tolist() == sorted(reference["fold"]) and reference["fold"].max() == 6
    # realised opens are the next bars' opens, NaN where not yet known
    t = bars.index.get_loc(pd.Timestamp("2019-09-02"))
    assert reference.loc["2019-09-02", ["open_1", "open_2"]].tolist() == bars["open"].iloc[t + 1 : t + 3].tolist()
    assert reference["open_1"].isna().sum() == 1 and reference["open_2"].isna().sum() == 2
    assert reference[["pred_open_1", "pred_open_2"]].notna().all().all()
    folds = reference.attrs["folds"]
    assert [f["retrain_date"] for f in folds[:2]] == ["2019-09-02", "2019-10-15"]
    assert folds[0]["epochs"] == 3 and folds[1]["epochs"] == 2  # cold, then warm-started
    assert len(folds[0]["history"]["train_loss"]) == 3


def test_forecasts_are_close_to_price(reference):
    rel = (reference["pred_open_1"] / reference["open_1"] - 1).abs()
    assert rel.median() < 0.02


@pytest.mark.parametrize("schedule", ["warm", "cold"])
@pytest.mark.parametrize("cut", ["2019-11-20", "2020-01-23"])
def test_no_look_ahead_truncated(bars, references, cut, schedule):
    """Test of record: forecasts up to D do not change when every bar after D is removed.

    Cold folds are trained together, so this also checks that a fold's weights do not
    depend on the (later) folds trained beside it, bit for bit."""
    config, reference = references[schedule]
    truncated = walk_forward(bars.loc[:cut], config, start=START)
    pred = ["pred_open_1", "pred_open_2", "fold"]
    pd.testing.assert_frame_equal(truncated[pred], reference.loc[:cut, pred])


@pytest.mark.parametrize("schedule", ["warm", "cold"])
def test_no_look_ahead_garbage(bars, references, schedule):
    """...nor when every bar after D is replaced by random values."""
    config, reference = references[schedule]
    cut = "2019-12-10"
    rng = np.random.default_rng(7)
    garbage = bars.copy()
    after = garbage.index > cut
    base = rng.uniform(1, 5000, after.sum())
    garbage.loc[after, "open"] = base
    garbage.loc[after, "close"] = base * rng.uniform(0.5, 1.5, after.sum())
    garbage.loc[after, "high"] = garbage.loc[after, ["open", "close"]].max(axis=1) * 1.3
    garbage.loc[after, "low"] = garbage.loc[after, ["open", "close"]].min(axis=1) * 0.7
    garbage.loc[after, "volume"] = rng.uniform(0, 1e9, after.sum())
    forecasts = walk_forward(garbage, config, start=START)
    pred = ["pred_open_1", "pred_open_2", "fold"]
    pd.testing.assert_frame_equal(forecasts.loc[:cut, pred], reference.loc[:cut, pred])
    assert not forecasts.loc["2019-12-20":, "pred_open_1"].equals(reference.loc["2019-12-20":, "pred_open_1"])


def test_same_seed_same_forecasts_other_seed_differs(bars, reference):
    again = walk_forward(bars, WARM, start=START)
    pd.testing.assert_frame_equal(again, reference)
    other = walk_forward(bars, replace(WARM, seed=1), start=START)
    assert not np.allclose(other["pred_open_1"], reference["pred_open_1"])


def test_store_reuses_every_fold(bars, reference, tmp_path):
    first, trained = trained_folds(bars, tmp_path)
    assert trained == [True] * 7
    second, trained = trained_folds(bars, tmp_path)
    assert trained == [False] * 7
    pd.testing.assert_frame_equal(first, reference)
    pd.testing.assert_frame_equal(second, reference)


def test_fold_keys_follow_the_fold_format_not_the_package_version(bars, tmp_path, monkeypatch):
    """A new release reuses stored folds; a new FOLD_FORMAT (stored folds change meaning) does not."""
    import rnnstrategy
    import rnnstrategy.forecasting.config as config_module

    def keys():
        trainer = FoldTrainer(WARM, "600519.SH", tmp_path)
        return trainer.plan(bars, 200).key, trainer.store.directory

    before = keys()
    assert WARM.fingerprint()["fold_format"] == config_module.FOLD_FORMAT
    monkeypatch.setattr(rnnstrategy, "__version__", "99.0.0")
    assert keys() == before
    monkeypatch.setattr(config_module, "FOLD_FORMAT", config_module.FOLD_FORMAT + 1)
    after = keys()
    assert after[0] != before[0] and after[1] != before[1]


def test_extended_data_trains_only_new_folds(bars, reference, tmp_path):
    trained_folds(bars.iloc[:-60], tmp_path)
    extended, trained = trained_folds(bars, tmp_path)
    assert trained == [False] * 4 + [True] * 3  # folds retrained at or after the first new bar
    pd.testing.assert_frame_equal(extended, reference)


def test_interrupted_run_resumes_identically(bars, reference, tmp_path):
    class Stop(Exception):
        pass

    def stop_after_third(report):
        if report.fold == 2:
            raise Stop

    with pytest.raises(Stop):
        walk_forward(bars, WARM, start=START, store=tmp_path, progress=stop_after_third)
    resumed, trained = trained_folds(bars, tmp_path)
    assert trained == [False] * 3 + [True] * 4
    pd.testing.assert_frame_equal(resumed, reference)


def test_interrupted_batch_of_cold_folds_keeps_the_finished_ones(bars, references, tmp_path):
    class Stop(Exception):
        pass

    finished = []

    def stop_after_three(report):
        finished.append(report.fold)  # the fold is in the store before it is reported
        if len(finished) == 3:
            raise Stop

    config, reference = references["cold"]
    with pytest.raises(Stop):
        walk_forward(bars, config, start=START, store=tmp_path, progress=stop_after_three)
    reports = []
    resumed = walk_forward(bars, config, start=START, store=tmp_path, progress=reports.append)
    assert sorted(r.fold for r in reports if not r.trained) == sorted(finished)
    pd.testing.assert_frame_equal(resumed, reference)


@pytest.mark.parametrize("schedule", ["warm", "cold"])
def test_many_securities_trained_together_equal_each_alone(bars, moutai, references, schedule):
    config, reference = references[schedule]
    other = moutai.loc["2018-06-01":"2020-03-31"]
    alone = walk_forward(other, config, start=START)
    together = walk_forward_many([bars, other], config, start=START)
    pd.testing.assert_frame_equal(together[0], reference, check_like=False)
    pd.testing.assert_frame_equal(together[1], alone)


def test_corrupt_fold_file_is_retrained(bars, reference, tmp_path, caplog):
    trained_folds(bars, tmp_path)
    victim = sorted(tmp_path.rglob("fold-*.safetensors"))[3]
    victim.write_bytes(victim.read_bytes()[:100])
    again, trained = trained_folds(bars, tmp_path)
    assert trained == [False, False, False, True, False, False, False]
    assert "unreadable" in caplog.text
    pd.testing.assert_frame_equal(again, reference)


def test_nothing_unpickled_weights_are_safetensors(bars, tmp_path):
    trained_folds(bars.iloc[:-150], tmp_path)
    suffixes = {p.suffix for p in tmp_path.rglob("*") if p.is_file()}
    assert suffixes == {".safetensors", ".json"}


def test_killed_process_resumes_identically(data_dir, tmp_path):
    """Kill a real forecast run mid-way, leaving it no chance to clean up (Popen.kill: SIGKILL on
    POSIX, TerminateProcess on Windows); the rerun completes with identical forecasts."""
    # 20 epochs per warm fold: about 0.15 s each, so the kill lands mid-way even on a busy machine
    config = replace(WARM, warm_start_epochs=20, retrain_every=10, train_window=200)
    args = [sys.executable, "-m", "rnnstrategy.cli", "-q", "forecast", str(data_dir / "SH600519.csv"),
            "--start", START, *tiny_args(config), "--store", str(tmp_path / "store")]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    proc = subprocess.Popen([*args, "--out", str(tmp_path / "killed")], env=env)
    deadline = time.monotonic() + 120
    while (len(list((tmp_path / "store").rglob("fold-*.safetensors"))) < 2 and proc.poll() is None
           and time.monotonic() < deadline):
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    done_before = len(list((tmp_path / "store").rglob("fold-*.safetensors")))
    subprocess.run([*args, "--out", str(tmp_path / "resumed")], env=env, check=True)
    subprocess.run([*args[:-2], "--store", str(tmp_path / "clean"), "--out", str(tmp_path / "clean")], env=env, check=True)
    resumed = (tmp_path / "resumed" / "forecasts.csv").read_text()
    assert resumed == (tmp_path / "clean" / "forecasts.csv").read_text()
    assert len(resumed.splitlines()) == 157
    retrains = json.loads((tmp_path / "clean" / "metrics.json").read_text())["retrains"]
    assert 2 <= done_before < retrains, "the run was not killed mid-way"
    assert not list((tmp_path / "store").rglob("*.tmp"))
