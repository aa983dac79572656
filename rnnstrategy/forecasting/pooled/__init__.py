"""Pooled forecasting: one network per retrain, learned across every symbol of a universe.

- :mod:`~rnnstrategy.forecasting.pooled.config`: ``PooledConfig``, the settings of a pooled model
  (its own defaults, its schedule in market days);
- :mod:`~rnnstrategy.forecasting.pooled.panel`: the universe's bars as flat row arrays on one
  market calendar, the retrain days and the rows a fold may learn from (numpy arrays);
- :mod:`~rnnstrategy.forecasting.pooled.fit`: training and scoring one fold;
- :mod:`~rnnstrategy.forecasting.pooled.walkforward`: ``pooled_walk_forward``, the folds of a run
  with their fold store, and the per-symbol forecast frames it returns.

Per-symbol forecasting (one model per stock) is :mod:`rnnstrategy.forecasting.walkforward`.
"""
