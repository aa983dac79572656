"""The volume limit: a day's fills of one stock take at most a share of its volume (no Backtrader).

rqalpha's default is 25 % of the bar's volume (``volume_percent``); a fill larger than that would move
the price a backtest assumes. The room left is rounded down to the board's lot by the caller
(:meth:`rnnstrategy.ashare.symbols.SymbolInfo.valid_order_size`); a day without volume has no room.
"""

from __future__ import annotations

import math

from rnnstrategy.errors import ConfigError

__all__ = ["check_volume_limit", "volume_room"]


def check_volume_limit(name: str, share: float | None) -> None:
    """Refuse a volume limit that is not None or a fraction in [0, 1] (0 and None: no limit).

    Raises:
        ConfigError: naming ``name``, the value and the fix.
    """
    if share is None:
        return
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
        raise ConfigError(f"{name}={share!r}: give the share of a day's volume one stock's fills may take, "
                          "a fraction in [0, 1] (0.25 = 25 %; 0 or none: no limit)")


def volume_room(volume: float, share: float | None, used: float = 0.0) -> float:
    """Shares that fills of one stock may still take on a day of ``volume`` shares, after ``used``;
    ``inf`` without a limit (``share`` None or 0)."""
    if not share:
        return math.inf
    return max(math.floor(share * max(volume, 0.0) + 1e-9) - used, 0.0)
