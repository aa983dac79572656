"""The bundled sample: unchanged copies of their sources, loaded as canonical bar frames."""

from __future__ import annotations

import hashlib
import re

import pandas as pd
import pytest

from rnnstrategy import datasets
from rnnstrategy.errors import ConfigError


def _recorded_hashes() -> dict[str, str]:
    text = (datasets.path("moutai").parents[1] / "SOURCES.md").read_text(encoding="utf-8")
    return dict(re.findall(r"- `data/(\S+)`: ([0-9a-f]{64})", text))


@pytest.mark.parametrize("name", list(datasets.SAMPLES))
def test_files_are_the_sources_byte_for_byte(name):
    relative = datasets.SAMPLES[name][0]
    digest = hashlib.sha256(datasets.path(name).read_bytes()).hexdigest()
    assert _recorded_hashes()[relative] == digest


def test_loaders_return_the_canonical_frames():
    moutai = datasets.moutai()
    assert moutai.attrs["symbol"] == "600519.SH" and moutai.attrs["adjust"] == "qfq"
    assert (len(moutai), moutai.index[0], moutai.index[-1]) == (2426, pd.Timestamp("2010-04-26"),
                                                                  pd.Timestamp("2020-04-24"))
    assert moutai.loc["2020-04-24", "close"] == 1250.56 and moutai.loc["2020-04-24", "volume"] == 1912200.0  # lots x 100
    csi300 = datasets.csi300(start="2019-01-01")
    assert csi300.attrs["symbol"] == "000300.SH" and csi300.index[0] == pd.Timestamp("2019-01-02")
    assert csi300.index[-1] == pd.Timestamp("2023-10-10")


def test_an_unknown_sample_is_a_clear_error():
    with pytest.raises(ConfigError, match="no bundled sample 'gold'; there are moutai, csi300"):
        datasets.path("gold")


def test_the_example_backtest_says_it_uses_the_sample(tmp_path, capsys):
    from helpers import TINY, tiny_args

    from rnnstrategy.cli import main

    code = main(["backtest", "--example", "--start", "2019-06-03", "--end", "2019-12-31", "--no-store",
                 "--out", str(tmp_path), *tiny_args(TINY)])
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("using the bundled sample: Kweichow Moutai 600519.SH")
    assert "vs CSI 300" in out and (tmp_path / "report.html").is_file()
