"""Sharpe ratios with uncertainty: PSR, expected maximum, DSR and the interval, against the
papers' formulas written out in numpy."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kurtosis, norm, skew

from rnnstrategy.evaluation.sharpe import (
    deflated_sharpe,
    expected_max_sharpe,
    probabilistic_sharpe,
    sharpe_interval,
    sharpe_ratio,
    sharpe_std,
)

SMALL = np.array([0.01, -0.02, 0.03, -0.01, 0.02, 0.015, -0.005])
# positive Sharpe ratio, one crash: skewness -2.37, kurtosis 9.32 (excess 6.32)
FAT_TAILED = np.array([0.012, -0.004, 0.007, 0.003, -0.006, 0.010, 0.002, -0.001, 0.009, -0.030,
                       0.011, 0.004, 0.006, 0.001, 0.008, 0.005, -0.002, 0.007, 0.003, 0.006])


def paper(returns, kurt=None, benchmark=0.0):
    """Bailey & López de Prado (2012) written out: SR, g3, g4, sigma(SR), PSR."""
    n = len(returns)
    centred = returns - returns.mean()
    m2 = np.mean(centred**2)
    g3 = np.mean(centred**3) / m2**1.5
    g4 = np.mean(centred**4) / m2**2 if kurt is None else kurt
    sr = returns.mean() / returns.std(ddof=1)
    std = np.sqrt((1 - g3 * sr + (g4 - 1) / 4 * sr**2) / (n - 1))
    return sr, g3, g4, std, norm.cdf((sr - benchmark) / std)


def test_small_series_against_the_formulas():
    sr, g3, g4, std, psr = paper(SMALL)
    assert sr == pytest.approx(0.04 / 7 / 0.0178951975, rel=1e-8)  # mean / sample std
    assert g3 == pytest.approx(skew(SMALL, bias=True))
    assert g4 == pytest.approx(kurtosis(SMALL, fisher=False, bias=True))
    assert sharpe_ratio(SMALL) == pytest.approx(sr, rel=1e-12)
    assert sharpe_std(SMALL) == pytest.approx(std, rel=1e-12)
    assert probabilistic_sharpe(SMALL) == pytest.approx(psr, rel=1e-12)
    assert probabilistic_sharpe(SMALL, 0.1) == pytest.approx(paper(SMALL, benchmark=0.1)[4], rel=1e-12)
    assert probabilistic_sharpe(SMALL) == pytest.approx(0.77645, abs=1e-5)


def test_non_finite_returns_are_dropped_and_degenerate_series_are_nan():
    with_gaps = pd.Series([np.nan, *SMALL, np.inf])
    assert probabilistic_sharpe(with_gaps) == probabilistic_sharpe(SMALL)
    for degenerate in ([0.01], [0.0, 0.0, 0.0], []):
        assert math.isnan(sharpe_ratio(degenerate))
        assert math.isnan(probabilistic_sharpe(degenerate))
        assert all(math.isnan(end) for end in sharpe_interval(degenerate))


def test_psr_grows_with_the_length_of_the_record():
    psrs = [probabilistic_sharpe(np.tile(SMALL, k)) for k in (1, 2, 4, 8, 16)]
    assert psrs == sorted(psrs) and psrs[-1] > 0.999
    losing = [probabilistic_sharpe(np.tile(-SMALL, k)) for k in (1, 2, 4, 8)]
    assert losing == sorted(losing, reverse=True)


def test_psr_uses_the_kurtosis_not_the_excess_kurtosis():
    sr, g3, g4, _, psr = paper(FAT_TAILED)
    assert (sr, g3, g4) == pytest.approx((0.28044, -2.36793, 9.32133), abs=1e-5)
    ours = probabilistic_sharpe(FAT_TAILED)
    assert ours == pytest.approx(psr, rel=1e-12) == pytest.approx(0.81706, abs=1e-5)
    with_excess = paper(FAT_TAILED, kurt=g4 - 3)[4]  # older quantstats: excess kurtosis in the formula
    assert with_excess == pytest.approx(0.82099, abs=1e-5)
    assert abs(ours - with_excess) > 3e-3


def test_quantstats_psr_differs_from_the_paper_on_a_fat_tailed_series():
    qs = pytest.importorskip("quantstats")
    theirs = qs.stats.probabilistic_sharpe_ratio(pd.Series(FAT_TAILED, pd.bdate_range("2020-01-01", periods=20)))
    assert abs(theirs - probabilistic_sharpe(FAT_TAILED)) > 3e-3


def test_expected_max_sharpe():
    assert expected_max_sharpe(1, 0.5) == 0.0
    gamma = np.euler_gamma
    for n in (2, 6, 100):
        by_hand = 0.5 * ((1 - gamma) * norm.ppf(1 - 1 / n) + gamma * norm.ppf(1 - 1 / (n * np.e)))
        assert expected_max_sharpe(n, 0.5) == pytest.approx(by_hand, rel=1e-9)
    # close to the expected maximum of N standard normals (1.5388 for N = 10)
    assert expected_max_sharpe(10, 1.0) == pytest.approx(1.5388, abs=0.04)
    assert [expected_max_sharpe(n, 1.0) for n in (2, 5, 50, 500)] == sorted(
        expected_max_sharpe(n, 1.0) for n in (2, 5, 50, 500))
    for wrong in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match=rf"trials={wrong!r}: give the number of configurations tried"):
            expected_max_sharpe(wrong, 1.0)


def test_deflated_sharpe():
    psr = probabilistic_sharpe(FAT_TAILED)
    assert deflated_sharpe(FAT_TAILED, 1) == psr
    dsrs = [deflated_sharpe(FAT_TAILED, n) for n in (2, 6, 50)]
    assert all(d < psr for d in dsrs) and dsrs == sorted(dsrs, reverse=True)
    # a single run: the trials' spread is the estimator's own standard deviation
    _, _, _, std, _ = paper(FAT_TAILED)
    hurdle = std * ((1 - np.euler_gamma) * norm.ppf(1 - 1 / 6) + np.euler_gamma * norm.ppf(1 - 1 / (6 * np.e)))
    assert deflated_sharpe(FAT_TAILED, 6) == pytest.approx(paper(FAT_TAILED, benchmark=hurdle)[4], rel=1e-9)
    # a sweep knows the spread of its trials' Sharpe ratios
    assert deflated_sharpe(FAT_TAILED, 6, trial_sharpe_std=0.05) == pytest.approx(
        probabilistic_sharpe(FAT_TAILED, expected_max_sharpe(6, 0.05)), rel=1e-12)


def test_sharpe_interval():
    sr, _, _, std, _ = paper(SMALL)
    low, high = sharpe_interval(SMALL)
    assert (low, high) == pytest.approx((sr - 1.959964 * std, sr + 1.959964 * std), rel=1e-6)
    low252, high252 = sharpe_interval(SMALL, 0.9, periods=252)
    assert (low252, high252) == pytest.approx(
        (np.sqrt(252) * (sr - 1.644854 * std), np.sqrt(252) * (sr + 1.644854 * std)), rel=1e-6)
    with pytest.raises(ValueError, match="level=95: give a confidence level between 0 and 1"):
        sharpe_interval(SMALL, 95)
