"""TopK on a pooled model's scores (issue 25): ranks only. On hand-made rankings of the bundled qlib sample
(tests/rankings.py), a holding whose score drops below zero is kept while it ranks within ``exit_rank`` and the
top ``k`` are bought whatever their score, where the same numbers as returns meet both thresholds; an explicit
threshold beside scores is refused in one line; the scores' tag survives forecast files and the signal path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from rankings import CASH, SAMPLE, SYMBOLS, fills, forecasts
from rnnstrategy.strategies.top_k import TopK

from rnnstrategy.backtrader.results import run_universe_backtest
from rnnstrategy.backtrader.signal import decide
from rnnstrategy.data.forecast_files import (
    holds_scores,
    read_forecasts,
    write_forecasts,
)
from rnnstrategy.errors import ConfigError

EIGHT = SYMBOLS[:8]
A, B, C, D = EIGHT[:4]
POOLED = {"config": {"pooled": True, "cell": "gru"}}
"""The attrs of a pooled model's forecast frame (as ``pooled_walk_forward`` writes them): scores."""
PER_STOCK = {"config": {"cell": "gru"}}
"""The attrs of a per-stock model's forecast frame: returns."""
PARAMS = {"k": 3, "exit_rank": 5, "max_turnover": 1.0}


@pytest.fixture(scope="module")
def ranking_symbols() -> tuple[str, ...]:
    """The eight stocks these tests rank (conftest's ``ranking_bars`` loads these only)."""
    return EIGHT


def _tagged(bars, scores: pd.DataFrame, attrs: dict) -> dict[str, pd.DataFrame]:
    """Forecast frames whose ``expected_return`` is ``scores`` / 100, with ``attrs``."""
    frames = forecasts(bars, scores)
    for frame in frames.values():
        frame.attrs = dict(attrs)
    return frames


def _slipping(days: pd.DatetimeIndex) -> pd.DataFrame:
    """Scores 3.5, 2.5, ..., -3.5 for the eight stocks in order; C (3rd) drops to -0.7 from days[20] (5th, below
    zero but within exit_rank 5), then to -10 (last) from days[40]."""
    scores = pd.DataFrame([[3.5 - k for k in range(8)]] * len(days), index=days, columns=list(EIGHT))
    scores.loc[days[20]:, C] = -0.7
    scores.loc[days[40]:, C] = -10.0
    return scores


def _trades(result) -> list[tuple[pd.Timestamp, str, str]]:
    trades = result.trades
    return list(zip(pd.to_datetime(trades["date"]), trades["symbol"], trades["side"], strict=True))


@pytest.mark.parametrize(("attrs", "sold_on"), [(POOLED, 41), (PER_STOCK, 21), ({}, 21)])
def test_a_score_below_zero_is_kept_while_it_ranks_within_exit_rank(ranking_bars, ranking_days, attrs, sold_on):
    """Scores: C is sold only once it ranks below exit_rank (decided at the close of days[40]); returns (a
    per-stock frame, or one without a tag: what TopK did to scores before): sold as soon as it is below 0."""
    frames = _tagged(ranking_bars, _slipping(ranking_days), attrs)
    result = run_universe_backtest(list(ranking_bars.values()), frames, TopK, params=PARAMS, cash=CASH)
    first, sold = ranking_days[1], ranking_days[sold_on]
    assert _trades(result) == [(first, A, "buy"), (first, B, "buy"), (first, C, "buy"),
                               (sold, C, "sell"), (sold, D, "buy")]


@pytest.mark.parametrize(("attrs", "bought"), [(POOLED, [A, B, C]), (PER_STOCK, [])])
def test_buys_on_scores_ignore_the_round_trip_cost(ranking_bars, ranking_days, attrs, bought):
    """Every score is below zero and far below a round trip's cost (-0.01 % .. -0.08 % as returns): as scores
    the top 3 are bought on the first day and held; as returns nothing is bought."""
    scores = pd.DataFrame([[-0.01 * (k + 1) for k in range(8)]] * len(ranking_days), index=ranking_days,
                          columns=list(EIGHT))
    result = run_universe_backtest(list(ranking_bars.values()), _tagged(ranking_bars, scores, attrs), TopK,
                                   params=PARAMS, cash=CASH)
    buys = fills(result, "buy")
    assert sorted(buys["symbol"]) == sorted(bought) and set(buys["date"]) <= {ranking_days[1]}
    assert fills(result, "sell").empty
    if bought:
        assert result.equity["cash"].iloc[-1] < 0.1 * result.equity["value"].iloc[-1]  # invested


@pytest.mark.parametrize(("name", "value"), [("exit_threshold", 0.0), ("entry_threshold", 0.002)])
def test_an_explicit_threshold_beside_scores_is_refused(ranking_bars, ranking_days, name, value):
    frames = _tagged(ranking_bars, _slipping(ranking_days), POOLED)
    with pytest.raises(ConfigError, match=rf"^{name}={value} is in return units, but the forecasts are a pooled "
                                          rf"model's scores \(ranks, not returns\): leave {name} out"):
        run_universe_backtest(list(ranking_bars.values()), frames, TopK, params={**PARAMS, name: value}, cash=CASH)
    # the same value beside returns is taken
    frames = _tagged(ranking_bars, _slipping(ranking_days), PER_STOCK)
    assert len(run_universe_backtest(list(ranking_bars.values()), frames, TopK, params={**PARAMS, name: value},
                                     cash=CASH).trades) >= 3


def test_the_scores_tag_survives_the_forecast_files_and_the_signal_path(ranking_bars, ranking_days, tmp_path):
    """Read back from forecast files (the tag lives in the meta file), a signal on days[25] holding A, B, C
    (C scored -0.7, 5th): as scores nothing is traded; as returns C is sold and D bought."""
    day = ranking_days[25]
    history = [frame.loc[:day] for frame in ranking_bars.values()]
    positions = {A: 3000, B: 3000, C: 3000}
    for attrs, orders in ((POOLED, []), (PER_STOCK, [(C, "sell"), (D, "buy")])):
        folder = tmp_path / ("pooled" if attrs is POOLED else "per_stock")
        read = {}
        for symbol, frame in _tagged(ranking_bars, _slipping(ranking_days), attrs).items():
            read[symbol] = read_forecasts(write_forecasts(frame, folder / f"{symbol}.csv"))
        assert all(holds_scores(frame) is (attrs is POOLED) for frame in read.values())
        made = decide(history, read, TopK, positions=positions, cash=CASH, params=PARAMS)
        assert [(order["symbol"], order["side"]) for order in made] == orders


def _score_folder(bars, days, folder: Path) -> Path:
    """A universe forecast folder of hand-made pooled scores, as `rnnstrategy forecast --pooled` writes one."""
    for symbol, frame in _tagged(bars, _slipping(days), POOLED).items():
        write_forecasts(frame, folder / "forecasts" / f"{symbol}.csv")
    sources = [f"{SAMPLE}::{symbol[-2:].lower()}{symbol[:6]}" for symbol in EIGHT]
    pd.DataFrame({"symbol": list(EIGHT), "source": sources, "status": "ok"}).to_csv(folder / "summary.csv",
                                                                                   index=False)
    return folder


def _cli(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rnnstrategy.cli", *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=300, check=False)


def _refusal(name: str, value: float) -> str:
    return (f"rnnstrategy: error: {name}={value} is in return units, but the forecasts are a pooled model's scores "
            f"(ranks, not returns): leave {name} out (top_k then ranks them: --k, --exit-rank), or trade the scores "
            "with rank_band or topk_dropout")


def test_the_command_line_refuses_a_threshold_beside_scores_in_one_line(ranking_bars, ranking_days, tmp_path):
    """Before any training with ``--pooled``; with ``--forecasts`` of pooled scores, when the strategy starts."""
    pooled = _cli("backtest", "--example", "--universe", "csi300", "--pooled", "--strategy", "top_k",
                  "--exit-threshold", "0", "--out", str(tmp_path / "run"), cwd=tmp_path)
    assert (pooled.returncode, pooled.stderr.splitlines()) == (2, [_refusal("exit_threshold", 0.0)])
    assert not (tmp_path / "run").exists()  # refused before any work
    folder = _score_folder(ranking_bars, ranking_days, tmp_path / "scores")
    reused = _cli("backtest", "--example", "--universe", "csi300", "--forecasts", str(folder), "--strategy", "top_k",
                  "--entry-threshold", "0.001", "--out", str(tmp_path / "reused"), cwd=tmp_path)
    assert (reused.returncode, reused.stderr.splitlines()) == (2, [_refusal("entry_threshold", 0.001)])
