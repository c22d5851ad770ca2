"""Inside MicroPython's GC heap, run after run: which Python types a script leaves
behind. A census of the GC heap by type (heaptrack.gc_census() on the board)
just before and just after each run of a script; a type whose bytes grew by more
than a tolerance in every run grew, and heaptrack.gc_holders() says who holds a
sample of its objects. Used by the pytest plugin (assert_no_gc_growth) and
`mpheaptrack gc --run`."""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

from .trend import aligned_table, runs_words

__all__ = ["GcGrowthReport", "GcGrowthError", "check_gc_growth"]


class GcGrowthError(AssertionError):
    """A Python type in the GC heap kept growing; str() is the readable table."""


@dataclass
class GcGrowthReport:
    script: str
    runs: int
    warmup: int
    tolerance: int
    growth: Dict[str, List[int]]        # type name -> bytes it grew in each run (types that changed)
    count_growth: Dict[str, List[int]]  # type name -> objects it gained in each run
    now: Dict[str, Tuple[int, int]]     # type name -> (objects, bytes) after the last run
    grew: List[str]                     # types that grew more than tolerance bytes in every run, most first
    holders: Dict[str, List[str]] = field(default_factory=dict)  # grew's types -> chains of a sample
    output: str = ""                    # the last run's output

    @property
    def ok(self) -> bool:
        return not self.grew

    def table(self) -> str:
        """Bytes per run of every type that changed, those that grew first."""
        names = sorted(self.growth, key=lambda n: (n not in self.grew, -sum(self.growth[n]), n))
        headers = ["TYPE", "OBJECTS", "BYTES"] + ["RUN %d" % (i + 1) for i in range(self.runs)] + ["VERDICT"]
        rows = []
        for name in names:
            count, size = self.now.get(name, (0, 0))
            rows.append([name, str(count), str(size)] + ["%+d" % g if g else "0" for g in self.growth[name]]
                        + ["GREW" if name in self.grew else "ok"])
        return aligned_table(headers, rows)

    def __str__(self) -> str:
        warm = " (after %d warm-up run%s)" % (self.warmup, "" if self.warmup == 1 else "s") if self.warmup else ""
        if self.ok:
            head = "heaptrack: no Python type grew in every one of %s of %s%s" % (
                runs_words(self.runs), self.script, warm)
        else:
            head = "heaptrack: GC heap growth in %s over %s of %s%s, bytes per run:" % (
                ", ".join(self.grew), runs_words(self.runs), self.script, warm)
        parts = [head, ""]
        parts.append(self.table() if self.growth else "(no type changed)")
        for name in self.grew:
            if self.holders.get(name):
                parts += ["", "%s objects are held by:" % name] + ["  " + c for c in self.holders[name]]
        return "\n".join(parts)


# Before the JSON of a run's changes (heaptrack._host.gc_run on the board: a run
# between two censuses of the GC heap).
GC_RUN_MARKER = "\x1eheaptrack-gc-run:"


def check_gc_growth(conn, code: str, name: str = "script.py", *, runs: int = 5, warmup: int = 1,
                    tolerance: int = 0, holders: int = 2, timeout: float = 60) -> GcGrowthReport:
    """On a connection.Connection: code run warmup + runs times (each as `mpremote run` runs a
    script, without a reset between), each between two censuses; the report."""
    from .connection import ScriptError, host_call
    if runs < 1 or warmup < 0 or tolerance < 0:
        raise ValueError("runs must be >= 1, warmup and tolerance >= 0")
    growth: Dict[str, List[int]] = {}
    count_growth: Dict[str, List[int]] = {}
    now: Dict[str, Tuple[int, int]] = {}
    output = ""
    for i in range(warmup + runs):
        which = "warm-up run" if i < warmup else "run %d" % (i - warmup + 1)
        try:
            out = conn.exec(host_call("gc_run", code, name, GC_RUN_MARKER), timeout=timeout)
        except ScriptError as e:
            raise AssertionError("%s raised on the board in its %s:\n%s" % (name, which, e.traceback.rstrip())) \
                from None
        output, _, line = out.rpartition(GC_RUN_MARKER)
        if i < warmup:
            continue
        for type_name, (dc, ds, count, size) in json.loads(line).items():
            growth.setdefault(type_name, [0] * runs)[i - warmup] = ds
            count_growth.setdefault(type_name, [0] * runs)[i - warmup] = dc
            now[type_name] = (count, size)
    # heaptrack's own objects (the censuses) are the measurement's doing.
    grew = sorted((n for n, g in growth.items() if all(x > tolerance for x in g) and not n.startswith("heaptrack.")),
                  key=lambda n: (-sum(growth[n]), n))
    chains = {}
    for type_name in grew[:3]:
        text = conn.exec("print(repr([str(c) for c in __import__('heaptrack').gc_holders(%r, %d)]))"
                         % (type_name, max(1, min(8, holders))), timeout=timeout)
        chains[type_name] = ast.literal_eval(text.strip().splitlines()[-1])
    return GcGrowthReport(name, runs, warmup, tolerance, growth, count_growth, now, grew, chains, output)
