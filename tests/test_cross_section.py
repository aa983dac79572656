"""Cross-sectional evaluation of universe forecasts: IC and rank IC against hand-computed values,
quantile returns, the 5-day reversal baseline, empty runs, and a universe run's summary."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import TINY, synthetic

from rnnstrategy.evaluation import cross_section_daily, cross_section_metrics
from rnnstrategy.evaluation.cross_section import reversal
from rnnstrategy.report.plots import write_cross_section_figures
from rnnstrategy.universe.forecast import forecast_universe

DAYS = pd.DatetimeIndex(["2019-12-31", "2020-01-02", "2020-01-03"], name="date")
# forecast and realised next-open returns (percent) of 4 symbols on 3 days
FORECAST = np.array([[1, 2, 3, 4], [4, 3, 2, 1], [1, 2, 3, 4]]) / 100
REALISED = np.array([[1, 3, 2, 10], [1, 2, 3, 4], [2, 1, 4, 3]]) / 100
# by hand: day 1 ranks 1234 vs 1324 -> rho = 1 - 6*2/(4*15) = 0.8; Pearson 13/sqrt(5*50) (centred
# forecasts -1.5,-0.5,0.5,1.5, realised -3,-1,-2,6); day 2 reversed: -1; day 3 ranks 1234 vs 2143:
# rho = 1 - 6*4/60 = 0.6, and Pearson the same (both evenly spaced)
HAND_RANK_IC = [0.8, -1.0, 0.6]
HAND_IC = [13 / math.sqrt(250), -1.0, 0.6]


def frames(forecast: np.ndarray, realised: np.ndarray, index: pd.DatetimeIndex,
           names: list[str] | None = None) -> dict[str, pd.DataFrame]:
    """Forecast frames whose forecast and realised returns are the columns of the two arrays."""
    names = names or [f"s{j}" for j in range(forecast.shape[1])]
    return {name: pd.DataFrame({"pred_open_1": 100.0, "pred_open_2": 100 * (1 + forecast[:, j]), "fold": 0,
                                "open_1": 100.0, "open_2": 100 * (1 + realised[:, j])}, index=index)
            for j, name in enumerate(names)}


def strict_json(value: object) -> object:
    return json.loads(json.dumps(value, allow_nan=False))


def test_ic_and_rank_ic_match_hand_values():
    metrics = cross_section_metrics(frames(FORECAST, REALISED, DAYS), quantiles=2, min_names=4)
    daily = cross_section_daily(frames(FORECAST, REALISED, DAYS), min_names=4)
    assert daily["rank_ic"].tolist() == pytest.approx(HAND_RANK_IC)
    assert daily["ic"].tolist() == pytest.approx(HAND_IC)
    assert daily["n"].tolist() == [4, 4, 4] and daily["baseline_rank_ic"].isna().all()
    ranks = np.array(HAND_RANK_IC)
    assert metrics["n_days"] == 3 and metrics["n_symbols"] == 4 and metrics["n_pairs"] == 12
    assert metrics["rank_ic"] == pytest.approx(0.4 / 3)
    assert metrics["rank_ic_std"] == pytest.approx(ranks.std(ddof=1))
    assert metrics["rank_icir"] == pytest.approx(ranks.mean() / ranks.std(ddof=1))
    assert metrics["rank_ic_t"] == pytest.approx(ranks.mean() / ranks.std(ddof=1) * math.sqrt(3))
    assert metrics["ic"] == pytest.approx(np.mean(HAND_IC))
    assert metrics["icir"] == pytest.approx(np.mean(HAND_IC) / np.std(HAND_IC, ddof=1))
    assert metrics["rank_ic_positive"] == pytest.approx(2 / 3)
    assert isinstance(metrics["rank_ic_nw_t"], float)
    assert metrics["baseline_reversal5_rank_ic"] is None and metrics["baseline_reversal5_ic"] is None
    assert strict_json(metrics) == metrics


def test_by_year_splits_the_days():
    by_year = cross_section_metrics(frames(FORECAST, REALISED, DAYS), quantiles=2, min_names=4)["by_year"]
    assert list(by_year) == ["2019", "2020"]
    assert by_year["2019"] == pytest.approx({"rank_ic": 0.8, "ic": HAND_IC[0], "n_days": 1})
    assert by_year["2020"] == pytest.approx({"rank_ic": -0.2, "ic": -0.2, "n_days": 2})


def test_quantile_returns_by_hand():
    metrics = cross_section_metrics(frames(FORECAST, REALISED, DAYS), quantiles=2, min_names=4)
    # low / high forecast halves: day 1 (1+3)/2, (2+10)/2; day 2 (3+4)/2, (1+2)/2; day 3 (2+1)/2, (4+3)/2
    assert metrics["quantile_returns"] == pytest.approx([7 / 300, 11 / 300])
    assert metrics["long_short"] == pytest.approx(4 / 300)
    spread = np.array([4, -2, 2]) / 100
    assert metrics["long_short_t"] == pytest.approx(spread.mean() / spread.std(ddof=1) * math.sqrt(3))


def test_quantile_groups_are_those_of_qcut_on_ranks():
    """A symbol's realised return is its pd.qcut group: every quantile's mean is then its number."""
    rng = np.random.default_rng(3)
    sizes = list(range(5, 31))
    forecast = np.full((len(sizes), 30), np.nan)
    realised = np.full((len(sizes), 30), np.nan)
    for day, n in enumerate(sizes):
        values = rng.permutation(n) / 100.0
        forecast[day, :n] = values
        groups = pd.qcut(pd.Series(values).rank(method="first"), 5, labels=False) + 1
        realised[day, :n] = groups.to_numpy() / 100
    index = pd.bdate_range("2021-01-04", periods=len(sizes), name="date")
    metrics = cross_section_metrics(frames(forecast, realised, index), quantiles=5, min_names=5)
    assert metrics["n_days"] == len(sizes)
    assert metrics["quantile_returns"] == pytest.approx([0.01, 0.02, 0.03, 0.04, 0.05])
    assert metrics["long_short"] == pytest.approx(0.04) and metrics["long_short_t"] is None  # no variance


@pytest.mark.parametrize("sign", [1, -1])
def test_perfect_and_reversed_forecasts(sign):
    rng = np.random.default_rng(0)
    realised = rng.normal(0, 0.02, (60, 20))
    index = pd.bdate_range("2020-01-01", periods=60, name="date")
    metrics = cross_section_metrics(frames(sign * realised, realised, index))
    assert metrics["n_days"] == 60
    assert metrics["rank_ic"] == pytest.approx(sign) and metrics["ic"] == pytest.approx(sign)
    assert metrics["rank_ic_positive"] == (1.0 if sign > 0 else 0.0)
    returns = np.array(metrics["quantile_returns"])
    assert (np.diff(returns) * sign > 0).all()
    assert metrics["long_short"] == pytest.approx(returns[-1] - returns[0]) and metrics["long_short"] * sign > 0


def test_reversal_factor_by_hand():
    closes = pd.Series([10.0, 11, 12, 13, 14, 15, 12])
    factor = reversal(closes)
    assert factor.iloc[:5].isna().all()
    assert factor.iloc[5] == pytest.approx(-0.5)  # -(15 / 10 - 1)
    assert factor.iloc[6] == pytest.approx(-(12 / 11 - 1))


def test_reversal_baseline_on_the_same_pairs():
    """Four symbols, 6 bars: reversal -0.1, 0.1, -0.2, 0 on the last bar (ranks 2 4 1 3) against
    realised 1 4 2 3 %: rank IC 1 - 6*2/60 = 0.8; Pearson 0.4 / sqrt(0.05 * 5) = 0.8. A symbol
    missing from the closes is left out."""
    index = pd.bdate_range("2020-03-02", periods=6, name="date")
    moves = [0.1, -0.1, 0.2, 0.0]
    closes = {f"s{j}": pd.Series(np.r_[10.0, 10.5, 9.5, 10.2, 10.1, 10 * (1 + g)], index=index)
              for j, g in enumerate(moves)}
    forecast = np.full((6, 4), np.nan)
    realised = np.full((6, 4), np.nan)
    forecast[[2, 5]] = [[4, 3, 2, 1], [1, 2, 3, 4]]
    realised[[2, 5]] = [[1, 2, 3, 4], [1, 4, 2, 3]]
    forecasts = frames(forecast / 100, realised / 100, index)
    with_baseline = cross_section_metrics(forecasts, closes, quantiles=2, min_names=4)
    assert with_baseline["n_days"] == 1  # day 3 has no close 5 rows back: left out for the model too
    assert with_baseline["rank_ic"] == pytest.approx(0.4)  # forecast ranks 1 2 3 4: 1 - 6*6/60
    assert with_baseline["baseline_reversal5_rank_ic"] == pytest.approx(0.8)
    assert with_baseline["baseline_reversal5_ic"] == pytest.approx(0.8)
    assert with_baseline["baseline_reversal5_rank_icir"] is None  # one day: no standard deviation
    daily = cross_section_daily(forecasts, closes, min_names=4)
    assert list(daily.index) == [index[5]] and daily["baseline_rank_ic"].iloc[0] == pytest.approx(0.8)
    assert cross_section_metrics(forecasts, quantiles=2, min_names=4)["n_days"] == 2
    assert cross_section_metrics(forecasts, {"s0": closes["s0"]}, quantiles=2, min_names=2)["n_symbols"] == 1


@pytest.mark.parametrize("case", ["empty", "too few names", "horizon 1", "unrealised", "constant"])
def test_nothing_to_evaluate_gives_none_not_nan(case):
    index = pd.bdate_range("2020-01-01", periods=3, name="date")
    rng = np.random.default_rng(1)
    names = 12 if case != "too few names" else 3
    forecasts = frames(rng.normal(0, 0.01, (3, names)), rng.normal(0, 0.01, (3, names)), index)
    if case == "empty":
        forecasts = {}
    elif case == "horizon 1":
        forecasts = {s: f.drop(columns=["pred_open_2", "open_2"]) for s, f in forecasts.items()}
    elif case == "unrealised":
        forecasts = {s: f.assign(open_2=np.nan) for s, f in forecasts.items()}
    elif case == "constant":
        forecasts = {s: f.iloc[:1].assign(pred_open_2=101.0) for s, f in forecasts.items()}
    metrics = cross_section_metrics(forecasts, closes={} if case == "empty" else None)
    assert strict_json(metrics) == metrics
    if case == "constant":  # one day whose forecasts never vary: counted, but no correlation
        assert metrics["n_days"] == 1 and metrics["rank_ic"] is None and metrics["ic"] is None
        return
    assert metrics["n_days"] == 0 and metrics["by_year"] == {}
    for key in ("rank_ic", "rank_icir", "ic", "icir", "rank_ic_t", "quantile_returns", "long_short",
                "baseline_reversal5_rank_ic", "baseline_reversal5_ic", "baseline_reversal5_rank_icir"):
        assert metrics[key] is None, key
    daily = cross_section_daily(forecasts)
    assert daily.empty and list(daily.columns) == ["n", "ic", "rank_ic", "baseline_ic", "baseline_rank_ic"]


def test_bad_settings_name_the_value():
    with pytest.raises(ValueError, match="quantiles=1 must be at least 2"):
        cross_section_metrics({}, quantiles=1)
    with pytest.raises(ValueError, match="min_names=3 is fewer than quantiles=5"):
        cross_section_metrics({}, min_names=3)


def test_universe_run_writes_the_cross_section(tmp_path: Path):
    """Ten synthetic symbols forecast by TINY: summary.json holds the cross-section, strict JSON."""
    folder = tmp_path / "bars"
    folder.mkdir()
    for k in range(10):
        bars = synthetic(140, seed=k).assign(code=f"{600000 + k}")
        bars[["open", "close", "high", "low", "volume", "code"]].to_csv(folder / f"{600000 + k}.SH.csv",
                                                                         index_label="date")
    out = tmp_path / "out"
    summary = forecast_universe(str(folder), TINY, out_dir=out, executor="inprocess", store=None)
    assert (summary["status"] == "ok").all()
    text = (out / "summary.json").read_text()
    payload = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in summary.json"))
    cross = payload["cross_section"]
    for key in ("rank_ic", "rank_icir", "ic", "icir", "rank_ic_t", "n_days", "by_year", "quantile_returns",
                "long_short", "baseline_reversal5_rank_ic"):
        assert key in cross, key
    assert cross["n_symbols"] == 10
    assert cross["n_days"] == summary["forecasts"].min() - 2  # open(t+2) of the last two is not known
    assert -1 <= cross["rank_ic"] <= 1 and -1 <= cross["baseline_reversal5_rank_ic"] <= 1
    assert len(cross["quantile_returns"]) == 5 and list(cross["by_year"]) == ["2020"]
    daily = pd.read_csv(out / "cross_section_daily.csv", index_col="date", parse_dates=True)
    assert len(daily) == cross["n_days"] and (daily["n"] == 10).all()
    assert daily["rank_ic"].mean() == pytest.approx(cross["rank_ic"])
    paths = write_cross_section_figures(out, daily, cross)
    assert [p.name for p in paths] == ["cross_section.png", "quantile_returns.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)


def test_figures_of_an_empty_cross_section(tmp_path: Path):
    metrics = cross_section_metrics({})
    paths = write_cross_section_figures(tmp_path, cross_section_daily({}), metrics, title="贵州茅台")
    assert all(p.stat().st_size > 1000 for p in paths)
