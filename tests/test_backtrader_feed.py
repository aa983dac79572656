import backtrader as bt
import pytest

from rnnstrategy.backtrader.feed import to_feed
from rnnstrategy.errors import DataError


class RecordCloses(bt.Strategy):
    def __init__(self):
        self.seen = []

    def next(self):
        self.seen.append((self.data.datetime.date(0), self.data.open[0], self.data.close[0], self.data.volume[0]))


def test_feed_replays_the_bars(moutai):
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(to_feed(moutai.loc["2020-04-01":]))
    cerebro.addstrategy(RecordCloses)
    strategy = cerebro.run()[0]
    assert strategy.data._name == "600519.SH"
    assert len(strategy.seen) == 17
    first = moutai.loc["2020-04-01"]
    assert strategy.seen[0] == (first.name.date(), first.open, first.close, first.volume)


def test_feed_rejects_bad_frames(moutai):
    broken = moutai.iloc[:5].copy()
    broken.iloc[2, broken.columns.get_loc("high")] = 1.0
    with pytest.raises(DataError, match=r"600519.SH: bad bar\(s\): high < low on 2010-04-28"):
        to_feed(broken)
