"""What the verbs of the API return: forecasts, backtests, paper reports and signals, with their files.

:class:`ForecastRun` and :class:`UniverseForecastRun` are forecasts (of one security, of a universe);
:class:`BacktestRun`, :class:`UniverseBacktestRun` and :class:`PaperReportRun` are finished runs measured
and recorded as a backtest's files, so they share one base, :class:`RecordedRun`; :class:`SignalRun` holds
the orders of the next session.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from rnnstrategy.api.record import write_forecast_manifest
from rnnstrategy.api.sources import is_frame_label
from rnnstrategy.config import RunConfig
from rnnstrategy.forecasting.config import ForecastConfig
from rnnstrategy.report.console import (
    backtest_summary,
    universe_backtest_summary,
    verdict_lines,
)
from rnnstrategy.report.folder_checks import check_kind

if TYPE_CHECKING:
    from rnnstrategy.backtrader.results import BacktestResult
    from rnnstrategy.report.measures import RunReport

__all__ = ["COVERAGE_FILE", "BacktestRun", "ForecastRun", "PaperReportRun", "RecordedRun", "SignalRun",
           "UniverseBacktestRun", "UniverseForecastRun"]

COVERAGE_FILE = "coverage.csv"
"""The members of a universe as it stood with and without bars, by day, in a universe run's folder."""


# ---------------------------------------------------------------- forecasts


@dataclass(frozen=True)
class ForecastRun:
    """Walk-forward forecasts of one security and their metrics.

    Attributes:
        forecasts: the forecast frame (``pred_open_1..H``, ``fold``, realised ``open_1..H``).
        metrics: what ``metrics.json`` holds: errors beside the naive forecasts, the verdict,
            retrains, data fingerprint, configuration, folds.
        bars: the bars the forecasts were made from.
        config: the forecaster configuration.
    """

    forecasts: pd.DataFrame
    metrics: dict[str, Any]
    bars: pd.DataFrame = field(repr=False)
    config: ForecastConfig

    def write(self, out: str | Path) -> list[Path]:
        """Write ``forecasts.csv`` (with its ``.meta.json``), ``metrics.json`` and, last, a ``manifest.json``
        (kind ``"forecast"``, the files' SHA-256) into ``out``, which must not hold another kind of run."""
        from rnnstrategy.data.forecast_files import meta_path, write_forecasts
        from rnnstrategy.report.folder import write_json

        out = Path(out)
        check_kind(out, "forecast")
        out.mkdir(parents=True, exist_ok=True)
        path = write_forecasts(self.forecasts, out / "forecasts.csv")
        paths = [path, meta_path(path), write_json(out / "metrics.json", self.metrics)]
        return paths + [write_forecast_manifest(out, [p.name for p in paths])]

    def summary(self) -> list[str]:
        """A few lines for a console: the security (code and name), the window, retrains and the verdict against
        the previous close."""
        from rnnstrategy.report.names import find_names_file, security_name

        m = self.metrics
        source = self.bars.attrs.get("source")
        name = security_name(str(m["symbol"]), find_names_file(source if isinstance(source, str) else None))
        lines = [(f"{m['symbol']}{' ' + name if name else ''}: {len(self.forecasts)} forecasts "
                  f"{m['first_forecast']}..{m['last_forecast']}, "
                  f"{m['retrains']} retrains ({m['trained']} trained) in {m['seconds']:.1f}s")]
        return lines + verdict_lines(m, "")


@dataclass(frozen=True)
class UniverseForecastRun:
    """Forecasts of many securities, written under ``out`` as they finished.

    Attributes:
        summary: one row per source: status (``ok``, ``skipped``, ``failed``), bars,
            forecasts, RMSE ratio against the previous close, hit rate, seconds, message.
        out: the directory holding ``forecasts/<symbol>.csv``, ``summary.csv`` and ``summary.json``.
        seconds: wall-clock time of the run.
    """

    summary: pd.DataFrame
    out: Path
    seconds: float

    @property
    def ok(self) -> bool:
        """No source failed (skipped ones, with too little history, do not count)."""
        return not (self.summary["status"] == "failed").any()

    def forecasts(self, symbol: str) -> pd.DataFrame:
        """The forecast frame of ``symbol`` (as in the summary, e.g. ``600519.SH``)."""
        from rnnstrategy.data.forecast_files import read_forecasts

        return read_forecasts(self.out / "forecasts" / f"{symbol}.csv")

    @property
    def recorded(self) -> dict[str, Any]:
        """``summary.json``: the configuration, the counts and the ``"cross_section"`` (empty if unreadable)."""
        try:
            recorded = json.loads((self.out / "summary.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return recorded if isinstance(recorded, dict) else {}

    def summary_lines(self) -> list[str]:
        """A few lines for a console: counts, speed, the cross-section beside the reversal factor,
        the median RMSE ratio (per-symbol models only), what failed and why."""
        table = self.summary
        ok = table[table["status"] == "ok"]
        counts = table["status"].value_counts()
        made = int(ok["forecasts"].sum())
        lines = [f"{len(table)} sources: {counts.get('ok', 0)} ok, {counts.get('skipped', 0)} skipped, "
                 f"{counts.get('failed', 0)} failed; {made:,} forecasts in {self.seconds:.1f}s "
                 f"({made / max(self.seconds, 1e-9):.1f}/s)"]
        recorded = self.recorded
        cs = recorded.get("cross_section") or {}
        if cs.get("n_days"):
            spread = cs.get("long_short")
            spread_bp = None if spread is None else 1e4 * spread
            lines.append(f"cross-section over {cs['n_days']} days: mean daily rank IC "
                         f"{_figure(cs.get('rank_ic'), '.4f')} (ICIR {_figure(cs.get('rank_icir'), '.2f')}, "
                         f"t {_figure(cs.get('rank_ic_t'), '.1f')}), top-minus-bottom quintile "
                         f"{_figure(spread_bp, '.1f')} bp a day; 5-day reversal on the same stock-days: rank IC "
                         f"{_figure(cs.get('baseline_reversal5_rank_ic'), '.4f')}")
        held = cs.get("label_horizon") or {}
        if held.get("n_days"):
            lines.append(f"against the {held['sessions']}-session return the label spans: rank IC "
                         f"{_figure(held.get('rank_ic'), '.4f')} (Newey-West t {_figure(held.get('rank_ic_nw_t'), '.1f')}"
                         f"), reversal {_figure(held.get('baseline_reversal5_rank_ic'), '.4f')}")
        if len(ok) and not (recorded.get("config") or {}).get("pooled"):  # pooled: relative returns, not prices
            lines.append(f"median h=1 RMSE ratio vs previous close {ok['rmse_ratio'].median():.3f}, "
                         f"median direction hit rate {ok['direction_hit_rate'].median():.3f}")
        lines += [f"  {row.symbol}: {row.status}: {row.message}" for row in table[table["status"] != "ok"].itertuples()]
        return lines


def _figure(value: float | None, spec: str) -> str:
    """``value`` formatted, or "n/a" where a short run leaves it undefined (one day has no spread)."""
    return "n/a" if value is None else format(value, spec)


# ---------------------------------------------------------------- finished runs


@dataclass(frozen=True, kw_only=True)
class RecordedRun:
    """A finished run, measured and recorded as a backtest's files (see :mod:`rnnstrategy.api.record`).

    Attributes:
        metrics: what ``metrics.json`` holds: strategy, benchmark and buy-and-hold figures, the excess
            return over buy-and-hold, trade statistics and what the kind of run adds.
        trades: one row per fill (date, symbol, side, size, price, value, fees).
        equity: by date: value, cash, position, close, return, benchmark_return, buy_and_hold_return.
        manifest: what reproduces the run: its sources, data fingerprints, package versions, command line.
        report: the :class:`~rnnstrategy.report.measures.RunReport` the tearsheet is drawn from.
        buy_and_hold: the Backtrader run of buy-and-hold beside it (same dates, cash, fees and lots).
    """

    metrics: dict[str, Any]
    trades: pd.DataFrame
    equity: pd.DataFrame
    manifest: dict[str, Any]
    report: RunReport = field(repr=False)
    buy_and_hold: BacktestResult | None = field(default=None, repr=False)

    def _write(self, out: str | Path, manifest: dict[str, Any], checked: tuple[str, ...] = ()) -> list[Path]:
        """``report.html``, the PNG plots, ``metrics.json``, ``trades.csv``, ``equity.csv`` (and ``forecasts.csv``
        for one stock's forecasts) and, last, ``manifest``, into ``out``."""
        from rnnstrategy.report.folder import write_run
        from rnnstrategy.report.plots import use_agg

        use_agg()
        return write_run(out, self.report, metrics=self.metrics, manifest=manifest, checked=checked)


@dataclass(frozen=True, kw_only=True)
class BacktestRun(RecordedRun):
    """A finished backtest: everything the command line writes, as Python objects.

    Attributes (besides those of :class:`RecordedRun`; ``metrics`` adds forecast quality beside the
    naive forecasts, ``buy_and_hold`` is of the traded stock):
        config: the run's configuration (what ``manifest.json`` records).
        forecasts: the forecast frame the strategy traded on.
    """

    config: RunConfig
    forecasts: pd.DataFrame

    def write(self, out: str | Path) -> list[Path]:
        """Write every file of a run into ``out``: ``report.html`` (quantstats tearsheet), the PNG
        plots, ``metrics.json``, ``trades.csv``, ``equity.csv``, ``forecasts.csv`` and, last,
        ``manifest.json``; returns their paths."""
        from rnnstrategy.report.folder import FILES

        manifest = self.manifest
        if is_frame_label(self.config.backtest.forecasts):  # a rerun reads the forecasts written beside it
            config = manifest["config"]
            written = str((Path(out) / FILES["forecasts"]).resolve())
            manifest = {**manifest, "config": {**config, "backtest": {**config["backtest"], "forecasts": written}}}
        return self._write(out, manifest)

    def summary(self) -> list[str]:
        """A few lines for a console: returns, Sharpe ratios and drawdowns beside the benchmark,
        trading, and the forecast verdict (:func:`rnnstrategy.report.console.backtest_summary`)."""
        return backtest_summary(self.metrics)


@dataclass(frozen=True, kw_only=True)
class UniverseBacktestRun(RecordedRun):
    """A finished backtest of a universe (e.g. ``top_k``): the same files and attributes as a
    :class:`BacktestRun`, with the equal-weight universe in the place of buy-and-hold.

    Attributes (besides those of :class:`RecordedRun`; ``metrics`` holds the equal-weight universe as
    ``buy_and_hold``, the excess return over it with its HAC t-test and verdict, turnover, fills and fees by
    kind, the universe and its forecasts; ``equity``'s position counts the stocks held, its close is empty):
        config: the run's configuration (what ``manifest.json`` records).
        forecasts: the universe forecast run traded on (its ``summary`` and the folder holding
            ``forecasts/<symbol>.csv``).
        coverage: for a universe as it stood, the index's members with and without a bar on each day
            (``coverage.csv``; see :func:`~rnnstrategy.universe.membership_coverage.coverage`); else None.
        positions, industries: the stocks held at each close and the holdings' industry mix (``positions.csv``,
            ``industries.csv``; see :mod:`rnnstrategy.report.holdings`); None: not recorded.
    """

    config: RunConfig
    forecasts: UniverseForecastRun
    coverage: pd.DataFrame | None = field(default=None, repr=False)
    positions: pd.DataFrame | None = field(default=None, repr=False)
    industries: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def forecast_files(self) -> list[str]:
        """The universe's forecast files, relative to a run folder: summaries and ``forecasts/<symbol>.csv``."""
        return ["summary.csv", "summary.json", *(f"forecasts/{symbol}.csv" for symbol in self.report.symbols)]

    def _write_coverage(self, out: Path) -> list[str]:
        """``coverage.csv`` of a universe as it stood (the ``without`` tuple as ``;``-joined symbols); none left
        from an earlier run otherwise."""
        path = out / COVERAGE_FILE
        if self.coverage is None:
            path.unlink(missing_ok=True)
            return []
        from rnnstrategy.files import atomic_write_text

        table = self.coverage.assign(without=[";".join(names) for names in self.coverage["without"]])
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, table.to_csv(index_label="date", date_format="%Y-%m-%d"))
        return [COVERAGE_FILE]

    def write(self, out: str | Path) -> list[Path]:
        """Write every file of the run into ``out`` (see :meth:`BacktestRun.write`), with the universe's
        forecasts (``summary.csv``, ``summary.json``, ``forecasts/<symbol>.csv``, copied when they were
        computed elsewhere) in place of ``forecasts.csv``; the manifest records their SHA-256 too."""
        out = Path(out)
        here = out.resolve() == self.forecasts.out.resolve()
        if not here or (out / "manifest.json").is_file():  # not the folder it just forecast into: no other kind
            check_kind(out, "backtest")
        for name in self.forecast_files:
            source = self.forecasts.out / name
            if not here and source.is_file():
                (out / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, out / name)
                meta = source.with_suffix(".meta.json")
                if meta.is_file():
                    shutil.copyfile(meta, (out / name).with_suffix(".meta.json"))
        coverage = self._write_coverage(out)
        from rnnstrategy.report.holdings import write_holdings

        holdings = write_holdings(out, self.positions, self.industries)
        return self._write(out, self.manifest, checked=(*self.forecast_files, *coverage, *holdings))

    def summary(self) -> list[str]:
        """A few lines for a console: the strategy, the benchmark and the equal-weight universe side by side,
        trading and fees, whether the strategy beats the equal-weight universe after costs
        (:func:`rnnstrategy.report.console.universe_backtest_summary`) and, for a universe as it stood, how
        much of the index it could not trade."""
        from rnnstrategy.report.holdings import holdings_lines

        lines = universe_backtest_summary(self.metrics) + holdings_lines(self.metrics.get("holdings"))
        covered = self.metrics.get("universe", {}).get("coverage")
        if covered:
            name = self.metrics["universe"]["as_of"]["name"]
            lines.append(f"  {name} as it stood: {covered['members']:.1f} members a day on average, "
                         f"{covered['without_bars']:.1f} ({covered['without_share']:.1%}) without bars to trade; "
                         f"{covered['ever_without']} member(s) lacked bars on some day (see coverage.csv)")
        return lines


@dataclass(frozen=True, kw_only=True)
class PaperReportRun(RecordedRun):
    """A paper account's record as a finished backtest (see :func:`rnnstrategy.api.paper.paper_report`).

    The attributes are those of :class:`RecordedRun`: ``metrics`` holds the account beside the benchmark and
    buy-and-hold (or the equal-weight universe), the excess return over it with its HAC t-test and verdict,
    trades and fees, and under ``"paper"`` the account (cash, positions, journal lines, orders cancelled or
    rejected, fills whose price the bars do not show); ``trades`` are the filled journal lines; ``manifest``
    records the account (its files' SHA-256).
    """

    def write(self, out: str | Path) -> list[Path]:
        """Write the files of a backtest into ``out`` (``report.html``, ``metrics.json``, ``trades.csv``,
        ``equity.csv``, the equity plot and, last, ``manifest.json``); returns their paths.

        Raises:
            ConfigError: ``out`` holds another kind of run (a forecast).
        """
        check_kind(out, "backtest")
        return self._write(out, self.manifest)

    def summary(self) -> list[str]:
        """Console lines: the account beside the benchmark and buy-and-hold, and its state now."""
        m = self.metrics
        lines = universe_backtest_summary(m) if len(self.report.symbols) > 1 else backtest_summary(m)
        paper = m["paper"]
        held = ", ".join(f"{code} {shares}" for code, shares in paper["positions"].items()) or "none"
        lines.append(f"  account: cash {paper['cash']:,.2f} CNY, positions {held}; {paper['orders']} orders "
                     f"journaled ({paper['cancelled']} cancelled, {paper['rejected']} rejected)")
        lines += [f"  warning: {line}" for line in paper["price_mismatches"]]
        lines += [f"  note: {line}" for line in paper.get("notes", [])]
        return lines


# ---------------------------------------------------------------- daily signals


@dataclass(frozen=True)
class SignalRun:
    """The orders of the next session, decided at the close of a bar by the backtest's strategy.

    Attributes:
        orders: one dict per order, in the order to send them (sells first): ``id, session`` and the
            fields of :data:`rnnstrategy.backtrader.signal.ORDER_FIELDS`.
        session: the session the orders are for (the trading day after ``decided_on``).
        decided_on: the date of the bar decided on (D).
        symbol: the traded security.
        strategy: the strategy's name.
        cash, positions: the holdings the decision started from.
    """

    orders: list[dict[str, Any]]
    session: dt.date
    decided_on: dt.date
    symbol: str
    strategy: str
    cash: float
    positions: dict[str, int]

    def write(self, out: str | Path) -> list[Path]:
        """``out/orders.csv`` and ``out/orders.json`` (each written atomically); returns their paths."""
        from rnnstrategy.backtrader.signal import ORDER_FIELDS
        from rnnstrategy.files import atomic_write_text

        out = Path(out)
        columns = ["id", "session", *ORDER_FIELDS]
        csv_path, json_path = out / "orders.csv", out / "orders.json"
        atomic_write_text(csv_path, pd.DataFrame(self.orders, columns=columns).to_csv(index=False))
        content = {"session": self.session.isoformat(), "decided_on": self.decided_on.isoformat(),
                   "symbol": self.symbol, "strategy": self.strategy, "cash": self.cash, "positions": self.positions,
                   "orders": self.orders}
        atomic_write_text(json_path, json.dumps(content, indent=2, ensure_ascii=False) + "\n")
        return [csv_path, json_path]

    def summary(self) -> list[str]:
        """Console lines: what was decided on, for which session, and a table of the orders."""
        lines = [f"decided on the bar of {self.decided_on}; orders for the session {self.session}"]
        if not self.orders:
            return [*lines, "no orders"]
        lines.append(f"{'symbol':<10} {'side':<4} {'shares':>8} {'ref. price':>11} {'exp. return':>11} "
                     f"{'threshold':>9}  note")
        for order in self.orders:
            lines.append(f"{order['symbol']:<10} {order['side']:<4} {order['shares']:>8} "
                         f"{order['reference_price']:>11.2f} {_percent4(order['expected_return']):>11} "
                         f"{_percent4(order['threshold']):>9}  {order['note']}".rstrip())
        return lines


def _percent4(value: float | None) -> str:
    return "-" if value is None else f"{value:.3%}"
