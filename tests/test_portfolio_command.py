"""The README's recommended portfolio command line works on any qlib directory and index: here on a copy of the
bundled sample relabelled as CSI 500 (membership ``instruments/csi500.txt``, index ``sh000905``), with a tiny
forecaster and a short window in place of the real run's."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from rnnstrategy import datasets

REPO = Path(__file__).resolve().parents[1]
TINY_FORECASTER = ["--hidden", "4", "--epochs", "1", "--patience", "0", "--train-days", "250",
                   "--retrain-every-days", "100"]


def _readme_command() -> list[str]:
    """The one ``rnnstrategy backtest ... --out runs/portfolio`` line of the README's portfolio section."""
    lines = [line for line in (REPO / "README.md").read_text(encoding="utf-8").splitlines()
             if line.startswith("rnnstrategy backtest ../shared/data/qlib_csi300 --universe csi300")
             and line.rstrip().endswith("--out runs/portfolio")]
    assert len(lines) == 1, "the README gives the recommended configuration as one command line"
    return shlex.split(lines[0])


def _as_csi500(tmp_path: Path) -> Path:
    """The sample as another index's directory: its membership and index bars under CSI 500's names."""
    folder = tmp_path / "qlib_csi500"
    shutil.copytree(datasets.path(datasets.UNIVERSE), folder)
    (folder / "instruments" / "csi300.txt").rename(folder / "instruments" / "csi500.txt")
    (folder / "features" / "sh000300").rename(folder / "features" / "sh000905")
    return folder


def test_the_readme_portfolio_line_runs_on_another_directory_and_index(tmp_path: Path) -> None:
    folder = _as_csi500(tmp_path)
    words = _readme_command()
    words = [str(folder) if w == "../shared/data/qlib_csi300" else "csi500" if w == "csi300" else w for w in words]
    words[words.index("--start") + 1] = "2022-01-04"
    words[words.index("--out") + 1] = str(tmp_path / "portfolio")
    command = [sys.executable, "-m", "rnnstrategy.cli", *words[1:], "--end", "2022-09-30", *TINY_FORECASTER]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((tmp_path / "portfolio" / "metrics.json").read_text(encoding="utf-8"))
    for key in ("excess_over_benchmark", "excess_over_buy_and_hold"):
        assert set(metrics[key]) >= {"annualised", "information_ratio", "hac_t", "p_value"}
    assert metrics["strategy"]["turnover_per_year"] > 0
    manifest = json.loads((tmp_path / "portfolio" / "manifest.json").read_text(encoding="utf-8"))
    assert re.search(r"sh000905", json.dumps(manifest["benchmark"]))  # CSI 500's own bars, found by the name
    assert manifest["forecasts"]["config"]["market"].endswith("::sh000905")
    assert metrics["universe"]["as_of"]["name"] == "csi500"
