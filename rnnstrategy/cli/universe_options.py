"""The options of a qlib data directory as DATA, shared by ``backtest``, ``forecast`` and ``signal``:
``--symbol`` (one stock of the directory, the same as ``DATA::SYMBOL``), the bundled universe sample under
``--example --universe``, and, for ``forecast`` (whose options are not derived from
:class:`~rnnstrategy.config.DataSpec`), ``--universe`` and ``--members-only-training``.

The work is in :mod:`rnnstrategy.universe.as_of`; this module parses.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from rnnstrategy import datasets
from rnnstrategy.config import DataSpec

__all__ = ["add_symbol_option", "add_universe_choice", "example_last_day", "example_universe",
           "universe_example_note", "with_symbol"]


def add_symbol_option(parser: argparse.ArgumentParser) -> None:
    """``--symbol SYM``: one stock of the qlib data directory DATA."""
    parser.add_argument("--symbol", metavar="SYM", default=None,
                        help="one stock of the qlib data directory DATA (600519.SH, 600519 or sh600519): the same "
                             "as DATA::600519.SH")


def add_universe_choice(parser: argparse.ArgumentParser) -> None:
    """``--universe`` and ``--members-only-training`` with the help of :class:`~rnnstrategy.config.DataSpec`'s
    fields (for a command whose options are not derived from it)."""
    fields = {field.name: field for field in dataclasses.fields(DataSpec)}
    parser.add_argument("--universe", metavar="NAME|all|FILE", default=None,
                        help=fields["universe"].metadata["help"])
    parser.add_argument("--members-only-training", action="store_true",
                        help=fields["members_only_training"].metadata["help"])


def with_symbol(data: Any, args: argparse.Namespace) -> Any:
    """DATA with ``--symbol`` (``<directory>::<symbol>``); DATA itself without it."""
    from rnnstrategy.universe.as_of import with_symbol as joined

    return joined(data, getattr(args, "symbol", None))


def example_universe(universe: str | None) -> str | None:
    """The bundled qlib sample (:data:`rnnstrategy.datasets.UNIVERSE`) when ``--example`` comes with
    ``--universe``; None without a universe (the Moutai sample)."""
    return None if universe is None else str(datasets.path(datasets.UNIVERSE))


def universe_example_note() -> str:
    """What ``--example --universe`` says it uses."""
    return (f"using the bundled sample: {datasets.describe(datasets.UNIVERSE)}, against its index "
            f"{datasets.UNIVERSE_INDEX}")


def example_last_day() -> str:
    """The last trading day of the bundled universe sample (``signal --example --universe`` decides on it)."""
    from rnnstrategy.data.qlib_files import read_calendar

    return f"{read_calendar(datasets.path(datasets.UNIVERSE))[-1]:%Y-%m-%d}"
