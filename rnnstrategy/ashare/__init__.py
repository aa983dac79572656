"""China A-share market rules as plain data and arithmetic: boards and lots, fee schedules by
date, price limits, a security's ST and listing settings, and the switches of a run's rules.
No Backtrader, no PyTorch."""
