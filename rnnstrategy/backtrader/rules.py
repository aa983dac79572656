"""One call to put a Cerebro under A-share broker rules.

Example::

    cerebro = bt.Cerebro()
    cerebro.broker.setcash(1_000_000)
    cerebro.adddata(feed, name="600519.SH")
    use_ashare_rules(cerebro)                        # every rule on
    use_ashare_rules(cerebro, price_limits=False)    # ... or some off

The call replaces ``cerebro.broker`` by an
:class:`~rnnstrategy.backtrader.broker.AShareBroker` that keeps the old broker's
settings (cash, cheat-on-close, slippage, filler ...) and named commission
schemes, and installs an :class:`~rnnstrategy.backtrader.commission.AShareCommission`
as the default commission scheme when any fee is on. Calling it again starts
from the current broker's settings. With every switch off the run is plain
Backtrader.
"""

from __future__ import annotations

from collections.abc import Mapping

import backtrader as bt

from rnnstrategy.ashare.limits import SecurityRules
from rnnstrategy.backtrader.broker import AShareBroker
from rnnstrategy.backtrader.commission import (
    STAMP_DUTY_SCHEDULE,
    TRANSFER_FEE_SCHEDULE,
    AShareCommission,
)
from rnnstrategy.errors import ConfigError

__all__ = ["use_ashare_rules"]


def use_ashare_rules(
    cerebro: bt.Cerebro,
    *,
    commission: bool = True,
    stamp_duty: bool = True,
    transfer_fee: bool = True,
    lots: bool = True,
    no_short: bool = True,
    t_plus_one: bool = True,
    price_limits: bool = True,
    skip_suspended: bool = True,
    commission_rate: float = 0.00025,
    min_commission: float = 5.0,
    securities: Mapping[str, SecurityRules] | None = None,
) -> AShareBroker:
    """Install the A-share broker rules on ``cerebro``; returns the new broker.

    Args:
        cerebro: the Cerebro to configure (before ``run``).
        commission: charge ``commission_rate`` of value, at least ``min_commission`` CNY.
        stamp_duty: charge stamp duty by trade date (sells only since 2008-09-19).
        transfer_fee: charge the transfer fee by trade date.
        lots, no_short, t_plus_one, price_limits, skip_suspended: the order
            rules of :class:`~rnnstrategy.backtrader.broker.AShareBroker`.
        commission_rate: broker commission as a fraction (0.00025 = 0.025 %).
        min_commission: minimum commission per order, CNY.
        securities: feed name -> :class:`~rnnstrategy.ashare.limits.SecurityRules`
            (ST status, listing date).

    Raises:
        ConfigError: when the current broker is not a ``BackBroker`` (a live
            broker), or a rate or ``securities`` entry is invalid.
    """
    old = cerebro.getbroker()
    if not isinstance(old, bt.brokers.BackBroker):
        raise ConfigError(
            f"use_ashare_rules needs Backtrader's backtesting broker, found {type(old).__name__}: "
            "call it on a Cerebro that still has its default broker"
        )
    settings = dict(old.p._getkwargs())
    for name in ("lots", "no_short", "t_plus_one", "price_limits", "skip_suspended", "securities"):
        settings.pop(name, None)
    broker = AShareBroker(
        **settings,
        lots=lots,
        no_short=no_short,
        t_plus_one=t_plus_one,
        price_limits=price_limits,
        skip_suspended=skip_suspended,
        securities=dict(securities or {}),
    )
    broker.comminfo.update({name: info for name, info in old.comminfo.items() if name is not None})
    if commission or stamp_duty or transfer_fee:
        broker.addcommissioninfo(
            AShareCommission(
                commission=commission_rate if commission else 0.0,
                min_commission=min_commission if commission else 0.0,
                stamp_duty=STAMP_DUTY_SCHEDULE if stamp_duty else (),
                transfer_fee=TRANSFER_FEE_SCHEDULE if transfer_fee else (),
            )
        )
    else:
        broker.comminfo[None] = old.comminfo[None]
    cerebro.setbroker(broker)
    return broker
