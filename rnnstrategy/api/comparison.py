"""``compare()``: finished runs side by side (the work is :func:`rnnstrategy.report.compare.compare_runs`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["compare"]


def compare(run_dirs: Sequence[str | Path], out: str | Path, *, trials: int | None = None,
            names: Sequence[str] | None = None) -> dict[str, Any]:
    """Compare finished runs side by side into ``out`` (``compare.html``, ``compare.json``,
    ``compare_equity.png``): headline metrics, forecast verdicts, pairwise Diebold-Mariano tests
    between their forecasts, and Hansen's SPA test of whether the best strategy beats buy-and-hold
    after accounting for ``trials`` strategies (default: the number of runs); returns what
    ``compare.json`` holds (see :func:`rnnstrategy.report.compare.compare_runs`)."""
    from rnnstrategy.report.compare import compare_runs

    return compare_runs(run_dirs, out, trials=trials, names=names)
