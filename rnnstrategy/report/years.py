"""A run's excess return year by year: ``metrics.json["by_year"]``, ``years.csv``, the console and the tearsheet.

One row per calendar year of the run (the first and last years may be partial: ``days`` says how many
sessions each holds)::

    year  days  strategy  benchmark  buy_and_hold  excess_over_benchmark  excess_over_buy_and_hold
          information_ratio_over_benchmark  information_ratio_over_buy_and_hold  turnover

- ``strategy``, ``benchmark``, ``buy_and_hold``: each series' return compounded over the year's sessions
  (``prod(1 + r) - 1``); ``buy_and_hold`` is the equal-weight basket in a universe run.
- ``excess_over_*``: the strategy's compounded year return minus the baseline's (so the columns of a row
  subtract); not the arithmetic ``annualised`` excess of the whole run (mean daily excess x periods per year).
- ``information_ratio_over_*``: :func:`~rnnstrategy.evaluation.excess.information_ratio` of the year's daily
  excess (annualised mean over annualised standard deviation).
- ``turnover``: one-way, within the year and not annualised: the value traded in the year (buys + sells) / 2 /
  the portfolio's mean value over the year's sessions (the formula of ``trades.turnover``).

Missing figures (no buy-and-hold recorded, one session in a year) are None in the metrics, empty in the CSV.
Plain functions of Series and dicts: no I/O but :func:`years_csv_bytes`' encoding, no heavy imports.
"""

from __future__ import annotations

import html
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from rnnstrategy.ashare.calendar import PERIODS_PER_YEAR
from rnnstrategy.evaluation.excess import information_ratio

__all__ = ["YEARS_FILE", "YEAR_COLUMNS", "year_lines", "year_rows", "years_csv_bytes", "years_html"]

YEARS_FILE = "years.csv"
"""The per-year table in a run folder (written with ``metrics.json``; its SHA-256 in the manifest)."""

YEAR_COLUMNS = ("year", "days", "strategy", "benchmark", "buy_and_hold", "excess_over_benchmark",
                "excess_over_buy_and_hold", "information_ratio_over_benchmark",
                "information_ratio_over_buy_and_hold", "turnover")
"""The columns of ``years.csv`` and the keys of each row of ``metrics.json["by_year"]``."""


def _compounded(returns: pd.Series) -> float | None:
    values = returns.dropna()
    return float((1 + values).prod() - 1) if len(values) else None


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def year_rows(returns: pd.Series, benchmark: pd.Series, buy_and_hold: pd.Series | None, *, values: pd.Series,
              trades: pd.DataFrame, periods_per_year: int = PERIODS_PER_YEAR) -> list[dict[str, Any]]:
    """The per-year table (see the module docstring) as a list of rows, oldest year first.

    Args:
        returns, benchmark, buy_and_hold: daily returns of the strategy, the benchmark and buy-and-hold (or the
            equal-weight basket; None: not recorded) on the run's dates.
        values: the portfolio's value by date (``equity["value"]``).
        trades: the fills (``date`` and ``value`` columns, as ``trades.csv``).
        periods_per_year: for the annualised information ratios.
    """
    years = returns.index.year
    traded = pd.Series(trades["value"].astype(float).to_numpy(),
                       index=pd.DatetimeIndex(pd.to_datetime(trades["date"])).year)
    rows = []
    for year in sorted(set(years)):
        day = years == year
        mine, bench = returns[day], benchmark[day]
        held = None if buy_and_hold is None else buy_and_hold[day]
        gain, bench_gain = _compounded(mine), _compounded(bench)
        held_gain = None if held is None else _compounded(held)
        mean_value = float(values[day].mean())
        turnover = float(traded[traded.index == year].sum()) / 2 / mean_value if mean_value > 0 else None
        rows.append({
            "year": int(year),
            "days": int(day.sum()),
            "strategy": gain,
            "benchmark": bench_gain,
            "buy_and_hold": held_gain,
            "excess_over_benchmark": _minus(gain, bench_gain),
            "excess_over_buy_and_hold": _minus(gain, held_gain),
            "information_ratio_over_benchmark": information_ratio(mine - bench, periods_per_year),
            "information_ratio_over_buy_and_hold": None if held is None else information_ratio(mine - held,
                                                                                               periods_per_year),
            "turnover": _finite(turnover),
        })
    return rows


def years_csv_bytes(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """``years.csv`` of ``rows`` (:data:`YEAR_COLUMNS`, full float precision, None as an empty cell)."""
    frame = pd.DataFrame([{column: row.get(column) for column in YEAR_COLUMNS} for row in rows],
                         columns=list(YEAR_COLUMNS))
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode("utf-8")


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1%}"


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _turnover(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}x"


def _cells(row: Mapping[str, Any], same: bool) -> list[str]:
    """A row's figures as text: year, days, returns, excess and IR over the benchmark (and over buy-and-hold,
    unless ``same``: the benchmark is buy-and-hold itself), turnover."""
    cells = [str(row["year"]), str(row["days"]), _percent(row["strategy"]), _percent(row["benchmark"])]
    cells += [] if same else [_percent(row["buy_and_hold"])]
    cells += [_percent(row["excess_over_benchmark"]), _ratio(row["information_ratio_over_benchmark"])]
    cells += [] if same else [_percent(row["excess_over_buy_and_hold"]),
                              _ratio(row["information_ratio_over_buy_and_hold"])]
    return [*cells, _turnover(row["turnover"])]


def _heads(baseline: str, same: bool) -> list[str]:
    heads = ["year", "days", "strategy", "benchmark"] + ([] if same else [baseline])
    heads += ["excess bench", "IR bench"] + ([] if same else [f"excess {baseline}", f"IR {baseline}"])
    return [*heads, "turnover"]


def _same(rows: Sequence[Mapping[str, Any]]) -> bool:
    """Whether every row's benchmark is its buy-and-hold (a run without a benchmark: shown once)."""
    return all(row["buy_and_hold"] == row["benchmark"] for row in rows)


def year_lines(rows: Sequence[Mapping[str, Any]], baseline: str = "b&h", indent: str = "  ") -> list[str]:
    """The per-year table as console lines: a title, a header and one line per year; none without rows.

    ``baseline`` heads the buy-and-hold columns (``"universe"`` in a universe run). Returns compounded within each
    year; excess: the difference of the year's returns; IR annualised from the year's daily excess; turnover
    one-way within the year.
    """
    if not rows:
        return []
    same = _same(rows)
    table = [_heads(baseline, same)] + [_cells(row, same) for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    title = (f"{indent}by year: returns compounded in the year; excess = the strategy's year return minus the "
             "other's; IR from the year's daily excess; one-way turnover")
    lines = [title]
    lines += [indent + "  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True))
              for line in table]
    return lines


def years_html(rows: Sequence[Mapping[str, Any]], titles: Mapping[str, str]) -> str:
    """The per-year table as an HTML ``<div id="by_year">`` for the tearsheet; empty without rows.

    ``titles``: ``strategy``, ``benchmark`` and ``buy_and_hold`` as the page names them.
    """
    if not rows:
        return ""
    same = _same(rows)
    e = html.escape
    heads = ["Year", "Days", e(titles["strategy"]), e(titles["benchmark"])]
    heads += [] if same else [e(titles["buy_and_hold"])]
    heads += ["Excess over the benchmark", "IR"] + ([] if same else ["Excess over buy and hold", "IR"])
    heads.append("Turnover")
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in _cells(row, same)) + "</tr>" for row in rows)
    note = ("Returns compounded within each calendar year; excess: the strategy's year return minus the other's; "
            "IR: annualised mean over annualised standard deviation of the year's daily excess; turnover: one-way, "
            "within the year.")
    return ('<div id="by_year"><h3>Excess return by year</h3><table><thead><tr>'
            + "".join(f"<th>{head}</th>" for head in heads)
            + f"</tr></thead><tbody>{body}</tbody></table><p><small>{note}</small></p><hr></div>")
