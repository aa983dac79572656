"""Fingerprints of bar frames and configurations, for stores and manifests."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd

from rnnstrategy.data.adjust import FACTOR_COLUMN
from rnnstrategy.data.frame import BAR_COLUMNS

__all__ = ["DataFingerprint", "stable_hash"]


def stable_hash(payload: object, length: int = 16) -> str:
    """Hex SHA-256 of ``payload`` as canonical JSON, truncated to ``length``."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


class DataFingerprint:
    """Fingerprints of the bars up to any row, from one pass of per-row hashes."""

    def __init__(self, bars: pd.DataFrame) -> None:
        # the factor too where there is one: forecasts are made from the adjusted prices
        columns = [c for c in (*BAR_COLUMNS, FACTOR_COLUMN) if c in bars.columns]
        values = bars[columns].set_axis(bars.index.as_unit("ns"))  # same keys whatever the datetime unit
        self._rows = pd.util.hash_pandas_object(values, index=True).to_numpy(np.uint64)

    @property
    def rows(self) -> np.ndarray:
        """The per-row hashes (uint64, one per bar, of its date, OHLCV values and factor if any), read-only."""
        view = self._rows.view()
        view.flags.writeable = False
        return view

    def upto(self, row: int) -> str:
        """Fingerprint of rows ``0..row`` (dates, OHLCV values and factor if any)."""
        return hashlib.sha256(self._rows[: row + 1].tobytes()).hexdigest()[:16]
