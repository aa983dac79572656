"""Sharpe ratios with their uncertainty: the probabilistic and the deflated Sharpe ratio.

Plain functions of a series of per-period (daily) returns; non-finite values are dropped.
Every Sharpe ratio here is per period and not annualised unless a function says otherwise:
``SR = mean / std`` with the sample standard deviation (``ddof=1``) and no risk-free rate.

The estimator's asymptotic standard deviation (Bailey & López de Prado 2012, after Mertens
2002) is ::

    sigma(SR) = sqrt((1 - g3 * SR + (g4 - 1) / 4 * SR**2) / (n - 1))

with ``g3`` the skewness and ``g4`` the kurtosis of the returns: the plain sample moments
``m3 / m2**1.5`` and ``m4 / m2**2`` (``m_k`` the k-th central moment, divided by n), and the
kurtosis itself, 3 for normal returns, *not* the excess kurtosis. With normal returns the
variance is Lo's ``(1 + SR**2 / 2) / (n - 1)``.

* :func:`probabilistic_sharpe` - PSR, the probability that the true Sharpe ratio exceeds a
  benchmark: ``Phi((SR - SR*) / sigma(SR))``;
* :func:`expected_max_sharpe` - the largest Sharpe ratio expected among N trials whose true
  Sharpe ratio is zero (Bailey & López de Prado 2014);
* :func:`deflated_sharpe` - DSR, the PSR against that expected maximum;
* :func:`sharpe_interval` - the normal interval ``SR ± z * sigma(SR)``.

References: D. H. Bailey, M. López de Prado, "The Sharpe ratio efficient frontier", Journal of
Risk 15(2), 2012; "The deflated Sharpe ratio: correcting for selection bias, backtest
overfitting and non-normality", Journal of Portfolio Management 40(5), 2014.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

__all__ = [
    "DSR_NOTE",
    "PSR_NOTE",
    "deflated_sharpe",
    "expected_max_sharpe",
    "probabilistic_sharpe",
    "sharpe_interval",
    "sharpe_ratio",
    "sharpe_std",
]

PSR_NOTE = ("Probabilistic Sharpe ratio (Bailey & López de Prado 2012): the probability that the true Sharpe "
            "ratio exceeds 0, from the daily Sharpe ratio, the sample skewness and the sample kurtosis of the daily "
            "returns (the kurtosis, 3 for normal returns, not the excess kurtosis).")
"""What the reports say about the PSR they show."""

DSR_NOTE = ("Deflated Sharpe ratio (Bailey & López de Prado 2014): the same probability against the Sharpe ratio "
            "expected from the best of the {trials} configurations tried if none of them had any skill; their "
            "Sharpe ratios' spread is taken as this Sharpe ratio's own standard error.")
"""What the reports say about the DSR of a single run (``.format(trials=...)``)."""

_NORMAL = NormalDist()


def _clean(returns: object) -> np.ndarray:
    values = np.asarray(returns, dtype=float).ravel()
    return values[np.isfinite(values)]


def _moments(values: np.ndarray) -> tuple[float, float, float, int]:
    """The per-period Sharpe ratio, skewness and kurtosis (not excess) of ``values`` and their
    number; NaN where undefined (fewer than 2 values, or no variation)."""
    n = len(values)
    if n < 2:
        return math.nan, math.nan, math.nan, n
    centred = values - values.mean()
    m2 = float(np.mean(centred**2))
    if m2 == 0:
        return math.nan, math.nan, math.nan, n
    sr = float(values.mean() / values.std(ddof=1))
    return sr, float(np.mean(centred**3)) / m2**1.5, float(np.mean(centred**4)) / m2**2, n


def sharpe_ratio(returns: object) -> float:
    """The per-period Sharpe ratio of ``returns``: mean / sample standard deviation (``ddof=1``),
    not annualised, no risk-free rate; NaN for fewer than 2 returns or constant returns."""
    return _moments(_clean(returns))[0]


def sharpe_std(returns: object) -> float:
    """The asymptotic standard deviation of the per-period Sharpe ratio estimated from ``returns``:
    ``sqrt((1 - g3 * SR + (g4 - 1) / 4 * SR**2) / (n - 1))``, g3 the skewness, g4 the kurtosis
    (not excess); NaN where the Sharpe ratio is undefined."""
    sr, skew, kurt, n = _moments(_clean(returns))
    return _std(sr, skew, kurt, n)


def _std(sr: float, skew: float, kurt: float, n: int) -> float:
    if math.isnan(sr):
        return math.nan
    return math.sqrt(max(1 - skew * sr + (kurt - 1) / 4 * sr**2, 0.0) / (n - 1))


def probabilistic_sharpe(returns: object, benchmark_sharpe: float = 0.0) -> float:
    """PSR: the probability that the true per-period Sharpe ratio of ``returns`` exceeds
    ``benchmark_sharpe`` (per period, not annualised)::

        Phi((SR - SR*) * sqrt(n - 1) / sqrt(1 - g3 * SR + (g4 - 1) / 4 * SR**2))

    with g3 the skewness and g4 the kurtosis (not excess) of the returns. NaN where the Sharpe
    ratio is undefined.
    """
    sr, skew, kurt, n = _moments(_clean(returns))
    std = _std(sr, skew, kurt, n)
    if math.isnan(std):
        return math.nan
    if std == 0:
        return 1.0 if sr > benchmark_sharpe else 0.0 if sr < benchmark_sharpe else 0.5
    return _NORMAL.cdf((sr - benchmark_sharpe) / std)


def expected_max_sharpe(trials: int, sharpe_std: float) -> float:
    """The expected largest of ``trials`` independent per-period Sharpe ratio estimates whose true
    value is zero and whose standard deviation across trials is ``sharpe_std``
    (Bailey & López de Prado 2014)::

        sharpe_std * ((1 - gamma) * Phi^-1(1 - 1/N) + gamma * Phi^-1(1 - 1/(N e)))

    gamma the Euler–Mascheroni constant. One trial: 0 (nothing was chosen).
    """
    if isinstance(trials, bool) or int(trials) != trials or trials < 1:
        raise ValueError(f"trials={trials!r}: give the number of configurations tried, a whole number >= 1")
    if trials == 1:
        return 0.0
    gamma = float(np.euler_gamma)
    return sharpe_std * ((1 - gamma) * _NORMAL.inv_cdf(1 - 1 / trials)
                         + gamma * _NORMAL.inv_cdf(1 - 1 / (trials * math.e)))


def deflated_sharpe(returns: object, trials: int, trial_sharpe_std: float | None = None) -> float:
    """DSR: the PSR of ``returns`` against the Sharpe ratio expected from the best of ``trials``
    configurations that have no skill (:func:`expected_max_sharpe`).

    Args:
        returns: per-period returns of the chosen configuration.
        trials: configurations tried before choosing this one (1: DSR == PSR against 0).
        trial_sharpe_std: the standard deviation of the trials' per-period Sharpe ratios (a
            sweep knows it). None, for a single run that only states how many were tried:
            the standard deviation of the Sharpe ratio estimator itself,
            :func:`sharpe_std` of ``returns``, is used in its place - what the spread of the
            trials' Sharpe ratios would be if every trial had this run's Sharpe ratio and
            return distribution, and differed only by sampling noise.
    """
    values = _clean(returns)
    spread = sharpe_std(values) if trial_sharpe_std is None else trial_sharpe_std
    return probabilistic_sharpe(values, expected_max_sharpe(trials, spread))


def sharpe_interval(returns: object, level: float = 0.95, periods: int = 1) -> tuple[float, float]:
    """The normal interval ``SR ± z * sigma(SR)`` of the Sharpe ratio at confidence ``level``,
    from the asymptotic standard deviation :func:`sharpe_std`; both ends multiplied by
    ``sqrt(periods)`` (``periods=252``: annualised from daily returns; 1: per period).
    (NaN, NaN) where the Sharpe ratio is undefined."""
    if not 0 < level < 1:
        raise ValueError(f"level={level!r}: give a confidence level between 0 and 1, e.g. 0.95")
    sr, skew, kurt, n = _moments(_clean(returns))
    half = _NORMAL.inv_cdf(0.5 + level / 2) * _std(sr, skew, kurt, n)
    scale = math.sqrt(periods)
    return (sr - half) * scale, (sr + half) * scale
