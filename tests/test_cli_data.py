import json

import pytest

from rnnstrategy.cli import main


def test_data_show_json(data_dir, capsys):
    assert main(["data", "show", str(data_dir / "SH600519.csv"), "--start", "2019-05-06", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary == {
        "symbol": "600519.SH",
        "board": "main",
        "adjust": "qfq",
        "format": "tushare_k",
        "rows": 240,
        "first": "2019-05-06",
        "last": "2020-04-24",
        "last_close": 1250.56,
        "columns": ["open", "high", "low", "close", "volume"],
        "dropped_rows": 0,
    }


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["data", "show", str(tmp_path / "missing.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rnnstrategy: error: ") and "missing.csv: no such file" in err[0]


@pytest.mark.shared_data
def test_lenient_reports_dropped_rows(data_dir, capsys):
    path = data_dir / "stocks_tushare_qfq" / "000004.SZ.csv"
    assert main(["data", "show", str(path), "--lenient", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["dropped_rows"] == 3


# ``data fetch --universe``: akshare replaced by the offline stand-in of tests/akshare_fake.py


@pytest.fixture
def fake_akshare(monkeypatch):
    from akshare_fake import FakeAkshare

    from rnnstrategy.data import akshare_source

    def install(**kwargs):
        fake = FakeAkshare(**kwargs)
        monkeypatch.setattr(akshare_source, "_import_akshare", lambda: fake)
        return fake
    return install


def _universe(tmp_path, *more):
    from akshare_fake import spells_csv

    spells = spells_csv(tmp_path / "spells.csv")
    return ["data", "fetch", "--universe", str(spells), "--start", "2022-06-27", "--end", "2022-07-22",
            "--cache-dir", str(tmp_path / "cache"), *more]


def test_fetch_universe_fills_the_cache_and_resumes(tmp_path, capsys, fake_akshare):
    fake = fake_akshare()
    assert main(_universe(tmp_path)) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (f"{tmp_path / 'spells.csv'}: 3 members between 2022-06-27 and 2022-07-22: raw bars and "
                      f"adjustment factors into {tmp_path / 'cache'}")
    assert out[1:] == ["000001.SZ: 20 bars 2022-06-27..2022-07-22 (fetched)",
                       "600036.SH: 20 bars 2022-06-27..2022-07-22 (fetched)",
                       "600519.SH: 20 bars 2022-06-27..2022-07-22 (fetched)",
                       f"{tmp_path / 'spells.csv'}: 3 members: 3 fetched, 0 already cached, 0 without bars, 0 failed"]
    assert len(fake.calls) == 6
    again = fake_akshare()
    assert main(_universe(tmp_path)) == 0
    assert again.calls == [] and "3 members: 0 fetched, 3 already cached" in capsys.readouterr().out
    assert main(["data", "show", "600519", "--adjust", "", "--start", "2022-06-27", "--end", "2022-07-22",
                 "--cache-dir", str(tmp_path / "cache"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["columns"][-1] == "factor" and summary["last_close"] == 1947.0 and summary["adjust"] == ""


def test_fetch_universe_lists_failures_and_exits_1(tmp_path, capsys, fake_akshare):
    fake_akshare(fail={"sh600036": 99}, empty=("000001",))
    assert main(_universe(tmp_path, "--retries", "1")) == 1
    captured = capsys.readouterr()
    assert "3 members: 1 fetched, 0 already cached, 1 without bars, 1 failed" in captured.out
    assert "without bars at akshare: 000001.SZ" in captured.out
    err = [line for line in captured.err.strip().splitlines() if not line.startswith("fetch: ")]  # no progress
    assert err[0].startswith("600036.SH: failed: cannot download the factors of 600036.SH (offline?)")
    assert err[-1] == ("rnnstrategy: 1 failed (what was fetched is kept; run the same command again to retry "
                       "them): 600036.SH")
    fake = fake_akshare()
    assert main(_universe(tmp_path)) == 0
    assert {call[1] for call in fake.calls} == {"000001", "sz000001", "sh600036"}  # 600519 was kept


def test_fetch_universe_interrupted_exits_130_and_keeps_what_was_done(tmp_path, capsys, fake_akshare):
    fake_akshare(interrupt="600519")
    assert main(_universe(tmp_path)) == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == "rnnstrategy: interrupted"
    fake = fake_akshare()
    assert main(_universe(tmp_path)) == 0
    assert {call[1] for call in fake.calls} == {"600519", "sh600519"}


def test_fetch_universe_csi300_from_index_constitution_with_its_index(tmp_path, capsys, fake_akshare):
    fake_akshare()  # holds the bars of 3 of the members only
    argv = ["data", "fetch", "--universe", "csi300", "--start", "2022-06-27", "--end", "2022-07-22",
            "--cache-dir", str(tmp_path / "cache")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"csi300: 300 members between 2022-06-27 and 2022-07-22: raw bars and adjustment "
                          f"factors into {tmp_path / 'cache'}\n")
    assert "index 000300.SH: 20 bars 2022-06-27..2022-07-22 (fetched)" in out
    assert "csi300: 300 members: 3 fetched, 0 already cached, 297 without bars, 0 failed" in out
    again = fake_akshare()
    assert main(argv) == 0
    assert "index 000300.SH: 20 bars 2022-06-27..2022-07-22 (cached)" in capsys.readouterr().out
    assert {call[0] for call in again.calls} == {"stock_zh_a_hist"}  # only the members without bars, again


@pytest.mark.parametrize(("args", "message"), [
    (["data", "fetch"], "nothing to fetch: give SYMBOLs (e.g. 600519 sh000300) or --universe NAME"),
    (["data", "fetch", "--universe", "csi300"], "--universe csi300 needs --start (e.g. --start 2018-01-01)"),
    (["data", "fetch", "600519", "--universe", "csi300", "--start", "2018-01-01"],
     "give SYMBOLs (600519) or --universe csi300, not both"),
    (["data", "fetch", "--universe", "csi300", "--start", "2018-01-01", "--adjust", "qfq"],
     "--universe fetches raw bars with their adjustment factors; drop --adjust qfq"),
    (["data", "fetch", "--universe", "csi300", "--start", "2018-13-01"], "--start '2018-13-01' is not a date"),
    (["data", "fetch", "--universe", "csi300", "--start", "2020-01-01", "--end", "2019-01-01"],
     "--start 2020-01-01 is after --end 2019-01-01"),
    (["data", "fetch", "--universe", "csi42", "--start", "2018-01-01"], "'csi42': no index membership of that name"),
])
def test_fetch_universe_bad_input_is_one_line_and_exit_2(args, message, capsys, fake_akshare):
    fake = fake_akshare()
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"rnnstrategy: error: {message}")
    assert fake.calls == []
