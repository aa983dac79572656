"""The files of a qlib data directory (the layout ``qlib.init(provider_uri=...)`` reads).

::

    calendars/day.txt                  one trading day a line, YYYY-MM-DD
    instruments/<name>.txt             SYMBOL<TAB>first day<TAB>last day (a symbol may have several lines)
    features/<symbol>/<field>.day.bin  little-endian float32: the first value is the position in
                                       calendars/day.txt of the first row, then one value per trading
                                       day from there, without gaps

``<symbol>`` is qlib's spelling in lower case (``sh600519``; upper case is read too). A field file is
read in one call into a read-only float32 array without conversion (a series' file is a few KB:
mapping it into memory costs more than reading it). Every damaged file is a one-line
:class:`~rnnstrategy.errors.DataError` naming it. :mod:`rnnstrategy.data.qlib_dir` builds bar frames
from these files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from rnnstrategy.ashare.symbols import SymbolInfo, symbol_info
from rnnstrategy.errors import DataError, SymbolError

__all__ = ["FieldFile", "calendar_path", "feature_folder", "is_qlib_dir", "qlib_name", "read_calendar",
           "read_field", "read_instruments", "symbols_in"]

_VALUE = np.dtype("<f4")


def calendar_path(directory: str | os.PathLike[str]) -> Path:
    """``calendars/day.txt`` of ``directory``."""
    return Path(directory) / "calendars" / "day.txt"


def is_qlib_dir(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a qlib data directory: a folder with ``calendars/day.txt``, or with a
    ``features/`` folder and no ``*.csv`` files (so a damaged one is read, and refused naming what
    it lacks, while a folder of CSVs stays one)."""
    folder = Path(path)
    if not folder.is_dir():
        return False
    if calendar_path(folder).is_file():
        return True
    return (folder / "features").is_dir() and not any(folder.glob("*.csv"))


def read_calendar(directory: str | os.PathLike[str]) -> pd.DatetimeIndex:
    """The trading days of ``calendars/day.txt`` (read once per version of the file).

    Raises:
        DataError: a missing, unreadable, unparsable or unsorted calendar, naming the file.
    """
    path = calendar_path(directory)
    try:
        stat = path.stat()
    except OSError:
        raise DataError(f"{path}: no such file; a qlib data directory needs its trading calendar there "
                        "(one YYYY-MM-DD a line)") from None
    return _calendar(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _calendar(path: str, mtime_ns: int, size: int) -> pd.DatetimeIndex:
    try:
        lines = Path(path).read_text(encoding="utf-8").split()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot be read ({exc}); check the file and its permissions") from None
    days = pd.to_datetime(pd.Series(lines, dtype=object), format="%Y-%m-%d", errors="coerce")
    if not lines or days.isna().any():
        bad = "the file is empty" if not lines else f"line {int(days.isna().to_numpy().argmax()) + 1} is no date"
        raise DataError(f"{path}: {bad}; write one trading day a line as YYYY-MM-DD")
    calendar = pd.DatetimeIndex(days, name="date")
    if not calendar.is_monotonic_increasing or not calendar.is_unique:
        raise DataError(f"{path}: the days are not ascending and unique; sort the calendar and keep each day once")
    return calendar


def qlib_name(info: SymbolInfo) -> str:
    """qlib's folder name of a security: ``sh600519``, ``sz000001``, ``sh000300``."""
    return f"{info.exchange.value.lower()}{info.code}"


def feature_folder(directory: str | os.PathLike[str], symbol: str) -> tuple[Path, SymbolInfo]:
    """The ``features/<symbol>`` folder of ``symbol`` (any usual spelling: ``600519``, ``600519.SH``,
    ``sh600519``, ``SH600519``) and the security it holds.

    Raises:
        DataError: an unknown spelling, or no folder for it in ``directory``.
    """
    try:
        info = symbol_info(symbol)
    except SymbolError as exc:
        raise DataError(f"symbol {symbol!r} in {directory}: {exc}") from None
    name = qlib_name(info)
    features = Path(directory) / "features"
    for candidate in (name, name.upper()):
        if (features / candidate).is_dir():
            return features / candidate, info
    hint = " (an index listed in Shanghai needs its exchange: sh000300)" if symbol.isdigit() else ""
    raise DataError(f"{features / name}: no such folder: {directory} holds no bars of {info.ts_code}{hint}; "
                    f"give a symbol that has a folder under {features}")


def symbols_in(directory: str | os.PathLike[str]) -> list[str]:
    """The folder names under ``features/`` that name a security, sorted (qlib's spelling, lower case)."""
    features = Path(directory) / "features"
    if not features.is_dir():
        raise DataError(f"{features}: no such folder; a qlib data directory keeps its bars there")
    names = []
    for folder in features.iterdir():
        try:
            symbol_info(folder.name)
        except SymbolError:
            continue
        if folder.is_dir():
            names.append(folder.name.lower())
    return sorted(names)


@dataclass(frozen=True)
class FieldFile:
    """One ``<field>.day.bin``: where its rows start on the calendar and its values."""

    path: Path
    start: int
    values: np.ndarray  # float32, read-only, the file's values after its first (the start index)

    @property
    def stop(self) -> int:
        """The calendar position after its last row."""
        return self.start + len(self.values)


def read_field(path: Path, calendar_length: int) -> FieldFile:
    """Read ``path`` and check it against a calendar of ``calendar_length`` days.

    Raises:
        DataError: a missing file, a length that is no whole number of float32 values, no start
            index, a start index that is no position in the calendar, or rows running past it.
    """
    try:
        with open(path, "rb") as file:
            content = file.read()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file; every series needs its open, high, low, close, volume "
                        "(and, for a stock, factor) files") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc}); check the file and its permissions") from None
    size = len(content)
    if size % _VALUE.itemsize or size == 0:
        what = "is empty" if size == 0 else f"holds {size} bytes, not a whole number of float32 values"
        raise DataError(f"{path}: {what}; the file is damaged (truncated?): write it again from its source")
    values = np.frombuffer(content, dtype=_VALUE)
    first = float(values[0])
    if not (np.isfinite(first) and first == int(first) and 0 <= first < calendar_length):
        raise DataError(f"{path}: the start index {first:g} is no position in the calendar of {calendar_length} "
                        "days; the file is damaged or belongs to another calendar")
    start = int(first)
    if start + len(values) - 1 > calendar_length:
        raise DataError(f"{path}: {len(values) - 1} rows from calendar position {start} run past the calendar's "
                        f"{calendar_length} days; extend calendars/day.txt or write the file again")
    return FieldFile(path, start, values[1:])


def read_instruments(directory: str | os.PathLike[str], name: str = "all") -> pd.DataFrame:
    """``instruments/<name>.txt`` as spells: columns ``symbol`` (tushare spelling, ``600519.SH``),
    ``first``, ``last`` (both inclusive), one row a line, in file order.

    Raises:
        DataError: a missing file or a line that is not ``SYMBOL<TAB>YYYY-MM-DD<TAB>YYYY-MM-DD``.
    """
    path = Path(directory) / "instruments" / f"{name}.txt"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot be read ({exc}); give the name of a file under "
                        f"{Path(directory) / 'instruments'}") from None
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            if len(parts) != 3:
                raise ValueError(line)
            rows.append((symbol_info(parts[0]).ts_code, pd.Timestamp(parts[1]), pd.Timestamp(parts[2])))
        except (ValueError, SymbolError):
            raise DataError(f"{path}: line {number} ({line.strip()!r}) is not SYMBOL<TAB>first day<TAB>last day"
                            ) from None
    return pd.DataFrame(rows, columns=["symbol", "first", "last"])
