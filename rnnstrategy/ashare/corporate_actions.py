"""Corporate actions read from a back-adjustment factor, and what they give a holder (no Backtrader).

A back-adjustment factor ``f`` (adjusted price = raw price x ``f``, as in a qlib data directory) steps on
every ex-date ``t``. With ``C`` the raw close of the bar before, a cash dividend ``c`` per share and ``b``
bonus (or capitalisation) shares per share held::

    r = f(t) / f(t-1) = (1 + b) * C / (C - c)        ex-reference price P = C / r

:func:`read_factor_step` turns one step back into an action:

``dividend``
    ``1 < r`` and the step is smaller than one bonus share per ten held explains: the whole step is
    cash, ``c = C * (1 - 1/r)`` per share.
``bonus``
    a step that at least one bonus share per ten held explains (``r`` at least 1.1, up to the half-fen
    rounding of the exchange's reference price): ``b`` is the most whole shares per ten that fit
    (``(1 + b) * C / r <= C``), the rest of the step is cash ``c = C - (1 + b) * C / r``. In
    ``qlib_csi300`` the steps of 1.1 and more cluster just above 1.1, 1.2, ..., 2.0 (10-for-X bonus
    issues with a small cash dividend, e.g. 600519's 10送1派23 on 2011-07-01, r = 1.112), while cash
    dividends of 9 to 10 % of the price stay below (601088's 1.81 CNY at 19.98 on 2021-07-12,
    r = 1.0996). A cash dividend of over 1/11 of the price would be read as a bonus: the factor alone
    cannot tell them apart; the value booked is the same either way.
``restructuring``
    ``r < 1`` (a falling factor, e.g. sz000156 on 2012-10-19): a change of the share count by ``r`` that
    keeps the value at the reference price, no cash.

Steps within :data:`FACTOR_TOLERANCE` of 1 (float32 noise) are no action. A holder of ``n`` shares
(:func:`entitlement`) receives ``n * c`` in cash and ``floor(n * r')`` shares (``r'`` the share ratio),
the fraction paid in cash at the reference price (cash in lieu), so shares x price + cash is the same at
the reference price before and after. Amounts are rounded half up to the fen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

from rnnstrategy.errors import DataError

__all__ = [
    "ACTION_COLUMNS",
    "FACTOR_TOLERANCE",
    "KINDS",
    "CorporateAction",
    "Entitlement",
    "corporate_actions",
    "entitlement",
    "read_factor_step",
]

ACTION_COLUMNS = ("date", "symbol", "kind", "cash_per_share", "share_ratio")
"""The columns of :func:`corporate_actions`: ``cash_per_share`` in CNY before tax, ``share_ratio`` shares after
per share before (1 for a dividend)."""

KINDS = ("dividend", "bonus", "restructuring")

FACTOR_TOLERANCE = 1e-6
"""A factor step ``|r - 1|`` at most this is float32 noise, not an action."""

_HALF_FEN = 0.005  # the exchange rounds its ex-reference price to the fen
_SHARE_EPS = 1e-9


@dataclass(frozen=True)
class CorporateAction:
    """One ex-date's action, per share held at the close before it.

    Attributes:
        kind: ``dividend``, ``bonus`` or ``restructuring`` (see the module docstring).
        cash_per_share: cash dividend per share held, CNY, before tax (0 for a restructuring).
        share_ratio: shares after per share before (1 for a dividend).
        reference_price: the ex-reference price, the previous raw close over the factor step: the price at
            which value is kept (and fractions of a share are paid in cash).
    """

    kind: str
    cash_per_share: float
    share_ratio: float
    reference_price: float


@dataclass(frozen=True)
class Entitlement:
    """What a holding receives from one :class:`CorporateAction`.

    Attributes:
        shares_before, shares_after: the holding before and after the ex-date.
        dividend: cash dividend, CNY, before tax, to the fen.
        cash_in_lieu: the fraction of a share the ratio leaves, paid at the reference price, CNY.
    """

    shares_before: float
    shares_after: float
    dividend: float
    cash_in_lieu: float

    @property
    def cash(self) -> float:
        """All cash credited (dividend and cash in lieu), CNY, before tax."""
        return round(self.dividend + self.cash_in_lieu, 2)


def read_factor_step(prev_close: float, prev_factor: float, factor: float) -> CorporateAction | None:
    """The action of an ex-date from the raw close before it and the factor before and on it; None when the
    factor does not move (see the module docstring for how a step is read).

    Raises:
        DataError: for a close or factor that is not a positive number.
    """
    for name, value in (("previous close", prev_close), ("previous factor", prev_factor), ("factor", factor)):
        if not (math.isfinite(value) and value > 0):
            raise DataError(f"corporate action from the factor: {name} {value!r} is not a positive number; "
                            "fix the bars' close or factor column")
    ratio = factor / prev_factor
    if abs(ratio - 1.0) <= FACTOR_TOLERANCE:
        return None
    reference = prev_close / ratio
    if ratio < 1.0:
        return CorporateAction("restructuring", 0.0, ratio, reference)
    tolerance = _HALF_FEN + 1e-6 * prev_close  # the reference price's rounding and float32 noise
    tenths = math.floor(10.0 * (prev_close / (reference - tolerance) - 1.0) + 1e-9) if reference > tolerance else 0
    if tenths < 1:
        return CorporateAction("dividend", prev_close - reference, 1.0, reference)
    shares = 1.0 + tenths / 10.0
    return CorporateAction("bonus", max(prev_close - shares * reference, 0.0), shares, reference)


def entitlement(shares: float, action: CorporateAction) -> Entitlement:
    """What ``shares`` held at the close before the ex-date of ``action`` receive on it."""
    dividend = _fen(shares * action.cash_per_share)
    if action.share_ratio == 1.0:
        return Entitlement(shares, shares, dividend, 0.0)
    exact = shares * action.share_ratio
    after = float(math.floor(exact + _SHARE_EPS))
    fraction = max(exact - after, 0.0)
    return Entitlement(shares, after, dividend, _fen(fraction * action.reference_price))


def corporate_actions(bars: pd.DataFrame, symbol: str | None = None) -> pd.DataFrame:
    """The actions of raw-price ``bars`` with a ``factor`` column, one row per ex-date (:data:`ACTION_COLUMNS`).

    Args:
        bars: a canonical bar frame with raw ``close`` and the back-adjustment ``factor``.
        symbol: the ``symbol`` column (default ``bars.attrs["symbol"]``).

    Raises:
        DataError: when ``bars`` has no ``factor`` column, or a close or factor is not a positive number.
    """
    symbol = symbol or str(bars.attrs.get("symbol", ""))
    if "factor" not in bars.columns:
        raise DataError(f"{symbol or 'the bars'}: no 'factor' column, so no corporate actions can be read; "
                        "load raw prices with their adjustment factor (a qlib data directory)")
    close = bars["close"].to_numpy(dtype="float64")
    factor = bars["factor"].to_numpy(dtype="float64")
    rows = []
    for i in range(1, len(bars)):
        if abs(factor[i] / factor[i - 1] - 1.0) <= FACTOR_TOLERANCE:
            continue
        action = read_factor_step(close[i - 1], factor[i - 1], factor[i])
        if action is not None:
            rows.append((bars.index[i], symbol, action.kind, action.cash_per_share, action.share_ratio))
    frame = pd.DataFrame(rows, columns=list(ACTION_COLUMNS))
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def _fen(amount: float) -> float:
    return float(Decimal(repr(float(amount))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
