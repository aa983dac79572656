"""What a finished run is measured from, and the measures: :class:`RunReport` (equity, trades, forecasts,
titles) and the content of ``metrics.json`` (:func:`run_metrics`: performance beside the benchmark and
buy-and-hold, the Sharpe ratios' uncertainty, the excess return's test, trade statistics).

Plain data in, plain data out; quantstats (the headline figures) is imported when metrics are made.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from rnnstrategy.ashare.calendar import PERIODS_PER_YEAR
from rnnstrategy.data.records import EQUITY_COLUMNS, TRADE_COLUMNS
from rnnstrategy.errors import DataError
from rnnstrategy.evaluation.excess import excess_return_test
from rnnstrategy.evaluation.sharpe import (
    deflated_sharpe,
    probabilistic_sharpe,
    sharpe_interval,
)
from rnnstrategy.report.titles import Titles
from rnnstrategy.report.years import year_rows

__all__ = [
    "RunReport",
    "excess_verdict",
    "exposure",
    "run_metrics",
    "sharpe_uncertainty",
    "stocks_held",
    "trade_statistics",
]


@dataclass(frozen=True)
class RunReport:
    """Everything the tearsheet, the plots and the metrics are made from.

    Attributes:
        equity: by date (tz-naive): ``value`` (portfolio, CNY), ``cash``, ``position``
            (shares), ``close`` (of the traded security), ``return`` (the strategy's daily
            return), ``benchmark_return`` and ``buy_and_hold_return`` (buy-and-hold of the
            traded security from the first open, same cash, fees and lots; NaN in runs
            written before it was recorded).
        trades: fills with the columns of ``trades.csv``.
        forecasts: the forecast frame the strategy traded on; its ``attrs["folds"]`` (fold
            reports with loss history) feed the loss plot when present.
        titles: names of the strategy, the benchmark and the security.
        parameters: ``name: value`` pairs shown under the tearsheet title.
        periods_per_year: trading days per year for annualised figures.
        trials: configurations tried before choosing this one; > 1 adds the deflated
            Sharpe ratio to the metrics and the tearsheet.
        symbols: the stocks of a universe run (empty for one stock); its ``forecasts`` may be
            empty (they are written per symbol), and ``buy_and_hold_return`` is the equal-weight universe's.
        corporate_actions: the dividends, bonus shares, splits and dividend tax the broker booked
            (``corporate_actions.csv``, :data:`~rnnstrategy.data.records.CORPORATE_ACTION_COLUMNS`); None or
            empty: none (bars without an adjustment factor).
    """

    equity: pd.DataFrame
    trades: pd.DataFrame
    forecasts: pd.DataFrame
    titles: Titles
    parameters: Mapping[str, object] = field(default_factory=dict)
    periods_per_year: int = PERIODS_PER_YEAR
    trials: int = 1
    symbols: tuple[str, ...] = ()
    corporate_actions: pd.DataFrame | None = None

    def __post_init__(self) -> None:
        missing = [c for c in EQUITY_COLUMNS if c not in self.equity.columns]
        if missing:
            raise DataError(f"equity needs the columns {', '.join(EQUITY_COLUMNS)}; missing {', '.join(missing)}")
        if list(self.trades.columns) != list(TRADE_COLUMNS):
            raise DataError(f"trades need exactly the columns {','.join(TRADE_COLUMNS)}, "
                            f"got {','.join(self.trades.columns)}")
        if self.equity.empty:
            raise DataError("the backtest has no bars: nothing to report")

    @property
    def folds(self) -> Sequence[Mapping[str, object]]:
        """The fold reports of the forecasts (empty when unknown)."""
        return self.forecasts.attrs.get("folds") or []

    @property
    def returns(self) -> pd.Series:
        """The strategy's daily returns, named by its title."""
        return self.equity["return"].rename(self.titles.strategy)

    @property
    def benchmark(self) -> pd.Series:
        """The benchmark's daily returns, named by its title."""
        return self.equity["benchmark_return"].rename(self.titles.benchmark)

    @property
    def buy_and_hold(self) -> pd.Series | None:
        """Buy-and-hold's daily returns, named by its title; None for a run written before
        buy-and-hold was recorded."""
        held = self.equity["buy_and_hold_return"]
        return None if held.isna().all() else held.rename(self.titles.buy_and_hold)

    @property
    def benchmark_is_buy_and_hold(self) -> bool:
        """Whether the benchmark is buy-and-hold itself (a run without a benchmark)."""
        return self.buy_and_hold is not None and self.equity["benchmark_return"].equals(self.equity["buy_and_hold_return"])


def trade_statistics(trades: pd.DataFrame, equity: pd.DataFrame,
                     periods_per_year: int = PERIODS_PER_YEAR) -> dict[str, object]:
    """Counts, turnover, fees and exposure of a run.

    ``turnover`` is one-way: traded value (buys + sells) / 2 / mean portfolio value, so
    buying and later selling the whole portfolio once is 1.0; ``annual_turnover`` divides
    it by the years of the run. ``exposure`` is the share of days ending with a position.
    Fees in CNY.
    """
    fees = {name: float(trades[name].sum()) for name in ("commission", "stamp_duty", "transfer_fee")}
    traded = float(trades["value"].sum())
    mean_value = float(equity["value"].mean())
    years = len(equity) / periods_per_year
    turnover = traded / 2 / mean_value if mean_value > 0 else 0.0
    return {
        "count": int(len(trades)),
        "buys": int((trades["side"] == "buy").sum()),
        "sells": int((trades["side"] == "sell").sum()),
        "traded_value": traded,
        "turnover": turnover,
        "annual_turnover": turnover / years if years > 0 else 0.0,
        **fees,
        "total_fees": sum(fees.values()),
        "exposure": exposure(equity),
    }


def exposure(equity: pd.DataFrame) -> float:
    """The share of days ending with a position (the console's "exposure" and the tearsheet's "Time in Market";
    quantstats' own figure counts the days with a non-zero return instead, fee-only days and days sold at the
    open among them)."""
    return float((equity["position"] > 0).mean())


def stocks_held(trades: pd.DataFrame, dates: pd.DatetimeIndex,
                corporate_actions: pd.DataFrame | None = None) -> pd.Series:
    """How many stocks are held at the close of each of ``dates``, from the fills in ``trades`` and the share
    changes of ``corporate_actions`` (bonus shares, splits; ``corporate_actions.csv``'s columns)."""
    if trades.empty:
        return pd.Series(0, index=dates, name="position", dtype=float)
    size = trades["size"].astype(float)
    signed = size.where(trades["side"] == "buy", -size)
    dated, symbols = pd.to_datetime(trades["date"]), trades["symbol"]
    if corporate_actions is not None and not corporate_actions.empty:
        change = corporate_actions["shares_after"].astype(float) - corporate_actions["shares_before"].astype(float)
        signed = pd.concat([signed, change], ignore_index=True)
        dated = pd.concat([dated, pd.to_datetime(corporate_actions["date"])], ignore_index=True)
        symbols = pd.concat([symbols, corporate_actions["symbol"]], ignore_index=True)
    shares = (signed.groupby([dated, symbols]).sum()
              .unstack(fill_value=0.0).cumsum())
    held = (shares.round(6) > 0).sum(axis=1).astype(float)
    return held.reindex(held.index.union(dates)).ffill().reindex(dates).fillna(0.0).rename("position")


def excess_verdict(excess: Mapping[str, object], baseline: str) -> str:
    """A plain sentence on the strategy's excess return over ``baseline`` (e.g. "the equal-weight universe"),
    after costs: it "beats" (or "trails") the baseline only when the HAC t-test is significant at 5 %."""
    annual, p = excess.get("annualised"), excess.get("p_value")
    if annual is None or p is None:
        return f"No test of the excess return over {baseline}: too few days, or an excess that never varies."
    figures = f"{annual:+.1%} a year, HAC t {excess['hac_t']:.2f}, p = {p:.3f}"
    if p < 0.05:
        word = "beats" if annual > 0 else "trails"
        return f"After costs the strategy {word} {baseline} ({figures}): significant at 5 %."
    return (f"After costs the strategy does not beat {baseline}: its excess return ({figures}) is not "
            "significant at 5 %.")


def sharpe_uncertainty(returns: pd.Series, periods_per_year: int = PERIODS_PER_YEAR,
                       trials: int = 1) -> dict[str, object]:
    """The annualised 95 % interval of the Sharpe ratio (``sharpe_ci``), the probabilistic Sharpe
    ratio against 0 and, for ``trials`` > 1, the deflated Sharpe ratio and ``trials``
    (:mod:`rnnstrategy.evaluation.sharpe`)."""
    figures: dict[str, object] = {"sharpe_ci": list(sharpe_interval(returns, 0.95, periods_per_year)),
                                  "probabilistic_sharpe": probabilistic_sharpe(returns)}
    if trials > 1:
        figures |= {"deflated_sharpe": deflated_sharpe(returns, trials), "trials": trials}
    return figures


def run_metrics(report: RunReport, forecast: Mapping[str, object] | None = None) -> dict[str, object]:
    """The content of ``metrics.json``: period, strategy, benchmark and buy-and-hold performance
    (each Sharpe ratio with its interval and probabilistic Sharpe ratio, the strategy's deflated
    for ``report.trials`` > 1, its ``turnover_per_year``: ``trades.annual_turnover``), the strategy's
    excess return over the benchmark and over buy-and-hold with their information ratios and HAC
    t-tests, trades, the per-year table ``by_year`` (:func:`rnnstrategy.report.years.year_rows`), forecast.

    Args:
        report: the run.
        forecast: forecast quality, as :func:`rnnstrategy.evaluation.forecast_metrics` gives it.
    """
    from rnnstrategy.report.tearsheet import headline_metrics  # quantstats takes seconds to import

    equity = report.equity
    first_return = float(equity["return"].iloc[0])
    periods = report.periods_per_year

    def headline(returns: pd.Series, trials: int = 1) -> dict[str, object]:
        return {**headline_metrics(returns, periods), **sharpe_uncertainty(returns, periods, trials)}

    held = report.buy_and_hold
    trades = trade_statistics(report.trades, equity, periods)
    beside = {} if held is None else {
        "buy_and_hold": {"title": report.titles.buy_and_hold, **headline(held)},
        "excess_over_buy_and_hold": excess_return_test(report.returns, held, report.periods_per_year),
    }
    return {
        "period": {
            "start": f"{equity.index[0]:%Y-%m-%d}",
            "end": f"{equity.index[-1]:%Y-%m-%d}",
            "days": int(len(equity)),
            "periods_per_year": report.periods_per_year,
            "start_value": float(equity["value"].iloc[0] / (1 + first_return)),
            "final_value": float(equity["value"].iloc[-1]),
        },
        "strategy": {"title": report.titles.strategy, **headline(report.returns, report.trials),
                     "turnover_per_year": trades["annual_turnover"]},
        "benchmark": {"title": report.titles.benchmark, **headline(report.benchmark)},
        "excess_over_benchmark": excess_return_test(report.returns, report.benchmark, periods),
        **beside,
        "trades": trades,
        "by_year": year_rows(report.returns, report.benchmark, held, values=equity["value"], trades=report.trades,
                             periods_per_year=periods),
        "forecast": dict(forecast or {}),
    }
