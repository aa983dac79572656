"""Index membership as it stood: spells, the three sources, what was known by a day, and how
much of the index a run could trade (rnnstrategy.universe.membership*)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import shared_data_dir
from helpers import missing_data

from rnnstrategy.errors import DataError
from rnnstrategy.universe.membership import IndexMembership, Spell
from rnnstrategy.universe.membership_coverage import coverage, coverage_average
from rnnstrategy.data.qlib_files import read_calendar
from rnnstrategy.universe.membership_sources import load_membership

SPELLS = (
    "SH600000\t2020-01-02\t2020-03-31\n"   # leaves
    "SZ000001\t2020-01-02\t2020-12-31\n"
    "SH600519\t2020-02-03\t2020-04-30\n"   # joins late, leaves ...
    "SH600519\t2020-07-01\t2020-12-31\n"   # ... and re-joins
    "SH600036\t2020-01-02\t2020-06-30\n"
    "SH600036\t2020-05-01\t2020-09-30\n"   # overlaps the spell above: merged
)
DAYS = pd.bdate_range("2020-01-01", "2021-01-29")


@pytest.fixture
def small(tmp_path: Path) -> IndexMembership:
    path = tmp_path / "instruments" / "mini.txt"
    path.parent.mkdir()
    path.write_text(SPELLS)
    return load_membership("mini", directory=tmp_path)


def test_spells_join_leave_and_rejoin(small: IndexMembership) -> None:
    assert small.name == "mini"
    assert small.symbols == ("000001.SZ", "600000.SH", "600036.SH", "600519.SH")
    assert small.members_on("2020-01-02") == {"000001.SZ", "600000.SH", "600036.SH"}
    assert small.members_on("2020-02-03") == {"000001.SZ", "600000.SH", "600036.SH", "600519.SH"}
    assert small.members_on("2020-04-01") == {"000001.SZ", "600036.SH", "600519.SH"}
    assert small.members_on("2020-05-15") == {"000001.SZ", "600036.SH"}
    assert small.members_on("2020-07-01") == {"000001.SZ", "600036.SH", "600519.SH"}
    assert small.members_on("2020-10-01") == {"000001.SZ", "600519.SH"}
    assert small.members_on("2021-01-04") == frozenset()
    assert small.is_member("sh600519", "2020-04-30") and not small.is_member("600519", "2020-05-01")
    assert small.is_member("600519.SH", pd.Timestamp("2020-12-31")) and not small.is_member("nonsense", "2020-06-01")


def test_overlapping_spells_are_merged(small: IndexMembership) -> None:
    assert [s for s in small.spells if s.symbol == "600036.SH"] == [
        Spell("600036.SH", pd.Timestamp("2020-01-02"), pd.Timestamp("2020-09-30"))]
    assert len(small) == 5


def test_the_matrix_is_members_on_every_day(small: IndexMembership) -> None:
    shuffled = DAYS[np.random.default_rng(0).permutation(len(DAYS))]
    labels = ["sh600519", "000001.SZ", "600000", "not-a-code", "300750.SZ"]
    frame = small.matrix(shuffled, labels)
    assert list(frame.columns) == labels and frame.index.equals(shuffled)
    for day, row in frame.iterrows():
        assert list(row) == [small.is_member(s, day) for s in labels]
    assert small.counts(DAYS).loc["2020-02-03"] == 4
    assert small.matrix(DAYS).sum().to_dict() == {"000001.SZ": 261, "600000.SH": 64, "600036.SH": 195,
                                                  "600519.SH": 196}


def test_changes_by_day(small: IndexMembership) -> None:
    changes = small.changes
    assert changes.iloc[:4].values.tolist() == [
        [pd.Timestamp("2020-01-02"), "000001.SZ", "join"], [pd.Timestamp("2020-01-02"), "600000.SH", "join"],
        [pd.Timestamp("2020-01-02"), "600036.SH", "join"], [pd.Timestamp("2020-02-03"), "600519.SH", "join"]]
    assert changes.groupby("change").size().to_dict() == {"join": 5, "leave": 5}
    assert changes.query("symbol == '600519.SH'")["date"].dt.strftime("%m-%d").tolist() == [
        "02-03", "04-30", "07-01", "12-31"]


def test_both_csv_forms_and_the_qlib_file_agree(small: IndexMembership, tmp_path: Path) -> None:
    inclusive = tmp_path / "inclusive.csv"
    inclusive.write_text("symbol,first,last\n600000.SH,2020-01-02,2020-03-31\n000001.SZ,2020-01-02,\n")
    opt = tmp_path / "opt.csv"  # opt-out: the first day out, here a Monday after Friday 2020-04-03
    opt.write_text("symbol,name,opt-in,opt-out\nSH600000,浦发银行,2020-01-02,2020-04-06\nSZ000001,平安银行,2020-01-02,\n")
    first_form, opt_form = load_membership(inclusive), load_membership(opt)
    assert opt_form.spells[1] == Spell("600000.SH", pd.Timestamp("2020-01-02"), pd.Timestamp("2020-04-03"))
    assert first_form.spells[0].last is None  # an empty last day: still a member
    calendar = DAYS.drop(pd.Timestamp("2020-04-03"))  # a holiday on Friday: the last member day is Thursday
    assert load_membership(opt, calendar=calendar).spells[1].last == pd.Timestamp("2020-04-02")
    assert first_form.matrix(DAYS[:60]).equals(small.matrix(DAYS[:60], first_form.symbols))


@pytest.mark.parametrize(("text", "match"), [
    ("SH600000\t2020-01-02\n", r"mini.txt: line 1 'SH600000\\t2020-01-02' is not SYMBOL<TAB>first<TAB>last"),
    ("SH600000\t2020-01-02\t2020-13-01\n", r"mini.txt: unreadable last day '2020-13-01' of SH600000 on line 1"),
    ("XX600000\t2020-01-02\t2020-03-01\n", r"mini.txt: 'XX600000' on line 1 is not an A-share code"),
    ("SH600000\t2020-03-02\t2020-01-01\n", r"mini.txt: SH600000 on line 1 ends 2020-01-01 before it starts"),
    ("\n", r"mini.txt: no spells"),
])
def test_a_bad_instruments_file_is_named_with_its_fix(tmp_path: Path, text: str, match: str) -> None:
    (tmp_path / "instruments").mkdir()
    (tmp_path / "instruments" / "mini.txt").write_text(text)
    with pytest.raises(DataError, match=match):
        load_membership("mini", directory=tmp_path)


@pytest.mark.parametrize(("text", "match"), [
    ("code,from,to\n600000.SH,2020-01-02,\n", r"columns code, from, to are not symbol,first,last"),
    ("symbol,first,last\n", r"no spells below the header"),
    ("symbol,opt-in,opt-out\n600000.SH,2020/01/02,\n", r"unreadable opt-in day '2020/01/02' of 600000.SH on line 2"),
])
def test_a_bad_spells_csv_is_named_with_its_fix(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "spells.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=r"spells.csv: " + match):
        load_membership(path)


def test_an_unknown_index_or_file_says_what_to_give(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"'csi1000': no index membership of that name; give a qlib directory"):
        load_membership("csi1000")
    with pytest.raises(DataError, match=r"missing.csv: no such membership file"):
        load_membership(tmp_path / "missing.csv")
    with pytest.raises(DataError, match=r"nowhere: no such qlib data directory"):
        load_membership("csi300", directory=tmp_path / "nowhere")


def test_an_empty_membership_has_no_members(small: IndexMembership) -> None:
    before = small.truncated("2019-12-31")
    assert len(before) == 0 and before.symbols == () and before.members_on("2020-06-01") == frozenset()
    assert before.matrix(DAYS[:3], ["600000.SH"]).to_numpy().tolist() == [[False]] * 3
    assert small.matrix(pd.DatetimeIndex(["2020-03-31 15:00"]), ["600000.SH"]).iloc[0, 0]  # the day counts


def test_truncated_membership_is_what_was_known_by_the_day(small: IndexMembership) -> None:
    known = small.truncated("2020-04-15")
    assert known.spells == (
        Spell("000001.SZ", pd.Timestamp("2020-01-02"), None),
        Spell("600000.SH", pd.Timestamp("2020-01-02"), pd.Timestamp("2020-03-31")),
        Spell("600036.SH", pd.Timestamp("2020-01-02"), None),
        Spell("600519.SH", pd.Timestamp("2020-02-03"), None))  # its leave and re-join are in the future
    assert known.members_on("2020-11-02") == {"000001.SZ", "600036.SH", "600519.SH"}


def _assert_point_in_time(full: IndexMembership, cut: pd.Timestamp, days: pd.DatetimeIndex) -> None:
    """truncated(cut) agrees with the full membership up to cut, and a change after cut changes
    nothing up to cut."""
    before = days[days <= cut]
    assert full.truncated(cut).matrix(before, full.symbols).equals(full.matrix(before))
    later = pd.Timestamp(cut) + pd.Timedelta(days=1)
    changed = IndexMembership(
        [Spell(s.symbol, s.first, None) if s.last is not None and s.last >= cut else s for s in full.spells]
        + [("688981.SH", later, None), ("601398.SH", later + pd.Timedelta(days=30), None)], name=full.name)
    symbols = sorted(set(full.symbols) | set(changed.symbols))
    assert changed.matrix(before, symbols).equals(full.matrix(before, symbols))
    assert changed.truncated(cut).spells == full.truncated(cut).spells
    assert changed.matrix(days[days > cut], symbols).to_numpy().sum() != full.matrix(days[days > cut], symbols).to_numpy().sum()


def test_no_change_after_a_day_reaches_back_before_it(small: IndexMembership) -> None:
    for cut in ("2020-01-02", "2020-03-31", "2020-04-15", "2020-06-30", "2020-12-31"):
        _assert_point_in_time(small, pd.Timestamp(cut), DAYS)


# --- the real qlib directory -------------------------------------------------------------------

@pytest.fixture(scope="module")
def qlib_dir() -> Path:
    folder = shared_data_dir() / "qlib_csi300"
    if not (folder / "instruments" / "csi300.txt").is_file():
        missing_data(f"needs the qlib directory {folder} (instruments/csi300.txt, calendars/, features/)")
    return folder


@pytest.fixture(scope="module")
def csi300(qlib_dir: Path) -> IndexMembership:
    return load_membership("csi300", directory=qlib_dir)


@pytest.fixture(scope="module")
def calendar(qlib_dir: Path) -> pd.DatetimeIndex:
    return read_calendar(qlib_dir)


def test_the_real_csi300_file(csi300: IndexMembership, calendar: pd.DatetimeIndex) -> None:
    counts = csi300.counts(calendar)
    assert len(calendar) == 3966 and counts.between(300, 301).all()
    # 301 through 2013, then 300 but for 2014/2016/2017 spells; SOURCES.md's 299 on 2018-01-02
    # reads csi300_history.csv with its empty opt-in of SH600549 as no membership, while
    # csi300.txt (read here) holds SH600549 from 2010-01-04 to 2019-06-14
    assert counts[["2012-01-04", "2018-01-02", "2020-06-30", "2026-05-08"]].tolist() == [301, 300, 300, 300]
    assert (counts == 301).sum() == 1255
    assert len(csi300.symbols) == 791 and len(csi300) == 963
    assert "600549.SH" in csi300.members_on("2018-01-02")


def test_the_package_agrees_with_the_qlib_file(qlib_dir: Path, csi300: IndexMembership,
                                               calendar: pd.DatetimeIndex) -> None:
    package = load_membership("csi300", calendar=calendar)  # no directory: index-constitution
    assert package.source == "index_constitution.history('csi300')"
    for day in ("2010-01-04", "2012-01-04", "2018-01-02", "2020-06-30", "2023-12-29", "2026-05-08"):
        assert package.members_on(day) == csi300.members_on(day), day
    symbols = sorted(set(package.symbols) | set(csi300.symbols))
    differ = package.matrix(calendar, symbols) != csi300.matrix(calendar, symbols)
    # the one disagreement: the package dates SH600549's re-join 2017-02-14, the file's history leaves it empty
    assert differ.any().loc[lambda s: s].index.tolist() == ["600549.SH"]
    assert [differ.index[differ.any(axis=1)][i].date().isoformat() for i in (0, -1)] == ["2016-06-13", "2017-02-13"]
    # a directory without instruments/csi500.txt: the package, on the directory's calendar
    csi500 = load_membership("csi500", directory=qlib_dir)
    assert csi500.source == "index_constitution.history('csi500')"
    assert csi500.counts(calendar[-3:]).tolist() == [500, 500, 500]


def test_the_files_given_by_path_agree(qlib_dir: Path, csi300: IndexMembership, calendar: pd.DatetimeIndex) -> None:
    """The qlib file by its path, and csi300_history.csv (opt-in/opt-out, SH600549's blank opt-in taken
    as a member since the record begins) on the directory's calendar: the same members every day."""
    by_path = load_membership(qlib_dir / "instruments" / "csi300.txt")
    assert by_path.spells == csi300.spells
    history = load_membership(qlib_dir / "instruments" / "csi300_history.csv", calendar=calendar)
    assert history.matrix(calendar, csi300.symbols).equals(csi300.matrix(calendar))
    assert [s.last for s in history.spells if s.symbol == "600000.SH"] == [None]


def test_the_real_file_is_point_in_time(csi300: IndexMembership, calendar: pd.DatetimeIndex) -> None:
    for cut in ("2014-06-13", "2018-01-02", "2023-12-08"):
        _assert_point_in_time(csi300, pd.Timestamp(cut), calendar)


def _series_days(qlib_dir: Path, calendar: pd.DatetimeIndex, traded_only: bool) -> dict[str, pd.DatetimeIndex]:
    """The rows of every series in features/ (only its non-zero-volume rows where ``traded_only``),
    read from volume.day.bin with numpy: the first float32 is the calendar position of the first row."""
    days = {}
    for folder in sorted((qlib_dir / "features").iterdir()):
        values = np.fromfile(folder / "volume.day.bin", dtype="<f4")
        start, volume = int(values[0]), values[1:]
        rows = calendar[start:start + len(volume)]
        days[folder.name] = rows[volume > 0] if traded_only else rows
    return days


def test_coverage_on_the_real_directory(qlib_dir: Path, csi300: IndexMembership, calendar: pd.DatetimeIndex) -> None:
    from rnnstrategy.data.qlib_dir import read_qlib_bars
    from rnnstrategy.data.qlib_files import symbols_in

    bars = {symbol: read_qlib_bars(qlib_dir, symbol).index for symbol in symbols_in(qlib_dir)}
    assert bars["sh600309"].equals(_series_days(qlib_dir, calendar, traded_only=True)["sh600309"])
    traded = coverage(csi300, bars, calendar[calendar >= "2018-01-02"])
    day = traded.loc["2018-01-02"]
    # 15 members have no series at all, 8 more are suspended (zero volume) that day
    assert (day.members, day.with_bars, day.without_bars) == (300, 277, 23)
    assert day.without_share == pytest.approx(23 / 300)
    assert {"600068.SH", "600309.SH", "601216.SH"} <= set(day.without)  # no series; suspended; suspended
    average = coverage_average(traded)
    assert average["days"] == 2022
    assert average[["members", "with_bars", "without_bars"]].round(2).tolist() == [300.0, 293.33, 6.67]
    assert average["without_share"] == pytest.approx(0.022217, abs=1e-6)
    assert average["ever_without"] == 123
    # SOURCES.md counts members with a series (suspended days included): 283 of 301, 297 of 300,
    # 298 of 300 as here; 285 of 300 on 2018-01-02 where it says 284 of 299 (SH600549, see above)
    listed = coverage(csi300, _series_days(qlib_dir, calendar, traded_only=False),
                      pd.DatetimeIndex(["2012-01-04", "2018-01-02", "2021-06-30", "2023-12-29"]))
    assert listed[["with_bars", "members"]].values.tolist() == [[283, 301], [285, 300], [297, 300], [298, 300]]


def test_coverage_of_a_small_index(small: IndexMembership) -> None:
    bars = {"sh600519": DAYS, "000001": DAYS[DAYS != "2020-02-03"], "600036.SH": DAYS[:5], "junk": DAYS}
    daily = coverage(small, bars, pd.DatetimeIndex(["2020-01-02", "2020-02-03", "2020-07-01", "2021-01-04"]))
    assert daily.drop(columns="without").values.tolist() == [
        [3, 2, 1, 1 / 3], [4, 1, 3, 0.75], [3, 2, 1, 1 / 3], [0, 0, 0, 0.0]]
    assert daily["without"].tolist() == [("600000.SH",), ("000001.SZ", "600000.SH", "600036.SH"), ("600036.SH",), ()]
    assert coverage_average(daily)["ever_without"] == 3
