"""The pooled panel and a fold's training and scoring hold memory linear in stocks x days, never x lookback.

What ``backtests/benchmarks/bench_panel_memory.py`` relies on to put the whole market (5,000 stocks x
10 years) in a few GB: the panel's arrays are per row (or per symbol) and do not depend on the window
length; the scaler and the standardised table allocate per row, not per (sample, step); training and
scoring gather windows per mini-batch or per day from the one table of rows. Memory is measured with
tracemalloc (numpy reports its buffers to it), not with timings.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch
from helpers import synthetic

from rnnstrategy.forecasting.batched import training
from rnnstrategy.forecasting.batched.windows import RowWindows
from rnnstrategy.forecasting.pooled import fit
from rnnstrategy.forecasting.pooled.config import PooledConfig
from rnnstrategy.forecasting.pooled.panel import (
    Panel,
    build_panel,
    retrain_days,
    training_rows,
)
from rnnstrategy.forecasting.pooled.walkforward import fold_rows

FEATURES = ("gap", "ret", "high", "low", "volume")
CPU = torch.device("cpu")


def _bars(stocks: int, days: int) -> dict:
    """Seeded random walks; every third stock lists later (staggered rows)."""
    return {f"S{k}": synthetic(days, seed=k, symbol=f"S{k}").iloc[(k % 3) * 20:] for k in range(stocks)}


def _arrays(panel: Panel) -> dict[str, np.ndarray]:
    return {name: value for name, value in vars(panel).items() if isinstance(value, np.ndarray)}


def _peak_bytes(call) -> int:
    """Peak bytes traced (numpy buffers included) while ``call()`` runs."""
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_panel_arrays_are_per_row_and_do_not_grow_with_lookback():
    small = build_panel(_bars(4, 200), FEATURES, lookback=5)
    large = build_panel(_bars(9, 420), FEATURES, lookback=5)
    longer = build_panel(_bars(9, 420), FEATURES, lookback=40)
    assert len(large) > 4 * len(small)
    for panel in (small, large, longer):
        for name, array in _arrays(panel).items():  # each array: one entry per row, or per symbol (offsets)
            expected = len(panel.symbols) + 1 if name == "offsets" else len(panel)
            assert array.shape[0] == expected, name

    def per_row(panel: Panel) -> float:
        return sum(a.nbytes for n, a in _arrays(panel).items() if n != "offsets") / len(panel)

    # features float32 x 5, label float64, label_day and day int32, window flag, open and close float64
    assert per_row(small) == per_row(large) == 4 * 5 + 8 + 4 + 4 + 1 + 8 + 8
    assert {n: a.nbytes for n, a in _arrays(longer).items()} == {n: a.nbytes for n, a in _arrays(large).items()}


def _reference_scaler(panel: Panel, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The scaler's definition, as first written: the unique rows of every training window (rows x lookback)."""
    window_rows = np.unique((rows[:, None] + np.arange(-panel.lookback + 1, 1)).ravel())
    sample = panel.features[window_rows].astype(np.float64)
    mean, std = sample.mean(axis=0), sample.std(axis=0)
    std[~(std > 0)] = 1.0
    return mean, std


@pytest.mark.parametrize("lookback", [5, 60])
def test_the_scaler_equals_its_definition_without_a_copy_per_window_step(lookback):
    panel = build_panel(_bars(12, 420), FEATURES, lookback=lookback)
    rows = training_rows(panel, len(panel.calendar) - 1, None)
    mean, std = fit._scaler(panel, rows)
    expected = _reference_scaler(panel, rows)
    assert mean.tobytes() == expected[0].tobytes() and std.tobytes() == expected[1].tobytes()  # bit for bit
    peak = _peak_bytes(lambda: fit._scaler(panel, rows))
    # a flag per row and the windows' rows once (float32, then float64 twice for the spread): independent of
    # the lookback, far below one int64 index per (sample, step), what the first version allocated twice over
    assert peak < len(panel) * (1 + 5 * (4 + 8 + 8)) + 64 * 1024
    assert peak < len(rows) * lookback * 8 or lookback == 5


def test_the_standardised_table_is_built_chunk_by_chunk_and_equals_the_whole_array_arithmetic(monkeypatch):
    panel = build_panel(_bars(40, 1000), FEATURES, lookback=5)
    mean, std = fit._scaler(panel, training_rows(panel, len(panel.calendar) - 1, None))
    whole = (panel.features - mean) / std
    whole[~np.isfinite(whole)] = 0.0
    monkeypatch.setattr(fit, "_SCALE_CHUNK", 500)  # several chunks, one cut through a symbol's rows
    table = fit._scaled(panel, mean, std, CPU)
    assert table.dtype == torch.float32 and torch.equal(table, torch.as_tensor(whole, dtype=torch.float32))
    peak = _peak_bytes(lambda: fit._scaled(panel, mean, std, CPU))
    # the float32 table and a chunk's float64 temporaries, not a float64 copy of the whole panel
    assert peak < panel.features.nbytes + 4 * 500 * 5 * 8 + 64 * 1024 < len(panel) * 5 * 8


def test_fit_and_score_gather_windows_per_batch_from_the_panels_rows(monkeypatch):
    config = PooledConfig(hidden=(4,), lookback=10, epochs=2, batch_size=64, patience=1, train_days=150,
                          retrain_every_days=40, device="cpu")
    panel = build_panel(_bars(30, 300), config.features, config.lookback)
    p, q = retrain_days(panel.calendar, panel.calendar[200], None, config.retrain_every_days)[0]
    tables, trained, scored = [], [], []
    windows = training._StackedRun._windows

    def recording_windows(self, samples, slots=None, workspace=None):
        tables.append(tuple(self.rows.shape))
        x, y = windows(self, samples, slots, workspace)
        trained.append(x.shape[2])  # (lookback, models, windows per model, features)
        return x, y

    getitem = RowWindows.__getitem__

    def recording_getitem(self, key):
        out = getitem(self, key)
        if isinstance(out, torch.Tensor):
            scored.append(len(out))
        return out

    monkeypatch.setattr(training._StackedRun, "_windows", recording_windows)
    monkeypatch.setattr(RowWindows, "__getitem__", recording_getitem)
    model, (n_fit, _, epochs) = fit.fit_fold(panel, config, CPU, p, None)
    rows = fold_rows(panel, p, q)
    fit.score_fold(panel, config, CPU, model, rows)
    assert epochs >= 1 and n_fit > 10 * max(trained)
    # training reads the panel's rows in place, (1, rows, features), and gathers a padded batch or a
    # validation chunk of windows at a time
    assert set(tables) == {(1, len(panel), len(config.features))}
    assert max(trained) <= max(-(-config.batch_size // training.LANE) * training.LANE, training.VALIDATION_CHUNK)
    # scoring gathers one market day's rows at a time: at most one window per stock
    assert len(rows) > 10 * len(panel.symbols) and sum(scored) == len(rows)
    assert max(scored) <= len(panel.symbols)
