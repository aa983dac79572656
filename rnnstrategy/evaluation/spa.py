"""Does the best of several strategies beat a benchmark, or was it only the luckiest one tried?

:func:`spa_test` runs Hansen's (2005) test of superior predictive ability (arch's
:class:`~arch.bootstrap.SPA`) on daily losses = - daily returns: the null hypothesis is that no
strategy has a higher expected daily return than the benchmark. Its p-value accounts for how many
strategies were compared, which the strategy's own excess-return t-test does not.

arch is imported inside the function (and nowhere outside ``rnnstrategy.evaluation``), so
importing this module costs nothing.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["SPA_DESCRIPTION", "spa_test"]

_PVALUES = ("pvalue_lower", "pvalue_consistent", "pvalue_upper")

SPA_DESCRIPTION = (
    "Hansen's test of superior predictive ability (arch.bootstrap.SPA): losses are minus the daily returns; "
    "null hypothesis: no strategy has a higher expected daily return than the benchmark; studentized, "
    "stationary bootstrap; 'consistent' is Hansen's recommended p-value, 'lower' and 'upper' bound it "
    "('upper' is White's Reality Check)"
)
"""How :func:`spa_test` tests, in the words ``compare.json`` records."""


def spa_test(benchmark_returns: np.ndarray, strategy_returns: np.ndarray, *, block_size: int | None = None,
             reps: int = 1000, seed: int = 0) -> dict[str, object]:
    """Hansen's SPA test that no strategy beats the benchmark's mean daily return.

    Args:
        benchmark_returns: the benchmark's daily returns, shape ``(days,)``.
        strategy_returns: the strategies' daily returns on the same days, shape ``(days, strategies)``
            (or ``(days,)`` for one strategy).
        block_size: mean block length (days) of the stationary bootstrap; None:
            ``floor(sqrt(days))``, arch's default, recorded in the result.
        reps: bootstrap replications.
        seed: seed of the resampling: the same seed gives the same p-values.

    Returns:
        ``pvalue_lower``, ``pvalue_consistent``, ``pvalue_upper``, ``days``, ``strategies``,
        ``block_size``, ``reps``, ``seed``, ``bootstrap``. A strategy whose return differs from
        the benchmark's by the same amount every day (buy-and-hold itself) has no variance to
        studentize by: it is left out when that amount is not positive and makes every p-value 0
        when it is. Every p-value is 1 when no strategy's mean return exceeds the benchmark's.

    Raises:
        ValueError: for arrays whose shapes do not match, non-finite returns or fewer than 2 days.
    """
    from arch.bootstrap import SPA

    bench = np.asarray(benchmark_returns, dtype=float)
    models = np.asarray(strategy_returns, dtype=float)
    if models.ndim == 1:
        models = models[:, None]
    if bench.ndim != 1 or models.ndim != 2 or len(bench) != len(models):
        raise ValueError(f"need benchmark returns of shape (days,) and strategy returns of shape (days, strategies); "
                         f"got {bench.shape} and {models.shape}")
    if not (np.isfinite(bench).all() and np.isfinite(models).all()):
        raise ValueError("returns must be finite; drop the days where a series has none")
    days = len(bench)
    if days < 2:
        raise ValueError(f"the SPA test needs at least 2 days of returns, got {days}")
    block_size = max(1, int(math.sqrt(days))) if block_size is None else block_size
    if not 1 <= block_size <= days:
        raise ValueError(f"block_size={block_size} must be in 1..{days} for {days} days")
    result: dict[str, object] = {"days": days, "strategies": int(models.shape[1]), "block_size": block_size,
                                 "reps": reps, "seed": seed, "bootstrap": "stationary"}
    excess = models - bench[:, None]
    constant = ~np.any(excess - excess[:1], axis=0)  # no variance to studentize by (e.g. buy-and-hold itself)
    if constant.any():
        if np.any(excess[0, constant] > 0):  # beats the benchmark by the same amount every day
            return {**dict.fromkeys(_PVALUES, 0.0), **result}
        models = models[:, ~constant]  # never better than the benchmark: cannot be the one that beats it
    if not models.shape[1] or not np.any(excess.mean(axis=0) > 0):
        # Hansen's statistic is max(0, max_k t_k): 0 when no strategy's mean return exceeds the
        # benchmark's, and a bootstrapped one is never below it (arch leaves the max unfloored)
        return {**dict.fromkeys(_PVALUES, 1.0), **result}
    spa = SPA(-bench, -models, block_size=block_size, reps=reps, bootstrap="stationary", seed=seed)
    spa.compute()
    pvalues = {name: float(spa.pvalues[name.removeprefix("pvalue_")]) for name in _PVALUES}
    return {**pvalues, **result}
