"""Holdings a signal decides from: a positions file (CSV or JSON), a paper account folder, or a mapping."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from rnnstrategy.errors import ConfigError, DataError

__all__ = ["holdings", "read_positions"]


def read_positions(source: str | Path) -> tuple[dict[str, int], float | None]:
    """Holdings and cash (None when the file has none) from a positions file or a paper account folder.

    Formats: a CSV with columns ``symbol,shares`` (no cash); a JSON object
    ``{"cash": 812345.0, "positions": {"600519.SH": 100}}``; a folder holding a
    :class:`~rnnstrategy.live.paper.PaperAccount` (its ``account.json``: cash and positions).

    Raises:
        ConfigError: a missing file or a folder without an account.
        DataError: a file that is not one of the formats, or holds negative, fractional or repeated holdings, or
            negative cash.
    """
    path = Path(source)
    if path.is_dir():
        from rnnstrategy.live.paper import ACCOUNT_FILE, PaperAccount

        if not (path / ACCOUNT_FILE).is_file():
            raise ConfigError(f"positions {path}: a folder, but no paper account ({ACCOUNT_FILE}) in it; give a "
                              "positions CSV (symbol,shares), a JSON {\"cash\": ..., \"positions\": {...}}, or the "
                              "folder of a paper account")
        account = PaperAccount.open(path)
        return account.positions, account.cash
    if not path.is_file():
        raise ConfigError(f"positions {path}: no such file or folder")
    try:
        if path.suffix.lower() == ".json":
            content = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(content, dict) or not isinstance(content.get("positions", {}), dict):
                raise ValueError("expected {\"cash\": ..., \"positions\": {\"600519.SH\": 100}}")
            cash = content.get("cash")
            return ({str(k): _shares(k, v) for k, v in content.get("positions", {}).items()},
                    None if cash is None else _cash(cash))
        frame = pd.read_csv(path, dtype={"symbol": str})
        if list(frame.columns[:2]) != ["symbol", "shares"]:
            raise ValueError(f"columns {list(frame.columns)}, expected symbol,shares")
        repeated = sorted(set(frame["symbol"][frame["symbol"].duplicated()]))
        if repeated:
            raise ValueError(f"{', '.join(map(str, repeated))} listed more than once")
        return {row.symbol: _shares(row.symbol, row.shares) for row in frame.itertuples()}, None
    except (ValueError, TypeError) as err:
        raise DataError(f"positions {path}: {err}; write a CSV with columns symbol,shares or a JSON "
                        "{\"cash\": 1000000, \"positions\": {\"600519.SH\": 100}}") from None


def _shares(symbol: object, value: object) -> int:
    shares = float(value)  # type: ignore[arg-type]
    if isinstance(value, bool) or not shares >= 0 or not shares.is_integer():
        raise ValueError(f"{symbol}: shares={value!r}, give a whole number >= 0")
    return int(shares)


def _cash(value: object) -> float:
    """``value`` as cash: a finite amount of 0 or more (a ValueError names it otherwise)."""
    cash = float(value)  # type: ignore[arg-type]
    if isinstance(value, bool) or not math.isfinite(cash) or cash < 0:
        raise ValueError(f"cash={value!r}, give 0 or a positive amount in CNY")
    return cash


def holdings(positions: str | Path | Mapping[str, int] | None, cash: float | None,
             default_cash: float) -> tuple[dict[str, int], float]:
    """The shares held (``positions``: a mapping, or what :func:`read_positions` reads) and the cash: ``cash``,
    else the positions' own, else ``default_cash`` when nothing is held.

    Raises:
        ConfigError: positions without cash, negative or fractional shares, cash that is negative or not finite.
    """
    held: dict[str, int] = {}
    if isinstance(positions, Mapping):
        try:
            held = {str(name): _shares(name, shares) for name, shares in positions.items()}
        except (TypeError, ValueError) as err:
            raise ConfigError(f"positions: {err}") from None
    elif positions is not None:
        held, account_cash = read_positions(positions)
        cash = account_cash if cash is None else cash
    if cash is None:
        if held:
            raise ConfigError("positions without cash: give cash= (CLI: --cash), or a JSON positions file with "
                              "\"cash\", or a paper account folder")
        cash = default_cash
    try:
        return held, _cash(cash)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{err} (CLI: --cash)") from None
