"""Shared fixtures: the real A-share data directory and loaded bars.

Real-data tests read ``../shared/data`` beside the repository, or the folder
named by ``RNNSTRATEGY_DATA``, and are skipped with a reason when it is absent;
where ``RNNSTRATEGY_REQUIRE_DATA=1`` (CI) they fail with that reason instead.
The tiny forecaster configuration and other helpers are in ``helpers.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
import torch
from helpers import missing_data

from rnnstrategy.data import load_bars

DATA_ENV = "RNNSTRATEGY_DATA"


def shared_data_dir() -> Path:
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = shared_data_dir()
    if not (path / "SH600519.csv").is_file():
        missing_data(f"real A-share data not found at {path}; set {DATA_ENV} to the shared data folder")
    return path


@pytest.fixture(scope="session")
def moutai(data_dir: Path) -> pd.DataFrame:
    """Kweichow Moutai 2010-04-26..2020-04-24, tushare get_k_data, qfq."""
    return load_bars(data_dir / "SH600519.csv")


@pytest.fixture(autouse=True, scope="session")
def _one_thread() -> None:
    """Tiny test models gain nothing from intra-op threads, and on a busy 2-core machine
    threads waiting for each other make the run several times slower. Subprocesses too."""
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test touches the user's real download cache."""
    monkeypatch.setenv("RNNSTRATEGY_CACHE", str(tmp_path_factory.mktemp("bar-cache")))
