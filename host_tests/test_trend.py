"""The leak verdict (heaptrack_host.trend): pure functions, no board."""
import random

import pytest

from heaptrack_host import trend


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


def test_steady_leak_is_suspect():
    values = [100 * i for i in range(10)]
    t = trend.trend(times(10), values)
    assert t.suspect and t.verdict == "LEAK"
    assert t.per_minute == pytest.approx(6000)
    assert (t.rises, t.falls) == (9, 0)
    assert "9 of 9 steps up" in t.reason() and "+6000 B/min" in t.reason()


def test_sawtooth_leak_is_suspect():
    # Allocates ten blocks, frees nine: spiky, but the floor keeps rising.
    values = []
    base = 0
    for _ in range(8):
        values += [base + 1000, base]
        base += 64
    t = trend.trend(times(len(values)), values)
    assert t.suspect
    assert t.rises < t.falls  # consecutive steps alone would not tell


def test_spiky_task_that_frees_is_not_suspect():
    rng = random.Random(1)
    values = [rng.choice([0, 0, 0, rng.randint(1, 10000)]) for _ in range(40)]
    t = trend.trend(times(40), values)
    assert not t.suspect and t.verdict == "ok"


def test_one_allocation_at_start_up_is_not_suspect():
    t = trend.trend(times(12), [0, 0, 4096] + [4096] * 9)
    assert not t.suspect


def test_growth_below_min_growth_is_not_suspect():
    assert not trend.trend(times(9), [0, 1, 2, 3, 4, 5, 6, 7, 8]).suspect
    assert trend.trend(times(9), [0, 1, 2, 3, 4, 5, 6, 7, 8], min_growth=4).suspect


def test_too_few_samples():
    t = trend.trend(times(3), [0, 100, 200])
    assert not t.suspect and t.verdict == "..."
    assert "need %d" % trend.MIN_SAMPLES in t.reason()
    assert trend.trend([], []).verdict == "..."


def test_deleted_task_holding_memory():
    t = trend.trend(times(6), [500] * 6, alive=False)
    assert not t.suspect and t.held_after_delete == 500 and t.verdict == "HELD"
    assert "deleted while holding 500 B" in t.reason()
    assert trend.trend(times(6), [0] * 6, alive=False).verdict == "ok"


def test_growth_is_judged_while_the_task_was_alive():
    # The leak demo: grows while alive, then deleted and flat for a long time.
    values = [100, 200, 300, 400, 500, 600] + [600] * 30
    alive = [True] * 6 + [False] * 30
    t = trend.trend(times(len(values)), values, alive)
    assert t.suspect and t.held_after_delete == 600 and t.samples == 6
    assert t.verdict == "LEAK"
    assert "deleted while holding" in t.reason() and "grew" in t.reason()
    # Judged over every sample, the flat tail hides the growth.
    assert not trend.trend(times(len(values)), values, alive=False).suspect


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError):
        trend.trend([0, 1], [1])
    with pytest.raises(ValueError):
        trend.trend([0, 1], [1, 2], [True])


def test_growth_across_runs():
    assert trend.growth_per_run([10, 20, 25, 25]) == [10, 5, 0]
    assert trend.grows_every_run([0, 512, 1024, 1536])
    assert not trend.grows_every_run([0, 512, 512, 1024])
    assert not trend.grows_every_run([0, 8, 16], tolerance=8)
    assert trend.grows_every_run([0, 9, 18], tolerance=8)
    assert not trend.grows_every_run([100])


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
