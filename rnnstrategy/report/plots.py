"""Forecast and backtest diagnostics as matplotlib figures (PNG files beside the tearsheet).

Figures, each a plain function of plain frames (no Backtrader, no quantstats):

* :func:`forecast_figure` - predicted vs realised next-day opens with the previous-close
  baseline, and their rolling errors;
* :func:`loss_figure` - training (and validation) loss per epoch of every walk-forward fold;
* :func:`equity_figure` - the strategy's equity against the benchmark, trades marked;
* :func:`rank_ic_figure` - a universe's cumulative daily rank IC beside the reversal baseline's;
* :func:`quantile_figure` - its mean daily return per forecast quantile, in basis points.

:func:`write_cross_section_figures` writes the last two beside a universe's ``summary.json``.

Figures are built with the object-oriented API (``matplotlib.figure.Figure``), so no pyplot
state or GUI backend is involved; :func:`save_png` renders with Agg and writes atomically.

Chinese security names need a font with CJK glyphs. :func:`cjk_font` picks an installed one
(known families first, then whatever ``fc-list :lang=zh`` lists); when there is none, figure
text drops the Chinese characters (:func:`figure_text`) instead of drawing empty boxes, and
:func:`quiet_fonts` silences matplotlib's missing-glyph and missing-family warnings.
"""

from __future__ import annotations

import functools
import io
import logging
import re
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib import font_manager, style
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from rnnstrategy.files import atomic_write_bytes

__all__ = [
    "CJK_FAMILIES",
    "cjk_font",
    "equity_figure",
    "figure_style",
    "figure_text",
    "forecast_figure",
    "loss_figure",
    "quantile_figure",
    "quiet_fonts",
    "rank_ic_figure",
    "save_png",
    "suptitle",
    "write_cross_section_figures",
]

log = logging.getLogger(__name__)

#: Font families with Chinese glyphs, most preferred first (Linux, Windows, macOS names).
CJK_FAMILIES = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN",
    "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Sarasa Gothic SC", "Microsoft YaHei", "SimHei",
    "PingFang SC", "Hiragino Sans GB", "Heiti SC", "STHeiti", "Droid Sans Fallback",
    "AR PL UMing CN", "Arial Unicode MS",
)
_LATIN_FAMILY = "DejaVu Sans"  # ships with matplotlib
_CJK_TEXT = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]+")
_DPI = 110
_UP, _DOWN = "tab:red", "tab:green"  # A-share colours: red rises (buys), green falls (sells)


def _fc_list_zh() -> list[str]:
    """Font files fontconfig says cover Chinese; empty without fontconfig."""
    if shutil.which("fc-list") is None:
        return []
    try:
        listed = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=20,
                                check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted(line.split(":")[0].strip() for line in listed.stdout.splitlines() if line.strip())


@functools.lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The family name of an installed font with Chinese glyphs, or None when there is none.

    Known families (:data:`CJK_FAMILIES`) that matplotlib already lists come first; else the
    first font file ``fc-list :lang=zh`` names that matplotlib can load (it is registered
    with matplotlib's font manager). The answer is cached for the process.
    """
    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in installed:
            log.debug("Chinese text in figures uses %s", family)
            return family
    for path in _fc_list_zh():
        try:
            font_manager.fontManager.addfont(path)
            family = font_manager.FontProperties(fname=path).get_name()
        except (OSError, RuntimeError, ValueError):
            continue
        log.debug("Chinese text in figures uses %s (%s)", family, path)
        return family
    log.info("no font with Chinese glyphs is installed (e.g. apt-get install fonts-noto-cjk); "
             "Chinese names are left out of figure text")
    return None


def figure_text(text: str) -> str:
    """``text`` as figures can draw it: unchanged with a CJK font, else without Chinese characters."""
    if cjk_font() is not None:
        return text
    return re.sub(r"\s{2,}", " ", _CJK_TEXT.sub("", text)).strip()


@contextmanager
def quiet_fonts() -> Iterator[None]:
    """Silence matplotlib's missing-glyph warnings and missing-font-family log lines."""

    def drop_findfont(record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("findfont:")

    logger = logging.getLogger("matplotlib.font_manager")
    logger.addFilter(drop_findfont)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from")
            yield
    finally:
        logger.removeFilter(drop_findfont)


@contextmanager
def figure_style(**rc: object) -> Iterator[None]:
    """matplotlib settings for this module's figures (fonts with CJK fallback), warnings silenced."""
    cjk = cjk_font()
    families = [_LATIN_FAMILY, cjk] if cjk else [_LATIN_FAMILY]
    settings = {"font.family": families, "font.size": 9, "axes.grid": True, "grid.alpha": 0.3,
                "axes.spines.top": False, "axes.spines.right": False, **rc}
    with quiet_fonts(), style.context("default"), mpl.rc_context(settings):  # same look whoever styled before
        yield


def use_agg() -> None:
    """Draw with Agg: reports are files, never windows (quantstats draws with pyplot). In a
    notebook the inline backend is left alone, so the user's own plots still show."""
    if mpl.get_backend().lower() != "agg" and "ipykernel" not in sys.modules:
        mpl.use("Agg")


def suptitle(figure: Figure, text: str) -> None:
    """Title ``figure`` with ``text`` as figures can draw it (:func:`figure_text`), and keep ``text`` whole as
    the figure's label, which :func:`save_png` writes into the PNG's ``Title``: without a CJK font the name
    of a stock is left out of the drawing but not out of the file."""
    figure.suptitle(figure_text(text))
    figure.set_label(text)


def save_png(figure: Figure, path: str | Path) -> Path:
    """Render ``figure`` as PNG (Agg) and write it atomically, with its label (the whole title, see
    :func:`suptitle`) as the PNG's ``Title`` text; returns the path."""
    buffer = io.BytesIO()
    metadata = {"Title": figure.get_label()} if figure.get_label() else None
    with quiet_fonts():
        figure.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight", metadata=metadata)
    path = Path(path)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _next_dates(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The date of the open a ``pred_open_1`` made at each row predicts (the next row's date)."""
    return pd.DatetimeIndex(index[1:].append(pd.DatetimeIndex([pd.NaT])))


def forecast_figure(forecasts: pd.DataFrame, closes: pd.Series, title: str, window: int = 20,
                    verdict: str | None = None) -> Figure:
    """Predicted vs realised next-day opens, with the previous close as the naive baseline.

    Args:
        forecasts: a forecast frame (``pred_open_1`` and ``open_1`` at forecast date t).
        closes: close prices by date covering the forecast dates (close(t) is the baseline).
        title: figure title (the security's name).
        window: bars of the rolling RMSE in the lower panel.
        verdict: the h = 1 verdict of the forecast metrics (``metrics["verdict"]``, e.g. "ties the
            previous-close forecast: RMSE 0.998x [0.994, 1.004], DM p = 0.54"), shown in a box in
            the upper panel; none when not given.

    The upper panel plots against the date of the predicted open (t+1); the lower panel the
    rolling RMSE of the model and of the previous close, so it shows where the model wins.
    """
    frame = pd.DataFrame({
        "actual": forecasts["open_1"].to_numpy(),
        "predicted": forecasts["pred_open_1"].to_numpy(),
        "baseline": closes.reindex(forecasts.index).to_numpy(),
    }, index=_next_dates(forecasts.index)).dropna()
    with figure_style():
        figure = Figure(figsize=(11, 6.5), layout="constrained")
        top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(2.2, 1))
        top.plot(frame.index, frame["actual"], color="black", lw=1.0, label="actual open")
        top.plot(frame.index, frame["baseline"], color="tab:gray", lw=0.8, ls="--", label="previous close (naive)")
        top.plot(frame.index, frame["predicted"], color="tab:blue", lw=0.9, label="predicted open")
        top.set_ylabel("price (CNY)")
        top.legend(loc="upper left")
        if verdict:
            top.text(0.99, 0.02, f"h=1: the model {verdict}", transform=top.transAxes, ha="right", va="bottom",
                     fontsize="small", bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.85})
        rolling = {name: np.sqrt(((frame[name] - frame["actual"]) ** 2).rolling(window, min_periods=1).mean())
                   for name in ("predicted", "baseline")}
        bottom.plot(frame.index, rolling["predicted"], color="tab:blue", lw=0.9, label="model")
        bottom.plot(frame.index, rolling["baseline"], color="tab:gray", lw=0.9, ls="--", label="previous close")
        bottom.set_ylabel(f"{window}-day RMSE (CNY)")
        bottom.legend(loc="upper left")
        rmse = np.sqrt(np.mean((frame["predicted"] - frame["actual"]) ** 2)) if len(frame) else float("nan")
        naive = np.sqrt(np.mean((frame["baseline"] - frame["actual"]) ** 2)) if len(frame) else float("nan")
        suptitle(figure, f"{title}: next-day open, RMSE {rmse:.2f} vs previous close {naive:.2f} ({len(frame)} days)")
    return figure


def loss_figure(folds: Sequence[dict[str, object]], title: str) -> Figure:
    """Training loss per epoch of every walk-forward fold, and each fold's final losses by date.

    Args:
        folds: fold reports as in ``forecasts.attrs["folds"]`` (``retrain_date`` and
            ``history`` with ``train_loss`` and ``val_loss`` lists; NaN validation losses,
            as without early stopping, are left out).
        title: figure title.
    """
    with figure_style():
        figure = Figure(figsize=(11, 4.5), layout="constrained")
        curves, final = figure.subplots(1, 2, width_ratios=(1, 1.4))
        colours = mpl.colormaps["viridis"](np.linspace(0, 1, max(len(folds), 1)))
        dates, last_train, best_val = [], [], []
        for colour, fold in zip(colours, folds, strict=True):
            history = fold.get("history") or {}
            train = np.asarray(history.get("train_loss", []), dtype=float)
            val = np.asarray(history.get("val_loss", []), dtype=float)
            if len(train):
                curves.plot(np.arange(1, len(train) + 1), train, color=colour, lw=0.8, alpha=0.8,
                            marker="." if len(train) < 3 else None)
            dates.append(pd.Timestamp(str(fold["retrain_date"])))
            last_train.append(train[-1] if len(train) else np.nan)
            best_val.append(np.nanmin(val) if len(val) and not np.isnan(val).all() else np.nan)
        curves.set_xlabel("epoch")
        curves.xaxis.set_major_locator(MaxNLocator(integer=True))
        curves.set_ylabel("training loss")
        curves.set_title("per fold (dark: first, yellow: last)")
        final.plot(dates, last_train, marker=".", color="tab:blue", lw=0.8, label="final training loss")
        if not np.isnan(best_val).all():
            final.plot(dates, best_val, marker=".", color="tab:orange", lw=0.8, label="best validation loss")
        for axes in (curves, final):
            _log_scale_if_wide(axes)
        final.set_xlabel("retrain date")
        final.legend(loc="upper right")
        final.set_title(f"{len(folds)} folds")
        suptitle(figure, f"{title}: walk-forward training loss")
    return figure


def _log_scale_if_wide(axes: Axes, ratio: float = 20.0) -> None:
    """A log y-axis when the plotted values span more than ``ratio`` (losses fall fast at first)."""
    values = np.concatenate([np.asarray(line.get_ydata(), dtype=float) for line in axes.get_lines()] or [np.array([])])
    values = values[np.isfinite(values) & (values > 0)]
    if len(values) and values.max() / values.min() > ratio:
        axes.set_yscale("log")


def equity_figure(equity: pd.Series, benchmark: pd.Series, trades: pd.DataFrame, title: str,
                  benchmark_title: str, *, buy_and_hold: pd.Series | None = None) -> Figure:
    """The strategy's portfolio value against the benchmark (and buy-and-hold) scaled to the
    same start, trades marked.

    Args:
        equity: portfolio value by date (CNY).
        benchmark: benchmark daily returns on the same dates.
        trades: fills with ``date`` and ``side`` (``buy``/``sell``), as in ``trades.csv``.
        title, benchmark_title: legend names of the two curves.
        buy_and_hold: daily returns of buy-and-hold of the traded stock on the same dates,
            drawn as a third curve named by the series; None: not drawn.
    """

    def scaled(returns: pd.Series) -> pd.Series:
        growth = (1 + returns.reindex(equity.index).fillna(0.0)).cumprod()
        return float(equity.iloc[0]) * growth / growth.iloc[0]  # every curve starts at the first close

    bench = scaled(benchmark)
    held = None if buy_and_hold is None else scaled(buy_and_hold)
    fills = trades.assign(date=pd.to_datetime(trades["date"]))
    with figure_style():
        figure = Figure(figsize=(11, 6), layout="constrained")
        top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1))
        top.plot(equity.index, equity, color="tab:blue", lw=1.1, label=figure_text(title))
        top.plot(bench.index, bench, color="tab:gray", lw=1.0, label=figure_text(benchmark_title))
        if held is not None:
            top.plot(held.index, held, color="tab:orange", lw=1.0, label=figure_text(str(buy_and_hold.name)))
        for side, marker, colour in (("buy", "^", _UP), ("sell", "v", _DOWN)):
            dates = pd.DatetimeIndex(fills.loc[fills["side"] == side, "date"])
            on_curve = equity.reindex(dates, method="ffill")
            top.scatter(dates, on_curve, marker=marker, color=colour, s=22, zorder=3,
                        label=f"{side} ({len(dates)})")
        top.set_ylabel("portfolio value (CNY)")
        top.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
        top.legend(loc="upper left")
        bench_drawdown = (bench / bench.cummax() - 1) * 100
        bottom.fill_between(bench_drawdown.index, bench_drawdown, 0, color="tab:gray", alpha=0.35, lw=0)
        if held is not None:
            bottom.plot(held.index, (held / held.cummax() - 1) * 100, color="tab:orange", lw=0.8)
        bottom.plot(equity.index, (equity / equity.cummax() - 1) * 100, color="tab:blue", lw=0.9)
        bottom.set_ylabel("drawdown (%)")
        suptitle(figure, f"{title} vs {benchmark_title}")
    return figure


def rank_ic_figure(daily: pd.DataFrame, title: str = "universe") -> Figure:
    """Cumulative daily rank IC of the forecasts and of the 5-day reversal baseline.

    Args:
        daily: :func:`rnnstrategy.evaluation.cross_section_daily` (index = date, ``rank_ic``
            and ``baseline_rank_ic`` columns; a baseline of NaN only is left out).
        title: figure title (the universe's name).

    A line rising at a steady slope is a forecast that ranks the day's symbols well on most
    days; a flat or falling one ranks them no better than chance, or worse.
    """
    with figure_style():
        figure = Figure(figsize=(11, 4.5), layout="constrained")
        axes = figure.subplots()
        model = daily["rank_ic"].fillna(0.0).cumsum() if len(daily) else pd.Series(dtype=float)
        axes.plot(model.index, model, color="tab:blue", lw=1.1,
                  label=f"model (mean {daily['rank_ic'].mean():.3f})" if len(daily) else "model")
        if len(daily) and daily["baseline_rank_ic"].notna().any():
            base = daily["baseline_rank_ic"].fillna(0.0).cumsum()
            axes.plot(base.index, base, color="tab:gray", lw=1.0, ls="--",
                      label=f"5-day reversal (mean {daily['baseline_rank_ic'].mean():.3f})")
        if not len(daily):
            axes.text(0.5, 0.5, "no day with enough symbols", transform=axes.transAxes, ha="center", va="center")
        axes.axhline(0.0, color="black", lw=0.6)
        axes.set_ylabel("cumulative rank IC")
        axes.legend(loc="upper left")
        suptitle(figure, f"{title}: cross-sectional rank IC, {len(daily)} days")
    return figure


def quantile_figure(metrics: Mapping[str, object], title: str = "universe") -> Figure:
    """Mean daily realised return of each forecast quantile (1 = lowest forecast), in basis points.

    Args:
        metrics: :func:`rnnstrategy.evaluation.cross_section_metrics` (``quantile_returns``,
            ``long_short``, ``long_short_t``, ``n_days``).
        title: figure title (the universe's name).
    """
    returns = metrics.get("quantile_returns") or []
    values = np.array([np.nan if r is None else 1e4 * float(r) for r in returns], dtype=float)
    with figure_style():
        figure = Figure(figsize=(7, 4.5), layout="constrained")
        axes = figure.subplots()
        labels = [f"Q{q}" for q in range(1, len(values) + 1)]
        axes.bar(labels, np.nan_to_num(values), color=[_UP if v > 0 else _DOWN for v in np.nan_to_num(values)])
        axes.axhline(0.0, color="black", lw=0.6)
        axes.set_xlabel("forecast quantile (Q1: lowest forecast return)")
        axes.set_ylabel("mean daily return (bp)")
        spread, t = metrics.get("long_short"), metrics.get("long_short_t")
        if spread is not None:
            note = f"long-short {1e4 * float(spread):.1f} bp/day" + (f", t = {float(t):.2f}" if t is not None else "")
            axes.text(0.02, 0.97, note, transform=axes.transAxes, ha="left", va="top", fontsize="small",
                      bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.85})
        elif not len(values):
            axes.text(0.5, 0.5, "no day with enough symbols", transform=axes.transAxes, ha="center", va="center")
        suptitle(figure, f"{title}: next-open return by forecast quantile, {metrics.get('n_days', 0)} days")
    return figure


def write_cross_section_figures(out_dir: str | Path, daily: pd.DataFrame, metrics: Mapping[str, object],
                                title: str = "universe") -> list[Path]:
    """Write ``cross_section.png`` (:func:`rank_ic_figure`) and ``quantile_returns.png``
    (:func:`quantile_figure`) into ``out_dir``, atomically; returns their paths."""
    out = Path(out_dir)
    return [save_png(rank_ic_figure(daily, title), out / "cross_section.png"),
            save_png(quantile_figure(metrics, title), out / "quantile_returns.png")]
