"""Many independent recurrent models trained as one batched computation.

- :mod:`~rnnstrategy.batched.layers`: the recurrence of M models over L steps, with a
  hand-written backward pass (RNN, GRU, LSTM as in torch.nn).
- :mod:`~rnnstrategy.batched.net`: :class:`StackedNet`, M ``RecurrentNet`` stacked.
- :mod:`~rnnstrategy.batched.optim`: per-model gradient clipping and Adam.
- :mod:`~rnnstrategy.batched.training`: :func:`train_many`, the batched twin of
  :func:`rnnstrategy.training.train`.
- :mod:`~rnnstrategy.batched.fitting`: :func:`fit_many`, the batched twin of
  ``RNNForecaster.fit`` for many (bars, retrain row) pairs.

The one-model path in :mod:`rnnstrategy.training` stays the readable reference; the
tests hold this package to it.
"""

from rnnstrategy.batched.fitting import FitRequest, fit_many
from rnnstrategy.batched.net import NetSpec, StackedNet
from rnnstrategy.batched.training import TrainJob, train_many

__all__ = ["FitRequest", "NetSpec", "StackedNet", "TrainJob", "fit_many", "train_many"]
