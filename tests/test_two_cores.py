"""Both cores for one walk-forward: folds split into groups, one worker thread each
(:mod:`rnnstrategy.forecasting.fold_workers`), and forecasts identical bit for bit whatever the
thread or worker count. With one thread, or one fold, the plain ``fit_many`` path runs as before."""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import TINY, synthetic

from rnnstrategy.api.forecasts import run_walk_forward
from rnnstrategy.data import load_bars
from rnnstrategy.datasets import path as dataset_path
from rnnstrategy.forecasting import fold_workers
from rnnstrategy.forecasting.batched.fitting import FitRequest
from rnnstrategy.forecasting.fold_workers import deal, fit_on_workers, worker_count
from rnnstrategy.forecasting.forecaster import RNNForecaster
from rnnstrategy.forecasting.training import torch_threads
from rnnstrategy.forecasting.walkforward import walk_forward

SPLIT = "rnnstrategy.forecasting.fold_workers"
BARS = synthetic(400, seed=3)
CONFIG = replace(TINY, epochs=2)
"""TINY with two epochs: 12 folds over these bars, a second or two of training."""


def _requests(n: int = 6, config=CONFIG, bars: pd.DataFrame = BARS) -> list[FitRequest]:
    rows = range(len(bars) - 1 - 25 * (n - 1), len(bars), 25)
    return [FitRequest(RNNForecaster(**config.model_params()), bars, row) for row in rows]


def _weights(models: list[RNNForecaster]) -> list[dict[str, torch.Tensor]]:
    return [m.module_.state_dict() for m in models]


def _same(a: list[dict[str, torch.Tensor]], b: list[dict[str, torch.Tensor]]) -> bool:
    return all(x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x) for x, y in zip(a, b, strict=True))


def _fold_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("rnnstrategy-folds")]


def test_deal_balances_costs_largest_first() -> None:
    assert deal([5, 5, 5, 5], 2) == [[0, 2], [1, 3]]
    assert deal([1, 9, 4, 4, 1], 2) == [[1, 4], [0, 2, 3]]
    assert deal([3, 2, 1], 3) == [[0], [1], [2]]
    assert deal([7], 2) == [[0]]  # an empty group is dropped


def test_the_path_is_taken_with_two_threads_and_several_cpu_folds(monkeypatch: pytest.MonkeyPatch) -> None:
    six = _requests(6)
    with torch_threads(2):
        assert worker_count(six) == 2
        assert worker_count(six[:1]) == 1  # one fold: nothing to split
        assert worker_count(six, max_models=1) == 1  # one network at a time, as asked
    with torch_threads(1):
        assert worker_count(six) == 1
        assert worker_count(six, workers=3) == 3
    assert worker_count(six, workers=16) == 6  # never more workers than folds
    gpu = [FitRequest(RNNForecaster(**replace(CONFIG, device="auto").model_params()), BARS, 300)] * 2
    monkeypatch.setattr(fold_workers, "resolve_device", lambda device: torch.device("cuda"))
    assert worker_count(gpu, workers=2) == 1  # a GPU trains one stacked computation


def test_walk_forward_is_identical_on_one_and_two_threads(caplog: pytest.LogCaptureFixture) -> None:
    called_from = []
    with torch_threads(1), caplog.at_level(logging.INFO, logger=SPLIT):
        one = walk_forward(BARS, CONFIG)
    assert not [r for r in caplog.records if r.name == SPLIT]  # one thread: fit_many as before
    caplog.clear()
    with torch_threads(2), caplog.at_level(logging.INFO, logger=SPLIT):
        two = walk_forward(BARS, CONFIG, progress=lambda fold: called_from.append(threading.current_thread()))
        assert torch.get_num_threads() == 2  # the workers' setting does not leak
    said = [r.getMessage() for r in caplog.records if r.name == SPLIT]
    assert said == ["training 12 folds on 2 worker threads (6/6 folds each)"]
    assert len(one) == len(two) == 289 and len(one.attrs["folds"]) == 12
    pd.testing.assert_frame_equal(one, two, check_exact=True)
    assert set(called_from) == {threading.main_thread()}  # callbacks (progress, fold store) in the caller
    assert not _fold_threads()


def test_weights_do_not_depend_on_the_worker_count() -> None:
    fitted = {}
    for workers in (1, 2, 3, 6):
        done: list[int] = []
        fitted[workers] = _weights(fit_on_workers(_requests(6), workers=workers, on_fitted=lambda k, m, done=done:
                                                  done.append(k)))
        assert sorted(done) == list(range(6))
    assert all(_same(fitted[1], fitted[w]) for w in (2, 3, 6))


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_two_workers_equal_one_computation_with_early_stopping_and_dropout(dropout: float) -> None:
    """Folds that stop at different epochs, and dropout masks drawn per fold, are still each fold's own."""
    config = replace(CONFIG, epochs=6, patience=1, dropout=dropout, hidden=(8, 8))
    one = _weights(fit_on_workers(_requests(5, config), workers=1))
    two = _weights(fit_on_workers(_requests(5, config), workers=2))
    assert _same(one, two)


def test_the_main_jobs_walk_forward_is_identical_on_one_and_two_threads(caplog: pytest.LogCaptureFixture) -> None:
    """``rnnstrategy backtest --example``'s way to its forecasts (``run_walk_forward`` with ``--threads``) on the
    bundled Moutai bars, its last 60 forecasts (three folds), a smaller network and window to keep it short:
    two threads take the workers' path, and give the bits one thread gives."""
    bars = load_bars(dataset_path("moutai"))
    config = replace(CONFIG, hidden=(16,), lookback=20, epochs=2, train_window=250)
    start = f"{bars.index[-60]:%Y-%m-%d}"
    with caplog.at_level(logging.INFO, logger=SPLIT):
        one = run_walk_forward(bars, config, start, None, store=None, threads=1, on_fold=None)
        assert not [r for r in caplog.records if r.name == SPLIT]
        two = run_walk_forward(bars, config, start, None, store=None, threads=2, on_fold=None)
    assert [r.getMessage() for r in caplog.records if r.name == SPLIT] == [
        "training 3 folds on 2 worker threads (2/1 folds each)"]
    assert len(one.attrs["folds"]) == 3
    np.testing.assert_array_equal(one["pred_open_1"].to_numpy(), two["pred_open_1"].to_numpy())
    pd.testing.assert_frame_equal(one, two, check_exact=True)


def test_an_error_in_the_caller_stops_the_workers_and_is_raised() -> None:
    def fail(k: int, model: RNNForecaster) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        fit_on_workers(_requests(6), workers=2, on_fitted=fail)
    assert not _fold_threads()


def test_an_error_in_a_worker_is_raised_in_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    real = fold_workers.train_many

    def train_many(jobs, **kwargs):
        if len(jobs) == 2:
            raise RuntimeError("worker broke")
        return real(jobs, **kwargs)

    monkeypatch.setattr(fold_workers, "train_many", train_many)
    with pytest.raises(RuntimeError, match="worker broke"):
        fit_on_workers(_requests(6), workers=3)
    assert not _fold_threads()


def test_ctrl_c_stops_the_workers_at_once() -> None:
    """An interrupt while the workers train is raised in the caller once no worker runs, well before the
    training would have ended."""
    config = replace(CONFIG, epochs=300)  # half a minute of training or more
    sent: list[float] = []

    def ctrl_c() -> None:  # as a terminal's Ctrl-C reaches the process: a signal, to the main thread
        sent.append(time.perf_counter())
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)

    timer = threading.Timer(1.0, ctrl_c)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            fit_on_workers(_requests(4, config), workers=2)
    finally:
        timer.cancel()
    assert sent and time.perf_counter() - sent[0] < 5
    assert not _fold_threads()
