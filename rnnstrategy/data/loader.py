"""``load_bars``: the one entry point from a CSV file or a symbol to canonical bars."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pandas as pd

from rnnstrategy.ashare.symbols import SymbolInfo, symbol_info
from rnnstrategy.data.akshare_source import AkshareSource
from rnnstrategy.data.formats import detect_format, to_canonical
from rnnstrategy.data.frame import ADJUSTS, validate_bars
from rnnstrategy.errors import DataError, SymbolError

__all__ = ["load_bars", "read_bars_csv"]

# Read code and date columns as text so leading zeros and YYYYMMDD survive.
_TEXT_COLUMNS = {"code": str, "ts_code": str, "股票代码": str, "trade_date": str, "date": str, "日期": str}
_ENCODINGS = ("utf-8-sig", "gb18030")  # akshare CSVs saved from Excel on Windows are often GBK

DateLike = str | dt.date | pd.Timestamp | None


def _read_csv(path: Path) -> pd.DataFrame:
    for encoding in _ENCODINGS:
        try:
            return pd.read_csv(path, dtype=_TEXT_COLUMNS, encoding=encoding)
        except UnicodeDecodeError:
            continue
        except pd.errors.EmptyDataError:
            raise DataError(f"{path}: the file is empty; expected a header row and daily bars") from None
        except pd.errors.ParserError as exc:
            raise DataError(f"{path}: not a readable CSV file ({exc})") from None
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
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file; give the path of a CSV of daily bars or a 6-digit symbol")
    raw = _read_csv(path)
    if raw.empty:
        raise DataError(f"{path}: no bars (the file has a header but no rows)")
    fmt = detect_format(raw.columns, str(path))
    bars = to_canonical(raw, fmt, str(path))
    info = _symbol_of(path, bars.attrs.pop("code", None))
    bars.attrs["symbol"] = info.ts_code if info else path.stem
    bars.attrs["adjust"] = "" if info is not None and info.is_index else adjust
    bars.attrs["source"] = str(path)
    bars.attrs["format"] = fmt.name
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
    strict: bool = True,
    min_rows: int = 1,
    akshare: AkshareSource | None = None,
) -> pd.DataFrame:
    """Canonical daily bars from a CSV file or an A-share symbol.

    Args:
        source: a CSV path (tushare ``get_k_data``, tushare ``pro_bar`` or
            akshare columns; detected from the header), or a code such as
            ``"600519"``, ``"300750.SZ"`` or ``"sh000300"`` (fetched with akshare
            through the disk cache).
        start, end: inclusive date bounds; None for the whole history.
        adjust: price adjustment: '' raw, 'qfq' forward, 'hfq' backward. For a
            symbol it is what is downloaded; for a CSV it records what the file
            holds. Indexes are always ''.
        strict: raise on bad rows (default) or, with False, drop them, log a
            warning and list them in ``attrs["dropped"]``.
        min_rows: raise when fewer bars remain in the range.
        akshare: the download source to use for symbols (default: akshare with
            the default cache, see :mod:`rnnstrategy.data.cache`).

    Returns:
        The canonical bar frame (see :mod:`rnnstrategy.data.frame`), with
        ``attrs`` ``symbol`` (e.g. ``"600519.SH"``) and ``adjust``.

    Raises:
        DataError: bad input, naming the file or symbol, the date and the fix.
        FetchError: a download failed and the cache does not hold the range.
    """
    if adjust not in ADJUSTS:
        raise DataError(f"adjust={adjust!r} is not one of '', 'qfq', 'hfq'")
    start_date, end_date = _as_date(start, "start"), _as_date(end, "end")
    if start_date and end_date and start_date > end_date:
        raise DataError(f"start={start_date} is after end={end_date}")
    text = os.fspath(source)
    if Path(text).is_file() or _looks_like_path(text):
        bars = read_bars_csv(text, adjust)
        name = text
    else:
        try:
            info = symbol_info(text)
        except SymbolError as exc:
            raise DataError(f"{text!r} is neither an existing CSV file nor an A-share symbol ({exc})") from None
        source_ = akshare if akshare is not None else AkshareSource()
        bars = source_.bars(info, start_date, end_date, adjust)
        bars.attrs.update(symbol=info.ts_code, adjust="" if info.is_index else adjust, source=f"akshare:{info.ts_code}")
        name = info.ts_code
    attrs = dict(bars.attrs)
    bars = bars.loc[pd.Timestamp(start_date) if start_date else None : pd.Timestamp(end_date) if end_date else None]
    if bars.empty:
        raise DataError(f"{name}: no bars between {start_date or 'the start'} and {end_date or 'the end'}")
    bars = validate_bars(bars, name, strict=strict, min_rows=min_rows)
    bars.attrs.update({k: v for k, v in attrs.items() if k not in bars.attrs})
    return bars
