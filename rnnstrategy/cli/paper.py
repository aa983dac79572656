"""``rnnstrategy paper fill``: book a session's orders (``orders.json`` of ``rnnstrategy signal``) in a paper account.

The work is :meth:`rnnstrategy.live.paper.PaperAccount.fill`, at the orders' session's open, from bars
read with :func:`rnnstrategy.data.load_bars`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rnnstrategy.cli.options import HelpFormatter
from rnnstrategy.errors import ConfigError, DataError

__all__ = ["register"]


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("paper", help="a paper-trading account: book the orders of `rnnstrategy signal`",
                                 formatter_class=HelpFormatter)
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
                      help="bars of the ordered stocks: CSVs or symbols, or a folder of CSVs (a universe)")
    fill.add_argument("--cash", type=float, default=None, help="opening cash, to create the account (CNY)")
    fill.add_argument("--adjust", default="qfq", choices=("", "qfq", "hfq"), help="price adjustment of a symbol download")
    fill.set_defaults(func=_fill)


def _fill(args: argparse.Namespace) -> int:
    from rnnstrategy.live.paper import PaperAccount

    try:
        content = json.loads(args.orders.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"--orders {args.orders}: cannot be read ({err.strerror})") from None
    except ValueError as err:
        raise DataError(f"--orders {args.orders}: not JSON ({err}); give orders.json of `rnnstrategy signal`") from None
    if not isinstance(content, dict) or "session" not in content or not isinstance(content.get("orders"), list):
        raise DataError(f"--orders {args.orders}: no session and orders; give orders.json of `rnnstrategy signal`")
    bars = _ordered_bars(args.data, content["orders"], args.adjust)
    account = PaperAccount.open(args.account, cash=args.cash)
    result = account.fill(content["orders"], bars, session=content["session"])
    if not args.quiet:
        print(result.summary())
        for line in result.booked:
            price = "-" if line["price"] is None else f"{line['price']:.2f}"
            fees = line["commission"] + line["stamp_duty"] + line["transfer_fee"]
            detail = f", fees {fees:.2f}" if line["status"] == "filled" else ""
            reason = f" ({line['reason']})" if line["reason"] else ""
            print(f"  {line['symbol']} {line['side']} {line['shares']} @ {price}: {line['status']}{detail}{reason}")
        print(f"cash {account.cash:.2f} CNY; positions {account.positions or 'none'}")
    return 0


def _ordered_bars(sources: list[str], orders: list[object], adjust: str) -> dict[str, object]:
    """The bars of every ordered symbol among ``sources`` (a folder stands for its CSVs; of those, only the
    files named by an ordered symbol are read)."""
    from rnnstrategy.ashare.symbols import symbol_info
    from rnnstrategy.data.loader import load_bars
    from rnnstrategy.forecasting.universe import resolve_sources

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
            if folder and code(Path(path).stem) not in wanted and code(Path(path).stem) is not None:
                continue  # another stock of the folder
            frame = load_bars(path, adjust=adjust)
            bars[str(frame.attrs.get("symbol", path))] = frame
    return bars
