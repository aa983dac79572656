"""What a report calls things: the strategy, the benchmark and the security ("GRU forecast on 600519 贵州茅台"
against "CSI 300"): how a benchmark is named, and the titles of a run (:func:`run_titles`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from rnnstrategy.ashare.symbols import symbol_info
from rnnstrategy.errors import SymbolError
from rnnstrategy.report.names import security_label, security_name

__all__ = ["Titles", "benchmark_title", "run_titles"]


@dataclass(frozen=True)
class Titles:
    """What a report calls things.

    Attributes:
        strategy: the strategy's returns, e.g. ``"GRU forecast on 600519 贵州茅台"``.
        benchmark: the benchmark's returns, e.g. ``"CSI 300"``.
        security: the traded security, e.g. ``"600519 贵州茅台"`` (forecast plot titles).
        baseline: what the strategy is shown beside in the place of buy-and-hold of ``security``, when it is
            something else (the equal-weight basket of an index's members as they stood); "" for buy-and-hold.
    """

    strategy: str
    benchmark: str
    security: str
    baseline: str = ""

    @classmethod
    def for_run(cls, cell: str, security: str, benchmark: str) -> Titles:
        """Titles of a forecast-driven run: ``"<CELL> forecast on <security>"`` against ``benchmark``."""
        return cls(strategy=f"{cell.upper()} forecast on {security}", benchmark=benchmark, security=security)

    @property
    def buy_and_hold(self) -> str:
        """Buy-and-hold of the traded security, e.g. ``"Buy and hold 600519 贵州茅台"`` (or the ``baseline``)."""
        return self.baseline or f"Buy and hold {self.security}"

    def to_dict(self) -> dict[str, str]:
        return {"strategy": self.strategy, "benchmark": self.benchmark, "security": self.security,
                **({"baseline": self.baseline} if self.baseline else {})}


def benchmark_title(symbol: str, names_file: str | os.PathLike[str] | None = None) -> str:
    """How a benchmark is called: an index by its name (``"CSI 300"``), a stock by code and name."""
    name = security_name(symbol, names_file)
    try:
        is_index = symbol_info(symbol).is_index
    except SymbolError:
        return symbol
    if is_index:
        return name or symbol_info(symbol).ts_code
    return security_label(symbol, name)


def run_titles(strategy: str, symbols: Sequence[str], *, names: str | os.PathLike[str] | None,
               benchmark: str | None = None, name: str | None = None, benchmark_name: str | None = None) -> Titles:
    """What a run's report calls things: ``strategy`` (``"{security}"`` in it stands for the security's title)
    on the security (one stock by code and name, ``name`` else looked up in ``names``; several as "5 A-shares,
    equal weight"), against ``benchmark_name``, else the name of the ``benchmark`` symbol, else buy-and-hold of
    the security (a run without a benchmark)."""
    if len(symbols) == 1:
        security = security_label(symbols[0], name or security_name(symbols[0], names))
    else:
        security = f"{len(symbols)} A-shares, equal weight"
    if benchmark_name:
        compared = benchmark_name
    elif benchmark is not None:
        compared = benchmark_title(benchmark, names)
    else:
        compared = f"Buy and hold {security}"
    return Titles(strategy=strategy.replace("{security}", security), benchmark=compared, security=security)
