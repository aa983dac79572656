"""``sweep()``: run every configuration of a sweep definition (:mod:`rnnstrategy.api.sweep_definition`),
compare them and judge the best.

Each forecaster configuration is trained once per source (through the fold store); its
strategy variants trade the same forecasts (one stock: the same frame; a universe: the forecasts
its first configuration wrote, see :mod:`rnnstrategy.api.sweep_forecasts`). Every configuration is
written to ``out/<name>/`` (``manifest.json`` last, so a finished one is skipped when the sweep runs
again), then the compare page (``out/compare/``) and ``out/sweep.json``: the headline metrics
of each configuration, and the best one (highest Sharpe ratio) with its Sharpe ratio deflated
for the number of configurations tried and the SPA p-values of the best strategy against
buy-and-hold (a universe's equal-weight basket) and, when it is another series, the benchmark
(a universe's index), both for the number of configurations tried. With ``executor="ray"`` the
configurations that train run as Ray tasks first (:mod:`rnnstrategy.api.sweep_tasks`).
"""

from __future__ import annotations

import json
import logging
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnnstrategy.api.definition import run
from rnnstrategy.api.sweep_definition import SweepSpec, expand, load_sweep
from rnnstrategy.api.sweep_forecasts import (
    PlannedRun,
    forecaster_group,
    plan,
    universe_row,
)
from rnnstrategy.api.sweep_tasks import check_sweep_executor, run_forecasters
from rnnstrategy.config import RunConfig
from rnnstrategy.errors import ConfigError
from rnnstrategy.files import atomic_write_bytes
from rnnstrategy.forecasting.foldroot import DEFAULT_STORE

if TYPE_CHECKING:
    import pandas as pd

    from rnnstrategy.api.results import BacktestRun, UniverseBacktestRun
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
        "turnover_per_year": strategy.get("turnover_per_year"),
        **{name: {k: (metrics.get(name) or {}).get(k) for k in ("annualised", "information_ratio", "p_value")}
           for name in ("excess_over_benchmark", "excess_over_buy_and_hold")},
        "verdict": forecast.get("verdict", (forecast.get("h1") or {}).get("verdict")),
        "trained": (manifest.get("forecasts") or {}).get("trained"),
    }


def _check_params(configs: Sequence[PlannedRun]) -> None:
    """Fail before any training when a strategy or one of its parameters is unknown, or a strategy does not fit
    the data (one that ranks a universe on one stock, or the reverse)."""
    from rnnstrategy.api.sources import check_strategy_fits
    from rnnstrategy.backtrader.registry import load_strategy

    for planned in configs:
        config = planned.config
        try:
            strategy = load_strategy(config.backtest.strategy)
            strategy.check_params(config.backtest.params)
            check_strategy_fits(strategy, config, planned.universe)
        except ConfigError as exc:
            raise ConfigError(f"sweep configuration {planned.name}: {exc}") from None


def sweep(
    definition: str | Path | SweepSpec,
    out: str | Path,
    *,
    store: str | Path | None = DEFAULT_STORE,
    threads: int | None = None,
    on_run: Callable[[dict[str, Any]], None] | None = None,
    on_fold: Callable[[FoldReport], None] | None = None,
    executor: str = "auto",
    workers: int | None = None,
) -> dict[str, Any]:
    """Run every configuration of a sweep into ``out/<name>/``, compare them, and judge the best.

    A forecaster configuration is trained once per source (the first of its runs goes through
    the fold store; its strategy variants trade the same forecasts: a universe's first run forecasts every
    stock into its folder, the variants read them from there). A folder whose
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
        on_fold: called after each fold is fitted or loaded (here; not in a Ray task).
        executor: ``"auto"``: every configuration here, one after another; ``"ray"``: the configurations that
            train a forecaster as Ray tasks first (``RAY_ADDRESS``, a joined cluster, or a local one), then their
            strategy variants here, with the same results (:mod:`rnnstrategy.api.sweep_tasks`).
        workers: Ray tasks at a time (default: the cluster's CPUs).

    Returns:
        What ``out/sweep.json`` holds: each configuration's name, settings and headline
        metrics (a universe's also ``forecasts_from``, the folds it ``trained`` and the daily ``rank_ic``), the
        best one, its deflated Sharpe ratio and the SPA p-values (``spa_pvalue`` against buy-and-hold; ``spa``:
        against buy-and-hold and the benchmark; see the module docstring).
    """
    check_sweep_executor(executor, workers)
    spec = definition if isinstance(definition, SweepSpec) else load_sweep(definition)
    out = Path(out)
    configs = expand(spec)
    planned_runs = plan(configs, out)
    _check_params(planned_runs)
    remote = {} if executor != "ray" else run_forecasters(planned_runs, out, finished=_finished, store=store,
                                                          threads=threads, workers=workers)
    rows: list[dict[str, Any]] = []
    last: tuple[str, pd.DataFrame] | None = None  # the one-stock forecaster group just run and its forecast frame
    for done, planned in enumerate(planned_runs, start=1):
        name, config, folder = planned.name, planned.config, out / planned.name
        if name in remote:  # ran as a Ray task; its one-stock forecasts go on to its strategy variants
            status, metrics, manifest = "ran", remote[name].metrics, remote[name].manifest
            if remote[name].forecasts is not None:
                last = (forecaster_group(config), remote[name].forecasts)
        elif _finished(folder, config):
            status = "resumed"
            metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
            manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        else:
            status = "ran"
            result, last = _run_one(planned, folder, last, store=store, threads=threads, on_fold=on_fold)
            metrics, manifest = result.metrics, result.manifest
            log.info("sweep %s: %s", name, "; ".join(result.summary()))
        row = {"name": name, "status": status, "done": done, "total": len(configs),
               "config": _plain(config.to_dict()), **_headline(metrics, manifest)}
        if planned.universe:
            row |= universe_row(folder, manifest, planned.forecasts_from)
        rows.append(row)
        if on_run is not None:
            on_run(row)
    summary = _judge(rows, out)
    payload = json.dumps(_plain(summary), indent=1, ensure_ascii=False, allow_nan=False).encode("utf-8")
    atomic_write_bytes(out / "sweep.json", payload)
    return summary


def _run_one(planned: PlannedRun, folder: Path, last: tuple[str, pd.DataFrame] | None, *,
             store: str | Path | None, threads: int | None, on_fold: Callable[[FoldReport], None] | None,
             ) -> tuple[BacktestRun | UniverseBacktestRun, tuple[str, pd.DataFrame] | None]:
    """Run one configuration into ``folder``, and the forecasts the next one of its group may trade: a universe
    forecasts into its folder (or reads the group's, see :func:`~rnnstrategy.api.sweep_forecasts.plan`); one stock
    trades the forecast frame of the group just run (``last``), else trains and hands its frame on."""
    config = planned.config
    if planned.universe:
        result = run(config, store=store, threads=threads, on_fold=on_fold, out=folder)
        result.write(folder)
        return result, last
    group = forecaster_group(config)
    reused = last[1] if last is not None and last[0] == group else None  # a group's runs are adjacent
    result = run(config, store=store, threads=threads, on_fold=on_fold,
                 forecasts=None if reused is None else _as_reused(reused))
    result.write(folder)
    return result, (group, result.forecasts if reused is None else reused)


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
        "spa": None,
        "compare": "compare/compare.html",
    }
    from rnnstrategy.report.compare import (
        compare_runs,  # matplotlib: loaded when a sweep is judged
    )

    compare = compare_runs([out / name for name in names], out / "compare", trials=len(names), names=names)
    spa = compare["spa"]
    summary["spa_pvalue"] = spa["pvalue_consistent"]
    summary["spa_pvalue_best_alone"] = None if best is None else (spa.get("pvalue_alone") or {}).get(names[best])
    best_name = None if best is None else names[best]
    summary["spa"] = {"buy_and_hold": _spa_record(spa, best_name),
                      "benchmark": _spa_record(compare.get("spa_benchmark"), best_name)}
    if best is not None:
        summary.update(_deflated(out, names, best))
    return summary


def _spa_record(spa: Mapping[str, Any] | None, best: str | None) -> dict[str, Any] | None:
    """One SPA verdict of the compare page as ``sweep.json`` holds it: the baseline's title, the p-value over every
    configuration, the best configuration's alone, whether the best beats the baseline, and the sentence."""
    if not spa:
        return None
    return {"title": spa.get("benchmark"), "pvalue": spa.get("pvalue_consistent"),
            "pvalue_best_alone": (spa.get("pvalue_alone") or {}).get(best), "beats": spa.get("beats"),
            "sentence": spa.get("sentence")}


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
