"""Interrupting a command: Ctrl-C (SIGINT to the process group, as a terminal sends it), twice, or SIGTERM, at
any moment ends it with exit 130 (143) and one line, never a crash or a traceback, and leaves no half-written
file. Replays (``rnnstrategy run manifest.json``) record their definition once and write beside the run they
replay. Progress reaches a log file (stderr not a terminal) as plain lines, with no time left before there is
evidence for one.

The interrupted runs forecast the bundled sample with a small model that the compiled kernels train on two
threads, two runs at a time; each signal comes once the command line's handler is installed (before it, during
Python's start-up and ``import rnnstrategy.cli``, Python's default handling applies). The crash this suite
was written for (SIGSEGV after about one Ctrl-C in three during training: the caller freed the tensors the
kernel's threads still wrote into) is pinned by its own test of the kernel's thread pool, which a larger model's
interrupted training only hits at random.
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from helpers import TINY, alive, descendants, digests, tiny_args

from rnnstrategy import datasets
from rnnstrategy.cli import main
from rnnstrategy.cli.progress import EVIDENCE_S, LineProgress, _Bar

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="signals a process group and reads /proc (Linux)")

MODEL = ["--hidden", "32", "--lookback", "30", "--batch-size", "256", "--epochs", "2", "--patience", "0",
         "--retrain-every", "250", "--threads", "2", "--no-store", "--start", "2017-01-01"]
"""Four folds of a GRU of 32 units, trained together on two kernel threads: a few seconds of training."""
RUNS = 20
SEED = 20240527
READY_WITHIN_S = 60.0
"""How long a run may take (a loaded machine) before its interrupt handler is installed."""


@dataclass(frozen=True)
class Ended:
    """How one run ended."""

    plan: str
    code: int
    stderr: str
    out: Path

    @property
    def said(self) -> list[str]:
        """stderr's lines, less the progress lines."""
        return [line for line in self.stderr.replace("\r", "\n").splitlines()
                if line.strip() and not line.startswith("forecast:")]


def _command(out: Path) -> list[str]:
    return [sys.executable, "-m", "rnnstrategy.cli", "forecast", str(datasets.path("moutai")), *MODEL,
            "--out", str(out)]


def _handles_sigterm(pid: int) -> bool:
    """Whether the process has installed its own handler of SIGTERM (the command line's, once ``main`` runs)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = next(int(line.split()[1], 16) for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(caught & (1 << (signal.SIGTERM - 1)))


def _run(out: Path, signals: list[tuple[float, signal.Signals]], plan: str) -> Ended:
    """Run the forecast; once its handler is installed, send each signal after its delay to its process group."""
    with (out.parent / f"{out.name}.stderr").open("w+b") as errors:
        proc = subprocess.Popen(_command(out), stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True)
        try:
            deadline = time.monotonic() + READY_WITHIN_S
            while proc.poll() is None and not _handles_sigterm(proc.pid) and time.monotonic() < deadline:
                time.sleep(0.005)
            for delay, signum in signals:
                time.sleep(delay)
                if proc.poll() is None:
                    os.killpg(proc.pid, signum)
            code = proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
        errors.seek(0)
        return Ended(plan, code, errors.read().decode("utf-8", "replace"), out)


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Ended, float]:
    """An uninterrupted run (its stderr a file, not a terminal) and how long it took."""
    out = tmp_path_factory.mktemp("clean") / "run"
    started = time.monotonic()
    ended = _run(out, [], "none")
    assert ended.code == 0, ended.stderr
    return ended, time.monotonic() - started


def _check_whole(ended: Ended, clean: Path) -> None:
    """No temporary file is left, and every output the run wrote is the clean run's (forecasts) or parses."""
    if not ended.out.exists():
        return
    assert not [p.name for p in ended.out.rglob(".*.tmp")], f"{ended.plan}: temporary files left"
    for path in ended.out.iterdir():
        if path.name == "forecasts.csv":
            assert path.read_bytes() == (clean / "forecasts.csv").read_bytes(), f"{ended.plan}: {path} cut short"
        elif path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))  # a cut JSON file does not parse


def test_interrupting_a_training_run_at_random_moments_never_crashes(
        finished: tuple[Ended, float], tmp_path: Path) -> None:
    clean, seconds = finished
    rng = random.Random(SEED)
    plans: list[tuple[str, list[tuple[float, signal.Signals]]]] = [
        (f"Ctrl-C after {delay:.2f} s", [(delay, signal.SIGINT)])
        for delay in (rng.uniform(0.0, seconds) for _ in range(RUNS))]
    plans += [("SIGTERM", [(seconds / 2, signal.SIGTERM)]),
              ("Ctrl-C twice", [(seconds / 2, signal.SIGINT), (0.05, signal.SIGINT)])]
    with ThreadPoolExecutor(2) as pool:
        ended = list(pool.map(lambda k: _run(tmp_path / f"run{k}", plans[k][1], plans[k][0]), range(len(plans))))
    codes = {}
    for run in ended:
        codes[run.code] = codes.get(run.code, 0) + 1
        assert run.code >= 0, f"{run.plan}: killed by signal {-run.code}: {run.stderr[-2000:]}"
        assert "Traceback" not in run.stderr and "Segmentation fault" not in run.stderr, run.stderr[-2000:]
        terminated = run.plan == "SIGTERM"
        if run.code != 0:  # else it finished first: _check_whole compares its forecasts
            assert run.code == (143 if terminated else 130), f"{run.plan}: exit {run.code}: {run.stderr[-2000:]}"
            assert run.said == ["rnnstrategy: terminated (SIGTERM)" if terminated else "rnnstrategy: interrupted"]
        _check_whole(run, clean.out)
    print(f"exit codes of {len(ended)} interrupted runs: {codes}")
    assert codes.get(130, 0) >= RUNS // 2, f"too few runs were interrupted to judge: {codes}"


def test_progress_reaches_a_log_file(finished: tuple[Ended, float]) -> None:
    lines = [line for line in finished[0].stderr.splitlines() if line.startswith("forecast:")]
    assert lines and lines[-1].startswith("forecast: 4/4 folds, done in "), finished[0].stderr
    assert "\r" not in finished[0].stderr  # no bar redrawn in place


@pytest.mark.parametrize("moment", ["starting", "working"])
def test_ctrl_c_during_a_universe_run_ends_its_workers_at_once(tmp_path: Path, moment: str) -> None:
    """The workers never get the terminal's Ctrl-C (each printed a traceback when it came while they started);
    their parent ends them (SIGTERM, so that a fold-store entry being written leaves no temporary file) and
    exits within a moment (it waited for their running tasks: 4 to 8 s on two cores)."""
    pytest.importorskip("psutil", reason="psutil lists the worker processes")
    folder, store = tmp_path / "bars", tmp_path / "store"
    folder.mkdir()
    for code in ("600000", "600036", "000001", "000002"):  # four stocks: minutes of work for two workers
        text = datasets.path("moutai").read_text(encoding="utf-8")
        (folder / f"{code}.csv").write_text(text.replace(",600519\n", f",{code}\n"), encoding="utf-8")
    command = [sys.executable, "-m", "rnnstrategy.cli", "forecast", str(folder), *tiny_args(), "--store", str(store),
               "--executor", "process", "--workers", "2", "--threads", "1", "--out", str(tmp_path / "out")]
    started = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    workers: list = []
    try:
        deadline = time.monotonic() + 180
        while proc.poll() is None and time.monotonic() < deadline and not (
                any(store.rglob("fold-*")) if moment == "working" else len(_workers(proc.pid)) == 2):
            time.sleep(0.01)  # until the workers exist (importing), or train and store folds
        workers = _workers(proc.pid)
        assert proc.poll() is None and len(workers) == 2, f"the run ended, or its workers were never {moment}"
        os.killpg(proc.pid, signal.SIGINT)
        interrupted = time.monotonic()
        _, errors = proc.communicate(timeout=60)
        took = time.monotonic() - interrupted
    finally:
        if proc.poll() is None:
            proc.kill()
    said = [line for line in errors.decode().splitlines() if not line.startswith("forecast:")]
    assert (proc.returncode, said) == (130, ["rnnstrategy: interrupted"]), errors.decode()[-2000:]
    # waiting for the running tasks took as long as a fold; the bound grows with a busy machine's slower start
    limit = max(3.0, 0.5 * (interrupted - started))
    assert took < limit, f"the run took {took:.1f} s to end after Ctrl-C (at most {limit:.1f} s)"
    assert not [p.pid for p in workers if alive(p)]
    assert not list(store.rglob(".*.tmp")) and not list((tmp_path / "out").rglob(".*.tmp"))


def test_a_second_signal_does_not_cut_the_clean_up_of_the_first_short() -> None:
    from rnnstrategy.cli.interrupts import Terminated, interruptible

    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    cleaned = []
    with interruptible(), pytest.raises(Terminated):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        finally:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the run unwinds from SIGTERM: no second exception
            time.sleep(0.2)
            cleaned.append("done")
    assert cleaned == ["done"]
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


class _CtrlCWhenFreed:
    """A Ctrl-C handled in ``__del__``, where Python swallows any exception ("Exception ignored in ...")."""

    def __del__(self) -> None:
        signal.raise_signal(signal.SIGINT)


class _Plain:
    pass


@pytest.mark.parametrize("where", ["__del__", "weakref callback"])
@pytest.mark.parametrize("sent_by", ["pthread_kill", "interrupt_main (Windows)"])
def test_a_ctrl_c_that_python_swallows_is_raised_again(
        where: str, sent_by: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """CI's case: a Ctrl-C handled inside importlib's weakref callback for a freed module lock was printed as
    "Exception ignored in ... KeyboardInterrupt" and the run went on to its end. It is now raised again as soon
    as the main thread has left the hook: here in the wait that follows, a busy one because ``interrupt_main``
    (used where there is no ``pthread_kill``) does not wake a sleeping thread."""
    from rnnstrategy.cli.interrupts import interruptible

    if sent_by != "pthread_kill":
        monkeypatch.delattr(signal, "pthread_kill")
    hook = sys.unraisablehook
    went_on = []
    with interruptible(), pytest.raises(KeyboardInterrupt):
        if where == "__del__":
            freed: object = _CtrlCWhenFreed()
        else:
            freed = _Plain()
            watch = weakref.ref(freed, lambda _: signal.raise_signal(signal.SIGINT))  # noqa: F841 - kept alive
        del freed
        went_on.append("past the swallowed interrupt")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            pass
        went_on.append("waited on")
    assert went_on == ["past the swallowed interrupt"]
    assert "Exception ignored" not in capsys.readouterr().err
    assert sys.unraisablehook is hook


class _FailsWhenFreed:
    def __del__(self) -> None:
        raise ValueError("not an interrupt")


def test_other_errors_python_swallows_still_reach_the_hook_before(monkeypatch: pytest.MonkeyPatch) -> None:
    from rnnstrategy.cli.interrupts import interruptible

    seen: list[BaseException | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: seen.append(unraisable.exc_value))
    with interruptible():
        _FailsWhenFreed()
        time.sleep(0.05)
    assert [type(error) for error in seen] == [ValueError]


def test_ctrl_c_while_a_compiled_module_initialises_is_an_interrupt(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """CI's case: Ctrl-C while scipy's pybind11 module initialised came back as ``ImportError("initialization
    failed")`` raised from the KeyboardInterrupt, and the command printed a traceback."""
    from rnnstrategy import cli

    def importing(argv: object) -> int:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as interrupt:
            raise ImportError("initialization failed") from interrupt

    monkeypatch.setattr(cli, "_main", importing)
    assert cli.main(["forecast", "x"]) == 130
    assert capsys.readouterr().err.splitlines() == ["rnnstrategy: interrupted"]

    def failing(argv: object) -> int:
        raise ImportError("no module named nothing")

    monkeypatch.setattr(cli, "_main", failing)
    with pytest.raises(ImportError, match="nothing"):  # an error with no interrupt behind it stays an error
        cli.main(["forecast", "x"])


@pytest.fixture
def sigint_raises():
    """SIGINT raises KeyboardInterrupt in this process, as in a terminal: a shell's background job (a CI
    runner's, ``cmd &``) starts with SIGINT ignored, where Python installs no handler of its own."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def test_a_ctrl_c_while_ray_starts_is_raised_once_it_has_started(sigint_raises: None) -> None:
    """Ctrl-C cut ``ray.init`` in two and left Ray's agents running; now Ray starts whole, with SIGINT blocked
    for its processes, and the interrupt comes after, where ``ray.shutdown()`` can end them."""
    from rnnstrategy.universe.interrupts import signals_deferred

    steps = []
    with pytest.raises(KeyboardInterrupt):
        with signals_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            blocked = signal.pthread_sigmask(signal.SIG_BLOCK, set())
            time.sleep(0.1)
            steps.append("started")
        steps.append("not reached")
    assert steps == ["started"] and signal.SIGINT in blocked


def _workers(pid: int) -> list:
    """The process-pool workers of process ``pid`` (started by multiprocessing's ``spawn_main``)."""
    import psutil

    found = []
    for process in descendants(pid):
        try:
            if "spawn_main" in " ".join(process.cmdline()):
                found.append(process)
        except psutil.Error:  # ended while listed
            pass
    return found


# ---------------------------------------------------------------- the compiled kernels' threads


def _compiled_chunk(lo: int, hi: int, running: list, finished: list, seconds: float = 0.5) -> None:
    """A stand-in for a kernel chunk: a C call (libc's usleep through ctypes, which releases the GIL and which
    an interrupt cannot cut, as the compiled loops)."""
    import ctypes

    running.append((lo, hi))
    ctypes.CDLL(None).usleep(int(seconds * 1e6))
    finished.append((lo, hi))


@pytest.mark.parametrize("chunks", [2, 3])
def test_an_interrupt_in_the_kernel_waits_for_the_chunks_still_running(sigint_raises: None, chunks: int) -> None:
    """The chunks write through raw addresses into tensors that the caller frees as it unwinds: a Ctrl-C while
    they run is raised only once none runs (before, the caller unwound at once: SIGSEGV about one time in 3)."""
    import _thread
    import threading

    from rnnstrategy.forecasting.batched.native import _in_parallel

    running: list[tuple[int, int]] = []
    finished: list[tuple[int, int]] = []
    tasks = [lambda k=k: _compiled_chunk(k, k + 1, running, finished) for k in range(chunks)]
    started = time.monotonic()
    threading.Timer(0.1, _thread.interrupt_main).start()  # Ctrl-C while the chunks run
    with pytest.raises(KeyboardInterrupt):
        _in_parallel(tasks)
    assert time.monotonic() - started >= 0.45  # raised once the chunks' 0.5 s had passed
    assert sorted(finished) == sorted(running) == [(k, k + 1) for k in range(chunks)]


def test_a_second_ctrl_c_in_the_kernel_still_waits_and_the_first_is_raised(sigint_raises: None) -> None:
    """Two interrupts while the chunks run: both only stop; the chunks end, then the first is raised."""
    import _thread
    import threading

    from rnnstrategy.forecasting.batched.native import _in_parallel

    running: list[tuple[int, int]] = []
    finished: list[tuple[int, int]] = []
    tasks = [lambda: _compiled_chunk(0, 1, running, finished, 0.2),
             lambda: _compiled_chunk(1, 2, running, finished, 0.8)]
    started = time.monotonic()
    threading.Timer(0.1, _thread.interrupt_main).start()  # while both chunks run
    threading.Timer(0.4, _thread.interrupt_main).start()  # while the longer one runs
    with pytest.raises(KeyboardInterrupt) as raised:
        _in_parallel(tasks)
    assert time.monotonic() - started >= 0.75  # raised once the 0.8 s chunk had ended
    assert sorted(finished) == sorted(running) == [(0, 1), (1, 2)]
    assert raised.value.__context__ is None  # the first interrupt, not the second raised over it


# ---------------------------------------------------------------- progress lines and the time left


def test_progress_lines_come_at_the_first_step_every_interval_and_at_the_end(
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr("rnnstrategy.cli.progress.time.monotonic", lambda: clock[0])
    log = io.StringIO()
    bar = LineProgress(desc="forecast", unit="fold", total=40, file=log, every=10.0)
    for _ in range(40):
        clock[0] += 1.0
        bar.update()
    bar.close()
    assert log.getvalue().splitlines() == [
        "forecast: 1/40 folds (2%), after 00:01",
        "forecast: 11/40 folds (28%), after 00:11, about 00:29 left",
        "forecast: 21/40 folds (52%), after 00:21, about 00:19 left",
        "forecast: 31/40 folds (78%), after 00:31, about 00:09 left",
        "forecast: 40/40 folds, done in 00:40",
    ]
    log = io.StringIO()
    with pytest.raises(KeyboardInterrupt), LineProgress(desc="forecast", unit="fold", total=40, file=log) as bar:
        bar.update()
        raise KeyboardInterrupt
    assert log.getvalue().splitlines() == ["forecast: 1/40 folds (2%), after 00:00"]  # no "done" when interrupted


def test_a_log_hears_of_the_work_before_the_first_step() -> None:
    log = io.StringIO()
    with LineProgress(desc="forecast", unit="fold", file=log, every=0.05, heartbeat=True) as bar:
        time.sleep(0.3)  # loading, the first models training
        bar.update()
    lines = log.getvalue().splitlines()
    assert lines[0].startswith("forecast: no fold finished yet, after 00:00")
    assert lines[-1] == "forecast: 1 fold, done in 00:00"
    log = io.StringIO()
    assert list(LineProgress(["600519", "000001"], desc="fetch", unit="stock", file=log)) == ["600519", "000001"]
    assert log.getvalue().splitlines()[-1] == "fetch: 2/2 stocks, done in 00:00"  # a loop closes it


def test_no_time_left_is_promised_before_there_is_evidence(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [0.0]
    monkeypatch.setattr("rnnstrategy.cli.progress.time.monotonic", lambda: clock[0])
    bar = LineProgress(desc="backtest", unit="bar", total=2000, file=io.StringIO())
    clock[0] = 60.0  # a minute of loading and training before the first step: no 40-hour estimate
    bar.update()
    assert "left" not in bar.line(clock[0])
    clock[0] += EVIDENCE_S - 0.5
    bar.update(100)
    assert "left" not in bar.line(clock[0])  # many steps, too short a time
    clock[0] += 1.0
    bar.update(100)
    assert bar.line(clock[0]).endswith("after 01:05, about 00:49 left")  # 200 bars in the 5.5 s since the first


def test_the_terminal_bar_shows_no_time_left_before_there_is_evidence() -> None:
    bar = _Bar(total=100, desc="folds", file=io.StringIO(), mininterval=0)
    bar.update(1)
    assert "<?" in str(bar)
    bar._steady.first = (bar._steady.first[0] - 2 * EVIDENCE_S, 1)  # as if the first step were long ago
    bar.update(9)
    assert "<?" not in str(bar) and "<01:40" in str(bar)  # 9 folds in the 10 s since the first, 90 to go
    bar.close()


# ---------------------------------------------------------------- replays


ARGS = [*tiny_args(replace(TINY, retrain_every=60)), "--no-store"]
CHECKED = ("trades.csv", "equity.csv", "forecasts.csv", "metrics.json")


@pytest.fixture(scope="module")
def recorded_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small backtest of the sample's last two years, made from a TOML definition (no report drawn)."""
    folder = tmp_path_factory.mktemp("replays")
    lines = datasets.path("moutai").read_text(encoding="utf-8").splitlines()
    (folder / "bars.csv").write_text("\n".join([lines[0]] + [line for line in lines[1:]
                                                             if line.split(",")[1] >= "2018-07-01"]) + "\n")
    (folder / "run.toml").write_text('[data]\nsource = "bars.csv"\n[forecast]\nhidden = [8]\nlookback = 10\n'
                                     'epochs = 3\npatience = 0\nretrain_every = 60\nmin_train = 100\n'
                                     'batch_size = 32\ndevice = "cpu"\n', encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("rnnstrategy.report.folder.render", lambda *args, **kwargs: [])  # the slow part, not judged
        assert main(["-q", "run", str(folder / "run.toml"), "--out", str(folder / "runs" / "r0"), "--no-store"]) == 0
    return folder / "runs" / "r0"


def test_seven_replays_keep_one_definition_the_size_and_the_outputs(
        recorded_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("rnnstrategy.report.folder.render", lambda *args, **kwargs: [])
    original = digests(recorded_run)
    sizes, folder = [], recorded_run
    for k in range(1, 8):
        again = recorded_run.with_name(f"r{k}")
        assert main(["-q", "run", str(folder / "manifest.json"), "--out", str(again), "--no-store"]) == 0
        manifest = json.loads((again / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["config_file"].endswith("run.toml") and "[forecast]" in manifest["config_file_text"]
        assert manifest["replay_of"]["manifest"] == str(folder / "manifest.json")
        assert {name: digests(again)[name] for name in CHECKED} == {name: original[name] for name in CHECKED}
        sizes.append((again / "manifest.json").stat().st_size)
        folder = again
    assert max(sizes) - min(sizes) < 40, sizes  # the timings' digits vary, nothing else
    assert digests(recorded_run) == original  # the replayed run is untouched


def test_a_replay_writes_beside_the_run_and_never_into_it(
        recorded_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("rnnstrategy.report.folder.render", lambda *args, **kwargs: [])
    run = Path(shutil.copytree(recorded_run, tmp_path / "mine"))
    before = digests(run)
    assert main(["-q", "run", str(run / "manifest.json"), "--out", str(run), "--no-store"]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"rnnstrategy: error: --out {run} is the folder of the run being replayed")
    assert "choose another --out, or leave it out to write mine-replay beside it" in error
    assert main(["-q", "run", str(run / "manifest.json"), "--no-store"]) == 0
    assert (tmp_path / "mine-replay" / "manifest.json").is_file()
    assert digests(run) == before


def test_a_replay_of_an_older_nested_manifest_records_the_definition_once(
        recorded_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("rnnstrategy.report.folder.render", lambda *args, **kwargs: [])
    manifest = json.loads((recorded_run / "manifest.json").read_text(encoding="utf-8"))
    nested = dict(manifest)
    for k in range(3):  # what three replays of the older version recorded: each manifest inside the next
        nested = {**manifest, "config_file": f"runs/r{k}/manifest.json", "config_file_text": json.dumps(nested)}
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "manifest.json").write_text(json.dumps(nested), encoding="utf-8")
    assert main(["-q", "run", str(tmp_path / "old" / "manifest.json"), "--no-store"]) == 0
    replayed = json.loads((tmp_path / "old-replay" / "manifest.json").read_text(encoding="utf-8"))
    assert replayed["config_file_text"] == manifest["config_file_text"]  # the TOML, unpacked
    assert replayed["config_file"] == manifest["config_file"]


@pytest.mark.parametrize(("content", "expected"), [
    ("[1, 2]", ("not a run manifest with a 'config' (a JSON list without a 'config' object): give the "
                "manifest.json of a finished backtest, or a TOML definition")),
    ('{"kind": "backtest", "files": {}}', "(a JSON object without a 'config' object)"),
    ('{"kind": "backtest", "config": {"da', "not a run manifest with a 'config' (Unterminated string"),
    ('{"kind": "forecast", "created": "2024-05-27T08:00:00+00:00", "files": {}}',
     "is the manifest of a forecast run, not of a backtest: `rnnstrategy run` replays backtests"),
])
def test_run_names_what_a_file_is_when_it_is_no_backtest_manifest(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, expected: str) -> None:
    (tmp_path / "manifest.json").write_text(content, encoding="utf-8")
    assert main(["-q", "run", str(tmp_path / "manifest.json"), "--no-store"]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"rnnstrategy: error: {tmp_path / 'manifest.json'}") and expected in error
    assert len(error.splitlines()) == 1 and not (tmp_path.parent / f"{tmp_path.name}-replay").exists()
