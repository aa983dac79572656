"""``RNNForecaster``: a scikit-learn-style estimator that forecasts the next H opens.

``fit(bars, until=τ)`` trains on the samples whose targets are all observed by row τ
(scalers fitted on that training window alone); ``predict(bars, rows)`` forecasts, at the
close of each row t, the opens of rows t+1 … t+H from bars <= t. Both slice the bars
before computing anything, so rows after τ (fit) or after the last requested row
(predict) are never read.

The course-notes protocol (SimpleRNN on 60 scaled opens) is::

    RNNForecaster(cell="rnn", hidden=(80, 100), dropout=0.2, lookback=60, horizon=1,
                  features=("open",), target="level", epochs=50, patience=0)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.utils.validation import check_is_fitted

from rnnstrategy.errors import ConfigError, DataError
from rnnstrategy.forecasting.config import ForecastConfig
from rnnstrategy.forecasting.features import (
    TARGETS,
    checked_feature_names,
    feature_warmup,
    make_features,
    make_targets,
    predicted_opens,
    sliding_windows,
)
from rnnstrategy.forecasting.nets import RecurrentNet
from rnnstrategy.forecasting.splitter import (
    RowLike,
    first_sample_end,
    row_position,
    train_sample_ends,
)
from rnnstrategy.forecasting.training import TrainConfig, seeded, torch_threads, train

__all__ = ["RNNForecaster", "resolve_device"]

log = logging.getLogger(__name__)

_DEFAULTS = ForecastConfig()  # the single definition of every parameter and its default

Scaler = StandardScaler | MinMaxScaler
FEATURE_SCALERS: dict[str, type[StandardScaler] | type[MinMaxScaler]] = {"standard": StandardScaler, "minmax": MinMaxScaler}
"""Feature scalers by name, fitted on each training window."""


@dataclass(frozen=True)
class PreparedFit:
    """A forecaster's network, scaled samples and training settings, ready for training."""

    module: RecurrentNet
    x: torch.Tensor
    y: torch.Tensor
    config: TrainConfig
    purge: int
    ends: np.ndarray
    past: pd.DataFrame


class RNNForecaster(BaseEstimator):
    """Recurrent forecaster of the next ``horizon`` opens from daily bars.

    ``__init__`` only stores its arguments; ``fit`` validates them, seeds, builds the
    network (sized from the features) and picks the device. Defaults target daily A-share
    bars on a CPU: a one-layer GRU of 32 units (fewer weights than an LSTM, trains more
    stably than a plain RNN, and ~2,000 noisy samples per fold support little more),
    40 bars (two trading months) of five scale-free features, horizon 2 because the
    default strategy trades on ô(t+2) / ô(t+1), log-return targets standardised on the
    training window, Adam at 1e-3 with batches of 64 for up to 30 epochs, early stopping
    after 5 stale epochs on the latest 20 % of samples. Nothing is dropped out by default:
    the net is small and early stopping already regularises it.

    Args:
        cell: ``"gru"``, ``"lstm"`` or ``"rnn"`` (Elman/SimpleRNN).
        hidden: units per recurrent layer, e.g. ``(32,)`` or ``(80, 100)``.
        dropout: drop probability after each recurrent layer.
        lookback: bars per input window.
        horizon: opens forecast, H >= 1; ``pred_open_h`` is the open of row t+h.
        features: feature names, see :data:`rnnstrategy.forecasting.features.FEATURES`.
        target: ``"logret"`` (log(open(t+h) / close(t)), standardised) or ``"level"``
            (open prices MinMax-scaled, course-notes protocol).
        train_window: train on only the most recent N samples (1000, about four years of
            daily bars); ``None`` uses all (an expanding window in walk-forward).
        epochs, batch_size, lr, loss, grad_clip, patience, val_fraction, seed: see
            :class:`rnnstrategy.forecasting.training.TrainConfig`.
        device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``, ...
        feature_scaling: ``"standard"`` (zero mean, unit variance) or ``"minmax"`` (to
            [0, 1] on the training window, the course-notes protocol).

    Fitted attributes: ``module_`` (the :class:`~rnnstrategy.forecasting.nets.RecurrentNet`),
    ``feature_scaler_`` (per ``feature_scaling``), ``target_scaler_`` (StandardScaler for
    ``logret``, MinMaxScaler for ``level``), ``history_`` (per-epoch ``train_loss`` and
    ``val_loss``, indexed by ``epoch``), ``train_ends_`` (row positions of the training
    samples' last bars), ``n_features_in_``, ``device_``.
    """

    def __init__(
        self,
        *,
        cell: str = _DEFAULTS.cell,
        hidden: Sequence[int] = _DEFAULTS.hidden,
        dropout: float = _DEFAULTS.dropout,
        lookback: int = _DEFAULTS.lookback,
        horizon: int = _DEFAULTS.horizon,
        features: Sequence[str] = _DEFAULTS.features,
        target: str = _DEFAULTS.target,
        train_window: int | None = _DEFAULTS.train_window,
        epochs: int = _DEFAULTS.epochs,
        batch_size: int = _DEFAULTS.batch_size,
        lr: float = _DEFAULTS.lr,
        loss: str = _DEFAULTS.loss,
        grad_clip: float | None = _DEFAULTS.grad_clip,
        patience: int = _DEFAULTS.patience,
        val_fraction: float = _DEFAULTS.val_fraction,
        seed: int = _DEFAULTS.seed,
        device: str = _DEFAULTS.device,
        feature_scaling: str = _DEFAULTS.feature_scaling,
    ) -> None:
        self.cell = cell
        self.hidden = hidden
        self.dropout = dropout
        self.lookback = lookback
        self.horizon = horizon
        self.features = features
        self.target = target
        self.train_window = train_window
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.loss = loss
        self.grad_clip = grad_clip
        self.patience = patience
        self.val_fraction = val_fraction
        self.seed = seed
        self.device = device
        self.feature_scaling = feature_scaling

    @property
    def warmup(self) -> int:
        """Bars the features need before their first value (for the walk-forward splitter)."""
        return feature_warmup(self._feature_names())

    def fit(
        self,
        bars: pd.DataFrame,
        until: RowLike | None = None,
        init_from: RNNForecaster | Mapping[str, torch.Tensor] | None = None,
        epochs: int | None = None,
    ) -> RNNForecaster:
        """Train on the samples whose targets are all observed by row ``until``.

        Args:
            bars: canonical bar frame; rows after ``until`` are ignored.
            until: the retrain row τ, a position or a date (the last bar on or before it);
                default the last row. Samples ending at s qualify when ``s + horizon <= τ``
                and their window has features; ``train_window`` keeps the latest N.
            init_from: a fitted forecaster, or its :meth:`get_state`, whose weights start
                the training (warm start from the previous fold); the scalers are still
                fitted on this training window.
            epochs: overrides the ``epochs`` parameter for this fit (e.g. fewer for
                warm-started folds).

        Returns:
            self
        """
        prepared = self._prepare_fit(bars, until, init_from, epochs)
        history = train(prepared.module, prepared.x, prepared.y, prepared.config, purge=prepared.purge,
                        device=self.device_)
        return self._finish_fit(prepared, history)

    def _prepare_fit(
        self,
        bars: pd.DataFrame,
        until: RowLike | None,
        init_from: RNNForecaster | Mapping[str, torch.Tensor] | None,
        epochs: int | None,
    ) -> PreparedFit:
        """Everything :meth:`fit` does before training: samples, scalers, the seeded network.

        Shared with :func:`rnnstrategy.forecasting.batched.fitting.fit_many`, which trains many at once.
        """
        config = self._validated_config(epochs)
        _check_bars(bars)
        tau = len(bars) - 1 if until is None else row_position(until, bars.index, name="until", side="at_or_before")
        ends = train_sample_ends(tau, self.lookback, self.horizon, self.warmup, self.train_window)
        if len(ends) == 0:
            need = first_sample_end(self.lookback, self.warmup) + self.horizon + 1
            raise DataError(
                f"lookback={self.lookback} and horizon={self.horizon} need at least {need} bars "
                f"to train ({self.warmup} warm-up bar for features {list(self.features)}), got "
                f"{tau + 1} up to until for {_describe(bars.iloc[: tau + 1])}; "
                "use more history or a shorter lookback"
            )
        self.device_ = _resolve_device(self.device)
        with seeded(self.seed, self.device_):  # the initial weights depend on the seed only
            module = self._build_module().to(self.device_)
        if init_from is not None:
            self._load_weights(module, _module_weights(init_from), "init_from")

        past = bars.iloc[: tau + 1]  # never read beyond the retrain row
        first_row = int(ends[0]) - self.lookback + 1
        feats = self._feature_matrix(past.iloc[: ends[-1] + 1], first_row)  # rows of the training windows
        targets = make_targets(past, self.horizon, self.target)[ends]
        _check_finite(targets, past.index[ends], "target", past)
        self.feature_scaler_ = FEATURE_SCALERS[self.feature_scaling]().fit(feats)
        self.target_scaler_ = TARGETS[self.target].scaler().fit(targets)
        x = sliding_windows(_as_tensor(self.feature_scaler_.transform(feats)), self.lookback)
        y = _as_tensor(self.target_scaler_.transform(targets))
        # purge horizon-1 samples so no training target overlaps a validation target
        return PreparedFit(module, x, y, config, self.horizon - 1, ends, past)

    def _finish_fit(self, prepared: PreparedFit, history: list[dict[str, float]]) -> RNNForecaster:
        """Everything :meth:`fit` does after training; returns self, fitted."""
        past, ends = prepared.past, prepared.ends
        self.module_ = prepared.module.eval()
        self.history_ = pd.DataFrame(history).set_index("epoch")
        self.train_ends_ = ends
        self.n_features_in_ = len(self._feature_names())
        log.info(
            "fit %s on %d samples ending %s..%s: %d epochs, train loss %.4g, best val loss %.4g",
            past.attrs.get("symbol", "bars"),
            len(ends),
            past.index[ends[0]].date(),
            past.index[ends[-1]].date(),
            len(history),
            history[-1]["train_loss"],
            self.history_["val_loss"].min(),
        )
        return self

    def predict(self, bars: pd.DataFrame, rows: Sequence[int] | np.ndarray | None = None) -> pd.DataFrame:
        """Forecast, at the close of each requested row t, the opens of rows t+1 … t+H.

        Args:
            bars: canonical bar frame (the one fitted on, possibly extended).
            rows: row positions to forecast; default every row with a full window.
                Row t reads bars <= t only.

        Returns:
            Frame indexed by the forecast date t (``date``), columns ``pred_open_1`` …
            ``pred_open_H`` in price units.
        """
        check_is_fitted(self, "module_")
        _check_bars(bars)
        if len(self._feature_names()) != self.n_features_in_:
            raise ConfigError(
                f"features={list(self.features)} differ from the {self.n_features_in_} the model "
                "was fitted with; refit after changing features"
            )
        first = first_sample_end(self.lookback, self.warmup)
        rows = np.arange(first, len(bars)) if rows is None else np.asarray(rows, dtype=np.int64).reshape(-1)
        if len(rows) == 0:
            if len(bars) <= first:
                raise DataError(
                    f"lookback={self.lookback} needs at least {first + 1} bars to forecast "
                    f"({self.warmup} warm-up bar), got {len(bars)} for {_describe(bars)}"
                )
            return self._forecast_frame(np.empty((0, self.horizon)), bars.index[:0])
        if rows.min() < first or rows.max() >= len(bars):
            bad = int(rows.min() if rows.min() < first else rows.max())
            raise DataError(
                f"row {bad} cannot be forecast: rows {first}..{len(bars) - 1} have a full "
                f"lookback={self.lookback} window for {_describe(bars)}; pass rows in that range"
            )
        past = bars.iloc[: rows.max() + 1]  # never read beyond the last requested row
        first_row = int(rows.min()) - self.lookback + 1
        x = _as_tensor(self.feature_scaler_.transform(self._feature_matrix(past, first_row)))
        windows = sliding_windows(x, self.lookback)  # element k ends at row first_row + k + lookback - 1
        self.module_.eval()
        scaled = np.empty((len(rows), self.horizon))
        with torch.no_grad(), torch_threads(1 if self.device_.type == "cpu" else None):
            # One row per forward pass, each window copied to a fresh (64-byte aligned) tensor,
            # on one thread: CPU kernels round differently by batch size, by position in the
            # batch, by the data's memory alignment and by thread count, and a forecast must
            # not depend on which rows it was predicted with, nor on the machine's cores
            # (the test of record compares forecasts bit for bit).
            for i, k in enumerate(rows - rows.min()):
                window = windows[k : k + 1].clone(memory_format=torch.contiguous_format)
                scaled[i] = self.module_(window.to(self.device_))[0].cpu().double().numpy()
        raw = self.target_scaler_.inverse_transform(scaled)
        prices = predicted_opens(raw, past, rows, self.target)
        return self._forecast_frame(prices, past.index[rows])

    def get_state(self) -> dict[str, torch.Tensor]:
        """Everything ``predict`` needs, as CPU tensors (safetensors-ready, no pickle).

        Keys: ``module.*`` (network weights), ``feature_scaler.*`` and ``target_scaler.*``
        (fitted scaler attributes), ``history.*`` and ``train_ends``. Restore with
        :meth:`set_state` or :meth:`from_state` and the same parameters (``get_params()``).
        """
        check_is_fitted(self, "module_")
        state = {f"module.{k}": v.detach().cpu().clone() for k, v in self.module_.state_dict().items()}
        state |= _scaler_state("feature_scaler", self.feature_scaler_)
        state |= _scaler_state("target_scaler", self.target_scaler_)
        state |= {f"history.{c}": torch.tensor(self.history_[c].to_numpy(), dtype=torch.float64) for c in self.history_}
        state["train_ends"] = torch.from_numpy(np.asarray(self.train_ends_, dtype=np.int64))
        return state

    def set_state(self, state: Mapping[str, torch.Tensor]) -> RNNForecaster:
        """Restore a fitted state from :meth:`get_state` into this (same-parameter) forecaster."""
        self._validated_config(None)
        missing = [k for k in ("history.train_loss", "history.val_loss", "train_ends") if k not in state]
        if missing:
            raise ConfigError(f"state lacks {missing}; pass a dict made by RNNForecaster.get_state()")
        self.device_ = _resolve_device(self.device)
        module = self._build_module()
        self._load_weights(module, _module_weights(state), "state")
        self.module_ = module.to(self.device_).eval()
        self.feature_scaler_ = _load_scaler(FEATURE_SCALERS[self.feature_scaling], "feature_scaler", state)
        self.target_scaler_ = _load_scaler(TARGETS[self.target].scaler, "target_scaler", state)
        self.history_ = pd.DataFrame(
            {c: state[f"history.{c}"].numpy() for c in ("train_loss", "val_loss")},
            index=pd.RangeIndex(1, len(state["history.train_loss"]) + 1, name="epoch"),
        )
        self.train_ends_ = state["train_ends"].numpy().copy()
        self.n_features_in_ = len(self._feature_names())
        return self

    @classmethod
    def from_state(cls, state: Mapping[str, torch.Tensor], params: Mapping[str, object]) -> RNNForecaster:
        """A fitted forecaster from ``get_params()`` and ``get_state()`` of another one."""
        return cls(**params).set_state(state)

    def _feature_names(self) -> tuple[str, ...]:
        return checked_feature_names(self.features)

    def _validated_config(self, epochs: int | None) -> TrainConfig:
        """Validate the parameters; return the training configuration."""
        for name in ("lookback", "horizon"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)} must be >= 1")
        if self.train_window is not None and self.train_window < 1:
            raise ConfigError(f"train_window={self.train_window} must be >= 1, or None for all samples")
        if self.target not in TARGETS:
            raise ConfigError(f"target={self.target!r} is unknown; use one of {sorted(TARGETS)}")
        if self.feature_scaling not in FEATURE_SCALERS:
            raise ConfigError(
                f"feature_scaling={self.feature_scaling!r} is unknown; use one of {sorted(FEATURE_SCALERS)}"
            )
        feature_warmup(self._feature_names())  # raises on unknown names
        return TrainConfig(
            epochs=self.epochs if epochs is None else epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            loss=self.loss,
            grad_clip=self.grad_clip,
            patience=self.patience,
            val_fraction=self.val_fraction,
            seed=self.seed,
        )

    def _build_module(self) -> RecurrentNet:
        return RecurrentNet(len(self._feature_names()), self.horizon, self.cell, self.hidden, self.dropout)

    def _load_weights(self, module: RecurrentNet, weights: Mapping[str, torch.Tensor], what: str) -> None:
        try:
            module.load_state_dict(weights)
        except RuntimeError as exc:
            raise ConfigError(
                f"{what} does not fit this network (cell={self.cell!r}, hidden={self.hidden!r}, "
                f"{len(self._feature_names())} features, horizon={self.horizon}); pass the "
                f"parameters it was fitted with. {str(exc).splitlines()[0]}"
            ) from exc

    def _feature_matrix(self, past: pd.DataFrame, first_row: int) -> np.ndarray:
        """Features of rows ``first_row`` .. the last row of ``past``, checked finite."""
        feats = make_features(past, self._feature_names()).iloc[first_row:]
        _check_finite(feats.to_numpy(), feats.index, "feature", past, names=feats.columns)
        return feats.to_numpy()

    def _forecast_frame(self, prices: np.ndarray, index: pd.Index) -> pd.DataFrame:
        columns = [f"pred_open_{h}" for h in range(1, self.horizon + 1)]
        return pd.DataFrame(prices, index=index.rename("date"), columns=columns)


def _check_bars(bars: pd.DataFrame) -> None:
    if not isinstance(bars, pd.DataFrame) or not isinstance(bars.index, pd.DatetimeIndex):
        raise DataError(
            f"bars must be a DataFrame with a DatetimeIndex, got {type(bars).__name__}; "
            "load them with rnnstrategy.data.load_bars"
        )
    if not (bars.index.is_monotonic_increasing and bars.index.is_unique):
        raise DataError(
            f"the dates of {_describe(bars)} are not ascending and unique; load them with rnnstrategy.data.load_bars"
        )


def _check_finite(
    values: np.ndarray, index: pd.Index, what: str, bars: pd.DataFrame, names: Sequence[str] | None = None
) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        name = f" {names[col]!r}" if names is not None else f" h={col + 1}"
        raise DataError(
            f"{what}{name} is not finite on {index[row].date()} for {_describe(bars)}: "
            "a zero, negative or missing price or volume; fix or drop that bar"
        )


def _describe(bars: pd.DataFrame) -> str:
    """``600519 (2010-04-26..2020-04-24)`` for error messages."""
    symbol = bars.attrs.get("symbol") or "the bars"
    if len(bars) == 0:
        return f"{symbol} (no rows)"
    return f"{symbol} ({bars.index[0].date()}..{bars.index[-1].date()})"


def resolve_device(device: str) -> torch.device:
    """The torch device ``device`` names ('auto': CUDA when present); a :class:`ConfigError`
    when it is no device or names a GPU this machine does not have."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(f"device={device!r} is not a torch device; use 'auto', 'cpu' or 'cuda'") from exc
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device={device!r} but this machine has no CUDA; use --device cpu or auto "
                              "(device='cpu' or 'auto' in Python)")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ConfigError(f"device={device!r} but this machine has {torch.cuda.device_count()} CUDA "
                              "device(s); use cuda:0, cpu or auto")
    elif resolved.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ConfigError(f"device={device!r} but MPS is not available here; use --device cpu or auto")
    return resolved


_resolve_device = resolve_device


def _as_tensor(values: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))


def _module_weights(source: RNNForecaster | Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Network weights of a fitted forecaster or of a :meth:`RNNForecaster.get_state` dict."""
    if isinstance(source, RNNForecaster):
        check_is_fitted(source, "module_")
        return source.module_.state_dict()
    return {k.removeprefix("module."): v for k, v in source.items() if k.startswith("module.")}


def _scaler_state(prefix: str, scaler: Scaler) -> dict[str, torch.Tensor]:
    """A fitted scaler's learned attributes (``mean_``, ``scale_``, …) as tensors."""
    return {
        f"{prefix}.{name}": torch.from_numpy(np.array(value))
        for name, value in vars(scaler).items()
        if name.endswith("_") and not name.startswith("_")
    }


def _load_scaler(cls: type[Scaler], prefix: str, state: Mapping[str, torch.Tensor]) -> Scaler:
    scaler = cls()
    for key, tensor in state.items():
        if key.startswith(prefix + "."):
            value = tensor.numpy()
            setattr(scaler, key.removeprefix(prefix + "."), value.item() if value.ndim == 0 else value.copy())
    check_is_fitted(scaler)
    return scaler
