"""The pure A-share rules: AShareRules switches and securities, and the fee arithmetic of ashare/fees.py."""

import dataclasses
import datetime as dt

import pytest

from rnnstrategy.ashare.fees import (
    MAX_COMMISSION,
    STAMP_DUTY_SCHEDULE,
    TRANSFER_FEE_SCHEDULE,
    Fees,
    FeeSchedule,
    FeeStep,
    rate_on,
)
from rnnstrategy.ashare.rules import AShareRules
from rnnstrategy.ashare.security import SecurityRules
from rnnstrategy.errors import ConfigError

D = dt.date
SWITCHES = ("commission", "stamp_duty", "transfer_fee", "lots", "no_short", "t_plus_one", "price_limits",
            "skip_suspended", "corporate_actions")
OFF_BY_DEFAULT = ("dividend_tax",)  # rqalpha and qlib credit dividends gross

# -- AShareRules -------------------------------------------------------------------------------------


def test_every_rule_is_on_by_default():
    rules = AShareRules()
    assert all(getattr(rules, name) is True for name in SWITCHES)
    assert not any(getattr(rules, name) for name in OFF_BY_DEFAULT)
    assert rules.volume_limit == 0.25  # as rqalpha
    assert (rules.commission_rate, rules.min_commission) == (0.00025, 5.0)
    assert (rules.st, rules.listing_dates, rules.securities_file) == ((), {}, None)
    assert rules.securities() == {}
    assert rules.fee_schedule() == FeeSchedule()


def test_off_switches_every_rule_off_and_keeps_the_rates():
    off = AShareRules.off()
    assert [name for name in SWITCHES + OFF_BY_DEFAULT if getattr(off, name)] == []
    assert off.volume_limit is None
    assert (off.commission_rate, off.min_commission) == (0.00025, 5.0)
    assert off.fee_schedule() is None  # no fee at all: Backtrader's own commission scheme stays
    # the switch names of the class are exactly these, so off() cannot miss a new one silently
    assert [f.name for f in dataclasses.fields(AShareRules) if f.type in (bool, "bool")] == list(SWITCHES + OFF_BY_DEFAULT)


def test_fee_switches_turn_into_a_fee_schedule():
    assert AShareRules(commission=False).fee_schedule() == FeeSchedule(commission_rate=0.0, min_commission=0.0)
    assert AShareRules(stamp_duty=False).fee_schedule().stamp_duty == ()
    assert AShareRules(transfer_fee=False, commission_rate=0.0003).fee_schedule() == FeeSchedule(
        commission_rate=0.0003, transfer_fee=())


def test_bad_rates_dates_and_symbols_are_named():
    with pytest.raises(ConfigError, match=r"commission_rate=0.025: .* 0.025 % is commission_rate=0.00025"):
        AShareRules(commission_rate=0.025)
    with pytest.raises(ConfigError, match=r"min_commission=-1.0: use 0 or a positive amount in CNY"):
        AShareRules(min_commission=-1.0)
    with pytest.raises(ConfigError, match=r"listing date '1992/05/14' of 600666: give YYYY-MM-DD"):
        AShareRules(listing_dates={"600666": "1992/05/14"})
    with pytest.raises(ConfigError, match=r"A-share rules: .*'ABCDEF'"):
        AShareRules(st=("ABCDEF",))


def test_st_and_listing_dates_become_security_rules_by_tushare_code():
    rules = AShareRules(st=["SH600666"], listing_dates={"600666": "1992-05-14", "688981.SH": D(2020, 7, 16)})
    assert rules.st == ("SH600666",)  # a list is kept as a tuple: the rules stay frozen
    assert rules.securities() == {
        "600666.SH": SecurityRules(st=True, listing_date=D(1992, 5, 14)),
        "688981.SH": SecurityRules(st=None, listing_date=D(2020, 7, 16)),
    }


# -- fees on statement figures ---------------------------------------------------------------------


def test_fees_of_a_sell_after_the_2023_08_28_cut():
    # sell 100 at 1800.00 = 180,000.00 CNY: commission 0.025 % = 45.00, stamp duty 0.05 % = 90.00,
    # transfer fee 0.001 % = 1.80
    fees = FeeSchedule().fees(-100, 1800.0, D(2023, 9, 1))
    assert fees == Fees(commission=45.0, stamp_duty=90.0, transfer_fee=1.8)
    assert fees.total == pytest.approx(136.8)
    assert FeeSchedule().fees(100, 1800.0, D(2023, 9, 1)) == Fees(45.0, 0.0, 1.8)  # buys pay no stamp duty
    assert FeeSchedule().fees(-100, 1800.0, dt.datetime(2023, 8, 25, 15)) == Fees(45.0, 180.0, 1.8)  # 0.1 %


def test_fees_round_half_up_to_the_fen_in_decimal():
    # 100 * 1763.78 = 176,378.00: commission 44.0945 -> 44.09, transfer 1.76378 -> 1.76
    assert FeeSchedule().fees(100, 1763.78, D(2023, 3, 14)) == Fees(44.09, 0.0, 1.76)
    # 300 * 10.15 = 3,045.00: stamp duty 0.1 % = 3.045 -> 3.05 (half up; round() on the float gives 3.04)
    assert FeeSchedule().fees(-300, 10.15, D(2020, 1, 2)).stamp_duty == 3.05
    assert FeeSchedule(round_to_fen=False).fees(-300, 10.15, D(2020, 1, 2)).stamp_duty == 3.045
    # 1,000 CNY: commission 0.25 -> minimum 5.00; no fill, no minimum
    assert FeeSchedule().fees(100, 10.0, D(2022, 4, 29)) == Fees(5.0, 0.0, 0.01)
    assert FeeSchedule().fees(0, 10.0, D(2022, 4, 29)) == Fees(0.0, 0.0, 0.0)


def test_rates_follow_the_dated_tables():
    assert rate_on(STAMP_DUTY_SCHEDULE, D(2008, 9, 18), is_sell=False) == 0.001  # both sides until then
    assert rate_on(STAMP_DUTY_SCHEDULE, D(2008, 9, 19), is_sell=False) == 0.0
    assert rate_on(STAMP_DUTY_SCHEDULE, D(2023, 8, 28), is_sell=True) == 0.0005
    assert rate_on(TRANSFER_FEE_SCHEDULE, D(2022, 4, 28), is_sell=False) == 0.00002
    assert rate_on((FeeStep(D(2000, 1, 1), 0.002),), D(1999, 12, 31), is_sell=True) == 0.0


def test_bad_fee_schedules_are_named():
    with pytest.raises(ConfigError, match=rf"commission_rate=0.01: .* regulatory cap {MAX_COMMISSION}"):
        FeeSchedule(commission_rate=0.01)
    with pytest.raises(ConfigError, match=r"stamp_duty: steps must have increasing, distinct 'since' dates"):
        FeeSchedule(stamp_duty=[FeeStep(D(2020, 1, 1), 0.001), FeeStep(D(2019, 1, 1), 0.001)])
    with pytest.raises(ConfigError, match=r"transfer_fee: rate 1.5 from 2020-01-01 must be a fraction in \[0, 1\)"):
        FeeSchedule(transfer_fee=(FeeStep(D(2020, 1, 1), 1.5),))
    with pytest.raises(ConfigError, match=r"transfer_fee: 0.001 is not a FeeStep"):
        FeeSchedule(transfer_fee=(0.001,))
    assert FeeSchedule(stamp_duty=[]).stamp_duty == ()  # lists are kept as tuples
