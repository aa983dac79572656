"""Full-size backtest of the default strategy on Kweichow Moutai (600519.SH).

    python backtests/moutai_backtest.py [--data ../shared/data/SH600519.csv] [--start 2012-01-01]
                                        [--store /tmp/rnnstrategy-folds] [--execution next_open]

The default walk-forward forecaster (``ForecastConfig()``: GRU 32, lookback 40, horizon 2,
retrained every 20 bars from scratch) is trained on the whole history before each
forecast and first forecasts at ``--start``; :class:`strategies.forecast_long.ForecastLong`
trades on it under every A-share rule (fees by date, lots, T+1, price limits) with
1,000,000 CNY. Printed: the round trips, total and annual return, Sharpe ratio, maximum
drawdown and fees, next to buy-and-hold of the stock from the close of the first forecast
date to the last close. Folds are kept in ``--store``, so a rerun takes seconds.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import backtrader as bt
import pandas as pd
import torch
from rnnstrategy.strategies.forecast_long import ForecastLong

from rnnstrategy.backtrader.feed import to_feed
from rnnstrategy.backtrader.rules import use_ashare_rules
from rnnstrategy.backtrader.trades import TradeLog
from rnnstrategy.data import load_bars
from rnnstrategy.forecasting.config import ForecastConfig

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "SH600519.csv"
TRADING_DAYS = 252


def sharpe(returns: pd.Series) -> float:
    """Annualised Sharpe ratio of daily returns (risk-free rate 0)."""
    std = returns.std(ddof=1)
    return float(returns.mean() / std * math.sqrt(TRADING_DAYS)) if std > 0 else math.nan


def max_drawdown(returns: pd.Series) -> float:
    equity = (1 + returns).cumprod()
    return float((equity / equity.cummax() - 1).min())


def round_trips(fills: pd.DataFrame) -> pd.DataFrame:
    """Pair the buys with the sells that close them (long only): average prices, P&L net of fees."""
    rows, held, trip = [], 0, {}
    for fill in fills.itertuples(index=False):
        fees = fill.commission + fill.stamp_duty + fill.transfer_fee
        if fill.side == "buy":
            if not held:
                trip = {"entry": fill.date, "size": 0, "bought": 0.0, "sold": 0.0, "fees": 0.0}
            held += fill.size
            trip["size"] += fill.size
            trip["bought"] += fill.value
        else:
            held -= fill.size
            trip["sold"] += fill.value
        trip["fees"] += fees
        if fill.side == "sell" and not held:
            rows.append({"entry": trip["entry"], "exit": fill.date, "size": trip["size"],
                         "buy": trip["bought"] / trip["size"], "sell": trip["sold"] / trip["size"],
                         "pnl": trip["sold"] - trip["bought"] - trip["fees"]})
    return pd.DataFrame(rows, columns=["entry", "exit", "size", "buy", "sell", "pnl"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="SH600519 bars (tushare get_k_data CSV)")
    parser.add_argument("--start", default="2012-01-01", help="first forecast (and trading) date")
    parser.add_argument("--store", type=Path, default=Path("/tmp/rnnstrategy-folds"), help="fold store")
    parser.add_argument("--execution", default="next_open", choices=["next_open", "close"])
    parser.add_argument("--cash", type=float, default=1_000_000.0)
    args = parser.parse_args()
    torch.set_num_threads(1)

    bars = load_bars(args.data)
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.broker.setcash(args.cash)
    cerebro.adddata(to_feed(bars))
    use_ashare_rules(cerebro)
    cerebro.addstrategy(ForecastLong, config=ForecastConfig(), store=args.store, start=args.start,
                        execution=args.execution)
    cerebro.addanalyzer(TradeLog, _name="fills")
    cerebro.addanalyzer(bt.analyzers.TimeReturn, _name="returns", timeframe=bt.TimeFrame.Days)
    started = time.perf_counter()
    strategy = cerebro.run()[0]
    seconds = time.perf_counter() - started

    returns = pd.Series(strategy.analyzers.returns.get_analysis())
    returns.index = pd.DatetimeIndex(returns.index)
    predicted = pd.Series(strategy.signals[0].next_open.array, index=bars.index)
    first_date = predicted.first_valid_index()  # the first forecast
    returns = returns.loc[first_date:].iloc[1:]  # from the close of the first forecast date
    closes = bars["close"].loc[first_date:]
    hold = closes.pct_change().dropna()
    fills = strategy.analyzers.fills.frame()
    trips = round_trips(fills)
    fees = fills[["commission", "stamp_duty", "transfer_fee"]].sum()
    total = cerebro.broker.getvalue() / args.cash - 1
    years = len(returns) / TRADING_DAYS

    print(f"600519.SH {first_date:%Y-%m-%d}..{bars.index[-1]:%Y-%m-%d} ({len(returns)} days), "
          f"execution={args.execution}, {args.cash:,.0f} CNY, run {seconds:.0f}s")
    print(f"round trips ({len(trips)}; {len(fills)} fills):")
    with pd.option_context("display.max_rows", None, "display.width", 120):
        print(trips.to_string(index=False, formatters={"buy": "{:.2f}".format, "sell": "{:.2f}".format,
                                                       "pnl": "{:,.0f}".format}))
    wins = (trips["pnl"] > 0).mean() if len(trips) else math.nan
    held_days = sum((pd.Timestamp(t.exit) - pd.Timestamp(t.entry)).days for t in trips.itertuples())
    print(f"win rate {wins:.1%}, average holding {held_days / max(len(trips), 1):.1f} calendar days, "
          f"fees {fees.sum():,.0f} CNY (commission {fees['commission']:,.0f}, stamp duty "
          f"{fees['stamp_duty']:,.0f}, transfer {fees['transfer_fee']:,.0f})")
    print(f"strategy:     final value {cerebro.broker.getvalue():,.0f} CNY, total return {total:+.1%}, "
          f"annual {(1 + total) ** (1 / years) - 1:+.1%}, Sharpe {sharpe(returns):.2f}, "
          f"max drawdown {max_drawdown(returns):.1%}")
    hold_total = closes.iloc[-1] / closes.iloc[0] - 1
    print(f"buy and hold: total return {hold_total:+.1%}, annual {(1 + hold_total) ** (1 / years) - 1:+.1%}, "
          f"Sharpe {sharpe(hold):.2f}, max drawdown {max_drawdown(hold):.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
