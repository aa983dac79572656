"""``load_bars``: the one entry point from a CSV file or a symbol to canonical bars.

A load reads a range of the source: the rows from ``start`` to ``end``, plus, with
``history=N``, the N rows just before ``start`` (the bars a walk-forward run trains on before
its first forecast). Rows are counted on the source's own dates, before validation; rows
outside the range are neither validated nor kept (nor their cells parsed), so a bad row
decades before the range neither fails a run nor disappears from it unreported. Inside the
range ``strict`` applies as usual. ``attrs["read_from"]`` records the first date read and
``attrs["rows_not_read"]`` how many older rows were left out.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd

from rnnstrategy.ashare.symbols import SymbolInfo, symbol_info
from rnnstrategy.data.akshare_source import AkshareSource
from rnnstrategy.data.csv_text import csv_options
from rnnstrategy.data.formats import BarFormat, detect_format, parse_dates, to_canonical
from rnnstrategy.data.frame import ADJUSTS, validate_bars
from rnnstrategy.data.qlib_dir import (
    qlib_location,
    read_qlib_bars,
    series_folder,
    validate_qlib_bars,
)
from rnnstrategy.errors import DataError, SymbolError

__all__ = ["load_bars", "read_bars_csv", "read_csv_file"]

log = logging.getLogger(__name__)

# Read code and date columns as text so leading zeros and YYYYMMDD survive.
_TEXT_COLUMNS = {"code": str, "ts_code": str, "股票代码": str, "trade_date": str, "date": str, "日期": str}
_ENCODINGS = ("utf-8-sig", "gb18030")  # akshare CSVs saved from Excel on Windows are often GBK

DateLike = str | dt.date | pd.Timestamp | None


def _check_readable(path: Path) -> None:
    """Refuse what is not a regular, readable file, in one line naming ``path``."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise DataError(f"{path}: no such file; give the path of a CSV of daily bars or a 6-digit symbol") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc}); check the path and its permissions") from None
    if stat.S_ISDIR(mode):
        raise DataError(f"{path}: is a directory; give a CSV file (a folder of CSVs is a universe: see --help)")
    if not stat.S_ISREG(mode):
        raise DataError(f"{path}: not a regular file (a device, pipe or special file); give a CSV file of daily bars")
    if not os.access(path, os.R_OK):
        raise DataError(f"{path}: permission denied; make the file readable (chmod u+r) or copy it somewhere readable")


def read_csv_file(path: Path, expected: str, **read_csv: object) -> pd.DataFrame:
    """``pd.read_csv`` of ``path`` in UTF-8 or, failing that, GB18030; every failure is one
    :class:`DataError` naming the file, ending with ``expected`` (what the file should be); the file's
    first bytes choose the separator and any marked encoding (:func:`~rnnstrategy.data.csv_text.csv_options`)."""
    options = csv_options(Path(path), expected)
    for encoding in (options.pop("encoding"),) if "encoding" in options else _ENCODINGS:
        try:
            return pd.read_csv(path, encoding=encoding, **{**options, **read_csv})
        except UnicodeDecodeError:
            continue
        except OSError as exc:
            raise DataError(f"{path}: cannot be read ({exc.strerror or exc}); check the path and its "
                            "permissions") from None
        except pd.errors.EmptyDataError:
            raise DataError(f"{path}: the file is empty; {expected}") from None
        except pd.errors.ParserError as exc:
            raise DataError(f"{path}: not a readable CSV file ({exc}); {expected}") from None
    raise DataError(f"{path}: unknown text encoding; save the file as UTF-8")


def _symbol_of(path: Path, code: str | None) -> SymbolInfo | None:
    """Security of a CSV: from its code column, else from its file name."""
    for candidate in (code, path.stem):
        if not candidate:
            continue
        try:
            return symbol_info(candidate.zfill(6) if candidate.isdigit() else candidate)
        except SymbolError:
            continue
    return None


def read_bars_csv(path: str | os.PathLike[str], adjust: str = "qfq") -> pd.DataFrame:
    """Read a CSV in any supported format into a canonical (unvalidated) frame.

    ``adjust`` records what the file holds ('' raw, 'qfq', 'hfq'); a file
    cannot say, so state it. Index files are always recorded as raw ('').
    """
    return _read_bars_csv(Path(path), adjust)


def _read_bars_csv(
    path: Path, adjust: str, start: pd.Timestamp | None = None, end: pd.Timestamp | None = None,
    history: int | None = None,
) -> pd.DataFrame:
    """:func:`read_bars_csv` of the range :func:`_first_read` gives (all rows by default).

    The value cells of rows outside the range are blanked before conversion, so they are
    never parsed, while errors still number data rows as in the file. A row whose date
    cannot be read cannot be placed outside the range; it still raises.
    """
    _check_readable(path)
    raw = read_csv_file(path, "expected a header row and daily bars", dtype=_TEXT_COLUMNS)
    if raw.empty:
        raise DataError(f"{path}: no bars (the file has a header but no rows)")
    fmt = detect_format(raw.columns, str(path))
    dates = _raw_dates(raw, fmt)
    first, not_read = _first_read(dates, start, history)
    outside = pd.Series(False, index=raw.index)
    if first is not None:
        outside |= dates < first
    if end is not None:
        outside |= dates > end
    if outside.any():
        raw = raw.copy()
        for column in (c for c in fmt.columns if c in raw.columns):
            values = raw[column]
            numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
            raw[column] = values.astype("float64" if numeric else object).mask(outside)
    bars = to_canonical(raw, fmt, str(path))
    info = _symbol_of(path, bars.attrs.pop("code", None))
    bars.attrs["symbol"] = info.ts_code if info else path.stem
    bars.attrs["adjust"] = "" if info is not None and info.is_index else adjust
    bars.attrs["source"] = str(path)
    bars.attrs["format"] = fmt.name
    return _in_range(bars, first, end, not_read)


def _raw_dates(raw: pd.DataFrame, fmt: BarFormat) -> pd.Series:
    """The dates of a raw frame's rows; NaT where unreadable (conversion reports those)."""
    return parse_dates(raw[fmt.date_column].astype(str).str.strip(), fmt)


def _first_read(dates: pd.Series | pd.DatetimeIndex, start: pd.Timestamp | None,
                history: int | None) -> tuple[pd.Timestamp | None, int]:
    """The first date of the range to read and how many rows are older than it.

    ``start`` None: everything (None, 0). ``history`` None: from ``start``. Else from the
    ``history``-th date before ``start``, counting rows as the source holds them (before
    validation), or everything when fewer rows come before ``start``.
    """
    if start is None:
        return None, 0
    known = pd.DatetimeIndex(dates).dropna()
    before = np.sort(known[known < start].to_numpy())
    if history is None or history == 0:
        first = start
    elif len(before) > history:
        first = pd.Timestamp(before[len(before) - history])
    else:
        return None, 0
    return first, int((known < first).sum())


def _in_range(bars: pd.DataFrame, first: pd.Timestamp | None, end: pd.Timestamp | None,
              not_read: int) -> pd.DataFrame:
    """The rows of canonical ``bars`` in ``first..end``, with ``read_from`` and ``rows_not_read`` in attrs."""
    attrs = dict(bars.attrs)
    bars = bars.loc[first:end]
    bars.attrs = {**attrs, "rows_not_read": not_read}
    if len(bars):
        bars.attrs["read_from"] = bars.index[0]
    return bars


def _as_date(value: DateLike, name: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return pd.Timestamp(value).date()
    except (ValueError, TypeError):
        raise DataError(f"{name}={value!r} is not a date; write it like 2020-04-24") from None


def _looks_like_path(source: str) -> bool:
    return source.lower().endswith((".csv", ".txt")) or os.sep in source or "/" in source


def load_bars(
    source: str | os.PathLike[str],
    start: DateLike = None,
    end: DateLike = None,
    adjust: str = "qfq",
    *,
    symbol: str | None = None,
    history: int | None = None,
    strict: bool = True,
    min_rows: int = 1,
    akshare: AkshareSource | None = None,
) -> pd.DataFrame:
    """Canonical daily bars from a CSV file, a qlib data directory or an A-share symbol.

    Args:
        source: a CSV path (tushare ``get_k_data``, tushare ``pro_bar`` or
            akshare columns; detected from the header), a qlib data directory with
            ``symbol`` (or one string ``"<directory>::sh600519"``; see
            :mod:`rnnstrategy.data.qlib_dir`), or a code such as
            ``"600519"``, ``"300750.SZ"`` or ``"sh000300"`` (fetched with akshare
            through the disk cache).
        symbol: the security to read from a qlib data directory, in any usual spelling
            (``600519``, ``600519.SH``, ``sh600519``); only with a directory. Its frame holds
            raw prices and the adjustment ``factor`` (adjusted = raw x factor).
        start, end: inclusive date bounds; None for the whole history.
        history: also read the ``history`` rows just before ``start`` (a walk-forward run
            passes :meth:`ForecastConfig.history_needed()
            <rnnstrategy.forecasting.config.ForecastConfig.history_needed>`); rows are
            counted as the source holds them, before validation. Older rows are neither
            validated nor kept (the count is logged and kept in ``attrs["rows_not_read"]``).
            None (default): nothing before ``start``. Ignored without ``start``. For a
            symbol, the whole cached history is fetched, then cut the same way.
        adjust: price adjustment: '' raw, 'qfq' forward, 'hfq' backward. For a
            symbol it is what is downloaded; for a CSV it records what the file
            holds. Indexes are always ''; a qlib directory's bars are always raw
            prices with their factor (``adjust`` does not apply). A stock's raw
            bars ('') carry the ``factor`` column when the download cache holds its
            factors (``rnnstrategy data fetch --universe``).
        strict: raise on bad rows in the range read (default) or, with False, drop
            them, log a warning and list them in ``attrs["dropped"]``.
        min_rows: raise when fewer bars remain in the range.
        akshare: the download source to use for symbols (default: akshare with
            the default cache, see :mod:`rnnstrategy.data.cache`).

    Returns:
        The canonical bar frame (see :mod:`rnnstrategy.data.frame`), with
        ``attrs`` ``symbol`` (e.g. ``"600519.SH"``), ``adjust``, ``read_from`` (the first
        date read) and ``rows_not_read`` (rows of the source before it).

    Raises:
        DataError: bad input, naming the file or symbol, the date and the fix.
        FetchError: a download failed and the cache does not hold the range.
    """
    if adjust not in ADJUSTS:
        raise DataError(f"adjust={adjust!r} is not one of '', 'qfq', 'hfq'")
    if history is not None and (isinstance(history, bool) or not isinstance(history, (int, np.integer))
                                or history < 0):
        raise DataError(f"history={history!r}: give the number of bars to read before start (0 or more), "
                        "or None for none")
    start_date, end_date = _as_date(start, "start"), _as_date(end, "end")
    if start_date and end_date and start_date > end_date:
        raise DataError(f"start={start_date} is after end={end_date}")
    first = pd.Timestamp(start_date) if start_date else None
    last = pd.Timestamp(end_date) if end_date else None
    text = os.fspath(source)
    qlib = qlib_location(text, symbol)
    if qlib is not None:
        bars = read_qlib_bars(*qlib)
        read_from, not_read = _first_read(bars.index, first, history)
        bars = _in_range(bars, read_from, last, not_read)
        name = str(series_folder(bars))
    elif Path(text).is_file() or _looks_like_path(text):
        bars = _read_bars_csv(Path(text), adjust, first, last, history)
        name = text
    else:
        try:
            info = symbol_info(text)
        except SymbolError as exc:
            raise DataError(f"{text!r} is neither an existing CSV file nor an A-share symbol ({exc})") from None
        source_ = akshare if akshare is not None else AkshareSource()
        # history counts bars, not days: the cache when it holds enough before start, else all that
        # akshare has; then cut
        fetched = source_.bars(info, start_date, end_date, adjust, history=history)
        fetched.attrs.update(symbol=info.ts_code, adjust="" if info.is_index else adjust,
                             source=f"akshare:{info.ts_code}")
        read_from, not_read = _first_read(fetched.index, first, history)
        bars = _in_range(fetched, read_from, last, not_read)
        name = info.ts_code
    if bars.empty:
        raise DataError(f"{name}: no bars between {start_date or 'the start'} and {end_date or 'the end'}")
    if history is not None and first is not None and bars.attrs["rows_not_read"]:
        log.info("%s: read %d row(s) from %s (history=%d before start=%s); %d older row(s) not read", name,
                 len(bars), f"{bars.index[0]:%Y-%m-%d}", history, start_date, bars.attrs["rows_not_read"])
    attrs = dict(bars.attrs)
    validate = validate_qlib_bars if qlib is not None else validate_bars
    bars = validate(bars, name, strict=strict, min_rows=min_rows)
    bars.attrs.update({k: v for k, v in attrs.items() if k not in bars.attrs})
    return bars
