"""Daily A-share bars: loaders for CSV files, qlib data directories and akshare, the cache, validation;
raw and adjusted prices (:mod:`rnnstrategy.data.adjust`); security metadata.

Every bar loader returns the canonical bar frame described in
:mod:`rnnstrategy.data.frame`; :mod:`rnnstrategy.data.securities` reads a tushare stock list
(names, industries, listing dates, ST status).
"""

from rnnstrategy.data.adjust import adjusted_bars
from rnnstrategy.data.akshare_source import AkshareSource
from rnnstrategy.data.cache import BarCache, default_cache_dir
from rnnstrategy.data.frame import BAR_COLUMNS, BadRows, validate_bars
from rnnstrategy.data.loader import load_bars, read_bars_csv
from rnnstrategy.data.qlib_dir import qlib_source, qlib_stock_sources
from rnnstrategy.data.qlib_files import is_qlib_dir
from rnnstrategy.data.securities import (
    Security,
    find_securities_file,
    is_securities_file,
    read_securities,
)

__all__ = [
    "BAR_COLUMNS",
    "AkshareSource",
    "BadRows",
    "BarCache",
    "Security",
    "adjusted_bars",
    "default_cache_dir",
    "find_securities_file",
    "is_qlib_dir",
    "is_securities_file",
    "load_bars",
    "qlib_source",
    "qlib_stock_sources",
    "read_bars_csv",
    "read_securities",
    "validate_bars",
]
