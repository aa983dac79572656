"""Benchmark: the per-stock reference walk-forward against darts 0.48, back to back on the same machine.

    python backtests/benchmarks/bench_darts.py --darts-python PY [--data ../shared/data/SH600519.csv]
                                               [--repeats 3] [--threads 0] [--darts-threads 1] [--also-one-thread]

The reference configuration of ``bench_walkforward.py`` (LSTM (64,), lookback 60, H 1, retrain every 20
bars on the latest 750 samples, 10 epochs, batches of 64, no early stopping, cold folds) over the last
240 bars of SH600519: 12 retrains, 240 forecasts. Ours is ``walk_forward`` in this process (with the
default ``--threads 0``, every core: its folds are split across worker threads, see
:mod:`rnnstrategy.forecasting.fold_workers`); darts is ``darts_reference.py`` (how it is configured and
timed is written there: ``historical_forecasts`` of a ``BlockRNNModel``, retrain every 20, 750 samples)
in a subprocess of ``--darts-python``, a Python with darts 0.48 and this torch installed (e.g. a virtual
environment that sees this one's packages; darts' own dependencies would replace some here).

Each repeat times ours, then darts, back to back; the medians and their ratio are printed, with the load
average before and after (the machine may be shared: compare only figures from one run). Imports and
one warm-up run are not timed on either side. ``--darts-threads`` (default 1): darts' torch threads; 0
is darts' default of every core, whose OpenMP threads spin on a loaded machine (1,070 s against 45 s
for one thread here, load 10-14). ``--also-one-thread`` times ours on one thread too. On Linux the fold
workers' scheduler counters are printed (seconds on a CPU / waiting for one / blocked), and from them the
time with a free core per worker, a projection.

Measured on this project's machine (2 vCPUs, idle: load average 1.1-1.5, the other jobs paused), medians of
3: ours 4.73 s on two fold workers (8.70 s on one thread), darts 22.39 s on one thread: 0.211x; with darts'
default of every core (``--darts-threads 0``, two threads) darts 16.30 s against ours 4.46 s: 0.274x. Each
worker spent 4.1-4.7 s on a CPU and 0.0-0.1 s waiting for one. On a shared machine (load 4-5) the same
script gave ours 8.25 s, darts 19.93 s (one thread), 0.414x: two workers then got one CPU's worth.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Self

import numpy as np
import pandas as pd
import torch
from bench_walkforward import CONFIGS

from rnnstrategy.data import load_bars
from rnnstrategy.forecasting.config import ForecastConfig
from rnnstrategy.forecasting.features import make_features
from rnnstrategy.forecasting.training import torch_threads
from rnnstrategy.forecasting.walkforward import walk_forward

FORECASTS = 240
DARTS_SIDE = Path(__file__).with_name("darts_reference.py")


def write_inputs(bars: pd.DataFrame, config: ForecastConfig, path: Path) -> None:
    """The darts side's inputs: the five features of every bar (the first has no gap) and the settings."""
    features = make_features(bars, ("gap", "ret", "high", "low", "volume")).iloc[1:]
    np.savez(path, inputs=features.to_numpy(), first=len(features) - FORECASTS, forecasts=FORECASTS,
             lookback=config.lookback, hidden=config.hidden[0], epochs=config.epochs, batch_size=config.batch_size,
             retrain_every=config.retrain_every, train_window=config.train_window, seed=config.seed)


class WorkerClock:
    """Samples the fold workers' scheduler counters (Linux ``/proc/self/task/*/schedstat``) while they run:
    per worker, seconds on a CPU, runnable but waiting for a CPU, and blocked (the GIL, a lock)."""

    def __init__(self) -> None:
        self.first: dict[int, tuple[float, int, int]] = {}
        self.last: dict[int, tuple[float, int, int]] = {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._done.wait(0.05):
            for worker in threading.enumerate():
                if worker.name.startswith("rnnstrategy-folds") and worker.native_id:
                    try:
                        counters = Path(f"/proc/self/task/{worker.native_id}/schedstat").read_text().split()
                        on_cpu, waiting = int(counters[0]), int(counters[1])
                    except (OSError, ValueError):
                        continue
                    self.first.setdefault(worker.native_id, (time.perf_counter(), on_cpu, waiting))
                    self.last[worker.native_id] = (time.perf_counter(), on_cpu, waiting)

    def report(self) -> list[tuple[float, float, float]]:
        """(on a CPU, waiting for one, blocked) seconds of each worker seen."""
        out = []
        for tid, (t1, cpu1, wait1) in self.last.items():
            t0, cpu0, wait0 = self.first[tid]
            on_cpu, waiting = (cpu1 - cpu0) / 1e9, (wait1 - wait0) / 1e9
            out.append((on_cpu, waiting, max(0.0, t1 - t0 - on_cpu - waiting)))
        return out


def time_ours(bars: pd.DataFrame, config: ForecastConfig, threads: int | None) -> tuple[float, float, int, list]:
    """Seconds (wall, this process's CPU) of the reference walk-forward, its forecasts, and its workers' times."""
    with torch_threads(threads), WorkerClock() as clock:
        started, cpu = time.perf_counter(), time.process_time()
        forecasts = walk_forward(bars, config, start=bars.index[-FORECASTS])
        seconds = time.perf_counter() - started, time.process_time() - cpu
    return *seconds, len(forecasts), clock.report()


def time_darts(python: str, inputs: Path, threads: int) -> dict[str, object]:
    """darts_reference.py's report of one timed run (after its warm-up)."""
    done = subprocess.run([python, str(DARTS_SIDE), str(inputs), "--threads", str(threads), "--warm-up"],
                          capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"darts side failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    return json.loads(lines[-1])


def main() -> None:
    default_data = Path(__file__).resolve().parents[3] / "shared" / "data" / "SH600519.csv"
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=default_data)
    parser.add_argument("--darts-python", required=True, help="a Python with darts 0.48 and this torch")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="our torch threads (0: every core)")
    parser.add_argument("--darts-threads", type=int, default=1, help="darts' torch threads (0: every core)")
    parser.add_argument("--also-one-thread", action="store_true", help="time ours on one thread too")
    args = parser.parse_args()

    bars, config = load_bars(args.data), CONFIGS["reference"]
    threads = args.threads or None
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp) / "inputs.npz"
        write_inputs(bars, config, inputs)
        time_ours(bars.iloc[: -FORECASTS + 40], config, threads)  # warm-up: kernels built, lazy imports done
        print(f"{bars.attrs['symbol']}: reference walk-forward ({config.cell} {config.hidden}, lookback "
              f"{config.lookback}, {FORECASTS} forecasts); torch {torch.__version__}, {os.cpu_count()} CPUs, "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)
        ours, ours_one, darts = [], [], []
        for k in range(args.repeats):
            ours.append(time_ours(bars, config, threads))
            if args.also_one_thread:
                ours_one.append(time_ours(bars, config, 1))
            darts.append(time_darts(args.darts_python, inputs, args.darts_threads))
            one = f", ours on 1 thread {ours_one[-1][0]:.1f} s" if ours_one else ""
            workers = "; ".join(f"{c:.1f}/{w:.1f}/{b:.2f}" for c, w, b in ours[-1][3]) or "none"
            print(f"repeat {k + 1}: ours {ours[-1][0]:.1f} s ({ours[-1][1]:.1f} s CPU, {ours[-1][2]} forecasts; "
                  f"workers on a CPU/waiting for one/blocked, s: {workers}){one}, "
                  f"darts {darts[-1]['darts']} {darts[-1]['seconds']:.1f} s ({darts[-1]['cpu_seconds']:.1f} s CPU, "
                  f"{darts[-1]['forecasts']} forecasts, {darts[-1]['threads']} threads); "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
    mine = statistics.median(t[0] for t in ours)
    theirs = statistics.median(float(d["seconds"]) for d in darts)
    one = f", on 1 thread {statistics.median(t[0] for t in ours_one):.2f} s" if ours_one else ""
    print(f"median of {args.repeats}: ours {mine:.2f} s ({torch.get_num_threads() if threads is None else threads} "
          f"threads){one}, darts {theirs:.2f} s ({darts[0]['threads']} threads), ratio {mine / theirs:.3f}x")
    if all(t[3] for t in ours):  # a core per worker: the workers' phase lasts its longest worker's CPU + blocked time
        free = statistics.median(t[0] - max(c + w + b for c, w, b in t[3]) + max(c + b for c, _, b in t[3])
                                 for t in ours)
        print(f"with a free core per worker (no waiting for a CPU): ours {free:.2f} s, ratio {free / theirs:.3f}x "
              "(projected from the workers' scheduler counters, not measured)")


if __name__ == "__main__":
    main()
