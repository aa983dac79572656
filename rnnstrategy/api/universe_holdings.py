"""What a universe backtest held, for its report: positions over time, the industry mix and their metrics
(:mod:`rnnstrategy.report.holdings`), and the industries the strategy's caps use.

Industries come from the strategy's ``industries`` mapping when it has one set, else from the run's stock list
(``--names``, or one found beside the data); without either every stock is ``unknown``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from rnnstrategy.data.industries import run_industries

if TYPE_CHECKING:
    from rnnstrategy.backtrader.results import BacktestResult

__all__ = ["industry_params", "run_holdings"]

CAPS = ("max_weight", "max_industry")


def industry_params(strategy: type, params: Mapping[str, Any], stock_list: str | Path | None) -> dict[str, Any]:
    """``params`` for the Cerebro: with the run's ``stock_list`` as ``industries`` where the strategy caps
    industries (``max_industry``) and no mapping is given; else as they are."""
    params = dict(params)
    takes = getattr(strategy, "parameters", None)
    if (takes is not None and "industries" in takes() and params.get("max_industry") is not None
            and not params.get("industries") and stock_list is not None and Path(stock_list).is_file()):
        params["industries"] = str(stock_list)
    return params


def run_holdings(result: BacktestResult, frames: list[pd.DataFrame], forecasts: Mapping[str, pd.DataFrame],
                 params: Mapping[str, Any], stock_list: str | Path | None,
                 ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """``positions.csv``, ``industries.csv`` and ``metrics.json["holdings"]`` of a universe run: each stock is
    valued at its closes over its feed's dates (first to last forecast), as the broker values it."""
    from rnnstrategy.report.holdings import holdings_metrics, industry_mix, positions

    closes = {}
    for frame in frames:
        symbol = str(frame.attrs["symbol"])
        dates = forecasts[symbol].index
        closes[symbol] = frame["close"].loc[dates[0]:dates[-1]]
    equity = result.equity
    held = positions(result.trades, closes, equity["value"], result.corporate_actions)
    industries, source = run_industries(params.get("industries"), stock_list)
    mix = industry_mix(held, industries, equity.index)
    caps = {name: params.get(name) for name in CAPS}
    return held, mix, holdings_metrics(held, mix, equity["value"], equity["cash"], source, caps)
