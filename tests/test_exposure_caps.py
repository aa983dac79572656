"""The score strategies' caps (``max_weight``, ``max_industry`` with an ``industries`` mapping) on hand-made
rankings of the bundled qlib sample (tests/rankings.py), and what a universe run reports of its holdings
(``positions.csv``, ``industries.csv``, ``metrics.json["holdings"]``) from the command line, on hand-made
forecasts (no training).

The caps bind when a buy is sized, at the close before its fill: the weight at the close of the fill day may
exceed the cap by that day's move of the stock against the portfolio, and no more. The tests check exactly that
bound: weight(d) <= cap * close(d) / close(d-1) * value(d-1) / value(d) (the largest such ratio of the industry's
stocks for an industry)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from rankings import SYMBOLS, fills, forecasts, held, noisy_scores, run, steady_scores
from rnnstrategy.strategies.rank_band import RankBand
from rnnstrategy.strategies.topk_dropout import TopkDropout

from rnnstrategy.cli import main
from rnnstrategy.data.forecast_files import write_forecasts
from rnnstrategy.data.industries import read_industries
from rnnstrategy.errors import ConfigError, DataError

EXACT = 1 + 1e-9
"""Float slack on the bound (the bound itself is the day's drift, computed exactly)."""


@pytest.fixture(scope="module")
def closes(ranking_bars) -> pd.DataFrame:
    return pd.DataFrame({symbol: frame["close"] for symbol, frame in ranking_bars.items()})


@pytest.fixture(scope="module")
def steady(ranking_days) -> pd.DataFrame:
    """SYMBOLS ranked in their order, every day."""
    return steady_scores(ranking_days)


def weights(result, closes: pd.DataFrame) -> pd.DataFrame:
    """Each stock's share of the portfolio value at each close."""
    return (held(result) * closes).div(result.equity["value"], axis=0).fillna(0.0)


def drift(result, closes: pd.DataFrame) -> pd.DataFrame:
    """close(d) / close(d-1) * value(d-1) / value(d): how far a weight sized at d-1 can move by the close of d."""
    value = result.equity["value"]
    return closes.div(closes.shift(1)).mul(value.shift(1) / value, axis=0)


@pytest.mark.parametrize(("strategy", "params"), [(TopkDropout, {"topk": 4, "n_drop": 2, "min_hold": 3}),
                                                  (RankBand, {"k": 4, "exit_rank": 6})])
def test_max_weight_stops_buys_and_top_ups_at_the_cap(ranking_bars, ranking_days, closes, strategy, params):
    scores = noisy_scores(ranking_days, SYMBOLS)
    free = run(ranking_bars, scores, strategy, **params)
    assert weights(free, closes).max().max() > 0.25  # four slots of 25 %: the cap below binds
    capped = run(ranking_bars, scores, strategy, max_weight=0.15, **params)
    weight, bound = weights(capped, closes), 0.15 * drift(capped, closes)
    buys = fills(capped, "buy")
    assert len(buys) > 40
    for buy in buys.itertuples():  # buys and top-ups alike
        assert weight.at[buy.date, buy.symbol] <= bound.at[buy.date, buy.symbol] * EXACT, buy
    invested = 1 - capped.equity["cash"] / capped.equity["value"]
    assert invested.iloc[1:].median() == pytest.approx(0.6, abs=0.03)  # four stocks at 15 %: the rest is cash


def test_max_industry_skips_a_full_industry_for_the_next_best(ranking_bars, closes, steady, tmp_path):
    mapping = tmp_path / "industries.csv"
    mapping.write_text("symbol,industry\n" + "".join(f"{s},banks\n" for s in SYMBOLS[:3])
                       + f"{SYMBOLS[3]},steel\n", encoding="utf-8")
    result = run(ranking_bars, steady, TopkDropout, topk=4, n_drop=1, min_hold=1, max_industry=0.3,
                 industries=str(mapping))
    buys = fills(result, "buy")
    first = buys[buys["date"] == buys["date"].min()]
    # the best bank takes a slot (25 %); a second would make 50 %: the next best, not banks, instead
    assert sorted(first["symbol"]) == sorted([SYMBOLS[0], SYMBOLS[3], SYMBOLS[4], SYMBOLS[5]])
    banks = list(SYMBOLS[:3])
    assert ((held(result)[[s for s in banks if s in held(result)]] > 0).sum(axis=1) <= 1).all()
    weight, moves = weights(result, closes), drift(result, closes)
    industry = {symbol: "banks" if symbol in banks else symbol for symbol in SYMBOLS}
    industry[SYMBOLS[3]] = "steel"
    for day, bought in buys.groupby("date"):
        for group in {industry[s] for s in bought["symbol"]}:
            members = [s for s in SYMBOLS if industry[s] == group]
            assert weight.loc[day, members].sum() <= 0.3 * moves.loc[day, members].max() * EXACT, (day, group)


def test_a_stock_without_an_industry_is_a_group_of_its_own(ranking_bars, steady):
    result = run(ranking_bars, steady, TopkDropout, topk=4, n_drop=1, min_hold=1, max_industry=0.3)  # no mapping
    first = fills(result, "buy").query("date == date.min()")
    assert sorted(first["symbol"]) == sorted(SYMBOLS[:4])  # not lumped into one "unknown" capped at 30 %


def test_mappings_and_stock_lists_are_read_by_code(tmp_path):
    mapping = tmp_path / "map.csv"
    mapping.write_text("symbol,industry\n600519,白酒\nSZ000001,银行\n300750.SZ,\nAAA,toys\n", encoding="utf-8")
    assert read_industries(mapping) == {"600519.SH": "白酒", "000001.SZ": "银行", "AAA": "toys"}
    stock_list = tmp_path / "basic_stock_data.csv"
    stock_list.write_text("ts_code,symbol,name,area,industry,list_date\n600519.SH,600519,贵州茅台,贵州,白酒,20010827\n",
                          encoding="utf-8")
    assert read_industries(stock_list) == {"600519.SH": "白酒"}
    twice = tmp_path / "twice.csv"
    twice.write_text("symbol,industry\n600438.SH,power\nSH600438,coal\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"twice.csv: line 3 gives 600438.SH the industry 'coal', an earlier line "
                                        r"'power'; give each stock one industry$"):
        read_industries(twice)
    empty = tmp_path / "empty.csv"
    empty.write_text("symbol,industry\n600438.SH,\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"empty.csv: no row names a stock and its industry; give a CSV"):
        read_industries(empty)


@pytest.mark.parametrize(("params", "error", "message"), [
    ({"max_weight": 0}, ConfigError, (r"^max_weight=0.0: give the most a stock may be of the portfolio value, "
                                      r"in \(0, 1\], or none for no cap$")),
    ({"max_industry": 1.5}, ConfigError, r"^max_industry=1.5: give the most an industry may be"),
    ({"industries": "no/such.csv"}, DataError, (r"no/such.csv: no such industry mapping file; give a CSV with "
                                                r"symbol and industry columns")),
])
def test_bad_caps_are_refused_before_any_work(params, error, message):
    for strategy in (TopkDropout, RankBand):
        with pytest.raises(error, match=message):
            strategy.check_params(params)


# -- the report, from the command line -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def forecast_folder(ranking_bars, ranking_days, tmp_path_factory) -> Path:
    """A universe forecast folder of hand-made (noisy) scores, as `rnnstrategy forecast` writes one."""
    folder = tmp_path_factory.mktemp("forecasts")
    (folder / "forecasts").mkdir()
    frames = forecasts(ranking_bars, noisy_scores(ranking_days, SYMBOLS, seed=3))
    for symbol, frame in frames.items():
        write_forecasts(frame, folder / "forecasts" / f"{symbol}.csv")
    code = {symbol: symbol[-2:].lower() + symbol[:6] for symbol in SYMBOLS}
    from rankings import SAMPLE
    pd.DataFrame({"symbol": list(SYMBOLS), "source": [f"{SAMPLE}::{code[s]}" for s in SYMBOLS],
                  "status": "ok"}).to_csv(folder / "summary.csv", index=False)
    return folder


def test_positions_and_industries_agree_with_equity(forecast_folder, tmp_path, capsys):
    mapping = tmp_path / "map.csv"
    mapping.write_text("symbol,industry\n" + "".join(f"{s},{'A' if k % 3 else 'B'}\n" for k, s in
                                                     enumerate(SYMBOLS[:9])), encoding="utf-8")
    out = tmp_path / "run"
    code = main(["backtest", "--example", "--universe", "csi300", "--strategy", "topk_dropout", "--topk", "4",
                 "--n-drop", "2", "--forecasts", str(forecast_folder), "--start", "2021-01-04", "--end", "2021-04-30",
                 "--max-weight", "0.2", "--max-industry", "0.45", "--industries", str(mapping), "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "  holdings: " in printed and f"from {mapping}" in printed
    equity = pd.read_csv(out / "equity.csv", index_col="date", parse_dates=True)
    positions = pd.read_csv(out / "positions.csv", parse_dates=["date"])
    assert list(positions.columns) == ["date", "symbol", "shares", "value", "weight"]
    assert (positions["shares"] > 0).all()  # held positions only
    by_day = positions.groupby("date")
    stocks = by_day["value"].sum().reindex(equity.index, fill_value=0.0)
    assert (stocks + equity["cash"] - equity["value"]).abs().max() < 0.01 * 4 + 1e-6  # values to the fen
    invested = 1 - equity["cash"] / equity["value"]
    assert (by_day["weight"].sum().reindex(equity.index, fill_value=0.0) - invested).abs().max() < 1e-5
    industries = pd.read_csv(out / "industries.csv")
    assert list(industries.columns) == ["industry", "mean_weight", "max_weight", "mean_stocks", "days_held"]
    assert set(industries["industry"]) <= {"A", "B", "unknown"}
    assert industries["mean_weight"].sum() == pytest.approx(invested.mean(), abs=1e-5)
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    holdings = metrics["holdings"]
    assert holdings["caps"] == {"max_weight": 0.2, "max_industry": 0.45}
    assert holdings["max_weight"]["weight"] == pytest.approx(positions["weight"].max(), abs=1e-6)
    assert holdings["invested"]["mean"] == pytest.approx(invested.mean())
    assert holdings["industries"]["source"] == str(mapping)
    assert {"commission", "stamp_duty", "transfer_fee", "turnover", "exposure"} <= set(metrics["trades"])
    assert "by_year" in metrics and (out / "years.csv").is_file()
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert {"positions.csv", "industries.csv"} <= set(manifest["files"])


def test_a_bad_mapping_file_is_one_line_and_exit_2(forecast_folder, tmp_path):
    mapping = tmp_path / "map.csv"
    mapping.write_text("symbol,sector\n600438.SH,power\n", encoding="utf-8")
    env = {**os.environ, "RNNSTRATEGY_CACHE": str(tmp_path / "cache"), "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-m", "rnnstrategy.cli", "backtest", "--example", "--universe", "csi300",
                           "--strategy", "rank_band", "--forecasts", str(forecast_folder), "--max-industry", "0.3",
                           "--industries", str(mapping), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert lines == [(f"rnnstrategy: error: {mapping}: an industry mapping needs a symbol and an industry column, "
                      "found symbol, sector; give a CSV with symbol and industry columns (e.g. 600519.SH,白酒), or "
                      "a tushare stock list with ts_code and industry columns")]
    assert not (tmp_path / "out").exists()
