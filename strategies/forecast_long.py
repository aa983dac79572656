"""Long-only trading on the predicted next-day return, with A-share costs as the hurdle.

Usage::

    from rnnstrategy.strategies.forecast_long import ForecastLong
    cerebro.addstrategy(ForecastLong, config=ForecastConfig(), store="folds", start="2015-01-01")
    cerebro.optstrategy(ForecastLong, store="folds", entry_threshold=[None, 0.002, 0.005])
"""

from __future__ import annotations

import math

from rnnstrategy.backtrader.strategy import ForecastStrategy

__all__ = ["ForecastLong"]


class ForecastLong(ForecastStrategy):
    """Hold a stock while its forecast return beats the cost of trading it.

    Buy: at the close of each day, for every flat feed with a bar today, when its
    ``expected_return`` (``next_open``: ô(t+2) / ô(t+1) − 1; ``close``: ô(t+1) / close − 1)
    exceeds ``entry_threshold`` (default None: the round-trip cost of the order, i.e.
    commission on both sides, stamp duty and transfer fees at today's rates), buy the
    feed's share of ``target`` of the portfolio value in whole lots.

    A buy must also reach ``exit_threshold``: a forecast the strategy would sell on never opens
    a position (else each such day would pay a round trip for nothing).

    Sell: when a held feed's ``expected_return`` falls below ``exit_threshold`` (default 0,
    a predicted loss), sell the whole position. Orders fill at the next open, or at this
    close with ``execution="close"``; the broker's T+1 rule holds a buy at least overnight.

    Its parameters (besides ``target``, see :class:`~rnnstrategy.backtrader.strategy.ForecastStrategy`) are
    ``params``, each explained in ``param_help``.
    """

    params = (
        ("entry_threshold", None),
        ("exit_threshold", 0.0),
    )
    param_help = {
        # shared with top_k, and the command line shows one help for both
        "entry_threshold": "expected return needed to buy (a fraction; None: the round-trip cost of the order); for "
                           "forecasts that are returns: top_k ranks a pooled model's scores and refuses it",
        "exit_threshold": "sell a holding whose expected return falls below this (a fraction; default 0); for "
                          "forecasts that are returns: top_k ranks a pooled model's scores and refuses it",
    }
    param_types = {"entry_threshold": float}

    def next(self) -> None:
        for data, signal in self.tradable():
            expected = signal.expected_return[0]
            if math.isnan(expected):  # no forecast yet
                continue
            if self.getposition(data).size > 0:
                if expected < self.p.exit_threshold:
                    self.exit(data)
            elif expected > self.entry_threshold(data):
                self.enter(data)

    def entry_threshold(self, data) -> float:
        """The expected return a buy of ``data`` must beat now (never below ``exit_threshold``)."""
        if self.p.entry_threshold is not None:
            return max(self.p.entry_threshold, self.p.exit_threshold)
        return max(self.round_trip_cost(data), self.p.exit_threshold)
