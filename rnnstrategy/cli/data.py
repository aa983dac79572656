"""``rnnstrategy data``: inspect bar files and fill the download cache (symbols, or a whole universe)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

from tqdm import tqdm

from rnnstrategy.ashare.symbols import symbol_info
from rnnstrategy.cli.options import HelpFormatter
from rnnstrategy.cli.os_errors import one_line_os_errors
from rnnstrategy.cli.progress import progress as progress_display
from rnnstrategy.data import AkshareSource, BarCache, load_bars
from rnnstrategy.data.universe_fetch import (
    INDEX_BARS,
    MemberFetch,
    fetch_member,
    fetch_members,
    members_between,
)
from rnnstrategy.errors import ConfigError, DataError, RnnStrategyError
from rnnstrategy.files import check_cache_root, check_path_length, check_writable_dir

__all__ = ["register"]


def _add_load_options(parser: argparse.ArgumentParser, adjust_default: str | None = "qfq",
                      adjust_help: str = "price adjustment ('' = raw)") -> None:
    parser.add_argument("--start", help="first date, e.g. 2018-01-02 (default: whole history)")
    parser.add_argument("--end", help="last date (default: whole history)")
    parser.add_argument("--adjust", default=adjust_default, choices=["", "qfq", "hfq"], help=adjust_help)
    parser.add_argument("--cache-dir", help="download cache directory (default: bars/ under $RNNSTRATEGY_CACHE or the user cache dir)")


def register(commands: argparse._SubParsersAction) -> None:
    data = commands.add_parser("data", help="inspect bar files, fill the download cache")
    actions = data.add_subparsers(dest="action", required=True, metavar="ACTION")

    show = actions.add_parser(
        "show",
        help="load bars from a CSV or symbol and print a summary",
        formatter_class=HelpFormatter,
    )
    show.add_argument("source", metavar="DATA", help="CSV path or 6-digit symbol (e.g. 600519, sh000300)")
    _add_load_options(show)
    show.add_argument("--lenient", action="store_true", help="drop and report bad rows instead of failing")
    show.add_argument("--json", action="store_true", help="print the summary as JSON")
    show.set_defaults(func=one_line_os_errors(_show))

    fetch = actions.add_parser(
        "fetch",
        help="download bars with akshare into the cache for offline use",
        formatter_class=HelpFormatter,
    )
    fetch.add_argument("symbols", nargs="*", metavar="SYMBOL", help="codes such as 600519 300750.SZ sh000300")
    fetch.add_argument("--universe", metavar="NAME",
                       help="instead of SYMBOLs: every member of an index on any day from --start on (csi300, "
                       "csi500 from index-constitution, or a CSV of spells symbol,first,last): raw bars and "
                       "adjustment factors; run it again to resume or to retry the members that failed")
    _add_load_options(fetch, adjust_default=None, adjust_help="price adjustment of SYMBOL downloads ('' = raw; "
                      "default: qfq); --universe fetches raw bars with their factors")
    fetch.add_argument("--retries", type=int, default=3, help="download attempts per symbol")
    fetch.set_defaults(func=one_line_os_errors(_fetch))


def _source(args: argparse.Namespace, retries: int = 3) -> AkshareSource:
    return AkshareSource(cache=BarCache(args.cache_dir), retries=retries)


def _check_cache(args: argparse.Namespace) -> None:
    """The download cache a fetch fills must be a folder it can write, before any download."""
    if args.cache_dir is not None:
        check_writable_dir(args.cache_dir, "--cache-dir")
    else:
        check_cache_root()


def _summary(bars) -> dict[str, object]:
    info = None
    try:
        info = symbol_info(bars.attrs["symbol"])
    except RnnStrategyError:
        pass
    dropped = bars.attrs.get("dropped")
    return {
        "symbol": bars.attrs.get("symbol"),
        "board": info.board.value if info else None,
        "adjust": bars.attrs.get("adjust"),
        "format": bars.attrs.get("format", "akshare"),
        "rows": len(bars),
        "first": f"{bars.index[0]:%Y-%m-%d}",
        "last": f"{bars.index[-1]:%Y-%m-%d}",
        "last_close": float(bars["close"].iloc[-1]),
        "columns": list(bars.columns),
        "dropped_rows": dropped.count if dropped else 0,
    }


def _show(args: argparse.Namespace) -> int:
    check_path_length(args.source, "DATA")
    bars = load_bars(args.source, args.start, args.end, args.adjust, strict=not args.lenient, akshare=_source(args))
    summary = _summary(bars)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=1))
    else:
        for key, value in summary.items():
            print(f"{key:>12}: {value}")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    _check_cache(args)  # before any download
    if args.universe is not None:
        return _fetch_universe(args)
    if not args.symbols:
        raise ConfigError("nothing to fetch: give SYMBOLs (e.g. 600519 sh000300) or --universe NAME (e.g. csi300)")
    adjust = "qfq" if args.adjust is None else args.adjust
    source = _source(args, args.retries)
    failures = 0
    for symbol in progress_display(args.symbols, desc="fetch", unit="symbol", quiet=args.quiet):
        try:
            bars = load_bars(symbol, args.start, args.end, adjust, akshare=source)
        except RnnStrategyError as exc:
            failures += 1
            print(f"rnnstrategy: {symbol}: {exc}", file=sys.stderr)
            continue
        tqdm.write(f"{bars.attrs['symbol']}: {len(bars)} bars {bars.index[0]:%Y-%m-%d}..{bars.index[-1]:%Y-%m-%d}")
    print(f"cache: {source.cache.directory}")
    return 1 if failures else 0


def _date(text: str | None, option: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{option} {text!r} is not a date; write it like 2018-01-02") from None


def _universe_range(args: argparse.Namespace) -> tuple[dt.date, dt.date | None]:
    """--start and --end of a universe fetch, refusing what does not go with --universe."""
    if args.symbols:
        raise ConfigError(f"give SYMBOLs ({' '.join(args.symbols)}) or --universe {args.universe}, not both")
    if args.adjust not in (None, ""):
        raise ConfigError(f"--universe fetches raw bars with their adjustment factors; drop --adjust {args.adjust}")
    start, end = _date(args.start, "--start"), _date(args.end, "--end")
    if start is None:
        raise ConfigError(f"--universe {args.universe} needs --start (e.g. --start 2018-01-01): the stocks that "
                          "were members on any day from then on are fetched")
    if end is not None and end < start:
        raise ConfigError(f"--start {start} is after --end {end}")
    return start, end


def _fetch_universe(args: argparse.Namespace) -> int:
    """Raw bars and factors of every member of ``--universe`` from ``--start`` on; exit 1 when some failed."""
    from rnnstrategy.universe.membership_sources import load_membership

    start, end = _universe_range(args)
    symbols = members_between(load_membership(args.universe).spells, start, end)
    if not symbols:
        raise DataError(f"{args.universe}: no members between {start} and {end or 'today'}; check --start and --end")
    source = _source(args, args.retries)
    print(f"{args.universe}: {len(symbols)} members between {start} and {end or 'today'}: raw bars and "
          f"adjustment factors into {source.cache.directory}")
    results: list[MemberFetch] = []
    progress = progress_display(fetch_members(source, symbols, start, end), total=len(symbols), desc="fetch",
                                unit="stock", quiet=args.quiet)
    for result in progress:
        results.append(result)
        if result.status in ("fetched", "failed"):  # the cached and those without bars are counted at the end
            tqdm.write(result.describe(), file=sys.stderr if result.status == "failed" else sys.stdout)
    index = INDEX_BARS.get(str(args.universe).lower())
    benchmark = fetch_member(source, index, start, end) if index is not None else None
    if benchmark is not None:
        print(f"index {benchmark.describe()}", file=sys.stderr if benchmark.status == "failed" else sys.stdout)
    return _report_universe(args.universe, results, benchmark)


def _report_universe(name: str, results: list[MemberFetch], index: MemberFetch | None) -> int:
    labels = {"fetched": "fetched", "cached": "already cached", "no bars": "without bars", "failed": "failed"}
    by_status = {status: [r for r in results if r.status == status] for status in labels}
    counts = ", ".join(f"{len(found)} {labels[status]}" for status, found in by_status.items())
    print(f"{name}: {len(results)} members: {counts}")
    if by_status["no bars"]:
        print(f"without bars at akshare: {' '.join(r.symbol for r in by_status['no bars'])}")
    failed = by_status["failed"] + ([index] if index is not None and index.status == "failed" else [])
    if failed:
        print(f"rnnstrategy: {len(failed)} failed (what was fetched is kept; run the same command again to retry "
              f"them): {' '.join(r.symbol for r in failed)}", file=sys.stderr)
    return 1 if failed else 0
