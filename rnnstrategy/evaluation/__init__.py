"""Judging forecasts: errors against the naive forecasts on the same dates, direction hit
rates, verdicts. Plain functions of frames; no PyTorch, no Backtrader."""

from rnnstrategy.evaluation.metrics import forecast_metrics

__all__ = ["forecast_metrics"]
