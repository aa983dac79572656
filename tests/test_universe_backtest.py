"""Universe backtests: top_k over the forecasts of several stocks, from the CLI and the API."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from helpers import TINY, tiny_args

import rnnstrategy as rs
from rnnstrategy.cli import main
from rnnstrategy.config import RunConfig
from rnnstrategy.data import load_bars
from rnnstrategy.errors import ConfigError

STOCKS = ("688271.SH", "688041.SH", "301269.SZ", "301236.SZ")  # short histories: fast
START = "2023-01-03"
TOPK = ["--strategy", "top_k", "--k", "2", "--max-turnover", "1.0"]

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def paths(data_dir: Path) -> list[str]:
    return [str(data_dir / "stocks_tushare_qfq" / f"{symbol}.csv") for symbol in STOCKS]


@pytest.fixture(scope="module")
def benchmark(data_dir: Path) -> str:
    return str(data_dir / "index" / "sh000300.csv")


@pytest.fixture(scope="module")
def cli_run(paths: list[str], benchmark: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("topk")
    code = main(["-q", "backtest", *paths, *TOPK, "--start", START, "--benchmark", benchmark, "--out", str(out),
                 "--executor", "inprocess", "--no-store", *tiny_args(TINY)])
    assert code == 0
    return out


def test_cli_writes_a_run_folder_with_every_file(cli_run: Path) -> None:
    for name in ("report.html", "equity_vs_benchmark.png", "metrics.json", "trades.csv", "equity.csv",
                 "manifest.json", "summary.csv", "summary.json"):
        assert (cli_run / name).is_file(), name
    assert sorted(p.stem for p in (cli_run / "forecasts").glob("*.csv")) == sorted(STOCKS)
    manifest = json.loads((cli_run / "manifest.json").read_text())
    assert manifest["kind"] == "backtest" and manifest["report"]["symbols"] == list(STOCKS)
    assert {"trades.csv", "equity.csv", "metrics.json", "summary.json", f"forecasts/{STOCKS[0]}.csv"} <= set(
        manifest["files"])
    assert manifest["config"]["backtest"]["params"]["k"] == 2 and manifest["config"]["data"]["source"] == list(
        manifest["config"]["data"]["source"])
    assert main(["-q", "report", str(cli_run)]) == 0  # the checksums hold and the report redraws


def test_trades_carry_symbols_and_match_the_equity_and_fees(cli_run: Path, paths: list[str]) -> None:
    trades = pd.read_csv(cli_run / "trades.csv", dtype={"symbol": str})
    equity = pd.read_csv(cli_run / "equity.csv", index_col="date", parse_dates=True)
    metrics = json.loads((cli_run / "metrics.json").read_text())
    assert trades["symbol"].nunique() > 1 and set(trades["symbol"]) <= set(STOCKS)
    t = metrics["trades"]
    assert t["count"] == len(trades) and t["symbols_traded"] == trades["symbol"].nunique()
    for kind in ("commission", "stamp_duty", "transfer_fee"):
        assert t[kind] == pytest.approx(trades[kind].sum())
    assert t["total_fees"] == pytest.approx(trades[["commission", "stamp_duty", "transfer_fee"]].to_numpy().sum())
    assert t["stamp_duty"] > 0 and t["transfer_fee"] > 0  # the A-share fees, split by kind
    # the final value is the cash plus the positions the fills leave, at the last closes
    signed = trades["size"].where(trades["side"] == "buy", -trades["size"])
    shares = signed.groupby(trades["symbol"]).sum()
    last = equity.index[-1]
    closes = {Path(p).stem: load_bars(p).loc[:last, "close"].iloc[-1] for p in paths}
    held = sum(size * closes[symbol] for symbol, size in shares.items())
    assert equity["value"].iloc[-1] == pytest.approx(equity["cash"].iloc[-1] + held, rel=1e-9)
    assert equity["position"].iloc[-1] == (shares > 0).sum()
    cash = 1_000_000 - (signed * trades["price"]).sum() - t["total_fees"]
    assert equity["cash"].iloc[-1] == pytest.approx(cash, rel=1e-9)


def test_metrics_show_the_equal_weight_universe_and_the_verdict(cli_run: Path) -> None:
    metrics = json.loads((cli_run / "metrics.json").read_text())
    equity = pd.read_csv(cli_run / "equity.csv", index_col="date", parse_dates=True)
    for name in ("strategy", "benchmark", "buy_and_hold"):
        assert {"total_return", "cagr", "sharpe", "max_drawdown"} <= set(metrics[name])
    assert metrics["buy_and_hold"]["title"] == "Buy and hold 4 A-shares, equal weight"
    assert metrics["benchmark"]["title"] == "CSI 300"
    basket = (1 + equity["buy_and_hold_return"]).prod() - 1
    assert metrics["buy_and_hold"]["total_return"] == pytest.approx(basket)
    excess = metrics["excess_over_buy_and_hold"]
    assert {"annualised", "hac_t", "p_value"} <= set(excess)
    word = "does not beat" if excess["p_value"] >= 0.05 else ("beats" if excess["annualised"] > 0 else "trails")
    assert f"the strategy {word} the equal-weight universe" in excess["verdict"]
    assert metrics["universe"]["symbols"] == 4 and metrics["parameters"] == {"k": 2, "max_turnover": 1.0}
    assert metrics["trades"]["annual_turnover"] > metrics["trades"]["turnover"] > 0


def test_api_reuses_the_forecasts_without_training(cli_run: Path, benchmark: str, monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    import rnnstrategy.universe.forecast as universe

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("the forecasts were computed again")

    monkeypatch.setattr(universe, "forecast_universe", no_training)
    run = rs.backtest(None, benchmark, strategy="top_k", k=2, max_turnover=1.0, forecasts=cli_run,
                      out=tmp_path / "again")
    assert isinstance(run, rs.api.UniverseBacktestRun)
    pd.testing.assert_frame_equal(run.trades.reset_index(drop=True),
                                  pd.read_csv(cli_run / "trades.csv", dtype={"symbol": str}, parse_dates=["date"])
                                  .assign(date=lambda f: f["date"].dt.date), check_dtype=False)
    assert run.metrics["strategy"]["total_return"] == pytest.approx(
        json.loads((cli_run / "metrics.json").read_text())["strategy"]["total_return"])
    assert (tmp_path / "again" / "forecasts" / f"{STOCKS[0]}.csv").is_file()
    assert any("equal-weight universe" in line for line in run.summary())
    # the equal-weight basket by hand: its one buy per stock, then held to the last close
    held = run.buy_and_hold
    buys = held.trades
    assert sorted(buys["symbol"]) == sorted(STOCKS) and (buys["side"] == "buy").all()
    last = run.equity.index[-1]
    closes = {s: load_bars(Path(benchmark).parents[1] / "stocks_tushare_qfq" / f"{s}.csv").loc[:last, "close"]
              .iloc[-1] for s in STOCKS}
    fees = buys[["commission", "stamp_duty", "transfer_fee"]].to_numpy().sum()
    final = 1_000_000 - buys["value"].sum() - fees + sum(r.size * closes[r.symbol] for r in buys.itertuples())
    assert held.final_value == pytest.approx(final, rel=1e-9)
    assert run.metrics["buy_and_hold"]["total_return"] == pytest.approx(final / 1_000_000 - 1, rel=1e-6)


def test_top_k_on_one_stock_is_one_line(paths: list[str], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["backtest", paths[0], *TOPK, "--out", str(tmp_path / "o"), *tiny_args(TINY)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "ranks a universe" in err[0] and "give a folder of CSVs or several paths" in err[0]


def test_a_universe_with_a_one_stock_strategy_is_one_line(paths: list[str], tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    code = main(["backtest", *paths[:2], "--strategy", "forecast_long", "--out", str(tmp_path / "o"),
                 *tiny_args(TINY)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "use --strategy top_k" not in err[0]
    assert "trades one stock" in err[0] and "--strategy top_k" in err[0]


def test_strategy_settings_from_toml_and_lenient_from_the_cli() -> None:
    config = RunConfig.from_dict({"data": {"source": ["a.csv", "b.csv"], "strict": False},
                                  "backtest": {"strategy": "top_k", "params": {"target": 0.9, "k": 3, "exit_rank": 6}}})
    assert config.data.source == ("a.csv", "b.csv") and not config.data.strict
    assert config.backtest.params == {"target": 0.9, "k": 3, "exit_rank": 6}
    with pytest.raises(ConfigError, match=r"\[backtest\] has no setting 'k'.*goes in \[backtest.params\]"):
        RunConfig.from_dict({"data": {"source": "a.csv"}, "backtest": {"k": 3}})
    from rnnstrategy.cli import build_parser
    from rnnstrategy.cli.backtest import run_config_from_args

    args = build_parser().parse_args(["backtest", "x.csv", "--lenient", "--k", "7", "--out", "o"])
    config = run_config_from_args(args)
    assert config.data.strict is False and config.data.source == "x.csv" and config.backtest.params == {"k": 7}


def test_a_universe_replay_refuses_changed_bars(paths: list[str], tmp_path: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    """`rnnstrategy run manifest.json` of a universe backtest checks every stock's recorded bars before it forecasts:
    the same data replays, one changed close is refused with the stock named, and --allow-changed-data re-runs and
    records the change."""
    stocks = tmp_path / "stocks"
    stocks.mkdir()
    for path in paths[:3]:
        (stocks / Path(path).name).write_bytes(Path(path).read_bytes())
    out = tmp_path / "run"
    assert main(["-q", "backtest", str(stocks), *TOPK, "--start", START, "--out", str(out), "--executor", "inprocess",
                 "--no-store", *tiny_args(TINY)]) == 0
    manifest = out / "manifest.json"
    recorded = json.loads(manifest.read_text())["data"]["universe"]
    assert sorted(entry["symbol"] for entry in recorded) == sorted(STOCKS[:3])
    assert main(["-q", "run", str(manifest), "--out", str(tmp_path / "same"), "--no-store"]) == 0

    victim = stocks / f"{STOCKS[1]}.csv"
    raw = pd.read_csv(victim, dtype=str)  # newest first: row 3 is a bar the backtest traded
    raw.loc[3, "close"] = str(float(raw.loc[3, "close"]) + 0.01)
    raw.to_csv(victim, index=False)
    capsys.readouterr()
    assert main(["-q", "run", str(manifest), "--out", str(tmp_path / "changed"), "--no-store"]) == 2
    error = capsys.readouterr().err
    assert f"{STOCKS[1]} ({victim}) changed since the run was recorded" in error and "--allow-changed-data" in error
    assert not (tmp_path / "changed" / "manifest.json").exists()
    assert main(["-q", "run", str(manifest), "--out", str(tmp_path / "changed"), "--no-store",
                 "--allow-changed-data"]) == 0
    changed = json.loads((tmp_path / "changed" / "manifest.json").read_text())["data_changed"]
    assert len(changed) == 1 and changed[0].startswith(STOCKS[1])

    # a bar before the traded window changes the forecasts (their training history) but not the traded bars
    victim = stocks / f"{STOCKS[2]}.csv"
    raw = pd.read_csv(victim, dtype=str)
    first_traded = pd.Timestamp(next(e["first"] for e in recorded if e["symbol"] == STOCKS[2]))
    older = raw.index[pd.to_datetime(raw["trade_date"]) < first_traded][0]
    raw.loc[older, "close"] = str(float(raw.loc[older, "close"]) + 0.01)
    raw.to_csv(victim, index=False)
    capsys.readouterr()
    assert main(["-q", "run", str(manifest), "--out", str(tmp_path / "older"), "--no-store"]) == 2
    assert f"{STOCKS[2]} ({victim}) changed since the run was recorded" in capsys.readouterr().err
