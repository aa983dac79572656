"""The report of a paper-trading account: the files of a backtest, from its journal and the bars.

``rnnstrategy paper report ACCOUNT --data ... --out DIR`` and :func:`paper_report` write what a
backtest writes (``report.html``, ``metrics.json``, ``trades.csv``, ``equity.csv``, the equity plot,
``manifest.json``; see :mod:`rnnstrategy.report.run`), so ``rnnstrategy report DIR`` redraws it and
``rnnstrategy compare`` sets it beside the backtest it follows. The account's fills come from its
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
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from rnnstrategy.ashare.rules import AShareRules
from rnnstrategy.config import date_text
from rnnstrategy.data.loader import load_bars
from rnnstrategy.errors import ConfigError
from rnnstrategy.files import file_sha256
from rnnstrategy.report.console import backtest_summary, universe_backtest_summary
from rnnstrategy.runfolder import check_kind

if TYPE_CHECKING:
    from rnnstrategy.backtrader.results import BacktestResult
    from rnnstrategy.live.paper import PaperAccount
    from rnnstrategy.report.run import RunReport

__all__ = ["PaperReportRun", "paper_report"]

log = logging.getLogger(__name__)

Bars = str | Path | pd.DataFrame


@dataclass(frozen=True)
class PaperReportRun:
    """A paper account's record as a finished backtest (see :func:`paper_report`).

    Attributes:
        metrics: what ``metrics.json`` holds: the account beside the benchmark and buy-and-hold (or the
            equal-weight universe), the excess return over it with its HAC t-test and verdict, trades
            and fees, and under ``"paper"`` the account (cash, positions, journal lines, orders
            cancelled or rejected, fills whose price the bars do not show).
        trades: the filled journal lines, one row per fill (date, symbol, side, size, price, value, fees).
        equity: by date: value, cash, position, close, return, benchmark_return, buy_and_hold_return.
        manifest: the account (its files' SHA-256), data fingerprints, package versions, command line.
        report: the :class:`~rnnstrategy.report.run.RunReport` the tearsheet is drawn from.
        buy_and_hold: the Backtrader run of buy-and-hold over the same days, cash, fees and lots.
    """

    metrics: dict[str, Any]
    trades: pd.DataFrame
    equity: pd.DataFrame
    manifest: dict[str, Any]
    report: RunReport = field(repr=False)
    buy_and_hold: BacktestResult | None = field(default=None, repr=False)

    def write(self, out: str | Path) -> list[Path]:
        """Write the files of a backtest into ``out`` (``report.html``, ``metrics.json``, ``trades.csv``,
        ``equity.csv``, the equity plot and, last, ``manifest.json``); returns their paths.

        Raises:
            ConfigError: ``out`` holds another kind of run (a forecast).
        """
        from rnnstrategy.report.plots import use_agg
        from rnnstrategy.report.run import write_run

        use_agg()
        check_kind(out, "backtest")
        return write_run(out, self.report, metrics=self.metrics, manifest=self.manifest)

    def summary(self) -> list[str]:
        """Console lines: the account beside the benchmark and buy-and-hold, and its state now."""
        m = self.metrics
        lines = universe_backtest_summary(m) if len(self.report.symbols) > 1 else backtest_summary(m)
        paper = m["paper"]
        held = ", ".join(f"{code} {shares}" for code, shares in paper["positions"].items()) or "none"
        lines.append(f"  account: cash {paper['cash']:,.2f} CNY, positions {held}; {paper['orders']} orders "
                     f"journaled ({paper['cancelled']} cancelled, {paper['rejected']} rejected)")
        lines += [f"  warning: {line}" for line in paper["price_mismatches"]]
        return lines


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
    from rnnstrategy.live.ledger import account_equity, journal_trades, price_mismatches
    from rnnstrategy.live.paper import ACCOUNT_FILE, JOURNAL_FILE, PaperAccount
    from rnnstrategy.report.benchmark import benchmark_returns
    from rnnstrategy.report.manifest import data_record, package_versions
    from rnnstrategy.report.run import (
        RunReport,
        excess_verdict,
        run_metrics,
        stocks_held,
    )

    start, end = date_text("start", start), date_text("end", end)  # before any work
    if not isinstance(account, PaperAccount):
        folder = Path(account)
        if not (folder / ACCOUNT_FILE).is_file():
            raise ConfigError(f"{folder}: no paper account ({ACCOUNT_FILE}) there; give the folder of "
                              "`rnnstrategy paper fill`")
        account = PaperAccount.open(folder)
    journal = account.journal()
    frames = _load_all(data, adjust)
    bars = {str(frame.attrs["symbol"]): frame for frame in frames}
    equity, before = account_equity(journal, account.opening_cash, bars, start, end, account.first_session)
    dates = equity.index
    symbols = tuple(bars)
    one = len(symbols) == 1
    trades = journal_trades([line for line in journal if dates[0] <= pd.Timestamp(line["session"]) <= dates[-1]])
    held_frames = [frame.loc[dates[0]:dates[-1]] for frame in frames]
    held_frames = [frame for frame in held_frames if len(frame)]
    held = run_buy_and_hold(held_frames, dates[0], dates[-1], cash=before, rules=rules)
    held_returns = held.returns.reindex(dates)
    bench = load_bars(benchmark) if isinstance(benchmark, (str, Path)) else benchmark
    returns = equity["value"].div(equity["value"].shift(1).fillna(before)).sub(1.0)
    if not one:
        equity = equity.assign(position=stocks_held(trades, dates))
    equity = equity.assign(**{"return": returns,
                              "benchmark_return": held_returns if bench is None else benchmark_returns(bench, dates),
                              "buy_and_hold_return": held_returns})
    titles = _titles(account.folder, symbols, bench, names, data)
    report = RunReport(equity=equity, trades=trades, forecasts=pd.DataFrame(), titles=titles,
                       parameters={"Paper account": account.folder.name, "Stocks": len(symbols)}, symbols=symbols)
    metrics = run_metrics(report)
    baseline = "buy and hold" if one else "the equal-weight universe"
    metrics["excess_over_buy_and_hold"]["verdict"] = excess_verdict(metrics["excess_over_buy_and_hold"], baseline)
    metrics["trades"] |= {"symbols_traded": int(trades["symbol"].nunique()),
                          "invested": float((1 - equity["cash"] / equity["value"]).mean())}
    metrics["universe"] = {"symbols": len(symbols), "traded": sorted(trades["symbol"].unique().tolist())}
    mismatches = price_mismatches(journal, bars)
    for line in mismatches:
        log.warning("%s: the equity mixes the fill's price with the bars' closes", line)
    statuses = [line["status"] for line in journal]
    metrics["paper"] = {
        "account": str(account.folder), "opening_cash": account.opening_cash, "cash": account.cash,
        "positions": account.positions, "last_session": str(account.last_session), "orders": len(journal),
        "filled": statuses.count("filled"), "cancelled": statuses.count("cancelled"),
        "rejected": statuses.count("rejected"), "price_mismatches": mismatches}
    manifest = {
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": sys.argv,
        "cwd": str(Path.cwd()),
        "paper": {"account": str(account.folder.resolve()), "last_seq": account.last_seq,
                  "files": {name: file_sha256(account.folder / name) for name in (ACCOUNT_FILE, JOURNAL_FILE)
                            if (account.folder / name).is_file()}},
        "data": [data_record(frame) for frame in frames],
        "benchmark": data_record(bench) if bench is not None else f"buy and hold of {titles.security}",
        "packages": package_versions(),
    }
    return PaperReportRun(metrics=metrics, trades=trades, equity=equity, manifest=manifest, report=report,
                          buy_and_hold=held)


def _load_all(data: Bars | Sequence[Bars] | Mapping[str, pd.DataFrame], adjust: str) -> list[pd.DataFrame]:
    """Canonical bar frames of every source in ``data`` (a folder stands for its CSVs)."""
    from rnnstrategy.forecasting.universe import resolve_sources

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


def _titles(folder: Path, symbols: Sequence[str], bench: pd.DataFrame | None, names: str | Path | None,
            data: Any) -> Any:
    """"Paper account moutai" against "CSI 300" (or buy-and-hold), on "600519 贵州茅台" or "5 A-shares, equal weight"."""
    from rnnstrategy.report.names import (
        Titles,
        benchmark_title,
        find_names_file,
        security_label,
        security_name,
    )

    near = str(data) if isinstance(data, (str, Path)) else None
    names = names or find_names_file(near)
    if len(symbols) == 1:
        security = security_label(symbols[0], security_name(symbols[0], names))
    else:
        security = f"{len(symbols)} A-shares, equal weight"
    bench_title = (f"Buy and hold {security}" if bench is None
                   else benchmark_title(str(bench.attrs.get("symbol", "")), names))
    return Titles(strategy=f"Paper account {folder.name}", benchmark=bench_title, security=security)

