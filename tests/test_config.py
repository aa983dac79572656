"""TOML backtest definitions map onto typed dataclasses; mistakes are clear errors."""

import json
from pathlib import Path

import pytest

from rnnstrategy.config import BacktestSpec, RunConfig, load_run_config
from rnnstrategy.errors import ConfigError
from rnnstrategy.forecasting.config import ForecastConfig

BACKTESTS = Path(__file__).resolve().parents[1] / "backtests"


def write(tmp_path, text, name="setup.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_tables_map_onto_dataclasses_and_paths_resolve_beside_the_file(tmp_path):
    (tmp_path / "bars.csv").write_text("x", encoding="utf-8")
    path = write(tmp_path, """
[data]
source = "bars.csv"
[benchmark]
source = "sh000300"
[forecast]
cell = "lstm"
hidden = [16, 8]
train_window = 500
[backtest]
execution = "close"
cash = 500_000
[backtest.params]
entry_threshold = 0.002
""")
    config = load_run_config(path)
    assert config.data.source == str(tmp_path / "bars.csv")  # found beside the TOML file
    assert config.benchmark.source == "sh000300"  # not a file there: kept (a symbol)
    assert config.forecast == ForecastConfig(cell="lstm", hidden=(16, 8), train_window=500)
    assert config.backtest == BacktestSpec(execution="close", cash=500_000, params={"entry_threshold": 0.002})
    assert RunConfig.from_dict(config.to_dict()) == config  # what the manifest records reads back


@pytest.mark.parametrize("text, message", [
    ("[data]\nsource = 'x'\n[strategy]\nname = 'a'\n", r"unknown table\(s\) \[strategy\]; valid: \[data\]"),
    ("[data]\nsource = 'x'\nadjsut = 'qfq'\n", "\\[data\\] has no setting 'adjsut'; valid: source, adjust"),
    ("[data]\nsource = 'x'\n[forecast]\nepochs = 'ten'\n",
     r"\[forecast\] epochs = 'ten' has the wrong type; expected int"),
    ("[data]\nsource = 'x'\n[forecast]\nhidden = [8, 'a']\n", r"\[forecast\] hidden = \[8, 'a'\] has the wrong type"),
    ("[data]\nsource = 'x'\n[backtest]\ncash = 0\n", "cash=0: give the starting cash in CNY"),
    ("[benchmark]\nsource = 'x'\n", r"\[data\] source is missing"),
    ("[data\nsource = 'x'\n", "not valid TOML"),
])
def test_mistakes_are_named(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_run_config(write(tmp_path, text))


def test_missing_file_says_what_to_give(tmp_path):
    with pytest.raises(ConfigError, match="no such file; give a TOML backtest definition"):
        load_run_config(tmp_path / "nope.toml")


def test_manifest_config_reads_back_with_paths_from_its_directory(tmp_path):
    config = RunConfig.from_dict({"data": {"source": "bars.csv"}, "forecast": {"grad_clip": None}})
    (tmp_path / "bars.csv").write_text("x", encoding="utf-8")
    manifest = write(tmp_path, json.dumps({"config": config.to_dict(), "cwd": str(tmp_path)}), "manifest.json")
    again = load_run_config(manifest)
    assert again.data.source == str(tmp_path / "bars.csv")
    assert again.forecast.grad_clip is None and again.forecast == config.forecast


@pytest.mark.parametrize("name", ["moutai_lstm.toml", "moutai_gru.toml"])
def test_shipped_definitions_load_and_find_the_bundled_sample(name):
    """They run on a fresh clone: their data is the sample bundled with the package, not ../shared."""
    from rnnstrategy import datasets

    config = load_run_config(BACKTESTS / name)
    assert Path(config.data.source) == datasets.path("moutai").resolve()
    assert Path(config.benchmark.source) == datasets.path("csi300").resolve()
    assert config.benchmark.title == "CSI 300"
    assert config.forecast.cell == name.split("_")[1].removesuffix(".toml")
    assert config.backtest.strategy == "forecast_long"
