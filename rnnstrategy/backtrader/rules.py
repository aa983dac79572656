"""One call to put a Cerebro under A-share broker rules.

Example::

    cerebro = bt.Cerebro()
    cerebro.broker.setcash(1_000_000)
    cerebro.adddata(feed, name="600519.SH")
    use_ashare_rules(cerebro)                                # every rule on
    use_ashare_rules(cerebro, price_limits=False)            # ... or some off
    use_ashare_rules(cerebro, AShareRules(st=("600666",)))   # ... or a whole configuration

The call replaces ``cerebro.broker`` by an
:class:`~rnnstrategy.backtrader.broker.AShareBroker` that keeps the old broker's
settings (cash, cheat-on-close, slippage, filler ...) and named commission
schemes, and installs an :class:`~rnnstrategy.backtrader.commission.AShareCommission`
as the default commission scheme when any fee is on. Calling it again starts
from the current broker's settings. With every switch off the run is plain
Backtrader.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import backtrader as bt

from rnnstrategy.ashare.rules import AShareRules
from rnnstrategy.ashare.security import SecurityRules
from rnnstrategy.backtrader.broker import AShareBroker, securities_by_code
from rnnstrategy.backtrader.commission import AShareCommission
from rnnstrategy.data.securities import read_securities
from rnnstrategy.errors import ConfigError

__all__ = ["use_ashare_rules"]

_ORDER_RULES = ("lots", "no_short", "t_plus_one", "price_limits", "skip_suspended", "volume_limit",  # AShareBroker
                "corporate_actions", "dividend_tax")  # params


def use_ashare_rules(
    cerebro: bt.Cerebro,
    rules: AShareRules | None = None,
    *,
    securities: Mapping[str, SecurityRules] | None = None,
    **overrides: object,
) -> AShareBroker:
    """Install the A-share broker rules on ``cerebro``; returns the new broker.

    Args:
        cerebro: the Cerebro to configure (before ``run``).
        rules: the switches, rates and securities of the run; default ``AShareRules()``
            (every rule on).
        securities: feed name -> :class:`~rnnstrategy.ashare.security.SecurityRules`
            (ST status, listing date), merged over ``rules.securities()``; its entries win.
        **overrides: fields of :class:`~rnnstrategy.ashare.rules.AShareRules` replacing
            those of ``rules``, e.g. ``price_limits=False``.

    Raises:
        ConfigError: when the current broker is not a ``BackBroker`` (a live
            broker), a keyword is not a field of ``AShareRules``, or a rate or
            ``securities`` entry is invalid.
    """
    rules = _with_overrides(rules, overrides)
    old = cerebro.getbroker()
    if not isinstance(old, bt.brokers.BackBroker):
        raise ConfigError(
            f"use_ashare_rules needs Backtrader's backtesting broker, found {type(old).__name__}: "
            "call it on a Cerebro that still has its default broker"
        )
    settings = dict(old.p._getkwargs())
    for name in (*_ORDER_RULES, "securities"):
        settings.pop(name, None)
    broker = AShareBroker(
        **settings,
        **{name: getattr(rules, name) for name in _ORDER_RULES},
        securities={**rules.securities(_stock_list(rules)), **securities_by_code(securities)},
    )
    broker.comminfo.update({name: info for name, info in old.comminfo.items() if name is not None})
    schedule = rules.fee_schedule()
    if schedule is not None:
        broker.addcommissioninfo(AShareCommission.from_schedule(schedule))
    else:
        broker.comminfo[None] = old.comminfo[None]
    cerebro.setbroker(broker)
    return broker


def _with_overrides(rules: AShareRules | None, overrides: Mapping[str, object]) -> AShareRules:
    if rules is None:
        rules = AShareRules()
    elif not isinstance(rules, AShareRules):
        raise ConfigError(f"rules={rules!r}: give an AShareRules, e.g. AShareRules(price_limits=False), "
                          "or the switches as keywords, use_ashare_rules(cerebro, price_limits=False)")
    fields = [f.name for f in dataclasses.fields(AShareRules)]
    unknown = [name for name in overrides if name not in fields]
    if unknown:
        raise ConfigError(f"use_ashare_rules got unknown keyword(s) {', '.join(map(repr, unknown))}; "
                          f"valid: securities and the AShareRules fields {', '.join(fields)}")
    return dataclasses.replace(rules, **overrides)


def _stock_list(rules: AShareRules) -> dict[str, object]:
    """The entries of ``rules.securities_file`` (empty without one)."""
    return read_securities(rules.securities_file) if rules.securities_file else {}
