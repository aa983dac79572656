"""The columns of a run's trade and equity records, shared by the stages that write them
(Backtrader, the paper ledger) and the report that reads them (so none imports another)."""

__all__ = ["CORPORATE_ACTION_COLUMNS", "EQUITY_COLUMNS", "TRADE_COLUMNS"]

TRADE_COLUMNS = ("date", "symbol", "side", "size", "price", "value", "commission", "stamp_duty", "transfer_fee")
"""One row per fill: ``side`` is ``buy`` or ``sell``, ``size`` in shares (positive), fees in CNY."""

EQUITY_COLUMNS = ("value", "cash", "position", "close", "return", "benchmark_return", "buy_and_hold_return")
"""One row per bar: portfolio value and cash (CNY), the position (shares of the first feed)
and its close, the day's return, the benchmark's, and that of buy-and-hold of the traded
stock (bought at the first open with the same cash, fees and lots)."""

CORPORATE_ACTION_COLUMNS = ("date", "symbol", "kind", "cash_per_share", "share_ratio", "shares_before", "shares_after",
                            "cash", "tax")
"""One row per action booked on a holding (``corporate_actions.csv``): ``kind`` is ``dividend``, ``bonus`` or
``restructuring`` on the ex-date (``cash`` the dividend and cash in lieu credited, before ``tax``, the tax
withheld then), or ``dividend_tax`` on a sale (``tax`` the dividend tax the sale made due; the shares are the
holding after the sale, unchanged by the row); CNY, shares."""
