"""Buy into the top ``k`` by forecast score, sell only below ``exit_rank``: a rank band, fully invested.

For forecasts that are cross-sectional scores (a pooled model's ``expected_return`` is the day's rank of a
label, not a return): the rule compares ranks only, never a score with a return or a cost.

Usage::

    rnnstrategy backtest ../shared/data/qlib_csi300 --universe csi300 --pooled --strategy rank_band \\
        --k 30 --exit-rank 60 --max-turnover 0.1 --out runs/rank_band

or ``cerebro.addstrategy(RankBand, forecasts={"600519.SH": frame, ...}, k=30, exit_rank=60)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

from rnnstrategy.backtrader.rank_params import band_exit_rank, check_holdings
from rnnstrategy.backtrader.score_portfolio import Day, ScorePortfolio
from rnnstrategy.errors import ConfigError

__all__ = ["RankBand"]


class RankBand(ScorePortfolio):
    """Hold ``k`` stocks: buy from the top ``k`` by rank, sell a holding only once it ranks below ``exit_rank``.

    Every close, the day's tradable index members are ranked by score (``expected_return``; ranks only, so
    return thresholds do not apply). A holding that left the index is sold at the next open; one ranked worse
    than ``exit_rank`` (default ``2 k``) is sold, worst first; one between ``k`` and ``exit_rank`` is kept (the
    band: no trading away and back on a small slip). The slots this frees, and any empty ones (the first day, a
    buy refused earlier), are filled with the best-ranked stocks of the top ``k`` not held; a suspended holding
    keeps its slot.

    Sells go first; the buys split the cash after them (estimated at the close, fees out) equally, at most a
    slot each (``target`` times the value over ``k``), and idle cash tops up the holdings below a slot, so the
    portfolio stays invested (see :mod:`rnnstrategy.backtrader.score_portfolio`). With ``max_turnover`` the
    band's sells are worth at most that fraction of the value a day, worst first (a holding worth more than
    what is left of it is sold in part, the rest on later days, unless it climbs back into the top ``k``); each
    sell, whole or the first part, is paired with a buy of the best candidate, and the money of later parts
    tops up the holdings below a slot, so the cap never leaves cash idle. The leavers' sales and the buys of
    empty slots are outside the cap.

    With ``cost_gate`` a holding below ``exit_rank`` is sold only when the expected gain of the candidate taking
    its slot over the holding, learnt from the run's past rankings and returns by rank decile, beats the round
    trip's cost (see :meth:`~rnnstrategy.backtrader.score_portfolio.ScorePortfolio.swap_pays`); one without a
    candidate is sold regardless.
    """

    params = (("k", 30), ("exit_rank", None), ("max_turnover", None))
    # --k, --exit-rank and --max-turnover are shared with top_k, and the command line shows one help for both
    param_help: ClassVar[Mapping[str, str]] = {
        "k": "stocks to hold, bought from the top k (rank_band ranks scores: no return thresholds)",
        "exit_rank": "sell a holding ranked worse than this (1 = best; None: 2 k)",
        "max_turnover": "one-way turnover allowed per day, a fraction of the portfolio value (top_k: in (0, 2]; "
                        "rank_band: what the band sells, in (0, 1], each sale replaced at once; None: no cap)",
    }
    param_types: ClassVar[Mapping[str, type]] = {"exit_rank": int, "max_turnover": float}

    @classmethod
    def check_values(cls, values: Mapping[str, Any]) -> None:
        super().check_values(values)
        k, turnover = values["k"], values["max_turnover"]
        check_holdings("k", k)
        band_exit_rank(values["exit_rank"], k)
        if turnover is not None and not 0 < turnover <= 1:
            raise ConfigError(f"max_turnover={turnover}: give the fraction of the portfolio value the band may "
                              "sell a day, in (0, 1], or none for no cap")

    def __init__(self) -> None:
        super().__init__()
        self.exit_rank = band_exit_rank(self.p.exit_rank, self.p.k)
        self._outgoing: dict[Any, None] = {}  # sold in part under the cap: their slots are given away already

    @property
    def slots(self) -> int:
        return self.p.k

    def next(self) -> None:
        day = self.begin_day()
        self._outgoing = {data: None for data in self._outgoing  # one back in the top k is kept after all
                          if self.getposition(data).size > 0 and day.rank.get(data, math.inf) > self.p.k}
        in_slots = [data for data in day.held if data not in self._outgoing]
        below = [data for data in day.held_worst_first() if data not in self._outgoing
                 and day.rank[data] > self.exit_rank]
        room = self.p.k - len(in_slots)  # below 0 when an outgoing stock came back into the slots
        top = {data: None for data in day.ranked[:self.p.k]}
        candidates = self.affordable((data for data in day.candidates() if data in top), day,
                                     max(room, 0) + len(below))
        pairs = candidates[max(room, 0):]  # below[i] makes way for pairs[i]; none left: it goes without a buy
        leaving = [out for i, out in enumerate(below) if i >= len(pairs) or self.swap_pays(out, pairs[i])]
        sells, parts = self._within_cap([data for data in self._outgoing if data in day.rank] + leaving, day)
        self._outgoing.update(parts)
        new = {data: None for data in leaving}  # a dict: `feed in list` would compare closes (Backtrader's ==)
        freed = sum(1 for data in [*sells, *parts] if data in new)
        self.trade(day, sells, candidates[:max(0, room + freed)], parts, unwanted=[*below, *self._outgoing])

    def _within_cap(self, outs: list[Any], day: Day) -> tuple[list[Any], dict[Any, int]]:
        """``outs`` (in order) to sell whole within ``max_turnover``, and the one sold in part where the cap
        binds (feed -> shares; the broker rounds them down to lots)."""
        budget = math.inf if self.p.max_turnover is None else self.p.max_turnover * day.value
        sells: list[Any] = []
        for out in outs:
            worth = self.getposition(out).size * out.close[0]
            if worth > budget:
                shares = int(budget / out.close[0])
                return sells, ({out: shares} if shares else {})
            sells.append(out)
            budget -= worth
        return sells, {}
