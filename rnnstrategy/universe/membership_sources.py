"""Where index membership comes from: a qlib directory, the ``index-constitution`` package, or a
CSV of spells that the user gives.

:func:`load_membership` picks the source, in this order of preference:

1. a qlib data directory's ``instruments/<name>.txt`` (``SYMBOL<TAB>first<TAB>last`` a line, both
   days inclusive, several lines per symbol allowed), when ``directory`` holds one;
2. the ``index-constitution`` package (``csi300``, ``csi500``), whose ``opt-out`` is the first
   day no longer a member, so the last member day is the trading day before it;
3. a file named by the user: a qlib instruments file as above, or a CSV of spells with a header,
   either ``symbol,first,last`` (both days inclusive, as qlib) or ``symbol,opt-in,opt-out`` (as
   index-constitution's ``csi300_history.csv``: ``opt-out`` is the first day out). Other
   columns (``name``) are ignored. An empty ``last``/``opt-out`` means still a member; an empty
   ``first``/``opt-in`` means a member since before the record begins (the file's earliest
   first day; logged).

A last member day derived from an ``opt-out`` is the trading day before it on ``calendar`` (by
default the directory's ``calendars/day.txt``), else the weekday before it: on trading days
both give the same members.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from rnnstrategy.data.qlib_files import read_calendar
from rnnstrategy.errors import DataError
from rnnstrategy.universe.membership import IndexMembership, ts_code

__all__ = ["PACKAGE_INDEXES", "from_index_constitution", "load_membership",
           "read_qlib_instruments", "read_spells_csv"]

log = logging.getLogger(__name__)

PACKAGE_INDEXES = ("csi300", "csi500")
"""The A-share indexes that the ``index-constitution`` package holds."""

_INCLUSIVE = ("symbol", "first", "last")
_OPT = ("symbol", "opt-in", "opt-out")
_SOURCES_HELP = ("give a qlib directory holding instruments/{name}.txt, one of "
                 f"{', '.join(PACKAGE_INDEXES)} (index-constitution), or a CSV of spells with the "
                 "header symbol,first,last (or symbol,opt-in,opt-out)")


def load_membership(name_or_path: str | Path, directory: str | Path | None = None,
                    calendar: Sequence | pd.DatetimeIndex | None = None) -> IndexMembership:
    """An index's membership as it stood, from the first source that has it (see the module).

    Args:
        name_or_path: an index name (``"csi300"``) or a file of spells (qlib ``.txt`` or CSV).
        directory: a qlib data directory whose ``instruments/<name>.txt`` is preferred, and whose
            ``calendars/day.txt`` is the default ``calendar``.
        calendar: trading days, to turn an ``opt-out`` into the last member day before it.

    Raises:
        DataError: no source has ``name_or_path``, or its file is malformed (one line naming the
            file and the fix).
    """
    path = Path(name_or_path)
    days = None if calendar is None else pd.DatetimeIndex(calendar).normalize()
    if directory is not None:
        folder = Path(directory)
        if not folder.is_dir():
            raise DataError(f"{folder}: no such qlib data directory; give the folder holding calendars/ and instruments/")
        instruments = folder / "instruments" / f"{path.name.lower()}.txt"
        if path.suffix == "" and instruments.is_file():
            return read_qlib_instruments(instruments, name=path.name.lower())
        if days is None and (folder / "calendars" / "day.txt").is_file():
            days = read_calendar(folder)
    if path.is_file():
        return _read_spells_file(path, days)
    if str(name_or_path).lower() in PACKAGE_INDEXES:
        return from_index_constitution(str(name_or_path).lower(), days)
    if path.suffix or len(path.parts) > 1:
        raise DataError(f"{path}: no such membership file; give an existing CSV of spells "
                        "(symbol,first,last or symbol,opt-in,opt-out) or a qlib instruments .txt")
    raise DataError(f"{name_or_path!r}: no index membership of that name; "
                    + _SOURCES_HELP.format(name=name_or_path))


def read_qlib_instruments(path: str | Path, name: str | None = None) -> IndexMembership:
    """A qlib ``instruments/<name>.txt``: ``SYMBOL<TAB>first<TAB>last`` a line, both days inclusive."""
    path = Path(path)
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 3:
            raise DataError(f"{path}: line {number} {line.strip()!r} is not SYMBOL<TAB>first<TAB>last; "
                            "write one spell a line, e.g. SH600519<TAB>2010-01-04<TAB>2020-06-12")
        rows.append((number, *fields))
    if not rows:
        raise DataError(f"{path}: no spells; write one SYMBOL<TAB>first<TAB>last a line")
    frame = pd.DataFrame(rows, columns=["line", "symbol", "first", "last"])
    first = _dates(frame, "first", path, empty_ok=False)
    last = _dates(frame, "last", path, empty_ok=False)
    return _membership(frame, first, last, path, name or path.stem)


def read_spells_csv(path: str | Path, calendar: Sequence | pd.DatetimeIndex | None = None) -> IndexMembership:
    """A CSV of spells with the header ``symbol,first,last`` (inclusive) or ``symbol,opt-in,opt-out``
    (``opt-out`` the first day out); see the module for empty cells and ``calendar``."""
    path = Path(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as error:
        raise DataError(f"{path}: unreadable CSV ({str(error).splitlines()[0]}); "
                        "write a header symbol,first,last and one spell a row") from None
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    form = next((f for f in (_INCLUSIVE, _OPT) if set(f) <= set(raw.columns)), None)
    if form is None:
        raise DataError(f"{path}: columns {', '.join(raw.columns)} are not symbol,first,last "
                        "(days inclusive) nor symbol,opt-in,opt-out (opt-out the first day out); rename them")
    if raw.empty:
        raise DataError(f"{path}: no spells below the header; add one row per spell")
    frame = pd.DataFrame({"line": np.arange(len(raw)) + 2, "symbol": raw[form[0]].str.strip(),
                          "first": raw[form[1]].str.strip(), "last": raw[form[2]].str.strip()})
    first = _fill_unknown_first(frame, _dates(frame, "first", path, empty_ok=True, header=form[1]), path)
    last = _dates(frame, "last", path, empty_ok=True, header=form[2])
    if form is _OPT:
        last = _day_before(last, calendar)
    return _membership(frame, first, last, path, path.stem, derived_last=form is _OPT)


def from_index_constitution(name: str, calendar: Sequence | pd.DatetimeIndex | None = None) -> IndexMembership:
    """``index_constitution.history(name)`` (``csi300`` or ``csi500``) as spells; each ``opt-out``
    becomes the trading day before it on ``calendar``."""
    if name not in PACKAGE_INDEXES:
        raise DataError(f"{name!r}: index-constitution holds no A-share index of that name; "
                        f"use one of {', '.join(PACKAGE_INDEXES)}")
    try:
        import index_constitution
    except ImportError:
        raise DataError(f"{name}: membership needs the index-constitution package; "
                        "pip install index-constitution") from None
    history = index_constitution.history(name)
    source = f"index_constitution.history({name!r})"
    frame = pd.DataFrame({"line": np.arange(len(history)) + 1, "symbol": history["symbol"].astype(str)})
    first = pd.DatetimeIndex(history["opt-in"]).normalize()
    first = _fill_unknown_first(frame, first, source)
    last = _day_before(pd.DatetimeIndex(history["opt-out"]).normalize(), calendar)
    return _membership(frame, first, last, source, name, derived_last=True)


def _read_spells_file(path: Path, calendar: pd.DatetimeIndex | None) -> IndexMembership:
    with path.open(encoding="utf-8", errors="replace") as handle:
        head = next((line for line in handle if line.strip()), "")
    if "\t" in head or "," not in head:
        return read_qlib_instruments(path)
    return read_spells_csv(path, calendar)


def _dates(frame: pd.DataFrame, column: str, path: str | Path, empty_ok: bool,
           header: str | None = None) -> pd.DatetimeIndex:
    text = frame[column]
    days = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    bad = days.isna() & ~(text.eq("") & empty_ok)
    if bad.any():
        row = frame.loc[bad.idxmax()]
        raise DataError(f"{path}: unreadable {header or column} day {row[column]!r} of {row['symbol']} "
                        f"on line {row['line']}; "
                        "write days as YYYY-MM-DD")
    return pd.DatetimeIndex(days)


def _fill_unknown_first(frame: pd.DataFrame, first: pd.DatetimeIndex, source: str | Path) -> pd.DatetimeIndex:
    """An empty first day: a member since before the record begins (its earliest first day)."""
    unknown = first.isna()
    if not unknown.any():
        return first
    if unknown.all():
        raise DataError(f"{source}: no spell has a first day; fill in the first member days")
    log.warning("%s: %s without a first day, taken as members since %s", source,
                ", ".join(frame["symbol"][unknown]), first.min().date())
    return first.where(~unknown, first.min())


def _day_before(first_out: pd.DatetimeIndex, calendar: Sequence | pd.DatetimeIndex | None) -> pd.DatetimeIndex:
    """The last member day before each first day out (NaT stays NaT: still a member)."""
    weekday_before = first_out - pd.offsets.BDay(1)
    if calendar is None or len(calendar) == 0:
        return weekday_before
    days = pd.DatetimeIndex(calendar).normalize().values.astype("datetime64[ns]")
    wanted = first_out.values.astype("datetime64[ns]")
    position = np.searchsorted(days, wanted, side="left") - 1
    inside = (position >= 0) & (wanted <= days[-1]) & ~np.isnat(wanted)
    trading_before = days[np.clip(position, 0, len(days) - 1)]
    return pd.DatetimeIndex(np.where(inside, trading_before, weekday_before.values.astype("datetime64[ns]")))


def _membership(frame: pd.DataFrame, first: pd.DatetimeIndex, last: pd.DatetimeIndex,
                source: str | Path, name: str, derived_last: bool = False) -> IndexMembership:
    """Spells from checked columns; ``derived_last``: the last days come from opt-outs, where an
    opt-out right after an opt-in leaves a spell of no trading day (left out, logged)."""
    codes = [ts_code(symbol) for symbol in frame["symbol"]]
    for code, symbol, line in zip(codes, frame["symbol"], frame["line"]):
        if code is None:
            raise DataError(f"{source}: {symbol!r} on line {line} is not an A-share code; "
                            "write it as SH600519 or 600519.SH")
    empty = np.asarray(~last.isna() & (last < first))
    if empty.any() and not derived_last:
        at = int(np.flatnonzero(empty)[0])
        raise DataError(f"{source}: {frame['symbol'].iloc[at]} on line {frame['line'].iloc[at]} ends "
                        f"{last[at].date()} before it starts {first[at].date()}; fix the two days")
    if empty.any():
        log.warning("%s: %d spell(s) of no trading day left out", source, int(empty.sum()))
    spells = [(code, f, None if pd.isna(l) else l)
              for code, f, l, drop in zip(codes, first, last, empty) if not drop]
    return IndexMembership(spells, name=name, source=str(source))
