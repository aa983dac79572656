"""The pooled default ``market="auto"``: the universe's index's own bars where a qlib directory holds them, else
none; what a run records, and that the default is exactly the explicit option; and the rank IC against the
h-session return a pooled label spans (``summary.json["cross_section"]["label_horizon"]``)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import synthetic

from rnnstrategy import datasets
from rnnstrategy.data.qlib_dir import qlib_source
from rnnstrategy.evaluation.cross_section import held_return, horizon_metrics
from rnnstrategy.forecasting.config_dict import forecast_config_from_dict
from rnnstrategy.forecasting.pooled.config import MARKET_AUTO, PooledConfig
from rnnstrategy.forecasting.pooled.walkforward import pooled_walk_forward
from rnnstrategy.universe.as_of import universe_as_of
from rnnstrategy.universe.forecast import forecast_universe
from rnnstrategy.universe.pooled import with_market

SAMPLE = datasets.path(datasets.UNIVERSE)
TINY = PooledConfig(hidden=(4,), lookback=5, epochs=1, patience=0, batch_size=1024, retrain_every_days=100,
                    train_days=250, device="cpu")
"""A pooled GRU of 4 units on 5-bar windows, one epoch (its market setting is the default, "auto")."""


def test_auto_is_the_default_and_none_turns_it_off() -> None:
    assert PooledConfig().market == MARKET_AUTO == TINY.market
    assert PooledConfig(market="none").market is None and PooledConfig(market="").market is None  # TOML: no null


def test_auto_resolves_to_the_universes_index_in_a_qlib_directory(tmp_path: Path) -> None:
    index = qlib_source(SAMPLE, "sh000300")
    assert with_market(TINY, str(SAMPLE), universe_as_of(str(SAMPLE), "csi300")).market == index
    assert with_market(TINY, str(SAMPLE), None).market == index  # the index whose membership it holds
    # a folder of CSVs holds no index: no market features; an explicit setting is kept as it is
    folder = tmp_path / "csvs"
    folder.mkdir()
    for k in range(2):
        synthetic(60, seed=k, symbol=f"00000{k}").to_csv(folder / f"00000{k}.csv")
    assert with_market(TINY, str(folder), None).market is None
    assert with_market(replace(TINY, market=None), str(SAMPLE), None).market is None
    assert with_market(replace(TINY, market="idx.csv"), str(SAMPLE), None).market == "idx.csv"


def test_a_record_without_market_replays_without_one() -> None:
    """Runs recorded before the default became "auto" learnt without market features."""
    recorded = {k: v for k, v in TINY.to_dict().items() if k != "market"}
    assert forecast_config_from_dict(recorded, recorded=True).market is None


def test_pooled_walk_forward_records_what_it_learnt_from() -> None:
    bars = {f"S{k}": synthetic(200, seed=k, symbol=f"S{k}") for k in range(4)}
    config = replace(TINY, train_days=60, retrain_every_days=50, batch_size=64)
    alone = pooled_walk_forward(bars, config, bars["S0"].index[120])
    market = synthetic(200, seed=9, symbol="IDX")
    with_index = pooled_walk_forward(bars, config, bars["S0"].index[120], market=market)
    assert alone["S0"].attrs["config"]["market"] is None
    assert with_index["S0"].attrs["config"]["market"] == "IDX"
    assert not np.array_equal(alone["S0"]["pred_open_2"], with_index["S0"]["pred_open_2"])


def test_the_default_run_equals_the_explicit_index_option(tmp_path: Path) -> None:
    """A universe run with the default forecasts exactly what ``--market DIR::sh000300`` does, records that
    source, and differs from a run without market features."""
    as_of = universe_as_of(str(SAMPLE), "csi300")
    runs = {}
    for name, market in (("auto", MARKET_AUTO), ("explicit", qlib_source(SAMPLE, "sh000300")), ("none", None)):
        forecast_universe(SAMPLE, replace(TINY, market=market), "2022-01-04", "2022-04-29", out_dir=tmp_path / name,
                          store=None, evaluate=False, as_of=as_of)
        runs[name] = tmp_path / name
    recorded = json.loads((runs["auto"] / "summary.json").read_text(encoding="utf-8"))["config"]["market"]
    assert recorded == qlib_source(SAMPLE, "sh000300")
    files = sorted(p.name for p in (runs["auto"] / "forecasts").glob("*.csv"))
    assert len(files) > 20
    assert all((runs["auto"] / "forecasts" / f).read_bytes() == (runs["explicit"] / "forecasts" / f).read_bytes()
               for f in files)
    assert any((runs["auto"] / "forecasts" / f).read_bytes() != (runs["none"] / "forecasts" / f).read_bytes()
               for f in files)


DAYS = pd.bdate_range("2021-01-04", periods=40, name="date")


def _opens(seed: int) -> pd.Series:
    rng = np.random.default_rng(seed)
    return pd.Series(10 * np.exp(np.cumsum(rng.normal(0, 0.02, len(DAYS)))), index=DAYS)


def test_held_return_is_the_h_session_return_from_the_next_open() -> None:
    opens = _opens(0)
    held = held_return(opens, 5)
    assert held.iloc[3] == pytest.approx(opens.iloc[9] / opens.iloc[4] - 1)
    assert held.iloc[-6:].isna().all() and held.iloc[:-6].notna().all()


def test_horizon_rank_ic_scores_the_h_session_return_not_the_next_day() -> None:
    """A forecast that knows the 5-session return has rank IC 1 against it; one that knows only the next
    day's return has far less, though its 1-day rank IC is 1."""
    opens = {f"s{j}": _opens(j) for j in range(12)}

    def frame(score: pd.Series, symbol: str) -> pd.DataFrame:
        one_day = opens[symbol].shift(-2) / opens[symbol].shift(-1)
        return pd.DataFrame({"pred_open_1": 100.0, "pred_open_2": 100 * np.exp(score), "fold": 0,
                             "open_1": 100.0, "open_2": 100 * one_day}, index=DAYS)

    knows_five = {s: frame(np.log1p(held_return(o, 5)), s) for s, o in opens.items()}
    knows_one = {s: frame(np.log(o.shift(-2) / o.shift(-1)), s) for s, o in opens.items()}
    five = horizon_metrics(knows_five, opens, 5)
    one = horizon_metrics(knows_one, opens, 5)
    assert five["sessions"] == 5 and five["n_days"] == len(DAYS) - 6
    assert five["rank_ic"] == pytest.approx(1.0)
    assert five["long_short"] > 0 and five["baseline_reversal5_rank_ic"] is None
    assert one["rank_ic"] < 0.7 and one["n_days"] == len(DAYS) - 6
    assert list(five["by_year"]) == ["2021"]


def test_the_market_read_by_another_path_keeps_the_stored_folds(tmp_path: Path) -> None:
    """The fold keys hash the index's bars, not the path they were read from: the same directory by another
    name (a link, a relative path) trains nothing again."""
    link = tmp_path / "elsewhere"
    link.symlink_to(SAMPLE, target_is_directory=True)
    store = tmp_path / "store"
    as_of = universe_as_of(str(SAMPLE), "csi300")
    for name, data in (("first", SAMPLE), ("linked", link)):
        summary = forecast_universe(data, TINY, "2022-01-04", "2022-02-28", out_dir=tmp_path / name, store=str(store),
                                    evaluate=False, as_of=as_of)
        trained = int(summary.loc[summary["status"] == "ok", "trained"].sum())
        assert (trained > 0) if name == "first" else (trained == 0)
    configs = [json.loads((tmp_path / n / "summary.json").read_text(encoding="utf-8"))["config"]["market"]
               for n in ("first", "linked")]
    assert configs == [qlib_source(SAMPLE, "sh000300"), qlib_source(link, "sh000300")]
    assert replace(TINY, market="a.csv").fingerprint() == replace(TINY, market="b/a.csv").fingerprint()
    assert replace(TINY, market=None).fingerprint() != replace(TINY, market="a.csv").fingerprint()
