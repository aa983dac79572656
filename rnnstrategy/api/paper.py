"""The report of a paper-trading account: the files of a backtest, from its journal and the bars.

``rnnstrategy paper report ACCOUNT --data ... --out DIR`` and :func:`paper_report` write what a
backtest writes (``report.html``, ``metrics.json``, ``trades.csv``, ``equity.csv``, the equity plot,
``manifest.json``, and ``corporate_actions.csv`` when the account booked any; see
:mod:`rnnstrategy.report.folder`), so ``rnnstrategy report DIR`` redraws it and ``rnnstrategy compare``
sets it beside the backtest it follows. The account's fills and corporate actions come from its
journal (:mod:`rnnstrategy.live.ledger`); beside them stand the benchmark and buy-and-hold of the
stocks given (one stock: holding it; several: the equal-weight universe), bought at the open of the
report's first day with the same cash, fees and lots, as a backtest measures them.

Example::

    import rnnstrategy as rs
    run = rs.paper_report("paper/moutai", "SH600519.csv", benchmark="sh000300.csv")
    run.write("runs/paper_moutai")
    print("\\n".join(run.summary()))
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from rnnstrategy.api.record import manifest, measure
from rnnstrategy.api.results import PaperReportRun
from rnnstrategy.ashare.rules import AShareRules
from rnnstrategy.config import date_text
from rnnstrategy.data.loader import load_bars
from rnnstrategy.errors import ConfigError
from rnnstrategy.files import file_sha256
from rnnstrategy.report.manifest import data_record
from rnnstrategy.report.titles import run_titles

if TYPE_CHECKING:
    from rnnstrategy.live.paper import PaperAccount

__all__ = ["paper_report"]

log = logging.getLogger(__name__)

Bars = str | Path | pd.DataFrame


def paper_report(
    account: str | Path | PaperAccount,
    data: Bars | Sequence[Bars] | Mapping[str, pd.DataFrame],
    *,
    benchmark: Bars | None = None,
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    adjust: str = "qfq",
    names: str | Path | None = None,
    rules: AShareRules | None = None,
) -> PaperReportRun:
    """The report of a paper account, as a backtest's (see the module docstring).

    Args:
        account: the account's folder, or a :class:`~rnnstrategy.live.paper.PaperAccount`.
        data: the bars of every stock the account traded, and of the stocks to hold beside it: a
            CSV path or symbol, a folder of CSVs, a list of them, or frames by symbol. One stock is
            compared with buy-and-hold of it, several with their equal-weight universe.
        benchmark: an index (CSV path, symbol or frame); default buy-and-hold of ``data``.
        start, end: the report's first and last days. Default start: the close the account's first
            orders were decided on (the bar before the first session it filled, orders or none); default
            end: the last bar.
        adjust: price adjustment of a symbol download ('' raw, 'qfq', 'hfq'); fills are booked from the
            bars ``paper fill`` read, so give the same.
        names: a stock list CSV (``ts_code``, ``name``) for the titles; default found beside the data.
        rules: the A-share rules of buy-and-hold (fees, lots); default ``AShareRules()``.

    Raises:
        ConfigError: no account there, an account that filled no session yet, a start or end that is no
            date, a window without bars.
        DataError: a damaged account or journal, a fill whose stock or session the bars lack, a
            benchmark not covering the report.
    """
    from rnnstrategy.backtrader.buy_and_hold import run_buy_and_hold
    from rnnstrategy.live.ledger import account_equity, journal_actions, journal_trades
    from rnnstrategy.report.measures import stocks_held
    from rnnstrategy.report.names import find_names_file

    start, end = date_text("start", start), date_text("end", end)  # before any work
    account = _open(account)
    journal = account.journal()
    frames = _load_all(data, adjust)
    bars = {str(frame.attrs["symbol"]): frame for frame in frames}
    equity, before = account_equity(journal, account.opening_cash, bars, start, end, account.first_session)
    dates = equity.index
    symbols = tuple(bars)
    inside = [line for line in journal if dates[0] <= pd.Timestamp(line["session"]) <= dates[-1]]
    trades, actions = journal_trades(inside), journal_actions(inside)
    held_frames = [frame.loc[dates[0]:dates[-1]] for frame in frames]
    held = run_buy_and_hold([frame for frame in held_frames if len(frame)], dates[0], dates[-1], cash=before,
                            rules=rules)
    bench = load_bars(benchmark) if isinstance(benchmark, (str, Path)) else benchmark
    returns = equity["value"].div(equity["value"].shift(1).fillna(before)).sub(1.0)
    if len(symbols) > 1:
        equity = equity.assign(position=stocks_held(trades, dates, actions))
    near = str(data) if isinstance(data, (str, Path)) else None
    named = run_titles(f"Paper account {account.folder.name}", symbols, names=names or find_names_file(near),
                   benchmark=None if bench is None else str(bench.attrs.get("symbol", "")))
    report, metrics = measure(equity, returns, trades, held=held, benchmark=bench, titles=named, symbols=symbols,
                              parameters={"Paper account": account.folder.name, "Stocks": len(symbols)},
                              baseline="buy and hold" if len(symbols) == 1 else "the equal-weight universe",
                              corporate_actions=actions)
    metrics["paper"] = _account_figures(account, journal, bars)
    metrics["paper"]["notes"] = _short_record(metrics, len(dates))
    recorded = manifest({"paper": _account_record(account)}, data=[data_record(frame) for frame in frames],
                        benchmark=data_record(bench) if bench is not None else f"buy and hold of {named.security}")
    return PaperReportRun(metrics=metrics, trades=trades, equity=report.equity, manifest=recorded, report=report,
                          buy_and_hold=held)


def _open(account: str | Path | PaperAccount) -> PaperAccount:
    """The account (opened from its folder when a path).

    Raises:
        ConfigError: no account there.
    """
    from rnnstrategy.live.paper import ACCOUNT_FILE, PaperAccount

    if isinstance(account, PaperAccount):
        return account
    folder = Path(account)
    if not (folder / ACCOUNT_FILE).is_file():
        raise ConfigError(f"{folder}: no paper account ({ACCOUNT_FILE}) there; give the folder of "
                          "`rnnstrategy paper fill`")
    return PaperAccount.open(folder)


def _account_figures(account: PaperAccount, journal: list[dict[str, Any]],
                     bars: Mapping[str, pd.DataFrame]) -> dict[str, Any]:
    """What the metrics say of the account itself (``metrics["paper"]``): cash, positions, order lines by
    status, corporate actions booked, and the fills whose price the bars do not show (each also a warning)."""
    from rnnstrategy.live.actions import is_action
    from rnnstrategy.live.ledger import price_mismatches

    mismatches = price_mismatches(journal, bars)
    for line in mismatches:
        log.warning("%s: the equity mixes the fill's price with the bars' closes", line)
    statuses = [line["status"] for line in journal if not is_action(line)]
    return {
        "account": str(account.folder), "opening_cash": account.opening_cash, "cash": account.cash,
        "positions": account.positions, "last_session": str(account.last_session), "orders": len(statuses),
        "filled": statuses.count("filled"), "cancelled": statuses.count("cancelled"),
        "rejected": statuses.count("rejected"), "corporate_actions": len(journal) - len(statuses),
        "price_mismatches": mismatches}


SHORT_RECORD = 63
"""Sessions (a quarter) below which a paper report gives no annualised growth: a few days' return raised to the
power of a year (a CAGR of +242 % after 9 days) says nothing yet."""


def _short_record(metrics: dict[str, Any], days: int) -> list[str]:
    """Leave the annualised growth out of ``metrics`` (CAGR, the excess return a year: None) when the record has
    fewer than :data:`SHORT_RECORD` sessions; returns the note that says so (none for a long enough record)."""
    if days >= SHORT_RECORD:
        return []
    for section in ("strategy", "benchmark", "buy_and_hold"):
        if section in metrics:
            metrics[section]["cagr"] = None
    for section in ("excess_over_benchmark", "excess_over_buy_and_hold"):
        if section in metrics:
            metrics[section]["annualised"] = None
    note = (f"{days} sessions are too few to measure a yearly figure: CAGR and the excess return a year are left out "
            f"until the record has {SHORT_RECORD}, and the tearsheet's rolling charts until it has half a year")
    return [note]


def _account_record(account: PaperAccount) -> dict[str, Any]:
    """What the manifest records of the account: its folder, last journal line and its files' SHA-256."""
    from rnnstrategy.live.paper import ACCOUNT_FILE, JOURNAL_FILE

    return {"account": str(account.folder.resolve()), "last_seq": account.last_seq,
            "files": {name: file_sha256(account.folder / name) for name in (ACCOUNT_FILE, JOURNAL_FILE)
                      if (account.folder / name).is_file()}}


def _load_all(data: Bars | Sequence[Bars] | Mapping[str, pd.DataFrame], adjust: str) -> list[pd.DataFrame]:
    """Canonical bar frames of every source in ``data`` (a folder stands for its CSVs)."""
    from rnnstrategy.universe.sources import resolve_sources

    if isinstance(data, Mapping):
        return [_named(frame, str(name)) for name, frame in data.items()]
    sources = list(data) if isinstance(data, (list, tuple)) else [data]
    frames = []
    for source in sources:
        if isinstance(source, pd.DataFrame):
            frames.append(source)
            continue
        paths = resolve_sources(str(source)) if Path(source).is_dir() else [source]
        frames += [load_bars(path, adjust=adjust) for path in paths]
    if not frames:
        raise ConfigError(f"data={data!r}: no bars; give the bars of the stocks the account traded")
    return frames


def _named(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """``frame`` with ``attrs["symbol"]`` (its own, else ``name``)."""
    if frame.attrs.get("symbol"):
        return frame
    named = frame.copy()
    named.attrs["symbol"] = name
    return named
