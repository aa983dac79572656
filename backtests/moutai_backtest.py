"""Full-size backtest of the default strategy on Kweichow Moutai (600519.SH).

    python backtests/moutai_backtest.py [--data ../shared/data/SH600519.csv] [--start 2012-01-01]
                                        [--store /tmp/rnnstrategy-folds] [--execution next_open]
                                        [--out runs/moutai_backtest]

One call of ``rs.backtest``: the default walk-forward forecaster (``rs.ForecastConfig()``: GRU 32,
lookback 40, horizon 2, retrained from scratch every 20 bars on the latest 1000 samples) first
forecasts at ``--start``; the ready strategy ``forecast_long``
(:class:`rnnstrategy.strategies.forecast_long.ForecastLong`) trades on it under every A-share rule
(fees by date, lots, T+1, price limits) with 1,000,000 CNY. Printed: the round trips, total and
annual return, Sharpe ratio, maximum drawdown and fees, next to buy-and-hold of the stock from the
close of the first forecast date to the last close (the run's benchmark), and the forecast verdict
beside the previous close. Folds are kept in ``--store``, so a rerun takes seconds; ``--out`` also
writes the run's report (``report.html``, plots, ``metrics.json``, ``trades.csv``, ``manifest.json``).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import pandas as pd

import rnnstrategy as rs

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "SH600519.csv"


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
    parser.add_argument("--out", type=Path, default=None, help="also write the run's report into this folder")
    args = parser.parse_args()

    started = time.perf_counter()
    run = rs.backtest(args.data, forecast=rs.ForecastConfig(), strategy="forecast_long", execution=args.execution,
                      cash=args.cash, start=args.start, store=args.store, threads=1)
    seconds = time.perf_counter() - started

    m = run.metrics
    period, strategy, hold, trading, forecast = m["period"], m["strategy"], m["buy_and_hold"], m["trades"], m["forecast"]
    fills = run.trades
    trips = round_trips(fills)
    print(f"{strategy['title']} {period['start']}..{period['end']} ({period['days']} days), "
          f"execution={args.execution}, {args.cash:,.0f} CNY, run {seconds:.0f}s")
    print(f"round trips ({len(trips)}; {len(fills)} fills):")
    with pd.option_context("display.max_rows", None, "display.width", 120):
        print(trips.to_string(index=False, formatters={"buy": "{:.2f}".format, "sell": "{:.2f}".format,
                                                       "pnl": "{:,.0f}".format}))
    wins = (trips["pnl"] > 0).mean() if len(trips) else math.nan
    held_days = sum((pd.Timestamp(t.exit) - pd.Timestamp(t.entry)).days for t in trips.itertuples())
    print(f"win rate {wins:.1%}, average holding {held_days / max(len(trips), 1):.1f} calendar days, "
          f"fees {trading['total_fees']:,.0f} CNY (commission {trading['commission']:,.0f}, stamp duty "
          f"{trading['stamp_duty']:,.0f}, transfer {trading['transfer_fee']:,.0f})")
    print(f"strategy:     final value {period['final_value']:,.0f} CNY, {figures(strategy)}")
    print(f"buy and hold: {figures(hold)}")
    if "rmse" in forecast:
        print(f"forecast:     next-day open RMSE {forecast['rmse']:.2f} vs previous close "
              f"{forecast['baseline_prev_close_rmse']:.2f}: the model {forecast['verdict']}")
    if args.out:
        run.write(args.out)
        print(f"wrote {args.out / 'report.html'} and the rest of the run")
    return 0


def figures(metrics: dict[str, float | None]) -> str:
    """Total and annual return, Sharpe ratio and maximum drawdown, as ``rs.backtest`` measures them."""
    return (f"total return {number(metrics['total_return'], '+.1%')}, annual {number(metrics['cagr'], '+.1%')}, "
            f"Sharpe {number(metrics['sharpe'], '.2f')}, max drawdown {number(metrics['max_drawdown'], '.1%')}")


def number(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)

if __name__ == "__main__":
    raise SystemExit(main())
