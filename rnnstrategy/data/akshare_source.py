"""Daily bars from akshare (Eastmoney), with retries, backoff and a disk cache.

This is the only module that imports akshare, and it does so lazily, so the
rest of the package works without network libraries. Stocks come from
``stock_zh_a_hist`` (adjust '', 'qfq', 'hfq'), indexes from
``index_zh_a_hist``, a stock's back-adjustment factors from
``stock_zh_a_daily(adjust="hfq-factor")`` (see :mod:`rnnstrategy.data.akshare_factors`).

Raw bars (adjust '') of a stock whose factors are in the cache carry the ``factor`` column
(adjusted = raw × factor), as a qlib data directory's bars do; ``rnnstrategy data fetch
--universe`` fills the cache with both (:mod:`rnnstrategy.data.universe_fetch`).

A request whose range the cache already answers needs no network. Any other
request downloads the union of the cached and the requested range in one
call, because a forward-adjusted (qfq) series is rescaled whenever a new
dividend goes ex: splicing two downloads would mix adjustment bases.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from typing import Any, Protocol

import pandas as pd
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from rnnstrategy.ashare.symbols import SymbolInfo
from rnnstrategy.data.akshare_factors import factor_events, with_factor
from rnnstrategy.data.cache import BarCache
from rnnstrategy.data.formats import FORMATS, to_canonical
from rnnstrategy.errors import DataError, FetchError

__all__ = ["AkshareApi", "AkshareSource", "NoBarsError"]

log = logging.getLogger(__name__)

_AKSHARE_FORMAT = next(f for f in FORMATS if f.name == "akshare")
EARLIEST = dt.date(1990, 12, 19)  # first trading day of the Shanghai exchange
FACTOR_ADJUST = "hfq-factor"
"""The ``adjust`` of ``stock_zh_a_daily`` that answers the back-adjustment factors (and of their cache entry)."""


class NoBarsError(DataError):
    """akshare answered a request for bars with none (a wrong code, or no trading in the range)."""


class AkshareApi(Protocol):
    """The akshare functions used; tests substitute an object with these."""

    def stock_zh_a_hist(self, symbol: str, period: str, start_date: str, end_date: str, adjust: str) -> pd.DataFrame: ...

    def index_zh_a_hist(self, symbol: str, period: str, start_date: str, end_date: str) -> pd.DataFrame: ...

    def stock_zh_a_daily(self, symbol: str, adjust: str) -> pd.DataFrame: ...


def _import_akshare() -> AkshareApi:
    try:
        import akshare
    except ImportError as exc:  # pragma: no cover - akshare is a declared dependency
        raise FetchError("akshare is not installed: pip install akshare, or load bars from a CSV file") from exc
    return akshare


class AkshareSource:
    """Fetches canonical bars for one symbol at a time, through a cache.

    Args:
        cache: where downloads are kept (default: :class:`BarCache` in the user cache dir).
        retries: attempts per download before giving up.
        backoff: seconds before the first retry; doubles each time (capped at 30 s).
        api: the akshare module or a stand-in with the same two functions.
        today: the date "now" is taken to be (for open-ended requests).
    """

    def __init__(
        self,
        cache: BarCache | None = None,
        retries: int = 3,
        backoff: float = 1.0,
        api: AkshareApi | None = None,
        today: dt.date | None = None,
    ) -> None:
        self.cache = cache if cache is not None else BarCache()
        self.retries = retries
        self.backoff = backoff
        self._api = api
        self.today = today

    @property
    def api(self) -> AkshareApi:
        if self._api is None:
            self._api = _import_akshare()
        return self._api

    @staticmethod
    def cache_key(info: SymbolInfo, adjust: str) -> str:
        kind = "index" if info.is_index else "stock"
        return f"{kind}_{info.ts_code}_{adjust or 'raw'}"

    @staticmethod
    def factor_key(info: SymbolInfo) -> str:
        """The cache key of a stock's factor table, ``stock_600519.SH_hfq-factor``."""
        return f"stock_{info.ts_code}_{FACTOR_ADJUST}"

    def _wanted(self, start: dt.date | None, end: dt.date | None) -> tuple[dt.date, dt.date]:
        today = self.today or dt.date.today()
        return start or EARLIEST, min(end or today, today)

    def bars(self, info: SymbolInfo, start: dt.date | None, end: dt.date | None, adjust: str,
             history: int | None = None) -> pd.DataFrame:
        """Canonical (not yet validated) bars of ``info`` in ``start..end``; raw bars (``adjust``
        '') of a stock carry the ``factor`` column when the cache holds its factors.

        ``history``: also the ``history`` bars before ``start``. The cached bars answer when they
        hold that many before ``start`` (the rows a load keeps are then those of the whole
        history); else the whole history is fetched, as with ``start`` None.

        Raises:
            FetchError: when the download fails and the cache lacks the range.
            NoBarsError: when akshare answers with no bars at all.
            DataError: when the factors do not reach back to the first bar.
        """
        adjust = "" if info.is_index else adjust
        if history is not None and not self._holds_history(info, start, end, adjust, history):
            start = None
        bars = self._bars(info, start, end, adjust)
        if adjust == "" and not info.is_index and self.cache.entry(self.factor_key(info)) is not None:
            bars = self._with_factors(info, bars)
        return bars

    def raw_bars_with_factor(self, info: SymbolInfo, start: dt.date | None, end: dt.date | None) -> pd.DataFrame:
        """Raw bars of stock ``info`` in ``start..end`` with its ``factor`` column, each downloaded
        (and cached) unless the cache holds it; see :meth:`bars` and :meth:`factors`."""
        return self._with_factors(info, self._bars(info, start, end, ""))

    def holds_bars(self, info: SymbolInfo, start: dt.date | None, end: dt.date | None, adjust: str) -> bool:
        """Whether the cache holds the bars of ``info`` in ``start..end`` (as :meth:`bars` asks for them)."""
        entry = self.cache.entry(self.cache_key(info, "" if info.is_index else adjust))
        return entry is not None and entry.covers(*self._wanted(start, end))

    def _holds_history(self, info: SymbolInfo, start: dt.date | None, end: dt.date | None, adjust: str,
                       history: int) -> bool:
        """Whether the cache holds the bars of ``start..end`` and ``history`` bars before ``start``."""
        cached = self.cache.read(self.cache_key(info, adjust)) if start is not None else None
        if cached is None or not cached[1].covers(*self._wanted(start, end)):
            return False
        return int((cached[0].index < pd.Timestamp(start)).sum()) >= history

    def holds_raw_bars_with_factor(self, info: SymbolInfo, start: dt.date | None, end: dt.date | None) -> bool:
        """Whether the cache answers :meth:`raw_bars_with_factor` without a download."""
        factors = self.cache.entry(self.factor_key(info))
        return (self.holds_bars(info, start, end, "") and factors is not None
                and factors.end >= self._wanted(start, end)[1])

    def factors(self, info: SymbolInfo, end: dt.date | None = None) -> pd.DataFrame:
        """The back-adjustment factors of stock ``info`` as known on ``end`` (default today): a frame
        indexed by ex-date with one column ``factor`` (see :func:`~rnnstrategy.data.akshare_factors.factor_events`).
        From the cache when it was downloaded on or after ``end``; else the whole table is downloaded
        and cached.

        Raises:
            FetchError: the download fails (the cache lacks the table, or holds an older one).
            DataError: akshare answers with no factors, or with rows that cannot be read.
        """
        today = self.today or dt.date.today()
        _, want_end = self._wanted(None, end)
        key = self.factor_key(info)
        cached = self.cache.read(key)
        if cached is not None and cached[1].end >= want_end:
            return cached[0]
        symbol = f"{info.exchange.value.lower()}{info.code}"
        described = f"akshare stock_zh_a_daily({symbol}, {FACTOR_ADJUST!r})"
        try:
            raw = self._call(described, self.api.stock_zh_a_daily, symbol=symbol, adjust=FACTOR_ADJUST)
        except FetchError as exc:
            held = f"the cache holds them as of {cached[1].end}" if cached is not None else "no cached factors"
            raise FetchError(
                f"cannot download the factors of {info.ts_code} (offline?) and {held}; fill the cache while online "
                f"with `rnnstrategy data fetch --universe NAME` or load bars from a CSV file. Cause: {exc}"
            ) from exc.__cause__
        if raw is None or raw.empty:
            raise DataError(f"akshare returned no factors for {info.ts_code} ({described}); check the code")
        events = factor_events(raw, f"akshare {info.ts_code} factors")
        self.cache.write(key, events, EARLIEST, today, FACTOR_ADJUST)
        return events

    def _with_factors(self, info: SymbolInfo, bars: pd.DataFrame) -> pd.DataFrame:
        last = bars.index[-1].date() if len(bars) else None
        return with_factor(bars, self.factors(info, last), f"akshare {info.ts_code}")

    def _bars(self, info: SymbolInfo, start: dt.date | None, end: dt.date | None, adjust: str) -> pd.DataFrame:
        want_start, want_end = self._wanted(start, end)
        key = self.cache_key(info, adjust)
        cached = self.cache.read(key)
        if cached is not None and cached[1].covers(want_start, want_end):
            log.debug("cache hit %s %s..%s", key, want_start, want_end)
            return cached[0]
        if cached is not None:
            want_start, want_end = min(want_start, cached[1].start), max(want_end, cached[1].end)
        try:
            raw = self._download(info, want_start, want_end, adjust)
        except FetchError as exc:
            if cached is not None:
                held = f"The cache holds {info.ts_code} only for {cached[1].start}..{cached[1].end}"
            else:
                held = f"No cached bars cover this range (cache: {self.cache.directory})"
            raise FetchError(
                f"cannot download {info.ts_code} (offline?) and {held[0].lower()}{held[1:]}. To work offline, "
                "load bars from a CSV file (a path instead of a symbol) or request a range the cache holds; "
                f"fill the cache while online with `rnnstrategy data fetch {info.code}`. Cause: {exc}"
            ) from exc.__cause__
        if raw is None or raw.empty:
            raise NoBarsError(
                f"akshare returned no bars for {info.ts_code} ({want_start}..{want_end}, adjust={adjust!r}); "
                "check the code and the date range"
            )
        bars = to_canonical(raw, _AKSHARE_FORMAT, f"akshare {info.ts_code}")
        self.cache.write(key, bars, want_start, want_end, adjust)
        return bars

    def _download(self, info: SymbolInfo, start: dt.date, end: dt.date, adjust: str) -> pd.DataFrame:
        kwargs: dict[str, Any] = {
            "symbol": info.code,
            "period": "daily",
            "start_date": start.strftime("%Y%m%d"),
            "end_date": end.strftime("%Y%m%d"),
        }
        if info.is_index:
            call, name = self.api.index_zh_a_hist, "index_zh_a_hist"
        else:
            call, name = self.api.stock_zh_a_hist, "stock_zh_a_hist"
            kwargs["adjust"] = adjust
        described = f"akshare {name}({info.code}, {kwargs['start_date']}..{kwargs['end_date']}{', ' + repr(adjust) if not info.is_index else ''})"
        return self._call(described, call, **kwargs)

    def _call(self, described: str, call: Callable[..., pd.DataFrame], **kwargs: Any) -> pd.DataFrame:
        """``call(**kwargs)`` with :attr:`retries` attempts and exponential backoff; FetchError after the last."""
        retrying = Retrying(
            stop=stop_after_attempt(max(1, self.retries)),
            wait=wait_exponential(multiplier=self.backoff, max=30),
            retry=retry_if_exception(_transient),
            before_sleep=lambda state: log.warning(
                "%s failed (attempt %d): %s; retrying", described, state.attempt_number, state.outcome.exception()
            ),
            reraise=False,
        )
        try:
            return retrying(call, **kwargs)
        except RetryError as exc:
            cause = exc.last_attempt.exception()
            raise FetchError(
                f"{described} failed after {self.retries} attempt(s): {type(cause).__name__}: {_shortened(cause)}"
            ) from cause


def _transient(error: BaseException) -> bool:
    """Whether a failed call is worth another attempt: any error but ours; never Ctrl-C or an exit."""
    return isinstance(error, Exception) and not isinstance(error, (DataError, FetchError))


_URL = re.compile(r"https?://\S+")
_URL_SHOWN = 100  # characters of a URL kept in a message
_CAUSE_SHOWN = 300  # characters of an exception's text kept in a message


def _shortened(cause: BaseException | None) -> str:
    """The text of ``cause`` with URLs cut to :data:`_URL_SHOWN` characters, the whole to
    :data:`_CAUSE_SHOWN`, so the advice around it stays readable."""
    text = _URL.sub(lambda m: m.group(0) if len(m.group(0)) <= _URL_SHOWN else m.group(0)[:_URL_SHOWN] + "…",
                    str(cause))
    return text if len(text) <= _CAUSE_SHOWN else text[:_CAUSE_SHOWN] + "…"
