"""The A-share rules of a run as one typed configuration.

:class:`AShareRules` names every switch of the broker rules, the commission rate and
minimum, and what the bars do not say about securities (ST status, listing dates, or a
tushare stock list that has both). It is the single definition the Python API
(``rnnstrategy.backtest(rules=...)``), the ``[rules]`` table of a TOML run and the
``backtest`` command's options are derived from; the Backtrader side applies it with
:func:`rnnstrategy.backtrader.rules.use_ashare_rules`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rnnstrategy.ashare.fees import (
    STAMP_DUTY_SCHEDULE,
    TRANSFER_FEE_SCHEDULE,
    FeeSchedule,
    check_commission,
)
from rnnstrategy.ashare.security import SecurityRules
from rnnstrategy.ashare.symbols import symbol_info
from rnnstrategy.ashare.volume import check_volume_limit
from rnnstrategy.errors import ConfigError, SymbolError

__all__ = ["AShareRules"]


def _setting(default: object, help: str, **metadata: object) -> object:
    """A field with its command-line help (and other option metadata)."""
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help, **metadata})
    return field(default=default, metadata={"help": help, **metadata})


@dataclass(frozen=True)
class AShareRules:
    """The broker rules of a run; every rule on by default but ``dividend_tax`` (all off is plain Backtrader).

    ``dividend_tax`` is off by default because rqalpha and qlib credit dividends gross, as the total-return
    figures a strategy is compared with do; an individual investor's account turns it on.

    ``st`` and ``listing_dates`` are keyed by symbol in any spelling (``600666``,
    ``600666.SH``); ``securities_file`` reads ST status (an ``ST``/``*ST`` name) and listing
    dates from a tushare stock list such as ``basic_stock_data.csv``; entries given here
    win over the file's.
    """

    commission: bool = _setting(True, "charge broker commission")
    stamp_duty: bool = _setting(True, "charge stamp duty by trade date (sells only since 2008-09-19)")
    transfer_fee: bool = _setting(True, "charge the transfer fee by trade date")
    lots: bool = _setting(True, "round orders to board lots (100; STAR 200 then 1)")
    no_short: bool = _setting(True, "refuse sells beyond the position (no short selling)", negative="--allow-short")
    t_plus_one: bool = _setting(True, "shares bought today cannot be sold today")
    price_limits: bool = _setting(True, "no buy fill at limit-up, no sell fill at limit-down")
    skip_suspended: bool = _setting(True, "no fills on days without a bar (suspension)")
    corporate_actions: bool = _setting(True, "book cash dividends, bonus shares and splits on the ex-date, read from "
                                             "the bars' adjustment factor (raw prices with a factor column)")
    dividend_tax: bool = _setting(False, "charge an individual's dividend tax by holding period (since 2015-09-08: "
                                         "20 % up to a month, 10 % up to a year, none beyond), due when the shares "
                                         "are sold (default off: dividends credited gross, as rqalpha and qlib do)")
    volume_limit: float | None = _setting(0.25, "largest share of a day's volume one stock's fills may take "
                                                "(0.25 = 25 %, as rqalpha), rounded down to lots; the rest of the "
                                                "order is cancelled; 0 or none: no limit")
    commission_rate: float = _setting(FeeSchedule.commission_rate,
                                      "broker commission, a fraction of value (0.00025 = 0.025 %)")
    min_commission: float = _setting(FeeSchedule.min_commission, "minimum commission per order, CNY")
    st: tuple[str, ...] = _setting((), "symbols under special treatment for the whole run (5 % main-board limit)")
    listing_dates: dict[str, str] = _setting({}, "listing date by symbol, YYYY-MM-DD (no price limit on the "
                                                  "first days after listing)")
    securities_file: str | None = _setting(None, "tushare stock list (ts_code, name, list_date) with ST names "
                                                  "and listing dates, e.g. basic_stock_data.csv")

    def __post_init__(self) -> None:
        object.__setattr__(self, "st", tuple(self.st))
        check_commission("commission_rate", self.commission_rate, self.min_commission)
        check_volume_limit("volume_limit", self.volume_limit)
        for symbol in (*self.st, *self.listing_dates):
            _ts_code(symbol)
        for symbol, date in self.listing_dates.items():
            _date(symbol, date)

    @classmethod
    def off(cls) -> AShareRules:
        """Every rule off: plain Backtrader fills, no fees, no corporate actions and no volume limit."""
        return cls(**{f.name: False for f in dataclasses.fields(cls) if f.type in (bool, "bool")}, volume_limit=None)

    def fee_schedule(self) -> FeeSchedule | None:
        """The :class:`~rnnstrategy.ashare.fees.FeeSchedule` of the fee switches; ``None`` when every fee is off."""
        if not (self.commission or self.stamp_duty or self.transfer_fee):
            return None
        return FeeSchedule(
            commission_rate=self.commission_rate if self.commission else 0.0,
            min_commission=self.min_commission if self.commission else 0.0,
            stamp_duty=STAMP_DUTY_SCHEDULE if self.stamp_duty else (),
            transfer_fee=TRANSFER_FEE_SCHEDULE if self.transfer_fee else (),
        )

    def securities(self, stock_list: Mapping[str, Any] | None = None) -> dict[str, SecurityRules]:
        """:class:`SecurityRules` by tushare code, from ``stock_list`` then ``st`` and ``listing_dates``.

        Args:
            stock_list: the entries of ``securities_file`` as the data layer reads them
                (:func:`rnnstrategy.data.securities.read_securities`: objects with ``ts_code``,
                ``st`` and ``list_date``); None when there is no file.
        """
        st: dict[str, bool] = {}
        listed: dict[str, dt.date] = {}
        for security in (stock_list or {}).values():
            st[security.ts_code] = security.st
            if security.list_date is not None:
                listed[security.ts_code] = security.list_date
        st.update({_ts_code(symbol): True for symbol in self.st})
        listed.update({_ts_code(symbol): _date(symbol, date) for symbol, date in self.listing_dates.items()})
        return {code: SecurityRules(st=st.get(code), listing_date=listed.get(code)) for code in sorted({*st, *listed})}


def _ts_code(symbol: str) -> str:
    try:
        return symbol_info(symbol).ts_code
    except SymbolError as exc:
        raise ConfigError(f"A-share rules: {exc}") from None


def _date(symbol: str, value: object) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"listing date {value!r} of {symbol}: give YYYY-MM-DD, e.g. 2020-07-16") from None
