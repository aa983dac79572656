"""The quantstats part of a report: headline metrics and the HTML tearsheet, offline.

The only module of the package that imports quantstats. quantstats downloads prices from
Yahoo Finance whenever a benchmark (or returns) is a ticker *string*; here both must be
pandas Series of returns with a tz-naive DatetimeIndex, checked before quantstats sees them,
so it never reaches for the network. Its HTML template links one external resource (a
favicon), which is stripped; the charts are inline SVG whose text is left as text
(``svg.fonttype: none``), so the browser draws Chinese names with its own fonts.
"""

from __future__ import annotations

import logging
import math
import re
import tempfile
import warnings
from collections.abc import Mapping
from html import unescape
from pathlib import Path

import matplotlib as mpl
import pandas as pd
import quantstats as qs

from rnnstrategy.ashare.calendar import PERIODS_PER_YEAR
from rnnstrategy.evaluation.sharpe import (
    DSR_NOTE,
    PSR_NOTE,
    deflated_sharpe,
    probabilistic_sharpe,
)
from rnnstrategy.files import atomic_write_bytes
from rnnstrategy.report.plots import cjk_font, quiet_fonts
from rnnstrategy.report.titles import Titles

__all__ = ["HEADLINE_METRICS", "PERIODS_PER_YEAR", "headline_metrics", "offline_html", "write_tearsheet"]

log = logging.getLogger(__name__)

#: The metrics of ``metrics.json`` (fractions, not percent; ratios annualised).
HEADLINE_METRICS = ("total_return", "cagr", "sharpe", "sortino", "max_drawdown", "volatility", "win_rate")

_EXTERNAL_LINK = re.compile(r"\s*<link\b[^>]*\bhref=[\"']https?://[^>]*>", re.IGNORECASE)
_ONLOAD = re.compile(r"\s+onload=[\"'][^\"']*[\"']", re.IGNORECASE)
_TITLE = re.compile(r"<title>.*?</title>", re.IGNORECASE | re.DOTALL)
# quantstats 0.0.86 labels the bars of its yearly-returns chart with the wrong years under current
# matplotlib (set_ticklabels on automatic ticks); the EOY table beside it has the right numbers.
_EOY_CHART = re.compile(r'<div id="eoy_returns">.*?</div>', re.DOTALL)
_SVG_PROLOG = re.compile(r"<\?xml[^>]*\?>\s*|<!DOCTYPE svg[^>]*>\s*", re.IGNORECASE)
_THIRD_PARTY = r"(quantstats|seaborn|pandas|matplotlib|numpy|scipy)(\.|$)"


def _checked(returns: object, what: str) -> pd.Series:
    """``returns`` as a float Series on a tz-naive DatetimeIndex; anything else is refused."""
    if not isinstance(returns, pd.Series):
        raise TypeError(
            f"{what} must be a pandas Series of daily returns, got {type(returns).__name__}"
            + (" (quantstats would download a ticker string from the internet)" if isinstance(returns, str) else "")
        )
    if not isinstance(returns.index, pd.DatetimeIndex) or returns.index.tz is not None:
        raise TypeError(f"{what} needs a tz-naive DatetimeIndex of trading days")
    return returns.astype(float)


def _number(value: object) -> float | None:
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value


def headline_metrics(returns: pd.Series, periods_per_year: int = PERIODS_PER_YEAR) -> dict[str, float | None]:
    """quantstats' headline figures of daily ``returns`` (see :data:`HEADLINE_METRICS`).

    Fractions (0.12 is 12 %); ``max_drawdown`` is negative; ``win_rate`` is the share of
    days with a positive return among days with a non-zero one; CAGR, Sharpe, Sortino and
    volatility are annualised with ``periods_per_year``. None where undefined (NaN).
    """
    returns = _checked(returns, "returns")
    if returns.abs().sum() == 0:  # flat: quantstats warns and divides by zero
        return {"total_return": 0.0, "cagr": 0.0, "sharpe": None, "sortino": None, "max_drawdown": 0.0,
                "volatility": 0.0, "win_rate": None}
    stats = qs.stats
    return {
        "total_return": _number(stats.comp(returns)),
        "cagr": _number(stats.cagr(returns, periods=periods_per_year)),
        "sharpe": _number(stats.sharpe(returns, periods=periods_per_year)),
        "sortino": _number(stats.sortino(returns, periods=periods_per_year)),
        "max_drawdown": _number(stats.max_drawdown(returns)),
        "volatility": _number(stats.volatility(returns, periods=periods_per_year)),
        "win_rate": _number(stats.win_rate(returns)),
    }


_ROLLING_CHARTS = re.compile(r'\s*<div id="rolling_(?:beta|vol|sharpe|sortino)">.*?</div>', re.DOTALL)


def _without_empty_rolling_charts(html: str, days: int, periods_per_year: int) -> str:
    """``html`` without the rolling beta, volatility, Sharpe and Sortino charts when ``days`` are fewer than their
    half-year window (quantstats draws them empty), and a line that says so and that yearly figures are not
    measurable yet; ``html`` as it is for a longer record."""
    window = math.ceil(periods_per_year / 2)
    if days >= window or not _ROLLING_CHARTS.search(html):
        return html
    note = (f'\n<p id="short_record"><small>{days} sessions: too few for the rolling charts (a {window}-session '
            "window) and for yearly figures; CAGR and the other annualised figures extrapolate them to a year."
            "</small></p>")
    first = _ROLLING_CHARTS.search(html)
    return html[:first.start()] + note + _ROLLING_CHARTS.sub("", html[first.end():])


def offline_html(html: str, title: str) -> str:
    """The tearsheet page without external resources (the favicon link), its dangling
    ``onload`` handler, the inline SVGs' XML prologs and the mislabelled yearly-returns chart,
    with ``title`` as the tab title."""
    html = _SVG_PROLOG.sub("", _EXTERNAL_LINK.sub("", _EOY_CHART.sub("", html)))
    html = _ONLOAD.sub("", html, count=1)
    return _TITLE.sub(f"<title>{_escape(title)}</title>", html, count=1)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _flat_page(returns: pd.Series, benchmark: pd.Series, titles: Titles, periods_per_year: int,
               buy_and_hold: pd.Series | None = None) -> str:
    """A plain page for a strategy that never traded, with the benchmark's headline metrics
    (and buy-and-hold's, when it is not the benchmark)."""
    rows = "".join(f"<tr><td>{name}</td><td>{'n/a' if value is None else f'{value:.4f}'}</td></tr>"
                   for name, value in headline_metrics(benchmark, periods_per_year).items())
    title = _escape(f"{titles.strategy} vs {titles.benchmark}")
    span = f"{returns.index[0]:%Y-%m-%d}..{returns.index[-1]:%Y-%m-%d}" if len(returns) else "no days"
    held = "" if buy_and_hold is None else _beside_table({titles.buy_and_hold: buy_and_hold}, periods_per_year)
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title></head>'
            f"<body><h1>{_escape(titles.strategy)}</h1><p>The strategy made no trade in {span}: its returns "
            f"are all zero, so there is no tearsheet. Check its entry threshold against the forecasts.</p>"
            f"<h3>{_escape(titles.benchmark)}</h3><table>{rows}</table>{held}</body></html>")


_RIGHT_COLUMN = re.compile(r'<div id="right">', re.IGNORECASE)
_PERCENT = {"total_return", "cagr", "max_drawdown", "volatility", "win_rate"}


def _beside_table(columns: Mapping[str, pd.Series], periods_per_year: int) -> str:
    """An HTML table of the headline metrics of each series in ``columns``, side by side."""
    figures = {name: headline_metrics(series, periods_per_year) for name, series in columns.items()}

    def cell(metric: str, value: float | None) -> str:
        if value is None:
            return "n/a"
        return f"{value:.2%}" if metric in _PERCENT else f"{value:.2f}"

    head = "".join(f"<th>{_escape(name)}</th>" for name in figures)
    body = "".join(f"<tr><td>{metric.replace('_', ' ')}</td>"
                   + "".join(f"<td>{cell(metric, f[metric])}</td>" for f in figures.values()) + "</tr>"
                   for metric in HEADLINE_METRICS)
    return (f'<div id="buy_and_hold"><h3>Buy and hold beside the strategy</h3>'
            f"<table><thead><tr><th>Metric</th>{head}</tr></thead><tbody>{body}</tbody></table><hr></div>")


def _with_buy_and_hold(html: str, table: str) -> str:
    """``html`` with ``table`` at the top of quantstats' right-hand column (else before ``</body>``)."""
    if _RIGHT_COLUMN.search(html):
        return _RIGHT_COLUMN.sub(lambda m: m.group(0) + table, html, count=1)
    return html.replace("</body>", f"{table}</body>", 1)


_KEY_METRICS = re.compile(r"(<h3>Key Performance Metrics</h3>\s*<table>)(.*?)(</table>)", re.DOTALL)
_HEADER_CELL = re.compile(r"<th>(.*?)</th>", re.DOTALL)
_PSR_ROW = re.compile(r"<tr><td>Prob\. Sharpe Ratio</td>(?:<td>[^<]*</td>)+</tr>")


def _with_our_sharpe(html: str, columns: Mapping[str, pd.Series], strategy: str, trials: int = 1) -> str:
    """``html`` with the "Prob. Sharpe Ratio" row of quantstats' key-metrics table recomputed by
    :func:`~rnnstrategy.evaluation.sharpe.probabilistic_sharpe` for each of its columns
    (``columns``: returns by title), the deflated Sharpe ratio of ``strategy`` below it when
    ``trials`` > 1, and a footnote under the table saying how they are computed."""
    table = _KEY_METRICS.search(html)
    names = [] if table is None else [unescape(name) for name in _HEADER_CELL.findall(table.group(2))[1:]]
    if table is None or not names or set(names) - set(columns) or not _PSR_ROW.search(table.group(2)):
        log.warning("the tearsheet has no key-metrics table with a Prob. Sharpe Ratio row for %s: its PSR is "
                    "quantstats' own", ", ".join(columns))
        return html

    def cells(figures: list[float | None]) -> str:
        return "".join(f"<td>{'-' if f is None or math.isnan(f) else f'{f:.2%}'}</td>" for f in figures)

    rows = f"<tr><td>Prob. Sharpe Ratio †</td>{cells([probabilistic_sharpe(columns[n]) for n in names])}</tr>"
    note = PSR_NOTE
    if trials > 1:
        deflated = [deflated_sharpe(columns[n], trials) if n == strategy else None for n in names]
        rows += f"<tr><td>Deflated Sharpe Ratio ({trials} trials) †</td>{cells(deflated)}</tr>"
        note += " " + DSR_NOTE.format(trials=trials)
    body = _PSR_ROW.sub(lambda _: rows, table.group(2), count=1)
    footnote = f'<p id="sharpe_note"><small>† {_escape(note)}</small></p>'
    return html[:table.start()] + table.group(1) + body + table.group(3) + footnote + html[table.end():]


_FIRST_CHART = re.compile(r'(<div id="left">\s*<div>)(.*?)(</div>)', re.DOTALL)


def _with_buy_and_hold_curve(html: str, returns: pd.Series, benchmark: pd.Series, buy_and_hold: pd.Series,
                             svg: Path) -> str:
    """``html`` whose cumulative-returns chart (the first of the left column) draws buy-and-hold beside the
    strategy and the benchmark, as the table beside it compares them; drawn by quantstats as it draws its own
    (to ``svg``, a scratch file)."""
    chart = _FIRST_CHART.search(html)
    if chart is None:
        log.warning("the tearsheet has no cumulative-returns chart where expected: buy-and-hold is not drawn in it")
        return html
    qs.plots.returns(pd.concat([returns, buy_and_hold], axis=1), benchmark, figsize=(8, 5), subtitle=False,
                     savefig={"fname": str(svg), "format": "svg"}, show=False, ylabel="", compound=True,
                     prepare_returns=False)
    drawn = svg.read_text(encoding="utf-8")
    return html[:chart.start(2)] + "\n" + drawn + "\n" + html[chart.end(2):]


_TIME_IN_MARKET = re.compile(r"<tr><td>Time in Market</td>((?:<td>[^<]*</td>)+)</tr>")
#: what the tearsheet's and the console's time in market count (quantstats counts days with a non-zero return)
EXPOSURE_DEFINITION = "days ending with a position"


def _with_our_exposure(html: str, strategy: str, exposure: float) -> str:
    """``html`` with the "Time in Market" row of the key-metrics table saying what it counts: the strategy's
    ``exposure`` (the share of :data:`EXPOSURE_DEFINITION`, the console's figure), and 100 % for the benchmark
    and buy-and-hold, which hold all along (quantstats counts days with a non-zero return, fee-only days and
    days sold at the open among them)."""
    table = _KEY_METRICS.search(html)
    row = _TIME_IN_MARKET.search(table.group(2)) if table else None
    if table is None or row is None:
        log.warning("the tearsheet has no Time in Market row: it shows quantstats' own figure")
        return html
    names = [unescape(name) for name in _HEADER_CELL.findall(table.group(2))[1:]]
    cells = "".join(f"<td>{exposure if name == strategy else 1.0:.1%}</td>" for name in names)
    body = table.group(2).replace(row.group(0), f"<tr><td>Time in Market ({EXPOSURE_DEFINITION})</td>{cells}</tr>")
    return html[:table.start()] + table.group(1) + body + table.group(3) + html[table.end():]


def write_tearsheet(
    path: str | Path,
    returns: pd.Series,
    benchmark: pd.Series,
    titles: Titles,
    *,
    parameters: Mapping[str, object] | None = None,
    periods_per_year: int = PERIODS_PER_YEAR,
    buy_and_hold: pd.Series | None = None,
    trials: int = 1,
    exposure: float | None = None,
    by_year: str = "",
) -> Path:
    """Write the quantstats HTML tearsheet of ``returns`` against ``benchmark``.

    Args:
        path: the HTML file to write (atomically).
        returns, benchmark: daily returns on the same tz-naive dates (Series, never tickers).
        titles: strategy and benchmark names shown in the tables and charts.
        parameters: extra ``key: value`` pairs for the subtitle (strategy, execution, ...).
        periods_per_year: trading days per year for annualised figures.
        buy_and_hold: daily returns of buy-and-hold of the traded stock on the same dates;
            a table at the top of the right-hand column shows its headline metrics beside
            the strategy's and the benchmark's. None, or the benchmark itself (a run
            without a benchmark): no such table.
        trials: configurations tried before choosing this one; > 1 adds the strategy's
            deflated Sharpe ratio below its probabilistic Sharpe ratio.
        exposure: the share of days ending with a position (``metrics["trades"]["exposure"]``, the
            console's figure): shown as the strategy's "Time in Market", whose label says so; None:
            quantstats' own figure (days with a non-zero return).
        by_year: the excess return by year as an HTML table (:func:`rnnstrategy.report.years.years_html`), shown
            in the right-hand column below buy-and-hold's; empty: none.

    quantstats' "Prob. Sharpe Ratio" row is replaced by
    :func:`~rnnstrategy.evaluation.sharpe.probabilistic_sharpe` (the figure of ``metrics.json``),
    with a footnote saying how it is computed.

    Use a non-interactive matplotlib backend (Agg) when calling this outside a notebook:
    quantstats draws with pyplot.
    """
    returns = _checked(returns, "returns").rename(titles.strategy)
    benchmark = _checked(benchmark, "benchmark").rename(titles.benchmark)
    path = Path(path)
    if buy_and_hold is not None:
        buy_and_hold = _checked(buy_and_hold, "buy_and_hold").rename(titles.buy_and_hold)
        if buy_and_hold.equals(benchmark.rename(titles.buy_and_hold)):  # no benchmark given: shown once, as the benchmark
            buy_and_hold = None
    if returns.abs().sum() == 0:  # quantstats fails on a flat series (a regression of constant x)
        log.warning("%s never traded: no quantstats tearsheet, %s says so", titles.strategy, path)
        atomic_write_bytes(path, _flat_page(returns, benchmark, titles, periods_per_year, buy_and_hold).encode("utf-8"))
        return path
    cjk = cjk_font()
    rc = {"svg.fonttype": "none", "font.family": ["DejaVu Sans", cjk] if cjk else ["DejaVu Sans"]}
    with (tempfile.TemporaryDirectory(prefix="rnnstrategy-tearsheet-") as tmp, warnings.catch_warnings(),
          quiet_fonts(), mpl.rc_context(rc)):
        raw = Path(tmp) / "tearsheet.html"
        # quantstats and seaborn trip deprecation warnings of newer pandas/matplotlib: not the user's to fix
        warnings.filterwarnings("ignore", module=_THIRD_PARTY)
        qs.reports.html(
            # quantstats writes the title into the page's heading as it is: a name with "<" or "&" must be escaped
            returns, benchmark=benchmark, title=_escape(titles.strategy), output=str(raw),
            periods_per_year=periods_per_year,
            strategy_title=titles.strategy, benchmark_title=titles.benchmark, parameters=dict(parameters or {}),
            figfmt="svg", match_dates=False,  # keep the whole window, as metrics.json does
        )
        html = _without_empty_rolling_charts(raw.read_text(encoding="utf-8"), len(returns), periods_per_year)
        if buy_and_hold is not None:
            html = _with_buy_and_hold_curve(html, returns, benchmark, buy_and_hold, Path(tmp) / "returns.svg")
    html = _with_our_sharpe(html, {titles.strategy: returns, titles.benchmark: benchmark}, titles.strategy, trials)
    if exposure is not None:
        html = _with_our_exposure(html, titles.strategy, exposure)
    if by_year:
        html = _with_buy_and_hold(html, by_year)  # at the top of the column; buy-and-hold's table goes above it
    if buy_and_hold is not None:
        beside = {titles.strategy: returns, titles.benchmark: benchmark, titles.buy_and_hold: buy_and_hold}
        html = _with_buy_and_hold(html, _beside_table(beside, periods_per_year))
    atomic_write_bytes(path, offline_html(html, f"{titles.strategy} vs {titles.benchmark}").encode("utf-8"))
    return path
