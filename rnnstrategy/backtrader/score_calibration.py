"""What a forecast score has been worth: realised returns by score decile, learnt while a strategy runs.

A pooled forecaster's score is a rank, not a return, so a swap's expected gain cannot be read off it. A
:class:`ScoreCalibration` learns it from the strategy's own past instead: each close it records the day's ranking
(best first) and the prices a trade decided that day would fill at, and once a decision's holding ``horizon`` has
passed, the return of each ranked stock from its fill to ``horizon`` sessions later, in excess of that day's mean
over the ranked stocks (the market cancels out of a swap), joins its daily rank bucket (:func:`bucket`: deciles by
rank, never by the score's value). :meth:`ScoreCalibration.expected` is the mean excess return of each bucket over
the last ``window`` decision days whose returns are known. :class:`CostGate` weighs a swap's expected gain (the
bucket of the stock bought less that of the stock sold) against its round-trip cost.

Timing (no look-ahead): with ``next_open`` execution (``lag`` 1) a decision at the close of session ``s`` fills at
the open of ``s + 1`` and is judged at the open of ``s + 1 + horizon``; that open is seen at that session's close,
so the decision enters the calibration at the close of ``s + 1 + horizon``, and what the calibration says at a
close depends on no bar after it. With ``close`` execution (``lag`` 0) the prices are closes and a decision of ``s``
enters at the close of ``s + horizon``. A stock without a price on either day (suspended) is left out of that day.

The holding horizon is the strategy's expected holding period, and the returns are measured over it directly
rather than as a one-day spread times the holding sessions: a score's edge fades with the horizon (the forecaster
learns a one-day label by default), so a scaled one-day spread would overstate what a swap earns.

numpy only: no Backtrader, so it is tested on hand-made sequences.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["BUCKETS", "CostGate", "GateCounts", "ScoreCalibration", "bucket"]

BUCKETS = 10
"""Rank buckets of a day's ranking: deciles."""


def bucket(rank: int, count: int, buckets: int = BUCKETS) -> int:
    """The bucket of place ``rank`` (1 = best) among ``count`` ranked stocks: 0 for the best tenth, ``buckets - 1``
    for the worst."""
    return (rank - 1) * buckets // count


class ScoreCalibration:
    """Mean excess return of each daily rank bucket over a trailing window, from recorded rankings and prices.

    Args:
        horizon: sessions from a decision's fill to the price it is judged at (the expected holding period).
        window: decision days the means are taken over (the latest whose returns are known).
        lag: sessions from a decision to its fill: 1 for ``next_open`` execution, 0 for ``close``.
        buckets: rank buckets a day is split into (deciles by default).
    """

    def __init__(self, horizon: int, window: int = 250, lag: int = 1, buckets: int = BUCKETS) -> None:
        if horizon < 1 or window < 1 or lag < 0 or buckets < 1:
            raise ValueError(f"horizon={horizon}, window={window}, lag={lag}, buckets={buckets}: give horizon, "
                             "window and buckets of at least 1 and a lag of 0 or more")
        self.horizon, self.window, self.lag, self.buckets = horizon, window, lag, buckets
        self._rankings: dict[int, tuple[Hashable, ...]] = {}  # decision session -> ranking, until judged
        self._prices: dict[int, dict[Hashable, float]] = {}  # session -> fill prices, while a decision needs them
        self._days: deque[tuple[np.ndarray, np.ndarray]] = deque(maxlen=window)  # per decision day: sums, counts
        self._expected = np.full(buckets, np.nan)

    @property
    def days(self) -> int:
        """Decision days in the window (those with at least two stocks priced on both days)."""
        return len(self._days)

    def record(self, session: int, ranked: Sequence[Hashable], prices: Mapping[Hashable, float]) -> None:
        """At the close of ``session`` (increasing; one call a session): the day's ranking, best first, and the
        prices a trade fills at in this session (opens for ``next_open``, closes for ``close``; adjusted for
        corporate actions) of every stock with a bar today. Judges the decision of ``session - lag - horizon``."""
        self._rankings[session] = tuple(ranked)
        self._prices[session] = dict(prices)
        decided = session - self.lag - self.horizon
        ranking = self._rankings.pop(decided, None)
        entry = self._prices.get(decided + self.lag)
        if ranking is not None and entry is not None:
            self._judge(ranking, entry, self._prices[session])
        for old in [key for key in self._rankings if key < decided]:
            del self._rankings[old]
        for old in [key for key in self._prices if key <= session - self.horizon]:  # next: session + 1 - horizon on
            del self._prices[old]

    def _judge(self, ranking: tuple[Hashable, ...], entry: Mapping[Hashable, float],
               exit_: Mapping[Hashable, float]) -> None:
        places, returns = [], []
        for place, name in enumerate(ranking):
            start, end = entry.get(name, math.nan), exit_.get(name, math.nan)
            if math.isfinite(start) and math.isfinite(end) and start > 0 and end > 0:
                places.append(place)
                returns.append(end / start - 1)
        if len(returns) < 2:
            return
        excess = np.asarray(returns) - np.mean(returns)
        slots = np.asarray(places) * self.buckets // len(ranking)
        sums = np.bincount(slots, weights=excess, minlength=self.buckets)
        counts = np.bincount(slots, minlength=self.buckets).astype(float)
        self._days.append((sums, counts))
        total = np.sum([day[0] for day in self._days], axis=0)
        seen = np.sum([day[1] for day in self._days], axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            self._expected = np.where(seen > 0, total / np.where(seen > 0, seen, 1), np.nan)

    def expected(self) -> np.ndarray:
        """Mean excess return (a fraction over ``horizon`` sessions) of each bucket, best first; NaN for a bucket
        without data. A copy."""
        return self._expected.copy()

    def gain(self, rank_out: int, rank_into: int, count: int) -> float:
        """Expected excess return of holding place ``rank_into`` instead of place ``rank_out`` of ``count`` ranked
        stocks over ``horizon`` sessions; NaN where either bucket has no data yet."""
        return float(self._expected[bucket(rank_into, count, self.buckets)]
                     - self._expected[bucket(rank_out, count, self.buckets)])


@dataclass
class GateCounts:
    """What a :class:`CostGate` decided: swaps passed and blocked on the calibration, and those decided before
    it had ``min_days`` (let through or blocked by ``warmup``)."""

    passed: int = 0
    blocked: int = 0
    uncalibrated: int = 0

    def summary(self) -> str:
        """One line, e.g. "passed 12 and blocked 30 of 45 swaps on the calibration; 3 decided before it"."""
        total = self.passed + self.blocked + self.uncalibrated
        return (f"passed {self.passed} and blocked {self.blocked} of {total} swaps on the calibration; "
                f"{self.uncalibrated} decided before it")


class CostGate:
    """Let a swap through only when its calibrated expected gain beats its round-trip cost plus ``margin``.

    Args:
        calibration: the strategy's :class:`ScoreCalibration`.
        margin: added to the cost, a fraction of the value traded.
        min_days: calibrated decision days needed before the calibration decides.
        warmup: what the gate does before that (and where a bucket has no data): ``"pass"`` lets every swap
            through (the rule trades on ranks alone, as without the gate), ``"block"`` blocks every swap.
    """

    def __init__(self, calibration: ScoreCalibration, margin: float = 0.0, min_days: int = 60,
                 warmup: str = "pass") -> None:
        if warmup not in ("pass", "block"):
            raise ValueError(f"warmup={warmup!r}: give 'pass' or 'block'")
        self.calibration, self.margin, self.min_days, self.warmup = calibration, margin, min_days, warmup
        self.counts = GateCounts()

    def decide(self, rank_out: int, rank_into: int, count: int, cost: float) -> tuple[bool, float]:
        """Whether to sell place ``rank_out`` and buy place ``rank_into`` of ``count`` ranked stocks, at round-trip
        ``cost`` (a fraction of the value traded), and the expected gain it was judged on (NaN: uncalibrated)."""
        gain = self.calibration.gain(rank_out, rank_into, count) if self.calibration.days >= self.min_days \
            else math.nan
        if math.isnan(gain):
            self.counts.uncalibrated += 1
            return self.warmup == "pass", gain
        passed = gain > cost + self.margin
        if passed:
            self.counts.passed += 1
        else:
            self.counts.blocked += 1
        return passed, gain
