"""Industries of stocks: a user's mapping file or a stock list, read into ``{symbol: industry}``.

A mapping is a CSV with a code column (``symbol``, ``ts_code``, ``code`` or ``代码``) and an ``industry`` (or
``行业``) column::

    symbol,industry
    600519.SH,白酒
    000001.SZ,银行

A tushare stock list (``basic_stock_data.csv``: ``ts_code,symbol,name,area,industry,list_date``) is one too.
Codes are read as A-share codes where they are one (``600519``, ``SH600519`` and ``600519.SH`` are the same
stock); any other code is kept as written. :func:`industry_of` looks a feed's name up the same way. A stock the
file does not name, or names with an empty industry, has no industry (:data:`UNKNOWN`).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path

from rnnstrategy.ashare.symbols import symbol_info
from rnnstrategy.data.loader import read_csv_file
from rnnstrategy.data.securities import read_securities
from rnnstrategy.errors import DataError, SymbolError

__all__ = ["UNKNOWN", "industry_key", "industry_of", "read_industries", "run_industries"]

UNKNOWN = "unknown"
"""What the report calls the industry of a stock the mapping does not name."""

_CODE_COLUMNS = ("symbol", "ts_code", "code", "代码")
_INDUSTRY_COLUMNS = ("industry", "行业")
_FIX = ("give a CSV with symbol and industry columns (e.g. 600519.SH,白酒), or a tushare stock list with ts_code "
        "and industry columns")


def industry_key(code: str) -> str:
    """The key a code is looked up by: its tushare code when it is an A-share code, else the code as written."""
    code = str(code).strip()
    try:
        return symbol_info(code.zfill(6) if code.isdigit() else code).ts_code
    except SymbolError:
        return code


def industry_of(symbol: str, industries: Mapping[str, str]) -> str | None:
    """The industry of ``symbol`` (a feed's name) in ``industries`` (from :func:`read_industries`); None when
    it names none."""
    return industries.get(industry_key(symbol)) or None


def read_industries(path: str | os.PathLike[str]) -> dict[str, str]:
    """The industry of each stock a mapping CSV (or stock list) names, keyed by :func:`industry_key`.

    Rows with an empty industry are left out (those stocks have no industry).

    Raises:
        DataError: a missing or unreadable file, no code or industry column, no row with an industry, or a stock
            given two different industries; one line naming the file and the fix.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"{path}: no such industry mapping file; {_FIX}")
    stat = path.stat()
    return dict(_read(path.resolve(), stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=8)
def _read(path: Path, mtime_ns: int, size: int) -> tuple[tuple[str, str], ...]:
    """The mapping of ``path`` as pairs (cached by the file's time and size: a sweep reads it once)."""
    table = read_csv_file(path, _FIX, dtype=str, keep_default_na=False)
    table.columns = [str(column).strip() for column in table.columns]
    columns = set(table.columns)
    # a stock list has both ts_code and symbol (six digits): prefer ts_code there
    code = next((c for c in ("ts_code", *_CODE_COLUMNS) if c in columns), None)
    industry = next((c for c in _INDUSTRY_COLUMNS if c in columns), None)
    if code is None or industry is None:
        raise DataError(f"{path}: an industry mapping needs a symbol and an industry column, found "
                        f"{', '.join(table.columns) or 'none'}; {_FIX}")
    found: dict[str, str] = {}
    for row, (symbol, name) in enumerate(zip(table[code], table[industry], strict=True), start=2):
        key, name = industry_key(symbol), name.strip()
        if not key or not name:
            continue
        if found.get(key, name) != name:
            raise DataError(f"{path}: line {row} gives {key} the industry {name!r}, an earlier line "
                            f"{found[key]!r}; give each stock one industry")
        found[key] = name
    if not found:
        raise DataError(f"{path}: no row names a stock and its industry; {_FIX}")
    return tuple(found.items())


def run_industries(mapping: str | os.PathLike[str] | None,
                   stock_list: str | os.PathLike[str] | None) -> tuple[dict[str, str], str | None]:
    """The industries a run reports (and caps) by, and their file: ``mapping`` when given, else the industries
    of ``stock_list`` (a run's ``--names``, or one found beside the data) where it has any; else none.

    Raises:
        DataError: a bad ``mapping`` (:func:`read_industries`) or stock list.
    """
    if mapping:
        return read_industries(mapping), str(mapping)
    if stock_list is None or not Path(stock_list).is_file():
        return {}, None
    found = {code: security.industry for code, security in read_securities(stock_list).items() if security.industry}
    return found, (str(stock_list) if found else None)
