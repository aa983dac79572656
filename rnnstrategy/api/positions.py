"""Holdings a signal decides from: a positions file (CSV or JSON), a paper account folder, or a mapping."""

from __future__ import annotations

import json
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
        DataError: a file that is not one of the formats.
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
                    None if cash is None else float(cash))
        frame = pd.read_csv(path, dtype={"symbol": str})
        if list(frame.columns[:2]) != ["symbol", "shares"]:
            raise ValueError(f"columns {list(frame.columns)}, expected symbol,shares")
        return {row.symbol: _shares(row.symbol, row.shares) for row in frame.itertuples()}, None
    except (ValueError, TypeError) as err:
        raise DataError(f"positions {path}: {err}; write a CSV with columns symbol,shares or a JSON "
                        "{\"cash\": 1000000, \"positions\": {\"600519.SH\": 100}}") from None


def _shares(symbol: object, value: object) -> int:
    shares = float(value)  # type: ignore[arg-type]
    if not shares >= 0 or not shares.is_integer():
        raise ValueError(f"{symbol}: shares={value!r}, give a whole number >= 0")
    return int(shares)


def holdings(positions: str | Path | Mapping[str, int] | None, cash: float | None,
             default_cash: float) -> tuple[dict[str, int], float]:
    """The shares held (``positions``: a mapping, or what :func:`read_positions` reads) and the cash: ``cash``,
    else the positions' own, else ``default_cash`` when nothing is held.

    Raises:
        ConfigError: positions without cash.
    """
    held: dict[str, int] = {}
    if isinstance(positions, Mapping):
        held = {str(name): int(shares) for name, shares in positions.items()}
    elif positions is not None:
        held, account_cash = read_positions(positions)
        cash = account_cash if cash is None else cash
    if cash is None:
        if held:
            raise ConfigError("positions without cash: give cash= (CLI: --cash), or a JSON positions file with "
                              "\"cash\", or a paper account folder")
        cash = default_cash
    return held, float(cash)
