"""Windows read from a table of feature rows, never stored as windows.

:class:`RowWindows` are the input windows of samples that end at given rows of one table (a pooled
panel's feature rows, every symbol's rows one after another). They stand in for the windows tensor
of :func:`rnnstrategy.forecasting.training.train` and of a
:class:`~rnnstrategy.forecasting.batched.training.TrainJob`; jobs that share one table (an ensemble's
members, which learn from the same samples) are trained with one copy of it.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["RowWindows"]


class RowWindows:
    """The ``lookback``-row windows of ``rows`` that end at the rows ``ends``: ``x[idx]`` is ``(len(idx), lookback, F)``.

    Window k is rows ``ends[k] - lookback + 1 .. ends[k]``, oldest first. Supports ``len``,
    ``shape`` ``(len(ends), lookback, F)``, a slice (another :class:`RowWindows` on the same table)
    and an index tensor (the windows gathered).
    """

    def __init__(self, rows: Tensor, ends: Tensor, lookback: int) -> None:
        self.rows, self.ends, self.lookback = rows, ends, lookback  # rows: (N, F); ends: (n_samples,)
        self._steps = torch.arange(-lookback + 1, 1, device=rows.device)

    def __len__(self) -> int:
        return len(self.ends)

    @property
    def shape(self) -> torch.Size:
        return torch.Size((len(self.ends), self.lookback, self.rows.shape[1]))

    @property
    def starts(self) -> Tensor:
        """``(n_samples,)`` the first row of each window."""
        return self.ends - (self.lookback - 1)

    def __getitem__(self, key: slice | Tensor) -> RowWindows | Tensor:
        if isinstance(key, slice):
            return RowWindows(self.rows, self.ends[key], self.lookback)
        ends = self.ends[key.to(self.ends.device)]
        return self.rows[ends[:, None] + self._steps]  # (len(key), lookback, F)
