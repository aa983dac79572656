"""What a universe run held: positions over time (``positions.csv``), the holdings' industry mix
(``industries.csv``) and their summary in ``metrics.json["holdings"]``.

``positions.csv``: ``date,symbol,shares,value,weight``, one row per stock held at a close (no rows for stocks
not held, so 30 holdings over 2,000 days are 60,000 rows whatever the universe's size); ``value`` is the shares
at that close (the last close of a suspended stock, as the broker values it), ``weight`` that value over the
portfolio value (``equity.csv``'s ``value``), so a day's weights add up to its invested share.

``industries.csv``: ``industry,mean_weight,max_weight,mean_stocks,days_held``, one row per industry, the
largest first: its weight averaged over every day of the run (0 on days it is not held), its largest weight,
the stocks of it held on an average day and the days any was held. Stocks the mapping does not name are
reported together as ``unknown`` (:data:`~rnnstrategy.data.industries.UNKNOWN`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from rnnstrategy.data.industries import UNKNOWN, industry_of
from rnnstrategy.files import atomic_write_bytes

__all__ = ["INDUSTRIES_FILE", "POSITIONS_FILE", "holdings_lines", "holdings_metrics", "industry_mix", "positions",
           "write_holdings"]

POSITIONS_FILE = "positions.csv"
INDUSTRIES_FILE = "industries.csv"

TOP_INDUSTRIES = 5
"""Industries ``metrics.json`` lists by mean weight (the whole table is ``industries.csv``)."""


def positions(trades: pd.DataFrame, closes: Mapping[str, pd.Series], values: pd.Series,
              corporate_actions: pd.DataFrame | None = None) -> pd.DataFrame:
    """The stocks held at each close of ``values.index``: ``date, symbol, shares, value, weight``.

    Args:
        trades: the fills (``trades.csv``; a fill counts from the close of its date).
        closes: each traded symbol's closes over its feed's dates (the last one values it on later days).
        values: the portfolio value by date (``equity.csv``'s ``value``).
        corporate_actions: bonus shares and splits change the shares on their ex-date (``corporate_actions.csv``).
    """
    columns = ["date", "symbol", "shares", "value", "weight"]
    if trades.empty:
        return pd.DataFrame(columns=columns)
    size = trades["size"].astype(float)
    signed = size.where(trades["side"] == "buy", -size)
    dated, symbols = pd.to_datetime(trades["date"]), trades["symbol"].astype(str)
    if corporate_actions is not None and not corporate_actions.empty:
        change = corporate_actions["shares_after"].astype(float) - corporate_actions["shares_before"].astype(float)
        signed = pd.concat([signed, change], ignore_index=True)
        dated = pd.concat([dated, pd.to_datetime(corporate_actions["date"])], ignore_index=True)
        symbols = pd.concat([symbols, corporate_actions["symbol"].astype(str)], ignore_index=True)
    dates = values.index
    shares = signed.groupby([dated, symbols]).sum().unstack(fill_value=0.0)
    shares = shares.reindex(shares.index.union(dates), fill_value=0.0).cumsum().reindex(dates).round(6)
    prices = pd.DataFrame({symbol: _closes(closes, symbol, dates) for symbol in shares.columns}, index=dates)
    held = shares.stack()
    held = held[held > 0]
    held.index.names = ["date", "symbol"]
    table = held.rename("shares").reset_index()
    table["value"] = table["shares"].to_numpy() * prices.stack().reindex(held.index).to_numpy()
    table["weight"] = table["value"].to_numpy() / values.reindex(table["date"]).to_numpy()
    return table.sort_values(["date", "symbol"], ignore_index=True)[columns]


def _closes(closes: Mapping[str, pd.Series], symbol: str, dates: pd.DatetimeIndex) -> pd.Series:
    """``symbol``'s close at each of ``dates``: its last close on or before the date."""
    series = closes.get(symbol)
    if series is None:
        return pd.Series(float("nan"), index=dates)
    return series.reindex(series.index.union(dates)).ffill().reindex(dates)


def industry_mix(held: pd.DataFrame, industries: Mapping[str, str], dates: pd.DatetimeIndex) -> pd.DataFrame:
    """``industries.csv`` from the :func:`positions` table ``held`` over the run's ``dates`` (see the module)."""
    columns = ["industry", "mean_weight", "max_weight", "mean_stocks", "days_held"]
    if held.empty:
        return pd.DataFrame(columns=columns)
    names = {symbol: industry_of(symbol, industries) or UNKNOWN for symbol in held["symbol"].unique()}
    by_day = held.assign(industry=held["symbol"].map(names)).groupby(["date", "industry"])
    weight = by_day["weight"].sum().unstack(fill_value=0.0).reindex(dates, fill_value=0.0)
    stocks = by_day["symbol"].size().unstack(fill_value=0).reindex(dates, fill_value=0)
    table = pd.DataFrame({"mean_weight": weight.mean(), "max_weight": weight.max(), "mean_stocks": stocks.mean(),
                          "days_held": (stocks > 0).sum()})
    table.index.name = "industry"
    return table.sort_values(["mean_weight"], ascending=False).reset_index()[columns]


def holdings_metrics(held: pd.DataFrame, mix: pd.DataFrame, values: pd.Series, cash: pd.Series,
                     source: str | None, caps: Mapping[str, Any]) -> dict[str, Any]:
    """``metrics.json["holdings"]``: stocks held a day, the largest weight, the invested share over time, the
    caps set, and the industry mix's source and largest industries."""
    invested = 1 - cash / values
    counts = held.groupby("date").size().reindex(values.index, fill_value=0)
    largest = held.loc[held["weight"].idxmax()] if not held.empty else None
    known = mix[mix["industry"] != UNKNOWN]
    return {
        "files": [POSITIONS_FILE, INDUSTRIES_FILE],
        "caps": dict(caps),
        "mean_stocks": float(counts.mean()),
        "max_weight": None if largest is None else {
            "weight": float(largest["weight"]), "symbol": str(largest["symbol"]),
            "date": f"{pd.Timestamp(largest['date']):%Y-%m-%d}"},
        "mean_largest_weight": float(held.groupby("date")["weight"].max().mean()) if not held.empty else None,
        "invested": {"mean": float(invested.mean()), "min": float(invested.min()), "max": float(invested.max())},
        "industries": {
            "source": source,
            "unknown": (f"stocks without an industry in {source} are reported together as {UNKNOWN!r}; "
                        "max_industry caps each of them as a group of its own" if source else
                        f"no industry mapping (give the strategy's industries= or a stock list with an industry "
                        f"column as --names): every stock is reported as {UNKNOWN!r}"),
            "unknown_mean_weight": float(mix.loc[mix["industry"] == UNKNOWN, "mean_weight"].sum()),
            "top": {str(row.industry): float(row.mean_weight) for row in known.head(TOP_INDUSTRIES).itertuples()},
            "max_weight": float(known["max_weight"].max()) if not known.empty else None,
        },
    }


def write_holdings(out: Path, held: pd.DataFrame | None, mix: pd.DataFrame | None) -> list[str]:
    """Write ``positions.csv`` and ``industries.csv`` into ``out`` (values to the fen, weights to 1e-6); none
    left from an earlier run when there are none. Returns the names written."""
    written = []
    for name, table in ((POSITIONS_FILE, held), (INDUSTRIES_FILE, mix)):
        if table is None:
            (out / name).unlink(missing_ok=True)
            continue
        rounded = table.round({"value": 2, "weight": 6, "mean_weight": 6, "max_weight": 6, "mean_stocks": 3})
        text = rounded.to_csv(index=False, date_format="%Y-%m-%d", float_format="%.10g")
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(out / name, text.encode("utf-8"))
        written.append(name)
    return written


def holdings_lines(holdings: Mapping[str, Any] | None) -> list[str]:
    """Console lines on ``metrics.json["holdings"]``: stocks held, the largest weight, the largest industries."""
    if not holdings:
        return []
    largest = holdings.get("max_weight")
    line = f"  holdings: {holdings['mean_stocks']:.1f} stocks a day on average"
    if largest:
        line += f", largest weight {largest['weight']:.1%} ({largest['symbol']} on {largest['date']})"
    caps = ", ".join(f"{name} {value:.0%}" for name, value in (holdings.get("caps") or {}).items() if value)
    lines = [line + (f"; caps: {caps}" if caps else "") + f" (see {POSITIONS_FILE})"]
    industries = holdings.get("industries") or {}
    top = ", ".join(f"{name} {weight:.1%}" for name, weight in (industries.get("top") or {}).items())
    if top:
        lines.append(f"  industries (mean weight, from {industries['source']}): {top}; {UNKNOWN} "
                     f"{industries['unknown_mean_weight']:.1%} (see {INDUSTRIES_FILE})")
    return lines
