"""Arithmetic over samples and the words for numbers: slopes, floors, sparklines, byte counts.

The leak verdict built on it is verdict.py's, the only one; this module only
computes and formats.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence

__all__ = ["slope", "steps", "floors", "floor_growth", "growth_per_run", "sparkline", "format_bytes", "format_rate",
           "runs_words", "aligned_table"]

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


def growth_per_run(totals: Sequence[int]) -> List[int]:
    """Bytes grown in each run, from the totals measured before the first run and after each."""
    return [b - a for a, b in zip(totals, totals[1:])]


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


def runs_words(n: int) -> str:
    """'1 run', '5 runs'."""
    return "%d run%s" % (n, "" if n == 1 else "s")


def aligned_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table: the first column left-aligned, the last as it is (a
    word), the others right-aligned, two spaces between."""
    widths = [max(len(r[i]) for r in list(rows) + [headers]) for i in range(len(headers))]
    lines = []
    for r in [headers] + list(rows):
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:-1], widths[1:-1])] + [r[-1]]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
