"""Forecast quality beside the naive baselines, on the same dates.

Plain functions of a forecast frame and its bars. For each horizon h the
model's ``pred_open_h`` is compared with the realised ``open(t+h)`` and with
two naive forecasts made at the same close t: the previous close ``close(t)``
and the previous open ``open(t)``. Only rows whose open(t+h) is known count.

Against each baseline a Diebold–Mariano test (squared and absolute errors) and
a moving-block bootstrap interval of the RMSE ratio decide the verdict: the
model "beats", "ties" or "loses to" the baseline, in those words
(:mod:`rnnstrategy.evaluation.significance`).

The direction hit rate is the share of all compared rows where the predicted
move from close(t) has the sign of the realised move; a row with no realised
move is a miss (``DIRECTION_DEFINITION``). The previous-close baseline
predicts no move, so it has no hit rate; "always up" is shown beside the model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import rnnstrategy.evaluation.significance as significance
from rnnstrategy.data.forecast_files import forecast_horizon
from rnnstrategy.evaluation.significance import DIRECTION_DEFINITION, verdict

__all__ = ["error_metrics", "forecast_metrics", "verdict"]

BOOTSTRAP_BLOCK, BOOTSTRAP_REPS, BOOTSTRAP_SEED = 20, 999, 0
"""Moving-block bootstrap of the RMSE ratio: dates per block, replications, seed."""


def error_metrics(pred: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    """RMSE, MAE (price units), MSE and MAPE (percent) of ``pred`` against ``actual``."""
    err = pred - actual
    return {
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mae": float(np.mean(np.abs(err))),
        "mse": float(np.mean(err**2)),
        "mape": float(100 * np.mean(np.abs(err) / np.abs(actual))),
    }


def _against(baseline: str, suffix: str, h: int, e_model: np.ndarray, e_naive: np.ndarray) -> dict[str, object]:
    """The model against one naive forecast: RMSE ratio with its bootstrap interval, DM tests of
    squared and absolute errors, and the verdict; ``suffix`` ends every key (``""`` for the
    previous close, the headline baseline, ``"_prev_open"`` for the previous open)."""
    naive_rmse = float(np.sqrt(np.mean(e_naive**2)))
    ratio = float(np.sqrt(np.mean(e_model**2))) / naive_rmse if naive_rmse else float("nan")
    interval = significance.rmse_ratio_interval(e_model, e_naive, block=BOOTSTRAP_BLOCK, reps=BOOTSTRAP_REPS,
                                                seed=BOOTSTRAP_SEED)
    stat, pvalue = significance.diebold_mariano(e_model, e_naive, h, loss="squared")
    abs_stat, abs_pvalue = significance.diebold_mariano(e_model, e_naive, h, loss="absolute")
    return {f"rmse_ratio{suffix}": ratio, f"rmse_ratio{suffix}_ci": list(interval),
            f"dm{suffix}_stat": stat, f"dm{suffix}_pvalue": pvalue,
            f"dm{suffix}_abs_stat": abs_stat, f"dm{suffix}_abs_pvalue": abs_pvalue,
            f"verdict{suffix}": verdict(pvalue, ratio, interval, baseline=baseline, baseline_rmse=naive_rmse)}


def forecast_metrics(forecasts: pd.DataFrame, bars: pd.DataFrame) -> dict[str, object]:
    """Metrics for every horizon, with baselines and significance, as a JSON-ready dict.

    The top level holds the h = 1 figures (``n``, ``rmse``, ``mae``, ``mape``,
    ``direction_hit_rate``, ``baseline_prev_close_rmse``, ``baseline_prev_open_rmse``,
    ``rmse_ratio`` = RMSE(model) / RMSE(previous close), its interval ``rmse_ratio_ci``,
    ``dm_pvalue``, ``verdict``), then ``direction_definition`` and ``significance`` (the
    test settings); each horizon's full detail is under ``"h1"``, ``"h2"``, ...: beside
    the errors, against the previous close ``rmse_ratio``, ``rmse_ratio_ci`` ([low, high]),
    ``dm_stat``/``dm_pvalue`` (squared errors), ``dm_abs_stat``/``dm_abs_pvalue`` (absolute
    errors) and ``verdict``; the same keys ending in ``_prev_open`` against the previous
    open; ``dm_lags``; and the direction fields of :func:`significance.hit_rate`.

    Args:
        forecasts: a forecast frame (index = forecast date t, ``pred_open_h`` columns).
        bars: the bars the forecasts were made from (to read open(t+h), close(t), open(t)).
    """
    rows = bars.index.get_indexer(forecasts.index)
    if (rows < 0).any():
        missing = forecasts.index[rows < 0][0]
        raise ValueError(f"forecast date {missing:%Y-%m-%d} is not a bar of {bars.attrs.get('symbol', 'the bars')}")
    opens, closes = bars["open"].to_numpy(), bars["close"].to_numpy()
    result: dict[str, object] = {}
    for h in range(1, forecast_horizon(forecasts) + 1):
        known = rows + h < len(bars)
        at, target = rows[known], rows[known] + h
        actual, close_t, open_t = opens[target], closes[at], opens[at]
        pred = forecasts[f"pred_open_{h}"].to_numpy()[known]
        n = int(known.sum())
        detail: dict[str, object] = {"n": n}
        if n:
            detail.update(error_metrics(pred, actual))
            for name, naive in (("prev_close", close_t), ("prev_open", open_t)):
                for key, value in error_metrics(naive, actual).items():
                    detail[f"baseline_{name}_{key}"] = value
            detail.update(_against("previous-close", "", h, pred - actual, close_t - actual))
            detail.update(_against("previous-open", "_prev_open", h, pred - actual, open_t - actual))
            detail["dm_lags"] = significance.default_lags(n, h)
            detail.update(significance.hit_rate(pred - close_t, actual - close_t))
            detail["baseline_prev_open_direction_hit_rate"] = \
                significance.hit_rate(open_t - close_t, actual - close_t)["direction_hit_rate"]
        else:
            detail["rmse_ratio"] = float("nan")
            detail["verdict"] = verdict(float("nan"), float("nan"))
        result[f"h{h}"] = detail
    headline = result.get("h1", {})
    keys = ("n", "rmse", "mae", "mape", "direction_hit_rate", "baseline_prev_close_rmse",
            "baseline_prev_open_rmse", "rmse_ratio", "rmse_ratio_ci", "dm_pvalue", "verdict")
    settings = {"alpha": significance.ALPHA, "dm": "Diebold-Mariano, Newey-West (Bartlett) variance with "
                "max(h - 1, floor(4 (n/100)^(2/9))) lags, Harvey-Leybourne-Newbold correction, Student t (n - 1), "
                "two-sided", "bootstrap": "moving blocks, percentile interval", "bootstrap_block": BOOTSTRAP_BLOCK,
                "bootstrap_reps": BOOTSTRAP_REPS, "bootstrap_seed": BOOTSTRAP_SEED, "level": 0.95}
    return {**{key: headline[key] for key in keys if key in headline},
            "direction_definition": DIRECTION_DEFINITION, "significance": settings, **result}
