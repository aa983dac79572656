"""Pooled folds and sweep configurations as Ray tasks (issue 26), on a local Ray cluster of two CPUs that the
tests of this file share, with the bundled qlib sample.

A pooled run with ``--executor ray`` trains its folds (each with its ensemble members) as Ray tasks and
writes, byte for byte, the forecasts of a run here; its ``summary.json`` says ``"executor": "ray"``; a run that
crashed resumes from the fold store with the folds it finished. A sweep on Ray trains its forecaster
configurations as Ray tasks and its strategy variants trade their forecasts: ``sweep.json`` equals the local
sweep's.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from helpers import tiny_args

import rnnstrategy as rs
from rnnstrategy import datasets
from rnnstrategy.api.sweep_definition import SweepSpec
from rnnstrategy.cli import main
from rnnstrategy.errors import ConfigError
from rnnstrategy.forecasting.pooled.config import PooledConfig
from rnnstrategy.universe.pooled_folds import fold_runner

ray = pytest.importorskip("ray", reason="Ray is optional: pip install 'rnnstrategy[ray]' to run these tests")
pytestmark = pytest.mark.skipif(bool(os.environ.get("RAY_ADDRESS")),
                                reason="RAY_ADDRESS is set: these tests start their own local cluster")

SAMPLE = datasets.path(datasets.UNIVERSE)
POOLED = PooledConfig(hidden=(4,), lookback=5, epochs=1, patience=0, batch_size=256, retrain_every_days=30,
                      train_days=250, ensemble=2, device="cpu")
"""Two pooled GRUs of 4 units (an ensemble) on 5-bar windows, one epoch, retrained every 30 market days."""
WINDOW = ["--start", "2022-03-01", "--end", "2022-06-30"]  # three folds
FORECAST = ["forecast", "--example", "--universe", "csi300", *tiny_args(POOLED), *WINDOW]
MEMBERS = ("000858.SZ", "300059.SZ", "600036.SH", "600519.SH", "601318.SH")
"""Five of the sample's CSI 300 members through 2022: the universe a sweep trades (all 33 sources are learnt
from)."""


@pytest.fixture(scope="module")
def cluster() -> object:
    """A local Ray cluster of two CPUs for the file's tests (a run that finds Ray started uses it, and leaves it
    running)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}})
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pooled run here, with its own fold store."""
    root = tmp_path_factory.mktemp("pooled-local")
    assert main([*FORECAST, "--store", str(root / "store"), "--out", str(root / "out")]) == 0
    return root / "out"


@pytest.fixture(scope="module")
def on_ray(cluster: object, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    root = tmp_path_factory.mktemp("pooled-ray")
    store, out = root / "store", root / "out"
    code = main([*FORECAST, "--executor", "ray", "--workers", "2", "--store", str(store), "--out", str(out)])
    return SimpleNamespace(code=code, store=store, out=out, root=root)


def _summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))


def _same_forecasts(a: Path, b: Path) -> None:
    names = sorted(p.name for p in (a / "forecasts").glob("*.csv"))
    assert len(names) == 31 and names == sorted(p.name for p in (b / "forecasts").glob("*.csv"))
    for name in names:
        assert (a / "forecasts" / name).read_bytes() == (b / "forecasts" / name).read_bytes(), name
    assert (a / "cross_section_daily.csv").read_bytes() == (b / "cross_section_daily.csv").read_bytes()


def test_a_pooled_ensemble_on_ray_writes_the_forecasts_of_a_local_run(local: Path, on_ray: SimpleNamespace) -> None:
    assert on_ray.code == 0
    _same_forecasts(local, on_ray.out)
    here, there = _summary(local), _summary(on_ray.out)
    assert (here["executor"], there["executor"]) == ("pooled", "ray")
    assert there["config"]["ensemble"] == 2 and there["config"] == here["config"]
    assert {(row["folds"], row["trained"]) for row in there["symbols"]} == {(3, 3)}
    assert there["cross_section"] == here["cross_section"]


def test_a_crashed_pooled_run_on_ray_resumes_from_the_folds_it_stored(on_ray: SimpleNamespace) -> None:
    (folder,) = (on_ray.store / "_pooled").iterdir()
    last = max(path.name.split("-")[1] for path in folder.glob("fold-*.safetensors"))
    for path in [*folder.glob(f"fold-{last}-*"), *folder.glob(f"pred-{last}-*")]:
        path.unlink()  # as if the run had died while training its last fold
    out = on_ray.root / "resumed"
    code = main([*FORECAST, "--executor", "ray", "--store", str(on_ray.store), "--out", str(out)])
    assert code == 0
    _same_forecasts(on_ray.out, out)
    assert {(row["folds"], row["trained"]) for row in _summary(out)["symbols"]} == {(3, 1)}


def _sweep_spec(members: Path, device: str = "cpu") -> SweepSpec:
    forecast = {k: list(v) if isinstance(v, tuple) else v for k, v in POOLED.to_dict().items() if v is not None}
    runs = [{"forecast": {"seed": 0}, "params": {"k": 2}}, {"forecast": {"seed": 0}, "params": {"k": 3}},
            {"forecast": {"seed": 1}, "params": {"k": 2}}]
    return SweepSpec.from_dict({"data": {"source": str(SAMPLE), "universe": str(members)},
                                "forecast": {**forecast, "ensemble": 1, "device": device},
                                "benchmark": {"source": f"{SAMPLE}::sh000300", "title": "CSI 300"},
                                "backtest": {"strategy": "top_k", "start": "2022-05-05", "end": "2022-06-30"},
                                "sweep": {"list": runs}})


def test_a_sweep_on_ray_equals_the_local_sweep(cluster: object, tmp_path: Path) -> None:
    members = tmp_path / "members.csv"
    members.write_text("symbol,first,last\n" + "".join(f"{s},2020-01-02,\n" for s in MEMBERS), encoding="utf-8")
    spec = _sweep_spec(members)
    here = rs.sweep(spec, tmp_path / "local", store=None, threads=1)
    there = rs.sweep(spec, tmp_path / "ray", store=None, threads=1, executor="ray", workers=2)
    names = here["names"]
    assert there["names"] == names and len(names) == 3
    trained = [(row["trained"], row["forecasts_from"]) for row in there["configurations"]]
    assert trained[1] == (0, names[0]) and trained[0][0] == trained[2][0] == 2  # two forecasters, one variant
    for row in [*here["configurations"], *there["configurations"]]:
        row["config"]["backtest"]["forecasts"] = None  # the variant trades its own sweep's folder
    assert there == here
    for name in names:
        assert ((tmp_path / "ray" / name / "equity.csv").read_bytes()
                == (tmp_path / "local" / name / "equity.csv").read_bytes())


def test_a_sweep_runs_here_or_on_ray_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _sweep_spec(tmp_path / "members.csv")
    with pytest.raises(ConfigError, match=r"executor='process': a sweep runs its configurations here \('auto'\) "
                                          r"or as Ray tasks \('ray'; CLI: --executor ray\)"):
        rs.sweep(spec, tmp_path / "out", store=None, executor="process")
    with pytest.raises(SystemExit) as ended:
        main(["sweep", "backtests/moutai_sweep.toml", "--executor", "process"])
    assert ended.value.code == 2 and "invalid choice: 'process'" in capsys.readouterr().err


def test_ray_tasks_train_on_cpus_so_a_cuda_device_is_refused_before_any_work(tmp_path: Path) -> None:
    assert fold_runner("auto") is None and fold_runner("process") is None  # the folds train here
    with pytest.raises(ConfigError, match=r"device='cuda' with executor='ray': pooled folds on Ray train on CPUs; "
                                          r"use --device cpu with --executor ray, or train on the GPU here"):
        fold_runner("ray", device="cuda")
    members = tmp_path / "members.csv"
    members.write_text("symbol,first,last\n600519.SH,2020-01-02,\n", encoding="utf-8")
    spec = _sweep_spec(members, device="cuda:0")
    with pytest.raises(ConfigError, match=r"sweep configuration qlib_csi300_sample-seed=0-k=2: device='cuda:0' with "
                                          r"executor='ray': a Ray task trains on CPUs"):
        rs.sweep(spec, tmp_path / "out", store=None, executor="ray")
    assert not (tmp_path / "out").exists()


def test_a_fold_with_too_few_samples_on_ray_is_one_line_and_exit_2(cluster: object, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    early = ["forecast", "--example", "--universe", "csi300", *tiny_args(PooledConfig(lookback=5, device="cpu")),
             "--start", "2020-02-10", "--end", "2020-03-10", "--no-store", "--executor", "ray"]
    assert main([*early, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("rnnstrategy: error: only ") and err[-1].endswith(
        "training samples by 2020-02-10: start later, add symbols or history")
    assert not any("Traceback" in line for line in err)
