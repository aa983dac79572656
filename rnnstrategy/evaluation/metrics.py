"""Forecast quality beside the naive baselines, on the same dates.

Plain functions of a forecast frame and its bars. For each horizon h the
model's ``pred_open_h`` is compared with the realised ``open(t+h)`` and with
two naive forecasts made at the same close t: the previous close ``close(t)``
and the previous open ``open(t)``. Only rows whose open(t+h) is known count.

The direction hit rate is the share of rows where the predicted move from
close(t) has the sign of the realised move; rows where the open equals the
close exactly (no move) are left out. The previous-close baseline predicts no
move, so it has no hit rate.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from rnnstrategy.forecasting.frames import forecast_horizon

__all__ = ["error_metrics", "forecast_metrics", "verdict"]


def error_metrics(pred: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    """RMSE, MAE (price units), MSE and MAPE (percent) of ``pred`` against ``actual``."""
    err = pred - actual
    return {
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mae": float(np.mean(np.abs(err))),
        "mse": float(np.mean(err**2)),
        "mape": float(100 * np.mean(np.abs(err) / np.abs(actual))),
    }


def _hit_rate(pred_move: np.ndarray, actual_move: np.ndarray) -> float | None:
    moved = actual_move != 0
    if not moved.any():
        return None
    return float(np.mean(np.sign(pred_move[moved]) == np.sign(actual_move[moved])))


def verdict(rmse_ratio: float) -> str:
    """One plain sentence on whether the model beats the previous close."""
    if math.isnan(rmse_ratio):
        return "no realised opens to compare with yet"
    if rmse_ratio < 1:
        return f"beats the previous-close forecast: RMSE {rmse_ratio:.3f}x the naive baseline"
    return f"does NOT beat the previous-close forecast: RMSE {rmse_ratio:.3f}x the naive baseline"


def forecast_metrics(forecasts: pd.DataFrame, bars: pd.DataFrame) -> dict[str, object]:
    """Metrics for every horizon, with baselines, as a JSON-ready dict.

    The top level holds the h = 1 figures (``n``, ``rmse``, ``mae``, ``mape``,
    ``direction_hit_rate``, ``baseline_prev_close_rmse``, ``baseline_prev_open_rmse``,
    ``rmse_ratio`` = RMSE(model) / RMSE(previous close), ``verdict``); each
    horizon's full detail is under ``"h1"``, ``"h2"``, ...

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
        detail: dict[str, object] = {"n": int(known.sum())}
        if detail["n"]:
            detail.update(error_metrics(pred, actual))
            detail["direction_hit_rate"] = _hit_rate(pred - close_t, actual - close_t)
            for name, naive in (("prev_close", close_t), ("prev_open", open_t)):
                for key, value in error_metrics(naive, actual).items():
                    detail[f"baseline_{name}_{key}"] = value
            detail["baseline_prev_open_direction_hit_rate"] = _hit_rate(open_t - close_t, actual - close_t)
            detail["rmse_ratio"] = detail["rmse"] / detail["baseline_prev_close_rmse"]
        else:
            detail["rmse_ratio"] = float("nan")
        detail["verdict"] = verdict(detail["rmse_ratio"])
        result[f"h{h}"] = detail
    headline = result.get("h1", {})
    keys = ("n", "rmse", "mae", "mape", "direction_hit_rate", "baseline_prev_close_rmse",
            "baseline_prev_open_rmse", "rmse_ratio", "verdict")
    return {**{key: headline[key] for key in keys if key in headline}, **result}
