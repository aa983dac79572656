"""rnnstrategy: walk-forward recurrent forecasts of A-share opens, for Backtrader.

The data layer is importable without Backtrader or PyTorch::

    from rnnstrategy import load_bars, symbol_info
    bars = load_bars("SH600519.csv")
"""

import logging

from rnnstrategy.data import load_bars
from rnnstrategy.errors import ConfigError, DataError, FetchError, RnnStrategyError, SymbolError
from rnnstrategy.symbols import Board, SymbolInfo, symbol_info

__version__ = "0.1.0"

__all__ = [
    "Board",
    "ConfigError",
    "DataError",
    "FetchError",
    "RnnStrategyError",
    "SymbolError",
    "SymbolInfo",
    "__version__",
    "load_bars",
    "symbol_info",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
