"""Security names, of indexes ("CSI 300") and stocks ("贵州茅台"), and a security's label ("600519 贵州茅台").

Index names come from a small built-in table. Stock names come from a stock list CSV
(tushare ``stock_basic`` columns ``ts_code,symbol,name,...``, like the sample data's
``stocks_tushare_qfq/basic_stock_data.csv``), read by
:func:`rnnstrategy.data.securities.read_securities`: given explicitly, or named by the
``RNNSTRATEGY_NAMES`` environment variable, or found beside the bar file (see
:func:`find_names_file`); else, for the stock of a bundled sample (600519), the sample's name, so
a run of ``rnnstrategy.datasets`` is titled alike from Python and the command line. An unknown
name is left out; the code alone still identifies the security. The titles a report gives its series are :mod:`rnnstrategy.report.titles`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from rnnstrategy.ashare.symbols import symbol_info
from rnnstrategy.data.securities import (
    SECURITIES_ENV,
    SECURITIES_FILE,
    find_securities_file,
    read_securities,
)
from rnnstrategy.errors import SymbolError

__all__ = ["INDEX_NAMES", "NAMES_ENV", "NAMES_FILE", "find_names_file", "read_names", "security_label", "security_name"]

log = logging.getLogger(__name__)

NAMES_ENV = SECURITIES_ENV
NAMES_FILE = SECURITIES_FILE

#: English names of the common A-share indexes, by tushare code.
INDEX_NAMES = {
    "000001.SH": "SSE Composite",
    "000016.SH": "SSE 50",
    "000300.SH": "CSI 300",
    "000688.SH": "STAR 50",
    "000852.SH": "CSI 1000",
    "000905.SH": "CSI 500",
    "399001.SZ": "SZSE Component",
    "399006.SZ": "ChiNext Index",
}


def find_names_file(near: str | os.PathLike[str] | None = None) -> Path | None:
    """The stock list to take names from, or None.

    ``$RNNSTRATEGY_NAMES`` when set; else a ``basic_stock_data.csv`` in the folder of the bar
    file ``near`` or in one of that folder's sub-folders (the layout of the sample data).
    See :func:`rnnstrategy.data.securities.find_securities_file`.
    """
    return find_securities_file(near)


def read_names(path: str | os.PathLike[str]) -> dict[str, str]:
    """``{ts_code: name}`` from a stock list CSV with ``ts_code`` (or ``symbol``) and ``name`` columns.

    Raises:
        DataError: see :func:`rnnstrategy.data.securities.read_securities`.
    """
    return {code: security.name for code, security in read_securities(path).items()}


def security_name(symbol: str, names_file: str | os.PathLike[str] | None = None) -> str:
    """The name of ``symbol`` (index table, then the stock list), or ``""`` when unknown."""
    try:
        ts_code = symbol_info(symbol).ts_code
    except SymbolError:
        return ""
    if ts_code in INDEX_NAMES:
        return INDEX_NAMES[ts_code]
    name = read_names(names_file).get(ts_code, "") if names_file is not None else ""
    if names_file is not None:
        log.info("name of %s: %s (from %s)", ts_code, name or "not listed", names_file)
    return name or _sample_names().get(ts_code, "")


def _sample_names() -> dict[str, str]:
    """Names of the stocks the package ships bars of (:mod:`rnnstrategy.datasets`), by tushare code."""
    from rnnstrategy.datasets import MOUTAI_NAME

    return {"600519.SH": MOUTAI_NAME}


def security_label(symbol: str, name: str) -> str:
    """``"600519 贵州茅台"``: the six-digit code and the name (the code alone when unnamed)."""
    try:
        code = symbol_info(symbol).code
    except SymbolError:
        code = symbol
    return f"{code} {name}".strip()
