"""Is a forecast better than a naive one, or only luckier? Tests that say "beats", "ties" or "loses".

Plain functions of two arrays of forecast errors on the same dates (model minus realised, naive
minus realised):

* :func:`diebold_mariano` - the Diebold–Mariano test of equal expected loss, with a Newey–West
  long-run variance and the Harvey–Leybourne–Newbold small-sample correction;
* :func:`rmse_ratio_interval` - a moving-block bootstrap interval of RMSE(model) / RMSE(naive);
* :func:`verdict` - the sentence the metrics, the console and the plots show;
* :func:`hit_rate` - the direction hit rate beside the best constant call, with a binomial test.

statsmodels, arch and scipy are imported inside the functions that use them (and nowhere outside
``rnnstrategy.evaluation``), so importing this module costs nothing.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

__all__ = [
    "ALPHA",
    "DIRECTION_DEFINITION",
    "default_lags",
    "diebold_mariano",
    "format_pvalue",
    "hac_mean_t",
    "hit_rate",
    "hln_factor",
    "rmse_ratio_interval",
    "verdict",
]

ALPHA = 0.05
"""The significance level of every verdict: "beats" and "loses" need p < ALPHA."""

DIRECTION_DEFINITION = (
    "share of all compared days on which the predicted move from close(t) has the sign of the realised "
    "move open(t+h) - close(t); a day with no realised move, or with no predicted move, is a miss for every "
    "forecaster, 'always up' included; p-value: one-sided binomial test of the hits against the hit rate of "
    "the better constant call ('always up' or 'always down') on the same days"
)
"""How :func:`hit_rate` counts, in the words ``metrics.json`` records."""


def default_lags(n: int, horizon: int) -> int:
    """Newey–West lags for ``n`` loss differentials of ``horizon``-step forecasts.

    ``max(horizon - 1, floor(4 * (n / 100) ** (2 / 9)))``, at most ``n - 1``: the classic
    Diebold–Mariano truncation ``horizon - 1`` (the errors of overlapping h-step forecasts
    are MA(h - 1) when the forecasts are optimal), raised to the Newey–West (1994) plug-in
    rule because a walk-forward network is no optimal forecast: its errors, and so the loss
    differential, can be autocorrelated at any horizon (slowly changing bias between
    retrains), and zero lags at h = 1 would then understate the variance and overstate
    significance. The rule gives 7 lags for n = 2134, the independent check of issue 14.
    """
    rule = math.floor(4 * (n / 100) ** (2 / 9)) if n > 0 else 0
    return max(0, min(max(horizon - 1, rule), n - 1))


def hln_factor(n: int, horizon: int) -> float:
    """The Harvey–Leybourne–Newbold (1997) correction ``sqrt((n + 1 - 2h + h(h - 1)/n) / n)``
    that multiplies the DM statistic (NaN when ``n`` is too small for ``horizon``)."""
    inside = (n + 1 - 2 * horizon + horizon * (horizon - 1) / n) / n if n > 0 else float("nan")
    return math.sqrt(inside) if inside > 0 else float("nan")


def diebold_mariano(errors_model: np.ndarray, errors_baseline: np.ndarray, horizon: int,
                    loss: Literal["squared", "absolute"] = "squared",
                    lags: int | None = None) -> tuple[float, float]:
    """Diebold–Mariano test that the model and the baseline have the same expected loss.

    The loss differential is ``d_t = L(e_model_t) - L(e_baseline_t)`` with ``L(e) = e**2``
    or ``|e|``; negative mean means the model's losses are smaller. Its long-run variance is
    the Newey–West (Bartlett kernel) estimate ``g0 + 2 * sum_k (1 - k / (lags + 1)) * g_k``
    (``g_k`` the autocovariances, divided by n), computed by statsmodels' HAC covariance of a
    regression of d on a constant without small-sample correction. The statistic
    ``mean(d) / sqrt(lrv / n)`` is multiplied by :func:`hln_factor` and referred to Student's
    t with ``n - 1`` degrees of freedom, two-sided (Harvey, Leybourne and Newbold, 1997).

    Args:
        errors_model: forecast minus realised, one per date.
        errors_baseline: the naive forecast's errors on the same dates.
        horizon: h of the h-step forecasts (sets the lags and the HLN correction).
        loss: ``"squared"`` (the test behind an RMSE ratio) or ``"absolute"`` (MAE).
        lags: Newey–West lags; ``None`` for :func:`default_lags` (see there why not
            ``horizon - 1`` alone).

    Returns:
        ``(statistic, p_value)``: NaN for both with fewer than 2 dates; ``(0.0, 1.0)`` when
        the losses are identical on every date; ``(±inf, 0.0)`` when they differ by the same
        non-zero amount on every date.
    """
    from scipy import stats

    e_model, e_base = _paired(errors_model, errors_baseline)
    if horizon < 1:
        raise ValueError(f"horizon={horizon} must be at least 1")
    if loss not in ("squared", "absolute"):
        raise ValueError(f"loss={loss!r} is not one of 'squared', 'absolute'")
    n = len(e_model)
    factor = hln_factor(n, horizon)
    if n < 2 or math.isnan(factor):
        return float("nan"), float("nan")
    d = e_model**2 - e_base**2 if loss == "squared" else np.abs(e_model) - np.abs(e_base)
    if not np.any(d - d[0]):  # constant differential: no variance to estimate
        return (0.0, 1.0) if d[0] == 0 else (math.copysign(math.inf, d[0]), 0.0)
    lags = default_lags(n, horizon) if lags is None else lags
    if not 0 <= lags < n:
        raise ValueError(f"lags={lags} must be in 0..{n - 1} for {n} dates")
    statistic = hac_mean_t(d, lags) * factor
    return statistic, float(2 * stats.t.sf(abs(statistic), df=n - 1))


def hac_mean_t(values: np.ndarray, lags: int) -> float:
    """The t-statistic of the mean of ``values`` with a Newey–West (Bartlett) standard error:
    long-run variance ``g0 + 2 * sum_k (1 - k / (lags + 1)) * g_k`` (autocovariances divided by
    n, no small-sample correction), by statsmodels' HAC covariance of a regression on a
    constant. NaN when the values never vary (there is no variance to estimate)."""
    from statsmodels.regression.linear_model import OLS

    values = np.asarray(values, dtype=float)
    if len(values) < 2 or not np.any(values - values[0]):
        return math.nan
    fit = OLS(values, np.ones(len(values))).fit(cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": False})
    return float(fit.tvalues[0])


def rmse_ratio_interval(errors_model: np.ndarray, errors_baseline: np.ndarray, block: int = 20, reps: int = 999,
                        seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of RMSE(model) / RMSE(baseline) by a moving-block bootstrap.

    The paired errors are resampled together in blocks of ``block`` consecutive dates (arch's
    :class:`~arch.bootstrap.MovingBlockBootstrap`), which keeps their correlation with each
    other and their autocorrelation up to the block length.

    Args:
        errors_model, errors_baseline: the errors on the same dates.
        block: dates per block (at most half the number of dates).
        reps: bootstrap replications.
        seed: seed of the resampling: the same seed gives the same interval.
        level: coverage of the two-sided interval.

    Returns:
        ``(low, high)``; NaN for both with fewer than 2 dates or a baseline without error.
    """
    from arch.bootstrap import MovingBlockBootstrap

    e_model, e_base = _paired(errors_model, errors_baseline)
    if len(e_model) < 2 or not np.any(e_base):
        return float("nan"), float("nan")
    block = max(1, min(block, len(e_model) // 2))  # a block of every date would resample nothing
    bootstrap = MovingBlockBootstrap(block, e_model, e_base, seed=seed)
    low, high = bootstrap.conf_int(_rmse_ratio, reps=reps, method="percentile", size=level)[:, 0]
    return float(low), float(high)


def _rmse_ratio(e_model: np.ndarray, e_base: np.ndarray) -> float:
    denominator = np.sqrt(np.mean(e_base**2))
    return float(np.sqrt(np.mean(e_model**2)) / denominator) if denominator else float("nan")


def verdict(pvalue: float, ratio: float, interval: tuple[float, float] | None = None,
            baseline: str = "previous-close", alpha: float = ALPHA, *, baseline_rmse: float | None = None) -> str:
    """The sentence on the model against one naive forecast, e.g.
    ``"ties the previous-close forecast: RMSE 0.998x [0.994, 1.004], DM p = 0.54"``; its subject is
    the model ("the model ties ...").

    It begins with ``"beats"`` when ``pvalue < alpha`` and ``ratio < 1``, ``"loses"`` when
    ``pvalue < alpha`` and ``ratio > 1``, and ``"ties"`` otherwise (p of exactly ``alpha``, a
    ratio of exactly 1, or no p-value). A ``baseline_rmse`` of 0 (the naive forecast is exact on
    every date: prices that never move) says the model cannot be judged; with no ratio otherwise
    it says there was nothing to compare.
    """
    if baseline_rmse == 0:
        return (f"cannot be judged: every realised open equals the {baseline} forecast (prices never move: "
                "nothing to forecast)")
    if math.isnan(ratio):
        return "has no realised opens to compare with yet"
    significant = not math.isnan(pvalue) and pvalue < alpha
    word = "beats" if significant and ratio < 1 else "loses to" if significant and ratio > 1 else "ties"
    text = f"{word} the {baseline} forecast: RMSE {ratio:.3f}x"
    if interval is not None and not any(math.isnan(x) for x in interval):
        text += f" [{interval[0]:.3f}, {interval[1]:.3f}]"
    return f"{text}, DM p = {format_pvalue(pvalue)}"


def format_pvalue(pvalue: float | None) -> str:
    """A p-value as the verdicts print it: ``< 0.001``, three significant digits below 0.1 (so
    0.0499 stays below 0.05), else two decimals; ``n/a`` when unknown."""
    if pvalue is None or math.isnan(pvalue):
        return "n/a"
    if pvalue < 0.001:
        return "< 0.001"
    return f"{pvalue:.3g}" if pvalue < 0.1 else f"{pvalue:.2f}"  # 0.0499 stays below 0.05 in print


def hit_rate(pred_move: np.ndarray, actual_move: np.ndarray) -> dict[str, float | int | None]:
    """Direction hit rate, the naive constant calls beside it, and a binomial test.

    A hit is a day on which ``sign(pred_move) == sign(actual_move) != 0``; every day counts
    in the denominator, so a day with no realised move is a miss for every forecaster
    (leaving such days out would credit "always up" with nothing it predicted, and the
    model with a move it did not see). "Always up" hits on the up days, "always down" on
    the down days.

    The p-value is that of a one-sided binomial test (scipy's ``binomtest``) of the hits
    against the hit rate of the better constant call, not against 0.5: a forecaster with no
    information about the day, whatever mixture of up and down calls it makes, hits with
    probability at most max(up share, down share), so beating 0.5 in a rising market proves
    nothing that "always up" does not already do.

    Returns:
        ``direction_hits``, ``direction_days``, ``direction_hit_rate``,
        ``direction_always_up_hit_rate``, ``direction_always_down_hit_rate``,
        ``direction_pvalue`` (``None`` for rates and p-value when there are no days).
    """
    from scipy import stats

    pred, actual = np.sign(_paired(pred_move, actual_move))
    days = len(actual)
    hits = int(np.sum((pred == actual) & (actual != 0)))
    up, down = int(np.sum(actual > 0)), int(np.sum(actual < 0))
    if not days:
        return {"direction_hits": 0, "direction_days": 0, "direction_hit_rate": None,
                "direction_always_up_hit_rate": None, "direction_always_down_hit_rate": None,
                "direction_pvalue": None}
    null = max(up, down) / days
    pvalue = float(stats.binomtest(hits, days, null, alternative="greater").pvalue)
    return {"direction_hits": hits, "direction_days": days, "direction_hit_rate": hits / days,
            "direction_always_up_hit_rate": up / days, "direction_always_down_hit_rate": down / days,
            "direction_pvalue": pvalue}


def _paired(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"need two 1-d arrays of the same length, got shapes {a.shape} and {b.shape}")
    return a, b
