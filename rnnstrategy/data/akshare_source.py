"""Daily bars from akshare (Eastmoney), with retries, backoff and a disk cache.

This is the only module that imports akshare, and it does so lazily, so the
rest of the package works without network libraries. Stocks come from
``stock_zh_a_hist`` (adjust '', 'qfq', 'hfq'), indexes from
``index_zh_a_hist``.

A request whose range the cache already answers needs no network. Any other
request downloads the union of the cached and the requested range in one
call, because a forward-adjusted (qfq) series is rescaled whenever a new
dividend goes ex: splicing two downloads would mix adjustment bases.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any, Protocol

import pandas as pd
from tenacity import (
    RetryError,
    Retrying,
    retry_if_not_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from rnnstrategy.ashare.symbols import SymbolInfo
from rnnstrategy.data.cache import BarCache
from rnnstrategy.data.formats import FORMATS, to_canonical
from rnnstrategy.errors import DataError, FetchError

__all__ = ["AkshareSource", "AkshareApi"]

log = logging.getLogger(__name__)

_AKSHARE_FORMAT = next(f for f in FORMATS if f.name == "akshare")
EARLIEST = dt.date(1990, 12, 19)  # first trading day of the Shanghai exchange


class AkshareApi(Protocol):
    """The two akshare functions used; tests substitute an object with these."""

    def stock_zh_a_hist(self, symbol: str, period: str, start_date: str, end_date: str, adjust: str) -> pd.DataFrame: ...

    def index_zh_a_hist(self, symbol: str, period: str, start_date: str, end_date: str) -> pd.DataFrame: ...


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

    def bars(self, info: SymbolInfo, start: dt.date | None, end: dt.date | None, adjust: str) -> pd.DataFrame:
        """Canonical (not yet validated) bars of ``info`` in ``start..end``.

        Raises:
            FetchError: when the download fails and the cache lacks the range.
            DataError: when akshare answers with no bars at all.
        """
        adjust = "" if info.is_index else adjust
        today = self.today or dt.date.today()
        want_start, want_end = start or EARLIEST, min(end or today, today)
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
            raise DataError(
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
        retrying = Retrying(
            stop=stop_after_attempt(max(1, self.retries)),
            wait=wait_exponential(multiplier=self.backoff, max=30),
            retry=retry_if_not_exception_type((DataError, FetchError)),
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


_URL = re.compile(r"https?://\S+")
_URL_SHOWN = 100  # characters of a URL kept in a message
_CAUSE_SHOWN = 300  # characters of an exception's text kept in a message


def _shortened(cause: BaseException | None) -> str:
    """The text of ``cause`` with URLs cut to :data:`_URL_SHOWN` characters, the whole to
    :data:`_CAUSE_SHOWN`, so the advice around it stays readable."""
    text = _URL.sub(lambda m: m.group(0) if len(m.group(0)) <= _URL_SHOWN else m.group(0)[:_URL_SHOWN] + "…",
                    str(cause))
    return text if len(text) <= _CAUSE_SHOWN else text[:_CAUSE_SHOWN] + "…"
