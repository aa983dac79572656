"""Cross-sectional skill of universe forecasts: does the model rank the day's symbols?

A universe run writes one forecast frame per symbol. Traded at the next open ("next_open"),
a forecast made at close t earns ``open(t+2) / open(t+1) - 1``, so on each date t every symbol
has a forecast return ``pred_open_2 / pred_open_1 - 1`` and a realised return
``open_2 / open_1 - 1``, both read from its own frame. On each day with at least
``min_names`` symbols that have both:

* the information coefficient (IC): Pearson correlation of forecast and realised returns
  across symbols, and the rank IC: Spearman's (the Pearson correlation of their ranks, ties
  averaged);
* quantile returns: the symbols in ``quantiles`` groups by forecast return (1 = lowest, as
  ``pd.qcut`` of the ranks puts them), each group's mean realised return.

:func:`cross_section_metrics` averages them over days (mean, standard deviation, ICIR =
mean / std, t = ICIR * sqrt(days) and a Newey–West t, by calendar year) beside a naive
factor: the 5-day reversal ``-(close(t) / close(t-5) - 1)`` on exactly the same
(date, symbol) pairs. :func:`cross_section_daily` gives the daily series behind them.
Plain functions of frames; every number in the result is a Python float, int or None, so
``json.dumps(..., allow_nan=False)`` takes it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from rnnstrategy.evaluation.significance import default_lags, hac_mean_t

__all__ = ["CROSS_SECTION_DEFINITION", "cross_section_daily", "cross_section_metrics", "held_return",
           "horizon_metrics", "reversal"]

log = logging.getLogger(__name__)

REVERSAL_DAYS = 5
"""Rows back of the reversal baseline ``-(close(t) / close(t - REVERSAL_DAYS) - 1)``."""

CROSS_SECTION_DEFINITION = (
    "per forecast date t, across symbols: forecast return pred_open_2/pred_open_1 - 1 against realised "
    "return open_2/open_1 - 1 (the next_open trade open(t+1) -> open(t+2)); ic: Pearson, rank_ic: Spearman "
    "(ties averaged), on days with at least min_names symbols; icir: mean/std of the daily values; t: "
    "icir*sqrt(n_days); nw_t: Newey-West (Bartlett) t of the mean; quantile_returns: mean over days of each "
    "forecast quantile's mean realised return (1 = lowest forecast); long_short: top minus bottom quantile; "
    "baseline_reversal5: -(close(t)/close(t-5) - 1) on the same (date, symbol) pairs"
)
"""What :func:`cross_section_metrics` computes, in the words ``summary.json`` records."""


def reversal(closes: pd.Series, days: int = REVERSAL_DAYS) -> pd.Series:
    """The reversal factor ``-(close(t) / close(t - days) - 1)`` of one symbol, ``t - days``
    being ``days`` rows earlier in ``closes`` (its own trading days); NaN for the first rows."""
    closes = pd.Series(closes, dtype="float64")
    return -(closes / closes.shift(days) - 1.0)


def held_return(opens: pd.Series, sessions: int) -> pd.Series:
    """The return of holding one symbol ``sessions`` (h) sessions from the next open,
    ``open(t+1+h) / open(t+1) - 1``, by forecast date t, over its own rows; NaN where not realised."""
    opens = pd.Series(opens, dtype="float64")
    return opens.shift(-(1 + sessions)) / opens.shift(-1) - 1.0


def horizon_metrics(
    forecasts: Mapping[str, pd.DataFrame],
    opens: Mapping[str, pd.Series],
    sessions: int,
    closes: Mapping[str, pd.Series] | None = None,
    *,
    min_names: int = 10,
) -> dict[str, object]:
    """The rank IC of the forecasts against the return over the ``sessions`` (h) sessions a pooled label spans
    (:func:`held_return` of each symbol's ``opens``, adjusted), beside the 5-day reversal on the same pairs.

    The daily h-session returns overlap, so the Newey–West t uses at least h - 1 lags. Returns
    ``sessions``, ``n_days``, ``rank_ic`` (with ``_std``, ``ir``, ``_t``, ``_nw_t``, ``_positive``),
    ``by_year`` (``{"2020": {"rank_ic", "n_days"}}``), ``long_short`` (top minus bottom quintile's mean
    h-session return) and ``baseline_reversal5_rank_ic`` (None without ``closes``)."""
    _check(min_names=min_names, quantiles=5)
    realised = {str(s): held_return(opens[s], sessions) for s in forecasts if s in opens}
    forecast, held, baseline = _panel(forecasts, closes, realised)
    daily = _daily(forecast, held, baseline, min_names)
    result: dict[str, object] = {"sessions": sessions, "n_days": len(daily)}
    result.update(_summary(daily["rank_ic"], "rank_ic", horizon=sessions))
    result["by_year"] = {str(year): {"rank_ic": _float(days["rank_ic"].mean()), "n_days": len(days)}
                         for year, days in daily.groupby(daily.index.year)}
    groups = _quantile_returns(forecast.loc[daily.index], held.loc[daily.index], 5)
    result["long_short"] = _float((groups[5] - groups[1]).mean()) if len(groups) else None
    result["baseline_reversal5_rank_ic"] = (_summary(daily["baseline_rank_ic"], "rank_ic")["rank_ic"]
                                            if baseline is not None else None)
    return result


def cross_section_daily(
    forecasts: Mapping[str, pd.DataFrame],
    closes: Mapping[str, pd.Series] | None = None,
    *,
    min_names: int = 10,
) -> pd.DataFrame:
    """The daily cross-sectional series: one row per day with at least ``min_names`` symbols.

    Args:
        forecasts: forecast frame of each symbol (index = forecast date t, ``pred_open_1``,
            ``pred_open_2`` and, where realised, ``open_1``, ``open_2``).
        closes: close prices of each symbol by date, for the reversal baseline; None for none.
        min_names: fewest symbols with a forecast and a realised return for a day to count.

    Returns:
        A frame indexed by ``date`` with columns ``n`` (symbols), ``ic``, ``rank_ic``,
        ``baseline_ic`` and ``baseline_rank_ic`` (NaN without ``closes``, or where the
        values of a day do not vary).
    """
    _check(min_names=min_names)
    forecast, realised, baseline = _panel(forecasts, closes)
    return _daily(forecast, realised, baseline, min_names)


def cross_section_metrics(
    forecasts: Mapping[str, pd.DataFrame],
    closes: Mapping[str, pd.Series] | None = None,
    *,
    quantiles: int = 5,
    min_names: int = 10,
) -> dict[str, object]:
    """Cross-sectional IC, rank IC, quantile returns and the reversal baseline, JSON-ready.

    Only (date, symbol) pairs with a finite forecast and realised return count; with
    ``closes``, also only those with a reversal value, so the model and the baseline are
    judged on exactly the same pairs (a symbol missing from ``closes`` is left out, with a
    warning). Nothing to evaluate is no error: ``n_days`` is 0 and the statistics None.

    Args:
        forecasts: forecast frame of each symbol, keyed by symbol.
        closes: close prices of each symbol (its own rows, so ``t - 5`` is 5 rows back).
        quantiles: groups by forecast return for the quantile returns (1 = lowest).
        min_names: fewest symbols for a day to count (at least ``quantiles``, so every
            quantile holds a symbol every day).

    Returns:
        ``rank_ic``, ``rank_ic_std``, ``rank_icir``, ``rank_ic_t``, ``rank_ic_nw_t``,
        ``rank_ic_positive`` (share of days above 0), the same with ``ic`` for the Pearson IC,
        ``n_days``, ``n_symbols``, ``n_pairs``, ``by_year`` (``{"2020": {"rank_ic", "ic",
        "n_days"}}``), ``quantile_returns`` (mean daily return of Q1..Qq), ``long_short``
        (Qq - Q1) with ``long_short_t`` and ``long_short_nw_t``, ``baseline_reversal5_rank_ic``,
        ``baseline_reversal5_ic``, ``baseline_reversal5_rank_icir`` and
        ``baseline_reversal5_rank_ic_t`` (None without ``closes``), ``nw_lags``,
        ``quantiles``, ``min_names`` and ``definition``.
    """
    _check(min_names=min_names, quantiles=quantiles)
    forecast, realised, baseline = _panel(forecasts, closes)
    daily = _daily(forecast, realised, baseline, min_names)
    result: dict[str, object] = {"n_days": len(daily), "n_symbols": int(forecast.notna().any().sum()),
                                 "n_pairs": int(forecast.notna().to_numpy().sum())}
    for name in ("rank_ic", "ic"):
        result.update(_summary(daily[name], name))
    result["nw_lags"] = default_lags(len(daily), 1) if len(daily) else None
    result["by_year"] = {str(year): {"rank_ic": _float(days["rank_ic"].mean()), "ic": _float(days["ic"].mean()),
                                     "n_days": len(days)}
                         for year, days in daily.groupby(daily.index.year)}
    groups = _quantile_returns(forecast.loc[daily.index], realised.loc[daily.index], quantiles)
    result["quantile_returns"] = [_float(groups[q].mean()) for q in groups.columns] if len(groups) else None
    spread = groups[quantiles] - groups[1] if len(groups) else pd.Series(dtype=float)
    ls = _summary(spread, "long_short")
    result.update(long_short=ls["long_short"], long_short_t=ls["long_short_t"], long_short_nw_t=ls["long_short_nw_t"])
    keys = {"rank_ic": "rank_ic", "ic": "ic", "rank_icir": "rank_icir", "rank_ic_t": "rank_ic_t"}
    base = {**_summary(daily["baseline_rank_ic"], "rank_ic"), **_summary(daily["baseline_ic"], "ic")}
    for key, source in keys.items():
        result[f"baseline_reversal5_{key}"] = base[source] if baseline is not None else None
    result.update(quantiles=quantiles, min_names=min_names, definition=CROSS_SECTION_DEFINITION)
    return result


def _check(*, min_names: int, quantiles: int = 2) -> None:
    if quantiles < 2:
        raise ValueError(f"quantiles={quantiles} must be at least 2 (e.g. 5 for quintiles)")
    if min_names < 2:
        raise ValueError(f"min_names={min_names} must be at least 2: a correlation needs two symbols a day")
    if min_names < quantiles:
        raise ValueError(f"min_names={min_names} is fewer than quantiles={quantiles}: every quantile needs a "
                         f"symbol every day; pass min_names >= {quantiles}")


def _panel(forecasts: Mapping[str, pd.DataFrame], closes: Mapping[str, pd.Series] | None,
           realised_by: Mapping[str, pd.Series] | None = None,
           ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """Forecast, realised (each frame's ``open_2 / open_1 - 1``, or ``realised_by`` a symbol's series by
    date) and (with ``closes``) reversal returns as date x symbol frames, NaN wherever any of them is
    missing, so all three hold the same pairs."""
    columns: dict[str, tuple[pd.Series, pd.Series]] = {}
    for symbol, frame in forecasts.items():
        if realised_by is None:
            outcome = _ratio(frame, "open_2", "open_1")
        else:
            outcome = realised_by.get(str(symbol), pd.Series(dtype="float64")).reindex(frame.index)
        columns[str(symbol)] = (_ratio(frame, "pred_open_2", "pred_open_1"), outcome)
    forecast = pd.DataFrame({s: f for s, (f, _) in columns.items()}, dtype="float64")
    realised = pd.DataFrame({s: r for s, (_, r) in columns.items()}, dtype="float64")
    if forecast.empty and not len(forecast.columns):
        forecast = realised = pd.DataFrame(index=pd.DatetimeIndex([], name="date"), dtype="float64")
    forecast.index.name = realised.index.name = "date"
    valid = np.isfinite(forecast) & np.isfinite(realised)
    baseline = None
    if closes is not None:
        missing = [s for s in forecast.columns if s not in closes]
        if missing:
            log.warning("no closes for %s: left out of the cross-section (the reversal baseline needs them)",
                        ", ".join(missing))
        baseline = pd.DataFrame({s: reversal(closes[s]).reindex(forecast.index) if s in closes else np.nan
                                 for s in forecast.columns}, index=forecast.index, dtype="float64")
        valid &= np.isfinite(baseline)
        baseline = baseline.where(valid)
    return forecast.where(valid), realised.where(valid), baseline


def _ratio(frame: pd.DataFrame, numerator: str, denominator: str) -> pd.Series:
    """``frame[numerator] / frame[denominator] - 1``; all NaN when a column is missing."""
    if numerator not in frame.columns or denominator not in frame.columns:
        return pd.Series(np.nan, index=frame.index, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        return frame[numerator].astype("float64") / frame[denominator].astype("float64") - 1.0


def _daily(forecast: pd.DataFrame, realised: pd.DataFrame, baseline: pd.DataFrame | None,
           min_names: int) -> pd.DataFrame:
    n = forecast.notna().sum(axis=1)
    days = n.index[n >= min_names]
    forecast, realised = forecast.loc[days], realised.loc[days]
    daily = pd.DataFrame({"n": n.loc[days].astype("int64"),
                          "ic": _row_corr(forecast, realised),
                          "rank_ic": _row_corr(_ranks(forecast), _ranks(realised))}, index=days)
    if baseline is not None:
        baseline = baseline.loc[days]
        daily["baseline_ic"] = _row_corr(baseline, realised)
        daily["baseline_rank_ic"] = _row_corr(_ranks(baseline), _ranks(realised))
    else:
        daily["baseline_ic"] = daily["baseline_rank_ic"] = np.nan
    daily.index.name = "date"
    return daily


def _ranks(values: pd.DataFrame) -> pd.DataFrame:
    return values.rank(axis=1, method="average")


def _row_corr(a: pd.DataFrame, b: pd.DataFrame) -> np.ndarray:
    """Pearson correlation of each row of ``a`` with the same row of ``b`` over the cells set in
    both (the frames share their NaN); NaN where a row does not vary."""
    x, y = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
    x = x - np.nanmean(x, axis=1, keepdims=True) if len(x) else x
    y = y - np.nanmean(y, axis=1, keepdims=True) if len(y) else y
    covariance = np.nansum(x * y, axis=1)
    scale = np.sqrt(np.nansum(x * x, axis=1) * np.nansum(y * y, axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(scale > 0, covariance / scale, np.nan)


def _quantile_returns(forecast: pd.DataFrame, realised: pd.DataFrame, quantiles: int) -> pd.DataFrame:
    """Each day's mean realised return of the symbols in each forecast quantile (columns 1..q).

    The group of rank r (1..n, ties in column order) is ``ceil((r - 1) * q / (n - 1))``, at
    least 1: the bins ``pd.qcut(ranks, q)`` draws, in integer arithmetic."""
    if forecast.empty:
        return pd.DataFrame(columns=range(1, quantiles + 1), dtype="float64")
    ranks = forecast.rank(axis=1, method="first").to_numpy()
    n = np.isfinite(ranks).sum(axis=1, keepdims=True)
    steps = np.where(np.isfinite(ranks), ranks - 1, 0).astype("int64") * quantiles
    group = np.maximum(1, -(-steps // (n - 1)))
    values = realised.to_numpy(dtype=float)
    out = {}
    for q in range(1, quantiles + 1):
        member = np.isfinite(ranks) & (group == q)
        out[q] = np.where(member, values, 0.0).sum(axis=1) / member.sum(axis=1)
    return pd.DataFrame(out, index=forecast.index)


def _summary(values: pd.Series, name: str, horizon: int = 1) -> dict[str, float | None]:
    """Mean, std, mean/std, t = mean/std*sqrt(n), Newey–West t (at least ``horizon`` - 1 lags: values of
    overlapping ``horizon``-session returns) and share above 0 of the finite values."""
    x = values.to_numpy(dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    mean = float(x.mean()) if n else math.nan
    std = float(x.std(ddof=1)) if n > 1 else math.nan
    ir = mean / std if std > 0 else math.nan
    nw = hac_mean_t(x, default_lags(n, horizon)) if n > 1 else math.nan
    return {name: _float(mean), f"{name}_std": _float(std), f"{name}ir": _float(ir),
            f"{name}_t": _float(ir * math.sqrt(n)), f"{name}_nw_t": _float(nw),
            f"{name}_positive": _float(float(np.mean(x > 0))) if n else None}


def _float(value: float) -> float | None:
    """A plain float, None for NaN or an infinity."""
    value = float(value)
    return value if math.isfinite(value) else None
