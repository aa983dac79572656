"""Ctrl-C and ``kill`` end any command the same way: one line, exit 130 (SIGTERM: 143), no traceback, no crash.

While a command runs, :func:`interruptible` turns SIGINT into :class:`KeyboardInterrupt` and SIGTERM into
:class:`Terminated` (a kind of it), raised in the main thread, so the run unwinds as for any error: the
compiled kernels' threads finish their chunk first (:mod:`rnnstrategy.forecasting.batched.native`), a
universe run's workers are ended (:mod:`rnnstrategy.universe.executors`), an atomic write removes its
temporary file, and no output file is ever half written. A second signal while the run unwinds does not
cut that short (a traceback from inside a ``finally``); one more after :data:`FORCE_AFTER_S` seconds
ends the process at once (``os._exit``), for a clean-up that hangs. An interrupt that Python swallows (one
handled inside a ``__del__`` method or a weakref callback, such as importlib's for a freed module lock) is
sent again once the main thread has left it, so the run still stops (:class:`_Handler`).

The command line's own process (``main()`` without ``argv``) ignores both signals once the command has
returned: an interrupt while the interpreter shuts down killed it (exit -2) after the work was done. And an
interrupt that was handled is forgotten (:func:`forget_interrupt`), else the interpreter may kill itself with
SIGINT on its way out (exit -2 after "interrupted").

A signal that comes before ``main`` runs (Python's own start-up and ``import rnnstrategy.cli``, about 0.1 s)
meets Python's default handling.
"""

from __future__ import annotations

import _thread
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

__all__ = ["EXIT_INTERRUPTED", "EXIT_TERMINATED", "FORCE_AFTER_S", "Terminated", "exit_code", "forget_interrupt",
           "interrupt_behind", "interruptible", "message"]

EXIT_INTERRUPTED = 130
"""Exit code after Ctrl-C (SIGINT): 128 + 2, as shells report it."""
EXIT_TERMINATED = 143
"""Exit code after SIGTERM (``kill PID``): 128 + 15."""
FORCE_AFTER_S = 3.0
"""A signal this long after the first, while the run still unwinds, ends the process at once."""
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as Ctrl-C is (every clean-up that handles an interrupt handles it)."""


def exit_code(interrupt: KeyboardInterrupt) -> int:
    """130 for Ctrl-C, 143 for SIGTERM."""
    return EXIT_TERMINATED if isinstance(interrupt, Terminated) else EXIT_INTERRUPTED


def interrupt_behind(error: BaseException) -> KeyboardInterrupt | None:
    """The interrupt an error was raised from, if any. An interrupt that lands while a compiled module
    initialises comes back as that module's ``ImportError("initialization failed")`` (pybind11 raises it
    *from* the interrupt), so the command unwinds with an error whose cause is the Ctrl-C."""
    seen: set[int] = set()
    link: BaseException | None = error
    while link is not None and id(link) not in seen:
        if isinstance(link, KeyboardInterrupt):
            return link
        seen.add(id(link))
        link = link.__cause__ or link.__context__
    return None


def message(interrupt: KeyboardInterrupt) -> str:
    """The one line printed when a command was interrupted."""
    return "rnnstrategy: terminated (SIGTERM)" if isinstance(interrupt, Terminated) else "rnnstrategy: interrupted"


@contextmanager
def interruptible(restore: bool = True) -> Iterator[None]:
    """Within the block, SIGINT raises :class:`KeyboardInterrupt` and SIGTERM :class:`Terminated`, once (later
    signals are ignored; see the module notes). After it, the handlers before are restored, or with
    ``restore`` False both signals are ignored (the process is about to exit with its code). Outside the
    main thread (where signals cannot be handled) it changes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = _Handler()
    previous = {signum: signal.signal(signum, handler.on_signal) for signum in SIGNALS}
    sys.unraisablehook = handler.on_unraisable
    try:
        yield
    finally:
        handler.close()
        if sys.unraisablehook == handler.on_unraisable:  # else somebody replaced it since: theirs stays
            sys.unraisablehook = handler.unraisable_before
        for signum, handler_before in previous.items():  # None: a handler not installed from Python
            signal.signal(signum, (handler_before or signal.SIG_DFL) if restore else signal.SIG_IGN)


class _Handler:
    """The signal handler :func:`interruptible` installs, and the interrupt it raised.

    Python swallows an exception raised where nothing can catch it: a ``__del__`` method, or a weakref callback
    such as the one importlib runs when a module's lock is freed (it prints "Exception ignored in ..." and goes
    on). A Ctrl-C handled there would be lost and the run would go on to its end, so an interrupt of ours that
    reaches :data:`sys.unraisablehook` is sent to the main thread again once it has left the hook, and is
    raised where the run can unwind from it."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.raised: KeyboardInterrupt | None = None
        self.unraisable_before: Callable[[Any], object] = sys.unraisablehook
        self.sending = threading.Lock()  # held while the signal is sent again; the block closes under it
        self.open = True

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        if not self.open:  # a signal sent again as the block ended: the command is over
            return
        if self.first is not None:  # the run is unwinding from the first signal: let its clean-up finish
            if time.monotonic() - self.first >= FORCE_AFTER_S:
                _force_exit(signum)
            return
        self.first = time.monotonic()
        self.raised = Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()
        raise self.raised

    def on_unraisable(self, unraisable: Any) -> None:
        if self.raised is None or unraisable.exc_value is not self.raised:
            self.unraisable_before(unraisable)
            return
        signum = signal.SIGTERM if isinstance(self.raised, Terminated) else signal.SIGINT
        self.first = self.raised = None  # swallowed: the next one is raised again
        threading.Thread(target=self._resend, args=(signum,), name="rnnstrategy-resend-interrupt",
                         daemon=True).start()

    def _resend(self, signum: int) -> None:
        """Send the signal to the main thread once no frame of :meth:`on_unraisable` is on its stack (a signal
        handled inside the hook would be swallowed again)."""
        main = threading.main_thread().ident
        hook = _Handler.on_unraisable.__code__
        while True:
            with self.sending:
                frame = sys._current_frames().get(main) if self.open and main is not None else None
                if frame is None:  # the block has ended, or the main thread has
                    return
                while frame is not None and frame.f_code is not hook:
                    frame = frame.f_back
                if frame is None:
                    if hasattr(signal, "pthread_kill"):
                        signal.pthread_kill(main, signum)  # a real signal: it also wakes a blocking call
                    else:  # Windows: the handler runs at the main thread's next Python instruction
                        _thread.interrupt_main(signum)
                    return
            time.sleep(0.001)

    def close(self) -> None:
        """The block has ended: send nothing more, and drop the interrupt (its traceback holds the run's frames)."""
        with self.sending:
            self.open = False
        self.raised = None


def forget_interrupt() -> None:
    """Clear CPython's note of an unhandled KeyboardInterrupt. One raised inside code that ``exec`` runs from a
    string (``dataclasses`` and ``namedtuple`` make their methods so: a Ctrl-C while modules are imported) is
    noted as unhandled even when it is caught further up, and the interpreter then ends by killing itself with
    SIGINT (exit -2, not the code returned). Running a string resets the note."""
    exec("None")  # noqa: S102 - a constant string: running one is what resets the note


def _force_exit(signum: int) -> None:
    """End the process now, without the clean-up that hangs (atomic writes keep every output whole)."""
    code = EXIT_TERMINATED if signum == signal.SIGTERM else EXIT_INTERRUPTED
    try:
        sys.stderr.write(f"rnnstrategy: interrupted again after {FORCE_AFTER_S:.0f} s of clean-up; stopped at once\n")
        sys.stderr.flush()
    finally:
        os._exit(code)
