"""One definition per setting: every field of the run's dataclasses, and every strategy
parameter, can be set from the command line and from a TOML run definition."""

from __future__ import annotations

import dataclasses
import json
import re
import typing
from typing import Any, Literal

import pytest

from rnnstrategy.cli import build_parser
from rnnstrategy.cli.backtest import run_config_from_args
from rnnstrategy.cli.options import flag_of
from rnnstrategy.config import TABLES, load_run_config
from rnnstrategy.forecasting.config import ForecastConfig
from rnnstrategy.forecasting.pooled.config import PooledConfig

SPECIAL = {  # values a field's type alone cannot suggest
    ("data", "source"): "other.csv",
    ("data", "names"): "names.csv",
    ("backtest", "strategy"): "overnight_gap",
    ("backtest", "start"): "2019-01-02",
    ("backtest", "end"): "2020-06-30",
    ("backtest", "forecasts"): "old/forecasts.csv",
    ("backtest", "params"): {"entry_threshold": 0.002},
    ("benchmark", "source"): "sh000300",
    ("forecast", "features"): ("gap", "range"),
    ("forecast", "device"): "cpu",
    ("forecast", "train_window"): 500,
    ("forecast", "train_days"): 500,
    ("rules", "st"): ("600666.SH", "000004.SZ"),
    ("rules", "listing_dates"): {"688981.SH": "2020-07-16"},
    ("rules", "securities_file"): "basic_stock_data.csv",
}


def _changed(table: str, field: dataclasses.Field, hint: Any) -> Any:
    """A valid value different from the field's default."""
    if (table, field.name) in SPECIAL:
        return SPECIAL[table, field.name]
    default = field.default
    hint, _ = _strip_none(hint)
    if hint is bool:
        return not default
    if typing.get_origin(hint) is Literal:
        return next(choice for choice in typing.get_args(hint) if choice != default)
    if hint is int:
        return (default or 0) + 1
    if hint is float:
        return default / 2 if default else 0.25
    if typing.get_origin(hint) is tuple:
        return (16, 8)
    if hint is str:
        return "x"
    raise AssertionError(f"[{table}] {field.name}: teach this test a value for {hint}")


def _strip_none(hint: Any) -> tuple[Any, bool]:
    args = typing.get_args(hint)
    if type(None) in args and len(args) == 2:
        return next(a for a in args if a is not type(None)), True
    return hint, False


def _cli_words(field: dataclasses.Field, value: Any) -> list[str]:
    if field.metadata.get("positional"):
        return []
    if isinstance(value, bool):
        if "negative" in field.metadata:
            return [flag_of(field) if value else field.metadata["negative"]]
        return [flag_of(field) if value else "--no-" + flag_of(field)[2:]]
    if isinstance(value, dict):
        return [word for key, v in value.items() for word in (flag_of(field), f"{key}={v}")]
    if isinstance(value, tuple):
        return [flag_of(field), ",".join(str(v) for v in value)]
    return [flag_of(field), str(value)]


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


def _settings() -> list[tuple[str, dataclasses.Field, Any]]:
    cases = []
    for table, cls in TABLES.items():
        hints = typing.get_type_hints(cls)
        cases += [(table, field, _changed(table, field, hints[field.name])) for field in dataclasses.fields(cls)]
    return cases


SETTINGS = _settings()
NEEDS = {("data", "members_only_training"): {"universe": "csi300"}}
"""Settings refused alone, with the [data] setting each needs beside it."""
POOLED_SETTINGS = [("forecast", field, _changed("forecast", field, hint))
                   for field, hint in ((f, typing.get_type_hints(PooledConfig)[f.name])
                                       for f in dataclasses.fields(PooledConfig))]
"""Every field of a pooled model's settings (``--pooled``; ``pooled = true`` in ``[forecast]``)."""


def test_every_setting_has_help():
    assert [f"[{t}] {f.name}" for t, f, _ in SETTINGS + POOLED_SETTINGS if not f.metadata.get("help")] == []


@pytest.mark.parametrize(("table", "field", "value"), SETTINGS, ids=[f"{t}.{f.name}" for t, f, _ in SETTINGS])
def test_each_setting_reaches_its_dataclass_from_the_cli_and_from_toml(table, field, value, tmp_path):
    source = value if (table, field.name) == ("data", "source") else "600519"
    needs = NEEDS.get((table, field.name), {})  # a setting that only makes sense beside another
    args = build_parser().parse_args(["backtest", source, "--out", "x", *_cli_words(field, value),
                                      *[word for key, v in needs.items() for word in (f"--{key}", v)]])
    from_cli = getattr(run_config_from_args(args), table)
    assert getattr(from_cli, field.name) == value

    toml = tmp_path / "run.toml"
    lines = [f"[{table}]", f"{field.name} = {_toml(value)}"]
    if table != "data":
        lines = ["[data]", 'source = "600519"', *lines]
    elif field.name != "source":
        lines.append('source = "600519"')
    lines += [f"{key} = {_toml(v)}" for key, v in needs.items()]
    toml.write_text("\n".join(lines) + "\n", encoding="utf-8")
    from_toml = getattr(load_run_config(toml), table)
    assert getattr(from_toml, field.name) == value
    assert from_toml == from_cli  # nothing else differs either


@pytest.mark.parametrize(("table", "field", "value"), POOLED_SETTINGS, ids=[f.name for _, f, _ in POOLED_SETTINGS])
def test_each_pooled_setting_reaches_pooled_config_from_the_cli_and_from_toml(table, field, value, tmp_path):
    args = build_parser().parse_args(["backtest", "600519", "--out", "x", "--pooled", *_cli_words(field, value)])
    from_cli = run_config_from_args(args).forecast
    assert isinstance(from_cli, PooledConfig) and getattr(from_cli, field.name) == value
    toml = tmp_path / "run.toml"
    toml.write_text(f'[data]\nsource = "600519"\n[forecast]\npooled = true\n{field.name} = {_toml(value)}\n',
                    encoding="utf-8")
    assert load_run_config(toml).forecast == from_cli
    assert load_run_config(toml).to_dict()["forecast"]["pooled"] is True  # the tag a record is read back by


def test_the_forecaster_options_are_one_per_setting_of_either_kind(capsys):
    """A setting both kinds have is one option showing both defaults; a setting not given takes its class's
    default."""
    with pytest.raises(SystemExit):
        build_parser().parse_args(["forecast", "--help"])
    out = capsys.readouterr().out
    text = " ".join(out.split())
    listed = [line.split()[0].rstrip(",") for line in out.splitlines() if line.startswith("  --")]
    names = {f.name for f in dataclasses.fields(ForecastConfig)} | {f.name for f in dataclasses.fields(PooledConfig)}
    for name in names:
        assert listed.count(f"--{name.replace('_', '-')}") == 1, name
    assert "bars per input window (default: 40; pooled: 20)" in text
    assert "default: 1000; pooled: --train-days" in text
    parse = build_parser().parse_args
    assert run_config_from_args(parse(["backtest", "600519", "--out", "x"])).forecast == ForecastConfig()
    assert run_config_from_args(parse(["backtest", "600519", "--out", "x", "--pooled"])).forecast == PooledConfig()


@pytest.mark.parametrize(("words", "message"), [
    (["--pooled", "--train-window", "500"], r"^--train-window is a per-stock setting; pooled models count market "
                                           r"days: give --train-days instead$"),
    (["--pooled", "--retrain-every", "20"], r"give --retrain-every-days instead$"),
    (["--pooled", "--min-train", "20"], r"^--min-train is a setting of per-stock models; pooled models \(--pooled\) "
                                        r"have none$"),
    (["--label-norm", "zscore"], r"^--label-norm is a setting of pooled models: add --pooled"),
    (["--train-days", "500"], r"^--train-days is a setting of pooled models: add --pooled"),
])
def test_an_option_of_the_other_kind_of_model_is_refused_in_one_line(words, message, capsys):
    from rnnstrategy.cli import main

    assert main(["backtest", "600519", "--out", "x", *words]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert re.search(message, error.removeprefix("rnnstrategy: error: ")), error


@pytest.mark.parametrize(("table", "message"), [
    ("pooled = true\ntrain_window = 500", r"\[forecast\] pooled models take train_days \(market days\), not "
                                          r"train_window; valid: pooled, cell, .*train_days"),
    ("pooled = true\ntarget = 'level'", r"target is a setting of per-stock models; pooled models have none"),
    ("label_norm = 'zscore'", r"label_norm is a setting of pooled models: add pooled = true"),
    ("pooled = 'yes'", r"pooled = 'yes': give true"),
])
def test_a_toml_setting_of_the_other_kind_is_refused_naming_the_right_one(table, message, tmp_path):
    from rnnstrategy.errors import ConfigError

    toml = tmp_path / "run.toml"
    toml.write_text(f'[data]\nsource = "600519"\n[forecast]\n{table}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_run_config(toml)


def test_a_pooled_run_recorded_before_pooled_models_had_their_own_settings_replays(tmp_path):
    """Such a record holds every field of the one class there was: a pooled one's train_window and
    retrain_every counted market days (train_days, retrain_every_days now); the other kind's fields are unused."""
    old_fields = {"target": "logret", "feature_scaling": "standard", "min_train": 250}
    pooled = {"pooled": True, "lookback": 20, "train_window": 750, "retrain_every": 120, "epochs": 6,
              "label_norm": "zscore", "feature_norm": "none", "market": None, "ensemble": 3, **old_fields}
    per_stock = {"pooled": False, "lookback": 30, "train_window": 500, "retrain_every": 20, "label_norm": "rank",
                 "feature_norm": "none", "market": None, "ensemble": 1, **old_fields}
    manifest = tmp_path / "manifest.json"
    for recorded, expected in ((pooled, PooledConfig(train_days=750, retrain_every_days=120, label_norm="zscore",
                                                     ensemble=3, market=None)),
                               (per_stock, ForecastConfig(lookback=30, train_window=500))):
        manifest.write_text(json.dumps({"config": {"data": {"source": "600519"}, "forecast": recorded}}),
                            encoding="utf-8")
        assert load_run_config(manifest).forecast == expected
    del pooled["market"]  # recorded before market features existed: none, not today's "auto"
    manifest.write_text(json.dumps({"config": {"data": {"source": "600519"}, "forecast": pooled}}), encoding="utf-8")
    assert load_run_config(manifest).forecast.market is None


MAPPING = "industries.csv"
"""The value of a strategy's file parameter (``industries``): a mapping the test writes into its folder."""


def _strategy_parameters() -> list[tuple[str, str, Any]]:
    from rnnstrategy.backtrader.registry import load_strategy, strategy_names

    cases = []
    for name in strategy_names():
        for key, param in load_strategy(name).parameters().items():
            default = param.default
            if isinstance(default, bool):
                value = not default
            elif key == "target":
                value = 0.5  # in (0, 1]
            elif isinstance(default, (int, float)):
                value = default * 2 + 1
            elif default is None and param.kind is str:
                value = MAPPING  # a file the strategy reads: the test writes it
            elif default is None:
                value = 100 if param.kind is int else 0.003  # exit_rank: at least k (rank_band: 30)
            else:
                value = default
            cases.append((name, key, value))
    return cases


@pytest.mark.parametrize(("strategy", "key", "value"), _strategy_parameters())
def test_each_strategy_parameter_from_the_cli_and_from_toml(strategy, key, value, tmp_path):
    from rnnstrategy.backtrader.registry import load_strategy

    if value == MAPPING:
        value = (tmp_path / MAPPING).as_posix()
        (tmp_path / MAPPING).write_text("symbol,industry\n600519.SH,Liquor\n", encoding="utf-8")
    args = build_parser().parse_args(["backtest", "600519", "--out", "x", "--strategy", strategy,
                                      "--param", f"{key}={_toml(value)}"])
    from_cli = run_config_from_args(args).backtest
    toml = tmp_path / "run.toml"
    toml.write_text(f'[data]\nsource = "600519"\n[backtest]\nstrategy = "{strategy}"\n[backtest.params]\n'
                    f"{key} = {_toml(value)}\n", encoding="utf-8")
    assert from_cli.params == load_run_config(toml).backtest.params == {key: value}
    strategy_class = load_strategy(strategy)
    assert strategy_class.check_params(from_cli.params) == {key: value}  # the strategy takes it
    assert strategy_class.parameters()[key].help  # and explains it


def test_the_ready_strategies_parameters_are_options_with_their_help(capsys):
    """``--k 10`` is ``--param k=10``: one option per parameter a ready strategy declares, with its help, derived
    from the strategies (nothing names them in the command line's code)."""
    from rnnstrategy.backtrader.registry import ready_parameters

    declared = ready_parameters()
    assert {"k", "max_turnover", "exit_rank", "entry_threshold", "exit_threshold"} <= set(declared)
    assert "target" not in declared  # every strategy's: --param target=...
    with pytest.raises(SystemExit):
        build_parser().parse_args(["backtest", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name, takers in declared.items():
        assert f"--{name.replace('_', '-')}" in text and " ".join(takers[0][1].help.split()) in text
    args = build_parser().parse_args(["backtest", "600519", "--out", "x", "--strategy", "top_k", "--k", "30",
                                      "--exit-rank", "40", "--entry-threshold", "none", "--param", "target=0.9"])
    assert run_config_from_args(args).backtest.params == {"target": 0.9, "k": 30, "exit_rank": 40}  # none: default


def test_unknown_settings_stay_errors(tmp_path, capsys):
    from rnnstrategy.errors import ConfigError

    toml = tmp_path / "run.toml"
    toml.write_text('[data]\nsource = "600519"\n[rules]\nprice_limit = false\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="has no setting 'price_limit'; valid: commission"):
        load_run_config(toml)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["backtest", "600519", "--out", "x", "--price-limitz"])
    assert "unrecognized arguments: --price-limitz" in capsys.readouterr().err
    args = build_parser().parse_args(["backtest", "600519", "--out", "x", "--param", "nope=1"])
    from rnnstrategy.backtrader.registry import load_strategy

    with pytest.raises(ConfigError, match="ForecastLong has no parameter 'nope'; valid: target, entry_threshold, "
                                          "exit_threshold$"):
        load_strategy("forecast_long").check_params(run_config_from_args(args).backtest.params)
    toml.write_text('[data]\nsource = "600519"\n[backtest]\nk = 10\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[backtest\] has no setting 'k'; .* a strategy's own parameter goes in "
                                          r"\[backtest.params\]"):
        load_run_config(toml)


@pytest.mark.parametrize(("words", "message"), [
    (["--param", "max_turnover=abc"], r"^TopK: max_turnover='abc' is not a number; give e.g. max_turnover=0.5$"),
    (["--param", "k=2.5"], r"^TopK: k=2.5 is not a whole number; give e.g. k=5$"),
    (["--param", "exit_rank=x"], r"^TopK: exit_rank='x' is not a whole number; give e.g. exit_rank=10$"),
    (["--k", "0"], r"^k=0: hold at least one stock$"),
    (["--param", "max_turnover=3"], r"^max_turnover=3.0: give the fraction of portfolio value"),
    (["--k", "2", "--exit-rank", "1"], r"^exit_rank=1 is below k=2: a new holding would be sold at once$"),
    (["--k", "3", "--param", "k=4"], r"^k is given twice, 4 and 3: keep one$"),
])
def test_bad_strategy_parameters_are_one_line_before_any_work(words, message):
    from rnnstrategy.backtrader.registry import load_strategy
    from rnnstrategy.errors import ConfigError

    args = build_parser().parse_args(["backtest", "600519", "--out", "x", "--strategy", "top_k", *words])
    with pytest.raises(ConfigError, match=message):
        load_strategy("top_k").check_params(run_config_from_args(args).backtest.params)


def test_a_manifest_written_before_strategies_owned_their_parameters_replays(tmp_path):
    """Such a manifest records them as settings of [backtest] ("k": 3, unset ones null): the set ones are the
    strategy's params now."""
    manifest = tmp_path / "manifest.json"
    backtest = {"strategy": "top_k", "execution": None, "cash": 1e6, "start": None, "end": None, "forecasts": None,
                "params": {"target": 0.9}, "trials": 1, "k": 3, "max_turnover": None, "exit_rank": 6,
                "entry_threshold": None, "exit_threshold": None}
    manifest.write_text(json.dumps({"config": {"data": {"source": "600519"}, "backtest": backtest}}), encoding="utf-8")
    assert load_run_config(manifest).backtest.params == {"target": 0.9, "k": 3, "exit_rank": 6}


def test_parameters_as_text_are_read_as_their_type():
    from rnnstrategy.backtrader.registry import load_strategy

    top_k = load_strategy("top_k")
    assert top_k.check_params({"k": "10", "max_turnover": 1, "entry_threshold": "none", "exit_rank": None}) == {
        "k": 10, "max_turnover": 1.0, "entry_threshold": None, "exit_rank": None}
    assert isinstance(top_k.check_params({"max_turnover": 1})["max_turnover"], float)


def test_the_estimator_takes_its_parameters_and_defaults_from_forecast_config():
    from rnnstrategy.forecasting.config import (
        MODEL_FIELDS,
        SCHEDULE_FIELDS,
        ForecastConfig,
    )
    from rnnstrategy.forecasting.forecaster import RNNForecaster

    params = RNNForecaster().get_params()
    assert list(params) == sorted(MODEL_FIELDS)  # sklearn lists them sorted
    defaults = ForecastConfig()
    assert {name: getattr(defaults, name) for name in MODEL_FIELDS} == params
    assert set(SCHEDULE_FIELDS) == {"retrain_every", "min_train", "warm_start", "warm_start_epochs"}
