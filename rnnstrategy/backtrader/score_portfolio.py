"""Portfolios of ranked scores: what the score strategies (``topk_dropout``, ``rank_band``) share.

A pooled forecaster's ``expected_return`` is a cross-sectional score (the day's rank of a label), not a
return: comparing it with a cost or with zero says nothing. :class:`ScorePortfolio` gives its subclasses
ranks, never thresholds in return units:

- :meth:`ScorePortfolio.begin_day` sells the holdings that left the index, ranks the day's tradable members by
  score (ties by feed name, so runs are reproducible) and says which holdings occupy a slot (a suspended one
  does; a leaver sold today does not), with the portfolio's value and cash (:class:`Day`);
- :meth:`ScorePortfolio.held_sessions` counts the sessions a stock has been held, across days;
- :meth:`ScorePortfolio.trade` sends the day's sells, then buys sized from the cash those sells will free
  (estimated at the close, fees out), split equally between the buys and capped at one slot (``target`` times
  the value over the number of slots); idle cash beyond :data:`IDLE_SHARE` of the value (dividends, a large
  sale replaced by a one-slot buy, lot remainders) tops up the holdings below a slot, best-ranked first. Cash stays
  idle only for lots, price limits, suspensions and fees (and waits for the next buys while under
  :data:`IDLE_SHARE`);
- :meth:`ScorePortfolio.swap_pays` is where the optional cost gate (``cost_gate``) decides whether a swap is worth
  its round trip: its expected gain is the realised return spread between the two stocks' daily rank deciles over
  the strategy's past sessions (:mod:`rnnstrategy.backtrader.score_calibration`), never the raw score; without the
  gate every swap the rules pick goes ahead;
- the optional caps ``max_weight`` and ``max_industry`` (:mod:`rnnstrategy.backtrader.exposure_caps`) bound the buys
  and top-ups: a stock's stop at its cap, and a candidate whose industry is full is passed over for the next best.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any, ClassVar

import backtrader as bt

from rnnstrategy.backtrader.commission import order_fees
from rnnstrategy.backtrader.exposure_caps import CAP_HELP, CAP_PARAMS, CAP_TYPES, ExposureCaps, Ledger, check_caps
from rnnstrategy.backtrader.feed import has_factor
from rnnstrategy.backtrader.score_calibration import CostGate, ScoreCalibration
from rnnstrategy.backtrader.strategy import ForecastStrategy
from rnnstrategy.errors import ConfigError

__all__ = ["DEFAULT_HOLDING", "GAP_RESERVE", "IDLE_SHARE", "MIN_TOP_UP", "Day", "ScorePortfolio"]

log = logging.getLogger(__name__)

GAP_RESERVE = 0.05
"""Share of each day's buying money kept back: buys are sized at the close and fill at the next open, which may
be higher (a buy the cash cannot pay when it fills is refused, and retried the next day)."""

IDLE_SHARE = 0.01
"""Money left after the day's buys (each at most a slot), as a share of the portfolio value, above which the
holdings below a slot are topped up (below it the cash waits for later buys: a top-up pays a commission too)."""

MIN_TOP_UP = 20_000.0
"""A top-up worth less than this (CNY) is not sent: below it the default commission (0.025 %) is at its 5 CNY
minimum."""

DEFAULT_HOLDING = 10
"""Sessions a holding is expected to last where a strategy has no estimate of its own (see
:meth:`ScorePortfolio.holding_sessions`): two trading weeks."""

_OLD = -(10**9)
"""The first session of a holding the strategy did not see bought (a signal run's or paper account's starting
positions): old enough for any minimum holding period."""


@dataclass
class Day:
    """What a score strategy knows at a close, before it trades (see :meth:`ScorePortfolio.begin_day`)."""

    ranked: list[Any]
    """The day's tradable members with a score (a bar today, no order in flight), best first."""
    rank: dict[Any, int]
    """Each ranked feed's place, 1 = best."""
    held: dict[Any, None]
    """The holdings that occupy a slot (a position or a buy in flight; suspended ones too), leavers sold today
    left out; a dict keyed by feed (``feed in list`` would compare closes: Backtrader overloads ``==``)."""
    leaving: list[Any]
    """Holdings that left the index, sold at the next open."""
    value: float
    cash: float

    def held_worst_first(self) -> list[Any]:
        """The ranked holdings (a bar and no order in flight today), worst-ranked first."""
        return sorted((data for data in self.held if data in self.rank), key=lambda data: -self.rank[data])

    def candidates(self) -> Iterable[Any]:
        """The ranked feeds not held, best first."""
        return (data for data in self.ranked if data not in self.held)


class ScorePortfolio(ForecastStrategy):
    """Base of strategies that hold the best-ranked stocks of a universe by forecast score.

    A subclass decides in ``next``: it calls :meth:`begin_day`, picks its sells and buys by rank, and hands
    them to :meth:`trade`. ``target`` (default 1: fully invested) is the share of the portfolio value the
    slots hold together; :attr:`slots` says how many there are.
    """

    ranks_universe = True
    params = (("target", 1.0), ("cost_gate", False), ("cost_gate_horizon", None), ("cost_gate_window", 250),
              ("cost_gate_min_days", 60), ("cost_gate_warmup", "pass"), ("cost_gate_margin", 0.0), *CAP_PARAMS)
    param_help: ClassVar[Mapping[str, str]] = {
        "target": "fraction of the portfolio value the slots hold together, in (0, 1] (1: fully invested; "
                  "5 % of each day's buying money is kept back for the opening gap)",
        "cost_gate": "swap a holding for a candidate only when the expected gain beats the cost of the round trip: the "
                     "gain is the realised return spread between their daily rank deciles over past sessions "
                     "(a calibration of the scores on what the run has seen, never the raw score)",
        "cost_gate_horizon": "sessions the cost gate's returns are measured over, from the fill at the next open "
                             "(None: the expected holding, topk_dropout's topk / n_drop sessions, at least "
                             "min_hold; rank_band's 10)",
        "cost_gate_window": "past decision days the cost gate's calibration averages over",
        "cost_gate_min_days": "calibrated days the cost gate needs before it judges a swap",
        "cost_gate_warmup": "what the cost gate does before min_days are calibrated: pass (trade on ranks alone) "
                            "or block (no swaps)",
        "cost_gate_margin": "extra gain, a fraction of the value traded, a swap must make beyond the cost of its "
                            "round trip",
        **CAP_HELP,  # max_weight, max_industry, industries: rnnstrategy.backtrader.exposure_caps
    }
    param_types: ClassVar[Mapping[str, type]] = {"cost_gate_horizon": int, **CAP_TYPES}

    @classmethod
    def check_values(cls, values: Mapping[str, Any]) -> None:
        super().check_values(values)
        check_caps(values)
        horizon, window = values["cost_gate_horizon"], values["cost_gate_window"]
        min_days = values["cost_gate_min_days"]
        if horizon is not None and horizon < 1:
            raise ConfigError(f"cost_gate_horizon={horizon}: give the sessions a swap is judged over, at least 1, "
                              "or none for the expected holding")
        if not 1 <= min_days <= window:
            raise ConfigError(f"cost_gate_min_days={min_days}, cost_gate_window={window}: give a window of at "
                              "least min_days and min_days of at least 1")
        if values["cost_gate_warmup"] not in ("pass", "block"):
            raise ConfigError(f"cost_gate_warmup={values['cost_gate_warmup']!r}: give pass or block")
        if values["cost_gate_margin"] < 0:
            raise ConfigError(f"cost_gate_margin={values['cost_gate_margin']}: give a margin of 0 or more")

    def __init__(self) -> None:
        super().__init__()
        self._session = 0  # closes seen
        self._since: dict[Any, int] = {}  # feed -> first session held
        self._day: Day | None = None  # today's, for swap_pays
        self.caps = ExposureCaps.of(self)  # max_weight, max_industry
        self.ledger: Ledger | None = None  # today's worth by stock and industry, for the caps
        self.gate: CostGate | None = None
        """The cost gate (``cost_gate``), with its calibration and its counts; None without it."""
        if self.p.cost_gate:
            calibration = ScoreCalibration(self.p.cost_gate_horizon or self.holding_sessions(),
                                           window=self.p.cost_gate_window, lag=int(self.p.execution != "close"))
            self.gate = CostGate(calibration, margin=self.p.cost_gate_margin, min_days=self.p.cost_gate_min_days,
                                 warmup=self.p.cost_gate_warmup)

    @property
    def slots(self) -> int:
        """The number of stocks to hold (a subclass's ``topk`` or ``k``)."""
        raise NotImplementedError

    def holding_sessions(self) -> int:
        """Sessions a holding is expected to last: the cost gate's default horizon (:data:`DEFAULT_HOLDING`
        unless a subclass knows better)."""
        return DEFAULT_HOLDING

    def notify_order(self, order: bt.Order) -> None:
        super().notify_order(order)
        # delivered before the next close's `next`: a stock bought today is held for its first session there
        if order.isbuy() and order.executed.size > 0:
            self._since.setdefault(order.data, self._session + 1)

    # -- the day ---------------------------------------------------------------------------------

    def begin_day(self) -> Day:
        """Start a session: count it for the holding ages, sell the leavers (:meth:`sell_leavers`), rank."""
        self._session += 1
        for data in self.datas:
            if self.getposition(data).size > 0:
                self._since.setdefault(data, _OLD)
            else:
                self._since.pop(data, None)
        leaving = self.sell_leavers()
        ranked = self.ranked_members()
        gone = {data: None for data in leaving}
        held = {data: None for data in self.datas
                if data not in gone and (self.getposition(data).size > 0 or self._buying(data))}
        self._day = Day(ranked=ranked, rank={data: place for place, data in enumerate(ranked, start=1)}, held=held,
                        leaving=leaving, value=self.broker.getvalue(), cash=self.broker.getcash())
        self.ledger = self.caps.ledger(self, self._day.value)
        if self.gate is not None:
            self._calibrate(ranked)
        return self._day

    def _calibrate(self, ranked: list[Any]) -> None:
        """Hand the cost gate's calibration today's ranking and fill prices (the open, or the close with
        ``execution="close"``, back-adjusted where the feed has a factor), by feed position."""
        today = max((data.datetime[0] for data in self.datas if len(data)), default=None)
        at_close = self.p.execution == "close"
        prices, position = {}, {}
        for k, data in enumerate(self.datas):
            position[data] = k
            if len(data) and data.datetime[0] == today:
                price = data.close[0] if at_close else data.open[0]
                prices[k] = price * data.factor[0] if has_factor(data) else price
        self.gate.calibration.record(self._session, [position[data] for data in ranked], prices)

    def _buying(self, data: Any) -> bool:
        order = self.pending(data)
        return order is not None and order.isbuy()

    def ranked_members(self) -> list[Any]:
        """The tradable feeds (:meth:`tradable`: the day's members with a bar and no order in flight) that have a
        score, best first; equal scores in the order of their feed names."""
        scored = [(signal.expected_return[0], data._name or "", k, data)
                  for k, (data, signal) in enumerate(self.tradable())]
        scored = [item for item in scored if not math.isnan(item[0])]
        return [item[3] for item in sorted(scored, key=lambda item: (-item[0], item[1], item[2]))]

    def held_sessions(self, data: Any) -> int:
        """Sessions ``data`` has been held at this close, today included (1 on the close after a buy filled at
        the open); a holding the strategy did not see bought counts as held for ever; 0 when not held."""
        since = self._since.get(data)
        return 0 if since is None or self.getposition(data).size <= 0 else self._session - since + 1

    def swap_pays(self, out: Any, into: Any) -> bool:
        """Whether replacing holding ``out`` with candidate ``into`` (both ranked today) is worth the round trip.
        Always True without ``cost_gate``. With it: whether the expected excess return of ``into``'s rank decile
        over ``out``'s (:class:`~rnnstrategy.backtrader.score_calibration.ScoreCalibration`, from the sessions up
        to this close only) beats :meth:`round_trip_cost` of a slot of ``into`` plus ``cost_gate_margin``; before
        ``cost_gate_min_days`` are calibrated, as ``cost_gate_warmup`` says."""
        if self.gate is None:
            return True
        day = self._day
        cost = self.round_trip_cost(into, self.shares_worth(into, self.slot_value(day)))
        passed, gain = self.gate.decide(day.rank[out], day.rank[into], len(day.ranked), cost)
        log.debug("cost gate %s: %s (rank %d) -> %s (rank %d): gain %.6f, cost %.6f: %s", out.datetime.date(0),
                  out._name, day.rank[out], into._name, day.rank[into], gain, cost, "pass" if passed else "block")
        return passed

    def stop(self) -> None:
        if self.gate is not None:
            log.warning("%s cost gate (%d-session returns, %d days calibrated): %s", type(self).__name__,
                        self.gate.calibration.horizon, self.gate.calibration.days, self.gate.counts.summary())

    # -- sizing and orders -----------------------------------------------------------------------

    def slot_value(self, day: Day) -> float:
        """One slot's worth: ``target`` times the portfolio value over :attr:`slots`."""
        return self.p.target * day.value / self.slots

    def affordable(self, feeds: Iterable[Any], day: Day, count: int) -> list[Any]:
        """The first ``count`` of ``feeds`` of which one slot buys at least the smallest order (a stock
        whose lot is dearer than a slot is passed over: buying it would take more than its share); under
        ``max_industry``, one whose industry is full is passed over too (:meth:`Ledger.admit`)."""
        slot, book = self.slot_value(day), self.ledger.copy()  # the picks are booked on a copy: not bought yet
        return list(islice((data for data in feeds if self.shares_worth(data, book.planned(slot))
                            and book.admit(data, slot)), max(count, 0)))

    def sale_proceeds(self, data: Any, size: float | None = None) -> float:
        """What selling ``size`` shares (default the whole position) at the current close brings, fees out."""
        size = self.getposition(data).size if size is None else size
        price = data.close[0]
        return size * price - order_fees(self.broker.getcommissioninfo(data), -size, price, data.datetime.date(0))

    def buy_cost(self, data: Any, size: float) -> float:
        """What buying ``size`` shares at the current close costs, fees in."""
        price = data.close[0]
        return size * price + order_fees(self.broker.getcommissioninfo(data), size, price, data.datetime.date(0))

    def trade(self, day: Day, sells: Sequence[Any], buys: Sequence[Any], parts: Mapping[Any, int] | None = None,
              unwanted: Iterable[Any] = ()) -> None:
        """Sell ``sells`` whole and ``parts`` in part (feed -> shares), then buy ``buys`` (best first) with the
        cash after those sells and the leavers' (estimated at the close, fees out), less what ``target`` keeps
        out and :data:`GAP_RESERVE`: see :meth:`invest` (``unwanted``: holdings it must not top up). Sells go
        first, so they fill first at the next open."""
        money = day.cash + sum(self.sale_proceeds(data) for data in day.leaving)
        for data in sells:
            proceeds = self.sale_proceeds(data)
            if self.exit(data) is not None:
                money += proceeds
        for data, size in (parts or {}).items():
            order = self.exit(data, size=size)
            if order is not None:
                money += self.sale_proceeds(data, abs(order.size))
        money -= (1 - self.p.target) * day.value
        self.invest((1 - GAP_RESERVE) * money, buys, day, unwanted)

    def invest(self, money: float, buys: Sequence[Any], day: Day, unwanted: Iterable[Any] = ()) -> None:
        """Spend ``money`` CNY on ``buys`` (best first): split equally, each at most a slot, the lot remainder of
        each rolling over to the next. When more than :data:`IDLE_SHARE` of the value is left (the buys took a
        slot each), the holdings below a slot are topped up (:meth:`top_up`)."""
        slot = self.slot_value(day)
        for k, data in enumerate(buys):
            size = self.shares_worth(data, min(money / (len(buys) - k), slot, self.ledger.room(data)))
            if size and self.enter(data, size=size) is not None:
                money -= self.buy_cost(data, size)
                self.ledger.book(data, size * data.close[0])
        if money > IDLE_SHARE * day.value:
            self.top_up(money, slot, day, unwanted)

    def top_up(self, money: float, slot: float, day: Day, unwanted: Iterable[Any] = ()) -> None:
        """Spend ``money`` CNY on more of the holdings with a bar and no order today, not ``unwanted`` ones (those
        the strategy would sell): first those below ``slot``, best-ranked first, each up to ``slot``; what is
        still over :data:`IDLE_SHARE` of the value then (every one at a slot, the others unwanted or untradable)
        goes to all of them equally, so the cash is not left idle. A top-up under :data:`MIN_TOP_UP` is not
        sent."""
        skip = {data: None for data in unwanted}
        worth = {data: self.getposition(data).size * data.close[0] for data, _ in self.tradable()
                 if self.getposition(data).size > 0 and data not in skip}
        ranked = sorted(worth, key=lambda data: day.rank.get(data, math.inf))
        budgets = dict.fromkeys(ranked, 0.0)
        for data in ranked:
            budget = min(slot - worth[data], money, self.ledger.room(data))  # room: max_weight, max_industry
            if budget >= MIN_TOP_UP:
                budgets[data], money = budget, money - budget
                self.ledger.book(data, budget)
        if ranked and money > IDLE_SHARE * day.value:
            share = money / len(ranked)
            for data in budgets:
                extra = min(share, self.ledger.room(data))
                budgets[data] += extra
                self.ledger.book(data, extra)
        for data, budget in budgets.items():
            size = self.shares_worth(data, budget) if budget >= MIN_TOP_UP else 0
            if size:
                self.enter(data, size=size)
