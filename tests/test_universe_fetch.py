"""Filling the cache for a universe from akshare, offline: raw bars and factors of every member since a
date, resume, failures, and the raw + factor frame a later load gives (akshare replaced by
tests/akshare_fake.py, which answers in akshare's own formats)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from akshare_fake import SYMBOLS, FakeAkshare, factor_frame, spells_csv

from rnnstrategy.data import AkshareSource, BarCache, adjusted_bars, load_bars
from rnnstrategy.data.universe_fetch import fetch_members, members_between
from rnnstrategy.errors import DataError
from rnnstrategy.universe.membership_sources import load_membership

START, END = dt.date(2022, 6, 27), dt.date(2022, 7, 22)
TESTS = Path(__file__).resolve().parent
CACHE_FILES = sorted(f"stock_{symbol}_{kind}.{ext}" for symbol in SYMBOLS for kind in ("raw", "hfq-factor")
                     for ext in ("csv", "json"))


def source(api, tmp_path, retries=3):
    return AkshareSource(cache=BarCache(tmp_path / "cache"), retries=retries, backoff=0, api=api,
                         today=dt.date(2023, 10, 10))


def fetch(api, tmp_path, retries=3, symbols=SYMBOLS):
    return {r.symbol: r for r in fetch_members(source(api, tmp_path, retries), symbols, START, END)}


def test_members_are_those_of_any_day_in_the_range(tmp_path):
    membership = load_membership(spells_csv(tmp_path / "spells.csv"))
    assert members_between(membership.spells, START, END) == ["000001.SZ", "600036.SH", "600519.SH"]
    assert members_between(membership.spells, START) == ["000001.SZ", "600036.SH", "600519.SH", "601318.SH"]
    assert members_between(membership.spells, dt.date(2022, 6, 24), dt.date(2022, 6, 24)) == [
        "000001.SZ", "600000.SH", "600519.SH"]


def test_csi300_members_since_2018_from_index_constitution():
    """The members `data fetch --universe csi300 --start 2018-01-01 --end 2023-12-31` fetches: the 300 of
    any one day and every stock that came or went in between."""
    membership = load_membership("csi300")
    members = members_between(membership.spells, dt.date(2018, 1, 1), dt.date(2023, 12, 31))
    assert len(members) == 526 and "600519.SH" in members
    assert membership.members_on("2018-01-02") <= set(members) and membership.members_on("2023-12-29") <= set(members)


def test_raw_bars_and_factors_of_every_member_reach_the_cache(tmp_path):
    api = FakeAkshare()
    results = fetch(api, tmp_path)
    assert {s: (r.status, r.rows) for s, r in results.items()} == {s: ("fetched", 20) for s in SYMBOLS}
    assert results["600519.SH"].describe() == "600519.SH: 20 bars 2022-06-27..2022-07-22 (fetched)"
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == CACHE_FILES  # nothing else, no temporary file
    assert sorted(api.calls) == sorted(
        [("stock_zh_a_hist", s[:6], "20220627", "20220722", "") for s in SYMBOLS]
        + [("stock_zh_a_daily", f"{s[-2:].lower()}{s[:6]}", "hfq-factor") for s in SYMBOLS])
    factors = pd.read_csv(tmp_path / "cache" / "stock_600519.SH_hfq-factor.csv")
    assert list(factors.columns) == ["date", "factor"] and factors["date"].iloc[0] == "1900-01-01"
    assert factors["factor"].tolist() == [1.0, 6.628762, 6.700286, 6.7856, 6.8898]


def test_a_later_load_gives_raw_prices_with_the_factor(tmp_path):
    fetch(FakeAkshare(), tmp_path)
    offline = FakeAkshare(fail={s: 99 for s in ("600519", "sh600519", "000001", "sz000001")})
    bars = load_bars("600519", START, END, adjust="", akshare=source(offline, tmp_path))
    assert offline.calls == []  # from the cache alone
    assert list(bars.columns) == ["open", "high", "low", "close", "volume", "amount", "factor"]
    assert bars.attrs["adjust"] == "" and bars.attrs["factor_adjust"] == "hfq"
    assert bars.loc["2022-06-29", "close"] == 2030.00 and bars.loc["2022-06-29", "volume"] == 3_036_000.0
    assert bars.loc["2022-06-29", "factor"] == 6.628762 and bars.loc["2022-06-30", "factor"] == 6.700286
    assert bars["factor"].nunique() == 2  # the 2022-12-27 and 2023 ex-dates change nothing before them
    # the cash dividend the factor step implies: Moutai paid 21.675 CNY a share, ex 2022-06-30
    dividend = 2030.00 * (1 - 6.628762 / 6.700286)
    assert dividend == pytest.approx(21.675, rel=1e-3)
    adjusted = adjusted_bars(bars)
    assert adjusted.attrs["adjust"] == "hfq" and "factor" not in adjusted.columns
    assert adjusted.loc["2022-06-30", "close"] == pytest.approx(2045.00 * 6.700286)
    ping_an = load_bars("000001", START, END, adjust="", akshare=source(offline, tmp_path))
    assert 13.01 * (1 - 100.572052 / 102.382019) == pytest.approx(0.228, rel=1e-2)  # 2.28 CNY per 10, ex 07-22
    assert ping_an["factor"].loc[:"2022-07-21"].eq(100.572052).all() and ping_an["factor"].iloc[-1] == 102.382019


def test_a_load_with_history_before_start_is_answered_offline(tmp_path):
    fetch(FakeAkshare(), tmp_path)
    offline = FakeAkshare(fail={"600519": 99, "sh600519": 99})
    bars = load_bars("600519", "2022-07-01", END, adjust="", history=3, akshare=source(offline, tmp_path))
    assert offline.calls == [] and bars.index[0] == pd.Timestamp("2022-06-28") and len(bars) == 19
    assert bars.loc["2022-06-29":"2022-06-30", "factor"].tolist() == [6.628762, 6.700286]


def test_without_cached_factors_raw_and_qfq_loads_stay_as_they_were(tmp_path):
    api = FakeAkshare()
    bars = load_bars("600519", START, END, adjust="", akshare=source(api, tmp_path))
    assert "factor" not in bars.columns and "factor_adjust" not in bars.attrs
    assert [call[0] for call in api.calls] == ["stock_zh_a_hist"]
    fetch(api, tmp_path)
    qfq = load_bars("600519", START, END, adjust="qfq", akshare=source(api, tmp_path))
    assert "factor" not in qfq.columns and api.calls[-1] == ("stock_zh_a_hist", "600519", "20220627", "20220722", "qfq")


def test_a_second_run_downloads_nothing(tmp_path):
    fetch(FakeAkshare(), tmp_path)
    again = FakeAkshare()
    results = fetch(again, tmp_path)
    assert again.calls == [] and {r.status for r in results.values()} == {"cached"}
    assert results["600036.SH"].describe() == "600036.SH: 20 bars 2022-06-27..2022-07-22 (cached)"


def test_an_interrupted_run_resumes_where_it_stopped(tmp_path):
    api = FakeAkshare(interrupt="sz000001")  # Ctrl-C while the second member's factors download
    done = []
    with pytest.raises(KeyboardInterrupt):
        for result in fetch_members(source(api, tmp_path), SYMBOLS, START, END):
            done.append(result.symbol)
    assert done == ["600519.SH"]
    resumed = FakeAkshare()
    results = fetch(resumed, tmp_path)
    assert [results[s].status for s in SYMBOLS] == ["cached", "fetched", "fetched"]
    # 000001's raw bars were written before the interruption: only its factors are fetched again
    assert [c[:2] for c in resumed.calls] == [("stock_zh_a_daily", "sz000001"), ("stock_zh_a_hist", "600036"),
                                              ("stock_zh_a_daily", "sh600036")]


def test_a_failing_member_is_retried_reported_and_the_others_kept(tmp_path, caplog):
    api = FakeAkshare(fail={"000001": 99})
    results = fetch(api, tmp_path, retries=2)
    failed = results["000001.SZ"]
    assert failed.status == "failed" and [results[s].status for s in ("600519.SH", "600036.SH")] == ["fetched"] * 2
    assert failed.error.startswith("cannot download 000001.SZ (offline?) and no cached bars cover this range")
    assert "stock_zh_a_hist(000001, 20220627..20220722, '') failed after 2 attempt(s): ConnectionError" in failed.error
    assert api.calls.count(("stock_zh_a_hist", "000001", "20220627", "20220722", "")) == 2
    assert "failed (attempt 1)" in caplog.text
    assert not any(p.name.startswith("stock_000001") for p in (tmp_path / "cache").iterdir())
    rerun = FakeAkshare()
    assert [r.status for r in fetch(rerun, tmp_path).values()] == ["cached", "fetched", "cached"]
    assert {c[1] for c in rerun.calls} == {"000001", "sz000001"}


def test_transient_failures_are_retried_to_success(tmp_path):
    api = FakeAkshare(fail={"sh600036": 2})
    assert fetch(api, tmp_path, retries=3)["600036.SH"].status == "fetched"
    assert api.calls.count(("stock_zh_a_daily", "sh600036", "hfq-factor")) == 3


def test_a_member_without_bars_is_reported_apart(tmp_path):
    results = fetch(FakeAkshare(empty=("600036",)), tmp_path)
    assert results["600036.SH"].status == "no bars"
    assert "akshare returned no bars for 600036.SH (2022-06-27..2022-07-22" in results["600036.SH"].describe()


def test_bad_factor_tables_fail_their_member_with_the_reason(tmp_path):
    broken = factor_frame("sh600519")
    broken.loc[2, "hfq_factor"] = "--"
    late = factor_frame("sz000001").iloc[:2]  # begins 2022-07-22: the bars before it have no factor
    results = fetch(FakeAkshare(factors={"sh600519": broken, "sz000001": late}), tmp_path)
    assert results["600519.SH"].status == "failed" and results["600519.SH"].error == (
        "akshare 600519.SH factors: unreadable factor row date=Timestamp('2022-06-30 00:00:00') hfq_factor='--' "
        "(1 such row(s)); the download is damaged: fetch it again")
    assert results["000001.SZ"].error.startswith("akshare 000001.SZ: the factor table begins on 2022-07-22, after "
                                                 "the first bar on 2022-06-27")
    with pytest.raises(DataError, match="begins on 2022-07-22"):  # and a later load says the same
        load_bars("000001", START, END, adjust="", akshare=source(FakeAkshare(fail={"000001": 9}), tmp_path))


_RUN_CLI = """
import sys
sys.path.insert(0, {tests!r})
import akshare_fake
import rnnstrategy.data.akshare_source as akshare_source
fake = akshare_fake.FakeAkshare(hang={hang!r})
akshare_source._import_akshare = lambda: fake
from rnnstrategy.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _cli(tmp_path, hang=None):
    spells = spells_csv(tmp_path / "spells.csv")
    argv = ["data", "fetch", "--universe", str(spells), "--start", str(START), "--end", str(END),
            "--cache-dir", str(tmp_path / "cache")]
    code = _RUN_CLI.format(tests=str(TESTS), hang=hang)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return [sys.executable, "-c", code, *argv], env


def test_ctrl_c_stops_the_command_and_a_second_run_resumes(tmp_path):
    """Fault test: SIGINT while the last member (in symbol order) downloads exits 130 with one line after the
    progress lines; the members done are kept."""
    command, env = _cli(tmp_path, hang="600519")
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    shown = []
    for line in process.stdout:  # until the second member is reported done (the third then hangs)
        shown.append(line)
        if line.startswith("600036.SH:"):
            break
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    out = "".join(shown) + out
    assert process.returncode == 130, err
    *shown_progress, last = err.strip().splitlines()
    assert last == "rnnstrategy: interrupted" and all(line.startswith("fetch: ") for line in shown_progress)
    assert "600036.SH: 20 bars 2022-06-27..2022-07-22 (fetched)" in out and "600519.SH" not in out.split("\n", 1)[1]
    assert (tmp_path / "cache" / "stock_600036.SH_hfq-factor.json").exists()
    command, env = _cli(tmp_path)
    again = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "3 members: 1 fetched, 2 already cached, 0 without bars, 0 failed" in again.stdout
