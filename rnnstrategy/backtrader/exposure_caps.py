"""Caps on what one stock and one industry may be of a portfolio: the score strategies' ``max_weight``,
``max_industry`` and ``industries`` parameters (:class:`~rnnstrategy.backtrader.score_portfolio.ScorePortfolio`).

- ``max_weight``: buys and top-ups of a stock stop where it would be worth more than this share of the portfolio
  value (at the close that sizes them). A holding that grows past it later is not sold down: trimming winners
  would pay the round trip (stamp duty included) for no signal.
- ``max_industry``: a candidate whose industry would then be worth more than this share (its holdings at the
  close, the buys already picked that day, the candidate at a slot) is skipped for the next best; top-ups stop at
  it too. The holdings sold that day still count for their industry (a sale fills only at the next open, and may
  be refused).
- ``industries``: the mapping file (``symbol,industry`` or a stock list, :mod:`rnnstrategy.data.industries`);
  none: the run's stock list (``--names``, or one found beside the data). A stock without an industry is a group
  of its own, so the industry cap never lumps unrelated stocks together (the report calls them ``unknown``).

Each day the strategy makes a :class:`Ledger` of what each stock and industry is worth at the close, books the
day's buys in it and asks it how much more a stock may take (:meth:`Ledger.room`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from rnnstrategy.data.industries import industry_of, read_industries
from rnnstrategy.errors import ConfigError

__all__ = ["CAP_HELP", "CAP_PARAMS", "CAP_TYPES", "ExposureCaps", "Ledger", "check_caps"]

log = logging.getLogger(__name__)

CAP_PARAMS = (("max_weight", None), ("max_industry", None), ("industries", None))
"""The caps' parameters, with their defaults (None: no cap; the run's stock list)."""

CAP_HELP = {
    "max_weight": "most a stock may be of the portfolio value, in (0, 1]: its buys and top-ups stop there (a "
                  "holding that grows past it is not sold down; under target/slots the rest stays in cash); "
                  "None: no cap beyond the slot",
    "max_industry": "most an industry may be of the portfolio value, in (0, 1]: a candidate whose industry is "
                    "full is skipped for the next best, top-ups stop there; a stock without an industry is a "
                    "group of its own; None: no cap",
    "industries": "CSV of symbol,industry (or a stock list with ts_code and industry) for max_industry and the "
                  "report's industry mix; None: the run's stock list (--names, or one beside the data)",
}

CAP_TYPES = {"max_weight": float, "max_industry": float, "industries": str}


def check_caps(values: Mapping[str, Any]) -> None:
    """Refuse a cap outside (0, 1] and an unreadable mapping file, before any work.

    Raises:
        ConfigError: for a cap out of range.
        DataError: for a bad mapping file (:func:`~rnnstrategy.data.industries.read_industries`).
    """
    for name in ("max_weight", "max_industry"):
        cap = values.get(name)
        if cap is not None and not 0 < cap <= 1:
            what = "a stock" if name == "max_weight" else "an industry"
            raise ConfigError(f"{name}={cap}: give the most {what} may be of the portfolio value, in (0, 1], or "
                              "none for no cap")
    if values.get("industries"):
        read_industries(values["industries"])


class ExposureCaps:
    """A run's caps and the industry group of each feed (built once, in the strategy's ``__init__``)."""

    def __init__(self, max_weight: float | None, max_industry: float | None, groups: Mapping[Any, str]) -> None:
        self.max_weight = max_weight
        self.max_industry = max_industry
        self.groups = dict(groups)
        """Feed -> its industry group (a feed without an industry: a group named after itself)."""

    @classmethod
    def of(cls, strategy: Any) -> ExposureCaps:
        """The caps of ``strategy`` (its ``max_weight``, ``max_industry`` and ``industries`` params)."""
        p = strategy.p
        industries = read_industries(p.industries) if p.industries and p.max_industry is not None else {}
        groups = {}
        for data in strategy.datas:
            found = industry_of(data._name or "", industries)
            groups[data] = found if found is not None else f"\0{data._name}"  # no industry: its own group
        if p.max_industry is not None:
            unknown = sum(group.startswith("\0") for group in groups.values())
            if unknown:
                log.warning("max_industry=%s: %d of %d stocks have no industry (%s); each is a group of its own",
                            p.max_industry, unknown, len(groups),
                            "no mapping: give industries= or --names" if not industries else "not in the mapping")
        return cls(p.max_weight, p.max_industry, groups)

    @property
    def active(self) -> bool:
        """Whether any cap is set."""
        return self.max_weight is not None or self.max_industry is not None

    def ledger(self, strategy: Any, value: float) -> Ledger:
        """What each holding of ``strategy`` is worth at this close, by stock and industry group."""
        worth: dict[Any, float] = {}
        if self.active:
            for data in strategy.datas:
                size = strategy.getposition(data).size
                if size > 0 and len(data):
                    worth[data] = size * data.close[0]
        return Ledger(self, value, worth)


class Ledger:
    """One day's worth of each stock and industry group: the holdings at the close plus the buys booked."""

    def __init__(self, caps: ExposureCaps, value: float, worth: Mapping[Any, float]) -> None:
        self.caps = caps
        self.worth = dict(worth)
        self.load: dict[str, float] = {}
        for data, amount in self.worth.items():
            group = caps.groups.get(data, "")
            self.load[group] = self.load.get(group, 0.0) + amount
        self.weight_cap = math.inf if caps.max_weight is None else caps.max_weight * value
        self.industry_cap = math.inf if caps.max_industry is None else caps.max_industry * value

    def copy(self) -> Ledger:
        """An independent ledger with the same bookings (to pick candidates without booking the buys)."""
        other = Ledger.__new__(Ledger)
        other.caps, other.worth, other.load = self.caps, dict(self.worth), dict(self.load)
        other.weight_cap, other.industry_cap = self.weight_cap, self.industry_cap
        return other

    def room(self, data: Any) -> float:
        """CNY ``data`` may still take: the lesser of its stock's and its industry's room (inf without caps)."""
        group = self.caps.groups.get(data, "")
        return max(0.0, min(self.weight_cap - self.worth.get(data, 0.0), self.industry_cap - self.load.get(group, 0.0)))

    def planned(self, slot: float) -> float:
        """What a new holding is bought for at most: a slot, or less under ``max_weight``."""
        return min(slot, self.weight_cap)

    def admit(self, data: Any, slot: float) -> bool:
        """Whether candidate ``data`` fits, bought for :meth:`planned`: then book it and say True; False (nothing
        booked) when its industry is full."""
        amount = self.planned(slot)
        if self.room(data) < amount * (1 - 1e-9):
            return False
        self.book(data, amount)
        return True

    def book(self, data: Any, amount: float) -> None:
        """Count ``amount`` CNY more of ``data`` (a buy sent, a top-up)."""
        group = self.caps.groups.get(data, "")
        self.worth[data] = self.worth.get(data, 0.0) + amount
        self.load[group] = self.load.get(group, 0.0) + amount
