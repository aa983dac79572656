"""Diebold–Mariano, the bootstrap interval of the RMSE ratio, verdicts and hit rates, against
figures computed by hand (the formulas written out in numpy, not the library's code paths)."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from rnnstrategy.evaluation.metrics import forecast_metrics
from rnnstrategy.evaluation.significance import (
    default_lags,
    diebold_mariano,
    hit_rate,
    hln_factor,
    rmse_ratio_interval,
    verdict,
)

# twelve dates of model and naive errors
MODEL = np.array([0.5, -1.0, 0.2, 0.8, -0.3, 1.2, -0.7, 0.1, 0.4, -0.9, 0.6, -0.2])
NAIVE = np.array([0.7, -0.8, 0.9, 1.1, -0.2, 1.0, -1.3, 0.5, 0.3, -1.2, 0.4, -0.6])


def dm_by_hand(d: np.ndarray, horizon: int, lags: int) -> tuple[float, float]:
    """Mean loss differential over its Bartlett-weighted long-run standard error, times the HLN factor."""
    n = len(d)
    centred = d - d.mean()
    gamma = [np.sum(centred[k:] * centred[:n - k]) / n for k in range(lags + 1)]
    long_run = gamma[0] + 2 * sum((1 - k / (lags + 1)) * gamma[k] for k in range(1, lags + 1))
    dm = d.mean() / math.sqrt(long_run / n)
    hln = math.sqrt((n + 1 - 2 * horizon + horizon * (horizon - 1) / n) / n)
    statistic = dm * hln
    return statistic, 2 * (1 - stats.t.cdf(abs(statistic), df=n - 1))


def test_hln_factor_and_default_lags():
    assert hln_factor(12, 1) == pytest.approx(math.sqrt(11 / 12))
    assert hln_factor(12, 2) == pytest.approx(math.sqrt(55 / 72))  # (12 + 1 - 4 + 2/12) / 12
    assert math.isnan(hln_factor(2, 2))  # (2 + 1 - 4 + 1) / 2 = 0: too few dates for h = 2
    assert default_lags(2134, 1) == 7  # floor(4 * 21.34 ** (2/9)), the independent check
    assert default_lags(2134, 12) == 11  # never fewer than h - 1
    assert default_lags(12, 1) == 2 and default_lags(12, 2) == 2  # floor(4 * 0.12 ** (2/9)) = floor(2.497)
    assert default_lags(2, 5) == 1  # at most n - 1


@pytest.mark.parametrize(("horizon", "lags"), [(1, 0), (1, None), (2, 1), (2, None)])
def test_diebold_mariano_squared_matches_the_formula(horizon, lags):
    expected = dm_by_hand(MODEL**2 - NAIVE**2, horizon, 2 if lags is None else lags)
    assert diebold_mariano(MODEL, NAIVE, horizon, lags=lags) == pytest.approx(expected, rel=1e-12)


def test_diebold_mariano_absolute_matches_the_formula():
    expected = dm_by_hand(np.abs(MODEL) - np.abs(NAIVE), 2, 1)
    assert diebold_mariano(MODEL, NAIVE, 2, loss="absolute", lags=1) == pytest.approx(expected, rel=1e-12)


def test_diebold_mariano_pinned_figures():
    # h = 1, no lags (the classic test of serially uncorrelated losses): sum MODEL² = 5.33,
    # sum NAIVE² = 8.18, so mean d = -2.85 / 12
    statistic, pvalue = diebold_mariano(MODEL, NAIVE, 1, lags=0)
    d = MODEL**2 - NAIVE**2
    assert d.mean() == pytest.approx(-2.85 / 12)
    assert statistic == pytest.approx(d.mean() / math.sqrt(np.mean((d - d.mean()) ** 2) / 12) * math.sqrt(11 / 12))
    assert (statistic, pvalue) == pytest.approx((-1.671162, 0.122864), abs=1e-6)
    # h = 2 with the default 2 lags: significant at 5 % on squared and on absolute errors
    assert diebold_mariano(MODEL, NAIVE, 2) == pytest.approx((-3.094232, 0.010209), abs=1e-6)
    assert diebold_mariano(MODEL, NAIVE, 2, loss="absolute") == pytest.approx((-2.823716, 0.016557), abs=1e-6)
    assert diebold_mariano(NAIVE, MODEL, 1, lags=0) == pytest.approx((-statistic, pvalue))  # antisymmetric


def test_diebold_mariano_degenerate_cases():
    assert diebold_mariano(MODEL, MODEL, 1) == (0.0, 1.0)  # identical losses on every date
    assert diebold_mariano(MODEL, -MODEL, 2) == (0.0, 1.0)  # same squared losses
    assert diebold_mariano(np.zeros(5), np.ones(5), 1) == (-math.inf, 0.0)
    assert all(math.isnan(x) for x in diebold_mariano(MODEL[:1], NAIVE[:1], 1))
    with pytest.raises(ValueError, match="loss='cubic'"):
        diebold_mariano(MODEL, NAIVE, 1, loss="cubic")
    with pytest.raises(ValueError, match="lags=12 must be in 0..11"):
        diebold_mariano(MODEL, NAIVE, 1, lags=12)
    with pytest.raises(ValueError, match=r"shapes \(12,\) and \(11,\)"):
        diebold_mariano(MODEL, NAIVE[:-1], 1)


def test_bootstrap_interval_is_reproducible_and_contains_the_ratio():
    rng = np.random.default_rng(7)
    naive = rng.normal(size=400)
    model = 0.97 * naive + rng.normal(scale=0.2, size=400)
    ratio = math.sqrt(np.mean(model**2) / np.mean(naive**2))
    low, high = rmse_ratio_interval(model, naive, block=20, reps=999, seed=3)
    assert (low, high) == rmse_ratio_interval(model, naive, block=20, reps=999, seed=3)
    assert (low, high) != rmse_ratio_interval(model, naive, block=20, reps=999, seed=4)
    assert low < ratio < high and high - low < 0.1
    wider = rmse_ratio_interval(model, naive, block=20, reps=999, seed=3, level=0.99)
    assert wider[0] <= low and high <= wider[1]
    assert rmse_ratio_interval(naive, naive) == (1.0, 1.0)
    assert all(math.isnan(x) for x in rmse_ratio_interval(model[:1], naive[:1]))


def test_verdict_boundaries():
    assert verdict(0.54, 0.998, (0.994, 1.004)) == \
        "ties the previous-close forecast: RMSE 0.998x [0.994, 1.004], DM p = 0.54"
    assert verdict(0.0499, 0.9, (0.85, 0.95)) == \
        "beats the previous-close forecast: RMSE 0.900x [0.850, 0.950], DM p = 0.0499"
    assert verdict(0.05, 0.9) == "ties the previous-close forecast: RMSE 0.900x, DM p = 0.05"  # not below 0.05
    assert verdict(0.0001, 1.0).startswith("ties ")  # a ratio of exactly 1 neither beats nor loses
    assert verdict(0.0001, 1.2, baseline="previous-open") == \
        "loses to the previous-open forecast: RMSE 1.200x, DM p = < 0.001"
    assert verdict(0.01, 0.9, alpha=0.001).startswith("ties ")
    assert verdict(float("nan"), 0.9) == "ties the previous-close forecast: RMSE 0.900x, DM p = n/a"
    assert verdict(float("nan"), float("nan")) == "has no realised opens to compare with yet"


def test_hit_rate_counts_days_without_a_move_as_misses():
    pred = np.array([1.0, -1.0, 1.0, 0.5, -2.0, 1.0, 0.0])
    actual = np.array([1.0, 0.0, -1.0, 2.0, -1.0, 0.0, 3.0])
    # hits: day 0 (up, up), day 3 (up, up), day 4 (down, down); days 1 and 5 had no move, day 6 no call
    result = hit_rate(pred, actual)
    assert result["direction_hits"] == 3 and result["direction_days"] == 7
    assert result["direction_hit_rate"] == pytest.approx(3 / 7)
    assert result["direction_always_up_hit_rate"] == pytest.approx(3 / 7)  # days 0, 3, 6
    assert result["direction_always_down_hit_rate"] == pytest.approx(2 / 7)  # days 2, 4
    # P(Binomial(7, 3/7) >= 3): the better constant call, "always up", is the null
    p = 3 / 7
    assert result["direction_pvalue"] == pytest.approx(sum(math.comb(7, k) * p**k * (1 - p) ** (7 - k)
                                                           for k in range(3, 8)))
    assert hit_rate(np.array([]), np.array([]))["direction_hit_rate"] is None


def _bars(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    opens = np.r_[100.0, close[:-1]] * np.exp(rng.normal(0, 0.005, n))
    index = pd.bdate_range("2020-01-02", periods=n, name="date")
    return pd.DataFrame({"open": opens, "high": np.maximum(opens, close) + 1, "low": np.minimum(opens, close) - 1,
                         "close": close, "volume": 1e6}, index=index)


def test_a_model_identical_to_the_previous_close_ties():
    bars = _bars()
    forecasts = pd.DataFrame({"pred_open_1": bars["close"], "pred_open_2": bars["close"]}, index=bars.index)
    m = forecast_metrics(forecasts, bars)
    for h in ("h1", "h2"):
        assert m[h]["rmse_ratio"] == 1.0 and m[h]["rmse_ratio_ci"] == [1.0, 1.0]
        assert (m[h]["dm_stat"], m[h]["dm_pvalue"], m[h]["dm_abs_pvalue"]) == (0.0, 1.0, 1.0)
        assert m[h]["verdict"] == "ties the previous-close forecast: RMSE 1.000x [1.000, 1.000], DM p = 1.00"
        assert m[h]["direction_hit_rate"] == 0.0  # it never calls a direction
    assert m["verdict"] == m["h1"]["verdict"] and m["dm_pvalue"] == 1.0


def test_a_clearly_better_model_beats_and_a_worse_one_loses():
    bars = _bars()
    rng = np.random.default_rng(1)
    following = bars["open"].shift(-1).ffill()
    good = pd.DataFrame({"pred_open_1": following + rng.normal(0, 0.05, len(bars))}, index=bars.index)
    bad = pd.DataFrame({"pred_open_1": bars["close"] + rng.normal(0, 3.0, len(bars))}, index=bars.index)
    better, worse = forecast_metrics(good, bars), forecast_metrics(bad, bars)
    assert better["verdict"].startswith("beats the previous-close forecast")
    assert better["h1"]["verdict_prev_open"].startswith("beats the previous-open forecast")
    assert better["h1"]["dm_pvalue"] < 0.001 and better["h1"]["rmse_ratio_ci"][1] < 1
    assert better["h1"]["direction_pvalue"] < 0.001
    assert worse["verdict"].startswith("loses to the previous-close forecast")
    assert worse["h1"]["dm_abs_pvalue"] < 0.05 and worse["h1"]["rmse_ratio_ci"][0] > 1
