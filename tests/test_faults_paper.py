"""The paper account under faults: nothing booked twice, nothing booked wrong, no traceback.

Concurrent fills (2 and 8 processes), a full disk, a read-only folder and killed processes run the
command line in subprocesses; the bad-input cases run it in this process (as test_faults_input does).
Each refusal is one line with exit code 2 and books nothing; every order a fill accepts is booked once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from helpers import perfect_foresight

from rnnstrategy import datasets
from rnnstrategy.cli import main
from rnnstrategy.data.forecast_files import write_forecasts
from rnnstrategy.data.loader import load_bars
from rnnstrategy.live.lock import account_lock
from rnnstrategy.live.paper import PaperAccount

SESSION = "2020-04-22"  # a Wednesday inside the bundled Moutai sample (which ends on 2020-04-24)
CASH = 10_000_000
CLI = [sys.executable, "-c", "import sys; from rnnstrategy.cli import main; sys.exit(main(sys.argv[1:]))"]
# Patched into a subprocess: every write into $RO_DIR fails as in a read-only folder (root ignores chmod).
READ_ONLY = """import builtins, errno, io, os
root = os.path.realpath(os.environ["RO_DIR"]) + os.sep
def inside(path):
    return isinstance(path, (str, bytes, os.PathLike)) and os.path.realpath(os.fsdecode(path)).startswith(root)
def refuse(path):
    raise PermissionError(errno.EACCES, "Permission denied", os.fsdecode(path))
real_open, real_io_open = os.open, io.open
def ro_open(path, flags, *args, **kwargs):
    if inside(path) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
        refuse(path)
    return real_open(path, flags, *args, **kwargs)
def ro_io_open(path, mode="r", *args, **kwargs):
    if inside(path) and any(c in mode for c in "wax+"):
        refuse(path)
    return real_io_open(path, mode, *args, **kwargs)
os.open, io.open, builtins.open = ro_open, ro_io_open, ro_io_open
"""
FULL_DISK = """import resource, signal
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (200, 200))
"""


def orders_file(path: Path, session: str, items, cash=CASH, positions=None, **changes) -> Path:
    """An orders.json as `rnnstrategy signal` writes it: ``items`` are (symbol, side, shares)."""
    orders = [{"id": f"{session}/{symbol}/{side}/{i}", "session": session, "symbol": symbol, "side": side,
               "shares": shares, "reference_price": 0.0, "expected_return": 0.0, "threshold": 0.0, "note": ""}
              for i, (symbol, side, shares) in enumerate(items)]
    content = {"session": session, "decided_on": "", "symbol": "600519.SH", "strategy": "forecast_long",
               "cash": cash, "positions": positions or {}, "orders": orders, **changes}
    path.write_text(json.dumps(content, indent=1))
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """The bundled Moutai CSV and variants of it, with orders files, in one folder."""
    folder = tmp_path_factory.mktemp("paper_data")
    raw = pd.read_csv(datasets.path("moutai"), dtype={"code": str})
    raw.to_csv(folder / "SH600519.csv", index=False)
    raw[raw["date"] < SESSION].to_csv(folder / "cut.csv", index=False)
    raw[raw["date"] != SESSION].to_csv(folder / "gap.csv", index=False)
    raw.assign(volume=raw["volume"].where(raw["date"] != SESSION, 0.0)).to_csv(folder / "zero.csv", index=False)
    orders_file(folder / "buy.json", SESSION, [("600519.SH", "buy", 100)])
    orders_file(folder / "buy20.json", SESSION, [("600519.SH", "buy", 100)] * 20)
    orders_file(folder / "empty.json", SESSION, [])
    return folder


@pytest.fixture(scope="module")
def forecasts(data) -> Path:
    """Forecasts of the sample that know the next opens (a signal decides from them without training)."""
    path = data / "forecasts.csv"
    write_forecasts(perfect_foresight(load_bars(data / "SH600519.csv").loc["2020-01-01":]), path)
    return path


def run_cli(capsys, *argv) -> tuple[int, list[str], str]:
    """``main(argv)`` in this process: exit code, the lines of stderr, stdout."""
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, [line for line in captured.err.splitlines() if line.strip()], captured.out


def refused(code: int, err: list[str], *needles: str) -> None:
    assert code == 2, err
    assert len(err) == 1 and err[0].startswith("rnnstrategy: error: "), err
    for needle in needles:
        assert needle in err[0], err[0]


def fill(account: Path, orders: Path, data: Path | str, *more) -> list[str]:
    return ["paper", "fill", str(account), "--orders", str(orders), "--data", str(data), *map(str, more)]


def journal(account: Path) -> list[dict]:
    path = account / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def wait_until_waiting(processes) -> None:
    """Until every process says that it waits for the account's lock (its first warning on stderr)."""
    for process in processes:
        for line in process.stderr:
            if "is in use by another process: waiting up to" in line:
                break
        else:
            raise AssertionError(f"a process ended while the lock was held: exit {process.wait()}")


# ---------------------------------------------------------------- 1. concurrent fills


@pytest.mark.parametrize("processes", [2, 8])
def test_concurrent_fills_book_every_order_once(data, tmp_path, processes):
    """N processes fill the same 20 orders while the lock is held, then all at once: one books them, the others
    wait and find them booked; the journal's sequence is intact and the account is the journal's fold."""
    account = tmp_path / "account"
    PaperAccount.open(account, cash=CASH)
    with account_lock(account):
        running = [subprocess.Popen(CLI + fill(account, data / "buy20.json", data / "SH600519.csv", "--cash", CASH),
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                   for _ in range(processes)]
        wait_until_waiting(running)
    outcomes = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in running]
    assert [code for code, _, _ in outcomes] == [0] * processes, outcomes
    firsts = sorted(out.splitlines()[0] for _, out, _ in outcomes)
    assert firsts == [f"{SESSION}: 20 orders booked (20 filled), 0 already booked"] + \
                     [f"{SESSION}: all 20 orders were already booked; nothing was booked again"] * (processes - 1)
    lines = journal(account)
    assert [line["seq"] for line in lines] == list(range(1, 21))
    assert sorted(line["order_id"] for line in lines) == sorted(f"{SESSION}/600519.SH/buy/{i}" for i in range(20))
    reopened = PaperAccount.open(account)
    assert reopened.positions == {"600519.SH": 2000} and reopened.last_seq == 20


def test_a_fill_that_waits_too_long_gives_up_with_one_line(data, tmp_path, capsys):
    account = tmp_path / "account"
    PaperAccount.open(account, cash=CASH)
    with account_lock(account):
        code, err, _ = run_cli(capsys, *fill(account, data / "buy.json", data / "SH600519.csv", "--wait", "0.5"))
    refused(code, err, f"paper account {account} is busy: another process has held account.lock for over 0.5 s")
    assert journal(account) == []


def test_a_killed_lock_holder_leaves_no_lock_behind(data, tmp_path, capsys):
    account = tmp_path / "account"
    PaperAccount.open(account, cash=CASH)
    hold = ("import sys, time; from rnnstrategy.live.lock import account_lock\n"
            "with account_lock(sys.argv[1]):\n    print('held', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", hold, str(account)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    code, err, out = run_cli(capsys, *fill(account, data / "buy.json", data / "SH600519.csv", "--wait", "5"))
    assert code == 0 and out.startswith(f"{SESSION}: 1 orders booked (1 filled)"), err


# ---------------------------------------------------------------- 2. only what the data confirms


def test_a_missing_bar_is_refused_and_booked_once_the_data_has_it(data, tmp_path, capsys):
    account = tmp_path / "account"
    code, err, _ = run_cli(capsys, *fill(account, data / "buy.json", data / "cut.csv", "--cash", CASH))
    refused(code, err, f"the data ends on 2020-04-21, before the session {SESSION}: fetch bars through {SESSION}",
            "nothing was booked")
    assert journal(account) == []
    code, err, out = run_cli(capsys, *fill(account, data / "buy.json", data / "SH600519.csv"))
    assert code == 0 and f"{SESSION}: 1 orders booked (1 filled)" in out, err


def test_a_stock_left_out_of_the_data_is_refused(data, tmp_path, capsys):
    orders = orders_file(tmp_path / "orders.json", SESSION, [("600519.SH", "buy", 100), ("000001.SZ", "buy", 100)])
    code, err, _ = run_cli(capsys, *fill(tmp_path / "a", orders, data / "SH600519.csv", "--cash", CASH))
    refused(code, err, f"no bars of 000001.SZ were given (CLI: --data): give its bars through {SESSION}")
    assert journal(tmp_path / "a") == []


@pytest.mark.parametrize(("session", "needle"), [
    ("2020-04-25", "session 2020-04-25 is a Saturday: the exchanges do not trade on weekends"),
    ("2020-05-01", "session 2020-05-01 is not a known trading session (an exchange holiday in the XSHG calendar)"),
    ("2030-01-07", "session 2030-01-07 has not closed yet"),
])
def test_a_session_that_did_not_trade_is_refused_and_locks_nothing(data, tmp_path, capsys, session, needle):
    orders = orders_file(tmp_path / "orders.json", session, [("600519.SH", "buy", 100)])
    code, err, _ = run_cli(capsys, *fill(tmp_path / "a", orders, data / "SH600519.csv", "--cash", CASH))
    refused(code, err, needle, "nothing was booked")
    code, err, out = run_cli(capsys, *fill(tmp_path / "a", data / "buy.json", data / "SH600519.csv"))
    assert code == 0 and "1 filled" in out, err  # a real session afterwards is filled


@pytest.mark.parametrize(("csv", "extra", "reason"), [
    ("gap.csv", (), f"suspended: no bar on {SESSION}"),  # its bars go on after the session
    ("zero.csv", (), f"suspended: zero volume on {SESSION}"),
    ("cut.csv", ("--suspended", "600519"), f"suspended: no bar on {SESSION} (said to be suspended)"),
])
def test_only_a_suspension_the_data_shows_is_booked_as_one(data, tmp_path, capsys, csv, extra, reason):
    code, err, out = run_cli(capsys, *fill(tmp_path / "a", data / "buy.json", data / csv, "--cash", CASH, *extra))
    assert code == 0, err
    assert "1 orders booked (1 cancelled)" in out and f"cancelled ({reason})" in out


# ---------------------------------------------------------------- 4. session order and the orders' account


def test_a_session_before_an_empty_fill_is_refused(data, tmp_path, capsys):
    account = tmp_path / "a"
    assert run_cli(capsys, *fill(account, data / "empty.json", data / "SH600519.csv", "--cash", CASH))[0] == 0
    earlier = orders_file(tmp_path / "earlier.json", "2020-04-21", [("600519.SH", "buy", 100)])
    code, err, _ = run_cli(capsys, *fill(account, earlier, data / "SH600519.csv"))
    refused(code, err, f"session 2020-04-21 is before the account's last session {SESSION}")
    assert journal(account) == []


def test_another_account_s_orders_are_refused_unless_forced(data, tmp_path, capsys):
    account = tmp_path / "a"
    other = orders_file(tmp_path / "other.json", SESSION, [("600519.SH", "buy", 100)], cash=500_000,
                        positions={"600519": 100})
    code, err, _ = run_cli(capsys, *fill(account, other, data / "SH600519.csv", "--cash", CASH))
    refused(code, err, "the orders were decided for cash 500,000.00 CNY and positions 600519.SH 100, but before "
                       f"{SESSION} the account in {account} holds cash 10,000,000.00 CNY and positions none",
            "--force-account")
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps({k: v for k, v in json.loads(other.read_text()).items() if k not in ("cash", "positions")}))
    refused(*run_cli(capsys, *fill(account, bare, data / "SH600519.csv"))[:2], "do not record the holdings")
    assert journal(account) == []
    code, err, out = run_cli(capsys, *fill(account, other, data / "SH600519.csv", "--force-account"))
    assert code == 0 and "1 filled" in out, err


# ---------------------------------------------------------------- 5. bad numbers, a read-only folder, a full disk


@pytest.mark.parametrize("shares", ["Infinity", "NaN", "-100", "10.5"])
def test_shares_that_are_no_whole_number_are_one_line(data, tmp_path, capsys, shares):
    text = (data / "buy.json").read_text().replace('"shares": 100', f'"shares": {shares}')
    (tmp_path / "orders.json").write_text(text)
    code, err, _ = run_cli(capsys, *fill(tmp_path / "a", tmp_path / "orders.json", data / "SH600519.csv",
                                         "--cash", CASH))
    refused(code, err, "shares=", "give a positive whole number of shares")


def _account_files(account: Path) -> dict[str, bytes]:
    return {name: (account / name).read_bytes() for name in ("account.json", "journal.jsonl")
            if (account / name).exists()}


def test_a_read_only_account_folder_is_one_line_and_can_still_be_reported(data, tmp_path):
    account = tmp_path / "a"
    PaperAccount.open(account, cash=CASH).fill(json.loads((data / "buy.json").read_text())["orders"],
                                               {"600519.SH": load_bars(data / "SH600519.csv")}, session=SESSION)
    before = _account_files(account)
    env = {**os.environ, "RO_DIR": str(account)}
    later = orders_file(tmp_path / "later.json", "2020-04-23", [("600519.SH", "buy", 100)],
                        cash=float(PaperAccount.open(account).exact_cash), positions={"600519.SH": 100})
    run = subprocess.run([sys.executable, "-c", READ_ONLY + CLI[2], *fill(account, later, data / "SH600519.csv")],
                         capture_output=True, text=True, env=env, check=False)
    err = run.stderr.splitlines()
    refused(run.returncode, err, f"paper account {account}: cannot write", "Permission denied",
            "make the folder writable")
    assert _account_files(account) == before
    with (account / "journal.jsonl").open("ab") as handle:
        handle.write(b'{"seq": 2, "order_id": "torn')  # a write that never finished
    # what `paper report` and `signal --positions` do with it (the report's tearsheet takes 20 s: left out)
    read = subprocess.run([sys.executable, "-c", READ_ONLY + "import logging, sys\nlogging.basicConfig()\n"
                           "from rnnstrategy.api.positions import read_positions\nprint(read_positions(sys.argv[1]))",
                           str(account)], capture_output=True, text=True, env=env, check=False)
    assert read.returncode == 0 and "Traceback" not in read.stderr, read.stderr
    assert read.stdout.strip() == "({'600519.SH': 100}, 9879367.44)"
    assert "a torn last line" in read.stderr and "cannot write account.lock (Permission denied)" in read.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_a_full_disk_leaves_the_account_as_it_was_and_a_rerun_books_it(data, tmp_path):
    account = tmp_path / "a"
    PaperAccount.open(account, cash=CASH)
    before = _account_files(account)
    run = subprocess.run([sys.executable, "-c", FULL_DISK + CLI[2],
                          *fill(account, data / "buy20.json", data / "SH600519.csv")], capture_output=True, text=True,
                         check=False)
    refused(run.returncode, run.stderr.splitlines(), f"paper account {account}: cannot write journal.jsonl",
            "free disk space", "nothing was booked")
    assert _account_files(account) == before
    rerun = subprocess.run(CLI + fill(account, data / "buy20.json", data / "SH600519.csv"), capture_output=True,
                           text=True, check=False)
    assert rerun.returncode == 0 and "20 orders booked (20 filled)" in rerun.stdout, rerun.stderr


# ---------------------------------------------------------------- 6. positions a signal decides from


@pytest.mark.parametrize(("content", "needle"), [
    ('{"cash": -5000, "positions": {"600519.SH": 100}}', "cash=-5000, give 0 or a positive amount"),
    ('{"cash": 5000, "positions": {"600519.SH": NaN}}', "600519.SH: shares=nan, give a whole number >= 0"),
    ('{"cash": 5000, "positions": {"600519.SH": -100}}', "600519.SH: shares=-100, give a whole number >= 0"),
])
def test_positions_with_negative_cash_or_shares_are_refused(data, forecasts, tmp_path, capsys, content, needle):
    (tmp_path / "positions.json").write_text(content)
    code, err, _ = run_cli(capsys, "signal", data / "SH600519.csv", "--forecasts", forecasts, "--positions",
                           tmp_path / "positions.json", "--end", "2020-04-20", "--out", tmp_path / "out")
    refused(code, err, needle)


# ---------------------------------------------------------------- new cases: hand-edited files, odd input


def test_orders_that_repeat_an_id_or_name_another_session_are_refused(data, tmp_path, capsys):
    content = json.loads((data / "buy.json").read_text())
    (tmp_path / "twice.json").write_text(json.dumps({**content, "orders": content["orders"] * 2}))
    refused(*run_cli(capsys, *fill(tmp_path / "a", tmp_path / "twice.json", data / "SH600519.csv", "--cash",
                                   CASH))[:2], "orders[1] repeats the id")
    content["orders"][0]["session"] = "2020-04-23"
    (tmp_path / "mixed.json").write_text(json.dumps(content))
    refused(*run_cli(capsys, *fill(tmp_path / "a", tmp_path / "mixed.json", data / "SH600519.csv", "--cash",
                                   CASH))[:2], f"is for the session 2020-04-23, not {SESSION}")


@pytest.mark.parametrize("cash", ["inf", "nan", "-1", "100.001"])
def test_an_opening_cash_that_is_no_amount_is_refused(data, tmp_path, capsys, cash):
    code, err, _ = run_cli(capsys, *fill(tmp_path / "a", data / "empty.json", data / "SH600519.csv", "--cash", cash))
    refused(code, err, f"cash={float(cash)!r}: the opening cash is 0 or a positive amount in CNY, in whole fen")
    assert not (tmp_path / "a" / "account.json").exists()


def _filled_account(data: Path, folder: Path) -> Path:
    assert main(fill(folder, data / "buy.json", data / "SH600519.csv", "--cash", CASH)) == 0
    return folder


def _edit_journal(account: Path, edit) -> None:
    lines = journal(account)
    lines = edit(lines)
    (account / "journal.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))


@pytest.mark.parametrize(("edit", "needle"), [
    (lambda lines: [{**lines[0], "shares": 1000}], "account.json does not match"),
    (lambda lines: [{k: v for k, v in lines[0].items() if k != "price"}], "journal.jsonl, line 1: no price"),
    (lambda lines: [lines[0], {**lines[0], "seq": 2}],
     "journal.jsonl, line 2: order 2020-04-22/600519.SH/buy/0 was booked on line 1 already"),
    (lambda lines: [{**lines[0], "price": "NaN"}], "journal.jsonl, line 1: price='NaN' is not a price"),
])
def test_a_hand_edited_journal_is_refused_by_fill_and_report(data, tmp_path, capsys, edit, needle):
    account = _filled_account(data, tmp_path / "a")
    capsys.readouterr()
    _edit_journal(account, edit)
    refused(*run_cli(capsys, *fill(account, data / "empty.json", data / "SH600519.csv"))[:2], needle)
    refused(*run_cli(capsys, "paper", "report", account, "--data", data / "SH600519.csv", "--out",
                     tmp_path / "report")[:2], needle)


def test_a_positions_csv_listing_a_stock_twice_is_refused(data, forecasts, tmp_path, capsys):
    (tmp_path / "positions.csv").write_text("symbol,shares\n600519.SH,100\n600519.SH,200\n")
    code, err, _ = run_cli(capsys, "signal", data / "SH600519.csv", "--forecasts", forecasts,
                           "--positions", tmp_path / "positions.csv", "--cash", "5000", "--end", "2020-04-20",
                           "--out", tmp_path / "out")
    refused(code, err, "600519.SH listed more than once")
