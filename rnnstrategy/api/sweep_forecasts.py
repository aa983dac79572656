"""How the configurations of a sweep share their forecasts, and what a universe configuration adds to its row.

A forecaster configuration (the data, the forecaster and the window: :func:`forecaster_group`) is trained once:

- one stock: the first configuration of a group trains (through the fold store) and its strategy variants trade
  the same forecast frame, handed over in memory (:mod:`rnnstrategy.api.sweeps`);
- a universe (a folder, a qlib directory with ``universe``, several sources; pooled or per-stock forecasts): the
  first configuration of a group forecasts every stock into its own folder, and its strategy variants read them
  from there (``backtest.forecasts`` = that folder, as ``rnnstrategy backtest --forecasts`` does). Their manifests
  record it, so a resumed sweep knows a finished variant, and ``rnnstrategy run`` of a variant's manifest trades
  the same forecasts.

:func:`plan` gives each configuration as :func:`~rnnstrategy.api.definition.run` records it (with the index of a
qlib directory as its benchmark when none is given), which is what a finished folder's manifest is compared with.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnstrategy.api.sources import is_universe_config
from rnnstrategy.config import RunConfig
from rnnstrategy.universe.as_of import index_benchmark

__all__ = ["PlannedRun", "forecaster_group", "plan", "universe_row"]


@dataclass(frozen=True)
class PlannedRun:
    """One configuration of a sweep, ready to run.

    Attributes:
        name: its folder name under the sweep's output folder.
        config: the configuration as the run records it in its manifest.
        universe: whether it trades a universe.
        forecasts_from: the configuration whose forecasts this universe variant trades; None: its own.
    """

    name: str
    config: RunConfig
    universe: bool
    forecasts_from: str | None = None


def forecaster_group(config: RunConfig) -> str:
    """What a configuration's forecasts depend on: its data, forecaster and window. Configurations of one group
    trade the same forecasts."""
    key = [dataclasses.asdict(config.data), config.forecast.to_dict(), config.backtest.start, config.backtest.end]
    return json.dumps(json.loads(json.dumps(key, default=str)), sort_keys=True)


def _with_default_benchmark(config: RunConfig) -> RunConfig:
    """``config`` with the benchmark a run gives it: the index's own bars of a qlib directory when none is set."""
    if config.benchmark.source is not None:
        return config
    default = index_benchmark(config.data.source, config.data.universe)
    if default is None:
        return config
    return dataclasses.replace(config, benchmark=dataclasses.replace(config.benchmark, source=default))


def plan(configs: Sequence[tuple[str, RunConfig]], out: Path) -> list[PlannedRun]:
    """Every configuration as it will run: a universe variant of a forecaster group reads the forecasts of the
    group's first configuration from ``out/<first>`` (the group's configurations are adjacent, the first runs
    before its variants); a configuration that names its own ``backtest.forecasts`` keeps them."""
    makers: dict[str, str] = {}
    planned = []
    for name, config in configs:
        config = _with_default_benchmark(config)
        universe = is_universe_config(config)
        if not universe or config.backtest.forecasts:
            planned.append(PlannedRun(name, config, universe))
            continue
        maker = makers.setdefault(forecaster_group(config), name)
        if maker != name:
            reused = str((Path(out) / maker).resolve())
            config = dataclasses.replace(config, backtest=dataclasses.replace(config.backtest, forecasts=reused))
        planned.append(PlannedRun(name, config, universe, None if maker == name else maker))
    return planned


def universe_row(folder: Path, manifest: Mapping[str, Any], forecasts_from: str | None) -> dict[str, Any]:
    """What a universe configuration adds to its row of ``sweep.json``: where its forecasts came from, the folds
    it trained (0 when it traded another configuration's forecasts) and their daily rank IC."""
    recorded = _summary(folder)
    return {"forecasts_from": forecasts_from,
            "trained": _trained(recorded) if (manifest.get("forecasts") or {}).get("source") == "walk_forward" else 0,
            "rank_ic": (recorded.get("cross_section") or {}).get("rank_ic")}


def _summary(folder: Path) -> dict[str, Any]:
    """The universe forecast's ``summary.json`` in a run folder (empty when it is missing or unreadable)."""
    try:
        recorded = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return recorded if isinstance(recorded, dict) else {}


def _trained(recorded: Mapping[str, Any]) -> int | None:
    """Folds trained by a universe forecast: a pooled model's folds (each symbol's row repeats them), or the sum
    of every symbol's own."""
    counts = [row.get("trained") for row in recorded.get("symbols") or [] if isinstance(row, Mapping)]
    counts = [int(count) for count in counts if isinstance(count, (int, float))]
    if not counts:
        return None
    pooled = recorded.get("executor") == "pooled" or (recorded.get("config") or {}).get("pooled")  # on Ray: "ray"
    return max(counts) if pooled else sum(counts)
