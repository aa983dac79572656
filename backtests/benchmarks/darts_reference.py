"""The reference walk-forward in darts, for ``bench_darts.py`` (run under a Python where darts is installed).

    python darts_reference.py INPUTS.npz [--threads N] [--repeats R]

Reads what ``bench_darts.py`` wrote (``inputs``: the five features of every bar, oldest first, in the
order gap, ret, high, low, volume; ``first``: the row of the first forecast; ``forecasts``, ``lookback``,
``hidden``, ``epochs``, ``batch_size``, ``retrain_every``, ``train_window``, ``seed``) and makes the
same forecasts with darts: a ``BlockRNNModel`` (LSTM, one layer, no dropout, MSE, Adam lr 1e-3) whose
target series is the overnight gap and whose past covariates are the other four features, so its
input windows hold the same five numbers per bar as ours, and the gap one bar ahead is our
target log(open(t+1) / close(t)). ``historical_forecasts`` retrains every ``retrain_every`` points on
the latest ``train_window`` samples (``train_length`` = train_window + lookback) for ``epochs``
epochs, from its own seed, and predicts one step at every point, ``forecasts`` points in all. It prints
one JSON line per repeat: seconds of ``historical_forecasts`` (model construction, training and
prediction; imports and the data's conversion to ``TimeSeries`` are not counted), forecasts, darts
and torch versions and threads.

Inputs are standardised once over the whole history (ours are scaled per fold): the timing does not
depend on it, and these forecasts are not compared.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import warnings

import numpy as np
import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default, every core)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--warm-up", action="store_true", help="fit and predict once, untimed, first")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    for name in ("pytorch_lightning", "lightning", "lightning.pytorch", "darts"):
        logging.getLogger(name).setLevel(logging.ERROR)

    import darts
    from darts import TimeSeries

    data = np.load(args.inputs)
    inputs = data["inputs"].astype(np.float32)
    inputs = (inputs - inputs.mean(0)) / inputs.std(0)
    setting = {key: int(data[key]) for key in ("first", "forecasts", "lookback", "hidden", "epochs", "batch_size",
                                               "retrain_every", "train_window", "seed")}
    target = TimeSeries.from_values(inputs[:, :1])  # the gap
    covariates = TimeSeries.from_values(inputs[:, 1:])  # ret, high, low, volume
    if args.warm_up:  # darts' and Lightning's first-use costs, untimed: one small fit and prediction
        short = _model(setting, epochs=1)
        short.fit(target[:300], past_covariates=covariates[:300])
        short.predict(1, series=target[:300], past_covariates=covariates[:300])
    for _ in range(args.repeats):
        model = _model(setting, setting["epochs"])
        started, cpu = time.perf_counter(), time.process_time()
        forecasts = model.historical_forecasts(
            target, past_covariates=covariates, start=setting["first"] + 1, start_format="position",
            forecast_horizon=1, stride=1, retrain=setting["retrain_every"],
            train_length=setting["train_window"] + setting["lookback"], overlap_end=True, last_points_only=True,
            verbose=False, show_warnings=False,
        )
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        print(json.dumps({"seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3), "forecasts": len(forecasts),
                          "darts": darts.__version__, "torch": torch.__version__,
                          "threads": torch.get_num_threads()}), flush=True)


def _model(setting: dict[str, int], epochs: int) -> object:
    from darts.models import BlockRNNModel

    return BlockRNNModel(
        input_chunk_length=setting["lookback"], output_chunk_length=1, model="LSTM", hidden_dim=setting["hidden"],
        n_rnn_layers=1, dropout=0.0, batch_size=setting["batch_size"], n_epochs=epochs,
        optimizer_kwargs={"lr": 1e-3}, random_state=setting["seed"],
        pl_trainer_kwargs={"accelerator": "cpu", "enable_progress_bar": False, "enable_model_summary": False,
                           "logger": False, "enable_checkpointing": False},
    )


if __name__ == "__main__":
    main()
