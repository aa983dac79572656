"""Ready strategies built on :class:`rnnstrategy.backtrader.strategy.ForecastStrategy`.

Each module holds one strategy class (the single name in its ``__all__``) and is a small
file to copy and edit:

- :mod:`strategies.forecast_long`: long when the predicted next-day return beats the costs.
- :mod:`strategies.overnight_gap`: buy at the close, sell at the next open, when the
  predicted overnight gap beats the costs.
"""
