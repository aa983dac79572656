"""Backtest: hold the top-k stocks of a universe by forecast return, against CSI 300.

    rnnstrategy forecast ../shared/data/stocks_tushare_qfq --start 2018-01-02 --out runs/universe
    python backtests/universe_topk.py runs/universe [--k 10] [--max-turnover 0.3] [--out runs/universe_topk]

Reads a universe run (``summary.csv`` and ``forecasts/<symbol>.csv``, as ``rnnstrategy
forecast FOLDER`` writes them), puts every forecast symbol in one Backtrader run with the
A-share broker rules, trades :class:`rnnstrategy.strategies.top_k.TopK` on the forecasts (orders
fill at the next open) and writes into ``--out``: ``report.html`` (quantstats against the
benchmark), ``equity_vs_benchmark.png``, ``metrics.json``, ``trades.csv`` (one row per
fill, with its symbol) and ``equity.csv``. Nothing is retrained: the forecasts are read.

Beside the benchmark it reports buy-and-hold of the universe itself: the equal-weight basket
of the same stocks, bought at the first open and held, with the same cash, fees, lots and
rules, and the strategy's excess return over it with a HAC t-test. A list of stocks chosen
today (as the sample data's is) holds survivors, so the basket beats the index by
construction, and a strategy has to beat the basket, not the index, before its forecasts can
take the credit.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import backtrader as bt
import pandas as pd
from rnnstrategy.strategies.top_k import TopK

import rnnstrategy as rs
from rnnstrategy.backtrader import (
    add_result_analyzers,
    collect_results,
    to_feed,
    use_ashare_rules,
)
from rnnstrategy.backtrader.buy_and_hold import run_buy_and_hold
from rnnstrategy.evaluation.excess import excess_return_test
from rnnstrategy.files import atomic_write_bytes
from rnnstrategy.forecasting import read_forecasts
from rnnstrategy.report import (
    PERIODS_PER_YEAR,
    Titles,
    benchmark_returns,
    benchmark_title,
    headline_metrics,
    trade_statistics,
    write_json,
    write_tearsheet,
)
from rnnstrategy.report.plots import equity_figure, save_png


def universe_inputs(run: Path) -> tuple[list[pd.DataFrame], dict[str, pd.DataFrame]]:
    """The bars (cut to each symbol's forecast dates) and forecasts of every symbol forecast in ``run``."""
    summary_path = run / "summary.csv"
    if not summary_path.is_file():
        raise rs.DataError(f"{run}: no summary.csv; give the --out folder of `rnnstrategy forecast FOLDER`")
    summary = pd.read_csv(summary_path)
    frames, forecasts = [], {}
    for row in summary[summary["status"] == "ok"].itertuples():
        frame = read_forecasts(run / "forecasts" / f"{row.symbol}.csv")
        bars = rs.load_bars(row.source, strict=False)
        frames.append(bars.loc[frame.index[0] : frame.index[-1]])
        forecasts[str(bars.attrs["symbol"])] = frame
    if not frames:
        raise rs.DataError(f"{summary_path}: no symbol was forecast (status ok); nothing to trade")
    return frames, forecasts


def main() -> None:
    shared = Path(__file__).resolve().parents[2] / "shared" / "data"
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="output folder of `rnnstrategy forecast FOLDER --out DIR`")
    parser.add_argument("--benchmark", type=Path, default=shared / "index" / "sh000300.csv")
    parser.add_argument("--k", type=int, default=10, help="stocks to hold")
    parser.add_argument("--max-turnover", type=float, default=0.3, help="one-way turnover per day (fraction of value)")
    parser.add_argument("--cash", type=float, default=10_000_000.0, help="starting cash, CNY")
    parser.add_argument("--out", type=Path, default=Path("runs/universe_topk"))
    args = parser.parse_args()

    started = time.perf_counter()
    frames, forecasts = universe_inputs(args.run)
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.broker.setcash(args.cash)
    for frame in frames:
        feed = to_feed(frame)
        cerebro.adddata(feed, name=feed._name)
    use_ashare_rules(cerebro)
    cerebro.addstrategy(TopK, forecasts=forecasts, k=args.k, max_turnover=args.max_turnover)
    add_result_analyzers(cerebro)
    result = collect_results(cerebro.run()[0])

    equity = result.equity
    # beside it: the equal-weight basket of the same stocks, bought at the first open and held,
    # with the same cash, fees, lots and rules
    held = run_buy_and_hold(frames, equity.index[0], equity.index[-1], cash=args.cash)
    held_returns = held.returns.reindex(equity.index).rename(f"Buy and hold {len(frames)} A-shares, equal weight")
    benchmark_bars = rs.load_bars(args.benchmark)
    titles = Titles(strategy=f"Top {args.k} of {len(frames)} by GRU forecast",
                    benchmark=benchmark_title(str(benchmark_bars.attrs["symbol"])), security=f"{len(frames)} A-shares")
    returns = result.returns.rename(titles.strategy)
    benchmark = benchmark_returns(benchmark_bars, equity.index).rename(titles.benchmark)
    trades = result.trades
    stats = trade_statistics(trades, equity, PERIODS_PER_YEAR)
    stats["exposure"] = float((1 - equity["cash"] / equity["value"]).mean())  # invested share, all feeds
    metrics = {
        "period": {"start": f"{equity.index[0]:%Y-%m-%d}", "end": f"{equity.index[-1]:%Y-%m-%d}",
                   "days": len(equity), "symbols": len(frames), "start_value": args.cash,
                   "final_value": result.final_value},
        "parameters": {"k": args.k, "max_turnover": args.max_turnover, "forecasts": str(args.run)},
        "strategy": {"title": titles.strategy, **headline_metrics(returns)},
        "benchmark": {"title": titles.benchmark, **headline_metrics(benchmark)},
        "buy_and_hold": {"title": held_returns.name, **headline_metrics(held_returns)},
        "excess_over_buy_and_hold": excess_return_test(returns, held_returns),
        "trades": {**stats, "symbols_traded": int(trades["symbol"].nunique())},
        "seconds": round(time.perf_counter() - started, 1),
    }

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / "trades.csv", trades.to_csv(index=False).encode("utf-8"))
    atomic_write_bytes(out / "equity.csv", equity.assign(**{"return": returns, "benchmark_return": benchmark,
                                                            "buy_and_hold_return": held_returns})
                       .to_csv(index_label="date").encode("utf-8"))
    write_json(out / "metrics.json", metrics)
    write_tearsheet(out / "report.html", returns, benchmark, titles,
                    parameters={"k": args.k, "max turnover": args.max_turnover, "symbols": len(frames)})
    save_png(equity_figure(equity["value"], benchmark, trades, titles.strategy, titles.benchmark,
                           buy_and_hold=held_returns), out / "equity_vs_benchmark.png")

    s, b, u = metrics["strategy"], metrics["benchmark"], metrics["buy_and_hold"]
    print(f"{titles.strategy}, {metrics['period']['start']}..{metrics['period']['end']}, "
          f"{stats['count']} fills in {metrics['trades']['symbols_traded']} stocks")
    print(f"  {'':13} {'strategy':>9} {'benchmark':>9} {'basket':>9}   (basket: buy and hold, equal weight)")
    for label, key in (("total return", "total_return"), ("CAGR", "cagr"), ("Sharpe", "sharpe"),
                       ("max drawdown", "max_drawdown"), ("volatility", "volatility")):
        print(f"  {label:13} {s[key]:>9.3f} {b[key]:>9.3f} {u[key]:>9.3f}")
    x = metrics["excess_over_buy_and_hold"]
    print(f"  excess return over the basket {x['annualised']:+.1%} a year (HAC t {x['hac_t']:.2f}, p = {x['p_value']:.3f})")
    print(f"  turnover {stats['annual_turnover']:.1f}x a year, fees {stats['total_fees']:,.0f} CNY, "
          f"invested {stats['exposure']:.0%} of the time-averaged value; wrote {out}")


if __name__ == "__main__":
    main()
