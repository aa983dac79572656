"""Workers of a universe run end with their parent within a moment, however it ends (``kill -9``
included) and however loaded the machine is.

A process-pool worker arms its death signal (:mod:`rnnstrategy.universe.worker_start`) before
it imports anything heavy. The kill test may wait as long as a loaded machine needs for the
workers to start, but once the parent has died its workers and resource tracker must be gone
within :data:`GONE_WITHIN_S`: killed while they are still starting up (importing) and while they
work.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import alive, descendants, tiny_args

from rnnstrategy import datasets

psutil = pytest.importorskip("psutil", reason="psutil lists the worker processes")
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="kills a process group with SIGKILL and watches it die (Linux)")

START_WITHIN_S = 180.0
"""How long the workers may take to start (appear, or load PyTorch): long, for a loaded machine."""
GONE_WITHIN_S = 2.0
"""How long a worker (or the resource tracker) may outlive its parent."""


def _workers(children: list[psutil.Process]) -> list[psutil.Process]:
    """The process-pool workers among ``children`` (started by multiprocessing's ``spawn_main``)."""
    found = []
    for process in children:
        try:
            if "spawn_main" in " ".join(process.cmdline()):
                found.append(process)
        except psutil.Error:  # ended while listed
            pass
    return found


def _has_torch(process: psutil.Process) -> bool:
    """Whether ``process`` has loaded PyTorch (so it is past its worker initializer, working)."""
    try:
        return "libtorch" in Path(f"/proc/{process.pid}/maps").read_text()
    except OSError:
        return False


def _started(proc: subprocess.Popen, moment: str) -> list[psutil.Process]:
    """The two workers once they exist (``starting``) or have loaded PyTorch (``working``)."""
    deadline = time.monotonic() + START_WITHIN_S
    workers: list[psutil.Process] = []
    while time.monotonic() < deadline and proc.poll() is None:
        workers = _workers(descendants(proc.pid))
        if len(workers) >= 2 and (moment == "starting" or all(_has_torch(p) for p in workers)):
            return workers
        time.sleep(0.05 if moment == "starting" else 0.2)
    return []


@pytest.mark.parametrize("moment", ["starting", "working"])
@pytest.mark.parametrize("signal_name", ["SIGKILL", "SIGTERM"])
def test_killing_a_universe_run_ends_its_workers_and_resource_tracker(tmp_path: Path, signal_name: str,
                                                                     moment: str) -> None:
    folder = tmp_path / "bars"
    folder.mkdir()
    for name in ("a", "b", "c", "d"):  # four long runs of the sample: minutes of work for two workers
        (folder / f"{name}.csv").write_bytes(datasets.path("moutai").read_bytes())
    command = [sys.executable, "-m", "rnnstrategy.cli", "--quiet", "forecast", str(folder), *tiny_args(), "--no-store",
               "--start", "2011-01-04", "--executor", "process", "--workers", "2", "--threads", "1",
               "--out", str(tmp_path / "out")]
    errors = tmp_path / "stderr.txt"
    with errors.open("wb") as stderr:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
    children: list[psutil.Process] = []
    try:
        workers = _started(proc, moment)
        assert proc.poll() is None, errors.read_text()
        assert len(workers) >= 2, (f"no two process-pool workers {moment} within {START_WITHIN_S:.0f} s: "
                                   f"{[p.cmdline() for p in descendants(proc.pid)]}")
        children = descendants(proc.pid)  # the workers and multiprocessing's resource tracker
        getattr(proc, "kill" if signal_name == "SIGKILL" else "terminate")()
        proc.wait(timeout=10)
        died = time.monotonic()
        while time.monotonic() < died + GONE_WITHIN_S and any(alive(p) for p in children):
            time.sleep(0.02)
        gone = time.monotonic() - died
        left = [(p.pid, p.cmdline()) for p in children if alive(p)]
        assert not left, f"still running {gone:.2f} s after {signal_name} of their parent ({moment}): {left}"
        print(f"{signal_name} while {moment}: {len(children)} descendants gone {gone:.2f} s after the parent")
    finally:
        if proc.poll() is None:
            proc.kill()
        for process in children:  # nothing should be left; do not leak it into other tests
            if alive(process):
                process.kill()


def test_a_worker_imports_nothing_heavy_before_its_death_signal_is_armed() -> None:
    """What a spawned worker imports before its initializer runs loads no third-party package.

    That is the worker initializer's module (and the packages above it), and the parent's
    ``__main__`` when it is a script (re-run as ``__mp_main__``): the ``rnnstrategy`` entry point
    imports :mod:`rnnstrategy.cli` (``python -m rnnstrategy.cli``'s ``__main__`` is not re-run).
    """
    code = ("import sys; before = set(sys.modules); import rnnstrategy.cli, rnnstrategy.universe.worker_start; "
            "print(' '.join(sorted(set(sys.modules) - before)))")
    loaded = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    outside = sorted({name.split(".")[0] for name in loaded} - set(sys.stdlib_module_names) - {"rnnstrategy"})
    assert not outside, f"imported before a worker's death signal is armed: {outside}"
