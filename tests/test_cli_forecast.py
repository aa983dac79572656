import json
from dataclasses import replace

import pandas as pd
import pytest
from helpers import TINY, tiny_args

from rnnstrategy.cli import main
from rnnstrategy.forecasting.config import ForecastConfig

CONFIG = replace(TINY, retrain_every=60)  # 4 retrains over the 240 forecast days


def test_forecast_writes_frame_and_metrics(data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["forecast", str(data_dir / "SH600519.csv"), "--start", "2019-04-30", "--end", "2020-04-23",
                 "--out", str(out), "--store", str(tmp_path / "store"), *tiny_args(CONFIG)])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert ForecastConfig.from_dict(metrics["config"]) == CONFIG
    for key in ("n", "rmse", "mae", "mape", "direction_hit_rate", "baseline_prev_close_rmse", "rmse_ratio",
                "retrains", "seconds", "h1", "h2"):
        assert key in metrics
    assert metrics["n"] == 240 and metrics["retrains"] == 4 and metrics["trained"] == 4
    assert metrics["baseline_prev_close_rmse"] == pytest.approx(11.9335, abs=1e-4)  # DESIGN.md: 11.93
    frame = pd.read_csv(out / "forecasts.csv", index_col="date", parse_dates=True)
    assert list(frame.columns) == ["pred_open_1", "pred_open_2", "fold", "open_1", "open_2"]
    assert frame.index[0] == pd.Timestamp("2019-04-30") and frame.index[-1] == pd.Timestamp("2020-04-23")
    assert "RMSE" in capsys.readouterr().out
    # a second run reuses every fold
    assert main(["-q", "forecast", str(data_dir / "SH600519.csv"), "--start", "2019-04-30", "--end", "2020-04-23",
                 "--out", str(out), "--store", str(tmp_path / "store"), *tiny_args(CONFIG)]) == 0
    assert json.loads((out / "metrics.json").read_text())["trained"] == 0


def test_bad_option_value_is_one_line(data_dir, tmp_path, capsys):
    code = main(["forecast", str(data_dir / "SH600519.csv"), "--out", str(tmp_path), "--cell", "gru",
                 "--features", "gap,nope", "--no-store", *tiny_args()])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope" in err[0]
