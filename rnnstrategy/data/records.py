"""The columns of a run's trade and equity records, shared by the stages that write them
(Backtrader, the paper ledger) and the report that reads them (so none imports another)."""

__all__ = ["EQUITY_COLUMNS", "TRADE_COLUMNS"]

TRADE_COLUMNS = ("date", "symbol", "side", "size", "price", "value", "commission", "stamp_duty", "transfer_fee")
"""One row per fill: ``side`` is ``buy`` or ``sell``, ``size`` in shares (positive), fees in CNY."""

EQUITY_COLUMNS = ("value", "cash", "position", "close", "return", "benchmark_return", "buy_and_hold_return")
"""One row per bar: portfolio value and cash (CNY), the position (shares of the first feed)
and its close, the day's return, the benchmark's, and that of buy-and-hold of the traded
stock (bought at the first open with the same cash, fees and lots)."""
