"""The settings of a pooled model: one network per retrain, learned across every stock of a universe.

:class:`PooledConfig` shares the network and training settings of
:class:`~rnnstrategy.forecasting.config.ForecastSettings` with per-stock models and has its own
defaults and its own schedule, counted in market days of the universe's calendar. Like the
per-stock class it imports no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rnnstrategy.errors import ConfigError
from rnnstrategy.forecasting.config import ForecastSettings, forecast_setting

__all__ = ["MARKET_AUTO", "PooledConfig"]

MARKET_AUTO = "auto"
"""``market = "auto"`` (the default): the own bars of the universe's index where the data holds them (a qlib
directory with ``sh000300`` for ``--universe csi300``), else no market features; resolved by
:func:`rnnstrategy.universe.pooled.with_market` before anything is trained or stored."""


@dataclass(frozen=True)
class PooledConfig(ForecastSettings):
    """Everything that decides a pooled walk-forward forecast (a ``[forecast]`` table with ``pooled = true``).

    At each retrain one network learns from the samples of every symbol whose labels are known
    by then (see :mod:`rnnstrategy.forecasting.pooled.walkforward`). The label is the return from the
    next open over the stock's next ``label_sessions`` (h) sessions, log(open(t+1+h)/open(t+1)),
    normalised across the symbols of each day (``label_norm``); h = 1, the default, is the return the
    ``next_open`` execution earns, log(open(t+2)/open(t+1)). A label is known h + 1 sessions after
    its day. ``horizon`` must be at least 2 (the forecast frame's ``pred_open_2`` carries the score);
    features may be normalised across symbols too (``feature_norm``), and an index's own features
    added (``market``; by default those of the universe's index where the data holds its bars, see
    :data:`MARKET_AUTO`). ``ensemble`` models with consecutive seeds are averaged.

    The schedule counts market days: retrain every ``retrain_every_days`` (250, about a year), each
    fold learning from the samples of the latest ``train_days`` (1250, five years; None or 0: all).
    Defaults: 20-bar windows, batches of 1024, up to 6 epochs with patience 2.
    """

    lookback: int = forecast_setting(20, "bars per input window")
    train_days: int | None = forecast_setting(1250, "market days of training samples per fold, the latest ones; "
                                              "0 = all (expanding)")
    epochs: int = forecast_setting(6, "epochs of a cold (first) fit")
    batch_size: int = forecast_setting(1024, "mini-batch size")
    patience: int = forecast_setting(2, "early-stopping patience in epochs; 0 turns it off")
    retrain_every_days: int = forecast_setting(250, "market days between retrains", group="schedule")
    label_sessions: int = forecast_setting(1, "sessions the label spans from the next open (h): "
                                           "log(open(t+1+h)/open(t+1)); 1 = the next_open day")
    label_norm: Literal["rank", "zscore", "none"] = forecast_setting("rank", "the label normalised across each "
                                                                     "day's symbols")
    feature_norm: Literal["rank", "zscore", "none"] = forecast_setting("none", "features normalised across each "
                                                                       "day's symbols")
    market: str | None = forecast_setting(MARKET_AUTO, "an index's bars (CSV path, symbol or DIR::symbol) whose own "
                                          "features join every stock's; auto: the universe's index where a qlib "
                                          "DATA directory holds its bars (csi300: sh000300), else none; none: no "
                                          "market features")
    ensemble: int = forecast_setting(1, "models trained with seeds seed..seed+K-1 and averaged")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.train_days == 0:  # 0 means an expanding window
            object.__setattr__(self, "train_days", None)
        if isinstance(self.market, str) and self.market.strip().lower() in ("none", ""):  # TOML has no null
            object.__setattr__(self, "market", None)
        if self.ensemble < 1:
            raise ConfigError(f"ensemble={self.ensemble} must be >= 1 (1: a single model)")
        self._check_label_sessions()
        if self.horizon < 2:
            raise ConfigError(f"horizon={self.horizon}: pooled models learn open(t+2)/open(t+1) and need "
                              "horizon >= 2")

    def _check_label_sessions(self) -> None:
        """A whole number of sessions, at most half the training window (a longer label overlaps almost every
        other sample's, and the validation purge leaves few samples to fit)."""
        h = self.label_sessions
        if isinstance(h, bool) or not isinstance(h, int) or h < 1:
            raise ConfigError(f"label_sessions={h!r} must be a whole number >= 1 (1: open(t+2)/open(t+1))")
        if isinstance(self.train_days, int) and 1 <= self.train_days < 2 * h:  # train_days < 1: refused elsewhere
            raise ConfigError(f"label_sessions={h} spans more than half of train_days={self.train_days} market days "
                              "of samples: use a shorter label or a longer train_days")

    def to_dict(self) -> dict[str, object]:
        """The fields, with ``"pooled": True`` first: the tag that tells a recorded configuration's class."""
        return {"pooled": True, **super().to_dict()}

    def fingerprint(self) -> dict[str, object]:
        """What a stored fold depends on; a one-session label (the default, and every fold stored before
        ``label_sessions`` existed) leaves the setting out, so those folds keep their keys. The market is
        there or not, not where it was read from: the fold keys hash its bars, so a directory moved or named
        by another path keeps them."""
        values = super().fingerprint()
        if self.label_sessions == 1:
            values["config"].pop("label_sessions")  # type: ignore[attr-defined]
        if self.market is not None:
            values["config"]["market"] = "bars"  # type: ignore[index]
        return values

    def history_needed(self) -> int:
        """Bars of each stock before the first forecast date that a run reads: the training days' samples,
        their labels' sessions, their input windows and the features' warm-up (all bars when the window is
        expanding)."""
        samples = self.train_days if self.train_days is not None else 10**9
        return samples + max(self.horizon, self.label_sessions + 1) + self.lookback + self.warmup
