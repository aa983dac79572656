"""A small sample of real A-share bars shipped with the package, so the main job, the
examples and most tests run offline on a machine that has nothing else.

- :func:`moutai`: Kweichow Moutai (600519.SH) daily bars 2010-04-26..2020-04-24, forward
  adjusted, tushare ``get_k_data`` format (the course-notes file);
- :func:`csi300`: the CSI 300 index daily bars 2005-01-04..2023-10-10, akshare format;
- ``path("csi300_universe")``: a qlib data directory cut from the shared ``qlib_csi300`` (33 CSI 300
  members and the index ``sh000300``, 2020-01-02..2023-12-29, back-adjusted prices with their
  factor, raw volume, point-in-time membership in ``instruments/csi300.txt``), for universe runs.

The two files are copied unchanged from their public sources and the directory's values byte
for byte from its source; ``SOURCES.md`` beside this module gives each one's origin, format,
adjustment and SHA-256 (the directory's in its ``MANIFEST.sha256``). :func:`path` gives a sample's
location, for anything that takes a CSV path or a qlib directory (``rnnstrategy backtest --example``
uses the first two)::

    import rnnstrategy as rs
    from rnnstrategy import datasets

    run = rs.backtest(datasets.path("moutai"), benchmark=datasets.path("csi300"))
    universe = datasets.path("csi300_universe")  # a qlib data directory
    bars = rs.load_bars(universe, symbol="600519.SH")
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

from rnnstrategy.data.loader import load_bars
from rnnstrategy.errors import ConfigError

__all__ = ["MOUTAI_NAME", "SAMPLES", "UNIVERSE", "UNIVERSE_INDEX", "UNIVERSE_MEMBERSHIP", "csi300", "describe",
           "moutai", "path"]

SAMPLES: dict[str, tuple[str, str]] = {
    "moutai": ("SH600519.csv", "Kweichow Moutai 600519.SH daily bars 2010-04-26..2020-04-24 (tushare get_k_data, qfq)"),
    "csi300": ("index/sh000300.csv", "CSI 300 index daily bars 2005-01-04..2023-10-10 (akshare)"),
    "csi300_universe": ("qlib_csi300_sample", ("CSI 300 universe sample: 33 members and the index, "
                                               "2020-01-02..2023-12-29, qlib directory with point-in-time membership")),
}
"""The bundled samples by name: their path under ``data/`` (a file, or a folder) and a one-line description."""

UNIVERSE = "csi300_universe"
"""The name of the universe sample (a qlib data directory): ``path(UNIVERSE)``."""

UNIVERSE_MEMBERSHIP = "csi300"
"""Its index membership as it stood: ``instruments/csi300.txt`` of that directory."""

UNIVERSE_INDEX = "sh000300"
"""Its benchmark: the CSI 300 index's own bars in that directory."""

MOUTAI_NAME = "贵州茅台"
"""The security name of the Moutai sample, for titles (the package ships no stock list)."""


def path(name: str) -> Path:
    """The file (``"moutai"``, ``"csi300"``) or qlib data directory (``"csi300_universe"``) of the sample ``name``."""
    if name not in SAMPLES:
        raise ConfigError(f"no bundled sample {name!r}; there are {', '.join(SAMPLES)}")
    location = resources.files(__name__) / "data" / SAMPLES[name][0]
    return Path(str(location))  # a regular path: the package is installed from a folder or a wheel


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
