"""qlib data directories as a source: the reader, damaged directories, the adjusted view, a directory
as a universe, and forecasts made from adjusted prices.

Most tests write a tiny qlib directory with numpy (:func:`write_qlib_dir`); the real-data tests read
``qlib_csi300/`` of the shared data and skip (fail in CI) without it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import TINY, missing_data, synthetic

import rnnstrategy as rs
from rnnstrategy.cli import main
from rnnstrategy.data import adjusted_bars, load_bars, qlib_source
from rnnstrategy.data.fingerprint import DataFingerprint
from rnnstrategy.data.frame import BadRows
from rnnstrategy.data.qlib_files import is_qlib_dir, read_instruments
from rnnstrategy.errors import DataError
from rnnstrategy.forecasting.features import make_features, make_targets
from rnnstrategy.forecasting.pooled.panel import build_panel
from rnnstrategy.forecasting.stream import WalkForwardStream
from rnnstrategy.forecasting.walkforward import walk_forward
from rnnstrategy.universe.sources import resolve_sources, split_sources
from rnnstrategy.universe.summary import stem

N_DAYS = 300
EX_DATE = 120  # calendar position of the synthetic stocks' ex-date
SUSPENDED = (40, 41, 42)  # rows with volume 0 (qlib's suspended days, prices repeat the last close)
NO_VOLUME = 77  # a row whose volume is NaN: no trade either


# ---------------------------------------------------------------- a tiny qlib directory

def write_field(root: Path, name: str, field: str, start: int, values: np.ndarray) -> Path:
    """``features/<name>/<field>.day.bin``: float32 start index, then the values."""
    folder = root / "features" / name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{field}.day.bin"
    np.concatenate([[start], values]).astype("<f4").tofile(path)
    return path


def raw_stock(seed: int, n: int) -> pd.DataFrame:
    """Synthetic raw bars in fen whose prices fall by a dividend on the ex-date, where the factor steps up by 5 %
    (so the adjusted prices run on), with suspended rows and one NaN volume."""
    bars = synthetic(n, seed=seed)
    step = np.where(np.arange(n) >= EX_DATE, 1.05, 1.0)
    bars[["open", "high", "low", "close"]] = (bars[["open", "high", "low", "close"]] / step[:, None]).round(2)
    bars["factor"] = step * (1.5 + seed)
    for row in SUSPENDED:
        bars.iloc[row, :4] = bars["close"].iloc[SUSPENDED[0] - 1]
        bars.iloc[row, 4] = 0.0
    bars.iloc[NO_VOLUME, 4] = np.nan
    return bars


def write_qlib_dir(root: Path, stocks: dict[str, int] | None = None, start: int = 5) -> Path:
    """A qlib directory of ``N_DAYS`` business days from 2020-01-01: stocks (qlib name -> seed) whose rows
    start at calendar position ``start``, and the index sh000300 (factor 1) from position 0."""
    stocks = {"sh600000": 1, "sz000001": 2} if stocks is None else stocks
    calendar = pd.bdate_range("2020-01-01", periods=N_DAYS)
    (root / "calendars").mkdir(parents=True)
    (root / "calendars" / "day.txt").write_text("".join(f"{d:%Y-%m-%d}\n" for d in calendar))
    (root / "instruments").mkdir()
    lines = [f"{name.upper()}\t{calendar[start]:%Y-%m-%d}\t{calendar[-1]:%Y-%m-%d}" for name in stocks]
    (root / "instruments" / "all.txt").write_text("\n".join(lines) + "\n")
    for name, seed in stocks.items():
        bars = raw_stock(seed, N_DAYS - start)
        for field in ("open", "high", "low", "close"):
            write_field(root, name, field, start, bars[field].to_numpy() * bars["factor"].to_numpy())
        write_field(root, name, "volume", start, bars["volume"].to_numpy())
        write_field(root, name, "factor", start, bars["factor"].to_numpy())
    index = synthetic(N_DAYS, seed=9) * [300, 300, 300, 300, 1e5]
    for field in ("open", "high", "low", "close", "volume"):
        write_field(root, "sh000300", field, 0, index[field].to_numpy())
    write_field(root, "sh000300", "factor", 0, np.ones(N_DAYS))
    return root


@pytest.fixture
def qlib(tmp_path) -> Path:
    return write_qlib_dir(tmp_path / "qlib")


def expected_raw(seed: int = 1, start: int = 5) -> pd.DataFrame:
    bars = raw_stock(seed, N_DAYS - start)
    bars.index = pd.bdate_range("2020-01-01", periods=N_DAYS)[start:].rename("date")
    return bars[(bars["volume"] > 0)]


# ---------------------------------------------------------------- the reader

def test_a_stock_reads_as_raw_prices_with_its_factor_and_without_suspended_days(qlib):
    bars = load_bars(qlib, symbol="600000.SH")
    expected = expected_raw()
    assert list(bars.columns) == ["open", "high", "low", "close", "volume", "factor"]
    assert bars.index.equals(expected.index) and bars.index.name == "date"
    assert len(bars) == N_DAYS - 5 - len(SUSPENDED) - 1  # zero- and NaN-volume rows are no bars
    np.testing.assert_array_equal(bars[["open", "high", "low", "close", "volume"]].to_numpy(),
                                  expected[["open", "high", "low", "close", "volume"]].to_numpy())
    np.testing.assert_allclose(bars["factor"], expected["factor"], rtol=1e-7)
    assert bars.attrs["symbol"] == "600000.SH" and bars.attrs["adjust"] == ""
    assert bars.attrs["factor_adjust"] == "hfq" and bars.attrs["format"] == "qlib"
    assert bars.attrs["source"] == f"qlib:{qlib}:sh600000"


@pytest.mark.parametrize("spelling", ["600000", "600000.SH", "sh600000", "SH600000"])
def test_every_usual_spelling_names_the_same_stock(qlib, spelling):
    expected = load_bars(qlib, symbol="600000.SH")
    pd.testing.assert_frame_equal(load_bars(qlib, symbol=spelling), expected)
    pd.testing.assert_frame_equal(load_bars(f"{qlib}::{spelling}"), expected)
    assert qlib_source(qlib, spelling) == f"{qlib}::sh600000"


def test_an_index_has_its_points_and_no_factor(qlib):
    bars = load_bars(qlib, symbol="sh000300")
    assert "factor" not in bars.columns and bars.attrs["adjust"] == "" and "factor_adjust" not in bars.attrs
    assert bars.attrs["symbol"] == "000300.SH" and len(bars) == N_DAYS
    expected = (synthetic(N_DAYS, seed=9)["close"] * 300).astype("float32").astype("float64")
    np.testing.assert_array_equal(bars["close"].to_numpy(), expected.to_numpy())


def test_start_end_and_history_count_days_with_trade(qlib):
    calendar = pd.bdate_range("2020-01-01", periods=N_DAYS)
    start, end = calendar[49], calendar[200]  # the file's rows start at 5: suspended on calendar days 45..47
    bars = load_bars(qlib, symbol="600000", start=start, end=end, history=4)
    traded = expected_raw().index
    first = traded[traded < start][-4]  # 4 days with trade before start: the suspended days do not count
    assert bars.index[0] == first == calendar[42] and bars.index[-1] == end
    assert bars.attrs["rows_not_read"] == int((traded < first).sum())


def test_a_directory_without_a_symbol_or_a_symbol_without_a_directory_is_refused(qlib, tmp_path):
    with pytest.raises(DataError, match="is a qlib data directory: name one stock in it"):
        load_bars(qlib)
    with pytest.raises(DataError, match="names a series of a qlib data directory"):
        load_bars(synthetic_csv(tmp_path), symbol="600000")
    with pytest.raises(DataError, match="holds no bars of 600519.SH"):
        load_bars(qlib, symbol="600519")
    with pytest.raises(DataError, match="no such directory"):
        load_bars(f"{tmp_path / 'nowhere'}::sh600000")


def synthetic_csv(tmp_path: Path) -> Path:
    path = tmp_path / "000001.csv"
    synthetic(50).assign(code="000001").to_csv(path, index_label="date")
    return path


def test_instruments_read_as_spells(qlib):
    spells = read_instruments(qlib, "all")
    assert spells["symbol"].tolist() == ["600000.SH", "000001.SZ"]
    assert spells["first"].iloc[0] == pd.Timestamp("2020-01-08") and len(spells.columns) == 3


# ---------------------------------------------------------------- damaged directories

def damage_length(root: Path) -> Path:
    path = root / "features" / "sh600000" / "close.day.bin"
    path.write_bytes(path.read_bytes()[:-2])
    return path


def damage_start(root: Path) -> Path:
    return write_field(root, "sh600000", "close", N_DAYS + 3, np.ones(3))


def damage_overrun(root: Path) -> Path:
    return write_field(root, "sh600000", "close", N_DAYS - 2, np.ones(3))


def damage_calendar(root: Path) -> Path:
    path = root / "calendars" / "day.txt"
    path.unlink()
    return path


def damage_missing_field(root: Path) -> Path:
    path = root / "features" / "sh600000" / "low.day.bin"
    path.unlink()
    return path


@pytest.mark.parametrize("damage, message", [
    (damage_length, "not a whole number of float32 values"),
    (damage_start, "the start index 303 is no position in the calendar"),
    (damage_overrun, "run past the calendar"),
    (damage_calendar, "no such file; a qlib data directory needs its trading calendar"),
    (damage_missing_field, "no such file; every series needs"),
])
@pytest.mark.parametrize("strict", [True, False])
def test_a_damaged_file_is_one_line_naming_it_in_both_modes(qlib, damage, message, strict):
    path = damage(qlib)
    with pytest.raises(DataError) as caught:
        load_bars(qlib, symbol="sh600000", strict=strict)
    text = str(caught.value)
    assert text.startswith(str(path)) and message in text and "\n" not in text


def spoil(root: Path, field: str, row: int, value: float) -> Path:
    """Set one value of sh600000's ``field`` (row of its file) to ``value``."""
    path = root / "features" / "sh600000" / f"{field}.day.bin"
    values = np.fromfile(path, dtype="<f4")
    values[row + 1] = value
    values.tofile(path)
    return path


@pytest.mark.parametrize("field, value", [("close", np.nan), ("open", -1.0), ("factor", 0.0), ("factor", np.nan),
                                          ("volume", -5.0)])
def test_a_damaged_value_fails_naming_its_file_or_is_dropped_and_reported(qlib, field, value):
    path = spoil(qlib, field, 150, value)
    day = expected_raw().index[expected_raw().index.get_loc(pd.bdate_range("2020-01-01", periods=N_DAYS)[155])]
    with pytest.raises(DataError, match=f"^{path}: .* on {day:%Y-%m-%d}. The file is damaged") as caught:
        load_bars(qlib, symbol="sh600000")
    assert "\n" not in str(caught.value)
    bars = load_bars(qlib, symbol="sh600000", strict=False)
    assert day not in bars.index and len(bars) == len(expected_raw()) - 1
    dropped = bars.attrs["dropped"]
    assert isinstance(dropped, BadRows) and dropped.count == 1 and str(path) in str(dropped)


def test_damage_outside_the_range_read_is_neither_read_nor_reported(qlib):
    spoil(qlib, "close", 10, np.nan)
    bars = load_bars(qlib, symbol="sh600000", start="2020-06-01")
    assert "dropped" not in bars.attrs


def test_an_ex_date_is_no_implausible_move_even_for_a_split(tmp_path):
    root = write_qlib_dir(tmp_path / "qlib", {"sh600000": 1})
    raw = raw_stock(1, N_DAYS - 5)
    raw["factor"] = np.where(np.arange(len(raw)) >= EX_DATE, 2.0, 1.0)  # 10-for-10 bonus: raw prices halve
    for field in ("open", "high", "low", "close"):
        raw.iloc[EX_DATE:, raw.columns.get_loc(field)] = (raw[field].iloc[EX_DATE:] / 2).round(2)
        write_field(root, "sh600000", field, 5, raw[field].to_numpy() * raw["factor"].to_numpy())
    write_field(root, "sh600000", "factor", 5, raw["factor"].to_numpy())
    bars = load_bars(root, symbol="sh600000")
    assert "dropped" not in bars.attrs and len(bars) == len(expected_raw())


def test_the_cli_shows_a_directory_symbol_and_fails_in_one_line_on_damage(qlib, capsys):
    assert main(["data", "show", f"{qlib}::600000.SH", "--json"]) == 0
    assert '"symbol": "600000.SH"' in capsys.readouterr().out
    path = spoil(qlib, "high", 150, np.nan)
    assert main(["data", "show", f"{qlib}::600000.SH"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith(f"rnnstrategy: error: {path}: "), err
    assert main(["data", "show", f"{qlib}::600000.SH", "--lenient", "--json"]) == 0
    assert '"dropped_rows": 1' in capsys.readouterr().out


# ---------------------------------------------------------------- raw and adjusted prices

def test_adjusted_bars_multiply_prices_and_divide_volume_by_the_factor(qlib):
    bars = load_bars(qlib, symbol="sh600000")
    adjusted = adjusted_bars(bars)
    assert list(adjusted.columns) == ["open", "high", "low", "close", "volume"]
    np.testing.assert_array_equal(adjusted["close"], bars["close"] * bars["factor"])
    np.testing.assert_array_equal(adjusted["volume"], bars["volume"] / bars["factor"])
    assert adjusted.attrs["adjust"] == "hfq" and "factor_adjust" not in adjusted.attrs
    assert adjusted.attrs["symbol"] == "600000.SH"
    plain = synthetic(20)
    assert adjusted_bars(plain) is plain
    assert rs.adjusted_bars is adjusted_bars


def test_the_fingerprint_covers_the_factor(qlib):
    bars = load_bars(qlib, symbol="sh600000")
    changed = bars.copy()
    changed.iloc[-1, changed.columns.get_loc("factor")] *= 1.01
    last = len(bars) - 1
    assert DataFingerprint(bars).upto(last) != DataFingerprint(changed).upto(last)
    assert DataFingerprint(bars).upto(last - 1) == DataFingerprint(changed).upto(last - 1)


def test_features_and_targets_are_made_from_adjusted_prices(qlib):
    bars = load_bars(qlib, symbol="sh600000")
    adjusted = adjusted_bars(bars)
    names = ("gap", "ret", "high", "low", "range", "volume", "open")
    pd.testing.assert_frame_equal(make_features(bars, names), make_features(adjusted, names))
    np.testing.assert_array_equal(make_targets(bars, 2, "logret"), make_targets(adjusted, 2, "logret"))
    ex_date = pd.bdate_range("2020-01-01", periods=N_DAYS)[5 + EX_DATE]
    gap = make_features(bars, ("gap",))["gap"]
    raw_gap = np.log(bars.loc[ex_date, "open"] / bars["close"].shift(1)[ex_date])
    assert gap[ex_date] - raw_gap == pytest.approx(np.log(1.05), abs=1e-6)  # the dividend is no fall


def test_forecasts_from_raw_prices_and_factor_equal_forecasts_from_adjusted_prices(qlib):
    bars = load_bars(qlib, symbol="sh600000")
    start = bars.index[240]
    raw = walk_forward(bars, TINY, start=start)
    adjusted = walk_forward(adjusted_bars(bars), TINY, start=start)
    assert len(raw) == len(adjusted) > 0 and raw["fold"].equals(adjusted["fold"])
    factor = bars["factor"].reindex(raw.index).to_numpy()[:, None]
    columns = ["pred_open_1", "pred_open_2"]
    # the same model on the same inputs: the adjusted forecasts, in raw prices at the factor of day t
    np.testing.assert_array_equal(raw[columns].to_numpy(), adjusted[columns].to_numpy() / factor)
    np.testing.assert_array_equal(raw["open_1"].dropna(), bars["open"].reindex(raw.index).shift(-1).dropna())


def test_the_pooled_panel_learns_from_adjusted_prices_and_keeps_raw_ones(tmp_path):
    root = write_qlib_dir(tmp_path / "qlib")
    frames = {s: load_bars(root, symbol=s) for s in ("sh600000", "sz000001")}
    adjusted = {s: adjusted_bars(b) for s, b in frames.items()}
    names = ("gap", "ret", "volume")
    panel = build_panel(frames, names, 10, feature_norm="rank")
    same = build_panel(adjusted, names, 10, feature_norm="rank")
    np.testing.assert_array_equal(panel.features, same.features)
    np.testing.assert_array_equal(panel.label, same.label)
    np.testing.assert_array_equal(panel.close, np.concatenate([b["close"] for b in frames.values()]))


# ---------------------------------------------------------------- a directory as a universe

def test_a_directory_is_a_universe_of_its_stocks_without_the_indexes(qlib, tmp_path):
    sources = resolve_sources(qlib)
    assert sources == [f"{qlib}::sh600000", f"{qlib}::sz000001"]
    assert split_sources(str(qlib)) == (sources, [])
    assert [stem(s) for s in sources] == ["600000.SH", "000001.SZ"]
    assert [load_bars(s).attrs["symbol"] for s in sources] == ["600000.SH", "000001.SZ"]
    folder = tmp_path / "csvs"
    folder.mkdir()
    synthetic(30).assign(code="000001").to_csv(folder / "000001.csv", index_label="date")
    (folder / "features").mkdir()  # a CSV folder stays one, whatever else it holds
    assert not is_qlib_dir(folder) and resolve_sources(folder) == [str(folder / "000001.csv")]


def test_a_universe_forecast_fails_the_damaged_series_alone(qlib, tmp_path):
    damage_length(qlib)
    config = replace(TINY, retrain_every=200)  # one fold a stock
    start = f"{pd.bdate_range('2020-01-01', periods=N_DAYS)[250]:%Y-%m-%d}"
    summary = rs.forecast(qlib, config, start=start, out=tmp_path / "run", executor="inprocess", store=None).summary
    rows = summary.set_index("symbol")
    assert rows.loc["600000.SH", "status"] == "failed" and "close.day.bin" in rows.loc["600000.SH", "message"]
    assert rows.loc["000001.SZ", "status"] == "ok" and rows.loc["000001.SZ", "forecasts"] > 0


# ---------------------------------------------------------------- the shared qlib_csi300 directory

@pytest.fixture(scope="module")
def csi300(data_dir) -> Path:
    path = data_dir / "qlib_csi300"
    if not is_qlib_dir(path):
        missing_data(f"needs qlib_csi300/ of the shared data sets; not at {path} (set RNNSTRATEGY_DATA)")
    return path


def test_moutai_trades_at_its_raw_prices_and_its_factor_gives_its_dividend(csi300):
    bars = rs.load_bars(csi300, symbol="600519.SH", start="2020-01-02", end="2022-12-30")
    assert bars.loc["2020-04-24", "close"] == 1250.56
    previous, ex_date = bars.index.get_indexer([pd.Timestamp("2022-06-29"), pd.Timestamp("2022-06-30")])
    assert ex_date == previous + 1
    factor = bars["factor"].to_numpy()
    dividend = bars["close"].iloc[previous] * (1 - factor[previous] / factor[ex_date])
    assert dividend == pytest.approx(21.675, rel=1e-3)


def test_the_shared_directory_is_a_universe_of_762_stocks_with_its_indexes_apart(csi300):
    sources = resolve_sources(csi300)
    assert len(sources) == 762 and not any(s.endswith(("sh000300", "sh000905", "sh000852")) for s in sources)
    index = load_bars(csi300, symbol="sh000300", start="2020-01-02", end="2020-12-31")
    assert "factor" not in index.columns and index.attrs["symbol"] == "000300.SH"
    spells = read_instruments(csi300, "csi300")
    on = pd.Timestamp("2021-06-30")
    assert ((spells["first"] <= on) & (spells["last"] >= on)).sum() == 300


def test_a_stream_given_the_factor_forecasts_as_walk_forward_on_the_frame(qlib):
    bars = load_bars(qlib, symbol="sh600000")
    start = bars.index[240]
    expected = walk_forward(bars, TINY, start=start)
    stream = WalkForwardStream(TINY, start=start, symbol="600000.SH")
    got = {}
    for date, row in bars.iterrows():
        pred = stream.update(date, *row[["open", "high", "low", "close", "volume", "factor"]])
        if pred is not None:
            got[date] = pred
    assert list(got) == list(expected.index)
    np.testing.assert_array_equal(np.array(list(got.values())), expected[["pred_open_1", "pred_open_2"]].to_numpy())
