"""Bars of a folder of stock CSV files, as the pooled benchmarks load them.

Imported by the scripts beside it (``bench_ensemble.py``, ``bench_pooled.py``): run as
``python backtests/benchmarks/<script>.py``, a script's own folder is on ``sys.path``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from rnnstrategy.data import load_bars


def load_folder(folder: Path, symbols: int | None, first: str, end: str | None = None,
                skip_bad: bool = False) -> dict[str, pd.DataFrame]:
    """Bars of the first ``symbols`` CSV files of ``folder`` (all where None), by name, from ``first`` to ``end``.

    ``basic_*.csv`` (stock lists, not bars) is passed over. Keys are the symbol the file names, else the
    file's stem. With ``skip_bad`` a file that does not load is reported on stdout and left out, as a
    universe run does; otherwise its error propagates.
    """
    files = sorted(p for p in folder.glob("*.csv") if not p.name.startswith("basic_"))[:symbols]
    bars = {}
    for path in files:
        try:
            frame = load_bars(path, start=first, end=end)
        except Exception as exc:
            if not skip_bad:
                raise
            print(f"skipped {path.name}: {str(exc).splitlines()[0]}")
            continue
        bars[frame.attrs.get("symbol") or path.stem] = frame
    return bars
