"""A sweep's forecaster configurations as Ray tasks (``sweep(..., executor="ray")``, ``rnnstrategy sweep FILE
--executor ray``).

The configuration of a sweep that trains a forecaster (the first of its forecaster group, see
:mod:`rnnstrategy.api.sweep_forecasts`) runs as one task: it runs and writes ``out/<name>/`` exactly as the
sweep would here, and hands back its metrics, its manifest and, for one stock, its forecast frame. The group's
strategy variants then run here, as in a local sweep, on those forecasts (one stock: the frame; a universe: the
files the task wrote into its folder). A configuration already finished (resumed) or that trades given
forecasts runs here as before. Each task has one CPU and one thread (``threads`` to change it) and forecasts a
universe in its own process; forecasts do not depend on the thread count, so the results equal a local sweep's.
A task takes CPUs only: a configuration on a CUDA device is refused (sweep it here).

On a multi-node cluster the output folder and the fold store must be on a path every node shares (a task
writes both); on one machine (a local cluster, started here when neither ``RAY_ADDRESS`` nor a joined cluster
is there) nothing needs sharing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnnstrategy.api.definition import run
from rnnstrategy.api.preflight import check_compute
from rnnstrategy.api.sweep_forecasts import PlannedRun, forecaster_group
from rnnstrategy.config import RunConfig
from rnnstrategy.errors import ConfigError, RnnStrategyError

if TYPE_CHECKING:
    import pandas as pd

    from rnnstrategy.universe.executors import Outcome

__all__ = ["SWEEP_EXECUTORS", "ConfigResult", "ConfigTask", "check_sweep_executor", "run_config",
           "run_forecasters"]

log = logging.getLogger(__name__)

SWEEP_EXECUTORS = ("auto", "ray")
"""How a sweep runs its configurations: ``auto``, one after another here; ``ray``, its forecasters as Ray tasks."""


@dataclass(frozen=True)
class ConfigTask:
    """One configuration to run in a worker, into ``folder``, with ``threads`` PyTorch threads."""

    planned: PlannedRun
    folder: str
    store: str | Path | None
    threads: int


@dataclass(frozen=True)
class ConfigResult:
    """What a configuration's task hands back: what ``sweep.json`` reads, and the forecasts its variants trade
    (a one-stock forecast frame; None for a universe, whose forecasts are in its folder)."""

    metrics: dict[str, Any]
    manifest: dict[str, Any]
    summary: list[str]
    forecasts: pd.DataFrame | None


def check_sweep_executor(executor: str, workers: int | None = None) -> None:
    """Refuse an executor a sweep has no use for, and workers below 1, before any work."""
    if executor not in SWEEP_EXECUTORS:
        raise ConfigError(f"executor={executor!r}: a sweep runs its configurations here ('auto') or as Ray tasks "
                          "('ray'; CLI: --executor ray)")
    check_compute(workers=workers)


def run_forecasters(
    planned_runs: Sequence[PlannedRun], out: Path, *, finished: Callable[[Path, RunConfig], bool],
    store: str | Path | None, threads: int | None, workers: int | None, executor: str = "ray", retries: int = 1,
) -> dict[str, ConfigResult]:
    """Run the configurations that train a forecaster, and are not ``finished`` in ``out``, as tasks of
    ``executor`` (``workers`` at a time); return their results by configuration name."""
    # PyTorch comes with it: loaded when a sweep runs on Ray
    from rnnstrategy.universe.executors import run_tasks

    chosen = _forecasters(planned_runs, out, finished)
    if not chosen:
        return {}
    for planned in chosen:
        if str(planned.config.forecast.device).startswith("cuda"):
            raise ConfigError(f"sweep configuration {planned.name}: device={planned.config.forecast.device!r} with "
                              f"executor={executor!r}: a Ray task trains on CPUs; use device = \"cpu\", or sweep here")
    tasks = [ConfigTask(planned, str(out / planned.name), store, threads or 1) for planned in chosen]
    log.info("sweep: %d forecaster configuration(s) as %s tasks", len(tasks), executor)
    results: dict[str, ConfigResult] = {}
    outcomes = run_tasks(run_config, tasks, executor, retries=retries, workers=workers, threads=threads or 1)
    with closing(outcomes):  # an error here ends the tasks still running
        for name, result in _results(outcomes, tasks, executor):
            results[name] = result
            log.info("sweep %s: %s", name, "; ".join(result.summary))
    return results


def _results(outcomes: Iterator[Outcome], tasks: list[ConfigTask], executor: str,
             ) -> Iterator[tuple[str, ConfigResult]]:
    for outcome in outcomes:
        name = tasks[outcome.index].planned.name
        if not outcome.ok:
            raise RuntimeError(f"sweep configuration {name} failed after {outcome.attempts} attempt(s) on the "
                               f"{executor} executor: {outcome.error}")
        if isinstance(outcome.value, RnnStrategyError):  # bad input: raised as a local sweep would
            raise type(outcome.value)(f"sweep configuration {name}: {outcome.value}")
        yield name, outcome.value


def _forecasters(planned_runs: Sequence[PlannedRun], out: Path,
                 finished: Callable[[Path, RunConfig], bool]) -> list[PlannedRun]:
    """The configurations that train: a universe's that forecasts into its own folder, and the first of each run
    of one-stock configurations sharing a forecaster (a group's configurations are adjacent); less the finished."""
    chosen, previous = [], None
    for planned in planned_runs:
        group = forecaster_group(planned.config)
        if planned.universe:
            trains = planned.forecasts_from is None and not planned.config.backtest.forecasts
        else:
            trains = group != previous
        previous = group
        if trains and not finished(out / planned.name, planned.config):
            chosen.append(planned)
    return chosen


def run_config(task: ConfigTask) -> ConfigResult | RnnStrategyError:
    """What a worker runs: one configuration into its folder (a universe forecast in this process); an error about
    the input is handed back, not retried."""
    planned, folder = task.planned, Path(task.folder)
    try:
        if planned.universe:
            result = run(planned.config, store=task.store, threads=task.threads, out=folder, executor="inprocess")
        else:
            result = run(planned.config, store=task.store, threads=task.threads)
        result.write(folder)
    except RnnStrategyError as exc:
        return exc
    return ConfigResult(result.metrics, result.manifest, list(result.summary()),
                        None if planned.universe else result.forecasts)
