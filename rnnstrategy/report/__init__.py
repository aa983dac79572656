"""Reports of a finished backtest: quantstats tearsheet, diagnostics plots, metrics and manifest.

Plain data in, files out; nothing here imports Backtrader or PyTorch (see
:mod:`rnnstrategy.backtrader.results` for collecting a run), and only
:mod:`rnnstrategy.report.tearsheet` imports quantstats, when a tearsheet is drawn. Names are
imported on first use, so ``import rnnstrategy.report`` is cheap.

``rnnstrategy.backtest(...).write(path)`` is the usual way in; by hand::

    from rnnstrategy.report import RunReport, Titles, run_metrics, write_run

    report = RunReport(equity=equity, trades=trades, forecasts=forecasts,
                       titles=Titles.for_run("gru", "600519 贵州茅台", "CSI 300"))
    write_run("runs/moutai", report, metrics=run_metrics(report), manifest=manifest)
"""

from rnnstrategy._lazy import lazy_exports

_EXPORTS = {
    "benchmark_returns": "rnnstrategy.report.benchmark",
    "data_record": "rnnstrategy.report.manifest",
    "package_versions": "rnnstrategy.report.manifest",
    "Titles": "rnnstrategy.report.titles",
    "benchmark_title": "rnnstrategy.report.titles",
    "find_names_file": "rnnstrategy.report.names",
    "security_label": "rnnstrategy.report.names",
    "security_name": "rnnstrategy.report.names",
    "EQUITY_COLUMNS": "rnnstrategy.data.records",
    "FILES": "rnnstrategy.report.folder",
    "RunReport": "rnnstrategy.report.measures",
    "read_run": "rnnstrategy.report.folder",
    "render": "rnnstrategy.report.folder",
    "run_metrics": "rnnstrategy.report.measures",
    "trade_statistics": "rnnstrategy.report.measures",
    "write_json": "rnnstrategy.report.folder",
    "write_run": "rnnstrategy.report.folder",
    "PERIODS_PER_YEAR": "rnnstrategy.ashare.calendar",
    "headline_metrics": "rnnstrategy.report.tearsheet",
    "write_tearsheet": "rnnstrategy.report.tearsheet",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
