"""A pooled run's folds as tasks of an executor: Ray (``executor="ray"``), or here, one after another.

Folds are independent given the panel (each learns only from the labels known by its retrain day), so each
is one task: the fold's job (its retrain day and store keys) with the run's
:class:`~rnnstrategy.forecasting.pooled.walkforward.FoldPlan` (the panel, the model, the fold store), which
:func:`~rnnstrategy.universe.executors.run_tasks` puts in Ray's object store once for every task. A fold's
ensemble members train inside its task, as one stacked computation (splitting them would undo it). Warm-started
folds form a chain (each starts from the previous fold's weights): they run as one task, in order.

Each task writes its model and scores through the fold store (atomically), so a run that crashed or was
stopped resumes with the folds that finished; on a multi-node cluster the store must be on a path every node
shares. The forecasts are assembled in fold order by
:func:`~rnnstrategy.forecasting.pooled.walkforward.pooled_walk_forward`, so they equal, bit for bit, those of
a run here (tasks run with one thread each; forecasts do not depend on the thread count). Ctrl-C ends the
tasks as for any universe run (:mod:`rnnstrategy.universe.executors`). Tasks take CPUs only: a CUDA device is
refused (train on the GPU here instead).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field

from rnnstrategy.errors import ConfigError, RnnStrategyError
from rnnstrategy.forecasting.foldstore import recorded_warnings
from rnnstrategy.forecasting.pooled.walkforward import (
    FoldJob,
    FoldPlan,
    FoldScores,
    local_folds,
)
from rnnstrategy.universe.executors import Outcome, run_tasks
from rnnstrategy.universe.summary import NOTED_LOGGERS

__all__ = ["FOLD_EXECUTORS", "TaskFolds", "fold_runner", "run_fold_task"]

log = logging.getLogger(__name__)

FOLD_EXECUTORS = ("ray",)
"""The executors that run a pooled run's folds as tasks; any other runs them here, one after another."""


def fold_runner(executor: str, workers: int | None = None, retries: int = 1, threads: int | None = None,
                device: str = "cpu") -> TaskFolds | None:
    """The fold runner ``executor`` asks for: :class:`TaskFolds` for one of :data:`FOLD_EXECUTORS`, else None
    (the folds run here). A task takes CPUs only, so a CUDA ``device`` is refused with Ray (``"auto"`` trains on
    what a task sees: Ray hides the GPUs from tasks that ask for none)."""
    if executor not in FOLD_EXECUTORS:
        return None
    if device.startswith("cuda"):
        raise ConfigError(f"device={device!r} with executor={executor!r}: pooled folds on Ray train on CPUs; use "
                          "--device cpu with --executor ray, or train on the GPU here (leave out --executor ray)")
    return TaskFolds(executor, workers, retries, threads)


@dataclass
class TaskFolds:
    """A :data:`~rnnstrategy.forecasting.pooled.walkforward.FoldRunner` that runs the folds as tasks of
    ``executor`` (see the module docstring); ``notes`` collects the warnings the tasks recorded (damaged fold-store
    entries, recomputed), which are logged here again."""

    executor: str
    workers: int | None = None
    retries: int = 1
    threads: int | None = None
    notes: list[str] = field(default_factory=list)

    def __call__(self, jobs: Sequence[FoldJob], plan: FoldPlan) -> Iterator[FoldScores]:
        chains = [tuple(jobs)] if plan.config.warm_start else [(job,) for job in jobs]
        if plan.config.warm_start and len(jobs) > 1:
            log.info("warm-started folds start from each other's weights: the %d folds run as one task", len(jobs))
        outcomes = run_tasks(run_fold_task, chains, self.executor, retries=self.retries, workers=self.workers,
                             threads=self.threads or 1, shared=(plan,))
        with closing(outcomes):  # an error, or a caller that stops reading, ends the tasks still running now
            yield from self._scores(outcomes, chains, plan)

    def _scores(self, outcomes: Iterator[Outcome], chains: list[tuple[FoldJob, ...]],
                plan: FoldPlan) -> Iterator[FoldScores]:
        for outcome in outcomes:
            first = chains[outcome.index][0]
            if not outcome.ok:
                raise RuntimeError(f"pooled fold {first.fold + 1}/{plan.folds} "
                                   f"({plan.panel.calendar[first.p].date()}) failed after {outcome.attempts} "
                                   f"attempt(s) on the {self.executor} executor: {outcome.error}")
            if isinstance(outcome.value, RnnStrategyError):  # bad input, not a crash: raised as a run here would
                raise outcome.value
            scores, notes = outcome.value
            for note in notes:
                log.warning("pooled fold %d: %s", first.fold + 1, note)
            self.notes += notes
            yield from scores


def run_fold_task(chain: tuple[FoldJob, ...], plan: FoldPlan,
                  ) -> tuple[list[FoldScores], list[str]] | RnnStrategyError:
    """What a worker runs: the folds of ``chain`` in order, with the warnings they logged; an error about the
    input (too few samples, a device this machine lacks) is handed back, not retried."""
    try:
        with recorded_warnings(*NOTED_LOGGERS) as notes:
            return list(local_folds(chain, plan)), notes
    except RnnStrategyError as exc:
        return exc
