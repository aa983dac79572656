import math

import pandas as pd
import pytest

from rnnstrategy.evaluation.metrics import forecast_metrics, verdict


@pytest.fixture
def bars():
    index = pd.date_range("2021-01-04", periods=5, freq="B", name="date")
    return pd.DataFrame(
        {"open": [10.0, 11.0, 12.0, 11.0, 13.0], "high": 14.0, "low": 9.0,
         "close": [10.5, 11.5, 11.5, 12.0, 13.0], "volume": 100.0},
        index=index,
    )


def test_metrics_by_hand(bars):
    forecasts = pd.DataFrame({"pred_open_1": [11.5, 11.0, 12.5], "pred_open_2": [12.0, 12.0, 12.0]},
                             index=bars.index[[0, 1, 3]])
    m = forecast_metrics(forecasts, bars)
    # h=1: rows 0,1,3 -> actual opens 11, 12, 13; errors 0.5, -1, -0.5
    assert m["n"] == 3
    assert m["rmse"] == pytest.approx(math.sqrt((0.25 + 1 + 0.25) / 3))
    assert m["mae"] == pytest.approx(2 / 3)
    assert m["mape"] == pytest.approx(100 * (0.5 / 11 + 1 / 12 + 0.5 / 13) / 3)
    # predicted moves from close 10.5, 11.5, 12.0: +1, -0.5, +0.5; actual +0.5, +0.5, +1 -> 2 of 3
    assert m["direction_hit_rate"] == pytest.approx(2 / 3)
    # previous close 10.5, 11.5, 12.0 vs 11, 12, 13: errors -0.5, -0.5, -1
    assert m["baseline_prev_close_rmse"] == pytest.approx(math.sqrt(1.5 / 3))
    # previous open 10, 11, 11 vs 11, 12, 13
    assert m["baseline_prev_open_rmse"] == pytest.approx(math.sqrt(6 / 3))
    assert m["rmse_ratio"] == pytest.approx(1.0)
    # squared errors 0.25, 1, 0.25 against 0.25, 0.25, 1: the loss differential averages 0
    assert m["dm_pvalue"] == pytest.approx(1.0) and m["h1"]["dm_abs_pvalue"] == pytest.approx(1.0)
    assert m["verdict"].startswith("ties the previous-close forecast: RMSE 1.000x [")
    assert m["verdict"].endswith("], DM p = 1.00") and m["verdict"] == m["h1"]["verdict"]
    # against the previous open the errors halve, but three dates prove nothing
    assert m["h1"]["rmse_ratio_prev_open"] == pytest.approx(0.5)
    assert m["h1"]["verdict_prev_open"].startswith("ties the previous-open forecast: RMSE 0.500x")
    # every realised move was up: "always up" hits all three days, so 2 of 3 is no evidence of skill
    assert m["h1"]["direction_always_up_hit_rate"] == 1.0 and m["h1"]["direction_pvalue"] == 1.0
    # h=2 only where open(t+2) is known: rows 0 and 1 -> actual 12, 11
    assert m["h2"]["n"] == 2 and m["h2"]["rmse"] == pytest.approx(math.sqrt((0 + 1) / 2))
    assert list(m)[:3] == ["n", "rmse", "mae"]


def test_unknown_future_gives_no_numbers(bars):
    forecasts = pd.DataFrame({"pred_open_1": [13.2]}, index=bars.index[[4]])
    m = forecast_metrics(forecasts, bars)
    assert m["n"] == 0 and "rmse" not in m and math.isnan(m["h1"]["rmse_ratio"])
    assert m["h1"]["verdict"] == "has no realised opens to compare with yet"


def test_verdict_wording():
    assert verdict(0.001, 0.996, (0.993, 0.999)) == \
        "beats the previous-close forecast: RMSE 0.996x [0.993, 0.999], DM p = 0.001"
    assert verdict(0.54, 0.996, (0.990, 1.002)).startswith("ties the previous-close forecast")
    assert verdict(0.01, 1.2).startswith("loses to the previous-close forecast")
