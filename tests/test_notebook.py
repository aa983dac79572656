"""The research notebook (``backtests/research_flow.ipynb``) runs end to end and writes what it shows.

The notebook is executed as a user would run it (kernel ``python3``, working directory
``backtests/``) with its ``parameters`` cell replaced by the tiny forecaster of the tests, one
year of forecasts and an output folder under ``tmp_path``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import fields
from pathlib import Path

import pytest
from helpers import TINY

import rnnstrategy as rs
from rnnstrategy.forecasting.config import ForecastConfig

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).resolve().parents[1] / "backtests" / "research_flow.ipynb"
START, END = "2019-01-02", "2019-12-31"
VERDICT = re.compile(r"^Verdict, next open \(h=1\): the model (.+)$", re.MULTILINE)


def config_source(config: ForecastConfig) -> str:
    """``config`` as the line of Python that builds it: every field that differs from the defaults."""
    defaults = ForecastConfig()
    changed = [f"{f.name}={getattr(config, f.name)!r}" for f in fields(config)
               if getattr(config, f.name) != getattr(defaults, f.name)]
    return f"config = rs.ForecastConfig({', '.join(changed)})"


def parameters_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    tagged = [cell for cell in nb.cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1, "the notebook needs exactly one cell tagged 'parameters'"
    return tagged[0]


def printed(nb: nbformat.NotebookNode) -> str:
    return "".join(output.get("text", "") for cell in nb.cells if cell.cell_type == "code"
                   for output in cell.outputs if output.output_type == "stream")


def test_notebook_is_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code)
    source = parameters_cell(nb).source
    for name in ("config", "START", "END", "OUT"):  # what the test below replaces
        assert re.search(rf"^{name} = ", source, re.MULTILINE), name
    assert eval(config_source(TINY).partition(" = ")[2], {"rs": rs}) == TINY


def test_notebook_runs_and_writes_the_report(data_dir, tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    out = tmp_path / "notebook"
    parameters_cell(nb).source = "\n".join(
        [config_source(TINY), f"START = {START!r}", f"END = {END!r}", f"OUT = {str(out)!r}"])
    env = {**os.environ, "RNNSTRATEGY_DATA": str(data_dir), "RNNSTRATEGY_CACHE": str(tmp_path / "cache"),
           "OMP_NUM_THREADS": "1"}
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3")
    client.execute(cwd=str(NOTEBOOK.parent), env=env)  # a failing cell raises CellExecutionError

    assert (out / "report.html").stat().st_size > 0
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["period"]["start"] == START and metrics["period"]["end"] == END
    text = printed(nb)
    assert f"data folder: {data_dir.resolve()}" in text
    verdicts = VERDICT.findall(text)
    assert verdicts == [metrics["forecast"]["verdict"]]
