import datetime as dt

import pytest

from rnnstrategy.ashare.limits import (
    at_limit_down,
    at_limit_up,
    daily_limit,
    limit_prices,
)
from rnnstrategy.ashare.security import SecurityRules, default_unlimited_days
from rnnstrategy.ashare.symbols import Board, symbol_info
from rnnstrategy.errors import ConfigError


def test_limit_prices_round_half_up_to_the_fen():
    # 10.05 * 1.10 = 11.055 -> 11.06 and 10.05 * 0.90 = 9.045 -> 9.05 (half up;
    # a float round() gives 11.05 because 11.055 is stored as 11.05499...)
    assert limit_prices(10.05, 0.10) == (9.05, 11.06)
    # 575.11 * 0.9 = 517.599 -> 517.60 and 575.11 * 1.1 = 632.621 -> 632.62
    assert limit_prices(575.11, 0.10) == (517.60, 632.62)
    # ST 5 %: 2.39 * 1.05 = 2.5095 -> 2.51 (600666.SH on 2023-02-28 opened at 2.51)
    assert limit_prices(2.39, 0.05) == (2.27, 2.51)


def test_limit_tests_equal_the_rounded_rule_on_fen_prices():
    # On prices on the fen grid, "at limit-up" must be exactly "price >= rounded limit-up".
    for cents in range(100, 5000, 37):
        prev = cents / 100
        for limit in (0.05, 0.10, 0.20, 0.30):
            down, up = limit_prices(prev, limit)
            for tick in range(-3, 4):
                price_up = round(up + tick / 100, 2)
                price_down = round(down + tick / 100, 2)
                assert at_limit_up(price_up, prev, limit) == (tick >= 0), (prev, limit, price_up)
                assert at_limit_down(price_down, prev, limit) == (tick <= 0), (prev, limit, price_down)


def test_adjusted_prices_are_judged_by_ratio_with_half_a_fen_slack():
    # 300124.SZ qfq, 2019-04-04 opened at its 10 % limit-up: 18.8493 after a close of 17.1375.
    # Rounding 17.1375 * 1.1 = 18.85125 to the fen gives 18.85 > 18.8493, which would miss it;
    # the ratio test uses 18.85125 - 0.005 = 18.84625 < 18.8493.
    assert limit_prices(17.1375, 0.10)[1] == 18.85
    assert at_limit_up(18.8493, 17.1375, 0.10)
    assert not at_limit_up(18.8493, 17.1375, 0.20)  # 17.1375 * 1.2 = 20.565
    # 300124.SZ 2020-11-02: open 47.6074 (+12.1 %) and close 50.973 (+20.0 %) after 42.4764.
    assert not at_limit_up(47.6074, 42.4764, 0.20)
    assert at_limit_up(50.973, 42.4764, 0.20)  # 42.4764 * 1.2 - 0.005 = 50.96668
    # 600519.SH 2018-10-29 opened at limit-down: 517.5978 after 575.1086 (575.1086 * 0.9 = 517.59774).
    assert at_limit_down(517.5978, 575.1086, 0.10)
    assert not at_limit_down(517.6778, 575.1086, 0.10)  # 517.59774 + 0.005 = 517.60274


def test_limit_arithmetic_rejects_bad_input():
    with pytest.raises(ConfigError, match=r"limit=10: a price limit is a fraction"):
        limit_prices(10.0, 10)
    with pytest.raises(ConfigError, match=r"prev_close=0.0: a previous close must be a positive price"):
        at_limit_up(1.0, 0.0, 0.1)


def test_unlimited_days_after_listing_by_board_and_reform():
    assert default_unlimited_days(Board.STAR, dt.date(2019, 7, 22)) == 5
    assert default_unlimited_days(Board.CHINEXT, dt.date(2020, 8, 24)) == 5
    assert default_unlimited_days(Board.CHINEXT, dt.date(2020, 8, 21)) == 1
    assert default_unlimited_days(Board.MAIN, dt.date(2023, 4, 10)) == 5
    assert default_unlimited_days(Board.MAIN, dt.date(2016, 8, 18)) == 1
    assert default_unlimited_days(Board.BSE, dt.date(2022, 1, 5)) == 1
    assert SecurityRules().unlimited_days(Board.STAR) == 0  # no listing date, no window
    rules = SecurityRules(listing_date=dt.date(2019, 7, 22), unlimited_first_days=3)
    assert rules.unlimited_days(Board.STAR) == 3


def test_daily_limit_uses_st_from_the_security_rules():
    main, chinext, star = symbol_info("600666"), symbol_info("300089"), symbol_info("688086")
    day = dt.date(2023, 2, 28)
    assert daily_limit(main, SecurityRules(), day) == 0.10
    assert daily_limit(main, SecurityRules(st=True), day) == 0.05
    assert daily_limit(main.with_st(), SecurityRules(), day) == 0.05  # the symbol's own flag is kept
    assert daily_limit(chinext, SecurityRules(st=True), day) == 0.20  # ChiNext ST after the reform
    assert daily_limit(chinext, SecurityRules(st=True), dt.date(2020, 8, 21)) == 0.05
    assert daily_limit(star, SecurityRules(st=True), day) == 0.20
    st_from_2023 = SecurityRules(st=lambda date: date >= dt.date(2023, 1, 1))
    assert daily_limit(main, st_from_2023, dt.date(2022, 12, 30)) == 0.10
    assert daily_limit(main, st_from_2023, day) == 0.05
    assert daily_limit(main, SecurityRules(), dt.date(1996, 12, 13)) is None  # before limits existed


def test_security_rules_validation():
    with pytest.raises(ConfigError, match=r"unlimited_first_days=5 needs listing_date"):
        SecurityRules(unlimited_first_days=5)
    with pytest.raises(ConfigError, match=r"unlimited_first_days=-1: use 0 or more days"):
        SecurityRules(listing_date=dt.date(2020, 1, 2), unlimited_first_days=-1)
    with pytest.raises(ConfigError, match=r"listing_date='2020-07-16': give a datetime.date"):
        SecurityRules(listing_date="2020-07-16")
