"""Universes of securities: walk-forward forecasts of many sources in one run, on an executor
(in this process, a process pool or Ray), with their summary files and cross-section.

Above the forecast and evaluation stages, below the API; PyTorch is imported only through
:mod:`rnnstrategy.forecasting`.

- :mod:`~rnnstrategy.universe.forecast`: :func:`forecast_universe`, the run and what it writes;
- :mod:`~rnnstrategy.universe.sources`: bar sources, stock lists, the bars a run reads;
- :mod:`~rnnstrategy.universe.per_symbol`: one source's task and work (what a worker runs);
- :mod:`~rnnstrategy.universe.pooled`: a pooled run (one model per retrain for every source);
- :mod:`~rnnstrategy.universe.summary` and :mod:`~rnnstrategy.universe.outputs`: the summary
  table and the files under the run's folder;
- :mod:`~rnnstrategy.universe.cross_section`: the cross-section of the forecasts;
- :mod:`~rnnstrategy.universe.as_of`: an index's members as they stood (what a run forecasts, learns
  from and trades on each day), from :mod:`~rnnstrategy.universe.membership` and its sources;
- :mod:`~rnnstrategy.universe.executors`: running tasks with retries;
  :mod:`~rnnstrategy.universe.worker_start`: what a process-pool worker runs first.

Names are imported on first use, so importing this package loads nothing heavy (a spawned
worker imports it to arm its death signal before anything else).
"""

from rnnstrategy._lazy import lazy_exports

_EXPORTS = {
    "forecast_universe": "rnnstrategy.universe.forecast",
    "SUMMARY_COLUMNS": "rnnstrategy.universe.summary",
    "resolve_sources": "rnnstrategy.universe.sources",
    "securities_among": "rnnstrategy.universe.sources",
    "write_cross_section": "rnnstrategy.universe.cross_section",
    "run_tasks": "rnnstrategy.universe.executors",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
