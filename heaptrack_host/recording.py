"""The recording model: samples of a board's tasks, the recording file, series per task.

A sample is what the firmware's ``heaptrack.dump_sample()`` writes (one line of keyed
JSON; its fields are records.SAMPLE_TASK, records.REGION, records.SAMPLE_GC);
``Sample.from_board`` reads it. A recording (``mpheaptrack record --out``) is JSON
lines: a header, one line per sample, an end line::

    {"type": "record", "version": 1, "port": ..., "virtual": ..., "machine": ..., "interval": ...,
     "duration": ..., "script": ..., "started": ...}
    {"type": "sample", "t": 1.5, "tasks": {"leaking_task": {"current": 2936, "peak": 11128, "alive": true}},
     "regions": [{"name": "RAM", "caps": ..., "total": ..., "free": ..., "largest_free": ..., "minimum_free": ...}],
     "gc": {"total": ..., "used": ..., "free": ..., "largest_free": ...}}
    {"type": "end", "samples": n, "script_error": null or its traceback, "board_lost": null or why}

``t`` is seconds since the first sample by the board's clock; tasks that share a name
are summed (``"instances": n``). ``read_record`` reads one back: a last line cut short
(a recorder killed mid-write) is a warning, any other bad line an error naming the
file and the line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional

from . import records, verdict

__all__ = ["RECORD_VERSION", "Sample", "TaskSample", "Recording", "RecordingError", "read_record",
           "TaskSeries", "series_by_task"]

RECORD_VERSION = 1


class RecordingError(ValueError):
    """A recording that cannot be read; str() is one line naming the file and the line."""


@dataclass
class TaskSample:
    name: str
    handle: int
    alive: bool
    current: int
    peak: int


@dataclass
class Sample:
    """Every task's usage at one moment; t is seconds since the first sample (board clock)."""
    t: float
    tasks: List[TaskSample]
    regions: List[dict] = field(default_factory=list)  # records.REGION fields
    gc: dict = field(default_factory=dict)  # records.SAMPLE_GC fields
    ticks_ms: int = 0

    @classmethod
    def from_board(cls, text: str) -> "Sample":
        """From the JSON line heaptrack.dump_sample() wrote (ValueError if it is not one)."""
        obj = json.loads(text)
        if not isinstance(obj, dict) or obj.get("type") != "sample":
            raise ValueError("not a heaptrack sample: %r" % text[:80])
        tasks = [TaskSample(*records.check(t, records.SAMPLE_TASK, "sample task"))
                 for t in _list(obj, "tasks")]
        regions = [dict(zip(records.names(records.REGION), records.check(r, records.REGION, "sample region")))
                   for r in _list(obj, "regions")]
        gc = dict(zip(records.names(records.SAMPLE_GC), records.check(obj.get("gc"), records.SAMPLE_GC, "sample gc")))
        ms, ticks = obj.get("ms", 0), obj.get("ticks_ms", 0)
        if not isinstance(ms, int) or not isinstance(ticks, int):
            raise ValueError("sample: 'ms' and 'ticks_ms' must be ints")
        return cls(ms / 1000.0, tasks, regions, gc, ticks)

    def by_name(self) -> Dict[str, dict]:
        """name -> {"current", "peak", "alive"} summed over tasks of that name ("instances" when > 1);
        a DELETED task keeps what it never freed."""
        out: Dict[str, dict] = {}
        for t in self.tasks:
            entry = out.get(t.name)
            if entry is None:
                out[t.name] = {"current": t.current, "peak": t.peak, "alive": t.alive}
            else:
                entry["current"] += t.current
                entry["peak"] += t.peak
                entry["alive"] = entry["alive"] or t.alive
                entry["instances"] = entry.get("instances", 1) + 1
        return out

    def to_json(self) -> dict:
        """This sample as one line of a recording."""
        return {"type": "sample", "t": round(self.t, 3), "tasks": self.by_name(),
                "regions": self.regions, "gc": self.gc}

    def total_free(self) -> int:
        return sum(r.get("free", 0) for r in self.regions)

    def largest_free(self) -> int:
        return max([r.get("largest_free", 0) for r in self.regions] or [0])


def _list(obj: dict, key: str) -> list:
    value = obj.get(key)
    if not isinstance(value, list):
        raise records.RecordError("sample lacks a %r list" % key)
    return value


@dataclass
class Recording:
    header: dict = field(default_factory=dict)
    samples: List[dict] = field(default_factory=list)
    end: Optional[dict] = None
    warnings: List[str] = field(default_factory=list)

    @property
    def board_lost(self) -> Optional[str]:
        return (self.end or {}).get("board_lost")


_TASK_FIELDS = (("current", int), ("peak", int), ("alive", bool))


def _check_sample(obj: dict) -> None:
    t = obj.get("t")
    if not isinstance(t, (int, float)) or isinstance(t, bool):
        raise records.RecordError('a sample needs a number "t"')
    tasks = obj.get("tasks")
    if not isinstance(tasks, dict):
        raise records.RecordError('a sample needs a "tasks" object')
    for name, v in tasks.items():
        records.check(v, _TASK_FIELDS, "task %r" % name)
    regions = obj.get("regions", [])
    if not isinstance(regions, list):
        raise records.RecordError('"regions" is not a list')
    for r in regions:
        records.check(r, records.REGION, "region")
    gc = obj.get("gc", {})
    if gc:
        records.check(gc, records.SAMPLE_GC, "gc")


def read_record(lines: Iterable[str], source: str = "recording") -> Recording:
    """A recording from its lines (RecordingError naming source and line if it is malformed).

    A last line that is not complete JSON (the recorder was killed while writing it) is
    left out with a warning in .warnings; so is a recording without its end line."""
    rec = Recording()
    lines = list(lines)
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    for i, line in enumerate(lines):
        text = line.strip()
        if not text:
            continue
        lineno = i + 1
        try:
            obj = json.loads(text)
        except ValueError as e:
            if i == last and not line.endswith("\n"):
                rec.warnings.append("%s, line %d: cut short (the recorder stopped while writing it); "
                                    "left out" % (source, lineno))
                continue
            raise RecordingError("%s, line %d: not JSON (%s)" % (source, lineno, e)) from None
        if not isinstance(obj, dict):
            raise RecordingError("%s, line %d: not a JSON object" % (source, lineno))
        kind = obj.get("type", "sample" if "tasks" in obj else None)
        try:
            if kind == "record":
                rec.header = obj
            elif kind == "sample":
                _check_sample(obj)
                rec.samples.append(obj)
            elif kind == "end":
                rec.end = obj
            # other types (future additions) are skipped
        except records.RecordError as e:
            raise RecordingError("%s, line %d: %s" % (source, lineno, e)) from None
    if rec.samples and rec.end is None:
        rec.warnings.append("%s: no end line (the recording was cut short)" % source)
    return rec


@dataclass
class TaskSeries:
    """One task name's current/peak usage over the samples where it appeared."""
    name: str
    times: List[float] = field(default_factory=list)
    current: List[int] = field(default_factory=list)
    peak: List[int] = field(default_factory=list)
    alive: List[bool] = field(default_factory=list)
    appeared: bool = False  # not there at the first sample: it started while observed

    def add(self, t: float, current: int, peak: int, alive: bool) -> None:
        self.times.append(t)
        self.current.append(current)
        self.peak.append(peak)
        self.alive.append(alive)

    def verdict(self) -> verdict.Verdict:
        """The leak verdict (verdict.judge) for this series."""
        return verdict.judge(self.times, self.current, self.alive, appeared=self.appeared)


def series_by_task(samples: Iterable[dict]) -> Dict[str, TaskSeries]:
    """name -> TaskSeries from sample dicts (Sample.to_json() or recording lines), first seen first."""
    out: Dict[str, TaskSeries] = {}
    for i, s in enumerate(samples):
        for name, v in s["tasks"].items():
            if name not in out:
                out[name] = TaskSeries(name, appeared=i > 0)
            out[name].add(s["t"], v["current"], v["peak"], v["alive"])
    return out
