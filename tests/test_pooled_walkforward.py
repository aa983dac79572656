"""Pooled walk-forward: the timing contract for panels, the fold store, and a universe run end to end."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import synthetic, tiny_args, with_garbage_after

from rnnstrategy.cli import main
from rnnstrategy.data.forecast_files import read_forecasts
from rnnstrategy.errors import ConfigError
from rnnstrategy.forecasting.config import ForecastConfig
from rnnstrategy.forecasting.pooled.config import PooledConfig
from rnnstrategy.forecasting.pooled.walkforward import pooled_walk_forward

POOLED = PooledConfig(hidden=(4,), lookback=5, epochs=2, batch_size=64, patience=1, val_fraction=0.2, train_days=120,
                      retrain_every_days=30, device="cpu")
"""A tiny pooled GRU: 4 units, 5-bar windows, 2 epochs with a validation split, 120 market days of
samples, retrained every 30 market days."""
START = "2020-07-01"
CUT = pd.Timestamp("2020-09-15")  # D: forecasts up to here must not depend on any later bar


def _universe() -> dict[str, pd.DataFrame]:
    """Eight random-walk stocks on business days from 2020-01-01; one suspended for two weeks,
    one listed in April."""
    bars = {f"S{k}": synthetic(260, seed=k, symbol=f"S{k}") for k in range(8)}
    s1 = bars["S1"]
    bars["S1"] = s1.drop(s1.index[160:170])  # suspended: no rows
    bars["S2"] = bars["S2"].iloc[70:]  # listed later
    return bars


def _upto(frames: dict[str, pd.DataFrame], date: pd.Timestamp) -> dict[str, pd.DataFrame]:
    pred = [c for c in next(iter(frames.values())).columns if c.startswith("pred_open_") or c == "fold"]
    return {s: f.loc[:date, pred] for s, f in frames.items()}


@pytest.fixture(scope="module")
def full() -> dict[str, pd.DataFrame]:
    return pooled_walk_forward(_universe(), POOLED, START)


def _assert_same_upto(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame], date: pd.Timestamp) -> None:
    a, b = _upto(a, date), _upto(b, date)
    assert sorted(a) == sorted(b)
    for symbol in a:
        pd.testing.assert_frame_equal(a[symbol], b[symbol], check_exact=True, obj=symbol)


def test_forecasts_cover_every_symbol_and_are_relative_returns(full: dict[str, pd.DataFrame]) -> None:
    assert sorted(full) == [f"S{k}" for k in range(8)]
    bars = _universe()
    for symbol, frame in full.items():
        assert frame.index[0] >= pd.Timestamp(START) and frame["fold"].min() == 0
        # pred_open_1 is the close; pred_open_2 / pred_open_1 - 1 is the expected relative return
        np.testing.assert_array_equal(frame["pred_open_1"], bars[symbol]["close"].reindex(frame.index))
        expected = frame["pred_open_2"] / frame["pred_open_1"] - 1
        assert expected.abs().max() < 0.2 and expected.std() > 0
        np.testing.assert_array_equal(frame["open_1"].iloc[:-1], bars[symbol]["open"].shift(-1).reindex(
            frame.index).iloc[:-1])
    # one market calendar: a suspended stock has no forecast on the days it has no bar
    suspended = synthetic(260, seed=1).index[160:170]
    assert full["S0"].index.isin(suspended).sum() == len(suspended)
    assert not full["S1"].index.isin(suspended).any()
    # every stock of a day is scored by the same fold
    folds = pd.DataFrame({s: f["fold"] for s, f in full.items()})
    assert (folds.nunique(axis=1) == 1).all()


def test_forecasts_up_to_d_ignore_every_later_bar(full: dict[str, pd.DataFrame]) -> None:
    cut = {s: b.loc[:CUT] for s, b in _universe().items()}
    _assert_same_upto(full, pooled_walk_forward(cut, POOLED, START), CUT)


def test_forecasts_up_to_d_ignore_garbage_in_every_symbol(full: dict[str, pd.DataFrame]) -> None:
    spoiled = {s: with_garbage_after(b, int(b.index.searchsorted(CUT, side="right")) - 1, seed=k)
               for k, (s, b) in enumerate(_universe().items())}
    with np.errstate(all="ignore"):
        garbled = pooled_walk_forward(spoiled, POOLED, START)
    _assert_same_upto(full, garbled, CUT)


def test_forecasts_up_to_d_ignore_garbage_in_one_symbol(full: dict[str, pd.DataFrame]) -> None:
    bars = _universe()
    bars["S3"] = with_garbage_after(bars["S3"], int(bars["S3"].index.searchsorted(CUT, side="right")) - 1)
    with np.errstate(all="ignore"):
        garbled = pooled_walk_forward(bars, POOLED, START)
    _assert_same_upto(full, garbled, CUT)
    # ... and the later forecasts of the other stocks do change (the check has teeth)
    later = full["S0"].loc[CUT + pd.Timedelta(days=30):, "pred_open_2"]
    assert not np.array_equal(later, garbled["S0"].loc[later.index, "pred_open_2"])


OPTIONS = {
    "zscore features": {"feature_norm": "zscore"},
    "rank features": {"feature_norm": "rank"},
    "zscore labels": {"label_norm": "zscore"},
    "raw labels": {"label_norm": "none"},
    "ensemble": {"ensemble": 2},
    "warm start": {"warm_start": True},
    "market": {},
    "simple rnn, two layers": {"cell": "rnn", "hidden": (8, 4)},  # its last bits move with a pass's row count
}


@pytest.mark.parametrize("native", ["1", "0"], ids=["native", "torch"])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("option", list(OPTIONS))
def test_every_pooled_option_keeps_the_contract_bit_for_bit(option: str, threads: int, native: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Forecasts up to D are the same bits with every bar after D removed, for each pooled option, with
    the compiled kernels and without, at one and two threads: a forecast's arithmetic (its forward pass
    included) must not depend on how many later rows exist."""
    monkeypatch.setenv("RNNSTRATEGY_NATIVE", native)
    config = replace(POOLED, **OPTIONS[option])
    market = synthetic(260, seed=99, symbol="IDX") if option == "market" else None
    bars = _universe()
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        first = pooled_walk_forward(bars, config, START, market=market)
        cut = pooled_walk_forward({s: b.loc[:CUT] for s, b in bars.items()}, config, START,
                                  market=None if market is None else market.loc[:CUT])
    finally:
        torch.set_num_threads(before)
    _assert_same_upto(first, cut, CUT)


def test_the_options_together_keep_the_contract_and_change_the_model(full: dict[str, pd.DataFrame]) -> None:
    config = replace(POOLED, feature_norm="zscore", label_norm="zscore", ensemble=2, warm_start=True)
    market = synthetic(260, seed=99, symbol="IDX")
    bars = _universe()
    first = pooled_walk_forward(bars, config, START, market=market)
    cut = pooled_walk_forward({s: b.loc[:CUT] for s, b in bars.items()}, config, START, market=market.loc[:CUT])
    _assert_same_upto(first, cut, CUT)
    # another model: its forecasts differ from the default's
    assert not np.array_equal(first["S0"]["pred_open_2"], full["S0"]["pred_open_2"])


def test_same_seed_same_forecasts_and_the_store_resumes(full: dict[str, pd.DataFrame], tmp_path: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    stored = pooled_walk_forward(_universe(), POOLED, START, store=tmp_path)
    _assert_same_upto(full, stored, pd.Timestamp("2099-01-01"))
    folds = stored["S0"].attrs["folds"]
    assert not any(f["stored"] for f in folds)
    again = pooled_walk_forward(_universe(), POOLED, START, store=tmp_path)
    assert all(f["stored"] for f in again["S0"].attrs["folds"])
    _assert_same_upto(full, again, pd.Timestamp("2099-01-01"))
    # damaged stored forecasts are noticed and forecast again from the stored model; a damaged model is
    # trained again; either way the result equals a clean run
    for pattern, retrained in (("pred-*.safetensors", 0), ("fold-*.safetensors", 1)):
        victim = sorted(tmp_path.rglob(pattern))[1]
        raw = bytearray(victim.read_bytes())
        raw[-3] ^= 0xFF
        victim.write_bytes(bytes(raw))
        caplog.clear()
        with caplog.at_level("WARNING"):
            repaired = pooled_walk_forward(_universe(), POOLED, START, store=tmp_path)
        assert "checksum" in caplog.text
        assert [f["stored"] for f in repaired["S0"].attrs["folds"]].count(False) == retrained
        _assert_same_upto(full, repaired, pd.Timestamp("2099-01-01"))
        assert victim.is_file()  # written again


def test_a_run_one_day_later_reads_the_model_and_trains_nothing(full: dict[str, pd.DataFrame],
                                                               tmp_path: Path) -> None:
    """A daily signal: the fold's model is keyed by the bars up to its retrain day, so the next day's run
    forecasts the new day from it, bit for bit as a run over the whole history, with no training."""
    bars = _universe()
    today, tomorrow = CUT, CUT + pd.offsets.BDay(1)
    pooled_walk_forward({s: b.loc[:today] for s, b in bars.items()}, POOLED, START, store=tmp_path)
    later = pooled_walk_forward({s: b.loc[:tomorrow] for s, b in bars.items()}, POOLED, START, store=tmp_path)
    assert all(f["stored"] for f in later["S0"].attrs["folds"])
    assert later["S0"].index[-1] == tomorrow
    _assert_same_upto(full, later, tomorrow)


def test_a_new_fold_format_not_a_new_release_retrains_stored_folds(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Fold keys carry FOLD_FORMAT, which changes only when stored folds change meaning (as pooled scores
    did when they became one forward pass per market day), and not the package version."""
    import rnnstrategy
    import rnnstrategy.forecasting.config as config_module

    def trained() -> list[bool]:
        frames = pooled_walk_forward(_universe(), POOLED, CUT, CUT + pd.offsets.BDay(5), store=tmp_path)
        return [not f["stored"] for f in frames["S0"].attrs["folds"]]

    assert trained() == [True]
    monkeypatch.setattr(rnnstrategy, "__version__", "99.0.0")
    assert trained() == [False]
    monkeypatch.setattr(config_module, "FOLD_FORMAT", config_module.FOLD_FORMAT + 1)
    assert trained() == [True]


def test_pooled_defaults_and_settings() -> None:
    """Each kind of model has its own settings and defaults, and its schedule in its own unit."""
    config = PooledConfig()
    assert (config.lookback, config.retrain_every_days, config.train_days, config.epochs, config.batch_size,
            config.patience) == (20, 250, 1250, 6, 1024, 2)
    per_stock = ForecastConfig()
    assert (per_stock.lookback, per_stock.retrain_every, per_stock.train_window, per_stock.epochs) == (40, 20, 1000, 30)
    assert PooledConfig(train_days=0).train_days is None  # 0: every day's samples
    # per-symbol fingerprints do not carry the pooled settings (stored folds stay valid)
    assert "label_norm" not in per_stock.fingerprint()["config"]
    assert config.fingerprint()["config"]["label_norm"] == "rank" and config.to_dict()["pooled"] is True
    with pytest.raises(ConfigError, match="horizon"):
        PooledConfig(horizon=1)
    with pytest.raises(ConfigError, match="ensemble"):
        PooledConfig(ensemble=0)
    with pytest.raises(TypeError, match="pooled"):
        ForecastConfig(pooled=True)


def test_one_stock_is_not_forecast_with_a_pooled_model() -> None:
    import rnnstrategy as rs

    with pytest.raises(ConfigError, match="learns across a universe"):
        rs.forecast(synthetic(300, seed=1, symbol="S1"), rs.PooledConfig(device="cpu"))


LIQUID = ("600000.SH", "600036.SH", "600519.SH", "601318.SH", "000001.SZ", "000002.SZ", "000651.SZ",
          "000725.SZ", "002415.SZ", "300059.SZ", "600030.SH", "601166.SH")
CLI_POOLED = replace(POOLED, train_days=250, retrain_every_days=60, batch_size=256, epochs=1, patience=0)


@pytest.mark.shared_data
def test_pooled_universe_run_and_top_k_backtest(data_dir: Path, tmp_path: Path) -> None:
    paths = [str(data_dir / "stocks_liquid300" / f"{s}.csv") for s in LIQUID]
    bench = str(data_dir / "index" / "sh000300.csv")
    args = [*tiny_args(CLI_POOLED), "--start", "2022-07-01", "--end", "2022-12-30", "--market", bench]
    forecast_dir = tmp_path / "pooled"
    assert main(["-q", "forecast", *paths, *args, "--out", str(forecast_dir)]) == 0
    summary = json.loads((forecast_dir / "summary.json").read_text())
    assert summary["executor"] == "pooled" and summary["counts"]["ok"] == len(LIQUID)
    assert summary["config"]["pooled"] and summary["config"]["market"] == bench
    frames = {s: read_forecasts(forecast_dir / "forecasts" / f"{s}.csv") for s in LIQUID}
    # the cross-section in the summary is the one the written forecasts give
    cs = summary["cross_section"]
    assert cs["n_days"] > 100 and cs["n_symbols"] == len(LIQUID)
    expected = pd.DataFrame({s: f["pred_open_2"] / f["pred_open_1"] for s, f in frames.items()})
    realised = pd.DataFrame({s: f["open_2"] / f["open_1"] for s, f in frames.items()})
    ok = expected.notna() & realised.notna()
    daily = [expected.loc[d, ok.loc[d]].rank().corr(realised.loc[d, ok.loc[d]].rank()) for d in expected.index
             if ok.loc[d].sum() >= 10]
    assert len(daily) >= cs["n_days"] - 5
    assert abs(np.nanmean(daily) - cs["rank_ic"]) < 0.02
    for name in ("cross_section.png", "quantile_returns.png", "cross_section_daily.csv"):
        assert (forecast_dir / name).is_file(), name
    # the top-k strategy trades the pooled forecasts under the A-share rules
    out = tmp_path / "topk"
    assert main(["-q", "backtest", "--forecasts", str(forecast_dir), "--strategy", "top_k", "--k", "3",
                 "--benchmark", bench, "--out", str(out)]) == 0
    trades = pd.read_csv(out / "trades.csv", dtype={"symbol": str})
    metrics = json.loads((out / "metrics.json").read_text())
    assert trades["symbol"].nunique() >= 3 and metrics["trades"]["stamp_duty"] > 0
    assert "buy_and_hold" in metrics
