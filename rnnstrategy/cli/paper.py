"""``rnnstrategy paper fill`` and ``paper report``: a paper-trading account.

``fill`` books a session's orders (``orders.json`` of ``rnnstrategy signal``) at the session's open
(:meth:`rnnstrategy.live.paper.PaperAccount.fill`, bars read with :func:`rnnstrategy.data.load_bars`);
``report`` writes the account's record as a backtest's files (:func:`rnnstrategy.api.paper.paper_report`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rnnstrategy.ashare.rules import AShareRules
from rnnstrategy.cli.options import HelpFormatter, add_options, build, check_output_dir
from rnnstrategy.errors import ConfigError, DataError
from rnnstrategy.live.lock import DEFAULT_WAIT

__all__ = ["register"]


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("paper", formatter_class=HelpFormatter,
                                 help="a paper-trading account: book the orders of `rnnstrategy signal`, "
                                      "report it as a backtest")
    actions = parser.add_subparsers(dest="paper_command", required=True, metavar="ACTION")
    fill = actions.add_parser(
        "fill", help="fill a session's orders at its open under A-share rules",
        description="Fill the orders of ORDERS (orders.json of `rnnstrategy signal`) in the paper account in "
                    "ACCOUNT_DIR at their session's open, from the bars of DATA (which must hold that session and "
                    "the bar before it). Every order is journaled once: filling the same orders again books nothing.",
        formatter_class=HelpFormatter)
    fill.add_argument("account", type=Path, metavar="ACCOUNT_DIR", help="the paper account's folder")
    fill.add_argument("--orders", type=Path, required=True, metavar="FILE", help="orders.json of `rnnstrategy signal`")
    fill.add_argument("--data", nargs="+", required=True, metavar="DATA",
                      help="bars of the ordered and the held stocks: CSVs or symbols, a folder of CSVs (a universe) "
                           "or a qlib data directory (raw prices and their adjustment factor: the held stocks' "
                           "dividends and splits are booked on their ex-dates)")
    fill.add_argument("--cash", type=float, default=None, help="opening cash, to create the account (CNY)")
    fill.add_argument("--adjust", default="qfq", choices=("", "qfq", "hfq"), help="price adjustment of a symbol download")
    fill.add_argument("--suspended", nargs="+", default=(), metavar="SYMBOL",
                      help="stocks suspended on the session although their bars end before it (a suspension that "
                           "lasts): their orders are cancelled as suspended instead of stopping the fill")
    fill.add_argument("--force-account", action="store_true",
                      help="book orders that were decided for other holdings than this account's (by default the "
                           "cash and positions recorded in ORDERS must be the account's before the session)")
    fill.add_argument("--wait", type=float, default=DEFAULT_WAIT, metavar="SECONDS",
                      help="how long to wait for another `paper fill` of the same account to finish; it then sees "
                           "that process's orders as already booked")
    add_options(fill.add_argument_group("A-share broker rules (AShareRules)"), AShareRules)
    fill.set_defaults(func=_fill)

    report = actions.add_parser(
        "report", help="write the account's tearsheet, trades and equity as a backtest's files",
        description="Replay the journal of the paper account in ACCOUNT_DIR over the bars of DATA and write into "
                    "DIR what `rnnstrategy backtest` writes: report.html (quantstats tearsheet against the benchmark "
                    "and buy-and-hold), metrics.json, trades.csv, equity.csv, the equity plot and manifest.json. "
                    "One stock is compared with holding it, several with their equal-weight universe.",
        formatter_class=HelpFormatter)
    report.add_argument("account", type=Path, metavar="ACCOUNT_DIR", help="the paper account's folder")
    report.add_argument("--data", nargs="+", required=True, metavar="DATA",
                        help="bars of every stock the account traded (and of the universe to hold beside it): CSVs "
                             "or symbols, or a folder of CSVs")
    report.add_argument("--benchmark", default=None, metavar="INDEX",
                        help="benchmark index, CSV or symbol such as sh000300 (default: buy-and-hold of DATA)")
    report.add_argument("--start", default=None, metavar="DATE",
                        help="first day (default: the close the first orders were decided on)")
    report.add_argument("--end", default=None, metavar="DATE", help="last day (default: the last bar of DATA)")
    report.add_argument("--names", default=None, metavar="FILE",
                        help="stock list CSV (ts_code, name) for the titles (default: found beside DATA)")
    report.add_argument("--adjust", default="qfq", choices=("", "qfq", "hfq"),
                        help="price adjustment of a symbol download (the one `paper fill` used)")
    report.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory")
    report.set_defaults(func=_report)


def _fill(args: argparse.Namespace) -> int:
    from rnnstrategy.live import money
    from rnnstrategy.live.paper import ACCOUNT_FILE, PaperAccount

    try:
        content = json.loads(args.orders.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"--orders {args.orders}: cannot be read ({err.strerror})") from None
    except ValueError as err:
        raise DataError(f"--orders {args.orders}: not JSON ({err}); give orders.json of `rnnstrategy signal`") from None
    if not isinstance(content, dict) or "session" not in content or not isinstance(content.get("orders"), list):
        raise DataError(f"--orders {args.orders}: no session and orders; give orders.json of `rnnstrategy signal`")
    held = list(PaperAccount.open(args.account).positions) if (args.account / ACCOUNT_FILE).is_file() else []
    bars = _ordered_bars(args.data, [*content["orders"], *({"symbol": code} for code in held)], args.adjust)
    account = PaperAccount.open(args.account, cash=args.cash, wait=args.wait)
    decided_for = None if args.force_account else content
    result = account.fill(content["orders"], bars, build(AShareRules, args), session=content["session"],
                          decided_for=decided_for, suspended=args.suspended, wait=args.wait)
    if not args.quiet:
        print(result.summary())
        for line in result.booked:
            price = "-" if line["price"] is None else f"{line['price']:.2f}"
            fees = money.exact(line["commission"]) + money.exact(line["stamp_duty"]) + money.exact(line["transfer_fee"])
            detail = f", fees {fees:.2f}" if line["status"] == "filled" else ""
            reason = f" ({line['reason']})" if line["reason"] else ""
            print(f"  {line['symbol']} {line['side']} {line['shares']} @ {price}: {line['status']}{detail}{reason}")
        for line in result.actions:
            print(f"  {line['symbol']} {line['kind']} on {line['session']}: {line['shares_before']} -> "
                  f"{line['shares_after']} shares, cash {money.exact(line['cash']):.2f}, tax {money.exact(line['tax']):.2f}")
        print(f"cash {account.exact_cash:.2f} CNY; positions {account.positions or 'none'}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from rnnstrategy.api import paper_report

    check_output_dir(args.out)
    data = args.data[0] if len(args.data) == 1 else args.data
    run = paper_report(args.account, data, benchmark=args.benchmark, start=args.start, end=args.end,
                       adjust=args.adjust, names=args.names)
    written = run.write(args.out)
    if not args.quiet:
        print("\n".join(run.summary()))
        print(f"wrote {', '.join(str(path) for path in written)}")
    return 0


def _ordered_bars(sources: list[str], orders: list[object], adjust: str) -> dict[str, object]:
    """The bars of every ordered symbol among ``sources`` (a folder stands for its CSVs, a qlib data directory for
    its stocks; of those, only the ones an order names are read)."""
    from rnnstrategy.ashare.symbols import symbol_info
    from rnnstrategy.data.loader import load_bars
    from rnnstrategy.data.qlib_dir import QLIB_SEPARATOR
    from rnnstrategy.universe.sources import resolve_sources

    def code(name: object) -> str | None:
        try:
            return symbol_info(str(name)).ts_code
        except (ValueError, ConfigError, DataError):
            return None

    wanted = {code(order.get("symbol")) for order in orders if isinstance(order, dict)} - {None}
    bars = {}
    for source in sources:
        folder = Path(source).is_dir()
        for path in resolve_sources(source) if folder else [source]:
            name = path.rsplit(QLIB_SEPARATOR, 1)[1] if QLIB_SEPARATOR in path else Path(path).stem
            if folder and code(name) not in wanted and code(name) is not None:
                continue  # another stock of the folder (or qlib data directory)
            frame = load_bars(path, adjust=adjust)
            bars[str(frame.attrs.get("symbol", path))] = frame
    return bars
