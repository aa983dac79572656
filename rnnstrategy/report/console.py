"""A finished run's metrics as a few console lines (what ``rnnstrategy backtest`` prints).

Plain formatting of the dicts :func:`rnnstrategy.report.measures.run_metrics` returns: no I/O, no heavy
imports. :func:`backtest_summary` is for one stock, :func:`universe_backtest_summary` for a universe
traded together; each shows the strategy beside the benchmark and buy-and-hold (or the equal-weight
universe) with the test behind any claim.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rnnstrategy.report.years import year_lines

__all__ = [
    "backtest_summary",
    "benchmark_excess_lines",
    "buy_and_hold_lines",
    "excess_test",
    "p_value",
    "percent",
    "ratio",
    "sharpe_uncertainty",
    "universe_backtest_summary",
    "verdict_lines",
]


def percent(value: float | None) -> str:
    """``+12.3%``, or ``n/a`` for None."""
    return "n/a" if value is None else f"{value:+.1%}"


def ratio(value: float | None, digits: int = 2) -> str:
    """``1.23`` (``digits`` decimals), or ``n/a`` for None."""
    return "n/a" if value is None else f"{value:.{digits}f}"


def p_value(value: float | None) -> str:
    """``p = 0.042``, ``p < 0.001`` or ``p n/a``."""
    if value is None:
        return "p n/a"
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"


def sharpe_uncertainty(figures: Mapping[str, Any]) -> str:
    """`` [low, high] (PSR 0.97, DSR 0.81 of 6 trials)`` from a section of the metrics; empty without them."""
    if "sharpe_ci" not in figures:
        return ""
    low, high = figures["sharpe_ci"]
    deflated = (f", DSR {ratio(figures['deflated_sharpe'])} of {figures['trials']} trials"
                if "deflated_sharpe" in figures else "")
    return f" [{ratio(low)}, {ratio(high)}] (PSR {ratio(figures['probabilistic_sharpe'])}{deflated})"


def verdict_lines(forecast: Mapping[str, Any], indent: str, horizons: tuple[int, ...] = (1, 2)) -> list[str]:
    """The forecast verdicts against the previous close, one line per horizon (h = 1, the next open,
    and h = 2, the open the default strategy trades on), with the test behind each."""
    return [f"{indent}h={h} open RMSE {d['rmse']:.2f} vs previous close {d['baseline_prev_close_rmse']:.2f}: "
            f"the model {d['verdict']}" for h in horizons if "rmse" in (d := forecast.get(f"h{h}", {}))]


def excess_test(excess: Mapping[str, Any]) -> str:
    """``+5.6% a year (HAC t 1.34, p = 0.180; IR 0.45)`` from an ``excess_over_*`` section of the metrics."""
    ir = f"; IR {ratio(excess['information_ratio'])}" if "information_ratio" in excess else ""
    return (f"{percent(excess['annualised'])} a year (HAC t {ratio(excess['hac_t'])}, "
            f"{p_value(excess['p_value'])}{ir})")


def benchmark_excess_lines(m: Mapping[str, Any]) -> list[str]:
    """The strategy's excess return over the benchmark with its HAC t-test and information ratio: one console
    line; none when the benchmark is buy-and-hold itself (its line says it) or the metrics lack it."""
    excess = m.get("excess_over_benchmark")
    if not excess or excess.get("days") is None:
        return []
    held = m.get("buy_and_hold") or {}
    if {k: v for k, v in held.items() if k != "title"} == {k: v for k, v in m["benchmark"].items() if k != "title"}:
        return []
    return [f"  excess return over {m['benchmark']['title']} {excess_test(excess)}"]


def buy_and_hold_lines(m: Mapping[str, Any]) -> list[str]:
    """Buy-and-hold beside the strategy and the strategy's excess return over it, with its HAC
    t-test: one console line (only the test when the benchmark is buy-and-hold itself)."""
    held, excess = m.get("buy_and_hold"), m.get("excess_over_buy_and_hold")
    if not held or not excess:
        return []
    test = excess_test(excess)
    if {k: v for k, v in held.items() if k != "title"} == {k: v for k, v in m["benchmark"].items() if k != "title"}:
        return [f"  excess return over buy and hold (the benchmark) {test}"]
    title = held["title"][:1].lower() + held["title"][1:]
    return [f"  {title} {percent(held['total_return'])}, Sharpe {ratio(held['sharpe'])}, max drawdown "
            f"{percent(held['max_drawdown'])}; the strategy's excess return over it {test}"]


def backtest_summary(m: Mapping[str, Any]) -> list[str]:
    """One stock's run: returns, Sharpe ratios and drawdowns beside the benchmark, trading,
    buy-and-hold with the excess return's test, and the forecast verdicts (when ``m["forecast"]`` has them)."""
    s, b, t, period = m["strategy"], m["benchmark"], m["trades"], m["period"]
    lines = [
        f"{s['title']} {period['start']}..{period['end']} ({period['days']} days)",
        f"  total return {percent(s['total_return'])} vs {b['title']} {percent(b['total_return'])}; "
        f"CAGR {percent(s['cagr'])} vs {percent(b['cagr'])}; max drawdown {percent(s['max_drawdown'])} "
        f"vs {percent(b['max_drawdown'])}",
        (f"  Sharpe {ratio(s['sharpe'])}{sharpe_uncertainty(s)} vs {ratio(b['sharpe'])}; "
         f"{t['count']} fills, turnover {t['turnover']:.1f}x, fees {t['total_fees']:,.0f} CNY, "
         f"exposure {t['exposure']:.0%} (days ending with a position)"),
    ]
    return (lines + benchmark_excess_lines(m) + buy_and_hold_lines(m) + year_lines(m.get("by_year") or [])
            + verdict_lines(m.get("forecast") or {}, "  "))


def universe_backtest_summary(m: Mapping[str, Any]) -> list[str]:
    """A universe traded together: the strategy, the benchmark and the equal-weight universe side by side,
    trading and fees, and whether the strategy beats the equal-weight universe after costs."""
    s, b, u, t, period = m["strategy"], m["benchmark"], m["buy_and_hold"], m["trades"], m["period"]
    lines = [f"{s['title']} {period['start']}..{period['end']} ({period['days']} days), "
             f"{t['count']} fills in {t['symbols_traded']} of {m['universe']['symbols']} stocks",
             f"  {'':13} {'strategy':>9} {'benchmark':>9} {'universe':>9}   (universe: {u['title']})"]
    for label, key, show in (("total return", "total_return", percent), ("CAGR", "cagr", percent),
                             ("Sharpe", "sharpe", ratio), ("max drawdown", "max_drawdown", percent)):
        lines.append(f"  {label:13} {show(s[key]):>9} {show(b[key]):>9} {show(u[key]):>9}")
    lines.append(f"  turnover {t['turnover']:.1f}x ({t['annual_turnover']:.1f}x a year), fees "
                 f"{t['total_fees']:,.0f} CNY (commission {t['commission']:,.0f}, transfer fee "
                 f"{t['transfer_fee']:,.0f}, stamp duty {t['stamp_duty']:,.0f}), invested {t['invested']:.0%}")
    excess = m["excess_over_buy_and_hold"]
    baseline = "members basket" if m["universe"].get("as_of") else "universe"  # an index's members as they stood
    lines += benchmark_excess_lines(m)
    lines.append(f"  excess return over the equal-weight {baseline} {excess_test(excess)}")
    return lines + [f"  {excess['verdict']}"] + year_lines(m.get("by_year") or [], "universe")
