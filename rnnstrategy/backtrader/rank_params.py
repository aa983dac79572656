"""Checks of the parameters that the strategies ranking a universe share (``top_k``, ``rank_band``,
``topk_dropout``): how many stocks to hold, and the rank below which a holding is sold. One place, so each
strategy's ``check_values`` and ``__init__`` give the same bounds and the same messages."""

from __future__ import annotations

from rnnstrategy.errors import ConfigError

__all__ = ["band_exit_rank", "check_holdings"]


def check_holdings(name: str, count: int) -> None:
    """Refuse a number of stocks to hold (``k``, ``topk``) below one.

    Raises:
        ConfigError: e.g. "k=0: hold at least one stock".
    """
    if count < 1:
        raise ConfigError(f"{name}={count}: hold at least one stock")


def band_exit_rank(exit_rank: int | None, k: int) -> int:
    """The rank worse than which a holding is sold: ``exit_rank``, or ``2 k`` when it is None (or 0).

    Raises:
        ConfigError: when it is below ``k``, so a stock just bought would be sold at once.
    """
    rank = exit_rank or 2 * k
    if rank < k:
        raise ConfigError(f"exit_rank={rank} is below k={k}: a new holding would be sold at once")
    return rank
