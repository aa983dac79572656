"""Reports of a finished backtest: quantstats tearsheet, diagnostics plots, metrics and manifest.

Plain data in, files out; nothing here touches Backtrader (see :mod:`rnnstrategy.btresults`
for collecting a run) and only :mod:`rnnstrategy.report.tearsheet` imports quantstats.

Example::

    from rnnstrategy.report import RunReport, Titles, benchmark_returns, run_metrics, write_run

    report = RunReport(equity=equity, trades=trades, forecasts=forecasts,
                       titles=Titles.for_run("gru", "600519 贵州茅台", "CSI 300"))
    write_run("runs/moutai", report, metrics=run_metrics(report), manifest={})
"""

from rnnstrategy.report.benchmark import benchmark_returns
from rnnstrategy.report.manifest import data_record, package_versions
from rnnstrategy.report.names import (
    Titles,
    benchmark_title,
    find_names_file,
    security_label,
    security_name,
)
from rnnstrategy.report.run import (
    EQUITY_COLUMNS,
    FILES,
    RunReport,
    read_run,
    render,
    run_metrics,
    trade_statistics,
    write_json,
    write_run,
)
from rnnstrategy.report.tearsheet import (
    PERIODS_PER_YEAR,
    headline_metrics,
    write_tearsheet,
)

__all__ = [
    "EQUITY_COLUMNS",
    "FILES",
    "PERIODS_PER_YEAR",
    "RunReport",
    "Titles",
    "benchmark_returns",
    "benchmark_title",
    "data_record",
    "find_names_file",
    "headline_metrics",
    "package_versions",
    "read_run",
    "render",
    "run_metrics",
    "security_label",
    "security_name",
    "trade_statistics",
    "write_json",
    "write_run",
    "write_tearsheet",
]
