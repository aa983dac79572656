"""Progress of long work on stderr, wherever stderr goes.

:func:`progress` gives a tqdm bar in a terminal, plain lines every :data:`LINE_EVERY_S` seconds when stderr
is a file or a pipe (a log showed nothing for half a minute), and nothing with ``--quiet``. Either way the
time left is shown only once there is evidence for it (:data:`EVIDENCE_STEPS` steps over
:data:`EVIDENCE_S` seconds since the first step) and measured from the first step: the bar is made before
the data is loaded and the first model trained, so a rate counted from its creation promised 19:46 for a
76 s run (and a backtest 44:08:48).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any, Self, TextIO

from tqdm import tqdm

__all__ = ["EVIDENCE_S", "EVIDENCE_STEPS", "LINE_EVERY_S", "LineProgress", "progress"]

LINE_EVERY_S = 10.0
"""How often a progress line is written when stderr is not a terminal (besides the first and the last)."""
EVIDENCE_STEPS = 3
"""Steps after the first that a time left needs (with :data:`EVIDENCE_S`)."""
EVIDENCE_S = 5.0
"""Seconds after the first step that a time left needs (with :data:`EVIDENCE_STEPS`)."""
_NO_ETA = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<?{postfix}]"


class _Steady:
    """The rate of steps since the first one, once there is evidence for it."""

    def __init__(self) -> None:
        self.first: tuple[float, float] | None = None  # (time, count) just after the first step

    def note(self, count: float, now: float) -> None:
        """A step has brought the count to ``count`` at ``now``."""
        if self.first is None and count:
            self.first = (now, count)

    def rate(self, count: float, now: float) -> float | None:
        """Steps per second since the first step, or None while the evidence is short."""
        if self.first is None:
            return None
        seconds, steps = now - self.first[0], count - self.first[1]
        return steps / seconds if steps >= EVIDENCE_STEPS and seconds >= EVIDENCE_S else None


class _Bar(tqdm):
    """A tqdm bar whose time left (and rate) counts from the first step, shown once there is evidence."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._steady = _Steady()  # before tqdm's own __init__, which draws the bar
        super().__init__(*args, **kwargs)

    def update(self, n: float | None = 1) -> bool | None:
        shown = super().update(n)
        self._steady.note(self.n, time.time())
        return shown

    @property
    def format_dict(self) -> dict[str, Any]:
        values = super().format_dict
        rate = self._steady.rate(self.n, time.time())
        if rate is None:
            values["rate"] = None
            if values.get("total") and values.get("bar_format") is None:
                values["bar_format"] = _NO_ETA
        else:
            values["rate"] = rate
        return values


class LineProgress:
    """What the command line uses of a tqdm bar (``total``, ``n``, ``unit``, :meth:`update`,
    :meth:`set_postfix`, iteration, a context), written as plain lines: the first step, then at most one
    line every :data:`LINE_EVERY_S` seconds, and the last when it closes. With ``heartbeat``, a line every
    ``every`` seconds without a step too (from a daemon thread), so that a log shows the work before the first
    step is done (loading, the first models trained)."""

    def __init__(self, iterable: Iterable[Any] | None = None, *, desc: str, unit: str, total: float | None = None,
                 file: TextIO | None = None, every: float = LINE_EVERY_S, heartbeat: bool = False) -> None:
        self.iterable, self.desc, self.unit, self.every = iterable, desc, unit, every
        self.total = total if total is not None else _length(iterable)
        self.n: float = 0
        self.file = file
        self.postfix: dict[str, Any] = {}
        self._start = time.monotonic()
        self._written: float | None = None  # when the last line was written
        self._steady = _Steady()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        if heartbeat:
            threading.Thread(target=self._beat, name="rnnstrategy-progress", daemon=True).start()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, error: type[BaseException] | None, *rest: object) -> None:
        if error is None:
            self.close()
        else:  # interrupted or failed: no "done" line
            self._closed.set()

    def __iter__(self) -> Iterator[Any]:
        """The items, counted; closed at the end, as a tqdm bar is (no "done" line when the loop stops early)."""
        finished = False
        try:
            for item in self.iterable or ():
                yield item
                self.update()
            finished = True
        finally:
            if finished:
                self.close()
            else:
                self._closed.set()

    def set_postfix(self, refresh: bool = True, **values: Any) -> None:
        self.postfix = values

    def update(self, n: float = 1) -> None:
        if not n:
            return
        now = time.monotonic()
        self.n += n
        self._steady.note(self.n, now)
        if self._written is None or now - self._written >= self.every:
            self._write(now)

    def close(self) -> None:
        self._closed.set()
        if self.n and self._written is not None:
            self._write(time.monotonic(), last=True)
            self._written = None
            self.n = 0  # a second close writes nothing

    def line(self, now: float, last: bool = False) -> str:
        """The progress line at ``now`` (``time.monotonic()``)."""
        if not self.n:
            return f"{self.desc}: no {self.unit} finished yet, after {tqdm.format_interval(now - self._start)}"
        done = f"{self.n:g}/{self.total:g} {self.unit}s" if self.total else \
            f"{self.n:g} {self.unit}{'' if self.n == 1 else 's'}"
        if self.total and not last:
            done += f" ({100 * self.n / self.total:.0f}%)"
        when = f"{'done in' if last else 'after'} {tqdm.format_interval(now - self._start)}"
        rate = self._steady.rate(self.n, now)
        if rate and self.total and not last and self.n < self.total:
            when += f", about {tqdm.format_interval((self.total - self.n) / rate)} left"
        details = ", ".join(f"{key}={value}" for key, value in self.postfix.items())
        return f"{self.desc}: {done}, {when}" + (f" ({details})" if details and not last else "")

    def _write(self, now: float, last: bool = False) -> None:
        with self._lock:
            print(self.line(now, last), file=self.file or sys.stderr, flush=True)
            self._written = now

    def _beat(self) -> None:
        """Write a line whenever ``every`` seconds have passed without one, until closed."""
        while not self._closed.wait(self.every / 4):
            now = time.monotonic()
            if now - (self._written or self._start) >= self.every and not self._closed.is_set():
                self._write(now)


def progress(iterable: Iterable[Any] | None = None, *, desc: str, unit: str, quiet: bool = False,
             total: float | None = None, leave: bool = True) -> tqdm | LineProgress:
    """Progress of ``desc`` counted in ``unit`` (over ``iterable`` if given): a bar when stderr is a terminal,
    :class:`LineProgress` lines when it is not (a line every :data:`LINE_EVERY_S` seconds from the start, unless
    it is a stage's bar that does not stay, ``leave`` False), nothing when ``quiet``."""
    if quiet:
        return tqdm(iterable, desc=desc, unit=unit, total=total, disable=True)
    if _is_terminal(sys.stderr):
        return _Bar(iterable, desc=desc, unit=unit, total=total, leave=leave)
    return LineProgress(iterable, desc=desc, unit=unit, total=total, heartbeat=leave)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stream
        return False


def _length(iterable: Iterable[Any] | None) -> int | None:
    try:
        return len(iterable)  # type: ignore[arg-type]
    except TypeError:
        return None
