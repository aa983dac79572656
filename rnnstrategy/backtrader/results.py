"""Backtrader runs of a forecast strategy, and what they leave for the report.

Usage::

    result = run_backtest(bars, forecasts, load_strategy("forecast_long"), cash=1_000_000)

or, with a Cerebro of your own::

    add_result_analyzers(cerebro)                 # before cerebro.run()
    strategy = cerebro.run()[0]
    result = collect_results(strategy)            # BacktestResult: equity, returns, trades

:class:`EquityCurve` records, at every bar, the portfolio value and cash after the broker
has processed the bar, the position and the close of the first data feed. Daily returns are
value-to-value, the first day against the starting value. :class:`BarProgress` reports bars
done to a callback (a progress bar). Fills come from :class:`~rnnstrategy.backtrader.trades.TradeLog`. A strategy is found by name with
:func:`~rnnstrategy.backtrader.registry.load_strategy`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

import backtrader as bt
import pandas as pd

from rnnstrategy.ashare.rules import AShareRules
from rnnstrategy.backtrader.feed import to_feed
from rnnstrategy.backtrader.rules import use_ashare_rules
from rnnstrategy.backtrader.strategy import ForecastStrategy, Members
from rnnstrategy.backtrader.trades import (
    CORPORATE_ACTION_COLUMNS,
    CorporateActionLog,
    TradeLog,
)
from rnnstrategy.errors import ConfigError

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "BacktestResult",
    "BarProgress",
    "CerebroOptions",
    "EquityCurve",
    "add_result_analyzers",
    "collect_results",
    "run_backtest",
    "run_universe_backtest",
]

EQUITY = "equity"
TRADES = "trades"
ACTIONS = "corporate_actions"
PROGRESS = "progress"


class EquityCurve(bt.Analyzer):
    """Portfolio ``value``, ``cash``, ``position`` (shares of the first feed) and its ``close``
    at every bar, indexed by the bar's date.

    Usage: ``cerebro.addanalyzer(EquityCurve, _name="equity")``, then
    ``strategy.analyzers.equity.frame()`` and ``.returns()``.
    """

    def start(self) -> None:
        self.start_value = float(self.strategy.broker.getvalue())
        self._cash = float(self.strategy.broker.getcash())
        self._value = self.start_value
        self.rows: list[tuple[pd.Timestamp, float, float, float, float]] = []

    def notify_fund(self, cash: float, value: float, fundvalue: float, shares: float) -> None:
        self._cash, self._value = float(cash), float(value)

    def next(self) -> None:
        data = self.strategy.datas[0]  # the strategy's clock is every feed's dates together
        self.rows.append((pd.Timestamp(self.strategy.datetime.date(0)), self._value, self._cash,
                          float(self.strategy.getposition(data).size), float(data.close[0])))

    def get_analysis(self) -> dict[str, object]:
        return {"start_value": self.start_value, "rows": self.rows}

    def frame(self) -> pd.DataFrame:
        """``value, cash, position, close`` by ``date`` (tz-naive DatetimeIndex)."""
        frame = pd.DataFrame(self.rows, columns=["date", "value", "cash", "position", "close"]).set_index("date")
        frame.index = pd.DatetimeIndex(frame.index, name="date")
        return frame

    def returns(self) -> pd.Series:
        """Daily returns of the portfolio value; the first day against the starting value."""
        value = self.frame()["value"]
        return value.div(value.shift(1).fillna(self.start_value)).sub(1.0).rename("return")


class BarProgress(bt.Analyzer):
    """Calls ``callback(done, total)`` after every bar (``total`` = bars of the first feed)."""

    params = (("callback", None),)

    def next(self) -> None:
        if self.p.callback is not None:
            data = self.strategy.datas[0]
            self.p.callback(len(data), data.buflen())


@dataclass(frozen=True)
class BacktestResult:
    """The outcome of one Backtrader run.

    Attributes:
        equity: ``value, cash, position, close`` by date (see :class:`EquityCurve`).
        returns: daily returns of the portfolio value, named ``return``.
        trades: the fills, columns of :data:`rnnstrategy.backtrader.trades.TRADE_COLUMNS`.
        start_value: the portfolio value before the first bar (the starting cash).
        corporate_actions: the dividends, bonus shares, splits and dividend tax booked (columns of
            :data:`rnnstrategy.data.records.CORPORATE_ACTION_COLUMNS`; empty without a ``factor`` column).
    """

    equity: pd.DataFrame
    returns: pd.Series
    trades: pd.DataFrame
    start_value: float
    corporate_actions: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(CORPORATE_ACTION_COLUMNS)))

    @property
    def final_value(self) -> float:
        return float(self.equity["value"].iloc[-1]) if len(self.equity) else self.start_value


def add_result_analyzers(cerebro: bt.Cerebro, progress: Callable[[int, int], None] | None = None) -> None:
    """Attach what :func:`collect_results` needs (and a progress callback) to ``cerebro``."""
    cerebro.addanalyzer(EquityCurve, _name=EQUITY)
    cerebro.addanalyzer(TradeLog, _name=TRADES)
    cerebro.addanalyzer(CorporateActionLog, _name=ACTIONS)
    if progress is not None:
        cerebro.addanalyzer(BarProgress, _name=PROGRESS, callback=progress)


def collect_results(strategy: bt.Strategy) -> BacktestResult:
    """The :class:`BacktestResult` of a finished strategy run with :func:`add_result_analyzers`."""
    analyzers = strategy.analyzers
    names = set(analyzers.getnames())
    if not {EQUITY, TRADES} <= names:
        raise ValueError("the strategy ran without the result analyzers; "
                         "call add_result_analyzers(cerebro) before run()")
    equity = analyzers.getbyname(EQUITY)
    actions = analyzers.getbyname(ACTIONS).frame() if ACTIONS in names else None
    return BacktestResult(equity=equity.frame(), returns=equity.returns(),
                          trades=analyzers.getbyname(TRADES).frame(), start_value=equity.start_value,
                          **({} if actions is None else {"corporate_actions": actions}))


class CerebroOptions(TypedDict, total=False):
    """The keyword options of :func:`run_backtest` and :func:`run_universe_backtest`, each optional."""

    cash: float
    """Starting cash, CNY (default 1,000,000)."""
    execution: str | None
    """``"next_open"`` or ``"close"`` (cheat-on-close); None (default) keeps the strategy's default."""
    params: Mapping[str, Any] | None
    """The strategy's own parameters."""
    progress: Callable[[int, int], None] | None
    """Called with (bars done, bars in total) after every bar."""
    rules: AShareRules | None
    """The A-share broker rules; default ``AShareRules()`` (every rule on)."""
    members: Members | None
    """A universe as it stood: the feeds that are index members on each day (None: every feed, every day)."""
    keep_leavers: bool
    """With ``members``: a holding that leaves the index stays until the strategy's own exit rule."""


def run_backtest(bars: pd.DataFrame, forecasts: pd.DataFrame, strategy: type[ForecastStrategy],
                 **options: Unpack[CerebroOptions]) -> BacktestResult:
    """Trade ``forecasts`` with ``strategy`` under A-share broker rules over the forecast dates.

    Args:
        bars: canonical bars of the traded security; the feed covers the first to the last
            forecast date.
        forecasts: the forecast frame (one row per forecast date).
        strategy: a :class:`~rnnstrategy.backtrader.strategy.ForecastStrategy` subclass; a strategy
            with ``next_open`` (trades at the open) gets ``cheat_on_open``.
        options: ``cash``, ``execution``, ``params``, ``progress``, ``rules`` (see :class:`CerebroOptions`).

    Raises:
        ConfigError: for an unknown strategy parameter or bad execution.
    """
    window = bars.loc[forecasts.index[0]:forecasts.index[-1]]
    if window.empty:
        raise ConfigError(f"the forecasts ({forecasts.index[0]:%Y-%m-%d}..{forecasts.index[-1]:%Y-%m-%d}) "
                          f"cover no bar of {bars.attrs.get('symbol', 'the bars')}")
    return _run_cerebro([window], forecasts, strategy, **options)


def run_universe_backtest(bars: Sequence[pd.DataFrame], forecasts: Mapping[str, pd.DataFrame],
                          strategy: type[ForecastStrategy], **options: Unpack[CerebroOptions]) -> BacktestResult:
    """Trade the forecasts of a universe with ``strategy`` (e.g. ``top_k``) in one Cerebro, one feed per stock.

    Args:
        bars: canonical bars of each stock (``attrs["symbol"]`` names its feed); each feed covers its
            own first to last forecast date.
        forecasts: the forecast frame of each symbol.
        strategy, options: as for :func:`run_backtest`.

    Returns:
        A :class:`BacktestResult` whose trades carry each fill's symbol; ``equity``'s ``position`` and
        ``close`` are those of the first feed (see :class:`EquityCurve`).

    Raises:
        ConfigError: for a stock without forecasts, or one whose forecasts cover none of its bars.
    """
    windows = []
    for frame in bars:
        symbol = str(frame.attrs.get("symbol", ""))
        if symbol not in forecasts:
            raise ConfigError(f"{symbol or 'a stock'} has bars but no forecasts; give forecasts for every stock "
                              f"(have {', '.join(sorted(forecasts))})")
        dates = forecasts[symbol].index
        window = frame.loc[dates[0]:dates[-1]]
        if window.empty:
            raise ConfigError(f"the forecasts of {symbol} ({dates[0]:%Y-%m-%d}..{dates[-1]:%Y-%m-%d}) cover none "
                              "of its bars")
        windows.append(window)
    return _run_cerebro(windows, dict(forecasts), strategy, **options)


def _run_cerebro(windows: Sequence[pd.DataFrame], forecasts: pd.DataFrame | Mapping[str, pd.DataFrame],
                 strategy: type[ForecastStrategy], *, cash: float = 1_000_000.0, execution: str | None = None,
                 params: Mapping[str, Any] | None = None, progress: Callable[[int, int], None] | None = None,
                 rules: AShareRules | None = None, members: Members | None = None,
                 keep_leavers: bool = False) -> BacktestResult:
    """One Cerebro with a feed per bar window, the A-share rules and the result analyzers; run it."""
    trades_at_open = strategy.next_open is not bt.Strategy.next_open
    cerebro = bt.Cerebro(stdstats=False, cheat_on_open=trades_at_open)
    cerebro.broker.setcash(cash)
    for window in windows:
        feed = to_feed(window)
        cerebro.adddata(feed, name=feed._name)
    use_ashare_rules(cerebro, rules)
    cerebro.addstrategy(strategy, **strategy.cerebro_params(forecasts, execution, params, members=members,
                                                             keep_leavers=keep_leavers))
    add_result_analyzers(cerebro, progress)
    return collect_results(cerebro.run()[0])

