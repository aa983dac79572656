"""``rnnstrategy compare`` and ``rs.compare``: runs side by side, pairwise DM tests, the SPA test."""

import html
import json
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from helpers import TINY

import rnnstrategy as rs
from rnnstrategy import datasets
from rnnstrategy.cli import main
from rnnstrategy.data.forecast_files import read_forecasts
from rnnstrategy.errors import ConfigError, DataError
from rnnstrategy.evaluation.significance import diebold_mariano
from rnnstrategy.evaluation.spa import spa_test
from rnnstrategy.report.compare import FILES, compare_runs

START, END = "2019-06-03", "2019-12-31"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Four small finished runs of Moutai: a GRU and an LSTM forecaster, the GRU's forecasts traded
    with a higher exit threshold, and the GRU's forecasts over a shorter window."""
    root = tmp_path_factory.mktemp("runs")
    bars = datasets.moutai()
    gru = rs.backtest(bars, forecast=TINY, start=START, end=END, store=None)
    lstm = rs.backtest(bars, forecast=replace(TINY, cell="lstm", seed=1), start=START, end=END, store=None)
    picky = rs.backtest(bars, forecasts=gru.forecasts, start=START, end=END, store=None,
                        params={"exit_threshold": 0.01})
    late = rs.backtest(bars, forecasts=gru.forecasts, start="2019-09-02", end=END, store=None)
    dirs = {}
    for name, run in (("gru", gru), ("lstm", lstm), ("picky", picky), ("late", late)):
        run.write(root / name)
        dirs[name] = root / name
    return dirs


@pytest.fixture(scope="module")
def compared(runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    return compare_runs([runs["gru"], runs["lstm"], runs["picky"]], out), out


def test_writes_the_json_page_and_plot(compared, runs):
    result, out = compared
    assert {p.name for p in out.iterdir()} >= set(FILES.values())
    assert json.loads((out / FILES["json"]).read_text(encoding="utf-8")) == result
    assert set(result) == {"runs", "common", "warnings", "diebold_mariano", "spa", "spa_benchmark", "files"}
    assert result["spa_benchmark"] is None  # no benchmark: buy-and-hold is the benchmark, tested once
    assert [r["name"] for r in result["runs"]] == ["gru", "lstm", "picky"]
    gru, lstm, picky = result["runs"]
    assert (gru["config"]["cell"], lstm["config"]["cell"], picky["config"]["cell"]) == ("gru", "lstm", "gru")
    assert gru["config"]["hidden"] == [8] and gru["config"]["strategy"] == "forecast_long"
    assert picky["config"]["params"] == {"exit_threshold": 0.01}
    metrics = json.loads((runs["lstm"] / "metrics.json").read_text(encoding="utf-8"))
    assert lstm["strategy"] == metrics["strategy"] and lstm["buy_and_hold"] == metrics["buy_and_hold"]
    assert lstm["forecast"]["h1"]["verdict"] == metrics["forecast"]["h1"]["verdict"]
    assert set(lstm["forecast"]) == {"h1", "h2"}
    assert result["common"] == {"start": START, "end": END, "days": 145, "symbols": ["600519.SH"]}
    assert result["warnings"] == []  # one security, one period


def test_page_names_every_run_and_the_verdict_offline(compared):
    result, out = compared
    page = (out / FILES["html"]).read_text(encoding="utf-8")
    for name in ("gru", "lstm", "picky"):
        assert f">{name}<" in page
    assert html.escape(result["spa"]["sentence"][1:]) in page
    assert "data:image/png;base64," in page
    assert "http://" not in page and "https://" not in page  # offline: nothing to fetch
    assert (out / FILES["equity_plot"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_pairwise_dm_matrix_is_symmetric_with_self_ties(compared, runs):
    result, _ = compared
    dm = result["diebold_mariano"]
    assert dm["runs"] == ["gru", "lstm", "picky"]
    for h in ("h1", "h2"):
        stat, p, days = dm[h]["stat"], dm[h]["pvalue"], dm[h]["days"]
        for i in range(3):
            assert (stat[i][i], p[i][i]) == (0.0, 1.0)  # a run against itself
            for j in range(3):
                assert p[i][j] == p[j][i] and stat[i][j] == -stat[j][i] and days[i][j] == 145
        assert (stat[0][2], p[0][2]) == (0.0, 1.0)  # picky traded the GRU's own forecasts
    pair = next(p for p in dm["pairs"] if (p["a"], p["b"], p["horizon"]) == ("gru", "lstm", 1))
    a, b = (read_forecasts(runs[n] / "forecasts.csv") for n in ("gru", "lstm"))
    errors_a, errors_b = (f["pred_open_1"] - f["open_1"] for f in (a, b))
    expected = diebold_mariano(errors_a.to_numpy(), errors_b.to_numpy(), 1)
    assert (pair["dm_stat"], pair["dm_pvalue"]) == pytest.approx(expected, rel=1e-12)
    rmse = {n: float(np.sqrt(np.mean(e**2))) for n, e in (("gru", errors_a), ("lstm", errors_b))}
    assert pair["lower_rmse"] == min(rmse, key=rmse.get)
    assert (pair["rmse_a"], pair["rmse_b"]) == pytest.approx((rmse["gru"], rmse["lstm"]))
    assert len(dm["pairs"]) == 6  # 3 pairs at 2 horizons


def test_spa_tests_the_best_strategy_against_buy_and_hold(compared, runs):
    result, _ = compared
    spa = result["spa"]
    assert all(0 <= spa[f"pvalue_{k}"] <= 1 for k in ("lower", "consistent", "upper"))
    assert spa["pvalue_lower"] <= spa["pvalue_consistent"] <= spa["pvalue_upper"]
    assert (spa["trials"], spa["compared"], spa["strategies"], spa["days"]) == (3, 3, 3, 145)
    assert spa["bonferroni_pvalue"] is None and spa["pvalue"] == spa["pvalue_consistent"]
    returns = {n: pd.read_csv(runs[n] / "equity.csv", index_col="date")["return"] for n in ("gru", "lstm", "picky")}
    means = {n: float(r.mean()) for n, r in returns.items()}
    assert spa["best"] == max(means, key=means.get)
    assert spa["mean_daily_return"] == pytest.approx(means)
    held = pd.read_csv(runs["gru"] / "equity.csv", index_col="date")["buy_and_hold_return"]
    assert spa["benchmark_mean_daily_return"] == pytest.approx(float(held.mean()))
    assert spa["beats"] is (spa["pvalue"] < 0.05)
    word = "does" if spa["beats"] else "does not"
    assert spa["sentence"].startswith(f"the best strategy ({spa['best']}) {word} beat buy-and-hold (Buy and hold "
                                      f"600519 贵州茅台) after accounting for 3 strategies compared: SPA p = ")


def test_more_trials_than_runs_adds_a_bonferroni_bound(runs, tmp_path):
    result = compare_runs([runs["gru"], runs["lstm"]], tmp_path, trials=20, names=["G", "L"])
    spa = result["spa"]
    assert spa["bonferroni_pvalue"] == min(1.0, 20 * min(spa["pvalue_alone"].values()))
    assert spa["pvalue"] == max(spa["pvalue_consistent"], spa["bonferroni_pvalue"])
    assert "20 strategies tried (2 compared here)" in spa["sentence"]
    assert [r["name"] for r in result["runs"]] == ["G", "L"]
    with pytest.raises(ConfigError, match="trials=1 is fewer than the 2 runs"):
        compare_runs([runs["gru"], runs["lstm"]], tmp_path, trials=1)
    with pytest.raises(ConfigError, match="one unique, non-empty name per run"):
        compare_runs([runs["gru"], runs["lstm"]], tmp_path, names=["G", "G"])


def test_runs_over_different_periods_are_compared_on_common_days(runs, tmp_path):
    result = rs.compare([runs["gru"], runs["late"]], tmp_path)
    assert result["common"]["start"] == "2019-09-02" and result["common"]["end"] == END
    late = pd.read_csv(runs["late"] / "equity.csv")
    assert result["common"]["days"] == result["spa"]["days"] == len(late)
    assert any("cover different days" in w for w in result["warnings"])
    assert result["diebold_mariano"]["h1"]["days"][0][1] == len(read_forecasts(runs["late"] / "forecasts.csv"))


def test_spa_test_on_constructed_returns():
    rng = np.random.default_rng(0)
    held = rng.normal(0.0005, 0.01, 500)
    better = held + 0.002 + rng.normal(0, 0.002, 500)
    worse = held - 0.001 + rng.normal(0, 0.002, 500)
    assert spa_test(held, np.c_[better, worse])["pvalue_consistent"] < 0.01
    assert spa_test(held, worse)["pvalue_consistent"] == 1.0  # no strategy has the higher mean
    assert spa_test(held, np.c_[held, worse])["pvalue_upper"] == 1.0  # buy-and-hold itself among them
    assert spa_test(held, held + 0.001)["pvalue_consistent"] == 0.0  # better by the same amount every day
    assert spa_test(held, worse)["block_size"] == 22  # floor(sqrt(500))
    with pytest.raises(ValueError, match="same days|shape"):
        spa_test(held, worse[:-1])


def test_cli_prints_the_table_and_the_verdict(runs, tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["compare", str(runs["gru"]), str(runs["lstm"]), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "2 runs on 145 common days 2019-06-03..2019-12-31" in printed
    assert "  gru " in printed and "  lstm " in printed and "Sharpe" in printed
    assert "beat buy-and-hold (Buy and hold 600519 贵州茅台) after accounting for 2 strategies compared: SPA p = " in printed
    assert str(out / FILES["html"]) in printed
    assert (out / FILES["json"]).is_file()


@pytest.mark.parametrize("bad", ["empty", "missing"])
def test_cli_rejects_a_directory_that_is_not_a_run(runs, tmp_path, capsys, bad):
    target = tmp_path / bad
    if bad == "empty":
        target.mkdir()
    assert main(["compare", str(runs["gru"]), str(target), "--out", str(tmp_path / "cmp")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(target) in err and "finished backtest" in err
    with pytest.raises(DataError, match=str(target)):
        compare_runs([runs["gru"], target], tmp_path / "cmp")
    assert not (tmp_path / "cmp").exists()  # nothing written before every run is read


def test_same_directory_names_are_told_apart(runs, tmp_path):
    twin = tmp_path / "other" / "gru"
    twin.parent.mkdir()
    twin.symlink_to(runs["gru"], target_is_directory=True)
    result = compare_runs([runs["gru"], twin], tmp_path / "cmp")
    names = [r["name"] for r in result["runs"]]
    assert len(set(names)) == 2 and all(n.endswith("gru") for n in names)
    assert math.isclose(result["spa"]["pvalue_consistent"], result["spa"]["pvalue_alone"][names[0]])


def test_every_option_is_explained(capsys):
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    text = capsys.readouterr().out
    for option in ("--out", "--trials", "--name", "RUN_DIR"):
        assert option in text
