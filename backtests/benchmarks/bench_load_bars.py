"""Benchmark: load every CSV of the shared sample data, and every series of its qlib data directory
(``qlib_csi300/``: 762 stocks and 3 indexes), through ``load_bars``.

    python backtests/benchmarks/bench_load_bars.py [DATA_DIR]

Prints, for each case, the file or series count, rows, wall-clock and CPU seconds (best of 3) and
what needed ``strict=False``; for the qlib case also the seconds of reading the files alone (the rest
is :func:`~rnnstrategy.data.frame.validate_bars`).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from rnnstrategy.data import load_bars
from rnnstrategy.data.qlib_dir import read_qlib_bars
from rnnstrategy.data.qlib_files import is_qlib_dir, symbols_in
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


def load_qlib(directory: Path, symbols: list[str]) -> tuple[int, list[str]]:
    rows, lenient = 0, []
    for symbol in symbols:
        try:
            bars = load_bars(directory, symbol=symbol)
        except DataError:
            bars = load_bars(directory, symbol=symbol, strict=False)
            lenient.append(f"{symbol} ({bars.attrs['dropped'].count} row(s) dropped)")
        rows += len(bars)
    return rows, lenient


def best_of_3(work) -> tuple[object, str]:
    """``work()`` three times: its result and the wall-clock seconds (and this process's CPU seconds, a
    fairer figure on a shared machine) of the fastest run."""
    timings = []
    for _ in range(3):
        started, cpu = time.perf_counter(), time.process_time()
        result = work()
        timings.append((time.perf_counter() - started, time.process_time() - cpu))
    wall, cpu = min(timings)
    return result, (f"seconds: {wall:.2f}, CPU {cpu:.2f} (best of 3; all: "
                    f"{', '.join(f'{t:.2f}' for t, _ in timings)})")


def main() -> None:
    default = Path(__file__).resolve().parents[3] / "shared" / "data"
    data_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    files = bar_files(data_dir)
    (rows, lenient), timing = best_of_3(lambda: load_all(files))
    print(f"files: {len(files)}  rows: {rows}  {timing}")
    print(f"loaded with strict=False: {', '.join(lenient) or 'none'}")
    directory = data_dir / "qlib_csi300"
    if not is_qlib_dir(directory):
        print(f"no qlib data directory at {directory}: qlib case skipped")
        return
    symbols = symbols_in(directory)
    (rows, lenient), timing = best_of_3(lambda: load_qlib(directory, symbols))
    print(f"qlib series: {len(symbols)}  rows: {rows}  {timing}")
    print(f"loaded with strict=False: {', '.join(lenient) or 'none'}")
    _, timing = best_of_3(lambda: [read_qlib_bars(directory, symbol) for symbol in symbols])
    print(f"qlib files alone (read_qlib_bars, no validation): {timing}")


if __name__ == "__main__":
    main()
