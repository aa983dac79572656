"""The bundled sample: unchanged copies of their sources, loaded as canonical bar frames, and the
universe sample cut from the shared qlib directory (backtests/make_example_universe.py)."""

from __future__ import annotations

import configparser
import hashlib
import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import shared_data_dir
from helpers import missing_data

import rnnstrategy as rs
from rnnstrategy import datasets
from rnnstrategy.errors import ConfigError

MANIFEST = "MANIFEST.sha256"


def _recorded_hashes() -> dict[str, str]:
    text = (datasets.path("moutai").parents[1] / "SOURCES.md").read_text(encoding="utf-8")
    return dict(re.findall(r"- `data/(\S+)`: ([0-9a-f]{64})", text))


@pytest.mark.parametrize("name", list(datasets.SAMPLES))
def test_files_are_the_sources_byte_for_byte(name):
    relative = datasets.SAMPLES[name][0]
    location = datasets.path(name)
    if location.is_dir():  # a directory sample: SOURCES.md records its manifest's hash
        location, relative = location / MANIFEST, f"{relative}/{MANIFEST}"
    digest = hashlib.sha256(location.read_bytes()).hexdigest()
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
    with pytest.raises(ConfigError, match="no bundled sample 'gold'; there are moutai, csi300, csi300_universe$"):
        datasets.path("gold")


def test_the_example_backtest_says_it_uses_the_sample(tmp_path, capsys):
    from helpers import TINY, tiny_args

    from rnnstrategy.cli import main

    code = main(["backtest", "--example", "--start", "2019-06-03", "--end", "2019-12-31", "--no-store",
                 "--out", str(tmp_path), *tiny_args(TINY)])
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("using the bundled sample: Kweichow Moutai 600519.SH")
    assert "vs CSI 300" in out and (tmp_path / "report.html").is_file()


# --- the universe sample: a qlib directory cut from the shared qlib_csi300 ---------------------

UNIVERSE = datasets.path(datasets.UNIVERSE)
STOCKS = 33
DAYS = 970  # 2020-01-02 .. 2023-12-29
CUT = ["--start", "2020-01-01", "--end", "2023-12-31", "--members", "30", "--joiners", "3", "--leavers", "3",
       "--index", "sh000300"]  # the command line SOURCES.md records


def _manifest(folder: Path) -> dict[str, str]:
    lines = (folder / MANIFEST).read_text(encoding="utf-8").splitlines()
    return {name: digest for digest, name in (line.split("  ", 1) for line in lines)}


def _cutter():
    """backtests/make_example_universe.py as a module (backtests/ is no package)."""
    script = Path(__file__).resolve().parents[1] / "backtests" / "make_example_universe.py"
    spec = importlib.util.spec_from_file_location("make_example_universe", script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_universe_sample_is_its_manifest_and_nothing_else():
    files = {p.relative_to(UNIVERSE).as_posix() for p in UNIVERSE.rglob("*") if p.is_file()} - {MANIFEST}
    manifest = _manifest(UNIVERSE)
    assert files == set(manifest) and len(files) == 3 + (STOCKS + 1) * 6
    for name, digest in manifest.items():
        assert hashlib.sha256((UNIVERSE / name).read_bytes()).hexdigest() == digest, name
    assert sum((UNIVERSE / name).stat().st_size for name in files) < 1_000_000  # under 1 MB shipped
    assert "33 members and the index" in datasets.describe(datasets.UNIVERSE)


def test_the_universe_sample_loads_as_raw_bars_with_factors():
    from rnnstrategy.data.qlib_dir import qlib_stock_sources

    moutai = rs.load_bars(UNIVERSE, symbol="600519.SH")
    assert (moutai.attrs["symbol"], moutai.attrs["adjust"], len(moutai)) == ("600519.SH", "", DAYS)
    assert moutai.loc["2020-04-24", "close"] == 1250.56 and moutai.loc["2020-04-24", "volume"] == 1912240.0
    step = moutai["factor"].loc["2022-06-30"] / moutai["factor"].loc["2022-06-29"]
    before = moutai["close"].loc["2022-06-29"]
    assert before - before / step == pytest.approx(21.675, rel=1e-3)  # the 2022-06-30 cash dividend
    index = rs.load_bars(UNIVERSE, symbol=datasets.UNIVERSE_INDEX)
    assert index.attrs["symbol"] == "000300.SH" and "factor" not in index and len(index) == DAYS
    sources = qlib_stock_sources(UNIVERSE)
    assert len(sources) == STOCKS
    rows = {source.rsplit("::", 1)[1]: len(rs.load_bars(source)) for source in sources}
    assert rows.pop("sh600030") == DAYS - 6 and rows.pop("sz000063") == DAYS - 1  # suspended days are no bars
    assert set(rows.values()) == {DAYS}


def test_the_universe_sample_holds_membership_as_it_stood():
    from rnnstrategy.universe.membership_sources import load_membership

    members = load_membership(datasets.UNIVERSE_MEMBERSHIP, directory=UNIVERSE)
    assert len(members.symbols) == STOCKS
    assert (len(members.members_on("2020-01-02")), len(members.members_on("2023-12-29"))) == (27, 30)
    assert not members.is_member("300750.SZ", "2021-12-09") and members.is_member("300750.SZ", "2021-12-10")
    assert members.is_member("600703.SH", "2021-12-09") and not members.is_member("600703.SH", "2021-12-10")
    assert [members.is_member("002466.SZ", day) for day in ("2020-12-11", "2021-06-01", "2021-12-10")] == [
        True, False, True]  # left and came back: two spells


def _write_qlib(folder: Path, days: list[str], series: dict[str, tuple[int, list[float]]], spells: str) -> None:
    (folder / "calendars").mkdir(parents=True)
    (folder / "calendars" / "day.txt").write_text("".join(f"{d}\n" for d in days))
    (folder / "instruments").mkdir()
    (folder / "instruments" / "csi300.txt").write_text(spells)
    lines = []
    for name, (start, values) in series.items():
        (folder / "features" / name).mkdir(parents=True)
        for field in ("open", "high", "low", "close", "volume", "factor"):
            column = [100.0 + v for v in values] if field != "factor" else [2.0] * len(values)
            (folder / "features" / name / f"{field}.day.bin").write_bytes(np.array([start, *column], "<f4").tobytes())
        if name != "sh000300":
            lines.append(f"{name.upper()}\t{days[start]}\t{days[start + len(values) - 1]}\n")
    (folder / "instruments" / "all.txt").write_text("".join(lines))


def test_the_cut_rebases_the_series_and_clips_the_spells(tmp_path):
    days = [d.strftime("%Y-%m-%d") for d in pd.bdate_range("2021-01-04", periods=10)]
    _write_qlib(tmp_path / "src", days, {
        "sh600519": (0, [float(v) for v in range(10)]),          # the whole calendar
        "sz000001": (3, [float(v) for v in range(4)]),           # days 3..6
        "sh600000": (0, [float(v) for v in range(2)]),           # days 0..1: no member day in the range
        "sh000300": (0, [float(v) for v in range(10)]),
    }, f"SH600519\t{days[0]}\t{days[9]}\nSZ000001\t{days[5]}\t{days[6]}\nSH600000\t{days[0]}\t{days[1]}\n")
    _cutter().main([str(tmp_path / "src"), str(tmp_path / "out"), "--start", days[2], "--end", days[5],
                    "--members", "1", "--joiners", "1", "--leavers", "0"])
    out = tmp_path / "out"
    assert (out / "calendars" / "day.txt").read_text().split() == days[2:6]
    assert (out / "instruments" / "csi300.txt").read_text() == (
        f"SH600519\t{days[2]}\t{days[5]}\nSZ000001\t{days[5]}\t{days[5]}\n")
    assert (out / "instruments" / "all.txt").read_text() == (
        f"SH600519\t{days[2]}\t{days[5]}\nSZ000001\t{days[3]}\t{days[5]}\n")
    assert sorted(p.name for p in (out / "features").iterdir()) == ["sh000300", "sh600519", "sz000001"]
    moutai = np.fromfile(out / "features" / "sh600519" / "close.day.bin", "<f4")
    late = np.fromfile(out / "features" / "sz000001" / "close.day.bin", "<f4")
    assert moutai.tolist() == [0, 102, 103, 104, 105] and late.tolist() == [1, 100, 101, 102]
    assert _manifest(out).keys() == {p.relative_to(out).as_posix() for p in out.rglob("*.*")} - {MANIFEST}
    assert len(rs.load_bars(out, symbol="000001.SZ")) == 3


def test_the_cut_of_the_shared_directory_is_the_shipped_sample(tmp_path):
    source = shared_data_dir() / "qlib_csi300"
    if not (source / "calendars" / "day.txt").is_file():
        missing_data(f"needs the qlib directory {source} (calendars/, instruments/, features/)")
    _cutter().main([str(source), str(tmp_path / "cut"), *CUT])
    assert _manifest(tmp_path / "cut") == _manifest(UNIVERSE)
    assert (tmp_path / "cut" / MANIFEST).read_bytes() == (UNIVERSE / MANIFEST).read_bytes()


def test_every_file_of_the_samples_ships_in_the_wheel():
    """setup.cfg's package_data patterns for rnnstrategy.datasets cover every bundled file."""
    config = configparser.ConfigParser()
    config.read(Path(__file__).resolve().parents[1] / "setup.cfg")
    patterns = config["options.package_data"]["rnnstrategy.datasets"].split()
    package = datasets.path("moutai").parents[1]
    shipped = {p for pattern in patterns for p in package.glob(pattern) if p.is_file()}
    bundled = {p for p in (package / "data").rglob("*") if p.is_file()} | {package / "SOURCES.md"}
    assert bundled <= shipped, sorted(str(p) for p in bundled - shipped)[:5]
