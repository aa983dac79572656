"""Ready strategies built on :class:`rnnstrategy.backtrader.strategy.ForecastStrategy`.

Each module holds one strategy class (the single name in its ``__all__``) and is a small
file to copy and edit:

- :mod:`strategies.forecast_long`: long when the predicted next-day return beats the costs.
- :mod:`strategies.overnight_gap`: buy at the close, sell at the next open, when the
  predicted overnight gap beats the costs.
- :mod:`strategies.top_k`: the k highest expected returns of a universe, within a turnover limit.

For pooled forecasts, whose ``expected_return`` is a cross-sectional score (ranks, not returns; see
:mod:`rnnstrategy.backtrader.score_portfolio`):

- :mod:`strategies.topk_dropout`: hold the top ``topk``, replace at most ``n_drop`` a day, fully invested.
- :mod:`strategies.rank_band`: buy into the top ``k``, sell below ``exit_rank``, with an optional turnover cap.
"""
