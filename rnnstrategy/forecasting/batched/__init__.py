"""Many independent recurrent models trained as one batched computation.

- :mod:`~rnnstrategy.forecasting.batched.layers`: the recurrence of M models over L steps, with a
  hand-written backward pass (RNN, GRU, LSTM as in torch.nn).
- :mod:`~rnnstrategy.forecasting.batched.net`: :class:`StackedNet`, M ``RecurrentNet`` stacked.
- :mod:`~rnnstrategy.forecasting.batched.optim`: per-model gradient clipping and Adam.
- :mod:`~rnnstrategy.forecasting.batched.training`: :func:`train_many`, the batched twin of
  :func:`rnnstrategy.forecasting.training.train`.
- :mod:`~rnnstrategy.forecasting.batched.fitting`: :func:`fit_many`, the batched twin of
  ``RNNForecaster.fit`` for many (bars, retrain row) pairs.

The one-model path in :mod:`rnnstrategy.forecasting.training` stays the readable reference; the
tests hold this package to it.
"""

from rnnstrategy.forecasting.batched.fitting import FitRequest, fit_many
from rnnstrategy.forecasting.batched.net import NetSpec, StackedNet
from rnnstrategy.forecasting.batched.training import TrainJob, train_many

__all__ = ["FitRequest", "NetSpec", "StackedNet", "TrainJob", "fit_many", "train_many"]
