"""The forecast stage, and the only place PyTorch is imported: features, networks, training,
the estimator, the walk-forward splitter and runs (per symbol, universes), the fold store
and forecast frames.

Names are imported on first use: :class:`ForecastConfig` and the forecast-frame files
(:mod:`~rnnstrategy.forecasting.frames`) need no PyTorch.
"""

from rnnstrategy._lazy import lazy_exports

_EXPORTS = {
    "ForecastConfig": "rnnstrategy.forecasting.config",
    "RNNForecaster": "rnnstrategy.forecasting.forecaster",
    "WalkForwardSplit": "rnnstrategy.forecasting.splitter",
    "walk_forward": "rnnstrategy.forecasting.walkforward",
    "walk_forward_many": "rnnstrategy.forecasting.walkforward",
    "WalkForwardStream": "rnnstrategy.forecasting.walkforward",
    "forecast_universe": "rnnstrategy.forecasting.universe",
    "read_forecasts": "rnnstrategy.forecasting.frames",
    "write_forecasts": "rnnstrategy.forecasting.frames",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
