"""The training loop: Adam on shuffled mini-batches, early stopping on the latest samples.

Deliberately flat (batch, loss, backward, clip, step, evaluate under ``torch.no_grad()``).
Given the same module weights, data and :class:`TrainConfig`, it produces bit-identical
weights on CPU: shuffling uses its own seeded ``torch.Generator`` and dropout draws from
a forked, seeded global RNG, so the caller's random state is left untouched.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from rnnstrategy.errors import ConfigError, DataError

__all__ = ["torch_threads", "LOSSES", "TrainConfig", "seeded", "split_sizes", "train"]

log = logging.getLogger(__name__)

LOSSES: dict[str, type[nn.Module]] = {"mse": nn.MSELoss, "huber": nn.HuberLoss}
"""Loss functions by name. Targets are standardised, so Huber's delta=1 is one std."""


@dataclass(frozen=True)
class TrainConfig:
    """How to train; the defaults suit ~2,000 daily samples of a small GRU on CPU.

    Args:
        epochs: passes over the training samples (30: a small net on standardised
            targets converges in tens of epochs; early stopping usually ends sooner).
        batch_size: samples per Adam step (64: ~30 steps per epoch on 8 years of bars).
        lr: Adam learning rate (1e-3, Adam's usual default).
        loss: a key of :data:`LOSSES`; ``huber`` is less swayed by limit-up/down days.
        grad_clip: max gradient norm (1.0 guards recurrent nets against exploding
            gradients); ``None`` turns clipping off.
        patience: epochs without a better validation loss before stopping; the best
            weights are kept. 0 turns early stopping off: all epochs, no validation split.
        val_fraction: share of the samples, chronologically last (still in the past of
            the retrain), held out for early stopping (0.2: enough days for a stable
            validation loss on noisy returns).
        seed: seeds shuffling and dropout.
    """

    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    loss: str = "mse"
    grad_clip: float | None = 1.0
    patience: int = 5
    val_fraction: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ConfigError(f"loss={self.loss!r} is unknown; use one of {sorted(LOSSES)}")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)} must be >= 1")
        if self.patience < 0:
            raise ConfigError(f"patience={self.patience} must be >= 0 (0 turns early stopping off)")
        if not self.lr > 0:
            raise ConfigError(f"lr={self.lr} must be > 0, e.g. 1e-3")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ConfigError(f"grad_clip={self.grad_clip} must be > 0, or None to turn clipping off")
        if self.patience and not 0 < self.val_fraction < 1:
            raise ConfigError(
                f"val_fraction={self.val_fraction} must be in (0, 1) for early stopping "
                f"(patience={self.patience}); or set patience=0 to train without validation"
            )


def split_sizes(n_samples: int, config: TrainConfig, purge: int = 0) -> tuple[int, int]:
    """Training and validation sample counts: the chronologically last ``val_fraction`` validates
    (with early stopping only), ``purge`` samples between the two parts are dropped."""
    n_val = max(1, round(n_samples * config.val_fraction)) if config.patience else 0
    n_train = n_samples - n_val - (purge if n_val else 0)
    if n_train < 1:
        raise DataError(
            f"{n_samples} samples leave none to train on after holding out {n_val} for "
            f"validation (val_fraction={config.val_fraction}) and purging {purge}; "
            "use more bars, a smaller val_fraction, or patience=0"
        )
    return n_train, n_val


@contextmanager
def seeded(seed: int, device: torch.device | str = "cpu") -> Iterator[None]:
    """Seed torch's global RNG inside the block only, and on an accelerator also use
    deterministic algorithms there.

    The caller's RNG state and determinism setting are restored on exit. On CPU the
    determinism flag is left alone: the CPU kernels used here are deterministic already,
    and setting the flag costs about 1.5 s per process (it imports torch's compiler
    stack) and makes every new tensor be filled with NaN first.
    """
    device = torch.device(device)
    forked = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=forked):
        torch.manual_seed(seed)
        if device.type == "cpu":
            yield
            return
        was_on = torch.are_deterministic_algorithms_enabled()
        was_warn = torch.is_deterministic_algorithms_warn_only_enabled()
        # warn_only: on CUDA some kernels have no deterministic variant
        torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(was_on, warn_only=was_warn)


def train(
    module: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    config: TrainConfig,
    *,
    purge: int = 0,
    device: torch.device | str = "cpu",
    n_val: int | None = None,
) -> list[dict[str, float]]:
    """Train ``module`` in place on samples in chronological order; return the history.

    Args:
        module: maps ``(batch, lookback, features)`` to ``(batch, horizon)``, on ``device``.
        x: input windows ``(n_samples, lookback, features)``, oldest sample first; may be a
            strided view, mini-batches are gathered from it.
        y: scaled targets ``(n_samples, horizon)``.
        config: the training configuration.
        purge: samples dropped between the training and the validation part, so no
            training target overlaps a validation target (``horizon - 1`` does that).
        device: where the batches go.
        n_val: validation samples, the last ones (instead of ``config.val_fraction`` of them;
            pooled panels split on a day boundary). Ignored without early stopping.

    Returns:
        One dict per epoch run: ``epoch`` (1-based), ``train_loss``, ``val_loss`` (NaN
        without early stopping). With early stopping the module ends with the weights
        of the epoch with the lowest validation loss.
    """
    n_samples = len(x)
    if len(y) != n_samples:
        raise ValueError(f"x has {n_samples} samples but y has {len(y)}")
    if n_val is None or not config.patience:
        n_train, n_val = split_sizes(n_samples, config, purge)
    else:
        n_train = n_samples - n_val - purge
    x_train, y_train = x[:n_train], y[:n_train]
    x_val, y_val = x[n_samples - n_val :], y[n_samples - n_val :]

    loss_fn = LOSSES[config.loss]()
    optimizer = torch.optim.Adam(module.parameters(), lr=config.lr)
    shuffle = torch.Generator().manual_seed(config.seed)
    history: list[dict[str, float]] = []
    best_loss, best_state, stale = math.inf, None, 0
    with seeded(config.seed, device):
        for epoch in range(1, config.epochs + 1):
            module.train()
            total = 0.0
            for idx in torch.randperm(n_train, generator=shuffle).split(config.batch_size):
                xb, yb = x_train[idx].to(device), y_train[idx].to(device)
                loss = loss_fn(module(xb), yb)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if config.grad_clip is not None:
                    nn.utils.clip_grad_norm_(module.parameters(), config.grad_clip)
                optimizer.step()
                total += loss.item() * len(idx)
            val_loss = _mean_loss(module, loss_fn, x_val, y_val, config.batch_size, device) if n_val else math.nan
            history.append({"epoch": epoch, "train_loss": total / n_train, "val_loss": val_loss})
            log.debug("epoch %d: train loss %.5f, val loss %.5f", epoch, total / n_train, val_loss)
            if not n_val:
                continue
            if val_loss < best_loss:
                best_loss, stale = val_loss, 0
                best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
            else:
                stale += 1
                if stale >= config.patience:
                    log.debug("early stop after epoch %d, best val loss %.5f", epoch, best_loss)
                    break
    if best_state is not None:
        module.load_state_dict(best_state)
    return history


@torch.no_grad()
def _mean_loss(
    module: nn.Module,
    loss_fn: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    device: torch.device | str,
) -> float:
    module.eval()
    total = 0.0
    for start in range(0, len(x), batch_size):
        batch = torch.arange(start, min(start + batch_size, len(x)))
        # gathered like the training batches: fresh, aligned memory (see RNNForecaster.predict)
        xb, yb = x[batch].to(device), y[batch].to(device)
        total += loss_fn(module(xb), yb).item() * len(xb)
    return total / len(x)


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` PyTorch intra-op threads (None: as they are); restore the count after."""
    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
