"""The memory updater's batch wait: it waits for company only while updates arrive faster than
the wait, so a lone session's update starts at once and a busy updater batches."""

import pytest

from orchestration.batch_wait import BatchWait


def arrivals(wait: BatchWait, gap_s: float, count: int, start: float = 0.0) -> list[float]:
    return [wait.arrival(start + i * gap_s) for i in range(count)]


def test_an_update_arriving_alone_does_not_wait():
    wait = BatchWait(0.02)
    assert wait.arrival(100.0) == 0.0  # the first one ever
    assert arrivals(wait, 0.09, 20, start=100.09) == [0.0] * 20  # one session's turns: ~90 ms apart


def test_updates_arriving_faster_than_the_wait_wait_for_company():
    wait = BatchWait(0.02)
    waits = arrivals(wait, 0.005, 10)
    assert waits[1:] == [0.02] * 9  # from the second arrival on: more are on their way


def test_the_wait_ends_when_arrivals_slow_down_and_comes_back_under_load():
    wait = BatchWait(0.02, smoothing=0.5)
    assert arrivals(wait, 0.005, 10)[-1] == 0.02
    calm = arrivals(wait, 0.2, 5, start=1.0)
    assert calm[-1] == 0.0 and calm[0] == 0.0  # one long gap already lifts the mean past 20 ms
    assert arrivals(wait, 0.002, 10, start=3.0)[-1] == 0.02


def test_a_zero_wait_never_waits_and_bad_settings_are_refused():
    assert set(arrivals(BatchWait(0.0), 0.001, 10)) == {0.0}
    with pytest.raises(ValueError, match="smoothing"):
        BatchWait(0.02, smoothing=0.0)
    with pytest.raises(ValueError, match="max_wait_s"):
        BatchWait(-1.0)
