"""What ``manifest.json`` records so a run can be reproduced: data fingerprints and versions."""

from __future__ import annotations

import importlib.metadata
import platform
import sys
from pathlib import Path

import pandas as pd

from rnnstrategy.data.fingerprint import DataFingerprint
from rnnstrategy.files import file_sha256

__all__ = ["PACKAGES", "data_record", "package_versions"]

#: Distributions whose versions decide a run's numbers or its report.
PACKAGES = ("rnnstrategy", "torch", "numpy", "pandas", "scikit-learn", "safetensors", "backtrader", "quantstats",
            "matplotlib", "seaborn", "akshare")


def package_versions() -> dict[str, str | None]:
    """Python, the platform and the installed versions of :data:`PACKAGES` (None when absent)."""
    versions: dict[str, str | None] = {"python": platform.python_version(), "platform": platform.platform()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    versions["executable"] = sys.executable
    return versions


def _file_sha256(source: object) -> str | None:
    path = Path(str(source)) if source else None
    if path is None or not path.is_file():
        return None
    return file_sha256(path)


def data_record(bars: pd.DataFrame) -> dict[str, object]:
    """Where bars came from and their fingerprint (dates and OHLCV), plus the file's SHA-256."""
    source = bars.attrs.get("source")
    return {
        "source": source,
        "symbol": bars.attrs.get("symbol"),
        "adjust": bars.attrs.get("adjust"),
        "format": bars.attrs.get("format"),
        "rows": len(bars),
        "first": f"{bars.index[0]:%Y-%m-%d}",
        "last": f"{bars.index[-1]:%Y-%m-%d}",
        "fingerprint": DataFingerprint(bars).upto(len(bars) - 1),
        "file_sha256": _file_sha256(source),
    }
