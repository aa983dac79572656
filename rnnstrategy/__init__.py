"""rnnstrategy: walk-forward recurrent forecasts of A-share opens, for Backtrader.

The one-call API::

    import rnnstrategy as rs
    run = rs.backtest("SH600519.csv", benchmark="sh000300.csv", forecast=rs.ForecastConfig(cell="lstm"))
    run.write("runs/moutai")            # report.html, metrics.json, trades.csv, manifest.json ...

Names are imported on first use, so ``import rnnstrategy`` (and the data layer) needs
neither PyTorch, Backtrader nor quantstats.
"""

import logging

from rnnstrategy._lazy import lazy_exports
from rnnstrategy.errors import (
    ConfigError,
    DataError,
    FetchError,
    RnnStrategyError,
    SymbolError,
)

__version__ = "0.1.0"

_EXPORTS = {
    "backtest": "rnnstrategy.api",
    "forecast": "rnnstrategy.api",
    "BacktestRun": "rnnstrategy.api",
    "ForecastRun": "rnnstrategy.api",
    "UniverseForecastRun": "rnnstrategy.api",
    "run": "rnnstrategy.api",
    "signal": "rnnstrategy.api",
    "paper_report": "rnnstrategy.api",
    "sweep": "rnnstrategy.api",
    "compare": "rnnstrategy.api",
    "SweepSpec": "rnnstrategy.api",
    "load_sweep": "rnnstrategy.api",
    "ForecastConfig": "rnnstrategy.forecasting.config",
    "PooledConfig": "rnnstrategy.forecasting.pooled.config",
    "AShareRules": "rnnstrategy.ashare.rules",
    "SecurityRules": "rnnstrategy.ashare.security",
    "RunConfig": "rnnstrategy.config",
    "load_run_config": "rnnstrategy.config",
    "load_bars": "rnnstrategy.data.loader",
    "adjusted_bars": "rnnstrategy.data.adjust",
    "qlib_source": "rnnstrategy.data.qlib_dir",
    "Board": "rnnstrategy.ashare.symbols",
    "SymbolInfo": "rnnstrategy.ashare.symbols",
    "symbol_info": "rnnstrategy.ashare.symbols",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = ["ConfigError", "DataError", "FetchError", "RnnStrategyError", "SymbolError", "__version__", *_EXPORTS]

logging.getLogger(__name__).addHandler(logging.NullHandler())
