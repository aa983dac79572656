"""Sweeps and comparisons over universes (issue 25), on the bundled qlib sample: ten of its CSI 300 members as
a universe as it stood (a CSV of spells), against its CSI 300 bars and the members basket.

A pooled forecaster is trained once for all its strategy variants (they trade the forecasts the first variant
wrote); ``sweep.json`` holds every variant with its metrics, the best one's Sharpe ratio deflated for the number
of variants tried, and the SPA p-values against both benchmarks (the index and the equal-weight members basket);
a resumed sweep skips finished variants; ``compare`` reads universe run folders.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from helpers import missing_data

import rnnstrategy as rs
from rnnstrategy import datasets
from rnnstrategy.api.sweep_definition import SweepSpec, expand, load_sweep
from rnnstrategy.api.sweep_forecasts import plan, universe_row
from rnnstrategy.backtrader.registry import load_strategy
from rnnstrategy.cli import main
from rnnstrategy.cli.sweep import table_lines
from rnnstrategy.errors import ConfigError
from rnnstrategy.evaluation.sharpe import deflated_sharpe
from rnnstrategy.evaluation.spa import spa_test
from rnnstrategy.forecasting.pooled import walkforward as pooled_walkforward
from rnnstrategy.forecasting.pooled.config import PooledConfig

SAMPLE = datasets.path(datasets.UNIVERSE)
REPO = Path(__file__).resolve().parents[1]
POOLED = PooledConfig(hidden=(4,), lookback=5, epochs=1, patience=0, batch_size=1024, retrain_every_days=50,
                      train_days=250, device="cpu")
"""A pooled GRU of 4 units on 5-bar windows, one epoch, retrained every 50 market days on the last 250."""
MEMBERS = ("000002.SZ", "000858.SZ", "002594.SZ", "300059.SZ", "600030.SH", "600036.SH", "600519.SH", "601318.SH",
           "601899.SH", "603259.SH")
"""Ten stocks of the sample that stay in its CSI 300 through 2022: the universe of the sweep (a CSV of spells, so
that ten, not 31, are forecast, measured and traded)."""
VARIANTS = [{"k": 3, "max_turnover": 1.0}, {"k": 3, "max_turnover": 0.5}, {"k": 5, "max_turnover": 1.0}]
NAMES = ["qlib_csi300_sample-k=3-max_turnover=1.0", "qlib_csi300_sample-k=3-max_turnover=0.5",
         "qlib_csi300_sample-k=5-max_turnover=1.0"]


@pytest.fixture(scope="module")
def members(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("universe") / "csi300_ten.csv"
    path.write_text("symbol,first,last\n" + "".join(f"{s},2020-01-02,\n" for s in MEMBERS), encoding="utf-8")
    return path


def _tables(universe: str | Path = "csi300") -> dict:
    forecast = {k: list(v) if isinstance(v, tuple) else v for k, v in POOLED.to_dict().items() if v is not None}
    return {"data": {"source": str(SAMPLE), "universe": str(universe)}, "forecast": forecast,
            "benchmark": {"source": f"{SAMPLE}::sh000300", "title": "CSI 300"},
            "backtest": {"strategy": "top_k", "start": "2022-03-01", "end": "2022-06-30"}}


def _spec(runs: list[dict], universe: str | Path = "csi300") -> SweepSpec:
    return SweepSpec.from_dict({**_tables(universe), "sweep": {"list": runs}})


def _sweep(out: Path, universe: Path) -> tuple[dict, list[dict], int]:
    """The sweep of the three variants into ``out`` without a fold store, its rows, and the folds it fitted."""
    fits = []
    fit_fold = pooled_walkforward.fit_fold

    def counted(*args, **kwargs):
        fits.append(args[3])  # the retrain day
        return fit_fold(*args, **kwargs)

    rows: list[dict] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pooled_walkforward, "fit_fold", counted)
        summary = rs.sweep(_spec([{"params": params} for params in VARIANTS], universe), out, store=None,
                           threads=1, on_run=rows.append)
    return summary, rows, len(fits)


@pytest.fixture(scope="module")
def swept(members: Path, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    out = tmp_path_factory.mktemp("sweep") / "csi300"
    summary, rows, fits = _sweep(out, members)
    return SimpleNamespace(out=out, summary=summary, rows=rows, fits=fits, members=members)


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def test_the_forecaster_trains_once_for_its_strategy_variants(swept):
    out, first = swept.out, swept.out / NAMES[0]
    assert [row["name"] for row in swept.rows] == NAMES and [r["status"] for r in swept.rows] == ["ran"] * 3
    recorded = json.loads((first / "summary.json").read_text(encoding="utf-8"))
    folds = recorded["symbols"][0]["folds"]
    assert folds >= 2 and swept.fits == folds  # one forecaster's folds, not one set per variant
    assert [row["trained"] for row in swept.rows] == [folds, 0, 0]
    assert [row["forecasts_from"] for row in swept.rows] == [None, NAMES[0], NAMES[0]]
    for name in NAMES[1:]:
        manifest = _manifest(out / name)
        assert manifest["config"]["backtest"]["forecasts"] == str(first.resolve())
        assert manifest["forecasts"]["source"] == str(first.resolve())
        assert manifest["forecasts"]["config"]["hidden"] == [4]  # the forecaster that made them
        assert (out / name / "forecasts" / "600519.SH.csv").read_bytes() == \
            (first / "forecasts" / "600519.SH.csv").read_bytes()
    assert _manifest(first)["config"]["backtest"]["forecasts"] is None
    trades = [pd.read_csv(out / name / "trades.csv") for name in NAMES]
    assert len({len(t) for t in trades}) > 1  # the variants trade differently on the same forecasts


def test_sweep_json_holds_each_variant_the_deflated_sharpe_and_spa_against_both_benchmarks(swept):
    out, summary = swept.out, swept.summary
    written = json.loads((out / "sweep.json").read_text(encoding="utf-8"))
    assert written["trials"] == 3 and written["names"] == NAMES
    for row, params in zip(written["configurations"], VARIANTS, strict=True):
        metrics = json.loads((out / row["name"] / "metrics.json").read_text(encoding="utf-8"))
        assert row["config"]["backtest"]["params"] == params
        assert row["sharpe"] == pytest.approx(metrics["strategy"]["sharpe"])
        assert row["total_return"] == pytest.approx(metrics["strategy"]["total_return"])
        assert row["config"]["benchmark"]["source"] == f"{SAMPLE}::sh000300"  # the index of the directory
    sharpes = {row["name"]: row["sharpe"] for row in written["configurations"]}
    assert written["best"] == max(sharpes, key=sharpes.get)
    equity = {name: pd.read_csv(out / name / "equity.csv", index_col="date", parse_dates=True) for name in NAMES}
    best = equity[written["best"]]["return"].dropna()
    assert written["deflated_sharpe"] == pytest.approx(
        deflated_sharpe(best, 3, trial_sharpe_std=written["trial_sharpe_std"]))
    assert 0 < written["deflated_sharpe"] < 1
    returns = pd.concat({name: frame["return"] for name, frame in equity.items()}, axis=1).dropna()
    first = equity[NAMES[0]].loc[returns.index]
    spa = written["spa"]
    assert spa["buy_and_hold"]["title"].startswith("Equal weight csi300_ten members as they stood")
    assert spa["benchmark"]["title"] == "CSI 300"
    for key, column in (("buy_and_hold", "buy_and_hold_return"), ("benchmark", "benchmark_return")):
        expected = spa_test(first[column].to_numpy(), returns.to_numpy())["pvalue_consistent"]
        assert spa[key]["pvalue"] == pytest.approx(expected) and 0 <= spa[key]["pvalue"] <= 1
        assert spa[key]["beats"] is (spa[key]["pvalue"] < 0.05)
    assert written["spa_pvalue"] == spa["buy_and_hold"]["pvalue"]
    compare = json.loads((out / "compare" / "compare.json").read_text(encoding="utf-8"))
    assert compare["spa_benchmark"]["pvalue_consistent"] == spa["benchmark"]["pvalue"]
    for key, column in (("spa", "buy_and_hold_return"), ("spa_benchmark", "benchmark_return")):  # each its own
        assert compare[key]["benchmark_mean_daily_return"] == pytest.approx(first[column].mean())
        assert compare[key]["mean_daily_return"] == pytest.approx(returns.mean().to_dict())
    assert first["buy_and_hold_return"].mean() != pytest.approx(first["benchmark_return"].mean())
    assert summary["best"] == written["best"]
    lines = table_lines(summary)
    assert f"of {NAMES[0]}" in lines[2] and "SPA p vs CSI 300" in lines[-1]


def test_a_resumed_sweep_skips_finished_variants(swept):
    out = swept.out
    stamps = {name: (out / name / "manifest.json").stat().st_mtime_ns for name in NAMES}
    again, rows, fits = _sweep(out, swept.members)
    assert [row["status"] for row in rows] == ["resumed"] * 3 and fits == 0
    assert {name: (out / name / "manifest.json").stat().st_mtime_ns for name in NAMES} == stamps
    (out / NAMES[2] / "manifest.json").unlink()  # killed before its manifest was written
    resumed, rows, fits = _sweep(out, swept.members)
    assert [row["status"] for row in rows] == ["resumed", "resumed", "ran"] and fits == 0  # read, not retrained
    assert rows[2]["sharpe"] == pytest.approx(swept.rows[2]["sharpe"])
    assert resumed["best"] == again["best"] == swept.summary["best"]


def test_compare_reads_two_universe_run_folders(swept, tmp_path, capsys):
    runs = [swept.out / NAMES[0], swept.out / NAMES[2]]
    assert main(["compare", *map(str, runs), "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    result = json.loads((tmp_path / "compare.json").read_text(encoding="utf-8"))
    rank_ic = json.loads((runs[0] / "summary.json").read_text(encoding="utf-8"))["cross_section"]["rank_ic"]
    assert [run["cross_section"]["rank_ic"] for run in result["runs"]] == pytest.approx([rank_ic, rank_ic])
    assert result["runs"][1]["config"]["hidden"] == [4]  # the forecaster of the forecasts it reused
    assert result["spa"]["benchmark"].startswith("Equal weight csi300_ten members")
    assert result["spa_benchmark"]["benchmark"] == "CSI 300" and result["spa_benchmark"]["compared"] == 2
    assert f"rank IC {rank_ic:.3f}" in printed
    assert "beat buy-and-hold (Equal weight csi300_ten" in printed and "beat the benchmark (CSI 300)" in printed
    page = (tmp_path / "compare.html").read_text(encoding="utf-8")
    assert "daily rank IC" in page and "beat the benchmark (CSI 300)" in page


def test_the_example_sweep_finds_the_shared_qlib_directory_from_anywhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    expected = (REPO / "backtests" / "../../shared/data/qlib_csi300").resolve()
    if not expected.is_dir():
        missing_data(f"{expected}: the shared qlib directory is not here")
    planned = plan(expand(load_sweep(REPO / "backtests" / "csi300_portfolio_sweep.toml")), Path("runs/portfolio"))
    assert len(planned) >= 3 and all(p.universe for p in planned)
    assert {p.config.data.source for p in planned} == {str(expected)}
    assert {p.config.data.universe for p in planned} == {"csi300"}
    assert {p.config.benchmark.source for p in planned} == {f"{expected}::sh000300"}
    assert [p.forecasts_from for p in planned] == [None] + [planned[0].name] * (len(planned) - 1)
    assert planned[0].config.forecast.to_dict()["pooled"] is True
    for p in planned:
        load_strategy(p.config.backtest.strategy).check_params(p.config.backtest.params)


def test_the_index_of_a_qlib_directory_is_the_benchmark_a_sweep_plans_and_records(tmp_path):
    tables = {key: value for key, value in _tables().items() if key != "benchmark"}
    spec = SweepSpec.from_dict({**tables, "sweep": {"params": {"k": [3, 5]}}})
    planned = plan(expand(spec), tmp_path)
    assert [p.config.benchmark.source for p in planned] == [f"{SAMPLE}::sh000300"] * 2  # as run() records it
    assert planned[1].config.backtest.forecasts == str((tmp_path / planned[0].name).resolve())
    assert planned[1].config.forecast == planned[0].config.forecast


@pytest.mark.parametrize("executor, trained", [("pooled", 3), ("process", 5)])
def test_a_universe_row_counts_the_folds_its_forecast_trained(tmp_path, executor, trained):
    symbols = [{"symbol": "600519.SH", "trained": 3}, {"symbol": "000858.SZ", "trained": 2 if executor != "pooled"
                                                       else 3}]
    (tmp_path / "summary.json").write_text(json.dumps({"executor": executor, "symbols": symbols,
                                                       "cross_section": {"rank_ic": 0.05}}), encoding="utf-8")
    made = universe_row(tmp_path, {"forecasts": {"source": "walk_forward"}}, None)
    assert made == {"forecasts_from": None, "trained": trained, "rank_ic": 0.05}  # a pooled model's folds, once
    reused = universe_row(tmp_path, {"forecasts": {"source": "/runs/first"}}, "first")
    assert reused == {"forecasts_from": "first", "trained": 0, "rank_ic": 0.05}


def test_variants_may_name_their_strategy_and_one_that_does_not_fit_fails_before_training(tmp_path):
    spec = _spec([{"params": {"k": 3}}, {"strategy": "forecast_long", "params": {}}])
    assert [name for name, _ in expand(spec)] == ["qlib_csi300_sample-top_k-k=3", "qlib_csi300_sample-forecast_long"]
    with pytest.raises(ConfigError, match=r"sweep configuration qlib_csi300_sample-forecast_long: strategy "
                                          r"forecast_long trades one stock"):
        rs.sweep(spec, tmp_path / "out", store=None)
    assert not (tmp_path / "out").exists()
    with pytest.raises(ConfigError, match=r"\[\[sweep.list\]\] strategy = 3: give a strategy's name"):
        _spec([{"strategy": 3}])


def test_the_command_line_refuses_a_variant_that_does_not_fit_in_one_line(tmp_path):
    path = tmp_path / "bad_sweep.toml"
    path.write_text(f'[data]\nsource = "{SAMPLE.as_posix()}"\nuniverse = "csi300"\n[forecast]\npooled = true\n'
                    '[backtest]\nstrategy = "top_k"\nstart = "2022-03-01"\n'
                    '[[sweep.list]]\nparams = {k = 3}\n[[sweep.list]]\nparams = {k = 3, n_drop = 2}\n',
                    encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "rnnstrategy.cli", "sweep", str(path), "--out", str(tmp_path / "o"),
                           "--no-store"], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("rnnstrategy: error: sweep configuration qlib_csi300_sample-n_drop=2: TopK has no ")
    assert "n_drop" in proc.stderr
    assert not (tmp_path / "o").exists()
