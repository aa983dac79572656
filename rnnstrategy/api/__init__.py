"""The one-call API: from data to every result of a backtest or a forecast, in one function.

The command line, TOML runs (``rnnstrategy run``), the README and the notebook all go
through these functions::

    import rnnstrategy as rs

    run = rs.backtest("SH600519.csv", benchmark="sh000300.csv", forecast=rs.ForecastConfig(cell="lstm"))
    run.metrics["strategy"]["sharpe"], run.trades, run.equity, run.forecasts
    run.write("runs/moutai")      # report.html, PNG plots, metrics.json, CSVs, manifest.json

    fc = rs.forecast("SH600519.csv", start="2019-01-02")          # forecasts and their metrics
    universe = rs.forecast("stocks/", out="runs/universe")       # a folder or list: one file per symbol
    topk = rs.backtest("stocks/", strategy="top_k", k=10, start="2018-01-02", out="runs/topk")  # a universe, traded

One module per verb, each readable on its own (names are imported on first use, so
``import rnnstrategy.api`` loads nothing heavy; PyTorch, Backtrader and quantstats load when a
call needs them):

- :mod:`~rnnstrategy.api.results`: what the verbs return (``ForecastRun``, ``UniverseForecastRun``,
  ``BacktestRun``, ``UniverseBacktestRun``, ``PaperReportRun``, ``SignalRun``).
- :mod:`~rnnstrategy.api.forecasts`: ``forecast()``, of one security or a universe.
- :mod:`~rnnstrategy.api.backtests`: ``backtest()``, the options turned into a run definition.
- :mod:`~rnnstrategy.api.definition`: ``run()``, a run definition (a ``RunConfig``, a TOML file's or a
  finished run's), traded as one stock (:mod:`~rnnstrategy.api.stock_backtest`) or a universe
  (:mod:`~rnnstrategy.api.universe_backtest`); a replay's data checks in :mod:`~rnnstrategy.api.replay`.
- :mod:`~rnnstrategy.api.record`: measuring and recording a finished run, shared by every kind of run.
- :mod:`~rnnstrategy.api.signals`: ``signal()``, the next session's orders (its options against a run
  definition in :mod:`~rnnstrategy.api.signal_options`; holdings in :mod:`~rnnstrategy.api.positions`).
- :mod:`~rnnstrategy.api.paper`: ``paper_report()``, a paper account's record as a backtest's files.
- :mod:`~rnnstrategy.api.sweeps`: ``sweep()`` (its definition in :mod:`~rnnstrategy.api.sweep_definition`).
- :mod:`~rnnstrategy.api.comparison`: ``compare()``, finished runs side by side.

Shared by several verbs: :mod:`~rnnstrategy.api.sources` (what a run reads and whether a strategy fits it)
and :mod:`~rnnstrategy.api.universe_inputs` (the forecasts and bars a universe trades). A strategy's
parameters are its own (``params``, or keywords such as ``k=10``): the strategy checks them.
"""

from rnnstrategy._lazy import lazy_exports

_MODULES = {
    "rnnstrategy.api.results": ("ForecastRun", "UniverseForecastRun", "BacktestRun", "UniverseBacktestRun",
                                "PaperReportRun", "SignalRun"),
    "rnnstrategy.api.forecasts": ("forecast",),
    "rnnstrategy.api.backtests": ("backtest",),
    "rnnstrategy.api.definition": ("run",),
    "rnnstrategy.api.signals": ("signal",),
    "rnnstrategy.api.positions": ("read_positions",),
    "rnnstrategy.api.paper": ("paper_report",),
    "rnnstrategy.api.sweeps": ("sweep",),
    "rnnstrategy.api.sweep_definition": ("SweepSpec", "load_sweep", "expand"),
    "rnnstrategy.api.comparison": ("compare",),
    "rnnstrategy.forecasting.foldroot": ("DEFAULT_STORE",),
}
"""Each module of the API and the names it gives."""

_EXPORTS = {name: module for module, names in _MODULES.items() for name in names}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
