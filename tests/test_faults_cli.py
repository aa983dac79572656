"""The command line under bad input: every setting checked before any data is loaded or model trained, the
operating system's refusals (a name too long, a full disk, a cache that is a file) in one line, and the universe
signal and the examples that run from the command line (issue 27).

A refusal is one line ``rnnstrategy: error: ...`` with exit code 2 and no traceback; the ``no_work`` fixture
fails a test whose command reaches the loading of bars, a walk-forward or a universe forecast before refusing.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from dataclasses import replace
from types import SimpleNamespace

import pytest
from helpers import TINY, tiny_args

import rnnstrategy as rs
from rnnstrategy import datasets
from rnnstrategy.cli import main
from rnnstrategy.errors import ConfigError
from rnnstrategy.forecasting.config import ForecastConfig

ARGS = [*tiny_args(replace(TINY, retrain_every=60)), "--threads", "1"]
"""A GRU of 8 units retrained every 60 bars on one thread: a few folds per stock."""
NO_STORE = [*ARGS, "--no-store"]
TOPK = ["--strategy", "top_k", "--executor", "inprocess"]
LONG = "a" * 300  # one name over the 255 bytes a file system allows
CODES = ("600000", "600036", "601318")
LAST_DAY = "2020-04-24"  # the bundled sample's last bar, a Friday


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """Inputs made from the bundled Moutai sample: its bars since 2018-07 (``m``); a universe of three stocks,
    each a copy of the sample moved back 60 bars more than the last onto the same dates (``uni``); a folder of one
    (``one``); a folder of other CSV files (``bars``); a file (``file``); the forecasts of a forecast run (``fc``)."""
    root = tmp_path_factory.mktemp("inputs")
    lines = datasets.path("moutai").read_text(encoding="utf-8").splitlines()
    header, rows = lines[0], [line.split(",") for line in lines[1:]]
    (root / "m").mkdir()
    bars = root / "m" / "SH600519.csv"
    bars.write_text("\n".join([header, *(",".join(r) for r in rows if r[1] >= "2018-07-01")]) + "\n", encoding="utf-8")
    uni = root / "uni"
    uni.mkdir()
    days = [i for i, r in enumerate(rows) if r[1] >= "2019-05-01"]
    for k, code in enumerate(CODES):  # columns: index, date, open, close, high, low, volume, code
        moved = [",".join([rows[i - 60 * k][0], rows[i][1], *rows[i - 60 * k][2:7], code]) for i in days]
        (uni / f"{code}.csv").write_text("\n".join([header, *moved]) + "\n", encoding="utf-8")
    (root / "one").mkdir()
    (root / "one" / "600000.csv").write_text((uni / "600000.csv").read_text(encoding="utf-8"), encoding="utf-8")
    (root / "bars").mkdir()
    (root / "bars" / "600036.csv").write_text((uni / "600036.csv").read_text(encoding="utf-8"), encoding="utf-8")
    (root / "file").write_text("not a folder\n", encoding="utf-8")
    fc = root / "fc"
    assert main(["-q", "forecast", str(bars), "--out", str(fc), "--start", "2019-06-03", *NO_STORE]) == 0
    return SimpleNamespace(root=root, m=bars, uni=uni, one=root / "one", bars=root / "bars", file=root / "file",
                           fc=fc, forecasts=fc / "forecasts.csv")


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if a command loads bars, walks forward or forecasts a universe: the refusal comes first."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("data was loaded or a model trained before the refusal")

    for target in ("rnnstrategy.api.sources.load_bars", "rnnstrategy.api.stock_backtest.load_bars",
                   "rnnstrategy.api.universe_inputs.load_bars", "rnnstrategy.forecasting.walkforward.walk_forward",
                   "rnnstrategy.universe.forecast.forecast_universe"):
        monkeypatch.setattr(target, refuse)


def refused(capsys: pytest.CaptureFixture[str], argv: list[str], *needles: str) -> str:
    """Run ``argv``; it must end with one line ``rnnstrategy: error: ...`` holding ``needles``, exit code 2."""
    code = main(argv)
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("rnnstrategy")]
    assert code == 2 and len(err) == 1 and err[0].startswith("rnnstrategy: error: "), (code, err)
    for needle in needles:
        assert needle in err[0], err[0]
    return err[0]


def usage_error(capsys: pytest.CaptureFixture[str], argv: list[str], needle: str) -> None:
    """Run ``argv``; argparse must refuse an option's value (exit code 2) with ``needle`` in its error line."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "Traceback" not in err and needle in err.splitlines()[-1], err


# -- 0: a universe signal from the command line -------------------------------------------------------------------

def test_a_universe_signal_forecasts_each_stock_into_out_and_orders_the_top_two(paths, tmp_path, capsys):
    """`signal FOLDER --strategy top_k --out DIR` (it used to ask for --out although given): each stock walked
    forward into DIR/forecasts, the two best of three bought for the session after the last bar."""
    out = tmp_path / "today"
    argv = ["signal", str(paths.uni), *TOPK, "--k", "2", "--max-turnover", "1", "--entry-threshold", "-1",
            "--exit-threshold", "-1", "--end", LAST_DAY, "--cash", "1000000", "--out", str(out), *NO_STORE]
    assert main(argv) == 0, capsys.readouterr().err
    orders = json.loads((out / "orders.json").read_text(encoding="utf-8"))
    assert orders["decided_on"] == LAST_DAY and orders["session"] == "2020-04-27"
    bought = orders["orders"]
    assert [order["side"] for order in bought] == ["buy", "buy"]
    assert len({order["symbol"] for order in bought}) == 2 and all(o["shares"] % 100 == 0 for o in bought)
    forecasts = {path.stem: path for path in (out / "forecasts").glob("*.csv")}
    assert sorted(forecasts) == sorted(f"{code}.SH" for code in CODES)
    last = {symbol: path.read_text(encoding="utf-8").splitlines()[-1].split(",")[0] for symbol, path in
            forecasts.items()}
    assert set(last.values()) == {LAST_DAY}
    assert (out / "orders.csv").is_file() and (out / "summary.csv").is_file()


# -- 5, 6 and new cases: refused before any data is loaded or model trained ---------------------------------------

REFUSED = {
    "--param entry_threshold=abc": (lambda p: ["backtest", str(p.m), "--param", "entry_threshold=abc"],
                                    "entry_threshold='abc' is not a number"),
    "--param entry_threshold=nan": (lambda p: ["backtest", str(p.m), "--param", "entry_threshold=nan"],
                                    "entry_threshold=nan is not a finite number"),
    "overnight_gap at the next open": (lambda p: ["backtest", str(p.m), "--strategy", "overnight_gap", "--execution",
                                                  "next_open"], "execution='next_open' must be 'close'"),
    "--k 0, backtest": (lambda p: ["backtest", str(p.uni), *TOPK, "--k", "0"], "k=0"),
    "--k 0, signal": (lambda p: ["signal", str(p.uni), *TOPK, "--k", "0", "--end", LAST_DAY], "k=0"),
    "--lookback 0 on a universe": (lambda p: ["backtest", str(p.uni), *TOPK, "--lookback", "0"], "lookback=0"),
    "--hidden 0 on a universe": (lambda p: ["forecast", str(p.uni), "--hidden", "0"], "hidden=(0,)"),
    "--dropout nan": (lambda p: ["signal", str(p.m), "--dropout", "nan", "--end", LAST_DAY], "dropout=nan"),
    "DATA too long": (lambda p: ["backtest", LONG + ".csv"], "longer than this system allows"),
    "--out too long": (lambda p: ["backtest", str(p.m), "--out", str(p.root / LONG)], "--out"),
    "--forecasts too long": (lambda p: ["backtest", str(p.m), "--forecasts", LONG + ".csv"], "--forecasts aaa"),
    "--benchmark too long": (lambda p: ["backtest", str(p.m), "--benchmark", LONG + ".csv"], "--benchmark aaa"),
    "forecast DATA too long": (lambda p: ["forecast", LONG + ".csv"], "DATA aaa"),
    "signal --forecasts too long": (lambda p: ["signal", str(p.m), "--forecasts", LONG + ".csv"], "--forecasts aaa"),
    "forecast DATA empty": (lambda p: ["forecast", ""], "DATA '' is empty"),
    "backtest DATA empty among others": (lambda p: ["backtest", str(p.m), " "], "DATA ' ' is empty"),
    "--out the DATA folder": (lambda p: ["backtest", str(p.uni), *TOPK, "--out", str(p.uni)], "is where DATA"),
    "--out the folder of DATA": (lambda p: ["forecast", str(p.m), "--out", str(p.m.parent)], "is where DATA"),
    "--out a folder of bar files": (lambda p: ["backtest", str(p.m), "--out", str(p.bars)], "holds 600036.csv"),
    "--start = --end": (lambda p: ["backtest", str(p.m), "--start", "2019-06-03", "--end", "2019-06-03"],
                        "one day has no return to measure"),
    "--start after --end": (lambda p: ["forecast", str(p.m), "--start", "2019-06-05", "--end", "2019-06-03"],
                            "start=2019-06-05 is after end=2019-06-03"),
    "--threads far beyond the cores": (lambda p: ["backtest", str(p.m), "--threads", "100000"], "--threads 100000"),
    "--retries -1": (lambda p: ["forecast", str(p.uni), "--retries", "-1"], "retries=-1"),
    "--workers 0": (lambda p: ["backtest", str(p.uni), *TOPK, "--workers", "0"], "workers=0"),
    "top_k on a folder of one stock": (lambda p: ["backtest", str(p.one), *TOPK], "needs at least 2"),
    "--store and --no-store": (lambda p: ["backtest", str(p.m), "--store", str(p.root / "folds"), "--no-store"],
                               "give one"),
    "--store a file": (lambda p: ["backtest", str(p.m), "--store", str(p.file)], "--store"),
    "forecast --example and DATA": (lambda p: ["forecast", "--example", str(p.m)], "or --example, not both"),
    "signal --example and DATA": (lambda p: ["signal", "--example", str(p.m)], "or --example, not both"),
    "run FILE too long": (lambda p: ["run", LONG + ".toml"], "the run definition aaa"),
    "compare a forecast folder": (lambda p: ["compare", str(p.fc)], "is a forecast run; compare takes backtests"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_bad_setting_is_refused_in_one_line_before_any_work(case, paths, tmp_path, capsys, no_work):
    argv, needle = REFUSED[case]
    command = argv(paths)
    out = [] if "--out" in command else ["--out", str(tmp_path / "out")]
    compute: list[str] = []
    if command[0] not in ("run", "compare"):  # the tiny model, less the options the case gives itself
        pairs = zip(ARGS[::2], ARGS[1::2], strict=True)
        compute = [part for option, value in pairs if option not in command for part in (option, value)]
        compute += [] if "--store" in command else ["--no-store"]
    refused(capsys, [*command, *out, *compute], needle)


@pytest.mark.parametrize("command", ["backtest", "forecast", "signal", "run", "sweep"])
def test_a_cache_that_is_a_file_is_refused_before_any_work(command, paths, tmp_path, capsys, monkeypatch, no_work):
    """RNNSTRATEGY_CACHE naming a file: one line naming the variable, before the first fold (it failed with a
    traceback after training)."""
    monkeypatch.setenv("RNNSTRATEGY_CACHE", str(paths.file))
    source = str(paths.m).replace("\\", "/")
    definition = tmp_path / "run.toml"
    definition.write_text(f'[data]\nsource = "{source}"\n[forecast]\nhidden = [8]\nlookback = 10\n'
                          + ('[sweep.params]\nentry_threshold = [0.001, 0.002]\n' if command == "sweep" else ""),
                          encoding="utf-8")
    argv = {"backtest": ["backtest", source, *ARGS], "forecast": ["forecast", source, *ARGS],
            "signal": ["signal", source, "--end", LAST_DAY, *ARGS], "run": ["run", str(definition)],
            "sweep": ["sweep", str(definition)]}[command]
    refused(capsys, [*argv, "--out", str(tmp_path / "out")], f"RNNSTRATEGY_CACHE={paths.file}",
            "is not a directory")


@pytest.mark.parametrize(("option", "value", "needle"), [
    ("--hidden", "8,,8", "a value is missing between commas"),  # was read as 8,8
    ("--hidden", "8,", "a value is missing between commas"),
    ("--out", "", "is empty: give a folder"),  # was the current folder
    ("--forecasts", "", "the value is empty"),  # was "no forecasts": it trained instead
])
def test_an_empty_value_is_refused_by_the_parser(option, value, needle, paths, capsys):
    argv = ["backtest", str(paths.m), *NO_STORE, option, value]
    usage_error(capsys, argv if option == "--out" else [*argv, "--out", str(paths.root / "x")], needle)


def test_a_window_of_one_trading_day_is_refused_before_the_backtest(paths, tmp_path, capsys):
    """A Saturday to the Monday after holds one bar: no return to measure (it printed "-43.2 % a year" and
    [nan, nan])."""
    refused(capsys, ["backtest", str(paths.m), "--forecasts", str(paths.forecasts), "--start", "2019-06-08", "--end",
                     "2019-06-10", "--out", str(tmp_path / "out")], "holds one trading day (2019-06-10)")
    assert not (tmp_path / "out").exists()


def test_the_api_checks_the_same_before_any_work(paths, no_work):
    with pytest.raises(ConfigError, match="lookback=0"):
        rs.forecast(paths.uni, ForecastConfig(lookback=0), out=paths.root / "api")
    with pytest.raises(ConfigError, match="is after end"):
        rs.backtest(paths.m, start="2020-01-02", end="2019-01-02", forecast=TINY, store=None)
    with pytest.raises(ConfigError, match="empty"):
        rs.signal("", end=LAST_DAY, forecast=TINY, store=None)


# -- the operating system's refusals while a run writes ------------------------------------------------------------

def test_a_full_disk_while_writing_a_file_names_it_in_one_line(paths, tmp_path, capsys, monkeypatch):
    """ENOSPC on the first file of the run folder: one line naming it (it was a traceback)."""
    import errno

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("rnnstrategy.files.os.fsync", full)
    refused(capsys, ["backtest", str(paths.m), "--forecasts", str(paths.forecasts), "--out", str(tmp_path / "out")],
            f"{tmp_path / 'out' / 'trades.csv'}: no room to write it (No space left on device)")


def test_a_file_size_limit_during_a_backtest_is_one_line_and_no_traceback(paths, tmp_path):
    """A real process whose writes fail with EFBIG part way (RLIMIT_FSIZE, SIGXFSZ ignored), as on a full disk:
    whichever file it is writing, one line and exit code 2."""
    limit = 200_000  # the CSV files fit, the report's figures do not

    def small_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {**os.environ, "RNNSTRATEGY_CACHE": str(tmp_path / "cache"), "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-m", "rnnstrategy.cli", "backtest", str(paths.m), "--forecasts",
                           str(paths.forecasts), "--out", str(tmp_path / "out")], capture_output=True, text=True,
                          env=env, preexec_fn=small_files, timeout=300, check=False)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[-1].startswith("rnnstrategy: error: ") and "no room" in lines[-1], lines


# -- frictions: compare, the examples ------------------------------------------------------------------------------

def test_forecast_and_signal_have_an_example_on_the_bundled_sample(tmp_path, capsys):
    assert main(["forecast", "--example", "--start", "2020-03-02", "--out", str(tmp_path / "f"), *NO_STORE]) == 0
    assert "using the bundled sample" in capsys.readouterr().out
    assert (tmp_path / "f" / "forecasts.csv").is_file()
    assert main(["signal", "--example", "--start", "2020-03-02", "--out", str(tmp_path / "s"), *NO_STORE]) == 0
    out = capsys.readouterr().out
    assert "using the bundled sample" in out and f"decided on the bar of {LAST_DAY}" in out
    assert json.loads((tmp_path / "s" / "orders.json").read_text(encoding="utf-8"))["decided_on"] == LAST_DAY
