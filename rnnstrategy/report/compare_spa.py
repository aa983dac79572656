"""The SPA verdicts of a comparison (:func:`rnnstrategy.report.compare.compare_runs`): does the best of the runs
beat a baseline once it is accounted for how many strategies were compared, and tried?

A comparison is judged against buy-and-hold of the first run (of a universe run: the equal-weight basket, of the
day's index members for a universe as it stood) and, when its benchmark is another series (an index), against
the benchmark too. Nothing here imports quantstats, PyTorch or Backtrader.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from rnnstrategy.evaluation.significance import ALPHA, format_pvalue
from rnnstrategy.evaluation.spa import SPA_DESCRIPTION, spa_test

__all__ = ["spa_against_benchmark", "spa_verdict"]


def spa_verdict(returns: pd.DataFrame, baseline: pd.Series, *, title: str, against: str,
                trials: int) -> dict[str, Any]:
    """Hansen's SPA test of the runs' daily returns (one column per run) against ``baseline`` on the same days.

    Args:
        returns: the runs' daily returns, one column per run name, on days with every return known.
        baseline: the baseline's daily returns on the same days.
        title: the baseline's title (``"CSI 300"``).
        against: what the baseline is, in the sentence (``"buy-and-hold"``, ``"the benchmark"``).
        trials: strategies tried (at least the runs compared); more than compared adds a Bonferroni bound over
            all of them, from the best run's p-value alone.

    Returns:
        The test's p-values and settings, the best run by mean daily return, each run's p-value alone, the
        p-value the decision uses (``pvalue``), whether the best beats the baseline and a sentence that says so.
    """
    names = [str(name) for name in returns.columns]
    held = baseline.to_numpy()
    test = spa_test(held, returns.to_numpy())
    means = returns.mean()
    best = str(means.idxmax())
    alone = {name: spa_test(held, returns[name].to_numpy())["pvalue_consistent"] for name in names}
    pvalue = test["pvalue_consistent"]
    bonferroni = None
    if trials > len(names):
        bonferroni = min(1.0, trials * min(alone.values()))
        pvalue = max(pvalue, bonferroni)
    beats = not math.isnan(pvalue) and pvalue < ALPHA
    counted = (f"{trials} strategies compared" if trials == len(names)
               else f"{trials} strategies tried ({len(names)} compared here)")
    tested = (f"SPA p = {format_pvalue(test['pvalue_consistent'])}" if bonferroni is None else
              f"SPA p = {format_pvalue(test['pvalue_consistent'])} over the {len(names)}, "
              f"Bonferroni p = {format_pvalue(bonferroni)} over the {trials}")
    sentence = (f"the best strategy ({best}) {'does' if beats else 'does not'} beat {against} ({title}) "
                f"after accounting for {counted}: {tested}")
    if means[best] <= baseline.mean():
        sentence += f" (no strategy's mean daily return exceeds {against}'s)"
    return {
        "description": SPA_DESCRIPTION,
        "benchmark": title,
        "best": best,
        "mean_daily_return": {name: float(means[name]) for name in names},
        "benchmark_mean_daily_return": float(baseline.mean()),
        **test,
        "pvalue_alone": alone,
        "trials": trials,
        "compared": len(names),
        "bonferroni_pvalue": bonferroni,
        "pvalue": pvalue,
        "alpha": ALPHA,
        "beats": beats,
        "sentence": sentence,
    }


def spa_against_benchmark(returns: dict[str, pd.Series], benchmark: pd.Series, *, title: str,
                          trials: int) -> dict[str, Any] | None:
    """:func:`spa_verdict` of the runs' daily returns (run name -> series) against the benchmark's, on the days
    all of them have a return; None when fewer than 2 such days exist."""
    frame = pd.concat([*(series.rename(name) for name, series in returns.items()), benchmark.rename(None)],
                      axis=1, join="inner").dropna()
    if len(frame) < 2:
        return None
    runs = frame.iloc[:, :len(returns)]
    return spa_verdict(runs, frame.iloc[:, len(returns)], title=title, against="the benchmark", trials=trials)
