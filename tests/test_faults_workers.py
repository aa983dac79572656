"""Workers of a universe run end with their parent, however it ends (``kill -9`` included)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import tiny_args

from rnnstrategy import datasets

psutil = pytest.importorskip("psutil", reason="psutil lists the worker processes")
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="kills a process group with SIGKILL and watches it die (Linux)")


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _alive(process: psutil.Process) -> bool:
    try:  # a dead worker re-parented to a PID 1 that does not reap stays a zombie: it is dead all the same
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.parametrize("signal_name", ["SIGKILL", "SIGTERM"])
def test_killing_a_universe_run_ends_its_workers_and_resource_tracker(tmp_path: Path, signal_name: str) -> None:
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
        deadline = time.monotonic() + 60
        workers: list[psutil.Process] = []
        while time.monotonic() < deadline and proc.poll() is None:
            children = _descendants(proc.pid)
            workers = [p for p in children if "spawn_main" in " ".join(p.cmdline())]
            if len(workers) >= 2:
                break
            time.sleep(0.2)
        assert proc.poll() is None, errors.read_text()
        assert len(workers) >= 2, f"no process-pool workers started: {[p.cmdline() for p in _descendants(proc.pid)]}"
        time.sleep(1.0)  # let them start training (and torch start its threads)
        children = _descendants(proc.pid)  # the workers and multiprocessing's resource tracker
        getattr(proc, "kill" if signal_name == "SIGKILL" else "terminate")()
        proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(_alive(p) for p in children):
            time.sleep(0.1)
        left = [(p.pid, p.cmdline()) for p in children if _alive(p)]
        assert not left, f"still running 5 s after {signal_name} of their parent: {left}"
    finally:
        if proc.poll() is None:
            proc.kill()
        for process in children:  # nothing should be left; do not leak it into other tests
            if _alive(process):
                process.kill()
