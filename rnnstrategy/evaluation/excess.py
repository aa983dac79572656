"""Is a strategy's mean daily return above a baseline's? A HAC (Newey–West) t-test.

Usage::

    excess_return_test(report.returns, report.buy_and_hold)
    # {"days": 2135, "mean_daily": -0.00063, "annualised": -0.152, "information_ratio": -0.48,
    #  "hac_t": -2.21, "p_value": 0.027, "lags": 7}

Daily excess returns are autocorrelated and heteroskedastic (a strategy that holds the stock
on some days and cash on others), so the t-statistic of their mean divides by a Newey–West
standard error (:func:`rnnstrategy.evaluation.significance.hac_mean_t`, the estimate behind the
Diebold–Mariano test) over the lags of :func:`rnnstrategy.evaluation.significance.default_lags`
(the rule the forecast verdicts use). The p-value is two-sided, from the normal distribution.

:func:`information_ratio` is the annualised mean of the daily excess over its annualised standard
deviation (sample, ``ddof=1``): ``mean / std * sqrt(periods_per_year)``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from rnnstrategy.ashare.calendar import PERIODS_PER_YEAR
from rnnstrategy.evaluation.significance import default_lags, hac_mean_t

__all__ = ["excess_return_test", "information_ratio"]


def information_ratio(excess: np.ndarray | pd.Series, periods_per_year: int = PERIODS_PER_YEAR) -> float | None:
    """``mean / std * sqrt(periods_per_year)`` of the daily ``excess`` returns (NaN days left out; sample
    standard deviation); None for fewer than 2 days or an excess that never varies."""
    values = np.asarray(excess, dtype=float)
    values = values[~np.isnan(values)]
    if len(values) < 2:
        return None
    spread = float(values.std(ddof=1))
    if not math.isfinite(spread) or spread <= 1e-15 * max(1.0, float(np.abs(values).max())):
        return None
    return float(values.mean()) / spread * math.sqrt(periods_per_year)


def excess_return_test(returns: pd.Series, baseline: pd.Series,
                       periods_per_year: int = PERIODS_PER_YEAR) -> dict[str, float | int | None]:
    """Mean daily excess return of ``returns`` over ``baseline`` and its HAC t-test.

    Args:
        returns, baseline: daily returns; only the dates where both are known count.
        periods_per_year: trading days per year; ``annualised`` is the mean daily excess
            times this (arithmetic, not compounded).

    Returns:
        ``days``, ``mean_daily``, ``annualised``, ``information_ratio`` (:func:`information_ratio`),
        ``hac_t``, ``p_value`` (two-sided) and ``lags``; the t-statistic and p-value are None when
        the excess never varies or there are fewer than 3 days.
    """
    excess = (returns.astype(float) - baseline.astype(float)).dropna().to_numpy()
    days = len(excess)
    mean = float(excess.mean()) if days else None
    lags = default_lags(days, 1)
    t = hac_mean_t(excess, lags) if days >= 3 else math.nan
    finite = math.isfinite(t)
    return {
        "days": days,
        "mean_daily": mean,
        "annualised": None if mean is None else mean * periods_per_year,
        "information_ratio": information_ratio(excess, periods_per_year),
        "hac_t": t if finite else None,
        "p_value": math.erfc(abs(t) / math.sqrt(2)) if finite else None,
        "lags": lags,
    }
