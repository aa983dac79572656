"""Universe runs: one forecast frame per symbol, a summary, the same forecasts on every executor."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
from helpers import TINY, tiny_args

from rnnstrategy.cli import main
from rnnstrategy.errors import ConfigError
from rnnstrategy.universe.executors import run_tasks
from rnnstrategy.universe.forecast import forecast_universe
from rnnstrategy.universe.sources import resolve_sources
from rnnstrategy.universe.summary import SUMMARY_COLUMNS

START = "2023-01-03"
SHORT_HISTORY = ("688271.SH", "688041.SH", "301269.SZ")  # 138..153 bars each, from mid 2022


@pytest.fixture(scope="module")
def sources(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Three real short histories and one cut to its newest 60 bars (too short for a retrain)."""
    folder = data_dir / "stocks_tushare_qfq"
    paths = [str(folder / f"{symbol}.csv") for symbol in SHORT_HISTORY]
    lines = (folder / "600519.SH.csv").read_text().splitlines()  # newest first
    cut = tmp_path_factory.mktemp("cut") / "600519.SH.csv"
    cut.write_text("\n".join(lines[:61]) + "\n")
    return [*paths, str(cut)]


@pytest.fixture(scope="module")
def inprocess_run(sources: list[str], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    out = tmp_path_factory.mktemp("inprocess")
    summary = forecast_universe(sources, TINY, start=START, out_dir=out, executor="inprocess", store=None)
    return out, summary


@pytest.mark.shared_data
def test_forecasts_and_summary_per_symbol(inprocess_run: tuple[Path, pd.DataFrame]) -> None:
    out, summary = inprocess_run
    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    assert list(summary["symbol"]) == [*SHORT_HISTORY, "600519.SH"]
    assert list(summary["status"]) == ["ok", "ok", "ok", "skipped"]
    ok = summary[summary["status"] == "ok"]
    assert (ok["forecasts"] > 20).all() and (ok["folds"] == ok["trained"]).all()
    assert ok["rmse_ratio"].between(0.5, 2.0).all() and ok["direction_hit_rate"].between(0, 1).all()
    for symbol, forecasts in zip(ok["symbol"], ok["forecasts"], strict=True):
        frame = pd.read_csv(out / "forecasts" / f"{symbol}.csv", index_col="date", parse_dates=True)
        assert len(frame) == forecasts and frame.index[0] >= pd.Timestamp(START)
        assert {"pred_open_1", "pred_open_2", "fold", "open_1"} <= set(frame.columns)
    assert not (out / "forecasts" / "600519.SH.csv").exists()
    payload = json.loads((out / "summary.json").read_text())
    assert payload["counts"] == {"ok": 3, "skipped": 1, "failed": 0}
    assert payload["config"]["lookback"] == 10 and payload["start"] == START
    assert pd.read_csv(out / "summary.csv")["status"].tolist() == ["ok", "ok", "ok", "skipped"]


@pytest.mark.shared_data
def test_too_short_symbol_is_reported_and_skipped(inprocess_run: tuple[Path, pd.DataFrame]) -> None:
    row = inprocess_run[1].iloc[-1]
    assert row["bars"] == 60 and pd.isna(row["forecasts"])
    assert "too little history: 60 bars 2022-12-16..2023-03-17 hold no retrain" in row["message"]


@pytest.mark.shared_data
def test_process_pool_gives_identical_forecasts(sources: list[str], inprocess_run: tuple[Path, pd.DataFrame],
                                                tmp_path: Path) -> None:
    summary = forecast_universe(sources, TINY, start=START, out_dir=tmp_path, executor="process", workers=2, store=None)
    assert list(summary["status"]) == list(inprocess_run[1]["status"])
    for symbol in SHORT_HISTORY:
        name = f"forecasts/{symbol}.csv"
        assert (tmp_path / name).read_bytes() == (inprocess_run[0] / name).read_bytes()


@pytest.mark.shared_data
def test_a_bad_file_fails_alone_and_a_rerun_trains_nothing(sources: list[str], tmp_path: Path) -> None:
    bad = tmp_path / "garbage.csv"
    bad.write_text("a,b\n1,2\n")
    store = tmp_path / "folds"
    first = forecast_universe([sources[0], str(bad)], TINY, start=START, out_dir=tmp_path / "a", store=store,
                              executor="inprocess")
    assert list(first["status"]) == ["ok", "failed"]
    assert "garbage.csv" in first["message"].iloc[1]
    again = forecast_universe([sources[0]], TINY, start=START, out_dir=tmp_path / "b", store=store,
                              executor="inprocess")
    assert again["folds"].iloc[0] == first["folds"].iloc[0] and again["trained"].iloc[0] == 0  # all from the store
    assert (tmp_path / "a/forecasts/688271.SH.csv").read_bytes() == (tmp_path / "b/forecasts/688271.SH.csv").read_bytes()


def test_row_positions_and_empty_folders_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"start=300 is a row position; give a date"):
        forecast_universe(["x.csv"], TINY, start=300, out_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"holds no \*.csv files"):
        resolve_sources(tmp_path)


def flaky(marker: str) -> str:
    """Fails the first time it sees ``marker`` (a file path), succeeds after."""
    if not os.path.exists(marker):
        Path(marker).touch()
        raise RuntimeError(f"first attempt at {marker}")
    return "ok"


def dies_once(marker: str) -> int:
    """Kills its worker process the first time, returns the worker's pid after."""
    if not os.path.exists(marker):
        Path(marker).touch()
        os._exit(3)
    return os.getpid()


def always_fails(_: str) -> None:
    raise ValueError("broken for good")


def test_failures_are_retried_then_reported(tmp_path: Path) -> None:
    tasks = [str(tmp_path / "a"), str(tmp_path / "b")]
    outcomes = sorted(run_tasks(flaky, tasks, "inprocess", retries=1), key=lambda o: o.index)
    assert [(o.value, o.attempts) for o in outcomes] == [("ok", 2), ("ok", 2)]
    (failed,) = run_tasks(always_fails, ["x"], "inprocess", retries=2)
    assert failed.attempts == 3 and failed.value is None
    assert failed.error.startswith("ValueError: broken for good (at ")


def test_a_dead_worker_is_replaced_and_its_task_retried(tmp_path: Path) -> None:
    (outcome,) = run_tasks(dies_once, [str(tmp_path / "marker")], "process", retries=1, workers=1)
    assert outcome.ok and outcome.attempts == 2 and outcome.value != os.getpid()


@pytest.mark.shared_data
def test_ray_gives_identical_forecasts(sources: list[str], inprocess_run: tuple[Path, pd.DataFrame],
                                       tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="Ray is optional: pip install 'rnnstrategy[ray]' to run this test")
    if os.environ.get("RAY_ADDRESS"):
        pytest.skip("RAY_ADDRESS is set: this test starts its own local cluster")
    summary = forecast_universe(sources[:2], TINY, start=START, out_dir=tmp_path, executor="ray", workers=2, store=None)
    assert list(summary["status"]) == ["ok", "ok"]
    for symbol in SHORT_HISTORY[:2]:
        name = f"forecasts/{symbol}.csv"
        assert (tmp_path / name).read_bytes() == (inprocess_run[0] / name).read_bytes()


@pytest.mark.shared_data
def test_command_line_forecasts_a_folder(sources: list[str], inprocess_run: tuple[Path, pd.DataFrame],
                                         tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "universe"
    folder.mkdir()
    for source in sources:
        (folder / Path(source).name).write_bytes(Path(source).read_bytes())
    tiny = [*tiny_args(), "--no-store", "--start", START]
    code = main(["forecast", str(folder), *tiny, "--executor", "inprocess", "--threads", "1",
                 "--out", str(tmp_path / "out")])
    assert code == 0
    printed = capsys.readouterr().out
    assert "4 sources: 3 ok, 1 skipped, 0 failed" in printed and "600519.SH: skipped: too little history" in printed
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert sorted(summary["symbol"]) == sorted([*SHORT_HISTORY, "600519.SH"])
    for symbol in SHORT_HISTORY:  # the same forecasts as the Python API
        name = f"forecasts/{symbol}.csv"
        assert (tmp_path / "out" / name).read_bytes() == (inprocess_run[0] / name).read_bytes()


@pytest.mark.shared_data
def test_forecasts_do_not_depend_on_the_thread_count(sources: list[str], inprocess_run: tuple[Path, pd.DataFrame],
                                                     tmp_path: Path) -> None:
    summary = forecast_universe(sources[:1], TINY, start=START, out_dir=tmp_path, executor="inprocess", threads=2,
                                store=None)
    assert list(summary["status"]) == ["ok"]
    name = f"forecasts/{SHORT_HISTORY[0]}.csv"
    assert (tmp_path / name).read_bytes() == (inprocess_run[0] / name).read_bytes()


@pytest.mark.shared_data
def test_a_stock_list_is_metadata_and_bad_rows_before_the_range_are_not_read(
        data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """000004.SZ has bad rows in 1991-1993 (see test_data_files), decades before what a 2023 run reads."""
    folder = tmp_path / "universe"
    folder.mkdir()
    for symbol in ("000004.SZ", SHORT_HISTORY[0]):
        (folder / f"{symbol}.csv").write_bytes((data_dir / "stocks_tushare_qfq" / f"{symbol}.csv").read_bytes())
    stock_list = folder / "stock_list.csv"  # recognised by its header, whatever its name
    stock_list.write_text("ts_code,symbol,name,area,industry,list_date\n000004.SZ,000004,ST国华,深圳,软件服务,19910114\n"
                          "688271.SH,688271,联影医疗,上海,医疗保健,20220822\n", encoding="utf-8")
    assert resolve_sources(folder) == [str(folder / "000004.SZ.csv"), str(folder / "688271.SH.csv")]

    summary = forecast_universe(folder, TINY, start=START, out_dir=tmp_path / "api", executor="inprocess", store=None)
    assert list(summary["symbol"]) == ["000004.SZ", "688271.SH"] and list(summary["status"]) == ["ok", "ok"]
    assert list(summary["name"]) == ["ST国华", "联影医疗"] and list(summary["industry"]) == ["软件服务", "医疗保健"]
    old = summary.iloc[0]
    before_start = TINY.history_needed()  # 1013 bars: train_window 1000 + horizon 2 + lookback 10 + warm-up 1
    assert old["first_bar"] == "2018-09-18" and old["bars"] == before_start + old["forecasts"]
    payload = json.loads((tmp_path / "api" / "summary.json").read_text())
    assert payload["counts"] == {"ok": 2, "skipped": 0, "failed": 0}
    assert payload["securities"] == str(stock_list) and payload["history"] == before_start

    tiny = [*tiny_args(), "--no-store", "--start", START]
    code = main(["forecast", str(folder), *tiny, "--executor", "inprocess", "--threads", "1",
                 "--out", str(tmp_path / "cli")])
    assert code == 0
    assert "2 sources: 2 ok, 0 skipped, 0 failed" in capsys.readouterr().out
    name = "forecasts/000004.SZ.csv"
    assert (tmp_path / "cli" / name).read_bytes() == (tmp_path / "api" / name).read_bytes()


def test_a_stock_list_alone_is_no_universe(tmp_path: Path) -> None:
    stock_list = tmp_path / "basic_stock_data.csv"
    stock_list.write_text("ts_code,symbol,name,area,industry,list_date\n600519.SH,600519,贵州茅台,贵州,白酒,20010827\n",
                          encoding="utf-8")
    with pytest.raises(ConfigError, match=r"holds no \*.csv files of bars \(only the stock list .*basic_stock_data.csv\)"):
        resolve_sources(tmp_path)
    with pytest.raises(ConfigError, match=r"sources holds no bars \(only the stock list .*basic_stock_data.csv\)"):
        resolve_sources([stock_list])
