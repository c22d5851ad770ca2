"""Is a task's memory leaking? Trend tests over samples of its current usage.

Pure functions over lists of numbers, shared by ``heaptrack watch`` (the
verdict column), ``heaptrack plot`` (which series to highlight) and the pytest
plugin (growth across repeated runs).

Over time (``trend``): a leak is memory that is never given back, so the
*floor* of the usage rises, whatever the workload does on top of it. A series
is a suspected leak when all of these hold:

* there are at least ``min_samples`` samples;
* its least-squares slope is positive;
* its floor rose steadily: split the samples into three consecutive parts
  (two when there are fewer than six samples); the lowest value of each part
  is higher than the lowest value of the part before (a monotonic growth count
  over the parts), and the last floor is at least ``min_growth`` bytes above
  the first. A task that allocates and frees, however spiky, keeps the floor
  of what it holds between bursts; a buffer allocated once raises the floor
  only once.

The rises and falls between consecutive samples are counted too and shown as
evidence ("9 of 11 steps up").

A task that was deleted while still holding memory is reported separately
(``Trend.held_after_delete``): ESP-IDF keeps charging a deleted task with the
blocks it never freed, which is a leak unless another task frees them later.

Across runs (``growth_per_run``, ``grows_every_run``): a workload run N times
leaks when its memory grew by more than a tolerance in every run, which is
what ``heaptrack.check_leaks`` decides on the board.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence

__all__ = ["Trend", "slope", "steps", "floors", "floor_growth", "floor_rises_steadily", "trend", "growth_per_run", "grows_every_run",
           "sparkline", "format_bytes", "format_rate"]

MIN_SAMPLES = 4
MIN_GROWTH = 16  # bytes: ESP-IDF's smallest block is about this size

SPARK_CHARS = "▁▂▃▄▅▆▇█"


def slope(times: Sequence[float], values: Sequence[float]) -> float:
    """Least-squares slope of values over times (units of value per unit of time); 0.0 if undefined."""
    n = len(values)
    if n < 2 or len(times) != n:
        return 0.0
    mean_t = sum(times) / n
    mean_v = sum(values) / n
    var = sum((t - mean_t) ** 2 for t in times)
    if var == 0:
        return 0.0
    cov = sum((t - mean_t) * (v - mean_v) for t, v in zip(times, values))
    return cov / var


def steps(values: Sequence[float]) -> tuple:
    """(rises, falls) between consecutive values."""
    rises = falls = 0
    for a, b in zip(values, values[1:]):
        if b > a:
            rises += 1
        elif b < a:
            falls += 1
    return rises, falls


def floors(values: Sequence[float]) -> List[float]:
    """Lowest value of each of three consecutive parts of values (two parts below six values,
    one below two)."""
    n = len(values)
    parts = 3 if n >= 6 else 2 if n >= 2 else 1
    bounds = [round(i * n / parts) for i in range(parts + 1)]
    return [min(values[a:b]) for a, b in zip(bounds, bounds[1:]) if b > a]


def floor_growth(values: Sequence[float]) -> float:
    """Last floor minus first floor (see ``floors``); 0 for fewer than two values."""
    if len(values) < 2:
        return 0
    f = floors(values)
    return f[-1] - f[0]


def floor_rises_steadily(values: Sequence[float], min_growth: float = MIN_GROWTH) -> bool:
    """Each floor is higher than the one before, and the last is min_growth above the first."""
    f = floors(values)
    return len(f) >= 2 and all(b > a for a, b in zip(f, f[1:])) and f[-1] - f[0] >= min_growth


@dataclass
class Trend:
    samples: int          # samples tested (those while alive, see trend())
    first: int
    last: int
    slope: float          # bytes per second (least squares)
    rises: int            # consecutive samples that went up
    falls: int            # ... and down
    floor_growth: float   # last floor - first floor (see floors)
    suspect: bool         # the growth test says: leaking
    held_after_delete: int = 0  # bytes a deleted task still holds (last sample), else 0

    @property
    def per_minute(self) -> float:
        return self.slope * 60.0

    @property
    def growth(self) -> int:
        return self.last - self.first

    @property
    def verdict(self) -> str:
        """Short word for tables: LEAK, HELD, ok, or ... while there are too few samples."""
        if self.suspect:
            return "LEAK"
        if self.held_after_delete:
            return "HELD"
        if self.samples < MIN_SAMPLES:
            return "..."
        return "ok"

    def reason(self) -> str:
        """One line saying why (for legends, tables and failure messages)."""
        parts = []
        if self.suspect:
            parts.append("grew %s, %d of %d steps up, floor +%s"
                         % (format_rate(self.per_minute), self.rises, self.samples - 1,
                            format_bytes(self.floor_growth)))
        if self.held_after_delete:
            parts.append("deleted while holding %s" % format_bytes(self.held_after_delete))
        if not parts:
            if self.samples < MIN_SAMPLES:
                return "%d sample%s, need %d" % (self.samples, "" if self.samples == 1 else "s", MIN_SAMPLES)
            return "no sustained growth"
        return "; ".join(parts)


def trend(times: Sequence[float], values: Sequence[int], alive=True,
          min_samples: int = MIN_SAMPLES, min_growth: float = MIN_GROWTH) -> Trend:
    """The leak verdict for one task's current usage sampled at times (seconds).

    alive: whether the task was alive at each sample (a sequence), or at the last
    one (a bool; None: unknown). A deleted task cannot grow any more, so with a
    sequence the growth test looks at the samples taken while the task was alive
    (all of them if there are fewer than min_samples of those).
    """
    if len(times) != len(values):
        raise ValueError("times and values differ in length (%d, %d)" % (len(times), len(values)))
    n = len(values)
    if n == 0:
        return Trend(0, 0, 0, 0.0, 0, 0, 0, False)
    if isinstance(alive, (list, tuple)):
        if len(alive) != n:
            raise ValueError("alive and values differ in length (%d, %d)" % (len(alive), n))
        living = [i for i in range(n) if alive[i]]
        alive_at_end = alive[-1]
        if len(living) >= min_samples:
            times = [times[i] for i in living]
            values_tested = [values[i] for i in living]
        else:
            values_tested = list(values)
    else:
        alive_at_end = alive
        values_tested = list(values)
    s = slope(times, values_tested)
    rises, falls = steps(values_tested)
    floor = floor_growth(values_tested)
    suspect = len(values_tested) >= min_samples and s > 0 and floor_rises_steadily(values_tested, min_growth)
    held = values[-1] if alive_at_end is False and values[-1] > 0 else 0
    return Trend(len(values_tested), values[0], values[-1], s, rises, falls, floor, suspect, held)


def growth_per_run(totals: Sequence[int]) -> List[int]:
    """Bytes grown in each run, from the totals measured before the first run and after each."""
    return [b - a for a, b in zip(totals, totals[1:])]


def grows_every_run(totals: Sequence[int], tolerance: int = 0) -> bool:
    """True when the total grew by more than tolerance bytes in every run (at least one run)."""
    growth = growth_per_run(totals)
    return bool(growth) and all(g > tolerance for g in growth)


def sparkline(values: Sequence[float], width: Optional[int] = None) -> str:
    """Values as block characters, scaled from 0 (or the lowest value if negative) to the highest;
    the last ``width`` values only, when given."""
    if width is not None:
        values = values[-width:]
    if not values:
        return ""
    low = min(0, min(values))
    high = max(values)
    if high == low:
        return SPARK_CHARS[0] * len(values)
    top = len(SPARK_CHARS) - 1
    return "".join(SPARK_CHARS[int(round((v - low) * top / (high - low)))] for v in values)


def format_bytes(n: float) -> str:
    """1234 -> '1234 B', 123456 -> '120.6 KiB', 3 << 20 -> '3.0 MiB' (negative values keep their sign)."""
    sign = "-" if n < 0 else ""
    n = abs(n)
    if n < 10 * 1024:
        return "%s%d B" % (sign, round(n))
    if n < 1024 * 1024:
        return "%s%.1f KiB" % (sign, n / 1024)
    return "%s%.1f MiB" % (sign, n / (1024 * 1024))


def format_rate(per_minute: float) -> str:
    """Bytes per minute, signed: '+512 B/min', '0 B/min', '-1.5 KiB/min'."""
    if round(per_minute) == 0:
        return "0 B/min"
    return ("+" if per_minute > 0 else "") + format_bytes(per_minute) + "/min"
