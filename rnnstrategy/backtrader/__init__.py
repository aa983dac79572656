"""The Backtrader stage, and the only place Backtrader is imported: the feed, the
``RNNForecast`` indicator, the strategy base and registry, the A-share broker, commission and sizer,
the analyzers and running a Cerebro.

For users who wire Backtrader themselves::

    from rnnstrategy.backtrader import RNNForecast, to_feed, use_ashare_rules, add_result_analyzers
"""

from rnnstrategy._lazy import lazy_exports

_EXPORTS = {
    "AShareBroker": "rnnstrategy.backtrader.broker",
    "AShareCommission": "rnnstrategy.backtrader.commission",
    "BacktestResult": "rnnstrategy.backtrader.results",
    "BuyAndHold": "rnnstrategy.backtrader.buy_and_hold",
    "ForecastStrategy": "rnnstrategy.backtrader.strategy",
    "LotSizer": "rnnstrategy.backtrader.sizer",
    "RNNForecast": "rnnstrategy.backtrader.indicator",
    "add_result_analyzers": "rnnstrategy.backtrader.results",
    "collect_results": "rnnstrategy.backtrader.results",
    "load_strategy": "rnnstrategy.backtrader.registry",
    "run_backtest": "rnnstrategy.backtrader.results",
    "run_universe_backtest": "rnnstrategy.backtrader.results",
    "run_buy_and_hold": "rnnstrategy.backtrader.buy_and_hold",
    "to_feed": "rnnstrategy.backtrader.feed",
    "use_ashare_rules": "rnnstrategy.backtrader.rules",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
