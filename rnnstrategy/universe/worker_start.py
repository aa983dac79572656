"""What a process-pool worker runs first: end with its parent, cap its thread pools.

A spawned worker imports this module (to unpickle its initializer) and runs :func:`init_worker`
before it reads any task, so its death signal is armed before anything heavy is imported: under
load an import of PyTorch takes seconds, and a worker that only noticed its parent's death after
it would outlive the parent by as long. This module therefore imports the standard library only,
and so do the packages above it at import time (``rnnstrategy`` and ``rnnstrategy.universe``
import their names on first use).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

__all__ = ["PARENT_POLL_S", "THREAD_VARIABLES", "die_with_parent", "end_if_stopped", "init_worker"]

PARENT_POLL_S = 0.5
"""How often a process-pool worker checks that its parent is alive."""

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
"""The environment variables that cap the thread pools a worker's libraries start."""


def die_with_parent(parent: int) -> None:
    """End this process when ``parent`` dies, however it dies (``kill -9`` included).

    On Linux the kernel sends SIGKILL at the parent's death (``PR_SET_PDEATHSIG``); everywhere a
    daemon thread polls the parent's pid and calls ``os._exit`` once this process is re-parented
    (it runs even while the main thread is blocked writing a result nobody will read). Without
    this, workers of a killed run live on under PID 1, and with them the multiprocessing resource
    tracker, which exits only when the last process holding its pipe does.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
        except (OSError, AttributeError):  # no prctl here: the thread below does it
            pass
    if os.getppid() != parent:  # died before the signal was armed
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(PARENT_POLL_S)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="rnnstrategy-parent-watchdog", daemon=True).start()


_stopped: list[int] = []  # the exit code once SIGTERM came


def _exit_on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM (the parent stopping its workers) unwinds the task, so that an atomic write removes its temporary
    file; :func:`end_if_stopped` then ends the process."""
    _stopped.append(128 + signum)
    raise SystemExit(128 + signum)


def end_if_stopped() -> None:
    """End this worker now if SIGTERM came (called once its task has unwound): a pool worker that caught the
    exit would otherwise wait for its next task."""
    if _stopped:
        os._exit(_stopped[0])


def init_worker(threads: int, parent: int | None = None) -> None:
    """Process-pool worker start: end with the parent ``parent`` (see :func:`die_with_parent`), exit
    cleanly on SIGTERM, then cap every thread pool before any starts. (SIGINT never reaches a worker: it is
    blocked when the parent starts it, see :mod:`rnnstrategy.universe.executors`.)

    OpenMP, MKL and OpenBLAS read :data:`THREAD_VARIABLES` when they load, and PyTorch's
    intra-op pool starts at ``OMP_NUM_THREADS``; each task also runs under
    :func:`~rnnstrategy.forecasting.training.torch_threads` (see
    :mod:`rnnstrategy.universe.executors`), so PyTorch is first imported by the first task.
    """
    if parent is not None:
        die_with_parent(parent)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
