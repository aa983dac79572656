"""Benchmark: memory and seconds per fold of the pooled walk-forward as the universe grows.

    python backtests/benchmarks/bench_panel_memory.py [--sizes 300 1000 5000] [--days 2430] [--folds 1]
        [--epochs N] [--qlib DIR] [--seed 0] [--threads N] [--json FILE]

Each size runs in a fresh Python process (so its peak RSS is its own) through the real code path:
:func:`~rnnstrategy.forecasting.pooled.panel.build_panel` builds the panel, then the first ``--folds``
folds of the default :class:`~rnnstrategy.forecasting.pooled.config.PooledConfig` (GRU-32, lookback 20,
train_days 1250, batch 1024, 6 epochs, patience 2; ``--epochs`` overrides the epochs) are trained
(:func:`~rnnstrategy.forecasting.pooled.fit.fit_fold`) and scored
(:func:`~rnnstrategy.forecasting.pooled.fit.score_fold`, every row of the fold's 250 market days). The
first fold is retrained on the first day with a full training window (``config.history_needed()`` days
in), so it learns from about ``stocks x 1250`` samples.

The bars are synthetic unless ``--qlib DIR`` is given: seeded random walks (a common market factor plus
each stock's own noise; open/high/low/close/volume) on a business-day calendar of ``--days`` days, with
staggered listings (a fifth of the stocks list in the first half), a few delistings and suspensions (a
tenth of the stocks miss one to three runs of 1-60 days). ``--qlib DIR`` takes the first stocks of a
qlib directory instead (e.g. ../shared/data/qlib_csi300, 762 stocks), over its last ``--days`` days.

Reported per size: stocks, market days, panel rows, the panel's own arrays in bytes (features, labels,
label days, days, offsets, window flags, opens, closes), seconds to build the panel, training samples,
epochs run, seconds of training, per epoch (training seconds / epochs, validation included), of scoring
and of the fold (training + scoring), and peak RSS of the process (VmHWM): overall and of each stage
(building the panel / training / scoring; the kernel's peak is reset between stages through
``/proc/self/clear_refs``, so each is the process's peak during that stage, bars and panel included).
With ``--epochs`` below the default, the full fold's seconds are *projected*: the default 6 epochs at the
measured seconds per epoch plus the scoring (an upper bound: early stopping may end sooner).

Measured on this machine (2 cores, 24 GiB, CPU only; shared with other jobs and helpers' tests, so seconds
are noisier than on an idle machine; torch's 2 threads), synthetic bars, default PooledConfig, one fold
retrained 2018-11-20:

    python backtests/benchmarks/bench_panel_memory.py --sizes 300 1000 --json /tmp/pm_full_new.json
    python backtests/benchmarks/bench_panel_memory.py --sizes 5000 --epochs 1 --json /tmp/pm5000_new.json

    stocks  days        rows  panel MB  B/row  build s    samples epochs  s/epoch   fit s  score s  fold s peak RSS MB  (panel/fit/score)
       300  2430     687,137      36.4   53.0      1.2    335,609    4.0      2.0     8.0      0.7     8.7         491    418/491/480
      1000  2430   2,295,707     121.7   53.0      4.2  1,127,374    4.0      7.2    28.7      2.1    30.8         720    578/720/679
      5000  2430  11,464,556     607.7   53.0     21.5  5,626,546    1.0     46.7    46.7     15.8    62.5       2,143   1485/2143/1869
    before (float64 feature table, then a float32 copy; the machine more loaded, load average 3-5):
      5000  2430  11,464,556     607.7   53.0     22.4  5,626,546    1.0    123.4   123.4     70.5   193.9       2,390   2390/2380/2124
    5000 stocks: 1 epoch(s) measured; a full fold (6 epochs) is projected at 296 s (training at the measured
    s/epoch plus scoring; early stopping may end it sooner)

The panel is 53 bytes per row at every size (features 5 x float32, label, opens, closes float64, days and
label days int32, the window flag), and the panel stage now costs little more than the panel itself:
:func:`~rnnstrategy.forecasting.pooled.panel.build_panel` fills one preallocated float32 table symbol by
symbol (bit for bit the old table, ``tests/test_panel_build_bits.py``), where it held the per-symbol
float64 frames, their concatenation (N x F float64) and the float32 copy at once. At 5,000 stocks the stage
peaked at 1,485 MB, the bars (851 MB) plus the panel (608 MB) and 25 MB, down from 2,390 MB; training is now
the peak (2.1 GB), under a third of 8 GB. Seconds of training and scoring fell too, but not through this
change (a less loaded machine; the tree held others' work on the batched kernel and pooled fit), so
compare them only within a run. Early stopping ended the 300 and 1,000-stock folds after 4 of 6 epochs
(random-walk labels carry no signal). Before the scaler stopped materialising one int64 row index per
(sample, window step) and the standardised table was built in chunks
(``rnnstrategy/forecasting/pooled/fit.py``), the 5,000-stock, 1-epoch run peaked at 3,502 MB
(panel 2,434 / fit 3,502 / score 2,815).

The panel alone (the bars, then ``build_panel`` in a fresh process; old and new code in the same hour), at
5,000 stocks: 604 MiB above the bars, was 1,400-1,466. With ``feature_norm = "rank"`` (not the default) the
stock columns stay float64 across all symbols for
:func:`~rnnstrategy.forecasting.pooled.panel.normalise_by_day`, normalised a column at a time: 1,994 MiB
above the bars, was 2,253; about 1 GB of it while one 11.5 M-row column is ranked day by day.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

_STATUS = Path("/proc/self/status")


def _status_kib(field: str) -> int:
    """A ``VmHWM``/``VmRSS`` line of /proc/self/status, in KiB (0 where there is none)."""
    if not _STATUS.exists():
        return 0
    for line in _STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    """Reset the kernel's peak RSS of this process to its current RSS (Linux 4.0+); False where it cannot."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class _Stages:
    """Peak RSS of each stage, in MiB: the process's peak since the stage began."""

    def __init__(self) -> None:
        self.resettable = _reset_peak()
        self.peaks: dict[str, float] = {}

    def start(self) -> None:
        if self.resettable:
            _reset_peak()

    def end(self, name: str) -> None:
        self.peaks[name] = _status_kib("VmHWM") / 1024


def synthetic_bars(stocks: int, days: int, seed: int) -> dict[str, pd.DataFrame]:
    """Seeded random-walk bars of ``stocks`` stocks on ``days`` business days (see the module docstring)."""
    rng = np.random.default_rng(seed)
    calendar = pd.bdate_range("2014-01-02", periods=days, name="date")
    market = rng.normal(0.0, 0.01, days)
    bars = {}
    for i in range(stocks):
        first = int(rng.integers(0, days // 2)) if rng.random() < 0.2 else 0
        last = int(rng.integers(days * 3 // 4, days)) if rng.random() < 0.03 else days
        keep = np.zeros(days, dtype=bool)
        keep[first:last] = True
        if rng.random() < 0.1:  # suspensions: runs of days without a row
            for _ in range(int(rng.integers(1, 4))):
                begin = int(rng.integers(first, last))
                keep[begin:begin + int(rng.integers(1, 61))] = False
        n = days
        close = 10.0 * np.exp(np.cumsum(market + rng.normal(0.0, 0.02, n)))
        opens = np.concatenate([[10.0], close[:-1]]) * np.exp(rng.normal(0.0, 0.005, n))
        high = np.maximum(opens, close) * np.exp(np.abs(rng.normal(0.0, 0.01, n)))
        low = np.minimum(opens, close) * np.exp(-np.abs(rng.normal(0.0, 0.01, n)))
        volume = np.round(np.exp(rng.normal(13.0, 0.5, n)), -2)
        frame = pd.DataFrame({"open": opens, "high": high, "low": low, "close": close, "volume": volume},
                             index=calendar)[keep]
        frame.attrs.update(symbol=f"S{i:05d}", adjust="")
        if len(frame):
            bars[f"S{i:05d}"] = frame
    return bars


def qlib_bars(directory: str, stocks: int, days: int) -> dict[str, pd.DataFrame]:
    """The first ``stocks`` stocks of a qlib directory (those that load), over its last ``days`` market days."""
    from rnnstrategy.data import load_bars
    from rnnstrategy.data.qlib_dir import qlib_stock_sources
    from rnnstrategy.data.qlib_files import read_calendar
    from rnnstrategy.errors import RnnStrategyError

    first = read_calendar(directory)[-days]
    bars = {}
    for source in qlib_stock_sources(directory):
        if len(bars) == stocks:
            break
        try:
            frame = load_bars(source, start=first)
        except RnnStrategyError as exc:  # a damaged series is left out, as a universe run does
            print(f"skipped {source}: {str(exc).splitlines()[0]}", file=sys.stderr)
            continue
        if len(frame):
            bars[frame.attrs.get("symbol") or source] = frame
    return bars


def panel_bytes(panel: object) -> int:
    """Bytes of the panel's own arrays (features, labels, label days, days, offsets, window flags, prices)."""
    return sum(value.nbytes for value in vars(panel).values() if isinstance(value, np.ndarray))


def measure(args: argparse.Namespace, stocks: int) -> dict[str, object]:
    """One size, in this process: build the panel, train and score ``args.folds`` folds; the figures."""
    import torch

    from rnnstrategy.forecasting.pooled.config import PooledConfig
    from rnnstrategy.forecasting.pooled.fit import fit_fold, score_fold
    from rnnstrategy.forecasting.pooled.panel import build_panel, retrain_days
    from rnnstrategy.forecasting.pooled.walkforward import fold_rows

    if args.threads:
        torch.set_num_threads(args.threads)
    default = PooledConfig(device="cpu")
    config = dataclasses.replace(default, epochs=args.epochs) if args.epochs else default
    stages = _Stages()
    base = _status_kib("VmRSS") / 1024
    stages.start()
    started = time.perf_counter()
    bars = qlib_bars(args.qlib, stocks, args.days) if args.qlib else synthetic_bars(stocks, args.days, args.seed)
    bars_seconds = time.perf_counter() - started
    stages.end("bars")
    stages.start()
    started = time.perf_counter()
    panel = build_panel(bars, config.features, config.lookback, feature_norm=config.feature_norm,
                        label_sessions=config.label_sessions)
    build_seconds = time.perf_counter() - started
    stages.end("panel")
    first = min(config.history_needed(), len(panel.calendar) - 1)
    folds = retrain_days(panel.calendar, panel.calendar[first], None, config.retrain_every_days)[: args.folds]
    device = torch.device("cpu")
    fit_seconds = score_seconds = 0.0
    samples = epochs = scored = 0
    fit_peak = score_peak = 0.0
    for p, q in folds:
        stages.start()
        started = time.perf_counter()
        model, (n_fit, n_val, n_epochs) = fit_fold(panel, config, device, p, None)
        fit_seconds += time.perf_counter() - started
        stages.end("fit")
        fit_peak = max(fit_peak, stages.peaks["fit"])
        stages.start()
        rows = fold_rows(panel, p, q)
        started = time.perf_counter()
        score_fold(panel, config, device, model, rows)
        score_seconds += time.perf_counter() - started
        stages.end("score")
        score_peak = max(score_peak, stages.peaks["score"])
        samples, epochs, scored = samples + n_fit + n_val, epochs + n_epochs, scored + len(rows)
    per_epoch = fit_seconds / max(epochs, 1)
    n = max(len(folds), 1)
    fold_seconds = (fit_seconds + score_seconds) / n
    result = {
        "stocks": len(panel.symbols), "days": len(panel.calendar), "rows": len(panel),
        "features": panel.features.shape[1], "panel_bytes": panel_bytes(panel),
        "panel_bytes_per_row": panel_bytes(panel) / len(panel), "bars_seconds": round(bars_seconds, 2),
        "build_seconds": round(build_seconds, 2), "folds": len(folds),
        "retrain_dates": [str(panel.calendar[p].date()) for p, _ in folds],
        "samples_per_fold": samples // n, "scored_rows_per_fold": scored // n, "epochs_per_fold": epochs / n,
        "epochs_setting": config.epochs, "seconds_per_epoch": round(per_epoch, 2),
        "fit_seconds_per_fold": round(fit_seconds / n, 2), "score_seconds_per_fold": round(score_seconds / n, 2),
        "fold_seconds": round(fold_seconds, 2),
        "base_rss_mib": round(base), "peak_rss_mib": round(_status_kib("VmHWM") / 1024) if not stages.resettable
        else round(max(stages.peaks.values())),
        "stage_peak_rss_mib": {"bars": round(stages.peaks["bars"]), "panel": round(stages.peaks["panel"]),
                               "fit": round(fit_peak), "score": round(score_peak)},
        "threads": torch.get_num_threads(), "source": args.qlib or "synthetic",
    }
    if config.epochs < default.epochs:
        result["projected_fold_seconds"] = round(per_epoch * default.epochs + score_seconds / n, 1)
    return result


def _child(args: argparse.Namespace, stocks: int) -> dict[str, object]:
    """Run one size in a fresh interpreter and read back its figures (its last stdout line, JSON)."""
    command = [sys.executable, __file__, "--one", str(stocks), "--days", str(args.days), "--folds", str(args.folds),
               "--seed", str(args.seed)]
    for flag, value in (("--epochs", args.epochs), ("--qlib", args.qlib), ("--threads", args.threads)):
        if value:
            command += [flag, str(value)]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _table(results: list[dict[str, object]]) -> str:
    head = (f"{'stocks':>6} {'days':>5} {'rows':>11} {'panel MB':>9} {'B/row':>6} {'build s':>8} {'samples':>10} "
            f"{'epochs':>6} {'s/epoch':>8} {'fit s':>7} {'score s':>8} {'fold s':>7} {'peak RSS MB':>11} "
            f"{'(panel/fit/score)':>18}")
    lines = [head]
    for r in results:
        stage = r["stage_peak_rss_mib"]
        fold = f"{r['fold_seconds']:.1f}"
        lines.append(
            f"{r['stocks']:>6} {r['days']:>5} {r['rows']:>11,} {r['panel_bytes'] / 1e6:>9.1f} "
            f"{r['panel_bytes_per_row']:>6.1f} {r['build_seconds']:>8.1f} {r['samples_per_fold']:>10,} "
            f"{r['epochs_per_fold']:>6.1f} {r['seconds_per_epoch']:>8.1f} {r['fit_seconds_per_fold']:>7.1f} "
            f"{r['score_seconds_per_fold']:>8.1f} {fold:>7} {r['peak_rss_mib'] * 1.048576:>11,.0f} "
            f"{stage['panel'] * 1.048576:>6.0f}/{stage['fit'] * 1.048576:.0f}/{stage['score'] * 1.048576:.0f}")
    for r in results:
        if "projected_fold_seconds" in r:
            lines.append(f"{r['stocks']} stocks: {r['epochs_setting']} epoch(s) measured; a full fold "
                         f"({PROJECT_EPOCHS} epochs) is projected at {r['projected_fold_seconds']:.0f} s "
                         "(training at the measured s/epoch plus scoring; early stopping may end it sooner)")
    return "\n".join(lines)


PROJECT_EPOCHS = 6  # PooledConfig().epochs, without importing the package in the parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[300, 1000, 5000], help="stocks per run")
    parser.add_argument("--days", type=int, default=2430, help="market days (about 10 years)")
    parser.add_argument("--folds", type=int, default=1, help="folds trained and scored per size")
    parser.add_argument("--epochs", type=int, default=None, help="override PooledConfig's 6 epochs")
    parser.add_argument("--qlib", default=None, help="take real stocks from this qlib directory")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic bars")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)  # the child: one size
    args = parser.parse_args()
    if args.one is not None:
        logging.basicConfig(level=logging.WARNING)
        print(json.dumps(measure(args, args.one)))
        return
    results = []
    for stocks in args.sizes:
        print(f"{stocks} stocks x {args.days} days ...", flush=True)
        results.append(_child(args, stocks))
        print(_table(results[-1:]).splitlines()[1], flush=True)
    print(f"\npooled walk-forward memory and time ({results[0]['source']}, {results[0]['threads']} torch threads, "
          f"{os.cpu_count()} cores; MB = 10^6 bytes)")
    print(_table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
