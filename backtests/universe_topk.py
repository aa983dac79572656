"""Backtest: hold the top-k stocks of a universe by forecast return, against CSI 300 and the equal-weight universe.

    rnnstrategy forecast ../shared/data/stocks_tushare_qfq --start 2018-01-02 --out runs/universe
    python backtests/universe_topk.py runs/universe [--k 10] [--max-turnover 0.3] [--out runs/universe_topk]

A thin wrapper over the library: the same run is

    rnnstrategy backtest --forecasts runs/universe --strategy top_k --k 10 --max-turnover 0.3 \\
        --cash 10000000 --benchmark ../shared/data/index/sh000300.csv --out runs/universe_topk

or ``rs.backtest(None, benchmark, strategy="top_k", forecasts="runs/universe", k=10, ...)``; without
``--forecasts`` and with the folder as DATA, ``rnnstrategy backtest`` forecasts the universe itself.
Nothing is retrained here: the forecasts are read. Beside the benchmark the report shows the
equal-weight basket of the same stocks and the strategy's excess return over it with a HAC t-test:
a list of stocks chosen today holds survivors, so the basket beats the index by construction, and
a strategy has to beat the basket before its forecasts can take the credit.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import rnnstrategy as rs


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
    result = rs.backtest(None, str(args.benchmark), strategy="top_k", forecasts=args.run, k=args.k,
                         max_turnover=args.max_turnover, cash=args.cash, out=args.out)
    print("\n".join(result.summary()))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
