"""The score strategies' cost gate (``cost_gate``): the calibration of scores by daily rank decile on a hand-made
sequence, its timing (nothing after the decision date: identical calibration and decisions up to D when the bars
after D are removed or replaced with garbage), the gate's verdict against the round-trip cost, and runs of
topk_dropout and rank_band on hand-made rankings (tests/rankings.py) that trade less with the gate, and one run
from the command line with a tiny pooled forecaster."""

from __future__ import annotations

import json
import logging
import re

import numpy as np
import pandas as pd
import pytest
from helpers import tiny_args
from rankings import SYMBOLS, fills, noisy_scores, run, sample_bars
from rnnstrategy.strategies.rank_band import RankBand
from rnnstrategy.strategies.topk_dropout import TopkDropout

from rnnstrategy.backtrader.score_calibration import CostGate, ScoreCalibration, bucket
from rnnstrategy.cli import main
from rnnstrategy.errors import ConfigError
from rnnstrategy.forecasting.pooled.config import PooledConfig

GROWTH = {"a": 0.10, "b": 0.0, "c": 0.0, "d": -0.10}
"""Each stock's price grows by this much a session: over two sessions a +21 %, b and c 0, d -19 %."""

GATE = {"cost_gate": True, "cost_gate_window": 30, "cost_gate_min_days": 10}


def _prices(session: int) -> dict[str, float]:
    return {name: 10.0 * (1 + growth) ** session for name, growth in GROWTH.items()}


def _hand_made() -> tuple[ScoreCalibration, list[np.ndarray], list[int]]:
    """Two halves of four stocks over two-session returns, two days in the window, rankings a b c d, b a d c,
    d c b a, d c b a, then a b c d: what the calibration says after each close 1..7."""
    calibration = ScoreCalibration(horizon=2, window=2, lag=1, buckets=2)
    rankings = ["abcd", "badc", "dcba", "dcba", "abcd", "abcd", "abcd"]
    expected, days = [], []
    for session, ranking in enumerate(rankings, start=1):
        calibration.record(session, list(ranking), _prices(session))
        expected.append(calibration.expected())
        days.append(calibration.days)
    return calibration, expected, days


def test_bucket_is_the_decile_of_the_daily_rank():
    assert [bucket(rank, 33) for rank in (1, 4, 5, 30, 33)] == [0, 0, 1, 8, 9]
    assert [bucket(rank, 4, buckets=2) for rank in (1, 2, 3, 4)] == [0, 0, 1, 1]


def test_calibration_on_a_hand_made_sequence():
    _, expected, days = _hand_made()
    # a decision at the close of s fills at the open of s + 1 and is judged at the open of s + 3, seen at that close
    assert days == [0, 0, 0, 1, 2, 2, 2]
    assert np.isnan(expected[2]).all()
    # excess over the day's mean (0.5 %): a +20.5 %, b and c -0.5 %, d -19.5 %; the top half a and b: +10 %
    np.testing.assert_allclose(expected[3], [0.10, -0.10])
    np.testing.assert_allclose(expected[4], [0.10, -0.10])  # b a | d c: the same halves
    np.testing.assert_allclose(expected[5], [0.0, 0.0], atol=1e-12)  # day 2 (+10 %) and day 3 (d c on top: -10 %)
    np.testing.assert_allclose(expected[6], [-0.10, 0.10])  # days 3 and 4; day 1 has left the window


def test_a_stock_without_a_price_is_left_out_of_its_day():
    calibration = ScoreCalibration(horizon=1, window=5, lag=0, buckets=2)
    calibration.record(1, list("abcd"), _prices(1))
    calibration.record(2, list("abcd"), {name: price for name, price in _prices(2).items() if name != "a"})
    # one session, at the closes: b and c 0, d -10 %; mean -3.33 %; top half (b alone) +3.33 %, bottom (c d) -1.67 %
    np.testing.assert_allclose(calibration.expected(), [0.1 / 3, -0.05 / 3])


def test_the_gate_passes_a_gain_above_the_cost_and_blocks_one_below():
    calibration, _, _ = _hand_made()  # after close 7: bottom half +10 %, top half -10 %
    assert calibration.gain(rank_out=1, rank_into=4, count=4) == pytest.approx(0.20)
    gate = CostGate(calibration, min_days=2)
    assert gate.decide(rank_out=1, rank_into=4, count=4, cost=0.15) == (True, pytest.approx(0.20))
    assert gate.decide(rank_out=1, rank_into=4, count=4, cost=0.25)[0] is False
    assert gate.decide(rank_out=4, rank_into=1, count=4, cost=0.001)[0] is False  # -20 %: a loss at any cost
    assert gate.decide(rank_out=1, rank_into=2, count=4, cost=0.0)[0] is False  # the same decile: no gain
    assert CostGate(calibration, margin=0.1, min_days=2).decide(1, 4, 4, cost=0.15)[0] is False
    assert (gate.counts.passed, gate.counts.blocked, gate.counts.uncalibrated) == (1, 3, 0)
    # before min_days are calibrated: as warmup says, whatever the gain
    for warmup, verdict in (("pass", True), ("block", False)):
        early = CostGate(calibration, min_days=3, warmup=warmup)
        passed, gain = early.decide(1, 4, 4, cost=0.15)
        assert passed is verdict and np.isnan(gain) and early.counts.uncalibrated == 1
    assert "passed 1 and blocked 3 of 4 swaps on the calibration; 0 decided before it" == gate.counts.summary()


def _random_sequence(sessions: int, stocks: int, seed: int) -> tuple[list[list[int]], list[dict[int, float]]]:
    rng = np.random.default_rng(seed)
    prices = 10 * np.exp(np.cumsum(rng.normal(0, 0.02, (sessions, stocks)), axis=0))
    rankings = [list(rng.permutation(stocks)) for _ in range(sessions)]
    return rankings, [dict(enumerate(row)) for row in prices]


def _replay(rankings, prices, cut: int | None = None) -> list[tuple[np.ndarray, list[tuple[bool, float]]]]:
    """What the calibration and a gate say after each close (up to ``cut``) on fixed pairs of ranks and costs."""
    calibration = ScoreCalibration(horizon=3, window=20, lag=1)
    gate = CostGate(calibration, min_days=5)
    said = []
    for session, (ranking, day) in enumerate(zip(rankings[:cut], prices[:cut], strict=True), start=1):
        calibration.record(session, ranking, day)
        said.append((calibration.expected(), [gate.decide(out, into, 40, cost) for out, into, cost
                                             in ((40, 1, 0.0), (30, 5, 0.01), (20, 19, 0.0), (35, 3, 0.002))]))
    return said


def test_calibration_and_decisions_up_to_d_ignore_every_later_bar():
    rankings, prices = _random_sequence(120, 40, seed=3)
    cut = 70  # D: the close of session 70
    full = _replay(rankings, prices)
    rng = np.random.default_rng(9)
    junk = [{name: value for name, value in zip(day, rng.choice([np.nan, 0.0, -5.0, 1e12, np.inf], size=len(day)),
                                                strict=True)} for day in prices[cut:]]
    garbled = _replay(rankings[:cut] + [list(rng.permutation(40)) for _ in junk], prices[:cut] + junk)
    truncated = _replay(rankings, prices, cut=cut)
    for said in (garbled[:cut], truncated):
        for (expected, decisions), (same_expected, same_decisions) in zip(full[:cut], said, strict=True):
            np.testing.assert_array_equal(expected, same_expected)
            assert [(passed, repr(gain)) for passed, gain in decisions] == \
                   [(passed, repr(gain)) for passed, gain in same_decisions]
    assert np.isfinite(full[cut - 1][0]).all() and not np.array_equal(full[-1][0], garbled[-1][0])  # it has teeth


def _gate_log(caplog: pytest.LogCaptureFixture) -> list[tuple[pd.Timestamp, str]]:
    found = (re.match(r"cost gate (\d{4}-\d\d-\d\d): (.*)", record.getMessage()) for record in caplog.records)
    return [(pd.Timestamp(match.group(1)), match.group(2)) for match in found if match]


def _spoiled_after(bars: dict[str, pd.DataFrame], cut: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """Valid bars that are wrong after ``cut``: each later row's prices times a random factor in [0.95, 1.05]."""
    rng = np.random.default_rng(5)
    spoiled = {}
    for symbol, frame in bars.items():
        frame = frame.copy()
        later = frame.index > cut
        factor = np.exp(rng.uniform(np.log(0.95), np.log(1.05), later.sum()))
        frame.loc[later, ["open", "high", "low", "close"]] = frame.loc[later, ["open", "high", "low", "close"]].mul(
            factor, axis=0)
        spoiled[symbol] = frame
    return spoiled


def test_the_gate_decides_the_same_up_to_d_in_a_run_whose_later_bars_are_gone_or_garbage(caplog):
    bars = sample_bars()
    days = bars[SYMBOLS[0]].index
    cut = days[55]
    scores = noisy_scores(days, SYMBOLS)
    garbage_scores = pd.concat([scores.loc[:cut], noisy_scores(days, SYMBOLS, seed=7).loc[days > cut]])
    caplog.set_level(logging.DEBUG, logger="rnnstrategy.backtrader.score_portfolio")
    logs = []
    for run_bars, run_scores in ((bars, scores), (_spoiled_after(bars, cut), garbage_scores),
                                 ({symbol: frame.loc[:cut] for symbol, frame in bars.items()}, scores.loc[:cut])):
        caplog.clear()
        run(run_bars, run_scores, TopkDropout, topk=4, n_drop=2, min_hold=1, **GATE)
        logs.append(_gate_log(caplog))
    full, garbled, truncated = ([line for date, line in log if date <= cut] for log in logs)
    assert full == garbled == truncated
    calibrated = [line for line in full if "gain nan" not in line]
    assert any(line.endswith(": block") for line in calibrated) and any(line.endswith(": pass") for line in calibrated)
    assert [line for date, line in logs[0] if date > cut] != [line for date, line in logs[1] if date > cut]


@pytest.mark.parametrize(("strategy", "params"), [(TopkDropout, {"topk": 4, "n_drop": 2, "min_hold": 1}),
                                                  (RankBand, {"k": 3, "exit_rank": 4, "cost_gate_horizon": 2})])
def test_a_run_with_the_gate_trades_less(strategy, params, caplog):
    bars = sample_bars()
    scores = noisy_scores(bars[SYMBOLS[0]].index, SYMBOLS)
    caplog.set_level(logging.WARNING, logger="rnnstrategy.backtrader.score_portfolio")
    ungated = run(bars, scores, strategy, **params)  # the gate's settings without cost_gate do nothing
    assert not caplog.records  # without the gate: no summary
    gated = run(bars, scores, strategy, **params, **GATE)
    assert len(fills(gated, "sell")) < len(fills(ungated, "sell"))
    summary = [record.getMessage() for record in caplog.records]
    assert len(summary) == 1 and summary[0].startswith(f"{strategy.__name__} cost gate (")
    blocked = int(re.search(r"and blocked (\d+) of", summary[0]).group(1))
    assert blocked > 0


def test_the_expected_holding_is_the_default_horizon():
    assert TopkDropout.parameters()["cost_gate"].default is False
    for topk, n_drop, min_hold, horizon in ((30, 3, 5, 10), (4, 2, 1, 2), (4, 2, 5, 5), (10, 3, 1, 4), (5, 0, 2, 2)):
        strategy = TopkDropout.__new__(TopkDropout)  # holding_sessions reads the params only
        strategy.p = type("P", (), {"topk": topk, "n_drop": n_drop, "min_hold": min_hold})
        assert strategy.holding_sessions() == horizon


@pytest.mark.parametrize(("params", "message"), [
    ({"cost_gate_warmup": "maybe"}, r"^cost_gate_warmup='maybe': give pass or block$"),
    ({"cost_gate_min_days": 300}, r"^cost_gate_min_days=300, cost_gate_window=250: give a window of at least "),
    ({"cost_gate_horizon": 0}, r"^cost_gate_horizon=0: give the sessions a swap is judged over, at least 1"),
    ({"cost_gate_margin": -0.01}, r"^cost_gate_margin=-0.01: give a margin of 0 or more$"),
    ({"cost_gate": "yes"}, r"^RankBand: cost_gate='yes' is not true or false; give e.g. cost_gate=False$"),
])
def test_bad_gate_parameters_are_refused_in_one_line(params, message):
    with pytest.raises(ConfigError, match=message):
        RankBand.check_params(params)


def test_from_the_command_line_on_the_bundled_sample(tmp_path, capsys, caplog):
    caplog.set_level(logging.WARNING, logger="rnnstrategy.backtrader.score_portfolio")
    out = tmp_path / "run"
    pooled = PooledConfig(hidden=(4,), lookback=5, epochs=1, patience=0, batch_size=1024, retrain_every_days=100,
                          train_days=250, device="cpu")
    code = main(["backtest", "--example", "--universe", "csi300", "--strategy", "topk_dropout", "--topk", "5",
                 "--n-drop", "2", "--min-hold", "1", "--cost-gate", "true", "--cost-gate-window", "20",
                 "--cost-gate-min-days", "5", "--start", "2023-11-01", "--end", "2023-12-29", "--out", str(out),
                 "--no-store", *tiny_args(pooled)])
    assert code == 0, capsys.readouterr().out
    params = json.loads((out / "manifest.json").read_text())["config"]["backtest"]["params"]
    assert params == {"topk": 5, "n_drop": 2, "min_hold": 1, "cost_gate": True, "cost_gate_window": 20,
                      "cost_gate_min_days": 5}
    summary = [record.getMessage() for record in caplog.records if "cost gate" in record.getMessage()]
    assert len(summary) == 1 and summary[0].startswith("TopkDropout cost gate (3-session returns, ")
