"""The cross-section of a universe's forecasts (daily IC and rank IC beside the reversal baseline,
by :mod:`rnnstrategy.evaluation.cross_section`): ``cross_section_daily.csv`` and the metrics for
``summary.json``. The figures are drawn by the report stage
(:func:`rnnstrategy.report.plots.write_cross_section_figures`): this package imports no matplotlib."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from rnnstrategy.data.forecast_files import read_forecasts
from rnnstrategy.errors import RnnStrategyError
from rnnstrategy.evaluation.cross_section import cross_section_daily, cross_section_metrics, horizon_metrics
from rnnstrategy.files import atomic_write_bytes
from rnnstrategy.universe.outputs import forecast_file_name
from rnnstrategy.universe.per_symbol import SymbolTask

__all__ = ["cross_section_inputs", "write_cross_section"]

log = logging.getLogger(__name__)


def write_cross_section(out_dir: str | Path, forecasts: Mapping[str, pd.DataFrame],
                        closes: Mapping[str, pd.Series] | None = None, *, min_names: int = 10,
                        opens: Mapping[str, pd.Series] | None = None, sessions: int = 1) -> dict[str, object]:
    """The cross-section of a universe's forecasts; writes its daily series to
    ``cross_section_daily.csv`` in ``out_dir`` and returns the metrics for ``summary.json``.

    Args:
        out_dir: the run's folder.
        forecasts: the forecast frame of each symbol that was forecast, keyed by symbol.
        closes: each symbol's closes (the bars the run loaded), for the 5-day reversal baseline.
        min_names: fewest symbols for a day to count.
        opens, sessions: each symbol's adjusted opens and the sessions (h > 1) a pooled label spans: the
            metrics then hold ``"label_horizon"``, the rank IC against the h-session return
            (:func:`~rnnstrategy.evaluation.cross_section.horizon_metrics`).

    Returns:
        :func:`~rnnstrategy.evaluation.cross_section_metrics` (``n_days`` 0 and None values
        when too few symbols share a day), ready for ``json.dumps(..., allow_nan=False)``.
        The figures (:func:`rnnstrategy.report.plots.write_cross_section_figures`) are drawn
        by the report stage: this stage imports no matplotlib.
    """
    metrics = cross_section_metrics(forecasts, closes, min_names=min_names)
    if opens is not None and sessions > 1:
        metrics["label_horizon"] = horizon_metrics(forecasts, opens, sessions, closes, min_names=min_names)
    daily = cross_section_daily(forecasts, closes, min_names=min_names)
    text = daily.to_csv(index_label="date", date_format="%Y-%m-%d")
    atomic_write_bytes(Path(out_dir) / "cross_section_daily.csv", text.encode("utf-8"))
    log.info("cross-section of %d symbols: %d days, rank IC %s", metrics["n_symbols"], metrics["n_days"],
             metrics["rank_ic"])
    return metrics


def cross_section_inputs(out: Path, rows: dict[int, dict[str, object]], tasks: Sequence[SymbolTask],
                         ) -> tuple[dict[str, pd.DataFrame], dict[str, pd.Series]]:
    """The written forecasts of the ``ok`` symbols, and their closes loaded again as the run loaded them."""
    forecasts: dict[str, pd.DataFrame] = {}
    closes: dict[str, pd.Series] = {}
    for index, row in sorted(rows.items()):
        if row["status"] != "ok":
            continue
        symbol, task = str(row["symbol"]), tasks[index]
        forecasts[symbol] = read_forecasts(out / "forecasts" / forecast_file_name(symbol))
        try:
            bars = task.load_bars()
        except RnnStrategyError as exc:
            log.warning("%s: no closes for the reversal baseline of the cross-section: %s", symbol, exc)
            continue
        closes[symbol] = bars["close"]
    return forecasts, closes
