"""Benchmark: load every CSV of the shared sample data through ``load_bars``.

    python backtests/benchmarks/bench_load_bars.py [DATA_DIR]

Prints the file count, rows, wall-clock seconds (best of 3) and the files that
needed ``strict=False``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from rnnstrategy.data import load_bars
from rnnstrategy.errors import DataError


def bar_files(data_dir: Path) -> list[Path]:
    stocks = sorted(p for p in (data_dir / "stocks_tushare_qfq").glob("*.csv") if p.name != "basic_stock_data.csv")
    return [data_dir / "SH600519.csv", *sorted((data_dir / "index").glob("*.csv")), *stocks]


def load_all(files: list[Path]) -> tuple[int, list[str]]:
    rows, lenient = 0, []
    for path in files:
        try:
            bars = load_bars(path)
        except DataError:
            bars = load_bars(path, strict=False)
            lenient.append(f"{path.name} ({bars.attrs['dropped'].count} row(s) dropped)")
        rows += len(bars)
    return rows, lenient


def main() -> None:
    default = Path(__file__).resolve().parents[3] / "shared" / "data"
    data_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    files = bar_files(data_dir)
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        rows, lenient = load_all(files)
        timings.append(time.perf_counter() - started)
    print(f"files: {len(files)}  rows: {rows}  seconds: {min(timings):.2f} (best of 3; all: {', '.join(f'{t:.2f}' for t in timings)})")
    print(f"loaded with strict=False: {', '.join(lenient) or 'none'}")


if __name__ == "__main__":
    main()
