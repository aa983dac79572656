"""Bad input from the user: absurd prices, impossible options, unreadable paths.

Each case fails in one line naming the value and the fix, with exit code 2, before any
training (a patched ``walk_forward`` fails the test if it is reached); absurd prices are bad
rows like any other (strict: an error with the date; lenient: dropped and listed).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os

import numpy as np
import pandas as pd
import pytest
from helpers import synthetic, tiny_args

from rnnstrategy.cli import main
from rnnstrategy.data import AkshareSource, BarCache, load_bars, validate_bars
from rnnstrategy.data.frame import GAP_DAYS
from rnnstrategy.errors import DataError, FetchError
from rnnstrategy.report.folder import write_json

BAD_DAY = 150  # the row spoilt in the price cases


def bars_csv(tmp_path, bars: pd.DataFrame | None = None, name: str = "000001.csv"):
    """``bars`` (default: 300 synthetic bars of 000001.SZ, a main-board stock) as a get_k_data CSV."""
    bars = synthetic(300) if bars is None else bars
    path = tmp_path / name
    bars.assign(code="000001").to_csv(path, index_label="date")
    return path


def run_cli(capsys, *argv: str) -> tuple[int, list[str]]:
    code = main(list(argv))
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    return code, err


def assert_one_line(code: int, err: list[str], *needles: str) -> None:
    assert code == 2, err
    assert len(err) == 1 and err[0].startswith("rnnstrategy: error: "), err
    for needle in needles:
        assert needle in err[0], err[0]


# ---------------------------------------------------------------- price plausibility

def spoilt(change) -> tuple[pd.DataFrame, pd.Timestamp]:
    bars = synthetic(300)
    day = bars.index[BAD_DAY]
    change(bars, day)
    return bars, day


def times_1000(bars, day):
    bars.loc[day, ["open", "high", "low", "close"]] *= 1000  # still a consistent OHLC bar


def open_1e300(bars, day):
    bars.loc[day, ["open", "high"]] = 1e300


def infinite_high(bars, day):
    bars.loc[day, "high"] = np.inf


@pytest.mark.parametrize(("change", "reason"), [
    (times_1000, "implausible move against the previous close"),
    (open_1e300, "implausible move against the previous close"),
    (infinite_high, "infinite price"),
])
def test_absurd_prices_are_bad_rows(tmp_path, change, reason):
    bars, day = spoilt(change)
    path = bars_csv(tmp_path, bars)
    with pytest.raises(DataError, match=rf"000001.csv: bad bar\(s\): {reason} on {day:%Y-%m-%d}\. .*--lenient "
                                        r"\(strict=False in Python\)"):
        load_bars(path)
    lenient = load_bars(path, strict=False)
    assert day not in lenient.index and len(lenient) == 299  # only the spoilt bar, not the one after it
    assert lenient.attrs["dropped"].reasons == {reason: [day]}


def test_infinite_volume_is_a_bad_row():
    bars, day = spoilt(lambda b, d: b.__setitem__("volume", b["volume"].where(b.index != d, np.inf)))
    with pytest.raises(DataError, match=rf"infinite volume on {day:%Y-%m-%d}"):
        validate_bars(bars, "x")


def test_a_fall_is_bounded_like_a_rise():
    bars, day = spoilt(lambda b, d: b.loc.__setitem__((d, ["open", "high", "low", "close"]),
                                                      b.loc[d, ["open", "high", "low", "close"]] / 1000))
    dropped = validate_bars(bars, "x", strict=False).attrs["dropped"]
    assert dropped.reasons == {"implausible move against the previous close": [day]}


def test_a_jump_after_a_long_suspension_is_accepted():
    bars = synthetic(300)
    resumed = bars.index[BAD_DAY]
    suspended = bars.loc[resumed - pd.Timedelta(days=GAP_DAYS + 1): resumed].index[:-1]
    bars = bars.drop(suspended)
    bars.loc[resumed:, ["open", "high", "low", "close"]] *= 1.8  # resumes 80 % higher, far beyond 3 × 10 %
    assert len(validate_bars(bars, "000001.SZ")) == len(bars)


def test_a_jump_that_lasts_is_a_discontinuity_of_the_source_not_a_bad_row():
    # the tushare qfq files switch from raw to adjusted prices on 2000-01-04 (600000.SH: 24.75
    # then 1.72, a +3.3 % day by the file's own pct_chg): a new level that lasts is kept
    bars = synthetic(300)
    bars.iloc[BAD_DAY:, :4] /= 14.4
    assert len(validate_bars(bars, "000001.SZ")) == 300


def test_the_first_bar_may_be_a_listing_day():
    bars = synthetic(300)
    bars.iloc[0, :4] = bars.iloc[0, :4] / 3  # day one far below day two (an IPO pop)
    assert len(validate_bars(bars, "000001.SZ")) == 300


# ---------------------------------------------------------------- metrics.json

def _refuse_constant(name):
    raise ValueError(f"{name} is not JSON")


def test_metrics_json_is_strict_json(tmp_path):
    path = write_json(tmp_path / "metrics.json", {
        "rmse": float("nan"), "sharpe": np.float64(np.inf), "worst": -math.inf, "n": np.int64(3),
        "by_h": [np.nan, 1.5], "series": pd.Series([np.inf, 2.0]), "array": np.array([np.nan]),
    })
    payload = json.loads(path.read_text(encoding="utf-8"), parse_constant=_refuse_constant)
    assert payload == {"rmse": None, "sharpe": None, "worst": None, "n": 3, "by_h": [None, 1.5],
                       "series": [None, 2.0], "array": [None]}


# ---------------------------------------------------------------- one-line errors before training

def test_device_cuda_without_cuda_fails_before_training(tmp_path, capsys, monkeypatch, no_training):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    path = bars_csv(tmp_path)
    for command in ("forecast", "backtest"):
        code, err = run_cli(capsys, command, str(path), "--out", str(tmp_path / command), *tiny_args(),
                            "--device", "cuda", "--no-store")
        assert_one_line(code, err, "device='cuda' but this machine has no CUDA; use --device cpu or auto")


@pytest.mark.parametrize("argv", [
    ("forecast", "--start", "2020-13-45"),
    ("forecast", "--end", "someday"),
    ("backtest", "--start", "garbage"),
    ("backtest", "--end", "2020-02-30"),
])
def test_a_date_that_is_no_date_fails_in_one_line(tmp_path, capsys, no_training, argv):
    command, flag, value = argv
    code, err = run_cli(capsys, command, str(bars_csv(tmp_path)), "--out", str(tmp_path / "out"), *tiny_args(),
                        flag, value, "--no-store")
    assert_one_line(code, err, value, "2020-04-24" if command == "forecast" else "YYYY-MM-DD")


@pytest.mark.parametrize("command", ["forecast", "backtest"])
def test_out_that_is_a_file_fails_before_training(tmp_path, capsys, no_training, command):
    path = bars_csv(tmp_path)
    code, err = run_cli(capsys, command, str(path), "--out", str(path), *tiny_args(), "--no-store")
    assert_one_line(code, err, f"--out {path}: exists and is not a directory")
    blocked = tmp_path / "a-file" / "run"
    (tmp_path / "a-file").write_text("x")
    code, err = run_cli(capsys, command, str(path), "--out", str(blocked), *tiny_args(), "--no-store")
    assert_one_line(code, err, f"--out {blocked}:", "is a file")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write a read-only folder")
def test_out_in_a_read_only_folder_fails_before_training(tmp_path, capsys, no_training):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code, err = run_cli(capsys, "forecast", str(bars_csv(tmp_path)), "--out", str(locked / "run"), *tiny_args(),
                            "--no-store")
    finally:
        locked.chmod(0o700)
    assert_one_line(code, err, "is not writable")


def test_infinite_cash_fails_before_training(tmp_path, capsys, no_training):
    code, err = run_cli(capsys, "backtest", str(bars_csv(tmp_path)), "--out", str(tmp_path / "out"), *tiny_args(),
                        "--cash", "inf", "--no-store")
    assert_one_line(code, err, "cash=inf")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads a file whatever its mode")
def test_an_unreadable_file_fails_in_one_line(tmp_path, capsys, no_training):
    path = bars_csv(tmp_path)
    path.chmod(0)
    try:
        code, err = run_cli(capsys, "forecast", str(path), "--out", str(tmp_path / "out"), *tiny_args())
    finally:
        path.chmod(0o600)
    assert_one_line(code, err, f"{path}: permission denied")


@pytest.mark.skipif(not os.path.exists("/proc/self/mem"), reason="no /proc here")
def test_a_special_file_fails_in_one_line(tmp_path, capsys, no_training):
    code, err = run_cli(capsys, "forecast", "/proc/self/mem", "--out", str(tmp_path / "out"), *tiny_args())
    assert_one_line(code, err, "/proc/self/mem: cannot be read")


def test_a_device_file_is_refused(tmp_path):
    with pytest.raises(DataError, match=r"/dev/null: not a regular file"):
        load_bars("/dev/null")


@pytest.mark.parametrize("sources", [1, 2])
def test_negative_threads_are_refused_for_one_file_and_a_universe(tmp_path, capsys, no_training, sources):
    paths = [str(bars_csv(tmp_path, name=f"00000{i + 1}.csv")) for i in range(sources)]
    code, err = run_cli(capsys, "forecast", *paths, "--out", str(tmp_path / "out"), *tiny_args(), "--threads", "-1")
    assert_one_line(code, err, "--threads -1: give a number of threads (1 or more), or 0 for every core")


def test_verbose_keeps_exit_code_2_and_adds_the_traceback(tmp_path, capsys, no_training):
    code, err = run_cli(capsys, "-v", "forecast", str(bars_csv(tmp_path)), "--out", str(tmp_path / "out"),
                        *tiny_args(), "--threads", "-1")
    assert code == 2
    assert err[0] == "rnnstrategy: error: --threads -1: give a number of threads (1 or more), or 0 for every core"
    assert any(line.startswith("Traceback") for line in err[1:])


def test_lenient_drops_bad_rows_of_a_single_file_and_runs(tmp_path, capsys):
    bars, day = spoilt(times_1000)
    path = bars_csv(tmp_path, bars)
    out = tmp_path / "out"
    code, err = run_cli(capsys, "-q", "forecast", str(path), "--out", str(out), *tiny_args(), "--no-store")
    assert_one_line(code, err, f"{day:%Y-%m-%d}", "--lenient (strict=False in Python)")
    assert "strict=False to" not in err[0]
    code, _ = run_cli(capsys, "-q", "forecast", str(path), "--out", str(out), *tiny_args(), "--no-store",
                      "--lenient")
    assert code == 0
    forecasts = pd.read_csv(out / "forecasts.csv", index_col=0, parse_dates=True)
    assert day not in forecasts.index and len(forecasts) > 0
    json.loads((out / "metrics.json").read_text(encoding="utf-8"), parse_constant=_refuse_constant)


# ---------------------------------------------------------------- offline advice first

class OfflineAkshare:
    """akshare's stock download, failing as it does offline: with a very long URL."""

    url = "https://push2his.eastmoney.com/api/qt/stock/kline/get?" + "&".join(f"field{i}=f{i}" for i in range(80))

    def stock_zh_a_hist(self, **kwargs):
        raise ConnectionError(f"HTTPSConnectionPool: Max retries exceeded with url: {self.url}")


def test_offline_advice_comes_before_the_url(tmp_path):
    source = AkshareSource(cache=BarCache(tmp_path / "cache"), backoff=0, retries=1, api=OfflineAkshare(),
                           today=dt.date(2023, 10, 10))
    with pytest.raises(FetchError) as caught:
        load_bars("600519", "2023-01-03", "2023-06-30", akshare=source)
    message = str(caught.value)
    assert message.startswith("cannot download 600519.SH (offline?) and no cached bars cover this range")
    assert message.index("To work offline") < message.index("https://")
    assert "rnnstrategy data fetch 600519" in message
    assert OfflineAkshare.url not in message and len(message) < 900
    assert len(OfflineAkshare.url) > 600


@pytest.mark.parametrize("line", ['start = "2020-13-45"', 'end = "soon"', "start = 2020-02-30"])
def test_a_toml_date_that_is_no_date_fails_in_one_line(tmp_path, capsys, no_training, line):
    path = bars_csv(tmp_path)
    toml = tmp_path / "setup.toml"
    toml.write_text(f'[data]\nsource = "{path.name}"\n[backtest]\n{line}\n', encoding="utf-8")
    code, err = run_cli(capsys, "run", str(toml), "--out", str(tmp_path / "out"), "--no-store")
    assert code == 2 and len(err) == 1 and err[0].startswith("rnnstrategy: error: "), err


def test_a_read_permission_error_is_one_line(tmp_path, capsys, monkeypatch, no_training):
    path = bars_csv(tmp_path)

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(pd, "read_csv", denied)  # as for a file that root-less users cannot read
    code, err = run_cli(capsys, "forecast", str(path), "--out", str(tmp_path / "out"), *tiny_args())
    assert_one_line(code, err, f"{path}: cannot be read (Permission denied)")
