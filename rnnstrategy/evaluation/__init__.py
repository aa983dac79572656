"""Judging forecasts: errors against the naive forecasts on the same dates, direction hit
rates, verdicts, and the cross-section of a universe (IC, rank IC, quantile returns). Plain
functions of frames; no PyTorch, no Backtrader."""

from rnnstrategy.evaluation.cross_section import (
    cross_section_daily,
    cross_section_metrics,
)
from rnnstrategy.evaluation.metrics import forecast_metrics

__all__ = ["cross_section_daily", "cross_section_metrics", "forecast_metrics"]
