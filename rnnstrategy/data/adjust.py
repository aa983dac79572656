"""Raw and adjusted prices of one bar frame: the ``factor`` column and :func:`adjusted_bars`.

A source that knows its adjustment factor (a qlib data directory) gives a frame of **raw** prices,
as traded, with a ``factor`` column: the adjusted price is ``raw × factor`` (back-adjusted, hfq:
``attrs["factor_adjust"]`` says so). The broker and every money figure use the raw prices; features
and labels use :func:`adjusted_bars`, whose price at t depends only on corporate actions up to t.
A frame without a ``factor`` column is whatever its ``attrs["adjust"]`` says and stays as it is.
"""

from __future__ import annotations

import pandas as pd

from rnnstrategy.data.frame import PRICE_COLUMNS

__all__ = ["FACTOR_ADJUST_ATTR", "FACTOR_COLUMN", "adjusted_bars", "has_factor"]

FACTOR_COLUMN = "factor"
"""The column of the adjustment factor: adjusted price = raw price × factor."""

FACTOR_ADJUST_ATTR = "factor_adjust"
"""The attr naming what ``raw × factor`` is ('hfq': back-adjusted); present exactly when the frame
carries a ``factor`` column from its source."""


def has_factor(bars: pd.DataFrame) -> bool:
    """Whether ``bars`` carries an adjustment factor (raw prices in ``open high low close``)."""
    return FACTOR_COLUMN in bars.columns


def adjusted_bars(bars: pd.DataFrame) -> pd.DataFrame:
    """The adjusted view of a frame with a ``factor`` column; ``bars`` itself when it has none.

    Prices are multiplied by the factor and volume divided by it (so price × volume, the value
    traded, is unchanged; ``amount`` stays as it is); the ``factor`` column goes, and
    ``attrs["adjust"]`` becomes what the factor adjusts to (``attrs["factor_adjust"]``, 'hfq'
    by default).
    """
    if not has_factor(bars):
        return bars
    factor = bars[FACTOR_COLUMN].to_numpy()
    columns = {}
    for column in bars.columns.drop(FACTOR_COLUMN):
        values = bars[column].to_numpy()
        if column in PRICE_COLUMNS:
            values = values * factor
        elif column == "volume":
            values = values / factor
        columns[column] = values
    adjusted = pd.DataFrame(columns, index=bars.index)
    attrs = {key: value for key, value in bars.attrs.items() if key != FACTOR_ADJUST_ATTR}
    adjusted.attrs = {**attrs, "adjust": bars.attrs.get(FACTOR_ADJUST_ATTR, "hfq")}
    return adjusted
