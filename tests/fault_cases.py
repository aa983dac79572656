"""Fault and bad-input cases of the ``rnnstrategy`` CLI, run for real, as a markdown table (issue 17).

    python tests/fault_cases.py [--out FILE.md] [--only PATTERN] [--keep] [--jobs N]

A tool beside the test suite, not a test module (pytest does not collect it: the cases take minutes);
it shares its file-damage and process helpers with the fault tests through ``tests/helpers.py``.

Every case runs ``python -m rnnstrategy.cli ...`` as a subprocess in a temporary directory with its own
``RNNSTRATEGY_CACHE`` (so the user's cache and fold store are never touched), on a tiny model and small
copies or edits of the bundled Moutai sample. A case names its category (bad input, damaged store, damaged
kernel, run folder, process fault), the command, the exit code it expects and a piece of text that must
appear on stderr (or stdout); a run that recovers from a fault must also end with the forecasts of a
clean run, byte for byte. No case may print a Python traceback unless it asked for one (``-v``).

The table has one row per case: | # | case | category | exit | message / outcome | as expected |. The
script exits 1 when a case did not behave as expected (its command and output are printed after the
table), 0 otherwise. Cases that cannot run here (chmod as root, ``--device cuda`` on a CUDA machine) are
listed as skipped and counted apart. ``--only`` keeps the cases whose name or category matches a
shell-style pattern (``--only '*kernel*'``), for a quick rerun of a few.
"""

from __future__ import annotations

import argparse
import fnmatch
import itertools
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd
from helpers import alive, descendants, digest, digests, flip_two_payload_bytes, strip_checksum

BAD_INPUT, STORE, KERNEL, RUN_FOLDER, PROCESS = ("bad input", "damaged store", "damaged kernel", "run folder",
                                                 "process fault")
TINY = ["--hidden", "4", "--lookback", "5", "--epochs", "1", "--patience", "0", "--retrain-every", "50",
        "--min-train", "100", "--batch-size", "32", "--train-window", "300", "--device", "cpu", "--threads", "1"]
"""A GRU of 4 units on 5-bar windows, one epoch, retrained every 50 bars: four folds on the 300-bar file."""
BAD_DAY = 150  # the row spoilt in the price cases
TRACEBACK = "Traceback (most recent call last)"
ORPHAN_GRACE = 15.0
"""Seconds a killed run's workers get to notice and end: their watchdog polls every second, but a
loaded machine (these cases run side by side) can take several seconds to schedule them."""


@dataclass
class Outcome:
    """What a case saw: its exit code, the line that says what happened, whether that was expected."""

    exit: int | None
    message: str
    ok: bool
    commands: list[str] = field(default_factory=list)
    output: str = ""  # stdout and stderr of the last command, shown for a case that went wrong
    skipped: str = ""


@dataclass
class Case:
    name: str
    category: str
    expected: int
    run: Callable[[Context], Outcome]


CASES: list[Case] = []


def case(name: str, category: str, expected: int):
    def register(function: Callable[[Context], Outcome]) -> Callable[[Context], Outcome]:
        CASES.append(Case(name, category, expected, function))
        return function

    return register


def quoted(argv: list[str]) -> str:
    return " ".join(shlex.quote(str(a)) for a in argv)


def the_line(text: str, want: str = "") -> str:
    """The line of ``text`` that says what happened: the one holding ``want``, else an error line, else a
    warning, else the first."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for test in ((lambda s: bool(want) and want in s), (lambda s: "error:" in s), (lambda s: s.startswith("WARNING")),
                 (lambda s: True)):
        for line in lines:
            if test(line):
                return line
    return "(no output)"


class Context:
    """The temporary directory, its cache, the data files and the clean runs the cases compare with."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cache = root / "cache"
        self.env = {**os.environ, "RNNSTRATEGY_CACHE": str(self.cache), "PYTHONHASHSEED": "0"}
        self.env.pop("RNNSTRATEGY_NATIVE", None)
        self.env.pop("RAY_ADDRESS", None)
        self._numbers = itertools.count(1)
        self._local = threading.local()  # cases run in parallel threads: each has its own commands and output

    @property
    def commands(self) -> list[str]:
        if not hasattr(self._local, "commands"):
            self._local.commands = []
        return self._local.commands

    @commands.setter
    def commands(self, value: list[str]) -> None:
        self._local.commands = value

    @property
    def last_output(self) -> str:
        return getattr(self._local, "last_output", "")

    @last_output.setter
    def last_output(self, value: str) -> None:
        self._local.last_output = value

    def prepare(self, jobs: int) -> None:
        """Make the data and the clean runs before the cases run in parallel (one of each, not one per
        thread): the clean store first (it builds the kernels), then the two other clean runs side by side."""
        _ = self.small, self.day, self.clean_forecasts
        with ThreadPoolExecutor(max_workers=max(1, min(jobs, 2))) as pool:
            for future in [pool.submit(lambda: self.backtest_run), pool.submit(lambda: self.other_forecast_run)]:
                future.result()

    # ---------------------------------------------------------------- running the CLI

    def cli(self, *argv: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "rnnstrategy.cli", *map(str, argv)]
        self.commands.append(quoted(["python", "-m", "rnnstrategy.cli", *map(str, argv)]))
        proc = subprocess.run(command, env=env or self.env, cwd=cwd or self.root, capture_output=True, text=True,
                              timeout=timeout, check=False)
        self.last_output = f"$ {self.commands[-1]}\n[exit {proc.returncode}]\n--- stdout\n{proc.stdout}--- stderr\n{proc.stderr}"
        return proc

    def fresh(self, name: str) -> Path:
        """A new folder path (not created) under the root."""
        return self.root / f"{next(self._numbers):03d}-{name}"

    def outcome(self, proc: subprocess.CompletedProcess, expected: int, want: str = "", *, checks: bool = True,
                note: str = "", traceback_ok: bool = False) -> Outcome:
        """The outcome of ``proc``: expected when its exit code is ``expected``, ``want`` is in its output,
        it printed no traceback (unless ``traceback_ok``) and ``checks`` hold."""
        text = proc.stderr + proc.stdout
        ok = proc.returncode == expected and (not want or want in text) and checks
        if not traceback_ok and TRACEBACK in text:
            ok = False
            note = (note + "; " if note else "") + "printed a traceback"
        message = the_line(proc.stderr if proc.stderr.strip() else proc.stdout, want)
        if note:
            message = f"{message} — {note}"
        return Outcome(proc.returncode, message, ok, output=self.last_output)

    # ---------------------------------------------------------------- data

    @cached_property
    def sample(self) -> Path:
        from rnnstrategy import datasets

        return Path(datasets.path("moutai"))

    @cached_property
    def small(self) -> Path:
        """The last 300 bars of the Moutai sample (2019-01..2020-04), in its own (tushare get_k_data) format."""
        lines = self.sample.read_text(encoding="utf-8").splitlines()
        path = self.root / "data" / "SH600519.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join([lines[0], *lines[-300:]]) + "\n", encoding="utf-8")
        return path

    def frame(self) -> pd.DataFrame:
        return pd.read_csv(self.small, index_col=0, dtype={"code": str})

    @cached_property
    def day(self) -> str:
        return str(self.frame()["date"].iloc[BAD_DAY])

    def variant(self, name: str, change: Callable[[pd.DataFrame], pd.DataFrame | None]) -> Path:
        """A copy of the small file with ``change`` applied to its frame (columns date, open, close, ...)."""
        bars = self.frame()
        changed = change(bars)
        bars = bars if changed is None else changed
        path = self.root / "data" / name / "SH600519.csv"  # the same file name: the same symbol
        path.parent.mkdir(parents=True, exist_ok=True)
        bars.to_csv(path)
        return path

    def text_file(self, name: str, text: str | bytes) -> Path:
        path = self.root / "data" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    # ---------------------------------------------------------------- clean runs

    @cached_property
    def clean_store(self) -> Path:
        """A fold store filled by a clean forecast of the small file (and that run's folder)."""
        store = self.root / "clean" / "store"
        proc = self.cli("-q", "forecast", self.small, "--out", self.root / "clean" / "forecast", *TINY,
                        "--store", store)
        if proc.returncode != 0:
            raise RuntimeError(f"the clean forecast failed:\n{self.last_output}")
        return store

    @cached_property
    def clean_forecasts(self) -> bytes:
        """forecasts.csv of the clean run with a store; a run without a store must give the same bytes."""
        _ = self.clean_store
        return (self.root / "clean" / "forecast" / "forecasts.csv").read_bytes()

    @cached_property
    def clean_kernels(self) -> Path:
        """The compiled kernels the clean run built (an empty folder without a C++ compiler)."""
        _ = self.clean_store
        return self.cache / "kernels"

    def equals_clean(self, folder: Path) -> bool:
        path = folder / "forecasts.csv"
        return path.exists() and path.read_bytes() == self.clean_forecasts

    @cached_property
    def backtest_run(self) -> Path:
        out = self.root / "clean" / "backtest"
        proc = self.cli("-q", "backtest", self.small, "--out", out, *TINY, "--no-store")
        if proc.returncode != 0:
            raise RuntimeError(f"the clean backtest failed:\n{self.last_output}")
        return out

    @cached_property
    def other_forecast_run(self) -> Path:
        """Forecasts of another model (3 units, not 4) of the same bars."""
        out = self.root / "clean" / "forecast-h3"
        args = list(TINY)
        args[args.index("--hidden") + 1] = "3"
        proc = self.cli("-q", "forecast", self.small, "--out", out, *args, "--no-store")
        if proc.returncode != 0:
            raise RuntimeError(f"the other model's forecast failed:\n{self.last_output}")
        return out

    def backtest_copy(self) -> Path:
        return Path(shutil.copytree(self.backtest_run, self.fresh("backtest-copy")))

    def store_copy(self) -> Path:
        return Path(shutil.copytree(self.clean_store, self.fresh("store")))


# ==================================================================== bad input: files

def refused(ctx: Context, path: Path | str, want: str, *extra: str, command: str = "forecast",
            expected: int = 2, warnings_ok: bool = False) -> Outcome:
    proc = ctx.cli(command, path, "--out", ctx.fresh("out"), *TINY, "--no-store", *extra)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    if warnings_ok:
        lines = [line for line in lines if not line.startswith("WARNING ")]
    one_line = len(lines) == 1
    return ctx.outcome(proc, expected, want, checks=expected != 2 or one_line,
                       note="" if expected != 2 or one_line else "more than one line on stderr")


@case("missing file", BAD_INPUT, 2)
def _(ctx):
    return refused(ctx, ctx.root / "data" / "no-such-file.csv", "no-such-file.csv")


@case("directory instead of a file (backtest)", BAD_INPUT, 2)
def _(ctx):
    folder = ctx.root / "data" / "a-folder"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ctx.small, folder / "SH600519.csv")
    return refused(ctx, folder, "a-folder", command="backtest")


@case("folder without CSVs (forecast universe)", BAD_INPUT, 2)
def _(ctx):
    folder = ctx.root / "data" / "empty-folder"
    folder.mkdir(parents=True, exist_ok=True)
    return refused(ctx, folder, "empty-folder")


@case("empty file", BAD_INPUT, 2)
def _(ctx):
    return refused(ctx, ctx.text_file("empty.csv", ""), "empty.csv")


@case("header only", BAD_INPUT, 2)
def _(ctx):
    return refused(ctx, ctx.text_file("header.csv", ctx.small.read_text().splitlines()[0] + "\n"), "header.csv")


@case("wrong columns", BAD_INPUT, 2)
def _(ctx):
    return refused(ctx, ctx.text_file("columns.csv", "a,b,c\n1,2,3\n4,5,6\n"), "columns.csv")


@case("binary garbage file", BAD_INPUT, 2)
def _(ctx):
    import random

    noise = bytes(random.Random(0).randrange(256) for _ in range(4096))
    return refused(ctx, ctx.text_file("garbage.csv", noise), "garbage.csv")


@case("non-numeric price", BAD_INPUT, 2)
def _(ctx):
    def change(bars):
        bars["close"] = bars["close"].astype(object)
        bars.iloc[BAD_DAY, bars.columns.get_loc("close")] = "abc"

    return refused(ctx, ctx.variant("non-numeric", change), "non-numeric close 'abc'")


@case("NaN price (strict)", BAD_INPUT, 2)
def _(ctx):
    return refused(ctx, ctx.variant("nan", lambda b: b.__setitem__("close", b["close"].where(b.index != b.index[BAD_DAY]))),
                   f"NaN price on {ctx.day}")


@case("NaN price (--lenient: dropped, listed)", BAD_INPUT, 0)
def _(ctx):
    path = ctx.variant("nan", lambda b: b.__setitem__("close", b["close"].where(b.index != b.index[BAD_DAY])))
    out = ctx.fresh("out")
    proc = ctx.cli("forecast", path, "--out", out, *TINY, "--no-store", "--lenient")
    kept = (out / "forecasts.csv").exists() and ctx.day not in (out / "forecasts.csv").read_text()
    return ctx.outcome(proc, 0, ctx.day, checks=kept, note="the bad day dropped from the forecasts" if kept else
                       "the bad day is still in the forecasts")


def _set(column_values: dict[str, object]):
    def change(bars):
        for column, value in column_values.items():
            bars[column] = bars[column].astype(float)
            bars.iloc[BAD_DAY, bars.columns.get_loc(column)] = value

    return change


@case("inf price", BAD_INPUT, 2)
def _(ctx):
    return refused(ctx, ctx.variant("inf", _set({"high": float("inf")})), f"infinite price on {ctx.day}")


@case("1e300 open", BAD_INPUT, 2)
def _(ctx):
    return refused(ctx, ctx.variant("1e300", _set({"open": 1e300, "high": 1e300})),
                   f"implausible move against the previous close on {ctx.day}")


def times_1000(bars):
    for column in ("open", "high", "low", "close"):
        bars.iloc[BAD_DAY, bars.columns.get_loc(column)] *= 1000


@case("one bar x1000 (strict)", BAD_INPUT, 2)
def _(ctx):
    return refused(ctx, ctx.variant("x1000", times_1000), f"implausible move against the previous close on {ctx.day}")


@case("--lenient on a single file (bar x1000 dropped)", BAD_INPUT, 0)
def _(ctx):
    out = ctx.fresh("out")
    proc = ctx.cli("forecast", ctx.variant("x1000", times_1000), "--out", out, *TINY, "--no-store", "--lenient")
    forecasts = out / "forecasts.csv"
    dropped = forecasts.exists() and ctx.day not in forecasts.read_text() and len(forecasts.read_text()) > 100
    return ctx.outcome(proc, 0, ctx.day, checks=dropped, note="ran; the day is not in the forecasts" if dropped
                       else "the day is in the forecasts")


@case("negative price", BAD_INPUT, 2)
def _(ctx):
    return refused(ctx, ctx.variant("negative", _set({"low": -5.0})), f"non-positive price on {ctx.day}")


@case("high < low", BAD_INPUT, 2)
def _(ctx):
    def change(bars):
        row = bars.index[BAD_DAY]
        bars.loc[row, ["high", "low"]] = bars.loc[row, ["low", "high"]].to_numpy()

    return refused(ctx, ctx.variant("high-low", change), f"high < low on {ctx.day}")


def duplicate(bars):
    return pd.concat([bars.iloc[: BAD_DAY + 1], bars.iloc[[BAD_DAY]], bars.iloc[BAD_DAY + 1:]])


@case("duplicate dates (strict)", BAD_INPUT, 2)
def _(ctx):
    return refused(ctx, ctx.variant("duplicate", duplicate), f"duplicate date(s) {ctx.day}")


@case("duplicate dates (--lenient: still refused)", BAD_INPUT, 2)
def _(ctx):
    return refused(ctx, ctx.variant("duplicate", duplicate), f"duplicate date(s) {ctx.day}", "--lenient")


def unsorted(bars):
    order = list(range(len(bars)))
    order[BAD_DAY], order[BAD_DAY + 1] = order[BAD_DAY + 1], order[BAD_DAY]
    return bars.iloc[order]


def sorted_like_clean(ctx: Context, *extra: str) -> Outcome:
    out = ctx.fresh("out")
    proc = ctx.cli("-q", "forecast", ctx.variant("unsorted", unsorted), "--out", out, *TINY, "--no-store", *extra)
    equal = ctx.equals_clean(out)
    return ctx.outcome(proc, 0, checks=equal, note="sorted; forecasts equal a clean run" if equal
                       else "forecasts differ from a clean run")


@case("unsorted dates (strict: sorted, same forecasts)", BAD_INPUT, 0)
def _(ctx):
    return sorted_like_clean(ctx)


@case("unsorted dates (--lenient: sorted, same forecasts)", BAD_INPUT, 0)
def _(ctx):
    return sorted_like_clean(ctx, "--lenient")


@case("GB18030-encoded akshare file", BAD_INPUT, 0)
def _(ctx):
    bars = ctx.frame()
    akshare = pd.DataFrame({"日期": bars["date"], "开盘": bars["open"], "收盘": bars["close"], "最高": bars["high"],
                            "最低": bars["low"], "成交量": bars["volume"], "成交额": bars["volume"] * bars["close"] * 100})
    path = ctx.root / "data" / "gb18030" / "600519.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    akshare.to_csv(path, index=False, encoding="gb18030")
    assert "日期".encode("gb18030") in path.read_bytes()
    out = ctx.fresh("out")
    proc = ctx.cli("-q", "forecast", path, "--out", out, *TINY, "--no-store")
    rows = (out / "forecasts.csv").read_text().count("\n") if (out / "forecasts.csv").exists() else 0
    clean = ctx.clean_forecasts.decode().count("\n")
    return ctx.outcome(proc, 0, checks=rows == clean, note=f"read; {rows - 1} forecast rows (clean run: {clean - 1})")


@case("unreadable file (chmod 000)", BAD_INPUT, 2)
def _(ctx):
    if os.name != "posix" or os.geteuid() == 0:
        return Outcome(None, "skipped: root reads a file whatever its mode (as the tests skip it)", True,
                       skipped="root")
    path = ctx.text_file("locked.csv", ctx.small.read_text())
    path.chmod(0)
    try:
        return refused(ctx, path, "permission denied")
    finally:
        path.chmod(0o600)


@case("/proc/self/mem", BAD_INPUT, 2)
def _(ctx):
    return refused(ctx, "/proc/self/mem", "/proc/self/mem: cannot be read")


@case("/dev/null", BAD_INPUT, 2)
def _(ctx):
    return refused(ctx, "/dev/null", "/dev/null: not a regular file")


@case("no such A-share symbol (999999)", BAD_INPUT, 2)
def _(ctx):
    return refused(ctx, "999999", "neither an existing CSV file nor an A-share symbol")


@case("symbol not cached, offline (600519)", BAD_INPUT, 2)
def _(ctx):
    # the retries log a WARNING each (with akshare's URL) before the one error line
    return refused(ctx, "600519", "(offline?)", "--start", "2020-01-02", warnings_ok=True)


# ==================================================================== bad input: options

@case("--start 2020-13-45", BAD_INPUT, 2)
def _(ctx):
    return refused(ctx, ctx.small, "2020-13-45", "--start", "2020-13-45")


@case("--end someday", BAD_INPUT, 2)
def _(ctx):
    return refused(ctx, ctx.small, "someday", "--end", "someday")


@case("backtest --end 2020-02-30", BAD_INPUT, 2)
def _(ctx):
    return refused(ctx, ctx.small, "2020-02-30", "--end", "2020-02-30", command="backtest")


@case("start after end", BAD_INPUT, 2)
def _(ctx):
    return refused(ctx, ctx.small, "2020-03-02", "--start", "2020-03-02", "--end", "2020-01-02")


@case("range with no data (--start 2030-01-02)", BAD_INPUT, 2)
def _(ctx):
    return refused(ctx, ctx.small, "2030-01-02", "--start", "2030-01-02")


@case("--device cuda without CUDA", BAD_INPUT, 2)
def _(ctx):
    probe = subprocess.run([sys.executable, "-c", "import torch; print(torch.cuda.is_available())"],
                           capture_output=True, text=True, check=False, env=ctx.env)
    if probe.stdout.strip() == "True":
        return Outcome(None, "skipped: this machine has CUDA", True, skipped="cuda")
    return refused(ctx, ctx.small, "device='cuda' but this machine has no CUDA", "--device", "cuda")


@case("--threads -1", BAD_INPUT, 2)
def _(ctx):
    return refused(ctx, ctx.small, "--threads -1: give a number of threads", "--threads", "-1")


@case("--threads -1 on a universe (two files)", BAD_INPUT, 2)
def _(ctx):
    other = ctx.root / "data" / "second" / "SZ000001.csv"
    other.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(ctx.small, other)
    proc = ctx.cli("forecast", ctx.small, other, "--out", ctx.fresh("out"), *TINY, "--threads", "-1")
    return ctx.outcome(proc, 2, "--threads -1: give a number of threads")


@case("--cash inf", BAD_INPUT, 2)
def _(ctx):
    return refused(ctx, ctx.small, "cash=inf", "--cash", "inf", command="backtest")


@case("--cash -5", BAD_INPUT, 2)
def _(ctx):
    return refused(ctx, ctx.small, "-5", "--cash", "-5", command="backtest")


@case("--cash nan", BAD_INPUT, 2)
def _(ctx):
    return refused(ctx, ctx.small, "nan", "--cash", "nan", command="backtest")


@case("--retrain-every 0", BAD_INPUT, 2)
def _(ctx):
    return refused(ctx, ctx.small, "retrain", "--retrain-every", "0")


@case("--lookback 0", BAD_INPUT, 2)
def _(ctx):
    return refused(ctx, ctx.small, "lookback", "--lookback", "0")


@case("--out that is a file", BAD_INPUT, 2)
def _(ctx):
    proc = ctx.cli("forecast", ctx.small, "--out", ctx.small, *TINY, "--no-store")
    return ctx.outcome(proc, 2, f"--out {ctx.small}: exists and is not a directory")


@case("--out below a file", BAD_INPUT, 2)
def _(ctx):
    blocker = ctx.text_file("a-file", "x")
    proc = ctx.cli("backtest", ctx.small, "--out", blocker / "run", *TINY, "--no-store")
    return ctx.outcome(proc, 2, "is a file")


@case("--out not writable", BAD_INPUT, 2)
def _(ctx):
    if os.name != "posix" or os.geteuid() == 0:
        return Outcome(None, "skipped: root can write a read-only folder (as the tests skip it)", True,
                       skipped="root")
    locked = ctx.fresh("locked")
    locked.mkdir()
    locked.chmod(0o500)
    try:
        proc = ctx.cli("forecast", ctx.small, "--out", locked / "run", *TINY, "--no-store")
        return ctx.outcome(proc, 2, "is not writable")
    finally:
        locked.chmod(0o700)


@case("unknown option", BAD_INPUT, 2)
def _(ctx):
    proc = ctx.cli("forecast", ctx.small, "--out", ctx.fresh("out"), "--frobnicate", "3")
    return ctx.outcome(proc, 2, "unrecognized arguments: --frobnicate")


@case("unknown command", BAD_INPUT, 2)
def _(ctx):
    proc = ctx.cli("frobnicate")
    return ctx.outcome(proc, 2, "invalid choice")


@case("-v keeps exit 2 and adds the traceback", BAD_INPUT, 2)
def _(ctx):
    proc = ctx.cli("-v", "forecast", ctx.small, "--out", ctx.fresh("out"), *TINY, "--threads", "-1")
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    first = bool(lines) and lines[0].startswith("rnnstrategy: error: --threads -1")
    return ctx.outcome(proc, 2, "--threads -1", checks=first and TRACEBACK in proc.stderr, traceback_ok=True,
                       note="first line the error, then the traceback" if first and TRACEBACK in proc.stderr
                       else "no traceback after the error line")


# ==================================================================== bad input: TOML files

def toml_run(ctx: Context, name: str, text: str, want: str) -> Outcome:
    folder = ctx.fresh(name)
    folder.mkdir()
    shutil.copy(ctx.small, folder / "SH600519.csv")
    (folder / "setup.toml").write_text(text, encoding="utf-8")
    proc = ctx.cli("run", folder / "setup.toml", "--out", folder / "out", "--no-store")
    return ctx.outcome(proc, 2, want)


TOML_HEAD = '[data]\nsource = "SH600519.csv"\n[forecast]\nhidden = [4]\nlookback = 5\nepochs = 1\npatience = 0\n' \
            'retrain_every = 50\nmin_train = 100\ntrain_window = 300\ndevice = "cpu"\n'


@case("TOML: unknown key", BAD_INPUT, 2)
def _(ctx):
    return toml_run(ctx, "toml-key", TOML_HEAD + "hiden = [8]\n", "hiden")


@case("TOML: bad syntax", BAD_INPUT, 2)
def _(ctx):
    return toml_run(ctx, "toml-syntax", TOML_HEAD + "[backtest\ncash = 5\n", "setup.toml")


@case("TOML: a date that is no date", BAD_INPUT, 2)
def _(ctx):
    return toml_run(ctx, "toml-date", TOML_HEAD + '[backtest]\nstart = "2020-13-45"\n', "2020-13-45")


@case("TOML: data file missing", BAD_INPUT, 2)
def _(ctx):
    return toml_run(ctx, "toml-missing", TOML_HEAD.replace("SH600519.csv", "SH600000.csv"), "SH600000.csv")


# ==================================================================== damaged fold store

def damaged_store(ctx: Context, pattern: str, index: int, damage: Callable[[Path], None], want: str) -> Outcome:
    store = ctx.store_copy()
    victim = sorted(store.rglob(pattern))[index]
    damage(victim)
    out = ctx.fresh("out")
    proc = ctx.cli("forecast", ctx.small, "--out", out, *TINY, "--store", store)
    equal = ctx.equals_clean(out)
    return ctx.outcome(proc, 0, want, checks=equal, note="output equals a clean run" if equal
                       else "output DIFFERS from a clean run")


@case("flipped bytes in a stored fold state", STORE, 0)
def _(ctx):
    return damaged_store(ctx, "fold-*.safetensors", 2, flip_two_payload_bytes, "fails its SHA-256 checksum")


@case("truncated fold state", STORE, 0)
def _(ctx):
    return damaged_store(ctx, "fold-*.safetensors", 1, lambda p: os.truncate(p, p.stat().st_size // 2), "fold file")


@case("empty (0-byte) fold state", STORE, 0)
def _(ctx):
    return damaged_store(ctx, "fold-*.safetensors", 0, lambda p: os.truncate(p, 0), "fold file")


@case("flipped bytes in a stored forecast", STORE, 0)
def _(ctx):
    return damaged_store(ctx, "pred-*.safetensors", 1, flip_two_payload_bytes, "fails its SHA-256 checksum")


@case("truncated stored forecast", STORE, 0)
def _(ctx):
    return damaged_store(ctx, "pred-*.safetensors", 3, lambda p: os.truncate(p, 40), "fold file")


@case("garbage stored forecast (random bytes)", STORE, 0)
def _(ctx):
    import random

    def garble(path: Path) -> None:
        path.write_bytes(bytes(random.Random(1).randrange(256) for _ in range(path.stat().st_size)))

    return damaged_store(ctx, "pred-*.safetensors", 0, garble, "fold file")


@case("fold state without checksum (older version)", STORE, 0)
def _(ctx):
    return damaged_store(ctx, "fold-*.safetensors", 0, strip_checksum, "without checksums")


# ==================================================================== damaged compiled kernels

def damaged_kernel(ctx: Context, pattern: str, damage: Callable[[Path], None], want: str) -> Outcome:
    cache = ctx.fresh("cache")
    shutil.copytree(ctx.clean_kernels, cache / "kernels")
    kernels = sorted((cache / "kernels").glob(pattern))
    if not kernels:
        return Outcome(None, "skipped: no compiled kernel here (no C++ compiler?)", True, skipped="compiler")
    kernel = kernels[0]
    damage(kernel)
    out = ctx.fresh("out")
    proc = ctx.cli("forecast", ctx.small, "--out", out, *TINY, "--no-store",
                   env={**ctx.env, "RNNSTRATEGY_CACHE": str(cache)})
    record = kernel.with_name(kernel.name + ".sha256")
    rebuilt = kernel.exists() and record.exists() and record.read_text().strip() == digest(kernel)
    equal = ctx.equals_clean(out)
    signalled = proc.returncode < 0
    note = (f"killed by signal {-proc.returncode}" if signalled else
            ("rebuilt (checksum recorded)" if rebuilt else "NOT rebuilt") + "; " +
            ("output equals a clean run" if equal else "output DIFFERS from a clean run"))
    return ctx.outcome(proc, 0, want, checks=rebuilt and equal, note=note)


def garbage(path: Path) -> None:
    path.write_bytes(os.urandom(path.stat().st_size))


@case("truncated compiled recurrent kernel .so", KERNEL, 0)
def _(ctx):
    return damaged_kernel(ctx, "recurrent_gru4_*.so", lambda p: os.truncate(p, 1000), "fails its SHA-256 checksum")


@case("garbage compiled recurrent kernel .so", KERNEL, 0)
def _(ctx):
    return damaged_kernel(ctx, "recurrent_gru4_*.so", garbage, "fails its SHA-256 checksum")


@case("garbage .so with a forged checksum", KERNEL, 0)
def _(ctx):
    def forge(path: Path) -> None:
        garbage(path)
        path.with_name(path.name + ".sha256").write_text(digest(path) + "\n")

    return damaged_kernel(ctx, "recurrent_gru4_*.so", forge, "cannot be loaded")


@case("missing kernel checksum sidecar", KERNEL, 0)
def _(ctx):
    return damaged_kernel(ctx, "recurrent_gru4_*.so", lambda p: p.with_name(p.name + ".sha256").unlink(),
                          "has no recorded checksum")


@case("truncated compiled optimizer (adam) .so", KERNEL, 0)
def _(ctx):
    return damaged_kernel(ctx, "adam_*.so", lambda p: os.truncate(p, 1000), "")


# ==================================================================== run folders

@case("forecast --out into a finished backtest folder", RUN_FOLDER, 2)
def _(ctx):
    folder = ctx.backtest_copy()
    before = digests(folder)
    proc = ctx.cli("forecast", ctx.small, "--out", folder, *TINY, "--no-store")
    same = digests(folder) == before
    return ctx.outcome(proc, 2, "holds a backtest run", checks=same,
                       note="folder unchanged" if same else "the folder CHANGED")


@case("backtest --out into a forecast folder", RUN_FOLDER, 2)
def _(ctx):
    folder = Path(shutil.copytree(ctx.other_forecast_run, ctx.fresh("forecast-copy")))
    before = digests(folder)
    proc = ctx.cli("backtest", ctx.small, "--out", folder, *TINY, "--no-store")
    same = digests(folder) == before
    return ctx.outcome(proc, 2, "holds a forecast run", checks=same,
                       note="folder unchanged" if same else "the folder CHANGED")


@case("report on a clean backtest folder (control)", RUN_FOLDER, 0)
def _(ctx):
    folder = ctx.backtest_copy()
    return ctx.outcome(ctx.cli("-q", "report", folder), 0)


@case("report: a value of equity.csv changed", RUN_FOLDER, 2)
def _(ctx):
    folder = ctx.backtest_copy()
    lines = (folder / "equity.csv").read_text(encoding="utf-8").splitlines()
    fields = lines[len(lines) // 2].split(",")
    fields[-1] = str(float(fields[-1]) + 1.0)
    lines[len(lines) // 2] = ",".join(fields)
    (folder / "equity.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ctx.outcome(ctx.cli("-q", "report", folder), 2, "equity.csv: changed since the run wrote it")


@case("report: equity.csv cut short", RUN_FOLDER, 2)
def _(ctx):
    folder = ctx.backtest_copy()
    lines = (folder / "equity.csv").read_text(encoding="utf-8").splitlines()
    (folder / "equity.csv").write_text("\n".join(lines[: len(lines) // 2]) + "\n", encoding="utf-8")
    return ctx.outcome(ctx.cli("-q", "report", folder), 2, "equity.csv: changed since the run wrote it")


@case("report: equity.csv deleted", RUN_FOLDER, 2)
def _(ctx):
    folder = ctx.backtest_copy()
    (folder / "equity.csv").unlink()
    return ctx.outcome(ctx.cli("-q", "report", folder), 2, "equity.csv")


@case("report on a mixed folder (another run's forecasts)", RUN_FOLDER, 2)
def _(ctx):
    folder = ctx.backtest_copy()
    shutil.copyfile(ctx.other_forecast_run / "forecasts.csv", folder / "forecasts.csv")
    return ctx.outcome(ctx.cli("-q", "report", folder), 2, "comes from another run")


@case("report on a folder without checksums (older version)", RUN_FOLDER, 0)
def _(ctx):
    folder = ctx.backtest_copy()
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    del manifest["files"], manifest["kind"]
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return ctx.outcome(ctx.cli("report", folder), 0, "records no checksums")


@case("report on a missing folder", RUN_FOLDER, 2)
def _(ctx):
    return ctx.outcome(ctx.cli("report", ctx.root / "no-such-run"), 2, "no-such-run")


@case("report on a garbage manifest.json", RUN_FOLDER, 2)
def _(ctx):
    folder = ctx.backtest_copy()
    (folder / "manifest.json").write_text("{not json", encoding="utf-8")
    return ctx.outcome(ctx.cli("report", folder), 2, "manifest.json")


def changed_replay(ctx: Context) -> tuple[Path, Path]:
    """A copy of the backtest's manifest.json whose data file now has another last volume."""
    changed = ctx.fresh("changed-data") / "SH600519.csv"
    changed.parent.mkdir()
    lines = ctx.small.read_text(encoding="utf-8").splitlines()
    fields = lines[-1].split(",")
    fields[6] = str(float(fields[6]) + 100)  # the volume of the last bar
    changed.write_text("\n".join([*lines[:-1], ",".join(fields)]) + "\n", encoding="utf-8")
    manifest = json.loads((ctx.backtest_run / "manifest.json").read_text(encoding="utf-8"))
    manifest["config"]["data"]["source"] = str(changed)
    replay = ctx.fresh("replay") / "manifest.json"
    replay.parent.mkdir()
    replay.write_text(json.dumps(manifest), encoding="utf-8")
    return replay, changed


@case("run manifest.json after the CSV changed (refused)", RUN_FOLDER, 2)
def _(ctx):
    replay, changed = changed_replay(ctx)
    out = ctx.fresh("again")
    proc = ctx.cli("-q", "run", replay, "--out", out, "--no-store")
    return ctx.outcome(proc, 2, f"the data {changed} changed since the run was recorded", checks=not out.exists(),
                       note="no folder written" if not out.exists() else "a folder was written")


@case("run manifest.json --allow-changed-data (re-runs, says so)", RUN_FOLDER, 0)
def _(ctx):
    replay, changed = changed_replay(ctx)
    out = ctx.fresh("again")
    proc = ctx.cli("run", replay, "--out", out, "--no-store", "--allow-changed-data")
    marked = (out / "manifest.json").exists() and bool(
        json.loads((out / "manifest.json").read_text(encoding="utf-8")).get("data_changed"))
    result = ctx.outcome(proc, 0, f"note: the data {changed} changed since the run was recorded", checks=marked,
                         note="manifest records data_changed" if marked else "manifest lacks data_changed")
    return result


# ==================================================================== process faults

def killed_universe(ctx: Context, sig: signal.Signals) -> Outcome:
    try:
        import psutil  # noqa: F401
    except ImportError:
        return Outcome(None, "skipped: psutil is not installed", True, skipped="psutil")
    folder = ctx.fresh("universe")
    folder.mkdir()
    for name in ("a", "b", "c", "d"):  # four long runs of the whole sample: minutes of work for two workers
        shutil.copy(ctx.sample, folder / f"{name}.csv")
    argv = ["--quiet", "forecast", str(folder), *TINY, "--no-store", "--start", "2011-01-04", "--executor",
            "process", "--workers", "2", "--out", str(ctx.fresh("out"))]
    ctx.commands.append(quoted(["python", "-m", "rnnstrategy.cli", *argv]) + f"  # then {sig.name} after 2 workers")
    errors = ctx.root / f"stderr-{sig.name}.txt"
    with errors.open("wb") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "rnnstrategy.cli", *argv], stdout=subprocess.DEVNULL,
                                stderr=stderr, env=ctx.env, cwd=ctx.root)
    children: list = []
    try:
        deadline = time.monotonic() + 90
        workers: list = []
        while time.monotonic() < deadline and proc.poll() is None:
            children = descendants(proc.pid)
            try:
                workers = [p for p in children if "spawn_main" in " ".join(p.cmdline())]
            except Exception:  # noqa: BLE001 - a child that ended while listed
                workers = []
            if len(workers) >= 2:
                break
            time.sleep(0.2)
        if proc.poll() is not None or len(workers) < 2:
            return Outcome(proc.poll(), f"no two pool workers seen (exit {proc.poll()}): {errors.read_text()[-300:]}",
                           False, output=errors.read_text())
        time.sleep(1.0)  # let them start training
        children = descendants(proc.pid)
        proc.send_signal(sig)
        code = proc.wait(timeout=10)
        deadline = time.monotonic() + ORPHAN_GRACE
        while time.monotonic() < deadline and any(alive(p) for p in children):
            time.sleep(0.1)
        gone = time.monotonic() - (deadline - ORPHAN_GRACE)
        left = [p.pid for p in children if alive(p)]
        if left:
            message = f"{len(left)} of {len(children)} descendants still alive {ORPHAN_GRACE:.0f} s after {sig.name}: {left}"
        else:
            message = (f"parent ended by {signal.Signals(-code).name if code < 0 else f'exit {code}'}; "
                       f"all {len(children)} descendants (workers, resource tracker) gone after {gone:.1f} s")
        return Outcome(code, message, not left and bool(children), output=errors.read_text())
    finally:
        if proc.poll() is None:
            proc.kill()
        for process in children:
            if alive(process):
                process.kill()


@case("kill -9 of a universe run with a process pool: no orphans", PROCESS, -9)
def _(ctx):
    return killed_universe(ctx, signal.SIGKILL)


@case("SIGTERM of a universe run with a process pool: no orphans", PROCESS, 143)
def _(ctx):
    return killed_universe(ctx, signal.SIGTERM)


RESUME = ["--hidden", "4", "--lookback", "5", "--epochs", "2", "--patience", "0", "--retrain-every", "25",
          "--min-train", "100", "--batch-size", "32", "--train-window", "300", "--device", "cpu", "--threads", "1"]


def resumed_after_kill(ctx: Context, extra: list[str]) -> Outcome:
    """Kill -9 a forecast of the whole sample once its first folds are stored, rerun it: the same bytes as a
    run that was never killed."""
    clean = ctx.fresh("resume-clean")
    proc = ctx.cli("-q", "forecast", ctx.sample, "--out", clean, *RESUME, *extra, "--no-store")
    if proc.returncode != 0:
        return Outcome(proc.returncode, "the uninterrupted run failed", False, output=ctx.last_output)
    store, out = ctx.fresh("resume-store"), ctx.fresh("resume-out")
    argv = ["-q", "forecast", str(ctx.sample), "--out", str(out), *RESUME, *extra, "--store", str(store)]
    ctx.commands.append(quoted(["python", "-m", "rnnstrategy.cli", *argv]) + "  # kill -9 once a fold is stored, rerun")
    killed = subprocess.Popen([sys.executable, "-m", "rnnstrategy.cli", *argv], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env=ctx.env, cwd=ctx.root)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and killed.poll() is None and not any(store.rglob("fold-*.safetensors")):
        time.sleep(0.02)
    if killed.poll() is not None:
        return Outcome(killed.returncode, "the run ended before it could be killed (inconclusive)", False)
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=10)
    stored = len(list(store.rglob("fold-*.safetensors")))
    proc = ctx.cli(*argv)
    total = len(list(store.rglob("fold-*.safetensors")))
    same = (out / "forecasts.csv").exists() and (out / "forecasts.csv").read_bytes() == (clean / "forecasts.csv").read_bytes()
    return ctx.outcome(proc, 0, checks=same and 0 < stored < total,
                       note=f"killed with {stored} of {total} folds stored; resumed forecasts "
                            + ("byte-identical to an uninterrupted run" if same else "DIFFER from an uninterrupted run"))


@case("resume after kill -9 gives byte-identical forecasts", PROCESS, 0)
def _(ctx):
    return resumed_after_kill(ctx, [])


@case("resume after kill -9 (warm starts) gives byte-identical forecasts", PROCESS, 0)
def _(ctx):
    return resumed_after_kill(ctx, ["--warm-start", "--warm-start-epochs", "1"])


@case("universe with one bad file: the others finish, exit 1", PROCESS, 1)
def _(ctx):
    folder = ctx.fresh("universe-bad")
    folder.mkdir()
    shutil.copy(ctx.small, folder / "SH600519.csv")
    shutil.copy(ctx.variant("x1000", times_1000), folder / "SZ000001.csv")
    out = ctx.fresh("out")
    proc = ctx.cli("-q", "forecast", folder, "--out", out, *TINY, "--no-store", "--executor", "inprocess")
    summary = out / "summary.csv"
    rows = pd.read_csv(summary) if summary.exists() else pd.DataFrame()
    good = (out / "forecasts" / "600519.SH.csv")
    fine = (not rows.empty and "failed" in set(rows.get("status", [])) and good.exists()
            and good.read_bytes() == ctx.clean_forecasts)
    statuses = dict(zip(rows.get("symbol", []), rows.get("status", []))) if not rows.empty else {}
    return ctx.outcome(proc, 1, checks=fine, note=f"statuses {statuses}; the good symbol's forecasts "
                       + ("equal a clean run" if fine else "missing or different"))


# ==================================================================== the table

def cell(text: str, limit: int = 320) -> str:
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("|", "\\|")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="also write the markdown to this file")
    parser.add_argument("--only", help="run only the cases whose name or category matches this shell pattern "
                                       "(case-insensitive; '*kernel*')")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory and print its path")
    parser.add_argument("--jobs", type=int, default=3, help="cases run side by side (default: 3)")
    args = parser.parse_args(argv)

    cases = CASES
    if args.only:
        pattern = args.only.lower() if any(c in args.only for c in "*?[") else f"*{args.only.lower()}*"
        cases = [c for c in CASES if fnmatch.fnmatch(c.name.lower(), pattern) or fnmatch.fnmatch(c.category, pattern)]
        if not cases:
            parser.error(f"--only {args.only!r} matches no case")

    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="fault-cases-"))
    ctx = Context(root)
    rows: list[str] = ["| # | case | category | exit | message / outcome | as expected |",
                       "|---|------|----------|------|-------------------|-------------|"]
    failures: list[tuple[int, Case, Outcome]] = []
    skipped = 0
    results: dict[int, Outcome] = {}

    def run_one(number: int, item: Case) -> Outcome:
        ctx.commands = []
        t0 = time.monotonic()
        try:
            result = item.run(ctx)
        except Exception as error:  # noqa: BLE001 - the script's own trouble (or a timeout): a case that went wrong
            result = Outcome(None, f"the case itself failed: {type(error).__name__}: {error}", False,
                             output=ctx.last_output)
        if not result.commands:
            result.commands = list(ctx.commands)
        if not result.skipped:
            result.ok = result.ok and result.exit == item.expected
        verdict = "skipped" if result.skipped else "yes" if result.ok else "NO"
        print(f"[#{number} {time.monotonic() - t0:5.1f}s] {item.name}: exit {result.exit}, {verdict}",
              file=sys.stderr, flush=True)
        return result

    try:
        try:
            ctx.prepare(args.jobs)
        except Exception as error:  # noqa: BLE001
            print(f"fault_cases: the clean runs failed, no case can be judged: {error}", file=sys.stderr)
            return 1
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = {pool.submit(run_one, number, item): number for number, item in enumerate(cases, 1)}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
    finally:
        if args.keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)

    for number, item in enumerate(cases, 1):
        result = results[number]
        if result.skipped:
            skipped += 1
            verdict = "skipped"
        else:
            verdict = "yes" if result.ok else f"**NO** (expected exit {item.expected})"
            if not result.ok:
                failures.append((number, item, result))
        exit_text = "–" if result.exit is None else str(result.exit)
        rows.append(f"| {number} | {cell(item.name)} | {item.category} | {exit_text} | {cell(result.message)} "
                    f"| {verdict} |")

    ran = len(cases) - skipped
    wall = time.monotonic() - started
    lines = ["# Fault and bad-input cases of the rnnstrategy CLI", "",
             (f"Python {sys.version.split()[0]}, {'root' if os.name == 'posix' and os.geteuid() == 0 else 'user'}, "
              f"tiny model: `{' '.join(TINY)}`."), "", *rows, "",
             (f"**{len(cases)} cases: {ran - len(failures)} of {ran} run behaved as expected, {len(failures)} did not, "
              f"{skipped} skipped; {wall:.0f} s.**")]
    for number, item, result in failures:
        lines += ["", f"## #{number} {item.name}: not as expected (expected exit {item.expected}, got {result.exit})",
                  "", "```", *result.commands, "```", "", "```", result.output.strip()[-3000:] or "(no output)", "```"]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
