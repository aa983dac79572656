"""Sweeps: a grid of forecaster and strategy settings, each forecaster trained once, resumable."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest
from helpers import TINY

import rnnstrategy as rs
from rnnstrategy.api.sweep_definition import SweepSpec, expand, load_sweep
from rnnstrategy.cli import main
from rnnstrategy.errors import ConfigError

START, END = "2019-07-01", "2019-12-31"


def _tiny_tables(data_dir) -> dict:
    forecast = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(TINY).items() if v is not None}
    return {"data": {"source": str(data_dir / "SH600519.csv")},
            "forecast": forecast,
            "backtest": {"start": START, "end": END, "params": {"exit_threshold": 0.0}}}


def _spec(data_dir, **sweep) -> SweepSpec:
    return SweepSpec.from_dict({**_tiny_tables(data_dir), "sweep": sweep})


def test_a_grid_expands_to_every_combination_with_readable_names(data_dir):
    spec = _spec(data_dir, forecast={"cell": ["gru", "lstm"], "hidden": [[8], [4]]},
                 params={"entry_threshold": [0.001, 0.002, 0.003]})
    configs = expand(spec)
    assert len(configs) == 12
    names = [name for name, _ in configs]
    assert names[0] == "600519.SH-cell=gru-hidden=8-entry_threshold=0.001"
    assert names[-1] == "600519.SH-cell=lstm-hidden=4-entry_threshold=0.003"
    last = configs[-1][1]
    assert (last.forecast.cell, last.forecast.hidden) == ("lstm", (4,))
    assert last.backtest.params == {"exit_threshold": 0.0, "entry_threshold": 0.003}  # the base's params kept
    assert last.backtest.start == START


def test_sources_a_list_and_long_names(data_dir):
    two = _spec(data_dir, sources=[str(data_dir / "SH600519.csv"), "000001"], params={"entry_threshold": [0.001, 0.002]})
    assert [n for n, _ in expand(two)] == ["600519.SH-entry_threshold=0.001", "600519.SH-entry_threshold=0.002",
                                           "000001.SZ-entry_threshold=0.001", "000001.SZ-entry_threshold=0.002"]
    assert expand(two)[2][1].data.source == "000001"
    listed = _spec(data_dir, list=[{"forecast": {"cell": "lstm"}}, {"params": {"entry_threshold": 0.002}}])
    assert [n for n, _ in expand(listed)] == ["600519.SH-cell=lstm", "600519.SH-entry_threshold=0.002"]
    assert [c.forecast.cell for _, c in expand(listed)] == ["lstm", "gru"]
    long = _spec(data_dir, forecast={"hidden": [[64, 32, 16, 8, 4, 2], [8]]},
                 params={"entry_threshold": [0.0012345678901, 0.002], "exit_threshold": [-0.0012345678901, 0.0]})
    names = [n for n, _ in expand(long)]
    assert len(names[0]) == 80 and names[0].startswith("600519.SH-hidden=64_32_16_8_4_2-entry_threshold=")
    assert len(set(names)) == 8 and names == [n for n, _ in expand(long)]  # distinct and stable


@pytest.mark.parametrize("sweep, fragment", [
    ({"forecast": {"cells": ["gru"]}}, r"\[sweep.forecast\] has no setting\(s\) cells; valid: .*cell"),
    ({"grid": {}}, r"\[sweep\] has no setting\(s\) grid; valid: forecast, params, sources, list"),
    ({"forecast": {"cell": "gru"}}, r"cell = 'gru': give a non-empty list"),
    ({"forecast": {"hidden": ["big"]}}, r"\[forecast\] hidden = 'big' has the wrong type"),
    ({"list": [{"forecasts": {}}]}, r"\[\[sweep.list\]\] has no setting\(s\) forecasts; valid: forecast, params"),
    ({"list": [{}], "params": {"entry_threshold": [0.1]}}, r"instead of a grid"),
])
def test_unknown_keys_and_bad_values_are_errors(data_dir, sweep, fragment):
    with pytest.raises(ConfigError, match=fragment):
        expand(_spec(data_dir, **sweep))


def test_no_sweep_table_is_an_error(data_dir, tmp_path):
    path = tmp_path / "plain.toml"
    path.write_text(f'[data]\nsource = "{(data_dir / "SH600519.csv").as_posix()}"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"plain.toml: no \[sweep\] table"):
        load_sweep(path)


def test_a_sweep_trains_each_forecaster_once_and_resumes(data_dir, tmp_path):
    spec = _spec(data_dir, forecast={"cell": ["gru", "lstm"]}, params={"entry_threshold": [0.0, 0.003]})
    out, store = tmp_path / "sweep", tmp_path / "folds"
    rows: list[dict] = []
    summary = rs.sweep(spec, out, store=store, threads=1, on_run=rows.append)

    names = [name for name, _ in expand(spec)]
    assert summary["names"] == names and [r["status"] for r in rows] == ["ran"] * 4
    trained = {name: json.loads((out / name / "manifest.json").read_text())["forecasts"]["trained"] for name in names}
    assert trained[names[0]] > 0 and trained[names[2]] > 0  # the first run of each forecaster trains ...
    assert trained[names[1]] == 0 and trained[names[3]] == 0  # ... its strategy variant reuses the forecasts
    first = json.loads((out / names[0] / "manifest.json").read_text())["forecasts"]
    assert first["retrains"] == trained[names[0]]
    assert all((out / name / "report.html").is_file() for name in names)
    written = json.loads((out / "sweep.json").read_text())
    assert written["best"] in names and written["trials"] == 4
    best = max(summary["configurations"], key=lambda r: r["sharpe"] if r["sharpe"] is not None else -1e9)
    assert written["best"] == best["name"] and written["best_sharpe"] == pytest.approx(best["sharpe"])
    assert [r["sharpe"] for r in written["configurations"]] == pytest.approx([r["sharpe"] for r in rows])
    compare = json.loads((out / "compare" / "compare.json").read_text())
    assert written["spa_pvalue"] == compare["spa"]["pvalue_consistent"] and 0 <= written["spa_pvalue"] <= 1
    assert 0 <= written["deflated_sharpe"] <= 1 and written["trial_sharpe_std"] > 0

    stamps = {name: (out / name / "manifest.json").stat().st_mtime_ns for name in names}
    again: list[dict] = []
    resumed = rs.sweep(spec, out, store=store, threads=1, on_run=again.append)
    assert [r["status"] for r in again] == ["resumed"] * 4
    assert {name: (out / name / "manifest.json").stat().st_mtime_ns for name in names} == stamps
    assert resumed["best"] == summary["best"]


def test_the_command_line_runs_a_sweep_file(data_dir, tmp_path, capsys):
    tables = _tiny_tables(data_dir)
    lines = ["[data]", f'source = "{tables["data"]["source"]}"', "[forecast]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in tables["forecast"].items()]
    lines += ["[backtest]", f'start = "{START}"', f'end = "{END}"',
              "[sweep.params]", "entry_threshold = [0.0, 0.003]"]
    path = tmp_path / "tiny_sweep.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["sweep", str(path), "--out", str(tmp_path / "out"), "--store", str(tmp_path / "folds"),
                 "--threads", "1"]) == 0
    printed = capsys.readouterr().out
    assert "600519.SH-entry_threshold=0.003" in printed and "best: 600519.SH-entry_threshold=" in printed
    assert (tmp_path / "out" / "compare" / "compare.html").is_file()
    written = json.loads((tmp_path / "out" / "sweep.json").read_text())
    assert 0 <= written["deflated_sharpe"] <= 1 and 0 <= written["spa_pvalue"] <= 1
