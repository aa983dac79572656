"""Hand-made rankings on the bundled qlib sample, for the score strategies' tests (topk_dropout, rank_band).

``SYMBOLS`` are twelve stocks of the sample with bars every session of ``FIRST..LAST`` and no bonus shares or
splits there (so holdings can be read off the fills). ``scores()`` makes a day-by-stock frame of scores,
``forecasts()`` turns it into forecast frames whose ``expected_return`` is the score itself (a pooled model's
ranked score, not a return), ``run()`` trades them in one Cerebro with the A-share rules, and ``held()`` reads
the holdings at each close from the fills; ``refused_buys()`` finds the buys refused for want of cash.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pytest

from rnnstrategy import datasets
from rnnstrategy.backtrader.results import BacktestResult, run_universe_backtest
from rnnstrategy.data import load_bars

SAMPLE = datasets.path(datasets.UNIVERSE)
SYMBOLS = ("600438.SH", "600522.SH", "600703.SH", "601012.SH", "601899.SH", "603799.SH", "000002.SZ", "000625.SZ",
           "000651.SZ", "000725.SZ", "002475.SZ", "300059.SZ")
FIRST, LAST = "2021-01-04", "2021-04-30"
CASH = 20_000_000.0


def sample_bars(symbols: tuple[str, ...] = SYMBOLS) -> dict[str, pd.DataFrame]:
    """Raw bars (with their adjustment factor) of ``symbols`` over ``FIRST..LAST``."""
    return {symbol: load_bars(SAMPLE, symbol=symbol, start=FIRST, end=LAST) for symbol in symbols}


def steady_scores(days: pd.DatetimeIndex, symbols: tuple[str, ...] = SYMBOLS) -> pd.DataFrame:
    """Scores that rank ``symbols`` in their order (the first best), the same every day."""
    return pd.DataFrame([list(range(len(symbols), 0, -1))] * len(days), index=days, columns=list(symbols))


def noisy_scores(days: pd.DatetimeIndex, symbols: tuple[str, ...], seed: int = 0) -> pd.DataFrame:
    """Scores that drift (an AR(1) per stock, 0.8 a day), so the ranking churns every few sessions."""
    rng = np.random.default_rng(seed)
    values = np.empty((len(days), len(symbols)))
    state = rng.normal(size=len(symbols))
    for row in range(len(days)):
        state = 0.8 * state + 0.6 * rng.normal(size=len(symbols))
        values[row] = state
    return pd.DataFrame(values, index=days, columns=list(symbols))


def forecasts(bars: Mapping[str, pd.DataFrame], scores: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Forecast frames with ``expected_return`` = ô(t+2) / ô(t+1) - 1 = the day's score / 100."""
    frames = {}
    for symbol, frame in bars.items():
        score = scores[symbol].reindex(frame.index) / 100
        frames[symbol] = pd.DataFrame({"pred_open_1": frame["close"], "pred_open_2": frame["close"] * (1 + score),
                                       "fold": 0}, index=frame.index)
    return frames


def run(bars: Mapping[str, pd.DataFrame], scores: pd.DataFrame, strategy: type, members: Any = None,
        **params: Any) -> BacktestResult:
    """``strategy`` with ``params`` on ``bars`` ranked by ``scores``, from ``CASH``."""
    return run_universe_backtest(list(bars.values()), forecasts(bars, scores), strategy, params=params,
                                 cash=CASH, members=members)


def held(result: BacktestResult) -> pd.DataFrame:
    """Shares held at each close, by date and symbol (fills at the open of their date)."""
    trades = result.trades.assign(date=pd.to_datetime(result.trades["date"]))
    signed = trades["size"].astype(float).where(trades["side"] == "buy", -trades["size"].astype(float))
    shares = signed.groupby([trades["date"], trades["symbol"]]).sum().unstack(fill_value=0.0)
    return shares.reindex(result.equity.index, fill_value=0.0).cumsum()


def fills(result: BacktestResult, side: str) -> pd.DataFrame:
    """The fills of ``side`` with ``date`` as timestamps."""
    trades = result.trades.assign(date=pd.to_datetime(result.trades["date"]))
    return trades[trades["side"] == side]


def cash_share(result: BacktestResult) -> pd.Series:
    """Cash over portfolio value at each close."""
    return result.equity["cash"] / result.equity["value"]


def sessions_held_at_sales(result: BacktestResult) -> list[int]:
    """For each whole sale: the sessions the stock had been held at the close that decided it (its buy's fill
    session counts as the first)."""
    shares = held(result)
    days = {day: k for k, day in enumerate(shares.index)}
    sessions = []
    for sale in fills(result, "sell").itertuples():
        before = shares[sale.symbol].iloc[:days[sale.date]]  # the closes up to the deciding one
        opened = before[(before > 0) & (before.shift(fill_value=0.0) <= 0)].index[-1]
        sessions.append(days[sale.date] - days[opened])
    return sessions


def refused_buys(caplog: pytest.LogCaptureFixture) -> set[pd.Timestamp]:
    """The days a buy was refused at the open for want of cash (the open above the close it was sized at), as
    logged at INFO by ``rnnstrategy.backtrader.strategy`` (``caplog.set_level`` it first)."""
    found = (re.match(r"\S+ (\d{4}-\d\d-\d\d): buy order \d+ Margin", record.getMessage())
             for record in caplog.records)
    return {pd.Timestamp(match.group(1)) for match in found if match}
