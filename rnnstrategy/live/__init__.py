"""From research to tomorrow: trading sessions and a paper-trading account.

:mod:`rnnstrategy.live.sessions` knows the Shanghai/Shenzhen trading calendar (next session,
last completed session, stale data, suspended days); :mod:`rnnstrategy.live.paper` keeps a
paper account that fills a session's orders at its open under the broker's A-share rules (its files
in :mod:`~rnnstrategy.live.account_files`, exact money in :mod:`~rnnstrategy.live.money`, the checks
before a fill in :mod:`~rnnstrategy.live.fill_checks`, the rules at the fill in
:mod:`~rnnstrategy.live.fill_rules`, corporate actions and dividend tax in
:mod:`~rnnstrategy.live.actions`, one writer at a time by :mod:`~rnnstrategy.live.lock`), and
:mod:`rnnstrategy.live.ledger` turns its journal into a backtest's trades, corporate actions and
daily equity.
Nothing here imports PyTorch or Backtrader; names are imported on first use.
"""

from rnnstrategy._lazy import lazy_exports

_EXPORTS = {
    "AccountError": "rnnstrategy.live.lock",
    "FillResult": "rnnstrategy.live.paper",
    "PaperAccount": "rnnstrategy.live.paper",
    "account_equity": "rnnstrategy.live.ledger",
    "journal_actions": "rnnstrategy.live.ledger",
    "journal_trades": "rnnstrategy.live.ledger",
    "price_mismatches": "rnnstrategy.live.ledger",
    "calendar_range": "rnnstrategy.live.sessions",
    "check_fresh": "rnnstrategy.live.sessions",
    "is_session": "rnnstrategy.live.sessions",
    "last_completed_session": "rnnstrategy.live.sessions",
    "missing_sessions": "rnnstrategy.live.sessions",
    "next_session": "rnnstrategy.live.sessions",
    "previous_session": "rnnstrategy.live.sessions",
    "sessions_between": "rnnstrategy.live.sessions",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
