"""The akshare adapter, offline: akshare's functions are replaced by a stand-in
that serves the real akshare output in ../shared/data/index/."""

from __future__ import annotations

import datetime as dt
import json
import os

import pandas as pd
import pytest

from rnnstrategy.data import AkshareSource, BarCache, load_bars
from rnnstrategy.errors import DataError, FetchError


class FakeAkshare:
    """``index_zh_a_hist``/``stock_zh_a_hist`` over a real akshare CSV, counting calls."""

    def __init__(self, csv_path, failures: int = 0, error: Exception | None = None):
        self.frame = pd.read_csv(csv_path, dtype={"日期": str})
        self.calls: list[tuple] = []
        self.failures = failures
        self.error = error or ConnectionError("HTTPSConnectionPool(host='push2his.eastmoney.com'): Max retries exceeded")

    def _serve(self, name, symbol, start_date, end_date, **extra):
        self.calls.append((name, symbol, start_date, end_date, *extra.values()))
        if self.failures:
            self.failures -= 1
            raise self.error
        dates = self.frame["日期"].str.replace("-", "")
        return self.frame[(dates >= start_date) & (dates <= end_date)].reset_index(drop=True)

    def index_zh_a_hist(self, symbol, period, start_date, end_date):
        return self._serve("index_zh_a_hist", symbol, start_date, end_date)

    def stock_zh_a_hist(self, symbol, period, start_date, end_date, adjust):
        frame = self._serve("stock_zh_a_hist", symbol, start_date, end_date, adjust=adjust)
        frame.insert(1, "股票代码", symbol)  # stock_zh_a_hist carries the code as its second column
        return frame


@pytest.fixture
def fake(data_dir):
    return FakeAkshare(data_dir / "index" / "sh000300.csv")


def source(api, tmp_path, **kwargs):
    return AkshareSource(cache=BarCache(tmp_path / "cache"), backoff=0, api=api, today=dt.date(2023, 10, 10), **kwargs)


def test_index_download_matches_the_csv(fake, tmp_path, data_dir):
    bars = load_bars("sh000300", "2020-01-02", "2020-12-31", akshare=source(fake, tmp_path))
    assert fake.calls == [("index_zh_a_hist", "000300", "20200102", "20201231")]
    expected = load_bars(data_dir / "index" / "sh000300.csv", "2020-01-02", "2020-12-31")
    pd.testing.assert_frame_equal(bars, expected, check_freq=False)
    assert bars.attrs["symbol"] == "000300.SH" and bars.attrs["adjust"] == ""
    assert len(bars) == 243


def test_stock_download_converts_lots_and_passes_adjust(fake, tmp_path):
    bars = load_bars("600519", "2023-10-09", "2023-10-10", adjust="hfq", akshare=source(fake, tmp_path))
    assert fake.calls == [("stock_zh_a_hist", "600519", "20231009", "20231010", "hfq")]
    # the served row 2023-10-10: 3696.25,3657.13,3701.26,3655.59,99163730 lots,161938958924.8
    assert bars["volume"].iloc[-1] == 9_916_373_000.0
    assert bars.attrs["symbol"] == "600519.SH" and bars.attrs["adjust"] == "hfq"


def test_repeated_request_in_range_uses_cache(fake, tmp_path):
    src = source(fake, tmp_path)
    first = load_bars("sh000300", "2020-01-02", "2020-12-31", akshare=src)
    inner = load_bars("sh000300", "2020-03-02", "2020-06-30", akshare=src)
    again = load_bars("sh000300", "2020-01-02", "2020-12-31", akshare=source(fake, tmp_path))  # new process, same dir
    assert len(fake.calls) == 1
    pd.testing.assert_frame_equal(first, again)
    pd.testing.assert_frame_equal(inner, first.loc["2020-03-02":"2020-06-30"])


def test_extending_the_range_refetches_the_union_in_one_call(fake, tmp_path):
    src = source(fake, tmp_path)
    load_bars("sh000300", "2020-01-02", "2020-12-31", akshare=src)
    bars = load_bars("sh000300", "2021-01-04", "2021-03-31", akshare=src)
    # one download of 2020-01-02..2021-03-31, so a qfq series keeps one adjustment base
    assert fake.calls[-1] == ("index_zh_a_hist", "000300", "20200102", "20210331")
    assert bars.index[0] == pd.Timestamp("2021-01-04")
    load_bars("sh000300", "2020-06-01", "2021-02-01", akshare=src)
    assert len(fake.calls) == 2


def test_transient_failures_are_retried(data_dir, tmp_path, caplog):
    api = FakeAkshare(data_dir / "index" / "sh000300.csv", failures=2)
    bars = load_bars("sh000300", "2020-01-02", "2020-01-10", akshare=source(api, tmp_path, retries=3))
    assert len(api.calls) == 3 and len(bars) == 7
    assert "failed (attempt 1)" in caplog.text


def test_network_failure_without_cache_says_how_to_work_offline(data_dir, tmp_path):
    api = FakeAkshare(data_dir / "index" / "sh000300.csv", failures=99)
    with pytest.raises(FetchError, match=r"^cannot download 000300.SH \(offline\?\) and no cached bars cover this range "
                       r".*load bars from a CSV file.*Cause: akshare index_zh_a_hist\(000300, 20200102..20200110\) "
                       r"failed after 2 attempt\(s\): ConnectionError: "):
        load_bars("sh000300", "2020-01-02", "2020-01-10", akshare=source(api, tmp_path, retries=2))
    assert len(api.calls) == 2


def test_network_failure_with_cache_outside_range(fake, tmp_path):
    src = source(fake, tmp_path)
    load_bars("sh000300", "2020-01-02", "2020-12-31", akshare=src)
    fake.failures = 99
    assert len(load_bars("sh000300", "2020-02-03", "2020-02-28", akshare=src)) == 20  # still served from cache
    with pytest.raises(FetchError, match=r"the cache holds 000300.SH only for 2020-01-02..2020-12-31"):
        load_bars("sh000300", "2021-01-04", "2021-01-29", akshare=src)


def test_corrupt_cache_is_detected_and_refetched(fake, tmp_path, caplog):
    src = source(fake, tmp_path)
    good = load_bars("sh000300", "2020-01-02", "2020-12-31", akshare=src)
    data_file = tmp_path / "cache" / "index_000300.SH_raw.csv"
    text = data_file.read_text().replace("4152.24", "9152.24", 1)  # one silently corrupted price
    data_file.write_text(text)
    again = load_bars("sh000300", "2020-01-02", "2020-12-31", akshare=src)
    assert len(fake.calls) == 2 and "fails its checksum" in caplog.text
    pd.testing.assert_frame_equal(good, again)


def test_truncated_metadata_is_refetched(fake, tmp_path):
    src = source(fake, tmp_path)
    load_bars("sh000300", "2020-01-02", "2020-03-31", akshare=src)
    meta = tmp_path / "cache" / "index_000300.SH_raw.json"
    meta.write_text(meta.read_text()[:20])
    load_bars("sh000300", "2020-01-02", "2020-03-31", akshare=src)
    assert len(fake.calls) == 2
    assert json.loads(meta.read_text())["rows"] == 58


def test_no_leftover_temporary_files(fake, tmp_path):
    load_bars("sh000300", "2020-01-02", "2020-03-31", akshare=source(fake, tmp_path))
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["index_000300.SH_raw.csv", "index_000300.SH_raw.json"]
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "cache" / "index_000300.SH_raw.csv").stat().st_mode & 0o777 == 0o666 & ~umask  # not 0600


def test_empty_answer_is_an_error(fake, tmp_path):
    with pytest.raises(DataError, match=r"akshare returned no bars for 000300.SH \(1990-01-01..1990-12-31"):
        load_bars("sh000300", "1990-01-01", "1990-12-31", akshare=source(fake, tmp_path))


def test_bad_rows_from_akshare_are_validated(data_dir, tmp_path):
    api = FakeAkshare(data_dir / "index" / "sh000300.csv")
    api.frame.loc[api.frame["日期"] == "2020-01-03", "最高"] = 1.0
    with pytest.raises(DataError, match=r"000300.SH: bad bar\(s\): high < low on 2020-01-03"):
        load_bars("sh000300", "2020-01-02", "2020-01-10", akshare=source(api, tmp_path))


def test_history_before_start_comes_from_the_cache_when_it_holds_enough(fake, tmp_path, data_dir):
    src = source(fake, tmp_path)
    load_bars("sh000300", "2020-01-02", "2020-12-31", akshare=src)
    bars = load_bars("sh000300", "2020-06-01", "2020-12-31", history=20, akshare=src)
    assert len(fake.calls) == 1  # the 20 bars before 2020-06-01 are in the cache
    expected = load_bars(data_dir / "index" / "sh000300.csv", "2020-06-01", "2020-12-31", history=20)
    pd.testing.assert_frame_equal(bars, expected, check_freq=False)
    assert bars.index[0] == pd.Timestamp("2020-04-29") and bars.attrs["read_from"] == pd.Timestamp("2020-04-29")
    load_bars("sh000300", "2020-06-01", "2020-12-31", history=200, akshare=src)  # more than the cache holds
    assert fake.calls[-1] == ("index_zh_a_hist", "000300", "19901219", "20201231")
