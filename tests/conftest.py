"""Shared fixtures: the real A-share data directory and loaded bars.

Real-data tests read ``../shared/data`` beside the repository, or the folder named by
``RNNSTRATEGY_DATA``. Without it they read the sample bundled with the package
(``rnnstrategy/datasets/data``: SH600519.csv and index/sh000300.csv), so a fresh clone runs
most of the suite; tests marked ``shared_data`` need the larger shared sets and skip with
their reason. Where ``RNNSTRATEGY_REQUIRE_DATA=1`` (CI) a missing shared folder fails the
run instead. The tiny forecaster configuration and other helpers are in ``helpers.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
import torch
from helpers import REQUIRE_DATA_ENV

from rnnstrategy import datasets
from rnnstrategy.data import load_bars

DATA_ENV = "RNNSTRATEGY_DATA"


SAMPLE_DIR = Path(datasets.path("moutai")).parent  # the bundled sample, laid out as the shared folder


def shared_data_dir() -> Path:
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


def _has_shared_data() -> bool:
    return (shared_data_dir() / "SH600519.csv").is_file()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "shared_data: needs the larger shared data sets, not only the bundled sample")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without the shared folder, tests marked ``shared_data`` skip with the reason; CI fails instead."""
    if _has_shared_data():
        return
    reason = (f"needs the shared data sets (stocks_tushare_qfq/, index/, ...) at {shared_data_dir()}; "
              f"set {DATA_ENV} to that folder")
    if any(item.get_closest_marker("shared_data") for item in items):
        for item in items:
            if item.get_closest_marker("shared_data"):
                item.add_marker(pytest.mark.skip(reason=reason))
        if os.environ.get(REQUIRE_DATA_ENV, "") not in ("", "0"):
            raise pytest.UsageError(f"{reason} ({REQUIRE_DATA_ENV}=1: the shared data is required here)")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared data folder, else the bundled sample (SH600519.csv and index/sh000300.csv only)."""
    return shared_data_dir() if _has_shared_data() else SAMPLE_DIR


@pytest.fixture(scope="session")
def moutai(data_dir: Path) -> pd.DataFrame:
    """Kweichow Moutai 2010-04-26..2020-04-24, tushare get_k_data, qfq."""
    return load_bars(data_dir / "SH600519.csv")


@pytest.fixture(scope="module")
def ranking_symbols() -> tuple[str, ...]:
    """The stocks of ``ranking_bars``: all twelve ``rankings.SYMBOLS``; a module may override it with fewer."""
    # deferred: rankings imports backtrader, which most tests do without
    from rankings import SYMBOLS

    return SYMBOLS


@pytest.fixture(scope="module")
def ranking_bars(ranking_symbols: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    """Raw bars of ``ranking_symbols`` on the bundled qlib sample over ``rankings.FIRST..LAST``, for the score
    strategies' tests; loaded afresh for each module, so no module sees another's changes."""
    from rankings import sample_bars

    return sample_bars(ranking_symbols)


@pytest.fixture(scope="module")
def ranking_days(ranking_bars: dict[str, pd.DataFrame], ranking_symbols: tuple[str, ...]) -> pd.DatetimeIndex:
    """The sessions of ``ranking_bars`` (each of its stocks has bars on every one)."""
    return ranking_bars[ranking_symbols[0]].index


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


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if a walk-forward run starts: the error must come before any training."""

    def refuse(*args, **kwargs):
        raise AssertionError("training started; the error should have come first")

    monkeypatch.setattr("rnnstrategy.forecasting.walkforward.walk_forward", refuse)
