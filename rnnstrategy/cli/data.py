"""``rnnstrategy data``: inspect bar files and fill the download cache."""

from __future__ import annotations

import argparse
import json
import sys

from tqdm import tqdm

from rnnstrategy.ashare.symbols import symbol_info
from rnnstrategy.cli.options import HelpFormatter
from rnnstrategy.data import AkshareSource, BarCache, load_bars
from rnnstrategy.errors import RnnStrategyError

__all__ = ["register"]


def _add_load_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--start", help="first date, e.g. 2018-01-02 (default: whole history)")
    parser.add_argument("--end", help="last date (default: whole history)")
    parser.add_argument("--adjust", default="qfq", choices=["", "qfq", "hfq"], help="price adjustment ('' = raw)")
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
    show.set_defaults(func=_show)

    fetch = actions.add_parser(
        "fetch",
        help="download bars with akshare into the cache for offline use",
        formatter_class=HelpFormatter,
    )
    fetch.add_argument("symbols", nargs="+", metavar="SYMBOL", help="codes such as 600519 300750.SZ sh000300")
    _add_load_options(fetch)
    fetch.add_argument("--retries", type=int, default=3, help="download attempts per symbol")
    fetch.set_defaults(func=_fetch)


def _source(args: argparse.Namespace, retries: int = 3) -> AkshareSource:
    return AkshareSource(cache=BarCache(args.cache_dir), retries=retries)


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
    bars = load_bars(args.source, args.start, args.end, args.adjust, strict=not args.lenient, akshare=_source(args))
    summary = _summary(bars)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=1))
    else:
        for key, value in summary.items():
            print(f"{key:>12}: {value}")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    source = _source(args, args.retries)
    failures = 0
    for symbol in tqdm(args.symbols, desc="fetch", unit="symbol", disable=args.quiet or None):
        try:
            bars = load_bars(symbol, args.start, args.end, args.adjust, akshare=source)
        except RnnStrategyError as exc:
            failures += 1
            print(f"rnnstrategy: {symbol}: {exc}", file=sys.stderr)
            continue
        tqdm.write(f"{bars.attrs['symbol']}: {len(bars)} bars {bars.index[0]:%Y-%m-%d}..{bars.index[-1]:%Y-%m-%d}")
    print(f"cache: {source.cache.directory}")
    return 1 if failures else 0
