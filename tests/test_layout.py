"""The layout's promises: one subpackage per stage, each heavy dependency inside its own,
and light imports where the docs say so."""

from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path

import pytest
from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "backtrader", "quantstats")


def test_import_contracts_hold():
    """setup.cfg's [importlinter] contracts: layers, and torch/backtrader/quantstats/akshare
    each imported in its own stage only."""
    # in a subprocess: import-linter reconfigures logging, which would silence later tests' caplog
    lint = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; "
            "sys.exit(lint_imports(config_filename='setup.cfg', no_cache=True))"]
    result = subprocess.run(lint, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]


def _loaded_after(code: str) -> list[str]:
    probe = f"{code}; import sys; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    return [m for m in out.stdout.strip().split(",") if m]


@pytest.mark.parametrize("code", [
    "import rnnstrategy.report",
    "from rnnstrategy import backtest, forecast, ForecastConfig, load_bars",
    "import rnnstrategy.cli; rnnstrategy.cli.build_parser()",
    "from rnnstrategy.report import Titles, FILES, read_run, benchmark_returns",
])
def test_light_imports_load_no_heavy_library(code):
    assert _loaded_after(code) == []


def test_names_resolve_to_their_stage():
    import rnnstrategy
    import rnnstrategy.backtrader as rbt
    import rnnstrategy.forecasting as rf

    assert rnnstrategy.ForecastConfig is rf.ForecastConfig
    assert rnnstrategy.forecast.__module__ == "rnnstrategy.api.forecasts"
    assert rbt.use_ashare_rules.__module__ == "rnnstrategy.backtrader.rules"
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        rnnstrategy.nothing  # noqa: B018


def test_every_package_is_installed_and_strategies_live_in_the_namespace():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    listed = config["options"]["packages"].split()
    on_disk = ["rnnstrategy." + p if p != "rnnstrategy" else p for p in find_packages(ROOT / "rnnstrategy")]
    assert sorted(listed) == sorted({"rnnstrategy", *on_disk, "rnnstrategy.strategies"})
    import rnnstrategy.strategies.forecast_long as module

    assert Path(module.__file__).parent == ROOT / "strategies"
