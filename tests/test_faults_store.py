"""Damaged files that the project wrote are caught before use, logged, and recomputed.

Fold states and stored forecasts carry a SHA-256 of their payload; cached kernels a
``.sha256`` record beside them. Each test damages one such file and checks that the next
run says so and ends with the numbers of a clean run (bit for bit), without crashing.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from helpers import TINY, digest, flip_two_payload_bytes, strip_checksum, synthetic

from rnnstrategy.forecasting.batched import native
from rnnstrategy.forecasting.walkforward import walk_forward
from rnnstrategy.universe.forecast import forecast_universe

BARS = synthetic(200)  # TINY retrains at rows 109, 134, 159, 184: four folds


@pytest.fixture(scope="module")
def clean() -> pd.DataFrame:
    return walk_forward(BARS, TINY)


def trained(forecasts: pd.DataFrame) -> list[bool]:
    return [bool(f["trained"]) for f in forecasts.attrs["folds"]]


def test_a_flipped_stored_forecast_is_recomputed(clean, tmp_path, caplog):
    walk_forward(BARS, TINY, store=tmp_path)
    victim = sorted(tmp_path.rglob("pred-*.safetensors"))[1]
    flip_two_payload_bytes(victim)
    with caplog.at_level(logging.WARNING):
        again = walk_forward(BARS, TINY, store=tmp_path)
    assert f"fold file {victim} fails its SHA-256 checksum (changed since it was written); deleted, it will be " \
           "recomputed" in caplog.text
    assert trained(again) == [False] * 4  # the fold's state is sound: only its forecasts are recomputed
    pd.testing.assert_frame_equal(again, clean, check_exact=True)
    assert victim.exists()  # written again, and sound now
    caplog.clear()
    pd.testing.assert_frame_equal(walk_forward(BARS, TINY, store=tmp_path), clean, check_exact=True)
    assert "checksum" not in caplog.text


def test_a_flipped_fold_state_is_retrained(clean, tmp_path, caplog):
    walk_forward(BARS, TINY, store=tmp_path)
    victim = sorted(tmp_path.rglob("fold-*.safetensors"))[2]
    flip_two_payload_bytes(victim)
    with caplog.at_level(logging.WARNING):
        again = walk_forward(BARS, TINY, store=tmp_path)
    assert f"fold file {victim} fails its SHA-256 checksum" in caplog.text
    assert trained(again) == [False, False, True, False]
    pd.testing.assert_frame_equal(again, clean, check_exact=True)


def test_an_entry_without_checksum_is_unverified_and_recomputed(clean, tmp_path, caplog):
    walk_forward(BARS, TINY, store=tmp_path)
    victim = min(tmp_path.rglob("fold-*.safetensors"))
    strip_checksum(victim)  # as an older version wrote it
    with caplog.at_level(logging.INFO):
        again = walk_forward(BARS, TINY, store=tmp_path)
    assert f"fold file {victim} has no checksum (written by an older version, unverified)" in caplog.text
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [f"fold store {victim.parent} was written by an older version without checksums: its "
                        "folds are unverified and will be recomputed once"]  # one line per folder, not per file
    assert trained(again)[0]
    pd.testing.assert_frame_equal(again, clean, check_exact=True)


def test_a_worker_s_warning_reaches_the_parent(tmp_path, caplog):
    folder = tmp_path / "bars"
    folder.mkdir()
    for seed, symbol in ((0, "000001"), (1, "000002")):
        synthetic(200, seed=seed).assign(code=symbol).to_csv(folder / f"{symbol}.csv")  # tushare get_k_data
    store = tmp_path / "store"
    first = forecast_universe(folder, TINY, out_dir=tmp_path / "first", executor="inprocess", store=store)
    assert first["notes"].isna().all()
    victim = min(p for p in store.rglob("pred-*.safetensors") if "000002" in str(p.relative_to(store)))
    flip_two_payload_bytes(victim)
    with caplog.at_level(logging.WARNING, logger="rnnstrategy.universe.forecast"):
        summary = forecast_universe(folder, TINY, out_dir=tmp_path / "again", executor="process", workers=2,
                                    store=store)
    note = f"fold file {victim} fails its SHA-256 checksum (changed since it was written); deleted, it will be recomputed"
    rows = summary.set_index("symbol")
    assert rows.loc["000002.SZ", "notes"] == note
    assert pd.isna(rows.loc["000001.SZ", "notes"])
    assert f"000002.SZ: {note}" in caplog.text  # logged by the parent process
    assert json.loads((tmp_path / "again" / "summary.json").read_text())["symbols"][1]["notes"] == note
    for symbol in ("000001.SZ", "000002.SZ"):
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "again" / "forecasts" / f"{symbol}.csv"),
                                      pd.read_csv(tmp_path / "first" / "forecasts" / f"{symbol}.csv"))


# --- cached kernels: every use runs in a fresh process, where a bad library could crash it

FORECAST = """
import logging, sys
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
sys.path.insert(0, {tests!r})
from helpers import TINY, synthetic
from rnnstrategy.forecasting.batched import native
from rnnstrategy.forecasting.walkforward import walk_forward
walk_forward(synthetic(200), TINY).to_csv(sys.argv[1])
print("compiled" if native.kernel_for("gru", 8, __import__("torch").zeros(1)) else "pytorch")
"""


def forecast_in_a_new_process(cache: Path, out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "RNNSTRATEGY_CACHE": str(cache)}
    env.pop(native.NATIVE_ENV, None)
    script = FORECAST.format(tests=str(Path(__file__).parent))
    return subprocess.run([sys.executable, "-c", script, str(out)], check=False, env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def kernel_cache(tmp_path_factory) -> tuple[Path, Path]:
    """A cache whose gru kernel a tiny walk-forward built, and that run's forecasts."""
    if native.kernel_for("gru", 8, torch.zeros(1)) is None:
        pytest.skip("no C++ compiler here: the compiled recurrent kernel cannot be built")
    root = tmp_path_factory.mktemp("kernels")
    run = forecast_in_a_new_process(root / "cache", root / "clean.csv")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "compiled"
    return root / "cache", root / "clean.csv"


def gru_kernel(cache: Path) -> Path:
    (kernel,) = (cache / "kernels").glob("recurrent_gru8_*.so")
    return kernel


def sidecar_matches(kernel: Path) -> bool:
    record = kernel.with_name(kernel.name + ".sha256")
    return record.read_text().strip() == digest(kernel)


def test_built_kernels_record_their_checksum(kernel_cache):
    cache, _ = kernel_cache
    kernels = sorted((cache / "kernels").glob("*.so"))
    assert {k.name.split("_")[0] for k in kernels} == {"adam", "recurrent"}
    assert all(sidecar_matches(k) for k in kernels)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "garbage with a forged checksum"])
def test_a_damaged_kernel_is_rebuilt_not_loaded(kernel_cache, damage, tmp_path):
    cache, clean_csv = kernel_cache
    kernel = gru_kernel(cache)
    if damage == "truncated":
        os.truncate(kernel, 1000)
    else:
        kernel.write_bytes(os.urandom(kernel.stat().st_size))
        if damage == "garbage with a forged checksum":  # passes the check, fails to load
            kernel.with_name(kernel.name + ".sha256").write_text(digest(kernel))
    run = forecast_in_a_new_process(cache, tmp_path / "again.csv")
    assert run.returncode == 0, f"exit {run.returncode}: {run.stderr}"
    assert run.stdout.strip() == "compiled"  # rebuilt, not the PyTorch path
    if damage == "garbage with a forged checksum":
        assert f"compiled recurrent kernel {kernel} cannot be loaded (" in run.stderr
    else:
        assert f"cached kernel {kernel} fails its SHA-256 checksum (damaged); deleted, it will be rebuilt" in run.stderr
    assert sidecar_matches(gru_kernel(cache))
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "again.csv"), pd.read_csv(clean_csv))
