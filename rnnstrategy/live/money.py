"""Money of a paper account as exact decimals: cash, fees and traded values, never binary floats.

A price or fee arrives as a float (a bar's open, a fee of :class:`~rnnstrategy.ashare.fees.FeeSchedule`,
already rounded half up to the fen); :func:`exact` reads it as the decimal its shortest ``repr`` spells
(``1800.25`` is ``Decimal("1800.25")``, not the binary fraction nearest to it), so sums stay exact.
An account's cash is its opening cash (whole fen) less exact trade values and fen fees: with prices
quoted in fen, as the exchanges quote them, every cash figure is a whole number of fen. Prices with more
decimals (forward-adjusted bars) keep them exactly instead of being rounded, so a replayed backtest
still matches its fills.

``account.json`` writes these decimals as JSON numbers spelled exactly (:func:`dumps`); :func:`loads`
reads them back as :class:`~decimal.Decimal`.

Example::

    cash = to_fen(1_000_000) - value(100, 1800.0) - exact(45.0) - exact(1.8)   # Decimal('819953.20')
"""

from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

__all__ = ["FEN", "as_number", "dumps", "exact", "is_whole_fen", "loads", "to_fen", "value"]

FEN = Decimal("0.01")
_TOKEN = "\x00decimal:"  # marks a Decimal in dumps' intermediate text; no key or value of ours holds it
_DECIMAL = re.compile(r'"\\u0000decimal:(-?[0-9]+(?:\.[0-9]+)?(?:E[-+]?[0-9]+)?)"')


def exact(amount: Any) -> Decimal:
    """``amount`` (int, float, decimal string or Decimal) as the Decimal it spells.

    Raises:
        ValueError: NaN, infinity, or text that is no number.
    """
    try:  # True and False are no amounts: Decimal("True") fails
        number = amount if isinstance(amount, Decimal) else Decimal(repr(float(amount)) if isinstance(amount, float)
                                                                    else str(amount))  # float(): numpy's repr differs
    except (InvalidOperation, ValueError):
        raise ValueError(f"{amount!r} is not an amount") from None
    if not number.is_finite():
        raise ValueError(f"{amount!r} is not a finite amount")
    return number


def to_fen(amount: Any) -> Decimal:
    """``amount`` rounded half up to the fen (0.01 CNY), as a statement rounds."""
    return exact(amount).quantize(FEN, rounding=ROUND_HALF_UP)


def is_whole_fen(amount: Any) -> bool:
    """Whether ``amount`` is a whole number of fen (no fraction of a fen)."""
    number = exact(amount)
    return number == number.quantize(FEN, rounding=ROUND_HALF_UP)


def value(shares: int, price: Any) -> Decimal:
    """The exact value of ``shares`` at ``price`` (a bar's open)."""
    return int(shares) * exact(price)


def as_number(amount: Decimal) -> float:
    """``amount`` as a float, for figures that leave the account (reports, the console)."""
    return float(amount)


def dumps(content: Any, **kwargs: Any) -> str:
    """JSON of ``content`` whose Decimals are written as numbers spelled exactly (``286134.35``).

    Raises:
        ValueError: a float NaN or infinity.
    """
    def encode(item: Any) -> Any:
        if isinstance(item, Decimal):
            return f"{_TOKEN}{item:f}"
        if isinstance(item, dict):
            return {key: encode(entry) for key, entry in item.items()}
        if isinstance(item, (list, tuple)):
            return [encode(entry) for entry in item]
        return item

    return _DECIMAL.sub(r"\1", json.dumps(encode(content), allow_nan=False, **kwargs))


def loads(text: str) -> Any:
    """JSON of ``text`` with every non-integer number read as a Decimal."""
    return json.loads(text, parse_float=Decimal)
