"""Security metadata from a tushare stock list: names, industries, listing dates, ST status.

A stock list is a CSV with one row per security, like tushare ``stock_basic`` and the
sample data's ``stocks_tushare_qfq/basic_stock_data.csv``::

    ts_code,symbol,name,area,industry,list_date
    000001.SZ,000001,平安银行,深圳,银行,19910403

``ts_code`` (or ``symbol``/``code``/``代码``) and ``name`` (or ``名称``) are required;
``industry`` and ``list_date`` (``YYYYMMDD`` or ``YYYY-MM-DD``) are read when present, any
other column is ignored. It is an optional source of report titles
(:mod:`rnnstrategy.report.names`), of the A-share rules that the bars do not carry (ST status
and the no-limit days after listing, :class:`rnnstrategy.ashare.rules.AShareRules`), and of
the name and industry of each symbol of a universe run. A folder of bar CSVs may hold one:
:func:`is_securities_file` tells it from a bar file by its header.

ST status is read from the name as it was when the list was saved (``ST``, ``*ST``,
``S*ST``, ``SST`` prefixes), so it is the status of that day, not of every past date.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from rnnstrategy.ashare.symbols import is_st_name, symbol_info
from rnnstrategy.data.loader import read_csv_file
from rnnstrategy.errors import DataError, SymbolError

__all__ = [
    "SECURITIES_ENV",
    "SECURITIES_FILE",
    "Security",
    "find_securities_file",
    "is_securities_file",
    "is_st_name",
    "read_securities",
]

log = logging.getLogger(__name__)

SECURITIES_ENV = "RNNSTRATEGY_NAMES"
"""Environment variable naming the stock list to use wherever none is given."""
SECURITIES_FILE = "basic_stock_data.csv"
"""File name :func:`find_securities_file` looks for beside the bars."""

_CODE_COLUMNS = ("ts_code", "symbol", "code", "代码")  # in order of preference
_NAME_COLUMNS = ("name", "名称")
_BAR_COLUMNS = frozenset({"open", "high", "low", "close", "开盘", "收盘", "最高", "最低"})
_FIX = "give a tushare stock list CSV with ts_code and name columns (and optionally industry, list_date)"


@dataclass(frozen=True)
class Security:
    """One row of a stock list.

    Attributes:
        ts_code: tushare code, e.g. ``"600519.SH"``.
        name: the security name, e.g. ``"贵州茅台"`` (``""`` when the list leaves it empty).
        industry: tushare industry, e.g. ``"白酒"`` (``""`` when unknown).
        list_date: the listing date, or None when the list does not say.
        st: the name carries an ST prefix (``ST``, ``*ST``, ``S*ST``, ``SST``).
    """

    ts_code: str
    name: str = ""
    industry: str = ""
    list_date: dt.date | None = None
    st: bool = False


def _read_table(path: Path, nrows: int | None = None) -> pd.DataFrame:
    return read_csv_file(path, _FIX, dtype=str, keep_default_na=False, nrows=nrows)


def _column(columns: pd.Index, choices: tuple[str, ...]) -> str | None:
    return next((c for c in choices if c in columns), None)


def is_securities_file(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a CSV whose header is a stock list's: a code and a name column and
    no price (open/high/low/close) columns. Only the header is read; an unreadable file is False."""
    path = Path(path)
    if not path.is_file():
        return False
    try:
        columns = _read_table(path, nrows=0).columns
    except DataError:
        return False
    columns = pd.Index([str(c).strip() for c in columns])
    return (
        _column(columns, _CODE_COLUMNS) is not None
        and _column(columns, _NAME_COLUMNS) is not None
        and not _BAR_COLUMNS & set(columns)
    )


def _list_date(text: str, path: Path, code: str) -> dt.date | None:
    text = text.strip()
    if not text:
        return None
    for fmt in ("%Y%m%d", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise DataError(
        f"{path}: list_date {text!r} of {code} is not a date; write it as YYYYMMDD (tushare, e.g. 20010827) "
        "or YYYY-MM-DD, or leave the cell empty"
    )


def read_securities(path: str | os.PathLike[str]) -> dict[str, Security]:
    """The securities of a stock list CSV, keyed by tushare code (``"600519.SH"``).

    Rows whose code names no A-share security are skipped (logged); a code listed twice
    keeps its first row (logged).

    Raises:
        DataError: a missing or unreadable file, no code or name column, or a list_date
            that is not a date; the message names the file and the fix.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"{path}: no such file; {_FIX}, such as the sample data's stocks_tushare_qfq/{SECURITIES_FILE} "
            f"(or set ${SECURITIES_ENV} to one)"
        )
    table = _read_table(path)
    table.columns = [str(c).strip() for c in table.columns]
    code_column = _column(table.columns, _CODE_COLUMNS)
    name_column = _column(table.columns, _NAME_COLUMNS)
    if code_column is None or name_column is None:
        raise DataError(f"{path}: a stock list needs ts_code and name columns, found {', '.join(table.columns)}; "
                        f"{_FIX}")
    industries = table["industry"] if "industry" in table.columns else pd.Series("", index=table.index)
    list_dates = table["list_date"] if "list_date" in table.columns else pd.Series("", index=table.index)
    securities: dict[str, Security] = {}
    unknown: list[str] = []
    repeated: list[str] = []
    for code, name, industry, listed in zip(table[code_column], table[name_column], industries, list_dates,
                                            strict=True):
        try:
            ts_code = symbol_info(code.strip()).ts_code
        except SymbolError:
            unknown.append(code)
            continue
        if ts_code in securities:
            repeated.append(ts_code)
            continue
        name = name.strip()
        securities[ts_code] = Security(ts_code=ts_code, name=name, industry=industry.strip(),
                                       list_date=_list_date(listed, path, ts_code), st=is_st_name(name))
    if unknown:
        log.info("%s: skipped %d row(s) whose code is no A-share security: %s", path, len(unknown),
                 ", ".join(map(repr, unknown[:5])) + (" ..." if len(unknown) > 5 else ""))
    if repeated:
        log.warning("%s: %d code(s) listed more than once, the first row kept: %s", path, len(repeated),
                    ", ".join(repeated[:5]) + (" ..." if len(repeated) > 5 else ""))
    return securities


def find_securities_file(near: str | os.PathLike[str] | None = None) -> Path | None:
    """The stock list to use, or None.

    ``$RNNSTRATEGY_NAMES`` when set; else a ``basic_stock_data.csv`` in the folder ``near``
    (or the folder of the file ``near``) or in one of that folder's sub-folders, the layout of
    the sample data.
    """
    env = os.environ.get(SECURITIES_ENV)
    if env:
        return Path(env).expanduser()
    if near is None:
        return None
    near = Path(near)
    if near.is_file():
        folder = near.resolve().parent
    elif near.is_dir():
        folder = near.resolve()
    else:
        return None
    for candidate in [folder / SECURITIES_FILE, *sorted(folder.glob(f"*/{SECURITIES_FILE}"))]:
        if candidate.is_file():
            return candidate
    return None
