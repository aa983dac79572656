"""Waiting for threads that write into the caller's tensors, through a Ctrl-C.

The compiled kernel's chunks (:mod:`~rnnstrategy.forecasting.batched.native`) and the fold workers
(:mod:`~rnnstrategy.forecasting.fold_workers`) write through raw addresses into tensors that the
calling thread owns. An interrupt raised in the calling thread (Ctrl-C, or SIGTERM's exception) must
therefore not unwind it while they run: the tensors would be freed under them (the process crashed
with SIGSEGV after about one Ctrl-C in three during training, before this wait).
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["settle"]


def settle(wait: Callable[[], None], stop: Callable[[], None]) -> None:
    """Call ``wait`` until it returns; an interrupt meanwhile calls ``stop`` (so that the threads end
    soon: cancel what has not begun) and is raised again once ``wait`` has returned.

    ``wait`` must be safe to call again after an interrupt cut it short. The first interrupt is the one
    raised; a later one (a second Ctrl-C) only stops again.
    """
    interrupt: BaseException | None = None
    while True:
        try:
            wait()
            break
        except BaseException as exc:  # noqa: BLE001 - KeyboardInterrupt, SystemExit from a signal handler
            interrupt = interrupt or exc
            stop()
    if interrupt is not None:
        raise interrupt
