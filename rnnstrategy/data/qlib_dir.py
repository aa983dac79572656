"""Bars of one security in a qlib data directory, as the canonical frame; a directory as a universe.

A stock's frame holds **raw** prices in ``open high low close`` (the directory's back-adjusted
prices divided by its ``factor``, rounded to the fen: A-share prices are quoted in fen and the
float32 files carry about 1e-7 relative error), ``volume`` in shares as the files hold it, and the
``factor`` column (adjusted = raw × factor; :func:`~rnnstrategy.data.adjust.adjusted_bars` gives
the adjusted view). ``attrs``: ``symbol`` (``600519.SH``), ``adjust`` '' (raw),
``factor_adjust`` 'hfq', ``source`` ``qlib:<directory>:<folder>``, ``format`` 'qlib'. An index
(``sh000300``) has no corporate actions: its points as they are, no ``factor`` column.

A row whose volume is 0 or NaN is a day without trade (a suspension: qlib directories write such
rows, repeating the last close) and is no bar. On a day with trade, a NaN or non-positive price
or factor, a NaN, negative or infinite volume, or a field file that has no row for the day is
damage: ``strict`` raises a one-line :class:`~rnnstrategy.errors.DataError` naming the file and
the dates; ``strict=False`` drops those rows and lists them in ``attrs["dropped"]``. A damaged
file (see :mod:`rnnstrategy.data.qlib_files`) is refused in both modes: the series cannot be read.

A symbol of a directory is written as one source string, ``<directory>::<symbol>``
(:func:`qlib_source`), so universes, manifests and workers pass it around like a CSV path;
:func:`~rnnstrategy.data.loader.load_bars` reads it, or a directory with ``symbol=``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from rnnstrategy.ashare.symbols import symbol_info
from rnnstrategy.data.adjust import FACTOR_ADJUST_ATTR, FACTOR_COLUMN, adjusted_bars
from rnnstrategy.data.frame import PRICE_COLUMNS, BadRows, validate_bars
from rnnstrategy.data.qlib_files import (
    feature_folder,
    is_qlib_dir,
    qlib_name,
    read_calendar,
    read_field,
    symbols_in,
)
from rnnstrategy.errors import DataError, SymbolError

__all__ = ["QLIB_SEPARATOR", "qlib_location", "qlib_source", "qlib_stock_sources", "read_qlib_bars",
           "series_folder", "source_symbol", "validate_qlib_bars"]

log = logging.getLogger(__name__)

QLIB_SEPARATOR = "::"
"""Between a directory and a symbol in a source string: ``../shared/data/qlib_csi300::sh600519``."""

_SHOWN = 5  # dates named in an error message
_PREFIX = "qlib:"


def qlib_source(directory: str | os.PathLike[str], symbol: str) -> str:
    """The source string of ``symbol`` (any usual spelling) in ``directory``: ``<directory>::sh600519``."""
    return f"{os.fspath(directory)}{QLIB_SEPARATOR}{qlib_name(symbol_info(symbol))}"


def source_symbol(source: str) -> str:
    """The symbol a ``<directory>::<symbol>`` source names, in tushare spelling (``600519.SH``) where it
    parses; any other source as it is."""
    if QLIB_SEPARATOR not in source:
        return source
    symbol = source.rsplit(QLIB_SEPARATOR, 1)[1]
    try:
        return symbol_info(symbol).ts_code
    except SymbolError:
        return symbol


def qlib_stock_sources(directory: str | os.PathLike[str]) -> list[str]:
    """One source string per stock of ``directory`` (sorted), leaving out its indexes (``sh000300``,
    ``sh000905``, ``sh000852``: benchmarks, not members).

    Raises:
        DataError: a directory without ``calendars/day.txt`` or ``features/``.
    """
    read_calendar(directory)  # a universe without a calendar is refused before any run starts
    return [qlib_source(directory, name) for name in symbols_in(directory) if not symbol_info(name).is_index]


def qlib_location(source: str, symbol: str | None) -> tuple[str, str] | None:
    """``(directory, symbol)`` when ``source`` and ``symbol`` name a series of a qlib directory
    (``<directory>::<symbol>``, or a directory and ``symbol``); None for anything else.

    Raises:
        DataError: a directory without a symbol, a symbol without a directory, or both spellings at once.
    """
    if QLIB_SEPARATOR in source:
        directory, named = source.rsplit(QLIB_SEPARATOR, 1)
        if symbol is not None:
            raise DataError(f"{source} already names the symbol {named}; drop symbol={symbol!r}")
        if not is_qlib_dir(directory):
            what = "no such directory" if not Path(directory).is_dir() else "not a qlib data directory"
            raise DataError(f"{directory}: {what} (one has calendars/day.txt and features/); check the path "
                            f"before {QLIB_SEPARATOR}{named}")
        return directory, named
    if is_qlib_dir(source):
        if symbol is None:
            raise DataError(f"{source} is a qlib data directory: name one stock in it ({source}{QLIB_SEPARATOR}600519.SH, "
                            "or symbol='600519.SH' in Python), or trade the whole directory as a universe")
        return source, symbol
    if symbol is not None:
        raise DataError(f"symbol={symbol!r} names a series of a qlib data directory, but {source} is none "
                        "(one has calendars/day.txt and features/); give such a directory, or drop symbol=")
    return None


def read_qlib_bars(directory: str | os.PathLike[str], symbol: str) -> pd.DataFrame:
    """Every day with trade of ``symbol`` in ``directory``, as a canonical frame **not yet checked**:
    a damaged value is NaN or non-positive here (:func:`validate_qlib_bars` reports it, naming its file).

    Raises:
        DataError: a missing or damaged calendar, folder or field file, naming it.
    """
    calendar = read_calendar(directory)
    folder, info = feature_folder(directory, symbol)
    fields = (*PRICE_COLUMNS, "volume") if info.is_index else (*PRICE_COLUMNS, "volume", FACTOR_COLUMN)
    files = {field: read_field(folder / f"{field}.day.bin", len(calendar)) for field in fields}
    start = min(file.start for file in files.values())
    stop = max(file.stop for file in files.values())
    values = np.full((len(fields), stop - start), np.nan)  # a row per field; NaN where its file has no row
    for row, file in enumerate(files.values()):
        values[row, file.start - start : file.stop - start] = file.values
    volume = values[fields.index("volume")]
    file = files["volume"]
    in_volume_file = np.zeros(stop - start, dtype=bool)
    in_volume_file[file.start - start : file.stop - start] = True
    no_trade = in_volume_file & ((volume == 0) | np.isnan(volume))
    outside = ~in_volume_file & np.isnan(values[: len(PRICE_COLUMNS)]).all(axis=0)
    traded = ~(no_trade | outside)
    values = values.compress(traded, axis=1)  # C order: a field a row
    if not info.is_index:
        prices = slice(0, len(PRICE_COLUMNS))
        with np.errstate(divide="ignore", invalid="ignore"):
            values[prices] = np.round(values[prices] / values[fields.index(FACTOR_COLUMN)], 2)
    # one block, a field a row (as a frame built column by column holds it), without a copy
    bars = pd.DataFrame(values.T, index=calendar[start + np.flatnonzero(traded)], columns=list(fields), copy=False)
    bars.attrs.update(symbol=info.ts_code, adjust="", source=f"{_PREFIX}{os.fspath(directory)}:{folder.name}",
                      format="qlib", suspended_rows=int(no_trade.sum()))
    if not info.is_index:
        bars.attrs[FACTOR_ADJUST_ATTR] = "hfq"
    return bars


def series_folder(bars: pd.DataFrame) -> Path:
    """The ``features/<symbol>`` folder a frame of :func:`read_qlib_bars` came from (from ``attrs["source"]``)."""
    source = str(bars.attrs.get("source", ""))
    if not source.startswith(_PREFIX):
        raise DataError(f"{source or 'these bars'}: not read from a qlib data directory")
    directory, name = source[len(_PREFIX):].rsplit(":", 1)
    return Path(directory) / "features" / name


def validate_qlib_bars(bars: pd.DataFrame, name: str, *, strict: bool = True, min_rows: int = 1) -> pd.DataFrame:
    """:func:`~rnnstrategy.data.frame.validate_bars` of a frame of :func:`read_qlib_bars`, after the checks of
    its values that name their file (see the module docstring); ``attrs["dropped"]`` lists both.

    The rules of :func:`~rnnstrategy.data.frame.validate_bars` judge the adjusted prices: a move is measured
    against the previous close adjusted for the day's corporate action (the ex-reference price the price
    limits start from), so an ex-date is no fall. A row they refuse is dropped from the raw frame.
    """
    attrs = dict(bars.attrs)
    folder = series_folder(bars)
    bars = pd.DataFrame(bars, copy=False)  # without attrs, which pandas would copy at every step below
    reasons, bad = _damaged_values(bars, folder)
    if reasons and strict:
        detail = "; ".join(f"{path}: {_what(path)} on {_dates(dates)}" for path, dates in reasons.items())
        raise DataError(f"{detail}. The file is damaged: write it again, load a range that avoids these dates "
                        "(--start/--end; start=/end= in Python), or pass --lenient (strict=False) to drop and report them")
    if reasons:
        dropped = BadRows(name, {f"{_what(path)} in {path}": dates for path, dates in reasons.items()})
        log.warning("%s", dropped)
        bars = bars.loc[~bad]
    view = adjusted_bars(bars)  # moves are judged across an ex-date as the price limits are: ex-reference
    view.attrs = {"symbol": attrs.get("symbol")}
    kept = validate_bars(view, name, strict=strict, min_rows=min_rows)
    later = kept.attrs.get("dropped")
    checked = bars if len(kept) == len(bars) else bars.loc[kept.index]
    checked.attrs = {**attrs, **({"dropped": later} if later is not None else {})}
    if reasons:
        more = later.reasons if isinstance(later, BadRows) else {}
        checked.attrs["dropped"] = BadRows(name, {**dropped.reasons, **more})
    return checked


def _damaged_values(bars: pd.DataFrame, folder: Path) -> tuple[dict[str, list[pd.Timestamp]], np.ndarray]:
    """``({field file: dates of its damaged values}, damaged rows)``; a row counts once, for the first file."""
    reasons: dict[str, list[pd.Timestamp]] = {}
    bad = np.zeros(len(bars), dtype=bool)
    for column in (FACTOR_COLUMN, *PRICE_COLUMNS, "volume"):
        if column not in bars.columns:
            continue
        values = bars[column].to_numpy(dtype="float64")
        with np.errstate(invalid="ignore"):
            out_of_bounds = values < 0 if column == "volume" else ~(values > 0)
            broken = (np.isnan(values) | np.isinf(values) | out_of_bounds) & ~bad
        if broken.any():
            reasons[str(folder / f"{column}.day.bin")] = list(bars.index[broken])
            bad |= broken
    return reasons, bad


def _what(path: str) -> str:
    if path.endswith("volume.day.bin"):
        return "NaN, negative or infinite volume (or no row)"
    return f"NaN, infinite or non-positive {Path(path).name.split('.')[0]} (or no row)"


def _dates(dates: list[pd.Timestamp]) -> str:
    shown = ", ".join(f"{d:%Y-%m-%d}" for d in dates[:_SHOWN])
    return shown + (f" and {len(dates) - _SHOWN} more" if len(dates) > _SHOWN else "")
