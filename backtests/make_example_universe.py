"""Cut a qlib data directory down to a date range and a few symbols: the bundled universe sample.

    python backtests/make_example_universe.py ../shared/data/qlib_csi300 \\
        rnnstrategy/datasets/data/qlib_csi300_sample --start 2020-01-01 --end 2023-12-31 \\
        --members 30 --joiners 3 --leavers 3 --index sh000300

writes ``rnnstrategy.datasets.path("csi300_universe")`` exactly as shipped. The output is a valid qlib
data directory:

- ``calendars/day.txt``: the source's trading days inside ``--start .. --end``;
- ``features/<symbol>/<field>.day.bin`` for each chosen symbol and ``--field``: the source's float32
  values on those days copied byte for byte, behind a new first value, the start index rebased on
  the cut calendar;
- ``instruments/all.txt`` and ``instruments/<membership>.txt``: the source's lines of the chosen
  symbols, their days clipped to the range (spells wholly outside it dropped);
- ``MANIFEST.sha256``: the SHA-256 of every other file (``sha256sum -c`` reads it).

Which stocks (unless ``--symbols`` names them): among the stocks that were members of the index
(``instruments/<membership>.txt``) on some day of the range and have bars in it, the ``--members``
most liquid by median traded value (volume × raw close, raw = adjusted close / factor, over their
days with trade in the range); then the most liquid of the rest that joined the index inside the
range (not a member on its first day, a member later) until ``--joiners`` of the chosen joined, and
likewise ``--leavers`` that left (a member on some day, not on the last). Ties go by symbol, so the
cut depends on nothing but the source and the command line.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import numpy as np

FIELDS = ("open", "high", "low", "close", "volume", "factor")
MANIFEST = "MANIFEST.sha256"
_VALUE = np.dtype("<f4")


@dataclass(frozen=True)
class Spell:
    """One line of an instruments file: a symbol (as written there) and its first and last day."""

    symbol: str
    first: str
    last: str


@dataclass(frozen=True)
class Candidate:
    """A stock that was a member on some day of the range: its liquidity and membership changes."""

    folder: str
    liquidity: float  # median traded value on days with trade, CNY
    joined: bool  # not a member on the range's first day, a member later
    left: bool  # a member on some day, not on the range's last day


def fail(message: str) -> NoReturn:
    """Stop with a one-line error and exit status 2, as the package's commands do for bad input."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def read_spells(path: Path) -> list[Spell]:
    """The ``SYMBOL first last`` lines of a qlib instruments file, in file order."""
    return [Spell(*line.split()) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def clipped(spells: list[Spell], first: str, last: str) -> list[Spell]:
    """The spells overlapping ``first .. last`` (ISO days), their days clipped to it."""
    return [Spell(s.symbol, max(s.first, first), min(s.last, last)) for s in spells
            if s.first <= last and s.last >= first]


def read_series(source: Path, folder: str, field: str) -> tuple[int, bytes]:
    """A field file's start index and the bytes of its values (after the start index)."""
    content = (source / "features" / folder / f"{field}.day.bin").read_bytes()
    if len(content) < _VALUE.itemsize or len(content) % _VALUE.itemsize:
        fail(f"{source / 'features' / folder / field}.day.bin: not a whole number of float32 values")
    return int(np.frombuffer(content[:4], dtype=_VALUE)[0]), content[4:]


def cut_series(start: int, values: bytes, lo: int, hi: int) -> bytes | None:
    """The file of a series that starts at ``start`` cut to calendar positions ``lo .. hi``
    (inclusive), rebased to start at 0 with ``lo``; None when it has no row there."""
    stop = start + len(values) // _VALUE.itemsize
    first, end = max(start, lo), min(stop, hi + 1)
    if first >= end:
        return None
    body = values[(first - start) * _VALUE.itemsize : (end - start) * _VALUE.itemsize]
    return np.array([first - lo], dtype=_VALUE).tobytes() + body


def window_values(source: Path, folder: str, field: str, lo: int, hi: int) -> np.ndarray:
    """A field's values on calendar positions ``lo .. hi``, NaN where the series has no row."""
    start, values = read_series(source, folder, field)
    out = np.full(hi - lo + 1, np.nan)
    data = np.frombuffer(values, dtype=_VALUE).astype(np.float64)
    first, end = max(start, lo), min(start + len(data), hi + 1)
    if first < end:
        out[first - lo : end - lo] = data[first - start : end - start]
    return out


def candidates(source: Path, spells: list[Spell], days: list[str], lo: int, hi: int) -> list[Candidate]:
    """The members of some day of the range with bars in it, most liquid first (ties by symbol)."""
    found = []
    for symbol in sorted({s.symbol for s in spells}):
        folder = symbol.lower()
        if not (source / "features" / folder).is_dir():
            continue  # a member without bars in the source: nothing to cut
        volume = window_values(source, folder, "volume", lo, hi)
        raw_close = window_values(source, folder, "close", lo, hi) / window_values(source, folder, "factor", lo, hi)
        traded = volume > 0
        if not traded.any():
            continue
        own = [s for s in spells if s.symbol == symbol]
        joined = not any(s.first <= days[0] for s in own)
        left = not any(s.last >= days[-1] for s in own)
        found.append(Candidate(folder, float(np.median(volume[traded] * raw_close[traded])), joined, left))
    return sorted(found, key=lambda c: (-c.liquidity, c.folder))


def choose(found: list[Candidate], members: int, joiners: int, leavers: int) -> list[Candidate]:
    """The ``members`` most liquid, then the most liquid joiners and leavers until there are enough."""
    chosen = found[:members]
    for wanted, changed in ((joiners, lambda c: c.joined), (leavers, lambda c: c.left)):
        extra = [c for c in found if changed(c) and c not in chosen]
        chosen += extra[: max(0, wanted - sum(map(changed, chosen)))]
    return chosen


def write_instruments(path: Path, spells: list[Spell]) -> None:
    path.write_text("".join(f"{s.symbol}\t{s.first}\t{s.last}\n" for s in spells), encoding="utf-8")


def write_features(source: Path, out: Path, folders: list[str], fields: tuple[str, ...], lo: int, hi: int) -> None:
    """Every field file of ``folders`` cut to calendar positions ``lo .. hi``."""
    for folder in folders:
        (out / "features" / folder).mkdir(parents=True)
        for field in fields:
            cut = cut_series(*read_series(source, folder, field), lo, hi)
            if cut is None:
                fail(f"{source / 'features' / folder}/{field}.day.bin: no row inside the range; drop {folder}")
            (out / "features" / folder / f"{field}.day.bin").write_bytes(cut)


def write_manifest(out: Path) -> None:
    """``MANIFEST.sha256`` of every file under ``out``, sorted, in ``sha256sum`` format."""
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.name != MANIFEST)
    lines = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(out).as_posix()}\n" for p in files]
    (out / MANIFEST).write_text("".join(lines), encoding="utf-8")


def prepare_output(out: Path, replace: bool) -> None:
    """Make ``out`` an empty folder; an existing one is replaced only when this script wrote it."""
    if out.exists() and any(out.iterdir()):
        if not (replace and (out / MANIFEST).is_file()):
            fail(f"{out}: not empty; give a new folder, or --replace one this script wrote (it has {MANIFEST})")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="a qlib data directory (e.g. ../shared/data/qlib_csi300)")
    parser.add_argument("out", type=Path, help="the folder to write (new or empty)")
    parser.add_argument("--start", required=True, help="first day, YYYY-MM-DD")
    parser.add_argument("--end", required=True, help="last day, YYYY-MM-DD")
    parser.add_argument("--membership", default="csi300", help="instruments/<name>.txt of the index (default csi300)")
    parser.add_argument("--symbols", nargs="+", help="the stocks to keep, qlib spelling (sh600519); skips the choice")
    parser.add_argument("--members", type=int, default=30, help="most liquid members to keep (default 30)")
    parser.add_argument("--joiners", type=int, default=3, help="at least this many that joined in the range")
    parser.add_argument("--leavers", type=int, default=3, help="at least this many that left in the range")
    parser.add_argument("--index", nargs="*", default=["sh000300"], help="index series to keep (default sh000300)")
    parser.add_argument("--field", dest="fields", nargs="+", default=list(FIELDS), help="fields to keep")
    parser.add_argument("--replace", action="store_true", help="replace OUT when this script wrote it")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    source, out = args.source, args.out
    calendar = (source / "calendars" / "day.txt").read_text(encoding="utf-8").split()
    inside = [i for i, day in enumerate(calendar) if args.start <= day <= args.end]
    if not inside:
        fail(f"{source}: no trading day in {args.start} .. {args.end}; give a range inside the calendar")
    lo, hi = inside[0], inside[-1]
    days = calendar[lo : hi + 1]
    index_spells = clipped(read_spells(source / "instruments" / f"{args.membership}.txt"), days[0], days[-1])
    if args.symbols:
        folders = sorted(s.lower() for s in args.symbols)
    else:
        chosen = choose(candidates(source, index_spells, days, lo, hi), args.members, args.joiners, args.leavers)
        for rank, c in enumerate(chosen, 1):
            change = ", ".join(w for w, flag in (("joined", c.joined), ("left", c.left)) if flag)
            print(f"{rank:3d} {c.folder}  median traded value {c.liquidity / 1e6:9.1f} M CNY  {change}")
        folders = sorted(c.folder for c in chosen)
    prepare_output(out, args.replace)
    (out / "calendars").mkdir()
    (out / "calendars" / "day.txt").write_text("".join(f"{day}\n" for day in days), encoding="utf-8")
    write_features(source, out, [*folders, *(i.lower() for i in args.index)], tuple(args.fields), lo, hi)
    (out / "instruments").mkdir()
    keep = set(folders)
    all_spells = clipped(read_spells(source / "instruments" / "all.txt"), days[0], days[-1])
    write_instruments(out / "instruments" / "all.txt", [s for s in all_spells if s.symbol.lower() in keep])
    write_instruments(out / "instruments" / f"{args.membership}.txt",
                      [s for s in index_spells if s.symbol.lower() in keep])
    write_manifest(out)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {out}: {len(days)} days {days[0]} .. {days[-1]}, {len(folders)} stocks + "
          f"{len(args.index)} index, {size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
