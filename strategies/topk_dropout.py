"""Hold the ``topk`` best-ranked stocks by forecast score; replace at most ``n_drop`` of them a day.

For forecasts that are cross-sectional scores (a pooled model's ``expected_return`` is the day's rank of a
label, not a return): the rule compares ranks only, never a score with a return or a cost. qlib's
``TopkDropoutStrategy`` is the idea; this one adds A-share lots, limits, T+1, suspensions and a minimum
holding period.

Usage::

    rnnstrategy backtest ../shared/data/qlib_csi300 --universe csi300 --pooled --strategy topk_dropout \\
        --topk 30 --n-drop 3 --min-hold 5 --out runs/topk_dropout

or ``cerebro.addstrategy(TopkDropout, forecasts={"600519.SH": frame, ...}, topk=30, n_drop=3)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

from rnnstrategy.backtrader.rank_params import check_holdings
from rnnstrategy.backtrader.score_portfolio import ScorePortfolio
from rnnstrategy.errors import ConfigError

__all__ = ["TopkDropout"]


class TopkDropout(ScorePortfolio):
    """Hold ``topk`` stocks; each day swap at most ``n_drop`` of the worst-ranked for the best-ranked not held.

    Every close, the day's tradable index members are ranked by score (``expected_return``; ranks only, so
    return thresholds do not apply). A holding that left the index is sold at the next open. Empty slots (the
    first day, leavers, a buy refused earlier) are filled with the best-ranked stocks not held, outside
    ``n_drop``; a suspended holding keeps its slot. Then the worst-ranked holdings held at least ``min_hold``
    sessions are compared with the next best candidates, worst with best: each one a candidate outranks is sold
    and the candidate bought, at most ``n_drop`` a day (sells of holdings over ``topk``, left by a refused
    sell, count against it too).

    Sells go first; the buys split the cash after them (estimated at the close, fees out) equally, at most a
    slot each (``target`` times the value over ``topk``), and idle cash tops up the holdings below a slot, so
    the portfolio stays invested (see :mod:`rnnstrategy.backtrader.score_portfolio`). A stock whose smallest
    order is dearer than a slot is passed over.

    ``min_hold`` defaults to 5 sessions (a trading week): with ``n_drop = 3`` of 30 a holding lasts 10 sessions
    or more on average anyway, so the floor binds on fresh buys whose rank falls back across the cut-off the
    next days (noise around it), where a round trip (commission both ways, stamp duty) would buy nothing; a
    stock whose rank collapses still goes within a week.

    With ``cost_gate`` a swap goes ahead only when its expected gain over ``topk / n_drop`` sessions (the expected
    holding), learnt from the run's past rankings and returns by rank decile, beats its round-trip cost (see
    :meth:`~rnnstrategy.backtrader.score_portfolio.ScorePortfolio.swap_pays`); the first swap it blocks ends the
    day's swaps (the later pairs are closer in rank).
    """

    params = (("topk", 30), ("n_drop", 3), ("min_hold", 5))
    param_help: ClassVar[Mapping[str, str]] = {
        "topk": "stocks to hold, the best ranked by forecast score (ranks only: no return thresholds)",
        "n_drop": "most holdings replaced a day: the worst ranked, each by a better ranked stock not held",
        "min_hold": "sessions a stock is held before it may be replaced (1: the next session)",
    }

    @classmethod
    def check_values(cls, values: Mapping[str, Any]) -> None:
        super().check_values(values)
        topk, n_drop, min_hold = values["topk"], values["n_drop"], values["min_hold"]
        check_holdings("topk", topk)
        if not 0 <= n_drop <= topk:
            raise ConfigError(f"n_drop={n_drop}: replace between 0 and topk={topk} holdings a day")
        if min_hold < 1:
            raise ConfigError(f"min_hold={min_hold}: give the sessions a stock is held before it may be "
                              "replaced, at least 1")

    @property
    def slots(self) -> int:
        return self.p.topk

    def holding_sessions(self) -> int:
        """``topk / n_drop`` sessions (``n_drop`` of ``topk`` replaced a day), at least ``min_hold``."""
        return max(self.p.min_hold, math.ceil(self.p.topk / self.p.n_drop) if self.p.n_drop else 1)

    def next(self) -> None:
        day = self.begin_day()
        topk, n_drop = self.p.topk, self.p.n_drop
        droppable = [data for data in day.held_worst_first() if self.held_sessions(data) >= self.p.min_hold]
        empty = max(0, topk - len(day.held))
        candidates = self.affordable(day.candidates(), day, empty + n_drop)
        sells = droppable[:min(max(0, len(day.held) - topk), n_drop)]  # over topk: no replacement
        swaps = 0
        for out, into in zip(droppable[len(sells):], candidates[empty:], strict=False):
            if len(sells) >= n_drop or day.rank[into] > day.rank[out] or not self.swap_pays(out, into):
                break
            sells.append(out)
            swaps += 1
        self.trade(day, sells, candidates[:empty + swaps])
