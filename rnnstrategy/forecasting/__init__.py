"""The forecast stage, and the only place PyTorch is imported: features, networks, training,
the estimator, the walk-forward splitter and runs (per symbol; pooled models in
:mod:`rnnstrategy.forecasting.pooled`), and the fold store.
Universes of symbols are run by :mod:`rnnstrategy.universe`; forecast files are read and
written by :mod:`rnnstrategy.data.forecast_files`.

Names are imported on first use: :class:`ForecastConfig`, :class:`PooledConfig` and the fold store's place
(:mod:`~rnnstrategy.forecasting.foldroot`) need no PyTorch.
"""

from rnnstrategy._lazy import lazy_exports

_EXPORTS = {
    "ForecastConfig": "rnnstrategy.forecasting.config",
    "PooledConfig": "rnnstrategy.forecasting.pooled.config",
    "RNNForecaster": "rnnstrategy.forecasting.forecaster",
    "WalkForwardSplit": "rnnstrategy.forecasting.splitter",
    "walk_forward": "rnnstrategy.forecasting.walkforward",
    "walk_forward_many": "rnnstrategy.forecasting.walkforward",
    "WalkForwardStream": "rnnstrategy.forecasting.stream",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
