"""Daily A-share bars: loaders for CSV files and akshare, the cache, validation.

Everything here returns the canonical bar frame described in
:mod:`rnnstrategy.data.frame`.
"""

from rnnstrategy.data.akshare_source import AkshareSource
from rnnstrategy.data.cache import BarCache, default_cache_dir
from rnnstrategy.data.frame import BAR_COLUMNS, BadRows, validate_bars
from rnnstrategy.data.loader import load_bars, read_bars_csv

__all__ = [
    "AkshareSource",
    "BAR_COLUMNS",
    "BadRows",
    "BarCache",
    "default_cache_dir",
    "load_bars",
    "read_bars_csv",
    "validate_bars",
]
