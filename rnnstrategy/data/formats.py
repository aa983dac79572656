"""Source formats of daily bars and their conversion to the canonical frame.

Each :class:`BarFormat` knows how to recognise its columns and how to turn a
raw frame into canonical units (volume in shares, amount in CNY). The same
converters serve CSV files and frames returned live by akshare.

Supported formats:

``tushare_k``
    tushare ``get_k_data``: ``,date,open,close,high,low,volume,code``, ascending,
    volume in lots of 100, no amount.
``tushare_pro``
    tushare ``pro_bar``/``daily``: ``ts_code,trade_date,open,high,low,close,
    pre_close,change,pct_chg,vol,amount``, newest first, ``trade_date`` as
    YYYYMMDD, ``vol`` in lots of 100, ``amount`` in thousand CNY.
``akshare``
    akshare ``stock_zh_a_hist`` / ``index_zh_a_hist`` (Eastmoney):
    ``日期,[股票代码,]开盘,收盘,最高,最低,成交量,成交额,…``, volume in lots of
    100, amount in CNY.

Whatever the format, numbers written with thousands separators (``"75,885.00"``, as spreadsheets
export them) are read as numbers, and dates written as timestamps (``2020-03-13 15:00:00``,
``2020-03-13T00:00:00+08:00``) are read as the trading date they fall on in Shanghai. A file is one
security: a code column that names several is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rnnstrategy.data.frame import BAR_COLUMNS
from rnnstrategy.errors import DataError

__all__ = ["FORMATS", "BarFormat", "detect_format", "parse_dates", "to_canonical"]

LOT = 100  # shares per lot (手)
_TIMEZONE = "Asia/Shanghai"  # the exchanges' clock: a timestamp's trading date is its date there
_STAMP = re.compile(r"^\d{4}-?\d{2}-?\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(?P<zone>Z|[+-]\d{2}:?\d{2})?$")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")


@dataclass(frozen=True)
class BarFormat:
    """How one source spells daily bars.

    Attributes:
        name: short identifier used in messages.
        date_column: the column holding trading dates.
        date_format: strptime format of those dates.
        columns: source column -> canonical column.
        volume_unit: shares per unit of the source volume.
        amount_unit: CNY per unit of the source amount.
        code_column: the column holding the security code, if any.
        required: source columns that identify the format.
    """

    name: str
    date_column: str
    date_format: str
    columns: dict[str, str]
    volume_unit: float
    amount_unit: float
    code_column: str | None
    required: tuple[str, ...]

    def matches(self, columns: pd.Index) -> bool:
        return set(self.required) <= set(columns)


FORMATS: tuple[BarFormat, ...] = (
    BarFormat(
        name="akshare",
        date_column="日期",
        date_format="%Y-%m-%d",
        columns={"开盘": "open", "最高": "high", "最低": "low", "收盘": "close", "成交量": "volume", "成交额": "amount"},
        volume_unit=LOT,
        amount_unit=1.0,
        code_column="股票代码",
        required=("日期", "开盘", "收盘", "最高", "最低", "成交量"),
    ),
    BarFormat(
        name="tushare_pro",
        date_column="trade_date",
        date_format="%Y%m%d",
        columns={"open": "open", "high": "high", "low": "low", "close": "close", "vol": "volume", "amount": "amount"},
        volume_unit=LOT,
        amount_unit=1000.0,
        code_column="ts_code",
        required=("trade_date", "open", "high", "low", "close", "vol"),
    ),
    BarFormat(
        name="tushare_k",
        date_column="date",
        date_format="%Y-%m-%d",
        columns={"open": "open", "high": "high", "low": "low", "close": "close", "volume": "volume"},
        volume_unit=LOT,
        amount_unit=1.0,
        code_column="code",
        required=("date", "open", "close", "high", "low", "volume", "code"),
    ),
)

_HELP = (
    "supported: tushare get_k_data (date,open,close,high,low,volume,code), "
    "tushare pro_bar (ts_code,trade_date,open,high,low,close,...,vol,amount), "
    "akshare (日期,开盘,收盘,最高,最低,成交量,成交额,...)"
)


def detect_format(columns: pd.Index, source: str) -> BarFormat:
    """The format whose identifying columns are all in ``columns``.

    Raises:
        DataError: when no format matches; the message lists the columns seen,
            the nearest format's missing columns and the supported formats.
    """
    for fmt in FORMATS:
        if fmt.matches(columns):
            return fmt
    nearest = max(FORMATS, key=lambda f: len(set(f.required) & set(columns)))
    missing = [c for c in nearest.required if c not in columns]
    if len(missing) < len(nearest.required):
        raise DataError(
            f"{source}: looks like {nearest.name} bars but is missing column(s) {', '.join(missing)}; {_HELP}"
        )
    raise DataError(f"{source}: unknown bar format with columns {', '.join(map(str, columns))}; {_HELP}")


def parse_dates(text: pd.Series, fmt: BarFormat) -> pd.Series:
    """The trading dates of ``text`` (stripped date cells) in ``fmt``'s date format, or written as timestamps
    (naive: their date; with a zone: their date in Shanghai); NaT where unreadable."""
    dates = pd.to_datetime(text, format=fmt.date_format, errors="coerce")
    stamps = dates.isna() & text.str.match(_STAMP)
    if stamps.any():
        zoned = stamps & text.str.extract(_STAMP)["zone"].notna()
        if zoned.any():
            dates[zoned] = (pd.to_datetime(text[zoned], format="ISO8601", utc=True, errors="coerce")
                            .dt.tz_convert(_TIMEZONE).dt.tz_localize(None).dt.normalize())
        naive = stamps & ~zoned
        if naive.any():
            dates[naive] = pd.to_datetime(text[naive], format="ISO8601", errors="coerce").dt.normalize()
        dates = dates.astype("datetime64[us]")  # as dates parsed from text are
    return dates


def _numeric(raw: pd.Series, column: str, dates: pd.Series, source: str) -> pd.Series:
    """``raw`` as float64 (text with thousands separators, ``"75,885.00"``, read as numbers); text that is not a
    number raises naming its date."""
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        return raw.astype("float64")
    text = raw.astype(str).str.strip()
    grouped = text.str.match(_THOUSANDS) & raw.notna()
    if grouped.any():
        raw = raw.mask(grouped, text.str.replace(",", "", regex=False))
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
    if bad.any():
        first = bad.idxmax()
        raise DataError(
            f"{source}: non-numeric {column} {raw[first]!r} on {dates[first]} "
            f"(data row {first + 1}, {int(bad.sum())} such value(s)); fix or remove those cells"
        )
    return values.astype("float64")


def to_canonical(raw: pd.DataFrame, fmt: BarFormat, source: str) -> pd.DataFrame:
    """Convert a frame in ``fmt`` to canonical columns, units and index.

    The result is sorted ascending but not yet validated (see
    :func:`rnnstrategy.data.frame.validate_bars`). ``attrs["code"]`` holds the
    security code found in the data, when the format carries one.
    """
    raw = raw.reset_index(drop=True)
    repeated = raw[fmt.date_column].astype(str).str.strip() == fmt.date_column
    if repeated.any():
        raise DataError(f"{source}: the header appears again at data row {int(repeated.to_numpy().argmax()) + 1} "
                        "(files pasted together?); keep one header row")
    _check_one_security(raw, fmt, source)
    date_text = raw[fmt.date_column].astype(str).str.strip()
    dates = parse_dates(date_text, fmt)
    if dates.isna().any():
        first = int(dates.isna().idxmax())
        raise DataError(
            f"{source}: unreadable date {raw[fmt.date_column][first]!r} in data row {first + 1}; "
            f"{fmt.name} dates look like {pd.Timestamp('2020-04-24').strftime(fmt.date_format)}"
        )
    bars = pd.DataFrame(index=pd.DatetimeIndex(dates.to_numpy(), name="date"))
    for src, dst in fmt.columns.items():
        if src not in raw.columns:
            continue
        values = _numeric(raw[src], src, date_text, source).to_numpy()
        if dst in ("volume", "amount"):
            # Lots and thousands to shares and CNY; rounding drops float noise (107036.13 lots -> 10703613).
            # An absurd value overflows to inf, which validation reports as a bad row.
            with np.errstate(over="ignore", invalid="ignore"):
                values = (values * (fmt.volume_unit if dst == "volume" else fmt.amount_unit)).round(4)
        bars[dst] = values
    bars = bars[[c for c in (*BAR_COLUMNS, "amount") if c in bars.columns]]
    if not bars.index.is_monotonic_increasing:
        # tushare pro files are newest first; a stable sort keeps duplicate dates visible.
        bars = bars.sort_index(kind="stable")
    if fmt.code_column and fmt.code_column in raw.columns and len(raw):
        bars.attrs["code"] = str(raw[fmt.code_column].iloc[0]).strip()
    return bars


def _check_one_security(raw: pd.DataFrame, fmt: BarFormat, source: str) -> None:
    """Refuse a file whose code column names more than one security (two downloads pasted together)."""
    if not fmt.code_column or fmt.code_column not in raw.columns:
        return
    codes = raw[fmt.code_column].dropna().astype(str).str.strip()
    seen = list(dict.fromkeys(code for code in codes if code))
    if len(seen) > 1:
        row = int((codes != seen[0]).to_numpy().argmax())
        raise DataError(
            f"{source}: bars of {len(seen)} securities ({', '.join(seen[:3])}{', ...' if len(seen) > 3 else ''}) in "
            f"its {fmt.code_column} column, the second from data row {codes.index[row] + 1}; give one file per security"
        )
