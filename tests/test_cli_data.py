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
