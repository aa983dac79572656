"""Finished runs side by side: which forecast is better, and does the best strategy beat buy-and-hold?

:func:`compare_runs` reads run directories (written by ``rnnstrategy backtest``/``run`` or
``rs.backtest(...).write(dir)``) and writes three files into ``out``::

    compare.json         the runs' headline metrics and forecast verdicts, pairwise Diebold-Mariano
                         tests between their forecasts, the SPA test of the best strategy
    compare_equity.png   every run's growth of 1 CNY with buy-and-hold and the benchmark, drawdowns
    compare.html         the same as one offline page (the PNG embedded)

Forecasts are compared pairwise on the dates both runs forecast (squared errors of
``pred_open_h`` against the realised ``open_h``). Strategies are compared with buy-and-hold of
the first run's security by Hansen's SPA test on their common days, which accounts for how many
strategies were compared; when more were tried than are given here (``trials``), a Bonferroni
bound over all of them is applied as well. When the first run's benchmark is not buy-and-hold (an
index), the same test is run against it (:mod:`rnnstrategy.report.compare_spa`): a universe run is
judged against its equal-weight basket (buy-and-hold) and its index, and shows its daily rank IC.
Nothing here imports quantstats, PyTorch or Backtrader.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from rnnstrategy.errors import ConfigError, DataError
from rnnstrategy.evaluation.significance import (
    ALPHA,
    default_lags,
    diebold_mariano,
    format_pvalue,
)
from rnnstrategy.files import atomic_write_text
from rnnstrategy.report.compare_spa import spa_against_benchmark, spa_verdict
from rnnstrategy.report.folder import FILES as RUN_FILES
from rnnstrategy.report.folder import read_run, write_json
from rnnstrategy.report.measures import RunReport
from rnnstrategy.report.plots import figure_style, figure_text, save_png

__all__ = ["FILES", "HORIZONS", "compare_runs", "equity_comparison_figure", "summary_lines"]

log = logging.getLogger(__name__)

#: File names written into the output directory.
FILES = {"json": "compare.json", "equity_plot": "compare_equity.png", "html": "compare.html"}

HORIZONS = (1, 2)
"""Forecast horizons compared: the next open, and the open the default strategy trades on."""

_HEADLINE = ("total_return", "cagr", "sharpe", "max_drawdown", "volatility")
_CONFIG_KEYS = {"forecast": ("cell", "hidden", "lookback", "target", "seed"),
                "backtest": ("strategy", "execution", "params")}
_LOG_SCALE_RATIO = 4.0  # growth curves spanning more than this get a log axis
_HELD = "\0buy-and-hold"  # the column of buy-and-hold beside the runs' (no run can be named so)


@dataclass(frozen=True)
class _Run:
    name: str
    dir: Path
    report: RunReport
    metrics: dict[str, Any]
    manifest: dict[str, Any]

    @property
    def symbol(self) -> str:
        return str((self.manifest.get("data") or {}).get("symbol") or self.report.titles.security)

    @property
    def held(self) -> pd.Series:
        """Buy-and-hold of the security (the benchmark in a run written before buy-and-hold was recorded)."""
        held = self.report.buy_and_hold
        return self.report.benchmark if held is None else held


def compare_runs(run_dirs: Sequence[str | Path], out: str | Path, *, trials: int | None = None,
                 names: Sequence[str] | None = None) -> dict[str, Any]:
    """Compare finished runs; write ``compare.json``, ``compare_equity.png`` and ``compare.html`` into ``out``.

    Args:
        run_dirs: output directories of finished backtests (at least one).
        out: the directory to write into (created when missing).
        trials: how many strategies were tried before these were picked (at least
            ``len(run_dirs)``; default ``len(run_dirs)``). The SPA test accounts for the runs
            given; with more trials, the decision also needs the Bonferroni bound over all of them.
        names: a short, unique name per run (default: the directory names, made unique).

    Returns:
        What ``compare.json`` holds: ``runs`` (name, directory, configuration, headline metrics of
        the strategy, buy-and-hold and the benchmark, forecast verdicts), ``common`` (the days
        every run traded), ``warnings``, ``diebold_mariano`` (per horizon, matrices of statistic,
        p-value and days, and one entry per pair), ``spa`` (p-values, the best run, the sentence),
        ``spa_benchmark`` (the same against the benchmark; None when it is buy-and-hold) and ``files``.

    Raises:
        DataError: naming a directory that is not a finished run, or runs with no day in common.
        ConfigError: for names that do not match the runs, or ``trials`` below the number of runs.
    """
    if not run_dirs:
        raise ConfigError("compare needs at least one run directory")
    labels = _names(run_dirs, names)
    trials = len(run_dirs) if trials is None else int(trials)
    if trials < len(run_dirs):
        raise ConfigError(f"trials={trials} is fewer than the {len(run_dirs)} runs compared; "
                          f"give the number of strategies tried (at least {len(run_dirs)}) or leave it out")
    runs = [_read(Path(d), label) for d, label in zip(run_dirs, labels, strict=True)]
    warnings_: list[str] = []
    returns, common = _common_returns(runs, warnings_)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "runs": [_summary(run, out) for run in runs],
        "common": common,
        "warnings": warnings_,
        "diebold_mariano": _pairwise_dm(runs, warnings_),
        "spa": _spa(runs, returns, trials),
        "spa_benchmark": _spa_benchmark(runs, trials),
        "files": dict(FILES),
    }
    for line in warnings_:
        log.warning("%s", line)
    save_png(equity_comparison_figure(runs), out / FILES["equity_plot"])
    atomic_write_text(out / FILES["html"], _html(result, out / FILES["equity_plot"]))
    path = write_json(out / FILES["json"], result)
    log.info("compared %d runs into %s: %s", len(runs), out, result["spa"]["sentence"])
    return json.loads(path.read_text(encoding="utf-8"))  # as compare.json holds it (NaN as None)


# ---------------------------------------------------------------- reading


def _names(run_dirs: Sequence[str | Path], names: Sequence[str] | None) -> list[str]:
    if names is not None:
        names = [str(n) for n in names]
        if len(names) != len(run_dirs) or len(set(names)) != len(names) or not all(names):
            raise ConfigError(f"names={names} must give one unique, non-empty name per run "
                              f"({len(run_dirs)} runs)")
        return names
    paths = [Path(d).absolute() for d in run_dirs]
    labels = [p.name for p in paths]
    for depth in range(2, 5):  # runs/a/lstm and runs/b/lstm: a/lstm and b/lstm
        if len(set(labels)) == len(labels):
            break
        labels = ["/".join(p.parts[-depth:]) for p in paths]
    if len(set(labels)) != len(labels):
        labels = [f"{label} ({i})" for i, label in enumerate(labels, 1)]
    return labels


def _read(path: Path, name: str) -> _Run:
    if not path.is_dir():
        raise DataError(f"{path}: no such directory; give the output directory of a finished backtest")
    report = read_run(path)  # names the directory and the missing file
    try:
        metrics = json.loads((path / RUN_FILES["metrics"]).read_text(encoding="utf-8"))
        manifest = json.loads((path / RUN_FILES["manifest"]).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a finished backtest ({exc!r}); give the output directory of "
                        f"`rnnstrategy backtest` or `run`") from None
    if not isinstance(metrics, dict) or "strategy" not in metrics or not isinstance(manifest, dict):
        raise DataError(f"{path}: {RUN_FILES['metrics']} has no strategy metrics; give the output directory of "
                        f"`rnnstrategy backtest` or `run`")
    return _Run(name=name, dir=path, report=report, metrics=metrics, manifest=manifest)


def _summary(run: _Run, out: Path) -> dict[str, Any]:
    """One run in ``compare.json``: where, what, and how well."""
    config = run.manifest.get("config") or {}
    m = run.metrics
    forecast = m.get("forecast") or {}
    verdicts = {f"h{h}": {k: forecast[f"h{h}"].get(k) for k in
                          ("n", "rmse", "rmse_ratio", "rmse_ratio_ci", "dm_stat", "dm_pvalue", "verdict")}
                for h in HORIZONS if isinstance(forecast.get(f"h{h}"), Mapping)}
    return {
        "name": run.name,
        "dir": str(run.dir),
        "link": Path(os.path.relpath(run.dir / RUN_FILES["tearsheet"], out)).as_posix(),
        "title": run.report.titles.strategy,
        "symbol": run.symbol,
        "period": m.get("period", {}),
        "config": {key: ((_forecaster(run.manifest) if section == "forecast" else config.get(section)) or {}).get(key)
                   for section, keys in _CONFIG_KEYS.items() for key in keys},
        "strategy": m["strategy"],
        "buy_and_hold": m.get("buy_and_hold"),
        "benchmark": m.get("benchmark"),
        "excess_over_benchmark": m.get("excess_over_benchmark"),
        "excess_over_buy_and_hold": m.get("excess_over_buy_and_hold"),
        "trades": {k: (m.get("trades") or {}).get(k) for k in ("count", "turnover", "annual_turnover", "total_fees",
                                                                "exposure")},
        "forecast": verdicts,
        "cross_section": _cross_section(run.dir),
    }


def _forecaster(manifest: Mapping[str, Any]) -> Mapping[str, Any]:
    """The forecaster settings behind a run's forecasts: of the run that made them when it reused another's
    (``--forecasts``), else its own."""
    config = manifest.get("config") or {}
    made = (manifest.get("forecasts") or {}).get("config")
    reused = (config.get("backtest") or {}).get("forecasts")
    return made if reused and isinstance(made, Mapping) else config.get("forecast") or {}


def _cross_section(run_dir: Path) -> dict[str, Any] | None:
    """A universe run's daily rank IC and IC (mean, ICIR) from its ``summary.json``; None for one stock."""
    try:
        recorded = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    figures = recorded.get("cross_section") if isinstance(recorded, dict) else None
    if not isinstance(figures, Mapping):
        return None
    return {key: figures.get(key) for key in ("n_days", "rank_ic", "rank_icir", "rank_ic_nw_t", "ic", "icir")}


def _common_returns(runs: Sequence[_Run], warnings_: list[str]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The strategies' daily returns (one column per run) and the first run's buy-and-hold
    (column :data:`_HELD`) on the days every run traded; warnings when securities or periods differ."""
    symbols = sorted({run.symbol for run in runs})
    first = runs[0]
    if len(symbols) > 1:
        warnings_.append(f"the runs trade different securities ({', '.join(symbols)}): the SPA test compares "
                         f"every strategy with buy-and-hold of {first.symbol} (the first run's)")
    if first.report.buy_and_hold is None:
        warnings_.append(f"{first.name} has no buy-and-hold returns (an older run): its benchmark "
                         f"({first.report.titles.benchmark}) stands in for buy-and-hold")
    frame = pd.concat({run.name: run.report.returns for run in runs} | {_HELD: first.held}, axis=1, join="inner")
    frame = frame.dropna()
    if len({tuple(run.report.equity.index) for run in runs}) > 1:
        warnings_.append(f"the runs cover different days: strategies are compared on the {len(frame)} days "
                         f"they have in common" + (f" ({frame.index[0]:%Y-%m-%d}..{frame.index[-1]:%Y-%m-%d})"
                                                   if len(frame) else ""))
    if len(frame) < 2:
        raise DataError(f"the runs {', '.join(str(run.dir) for run in runs)} have {len(frame)} trading days in "
                        f"common; compare runs over overlapping periods")
    common = {"start": f"{frame.index[0]:%Y-%m-%d}", "end": f"{frame.index[-1]:%Y-%m-%d}", "days": len(frame),
              "symbols": symbols}
    return frame, common


# ---------------------------------------------------------------- tests


def _pairwise_dm(runs: Sequence[_Run], warnings_: list[str]) -> dict[str, Any]:
    """Diebold-Mariano tests between every two runs' forecasts of the same security, per horizon.

    Matrices are indexed [row][column]; the statistic is that of the row's squared errors minus
    the column's (negative: the row's forecasts are better), so it is antisymmetric and the
    p-value symmetric; the diagonal compares a run with itself (statistic 0, p 1).
    """
    names = [run.name for run in runs]
    result: dict[str, Any] = {
        "loss": "squared",
        "description": "Diebold-Mariano test of equal squared error of pred_open_h against open_h on the dates "
                       "both runs forecast; statistic of the row run minus the column run (negative: the row's "
                       "forecasts are better); Newey-West variance, Harvey-Leybourne-Newbold correction, "
                       "two-sided p",
        "runs": names,
    }
    pairs: list[dict[str, Any]] = []
    skipped: set[tuple[str, str]] = set()
    for h in HORIZONS:
        size = len(runs)
        stat, pvalue, days = ([[None] * size for _ in range(size)] for _ in range(3))
        if not any(f"pred_open_{h}" in run.report.forecasts for run in runs):
            continue
        for i, a in enumerate(runs):
            for j, b in enumerate(runs):
                if j < i:
                    continue
                test = _dm(a, b, h)
                if test is None:
                    if a.symbol != b.symbol and (a.name, b.name) not in skipped:
                        skipped.add((a.name, b.name))
                        warnings_.append(f"{a.name} and {b.name} forecast different securities ({a.symbol}, "
                                         f"{b.symbol}): their forecasts are not compared")
                    continue
                stat[i][j], pvalue[i][j], days[i][j] = test["dm_stat"], test["dm_pvalue"], test["days"]
                if i != j:
                    stat[j][i] = None if test["dm_stat"] is None else -test["dm_stat"] + 0.0  # no -0.0
                    pvalue[j][i], days[j][i] = test["dm_pvalue"], test["days"]
                    pairs.append({"a": a.name, "b": b.name, "horizon": h, **test})
        result[f"h{h}"] = {"stat": stat, "pvalue": pvalue, "days": days}
    result["pairs"] = pairs
    return result


def _dm(a: _Run, b: _Run, h: int) -> dict[str, Any] | None:
    """The DM test of run a's h-step forecasts against run b's on their common dates; None when
    they forecast different securities or one lacks the horizon."""
    columns = [f"pred_open_{h}", f"open_{h}"]
    if a.symbol != b.symbol or not all(c in a.report.forecasts and c in b.report.forecasts for c in columns):
        return None
    both = pd.concat({"a": a.report.forecasts[columns], "b": b.report.forecasts[columns]}, axis=1,
                     join="inner").dropna()
    error_a = (both[("a", columns[0])] - both[("a", columns[1])]).to_numpy()
    error_b = (both[("b", columns[0])] - both[("b", columns[1])]).to_numpy()
    statistic, p = diebold_mariano(error_a, error_b, h)
    rmse_a, rmse_b = (float(np.sqrt(np.mean(e**2))) if len(e) else math.nan for e in (error_a, error_b))
    lower = None if not len(both) or rmse_a == rmse_b else a.name if rmse_a < rmse_b else b.name
    significant = not math.isnan(p) and p < ALPHA
    return {
        "days": len(both),
        "first": f"{both.index[0]:%Y-%m-%d}" if len(both) else None,
        "last": f"{both.index[-1]:%Y-%m-%d}" if len(both) else None,
        "lags": default_lags(len(both), h) if len(both) else None,
        "rmse_a": rmse_a, "rmse_b": rmse_b,
        "dm_stat": None if math.isnan(statistic) else statistic,
        "dm_pvalue": None if math.isnan(p) else p,
        "lower_rmse": lower,
        "significant": significant,
        "verdict": (f"{lower} has the lower RMSE, significantly (DM p = {format_pvalue(p)})" if significant and lower
                    else f"tie: RMSE {rmse_a:.3f} vs {rmse_b:.3f}, DM p = {format_pvalue(p)}"),
    }


def _spa(runs: Sequence[_Run], returns: pd.DataFrame, trials: int) -> dict[str, Any]:
    """Does the best strategy beat buy-and-hold, given how many were compared (and tried)?"""
    title = runs[0].report.titles.buy_and_hold if runs[0].report.buy_and_hold is not None \
        else runs[0].report.titles.benchmark
    return spa_verdict(returns[[run.name for run in runs]], returns[_HELD], title=title, against="buy-and-hold",
                       trials=trials)


def _spa_benchmark(runs: Sequence[_Run], trials: int) -> dict[str, Any] | None:
    """Does the best strategy beat the first run's benchmark (a universe's index), on the days all have returns?
    None when the benchmark is buy-and-hold itself."""
    report = runs[0].report
    if report.buy_and_hold is None or report.benchmark_is_buy_and_hold:
        return None
    return spa_against_benchmark({run.name: run.report.returns for run in runs}, report.benchmark,
                                 title=report.titles.benchmark, trials=trials)


# ---------------------------------------------------------------- figure and page


def equity_comparison_figure(runs: Sequence[Any]) -> Figure:
    """Growth of 1 CNY of every run, with buy-and-hold and the benchmark of each security (once
    each), and their drawdowns below; a log axis when the curves span more than 4x."""
    curves: dict[object, tuple[str, pd.Series, dict[str, Any]]] = {}
    for run in runs:
        curves[run.name] = (run.name, (1 + run.report.returns.fillna(0.0)).cumprod(), {"lw": 1.2})
    first_day = runs[0].report.equity.index[0]
    for run in runs:
        report = run.report
        start = report.equity.index[0]
        since = "" if start == first_day else f" (from {start:%Y-%m-%d})"
        extra = [] if report.buy_and_hold is None else [("held", report.titles.buy_and_hold, report.buy_and_hold)]
        if not report.benchmark_is_buy_and_hold:
            extra.append(("benchmark", report.titles.benchmark, report.benchmark))
        for kind, title, series in extra:
            key = (kind, run.symbol if kind == "held" else title, start)  # each once, however it is titled
            style = {"lw": 1.0, "ls": "--", "color": "black"} if kind == "held" else \
                {"lw": 1.0, "ls": ":", "color": "tab:gray"}
            curves.setdefault(key, (title + since, (1 + series.fillna(0.0)).cumprod(), style))
    with figure_style():
        figure = Figure(figsize=(11, 6.5), layout="constrained")
        top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1))
        for label, growth, style in curves.values():
            top.plot(growth.index, growth, label=figure_text(label), **style)
            bottom.plot(growth.index, (growth / growth.cummax() - 1) * 100, **{**style, "lw": 0.8})
        values = np.concatenate([growth.to_numpy() for _, growth, _ in curves.values()])
        values = values[np.isfinite(values) & (values > 0)]
        if len(values) and values.max() / values.min() > _LOG_SCALE_RATIO:
            top.set_yscale("log")
        top.set_ylabel("growth of 1 CNY")
        top.legend(loc="upper left", fontsize="small")
        bottom.set_ylabel("drawdown (%)")
        figure.suptitle(figure_text(f"{len(runs)} runs compared with buy-and-hold and the benchmark"))
    return figure


_CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}.verdict{font-size:1.15em;padding:0.6em;background:#f6f6ff;
border-left:4px solid #66c}.warn{color:#a40}img{max-width:100%}small{color:#666}"""


def _pct(value: object) -> str:
    return "n/a" if not isinstance(value, (int, float)) or not math.isfinite(value) else f"{value:+.1%}"


def _num(value: object, digits: int = 2) -> str:
    return "n/a" if not isinstance(value, (int, float)) or not math.isfinite(value) else f"{value:.{digits}f}"


def _cell(key: str, value: object) -> str:
    """A headline metric as the table shows it: Sharpe as a number, volatility unsigned, returns signed."""
    if key == "sharpe":
        return _num(value)
    if key == "volatility" and isinstance(value, (int, float)) and math.isfinite(value):
        return f"{value:.1%}"
    return _pct(value)


def _html(result: Mapping[str, Any], png: Path) -> str:
    """The offline page: verdict, warnings, headline metrics, forecast verdicts, DM matrices, figure."""
    e = html.escape
    runs = result["runs"]
    spa = result["spa"]
    common = result["common"]
    dm = result["diebold_mariano"]
    pairs = "".join(f"<li>h={p['horizon']}: {e(p['a'])} vs {e(p['b'])}: {e(p['verdict'])}</li>" for p in dm["pairs"])
    warnings_ = "".join(f'<p class="warn">{e(w)}</p>' for w in result["warnings"])
    image = base64.b64encode(png.read_bytes()).decode("ascii")
    pvalues = ", ".join(f"{k} {format_pvalue(spa.get(f'pvalue_{k}'))}" for k in ("lower", "consistent", "upper"))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{len(runs)} runs compared</title><style>{_CSS}</style></head>
<body><h1>{len(runs)} runs compared</h1>
<p>{common['days']} common trading days {e(common['start'])}..{e(common['end'])}.</p>
<p class="verdict">{e(spa['sentence'][:1].upper() + spa['sentence'][1:])}.</p>
{_benchmark_verdict(result.get("spa_benchmark"))}
<p><small>SPA p-values {pvalues}; {spa['days']} days, stationary bootstrap with mean block {spa['block_size']} days,
{spa['reps']} replications, seed {spa['seed']}. {e(spa['description'])}.</small></p>
{warnings_}
<h2>Headline metrics</h2>{_metrics_table(runs)}
<h2>Forecast verdicts</h2>{_verdict_table(runs)}
<h2>Forecasts against each other (Diebold&ndash;Mariano)</h2>
<p><small>{e(dm['description'])}.</small></p>{_dm_tables(dm)}<ul>{pairs}</ul>
<h2>Equity</h2><img alt="growth of 1 CNY of every run" src="data:image/png;base64,{image}">
</body></html>
"""


def _metrics_table(runs: Sequence[Mapping[str, Any]]) -> str:
    """The headline metrics of every run, then of each buy-and-hold and benchmark once."""
    e = html.escape
    rows = []
    for run in runs:
        s = run["strategy"]
        cells = [f'<td class="l"><a href="{e(run["link"])}">{e(run["name"])}</a></td>', f'<td class="l">{e(run["title"])}</td>',
                 f'<td class="l">{e(str(run["period"].get("start")))}..{e(str(run["period"].get("end")))}</td>']
        cells += [f"<td>{_cell(k, s.get(k))}</td>" for k in _HEADLINE]
        cells += [f"<td>{run['trades'].get('count')}</td>"]
        cells += [f"<td>{_pct(excess.get('annualised'))} (IR {_num(excess.get('information_ratio'))}, "
                  f"p {format_pvalue(excess.get('p_value'))})</td>" for excess in
                  (run.get("excess_over_benchmark") or {}, run.get("excess_over_buy_and_hold") or {})]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    seen = set()
    for run in runs:
        for key in ("buy_and_hold", "benchmark"):
            other = run.get(key)
            if not other or other.get("title") in seen:
                continue
            seen.add(other.get("title"))
            cells = [f'<td class="l" colspan="2">{e(str(other.get("title")))}</td>', '<td class="l"></td>']
            cells += [f"<td>{_cell(k, other.get(k))}</td>" for k in _HEADLINE]
            rows.append("<tr>" + "".join(cells) + "<td></td><td></td><td></td></tr>")
    head = "".join(f"<th>{e(k.replace('_', ' '))}</th>" for k in _HEADLINE)
    return (f'<table><tr><th class="l">run</th><th class="l">strategy</th><th class="l">period</th>{head}'
            f"<th>fills</th><th>excess over the benchmark, a year</th><th>excess over buy-and-hold, a year</th></tr>"
            f"{''.join(rows)}</table>")


def _benchmark_verdict(spa: Mapping[str, Any] | None) -> str:
    """The SPA verdict against the benchmark (a universe's index), when it is not buy-and-hold."""
    if not spa:
        return ""
    return (f'<p class="verdict">{html.escape(spa["sentence"][:1].upper() + spa["sentence"][1:])}.</p>\n'
            f"<p><small>SPA p-value against the benchmark, consistent {format_pvalue(spa.get('pvalue_consistent'))} "
            f"on {spa['days']} days.</small></p>")


def _verdict_table(runs: Sequence[Mapping[str, Any]]) -> str:
    """Each run's forecast verdicts against the previous close, one column per horizon; a universe run's daily
    rank IC beside them."""
    e = html.escape
    ranked = any(run.get("cross_section") for run in runs)
    verdict_rows = "".join(
        f'<tr><td class="l">{e(run["name"])}</td>'
        + "".join(f'<td class="l">{e(str((run["forecast"].get(f"h{h}") or {}).get("verdict") or "n/a"))}</td>'
                  for h in HORIZONS)
        + (_rank_ic_cell(run.get("cross_section")) if ranked else "") + "</tr>" for run in runs)
    return ('<table><tr><th class="l">run</th>'
            + "".join(f'<th class="l">h={h} against the previous close</th>' for h in HORIZONS)
            + ("<th>daily rank IC (ICIR, Newey-West t)</th>" if ranked else "")
            + f"</tr>{verdict_rows}</table>")


def _rank_ic_cell(figures: Mapping[str, Any] | None) -> str:
    if not figures:
        return "<td>n/a</td>"
    return (f"<td>{_num(figures.get('rank_ic'), 3)} ({_num(figures.get('rank_icir'))}, "
            f"{_num(figures.get('rank_ic_nw_t'))})</td>")


def _dm_tables(dm: Mapping[str, Any]) -> str:
    """One Diebold-Mariano matrix per horizon: row against column, with p-values and common days."""
    e = html.escape
    dm_html = []
    for h in HORIZONS:
        matrix = dm.get(f"h{h}")
        if not matrix:
            continue
        header = "".join(f"<th>{e(n)}</th>" for n in dm["runs"])
        body = "".join(
            f'<tr><th class="l">{e(name)}</th>' + "".join(
                f"<td>{_num(matrix['stat'][i][j])} (p {format_pvalue(matrix['pvalue'][i][j])}, {matrix['days'][i][j]} d)</td>"
                if matrix["days"][i][j] is not None else "<td>n/a</td>" for j in range(len(dm["runs"]))) + "</tr>"
            for i, name in enumerate(dm["runs"]))
        dm_html.append(f'<h3>h = {h}</h3><table><tr><th class="l">row vs column</th>{header}</tr>{body}</table>')
    return "".join(dm_html)


def summary_lines(result: Mapping[str, Any]) -> list[str]:
    """A few console lines: one per run (total return, Sharpe, h = 1 verdict), buy-and-hold, the SPA sentence."""
    runs = result["runs"]
    width = max(len(run["name"]) for run in runs)
    common = result["common"]
    lines = [f"{len(runs)} runs on {common['days']} common days {common['start']}..{common['end']}"]
    for run in runs:
        s = run["strategy"]
        verdict = (run["forecast"].get("h1") or {}).get("verdict")
        rank_ic = (run.get("cross_section") or {}).get("rank_ic")
        quality = f"h=1: {verdict or 'n/a'}" if verdict or rank_ic is None else f"rank IC {_num(rank_ic, 3)}"
        lines.append(f"  {run['name']:<{width}}  total return {_pct(s.get('total_return')):>8}  Sharpe "
                     f"{_num(s.get('sharpe')):>5}  {quality}")
    held = runs[0].get("buy_and_hold") or runs[0].get("benchmark") or {}
    if held:
        lines.append(f"  {held.get('title')}: total return {_pct(held.get('total_return'))}, Sharpe "
                     f"{_num(held.get('sharpe'))}")
    lines += [f"  warning: {w}" for w in result["warnings"]]
    against_benchmark = [result["spa_benchmark"]["sentence"]] if result.get("spa_benchmark") else []
    return [*lines, result["spa"]["sentence"], *against_benchmark]
