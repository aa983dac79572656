"""Hold the k stocks with the highest forecast returns, equal weight, with a daily turnover limit.

Made for forecasts that are returns (per-stock models). On a pooled model's forecasts, cross-sectional scores,
it ranks only: its return thresholds do not apply (one set explicitly is refused); the score strategies
``rank_band`` and ``topk_dropout`` are built for those.

Usage::

    from rnnstrategy.strategies.top_k import TopK
    for frame in universe_bars:
        cerebro.adddata(to_feed(frame))
    use_ashare_rules(cerebro)
    cerebro.addstrategy(TopK, forecasts={"600519.SH": forecasts_600519, ...}, k=10, max_turnover=0.3)

``rnnstrategy backtest FOLDER --strategy top_k --k 10 --out DIR`` (or ``rs.backtest(folder,
strategy="top_k", k=10)``) forecasts a universe and trades it with this strategy against the
benchmark and the equal-weight universe.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from rnnstrategy.backtrader.rank_params import band_exit_rank, check_holdings
from rnnstrategy.backtrader.strategy import ForecastStrategy
from rnnstrategy.errors import ConfigError

__all__ = ["TopK"]

log = logging.getLogger(__name__)


class TopK(ForecastStrategy):
    """Long the top ``k`` feeds by expected return, rebalanced daily within a turnover limit.

    Every day, at the close, the feeds with a bar and a forecast are ranked by
    ``expected_return`` (``next_open``: ô(t+2) / ô(t+1) − 1, the return of buying at the
    next open and selling at the one after). Then:

    - sell a holding whose rank is worse than ``exit_rank`` (default ``2 k``: a buffer, so
      a stock that slips just below the top k is not traded away and back) or whose
      expected return is below ``exit_threshold`` (default None: 0);
    - buy, best first, feeds ranked in the top ``k`` that are not held, whose expected
      return beats ``entry_threshold`` (default None: the round-trip cost of the order) and
      ``exit_threshold`` (so nothing sold on a forecast is bought back on it), while fewer
      than ``k`` positions are held after the sells;
    - each buy is ``target / k`` of the portfolio value (equal weight at entry; positions
      drift with prices and are not topped up), in valid lots;
    - turnover limit: the value sold and the value bought each stay within
      ``max_turnover`` of the portfolio value per day (one-way turnover); the worst
      holdings are sold first and the best candidates bought first, the rest waits.

    Scores rank only: where the forecasts are a pooled model's (:meth:`forecasts_are_scores`),
    ``expected_return`` is the day's ranked label, not a return, so neither threshold applies: a
    holding is sold only below ``exit_rank`` and the top ``k`` are bought whatever their score.
    Setting ``entry_threshold`` or ``exit_threshold`` beside such forecasts is refused.

    In a universe as it stood (``rnnstrategy backtest DIR --universe csi300``) only the day's index
    members are ranked and bought; a holding that left the index is sold at the next open, outside the
    turnover limit (with ``keep_leavers`` it is ranked beside the members until the rules above sell it).

    Sells are sent before buys, so they fill first at the next open and free their cash;
    buys are sized against the cash after those sells. The A-share broker rules (lots,
    T+1, price limits, suspensions, fees) apply as for any strategy: a refused order
    is retried on a later day if the stock still qualifies.

    Its parameters (besides ``target``, see :class:`~rnnstrategy.backtrader.strategy.ForecastStrategy`) are
    ``params``, each explained in ``param_help``.
    """

    ranks_universe = True

    params = (
        ("k", 5),
        ("max_turnover", 0.5),
        ("exit_rank", None),
        ("entry_threshold", None),
        ("exit_threshold", None),
    )
    param_help = {
        "k": "positions to hold at most",
        "max_turnover": "one-way turnover allowed per day, a fraction of the portfolio value, in (0, 2]",
        "exit_rank": "sell a holding ranked worse than this (1 = best; None: 2 k)",
        # shared with forecast_long, and the command line shows one help for both
        "entry_threshold": "expected return needed to buy (a fraction; None: the round-trip cost of the order); for "
                           "forecasts that are returns: top_k ranks a pooled model's scores and refuses it",
        "exit_threshold": "sell a holding whose expected return falls below this (a fraction; default 0); for "
                          "forecasts that are returns: top_k ranks a pooled model's scores and refuses it",
    }
    param_types = {"exit_rank": int, "entry_threshold": float, "exit_threshold": float}

    @classmethod
    def check_values(cls, values: Mapping[str, Any]) -> None:
        super().check_values(values)
        k, turnover, target = values["k"], values["max_turnover"], values["target"]
        check_holdings("k", k)
        if not 0 < turnover <= 2:
            raise ConfigError(f"max_turnover={turnover}: give the fraction of portfolio value that may "
                              "be bought (and sold) per day, in (0, 2]")
        if target / k > turnover:
            raise ConfigError(f"max_turnover={turnover} is below one position (target / k = "
                              f"{target / k:.3f} of the value): nothing could ever be bought; "
                              "raise max_turnover or k")
        band_exit_rank(values["exit_rank"], k)

    @classmethod
    def check_score_params(cls, values: Mapping[str, Any]) -> None:
        """Refuse a return threshold beside scores: top_k ranks them (see the class docstring)."""
        for name in ("entry_threshold", "exit_threshold"):
            value = values.get(name)
            if value is not None:
                raise ConfigError(f"{name}={value} is in return units, but the forecasts are a pooled model's "
                                  f"scores (ranks, not returns): leave {name} out (top_k then ranks them: --k, "
                                  "--exit-rank), or trade the scores with rank_band or topk_dropout")

    def __init__(self) -> None:
        super().__init__()
        self.exit_rank = band_exit_rank(self.p.exit_rank, self.p.k)
        self.scores = self.forecasts_are_scores()  # ranks only, no thresholds
        # the expected return below which a holding is sold (forecasts that are returns only)
        self.exit_threshold = 0.0 if self.p.exit_threshold is None else self.p.exit_threshold

    def next(self) -> None:
        leaving = self.sell_leavers()  # out of the index: sold at the next open, outside the turnover limit
        ranked = self.ranking()
        rank = {data: position for position, (_, data) in enumerate(ranked, start=1)}
        expected = {data: value for value, data in ranked}
        value = self.broker.getvalue()
        budget = self.p.max_turnover * value

        # a dict keyed by feed: `feed in list` would compare feeds' closes (Backtrader overloads ==)
        held = {data: None for data in self.datas if self.getposition(data).size > 0}
        cash, sold = self.broker.getcash(), 0.0
        for data in leaving:
            cash += self.getposition(data).size * data.close[0]
            del held[data]
        to_sell = sorted(
            (data for data in held  # ranked feeds have a bar today and no order in flight
             if data in rank and (rank[data] > self.exit_rank or (not self.scores and expected[data] < self.exit_threshold))),
            key=lambda data: -rank[data],
        )
        for data in to_sell:
            worth = self.getposition(data).size * data.close[0]
            if sold + worth > budget:
                break
            if self.exit(data) is not None:
                sold += worth
                cash += worth
                del held[data]

        slot = self.p.target * value / self.p.k
        bought = 0.0
        for _, data in ranked[: self.p.k]:
            if len(held) >= self.p.k or bought + slot > budget:
                break
            if data in held or (not self.scores and expected[data] <= self.entry_threshold(data, slot)):
                continue
            size = self.shares_worth(data, min(slot, cash))
            if size and self.enter(data, size=size) is not None:
                spent = size * data.close[0]
                bought += spent
                cash -= spent
                held[data] = None

    def ranking(self) -> list[tuple[float, Any]]:
        """``(expected return, feed)`` of the feeds with a bar and a forecast today, best first."""
        scored = [(signal.expected_return[0], data) for data, signal in self.tradable()]
        scored = [(value, data) for value, data in scored if not math.isnan(value)]
        # ties (rare) keep feed order, so runs are reproducible
        order = {data: k for k, data in enumerate(self.datas)}
        return sorted(scored, key=lambda item: (-item[0], order[item[1]]))

    def entry_threshold(self, data: Any, slot: float) -> float:
        """The expected return a buy of ``data`` worth ``slot`` CNY must beat now (never below
        ``exit_threshold``: a stock sold on a forecast is not bought back on the same one); forecasts that are
        returns only."""
        if self.p.entry_threshold is not None:
            return max(self.p.entry_threshold, self.exit_threshold)
        size = self.shares_worth(data, slot)
        return max(self.round_trip_cost(data, size), self.exit_threshold)
