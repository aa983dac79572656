"""A small sample of real A-share bars shipped with the package, so the main job, the
examples and most tests run offline on a machine that has nothing else.

- :func:`moutai`: Kweichow Moutai (600519.SH) daily bars 2010-04-26..2020-04-24, forward
  adjusted, tushare ``get_k_data`` format (the course-notes file);
- :func:`csi300`: the CSI 300 index daily bars 2005-01-04..2023-10-10, akshare format.

Both are copied unchanged from their public sources; ``SOURCES.md`` beside this module gives
each file's origin, format, adjustment and SHA-256. :func:`path` gives a file's location, for
anything that takes a CSV path (``rnnstrategy backtest --example`` uses these two)::

    import rnnstrategy as rs
    from rnnstrategy import datasets

    run = rs.backtest(datasets.path("moutai"), benchmark=datasets.path("csi300"))
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

from rnnstrategy.data.loader import load_bars
from rnnstrategy.errors import ConfigError

__all__ = ["MOUTAI_NAME", "SAMPLES", "csi300", "describe", "moutai", "path"]

SAMPLES: dict[str, tuple[str, str]] = {
    "moutai": ("SH600519.csv", "Kweichow Moutai 600519.SH daily bars 2010-04-26..2020-04-24 (tushare get_k_data, qfq)"),
    "csi300": ("index/sh000300.csv", "CSI 300 index daily bars 2005-01-04..2023-10-10 (akshare)"),
}
"""The bundled files by name: their path under ``data/`` and a one-line description."""

MOUTAI_NAME = "贵州茅台"
"""The security name of the Moutai sample, for titles (the package ships no stock list)."""


def path(name: str) -> Path:
    """The file of the sample ``name`` (``"moutai"`` or ``"csi300"``)."""
    if name not in SAMPLES:
        raise ConfigError(f"no bundled sample {name!r}; there are {', '.join(SAMPLES)}")
    location = resources.files(__name__) / "data" / SAMPLES[name][0]
    return Path(str(location))  # a regular file: the package is installed from a folder or a wheel


def describe(name: str) -> str:
    """One line saying what the sample ``name`` holds."""
    path(name)  # a clear error for an unknown name
    return SAMPLES[name][1]


def moutai(start: str | None = None, end: str | None = None) -> pd.DataFrame:
    """Kweichow Moutai (600519.SH) daily bars 2010-04-26..2020-04-24 as the canonical bar frame."""
    return load_bars(path("moutai"), start=start, end=end)


def csi300(start: str | None = None, end: str | None = None) -> pd.DataFrame:
    """CSI 300 index daily bars 2005-01-04..2023-10-10 as the canonical bar frame."""
    return load_bars(path("csi300"), start=start, end=end)
