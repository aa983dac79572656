"""Overnight holding on the predicted gap: buy at the close, sell at the next open.

The buy fills at the close (the strategy turns the broker's cheat-on-close on, like the
closing auction); the sell is sent with it and fills at the next bar's open. A-share T+1
allows this: the shares are sold on the trading day after the one they were bought.
Forecasts need only ``horizon=1``.

Usage::

    from rnnstrategy.strategies.overnight_gap import OvernightGap
    cerebro.addstrategy(OvernightGap, config=ForecastConfig(horizon=1), store="folds")
"""

from __future__ import annotations

import math

from rnnstrategy.backtrader.strategy import ForecastStrategy
from rnnstrategy.errors import ConfigError

__all__ = ["OvernightGap"]


class OvernightGap(ForecastStrategy):
    """Hold overnight when the predicted next open beats today's close by more than the costs.

    Buy: at the close of t, for every flat feed with a bar today, when ô(t+1) / close(t) − 1
    exceeds ``entry_threshold`` (default None: the round-trip cost of the order, i.e.
    commission both sides, stamp duty and transfer fees at today's rates), buy the feed's
    share of ``target`` of the portfolio value in whole lots.

    Sell: the whole position at the open of the next bar, whatever the forecast; T+1 allows
    it since the shares were bought the day before. When the broker refuses that sell
    (limit-down open, suspension), the position is sold at the following open instead.

    Its parameters (besides ``target``, see :class:`~rnnstrategy.backtrader.strategy.ForecastStrategy`, whose
    ``execution`` must stay ``"close"``) are ``params``, each explained in ``param_help``.
    """

    params = (
        ("execution", "close"),
        ("entry_threshold", None),
    )
    param_help = {
        "entry_threshold": "overnight return needed to buy (a fraction; None: the round-trip cost of the order)",
    }
    param_types = {"entry_threshold": float}

    @classmethod
    def check_execution(cls, execution: str | None) -> None:
        if execution not in (None, "close"):
            raise ConfigError(f"OvernightGap buys at the close: execution={execution!r} must be 'close'")

    def __init__(self) -> None:
        self.check_execution(self.p.execution)
        super().__init__()

    def next(self) -> None:
        for data, signal in self.tradable():
            if self.getposition(data).size > 0:  # the sell at this open was refused: retry at the next one
                self.exit(data, coc=False)
                continue
            expected = signal.expected_return[0]
            if math.isnan(expected):  # no forecast yet
                continue
            threshold = self.p.entry_threshold
            if expected > (self.round_trip_cost(data) if threshold is None else threshold):
                self.enter_overnight(data)
