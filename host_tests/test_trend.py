"""The leak verdict (heaptrack_host.verdict) and trend arithmetic: pure functions, no board."""
import random

import pytest

from heaptrack_host import trend, verdict


def times(n, step=1.0):
    return [i * step for i in range(n)]


def test_slope_is_least_squares():
    assert trend.slope([0, 1, 2, 3], [1, 3, 5, 7]) == pytest.approx(2.0)
    assert trend.slope([0, 1, 2], [5, 5, 5]) == 0.0
    assert trend.slope([1, 1, 1], [1, 2, 3]) == 0.0  # no spread in time
    assert trend.slope([0], [9]) == 0.0
    assert trend.slope([0, 1, 2, 3], [0, 10, 0, 10]) == pytest.approx(2.0)


def test_steps_and_floors():
    assert trend.steps([1, 2, 2, 1, 5]) == (2, 1)
    assert trend.floors([5, 1, 7, 2, 9, 3]) == [1, 2, 3]
    assert trend.floors([4, 6, 5, 8]) == [4, 5]
    assert trend.floor_growth([5, 1, 7, 2, 9, 3]) == 2
    assert trend.floor_growth([3]) == 0


def test_steady_leak():
    values = [100 * i for i in range(10)]
    v = verdict.judge(times(10), values, [True] * 10)
    assert v.leak and v.rising and not v.deleted
    assert v.reason.startswith("+900 B over 9.0 s, never given back")


def test_sawtooth_leak():
    # Allocates ten blocks, frees nine: spiky, but the floor keeps rising.
    values = []
    base = 0
    for _ in range(8):
        values += [base + 1000, base]
        base += 64
    assert verdict.judge(times(len(values)), values).leak


def test_spiky_task_that_frees_is_ok():
    rng = random.Random(1)
    values = [rng.choice([0, 0, 0, rng.randint(1, 10000)]) for _ in range(40)]
    v = verdict.judge(times(40), values, [True] * 40)
    assert v.word == "ok" and not v.leak


def test_one_allocation_at_start_up_is_ok():
    assert not verdict.judge(times(12), [0, 0, 4096] + [4096] * 9, True).leak


def test_growth_below_min_growth_is_ok():
    assert not verdict.judge(times(9), [0, 1, 2, 3, 4, 5, 6, 7, 8], True).leak


def test_too_few_samples():
    v = verdict.judge(times(3), [0, 100, 200], True)
    assert v.word == "..." and "need %d" % verdict.MIN_SAMPLES in v.reason
    assert verdict.judge([], []).word == "..."


def test_deleted_holding_memory_is_a_leak_with_any_number_of_samples():
    # ESP-IDF's example: leaking_task, DELETED with CURRENT > 0. Watch at 1 s (few samples)
    # and record at 0.5 s give the same verdict for the same run.
    for n in (2, 3, 6, 30):
        v = verdict.judge(times(n), [500] * n, [True] * (n - 1) + [False])
        assert v.leak and v.deleted and v.held == 500 and v.reason == "deleted while holding 500 B"
    assert verdict.judge(times(6), [0] * 6, [True] * 5 + [False]).word == "ok"
    assert verdict.judge(times(6), [40] * 6, [True] * 5 + [False], tolerance=64).word == "ok"
    # deleted before the observation began, holding the same all through: HELD, no ok
    # (the plainest evidence ESP-IDF has), nor a LEAK of this observation
    v = verdict.judge(times(6), [500] * 6, [False] * 6)
    assert v.word == "HELD" and not v.ok and not v.leak and v.reason == "died before watching, still holds 500 B"
    assert verdict.judge(times(6), [500] * 6, [False] * 6, tolerance=500).word == "ok"
    assert verdict.judge([0, 1], [500, 500], [False, False], runs=True).word == "HELD"


def test_growth_is_judged_while_the_task_was_alive():
    # The leak demo: grows while alive, then deleted and flat for a long time.
    values = [100, 200, 300, 400, 500, 600] + [600] * 30
    alive = [True] * 6 + [False] * 30
    v = verdict.judge(times(len(values)), values, alive)
    assert v.leak and v.deleted and v.rising
    assert v.reason.startswith("deleted while holding 600 B; +500 B over 5.0 s while it ran")
    assert v.floor_times == (0.0, 2.0, 4.0) and v.floors == (100, 300, 500)


def test_runs():
    # Observations after each run (the pytest plugin): every run must add more than tolerance.
    v = verdict.judge([0, 1, 2, 3], [0, 512, 1024, 1536], True, runs=True)
    assert v.leak and v.reason == "+1536 B in 3 runs, more in every run"
    assert not verdict.judge([0, 1, 2, 3], [0, 512, 512, 1024], True, runs=True).leak
    assert not verdict.judge([0, 1, 2], [0, 8, 16], True, runs=True, tolerance=8).leak
    assert verdict.judge([0, 1, 2], [0, 9, 18], True, runs=True, tolerance=8).leak
    assert verdict.judge([0, 1], [0, 8], True, runs=True).leak  # one run, one block
    held = verdict.judge([0, 1, 2], [512, 1024, 1536], False, runs=True)
    assert held.reason == "deleted while holding 1536 B; +1024 B in 2 runs, more in every run"


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError):
        verdict.judge([0, 1], [1])
    with pytest.raises(ValueError):
        verdict.judge([0, 1], [1, 2], [True])


def test_growth_across_runs():
    assert trend.growth_per_run([10, 20, 25, 25]) == [10, 5, 0]


def test_sparkline():
    assert trend.sparkline([]) == ""
    assert trend.sparkline([0, 0, 0]) == "▁▁▁"
    assert trend.sparkline([0, 7, 14]) == "▁▅█"
    assert trend.sparkline(list(range(100)), width=5) == "█████"  # scaled from 0
    assert trend.sparkline([-5, 0, 5]) == "▁▅█"
    assert len(trend.sparkline(list(range(100)), width=30)) == 30


def test_format_bytes_and_rate():
    assert trend.format_bytes(0) == "0 B"
    assert trend.format_bytes(10239) == "10239 B"
    assert trend.format_bytes(123456) == "120.6 KiB"
    assert trend.format_bytes(3 << 20) == "3.0 MiB"
    assert trend.format_bytes(-2048) == "-2048 B"
    assert trend.format_rate(512) == "+512 B/min"
    assert trend.format_rate(0.2) == "0 B/min"
    assert trend.format_rate(-300) == "-300 B/min"


def test_a_task_that_started_and_ended_between_samples():
    # Seen only deleted, holding memory, but it was not there when watching began.
    v = verdict.judge(times(3), [8512] * 3, [False] * 3, appeared=True)
    assert v.leak and v.reason == "deleted while holding 8512 B"
