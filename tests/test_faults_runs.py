"""Run folders know what they hold: no command overwrites another's folder, ``report`` refuses a damaged or
mixed folder, ``run manifest.json`` refuses data that changed since the run (unless told to re-run)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from helpers import TINY, digests, tiny_args

from rnnstrategy import datasets
from rnnstrategy.cli import main

ARGS = [*tiny_args(replace(TINY, retrain_every=60)), "--no-store"]  # few retrains: a quick run
OTHER_MODEL = [*tiny_args(replace(TINY, retrain_every=60, hidden=(4,))), "--no-store"]
CHECKED = ("trades.csv", "equity.csv", "forecasts.csv", "forecasts.meta.json", "metrics.json", "years.csv")


@pytest.fixture(scope="module")
def bars_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled Moutai sample cut to 2018-07..2020-04."""
    lines = datasets.path("moutai").read_text(encoding="utf-8").splitlines()
    keep = [lines[0]] + [line for line in lines[1:] if line.split(",")[1] >= "2018-07-01"]
    path = tmp_path_factory.mktemp("data") / "SH600519.csv"
    path.write_text("\n".join(keep) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def backtest_run(bars_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("backtest") / "run"
    assert main(["-q", "backtest", str(bars_csv), "--out", str(out), *ARGS]) == 0
    return out


@pytest.fixture(scope="module")
def forecast_run(bars_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Forecasts of another model (4 units, not 8) of the same bars."""
    out = tmp_path_factory.mktemp("forecast") / "run"
    assert main(["-q", "forecast", str(bars_csv), "--out", str(out), *OTHER_MODEL]) == 0
    return out


@pytest.fixture
def run_copy(backtest_run: Path, tmp_path: Path) -> Path:
    """A copy of the backtest folder to spoil."""
    return Path(shutil.copytree(backtest_run, tmp_path / "run"))


def test_the_manifests_record_the_kind_and_the_checksums(backtest_run: Path, forecast_run: Path) -> None:
    manifest = json.loads((backtest_run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == "backtest"
    assert manifest["files"] == {name: digests(backtest_run)[name] for name in CHECKED}  # not the HTML or PNGs
    marker = json.loads((forecast_run / "manifest.json").read_text(encoding="utf-8"))
    assert marker["kind"] == "forecast"
    assert set(marker["files"]) == {"forecasts.csv", "forecasts.meta.json", "metrics.json"}


def test_a_forecast_into_a_backtest_folder_is_refused_and_changes_nothing(
        run_copy: Path, bars_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = digests(run_copy)
    assert main(["-q", "forecast", str(bars_csv), "--out", str(run_copy), *ARGS]) == 2
    error = capsys.readouterr().err
    assert f"{run_copy} holds a backtest run" in error and f"choose another --out, or remove {run_copy}" in error
    assert digests(run_copy) == before


def test_a_backtest_into_a_forecast_folder_is_refused_and_changes_nothing(
        forecast_run: Path, bars_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = Path(shutil.copytree(forecast_run, tmp_path / "forecast"))
    before = digests(folder)
    assert main(["-q", "backtest", str(bars_csv), "--out", str(folder), *ARGS]) == 2
    assert f"{folder} holds a forecast run" in capsys.readouterr().err
    assert digests(folder) == before


def test_a_backtest_reruns_into_its_own_folder_and_report_reads_it(run_copy: Path, bars_csv: Path) -> None:
    assert main(["-q", "backtest", str(bars_csv), "--out", str(run_copy), *ARGS]) == 0
    assert main(["-q", "report", str(run_copy)]) == 0


def test_report_refuses_a_folder_mixing_two_runs(run_copy: Path, forecast_run: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copyfile(forecast_run / "forecasts.csv", run_copy / "forecasts.csv")  # another run's forecasts
    assert main(["-q", "report", str(run_copy)]) == 2
    error = capsys.readouterr().err
    assert f"{run_copy / 'forecasts.csv'}: changed since the run wrote it" in error
    assert "comes from another run" in error


def test_report_refuses_an_equity_cut_short(run_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = (run_copy / "equity.csv").read_text(encoding="utf-8").splitlines()
    (run_copy / "equity.csv").write_text("\n".join(lines[: len(lines) // 2]) + "\n", encoding="utf-8")
    assert main(["-q", "report", str(run_copy)]) == 2
    assert f"{run_copy / 'equity.csv'}: changed since the run wrote it" in capsys.readouterr().err


def test_report_reads_an_older_folder_without_checksums_with_a_warning(
        run_copy: Path, caplog: pytest.LogCaptureFixture) -> None:
    manifest = json.loads((run_copy / "manifest.json").read_text(encoding="utf-8"))
    del manifest["files"], manifest["kind"]
    (run_copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert main(["-q", "report", str(run_copy)]) == 0
    assert "records no checksums" in caplog.text


def test_replaying_a_manifest_refuses_changed_data_unless_told(
        backtest_run: Path, bars_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    changed = tmp_path / "data" / "SH600519.csv"
    changed.parent.mkdir()
    lines = bars_csv.read_text(encoding="utf-8").splitlines()
    fields = lines[-1].split(",")
    fields[6] = str(float(fields[6]) + 100)  # the volume of the last bar
    changed.write_text("\n".join([*lines[:-1], ",".join(fields)]) + "\n", encoding="utf-8")
    manifest = json.loads((backtest_run / "manifest.json").read_text(encoding="utf-8"))
    manifest["config"]["data"]["source"] = str(changed)  # the recorded run, as if its CSV had changed since
    replay = tmp_path / "replay" / "manifest.json"
    replay.parent.mkdir()
    replay.write_text(json.dumps(manifest), encoding="utf-8")
    capsys.readouterr()
    assert main(["-q", "run", str(replay), "--out", str(tmp_path / "again"), "--no-store"]) == 2
    error = capsys.readouterr().err
    assert f"the data {changed} changed since the run was recorded" in error and "--allow-changed-data" in error
    assert not (tmp_path / "again").exists()
    assert main(["run", str(replay), "--out", str(tmp_path / "again"), "--no-store", "--allow-changed-data"]) == 0
    printed = capsys.readouterr().out
    assert f"note: the data {changed} changed since the run was recorded" in printed
    assert json.loads((tmp_path / "again" / "manifest.json").read_text(encoding="utf-8"))["data_changed"]
