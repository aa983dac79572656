"""Ctrl-C and the processes a universe run starts: they never receive it, their parent does.

A terminal sends Ctrl-C (SIGINT) to its whole process group: to this process, and to every worker and Ray
process it started, each of which then stopped on its own (a traceback from a worker starting up, Ray's
agents left running). :func:`sigint_blocked` starts processes with SIGINT blocked, so that only this process
handles it: it ends its workers itself (:meth:`~rnnstrategy.universe.executors.ProcessExecutor.abandon`,
``ray.shutdown()``). :func:`signals_deferred` holds SIGINT and SIGTERM back while Ray starts, so that an
interrupt does not cut its start in two (processes started but not yet known to ``ray.shutdown()``).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["sigint_blocked", "signals_deferred"]


@contextmanager
def sigint_blocked() -> Iterator[None]:
    """SIGINT blocked in this thread within the block, where the platform can: a process started meanwhile
    inherits the mask and never receives it. This process still gets it (another of its threads takes it, or
    it waits until the block ends)."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextmanager
def signals_deferred() -> Iterator[list[int]]:
    """Within the block SIGINT and SIGTERM are noted (in the list it gives) instead of handled, and SIGINT
    is blocked for the processes started (:func:`sigint_blocked`); after it, the first signal noted is raised
    again, for the handler there was before (the command line's raises KeyboardInterrupt: the caller cleans up
    what the block started).
    Outside the main thread only the mask applies."""
    noted: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        with sigint_blocked():
            yield noted
        return
    previous = {signum: signal.signal(signum, lambda signum, frame: noted.append(signum))
                for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        with sigint_blocked():
            yield noted
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler or signal.SIG_DFL)  # None: a handler not installed from Python
    if noted:
        signal.raise_signal(noted[0])  # now to the handler there was before
