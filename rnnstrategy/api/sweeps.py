"""``sweep()``: run every configuration of a sweep definition (:mod:`rnnstrategy.api.sweep_definition`),
compare them and judge the best.

Each forecaster configuration is trained once per source (through the fold store); its
strategy variants trade the same forecast frame. Every configuration is written to
``out/<name>/`` (``manifest.json`` last, so a finished one is skipped when the sweep runs
again), then the compare page (``out/compare/``) and ``out/sweep.json``: the headline metrics
of each configuration, and the best one (highest Sharpe ratio) with its Sharpe ratio deflated
for the number of configurations tried and the SPA p-value of the best strategy against
buy-and-hold.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnnstrategy.api.definition import run
from rnnstrategy.api.sweep_definition import SweepSpec, expand, load_sweep
from rnnstrategy.config import RunConfig
from rnnstrategy.errors import ConfigError
from rnnstrategy.files import atomic_write_bytes
from rnnstrategy.forecasting.foldroot import DEFAULT_STORE

if TYPE_CHECKING:
    import pandas as pd

    from rnnstrategy.forecasting.walkforward import FoldReport

__all__ = ["sweep"]

log = logging.getLogger(__name__)


def _plain(value: Any) -> Any:
    """``value`` as JSON reads it back (tuples as lists), to compare with a recorded configuration."""
    return json.loads(json.dumps(value, default=str))


def _finished(folder: Path, config: RunConfig) -> bool:
    """Whether ``folder`` holds a finished run (``manifest.json`` is written last) of ``config``."""
    manifest = folder / "manifest.json"
    if not manifest.is_file() or not (folder / "metrics.json").is_file():
        return False
    try:
        recorded = json.loads(manifest.read_text(encoding="utf-8")).get("config")
    except (ValueError, UnicodeDecodeError):
        return False
    return recorded == _plain(config.to_dict())


def _as_reused(frame: pd.DataFrame) -> pd.DataFrame:
    """The forecast frame as a strategy variant receives it: the same forecasts, whose folds
    this run loaded rather than trained (its manifest reports 0 trained)."""
    reused = frame.copy()
    reused.attrs = {**frame.attrs, "folds": [{**f, "trained": False} for f in frame.attrs.get("folds") or []]}
    return reused


def _headline(metrics: Mapping[str, Any], manifest: Mapping[str, Any]) -> dict[str, Any]:
    strategy, forecast = metrics.get("strategy", {}), metrics.get("forecast", {})
    return {
        "total_return": strategy.get("total_return"),
        "cagr": strategy.get("cagr"),
        "sharpe": strategy.get("sharpe"),
        "max_drawdown": strategy.get("max_drawdown"),
        "buy_and_hold_total_return": (metrics.get("buy_and_hold") or {}).get("total_return"),
        "verdict": forecast.get("verdict", (forecast.get("h1") or {}).get("verdict")),
        "trained": (manifest.get("forecasts") or {}).get("trained"),
    }


def _check_params(configs: Sequence[tuple[str, RunConfig]]) -> None:
    """Fail before any training when a strategy or one of its parameters is unknown."""
    from rnnstrategy.backtrader.registry import load_strategy

    for name, config in configs:
        try:
            load_strategy(config.backtest.strategy).check_params(config.backtest.params)
        except ConfigError as exc:
            raise ConfigError(f"sweep configuration {name}: {exc}") from None


def sweep(
    definition: str | Path | SweepSpec,
    out: str | Path,
    *,
    store: str | Path | None = DEFAULT_STORE,
    threads: int | None = None,
    on_run: Callable[[dict[str, Any]], None] | None = None,
    on_fold: Callable[[FoldReport], None] | None = None,
) -> dict[str, Any]:
    """Run every configuration of a sweep into ``out/<name>/``, compare them, and judge the best.

    A forecaster configuration is trained once per source (the first of its runs goes through
    the fold store; its strategy variants trade the same forecast frame). A folder whose
    ``manifest.json`` records the same configuration is kept as it is, so a sweep killed half
    way resumes where it stopped.

    Args:
        definition: the sweep: a TOML file (read by :func:`~rnnstrategy.api.sweep_definition.load_sweep`) or a
            :class:`~rnnstrategy.api.sweep_definition.SweepSpec`.
        out: the output folder: one folder per configuration, ``compare/`` and ``sweep.json``.
        store: the fold store (:data:`~rnnstrategy.forecasting.foldroot.DEFAULT_STORE`, a directory, or None for
            none).
        threads: PyTorch threads; None: every core.
        on_run: called after each configuration with a row: name, status (``ran`` or
            ``resumed``), done, total and its headline metrics.
        on_fold: called after each fold is fitted or loaded.

    Returns:
        What ``out/sweep.json`` holds: each configuration's name, settings and headline
        metrics, the best one, its deflated Sharpe ratio and the SPA p-value (see the module docstring).
    """
    spec = definition if isinstance(definition, SweepSpec) else load_sweep(definition)
    out = Path(out)
    configs = expand(spec)
    _check_params(configs)
    rows: list[dict[str, Any]] = []
    last: tuple[str, pd.DataFrame] | None = None  # the forecaster group just run and its forecast frame
    for done, (name, config) in enumerate(configs, start=1):
        folder = out / name
        if _finished(folder, config):
            status = "resumed"
            metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
            manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        else:
            status = "ran"
            group = json.dumps(_plain([dataclasses.asdict(config.data), config.forecast.to_dict(),
                                       config.backtest.start, config.backtest.end]), sort_keys=True)
            reused = last[1] if last is not None and last[0] == group else None  # a group's runs are adjacent
            result = run(config, store=store, threads=threads, on_fold=on_fold,
                         forecasts=None if reused is None else _as_reused(reused))
            last = (group, result.forecasts if reused is None else reused)
            result.write(folder)
            metrics, manifest = result.metrics, result.manifest
            log.info("sweep %s: %s", name, "; ".join(result.summary()))
        row = {"name": name, "status": status, "done": done, "total": len(configs),
               "config": _plain(config.to_dict()), **_headline(metrics, manifest)}
        rows.append(row)
        if on_run is not None:
            on_run(row)
    summary = _judge(rows, out)
    payload = json.dumps(_plain(summary), indent=1, ensure_ascii=False, allow_nan=False).encode("utf-8")
    atomic_write_bytes(out / "sweep.json", payload)
    return summary


def _judge(rows: list[dict[str, Any]], out: Path) -> dict[str, Any]:
    """The compare page, the best configuration, its deflated Sharpe ratio and the SPA p-value."""
    names = [row["name"] for row in rows]
    sharpes = [row["sharpe"] for row in rows]
    best = max(range(len(rows)), key=lambda i: sharpes[i] if _finite(sharpes[i]) else -math.inf) if rows else None
    summary: dict[str, Any] = {
        "trials": len(rows),
        "configurations": [{k: v for k, v in row.items() if k not in ("done", "total")} for row in rows],
        "names": names,
        "best": None if best is None else names[best],
        "best_sharpe": None if best is None else sharpes[best],
        "trial_sharpe_std": None,
        "deflated_sharpe": None,
        "spa_pvalue": None,
        "spa_pvalue_best_alone": None,
        "compare": "compare/compare.html",
    }
    from rnnstrategy.report.compare import (
        compare_runs,  # matplotlib: loaded when a sweep is judged
    )

    compare = compare_runs([out / name for name in names], out / "compare", trials=len(names), names=names)
    spa = compare["spa"]
    summary["spa_pvalue"] = spa["pvalue_consistent"]
    summary["spa_pvalue_best_alone"] = None if best is None else (spa.get("pvalue_alone") or {}).get(names[best])
    if best is not None:
        summary.update(_deflated(out, names, best))
    return summary


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _deflated(out: Path, names: list[str], best: int) -> dict[str, Any]:
    """The deflated Sharpe ratio of the best run for ``len(names)`` tried configurations, and the
    standard deviation of the per-period Sharpe ratios of all of them (what it deflates by)."""
    import pandas as pd

    from rnnstrategy.evaluation.sharpe import deflated_sharpe, sharpe_ratio

    returns = [pd.read_csv(out / name / "equity.csv", index_col="date", parse_dates=True)["return"].dropna()
               for name in names]
    sharpes = [s for s in map(sharpe_ratio, returns) if _finite(s)]
    spread = statistics.stdev(sharpes) if len(sharpes) >= 2 else None
    return {"trial_sharpe_std": spread,
            "deflated_sharpe": deflated_sharpe(returns[best], len(names), trial_sharpe_std=spread)}
