"""The recording model: samples of a board's tasks, the recording file (its writer and
its reader), series per task.

A sample is what the firmware's ``heaptrack.dump_sample()`` writes (one line of keyed
JSON; its fields are records.SAMPLE_TASK, records.REGION, records.SAMPLE_GC);
``Sample.from_board`` reads it. A recording (``mpheaptrack record --out``) is JSON
lines: a header, one line per sample, an end line::

    {"type": "record", "version": 1, "port": ..., "virtual": ..., "machine": ..., "interval": ...,
     "duration": ..., "script": ..., "started": ..., "hard_reset": false}
    {"type": "sample", "t": 1.5, "tasks": {"leaking_task": {"current": 2936, "peak": 11128, "alive": true,
     "handle": ..., "gc": 0}}, "regions": [{"name": "RAM", "caps": ..., "total": ..., "free": ...,
     "largest_free": ..., "minimum_free": ...}], "gc": {"total": ..., "used": ..., "free": ..., "largest_free": ...},
     "records": {"tasks": ..., "deleted": ..., "bytes": ..., "tasks_left": ..., "low": false},
     "failures": {"total": 3, "new": [{"number": 3, "ms": ..., "task": ..., "task_name": "mp_task",
     "size": 16717, "caps": ..., "function": "heap_caps_calloc", "kind": "fragmented", "text": ...}]},
     "gc_types": [{"name": "gc_leak.Reading", "count": 96, "size": 4608}, ...]}
    {"type": "python_error", "t": 1.5, "text": "OSError: [Errno 12] ENOMEM"}
    {"type": "end", "samples": n, "script_error": null or its traceback, "board_lost": null or why}

``t`` is seconds since the first sample by the board's clock. A sample's
``failures`` lists the failed ESP-IDF allocations since the sample before (each
explained by the firmware, as ``heaptrack.failures()`` does); a ``python_error``
line is a MemoryError or ENOMEM line the script printed, after the sample at ``t``:
MicroPython's view of the same failure. A sample's ``gc_types`` (when recorded with
``--gc-types N``) are the GC heap's N biggest Python types by bytes then, biggest first
(records.GC_TYPE). Each task is kept
apart (``Instances``): ESP-IDF keeps a deleted task's record, so a board that ran a
script before has a task of the same name from then; the first task of a name seen
is ``name``, the next ``name#2``, and so on. ``gc`` is the bytes of its blocks that
are MicroPython GC heap areas (the firmware's sample says whose they are).
``read_record`` reads one back (recordings of 0.1 and early 0.2, whose tasks of a
name were summed with ``"instances": n``, too): a last line cut short (a recorder
killed mid-write) is a warning, any other bad line an error naming the file and the
line.
"""

from __future__ import annotations

import datetime
import json
import math
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Tuple

from . import records, verdict

__all__ = ["RECORD_VERSION", "Sample", "TaskSample", "Recording", "RecordingError", "read_record", "RecordingWriter",
           "Instances", "TaskSeries", "add_to_series", "series_by_task", "gc_type_series"]

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
    gc_areas: List[dict] = field(default_factory=list)  # records.GC_AREA fields
    records: Optional[dict] = None  # records.RECORDS fields; None without task tracking
    failures_total: Optional[int] = None  # failed ESP-IDF allocations since power-on; None: not said
    failures: List[dict] = field(default_factory=list)  # records.FAILURE fields: the new ones
    gc_events: List[dict] = field(default_factory=list)  # records.GC_EVENT fields, the board's newest few
    gc_types: Optional[List[dict]] = None  # records.GC_TYPE fields, biggest first; None: not asked for

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
        areas = [dict(zip(records.names(records.GC_AREA), records.check(a, records.GC_AREA, "sample gc area")))
                 for a in obj.get("gc_areas", [])]
        rec = obj.get("records")
        if rec is not None:
            rec = dict(zip(records.names(records.RECORDS), records.check(rec, records.RECORDS, "sample records")))
        failed = obj.get("failures")
        total, new = None, []
        if failed is not None:
            total, _, new_list = records.check(failed, records.FAILURES, "sample failures")
            new = [dict(zip(records.names(records.FAILURE), records.check(f, records.FAILURE, "sample failure")))
                   for f in new_list]
        events = obj.get("gc_events") or {}
        if not isinstance(events, dict) or not isinstance(events.get("recent", []), list):
            raise ValueError("sample: 'gc_events' must be {\"total\", \"recent\": [...]}")
        gc_events = [dict(zip(records.names(records.GC_EVENT), records.check(e, records.GC_EVENT, "sample gc event")))
                     for e in events.get("recent", [])]
        gc_types = obj.get("gc_types")
        if gc_types is not None:
            gc_types = _gc_types(gc_types, "sample")
        return cls(ms / 1000.0, tasks, regions, gc, ticks, areas, rec, total, new, gc_events, gc_types)

    def to_json(self, tasks: Dict[str, dict], gc_events_after: Optional[int] = None) -> dict:
        """This sample as one line of a recording, its tasks as Instances.label gave them; with the
        GC heap's area events numbered above gc_events_after (those earlier samples did not carry;
        None: every one it has)."""
        line = {"type": "sample", "t": round(self.t, 3), "tasks": tasks, "regions": self.regions, "gc": self.gc}
        if self.records is not None:
            line["records"] = self.records
        if self.failures_total is not None:
            line["failures"] = {"total": self.failures_total, "new": self.failures}
        events = [e for e in self.gc_events if gc_events_after is None or e["number"] > gc_events_after]
        if events:
            line["gc_events"] = events
        if self.gc_types is not None:
            line["gc_types"] = self.gc_types
        return line

    def total_free(self) -> int:
        return sum(r.get("free", 0) for r in self.regions)

    def largest_free(self) -> int:
        return max([r.get("largest_free", 0) for r in self.regions] or [0])


def _gc_types(value, what: str) -> List[dict]:
    if not isinstance(value, list):
        raise records.RecordError('%s: "gc_types" is not a list' % what)
    return [dict(zip(records.names(records.GC_TYPE), records.check(t, records.GC_TYPE, "%s gc type" % what)))
            for t in value]


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
    python_errors: List[dict] = field(default_factory=list)  # {"t", "text"}
    warnings: List[str] = field(default_factory=list)

    @property
    def board_lost(self) -> Optional[str]:
        return (self.end or {}).get("board_lost")

    def failures(self) -> List[Tuple[float, dict]]:
        """(t, failure) for every failed allocation the samples carry: t is the sample's that
        first saw it (it failed since the sample before)."""
        return [(s["t"], f) for s in self.samples for f in (s.get("failures") or {}).get("new", [])]


class Instances:
    """Keeps apart the tasks of a board's samples that share a name, from one sample to
    the next, and labels them: the first task of a name seen is ``name``, the next
    ``name#2``, and so on.

    ESP-IDF keeps a deleted task's record, with its name and its TCB address as its
    handle, and a new task may get that TCB. So a sample can hold several records of
    a name and a handle: at most one of them alive (the task that has the TCB now),
    the others deleted tasks', whose figures no longer change but for a block another
    task frees. A record is matched to what it was in the last sample: an alive one to
    the task that was alive; a deleted one to a deleted task of the same peak (frozen at
    its death), else to the task that was alive (it died since), else in ESP-IDF's
    order. What is left is a new task."""

    def __init__(self):
        self._known: Dict[Tuple[str, int], List[dict]] = {}   # (name, handle) -> [instance]
        self._named: Dict[str, int] = {}                       # name -> instances labelled

    def _new(self, name: str) -> str:
        n = self._named.get(name, 0) + 1
        self._named[name] = n
        return name if n == 1 else "%s#%d" % (name, n)

    def label(self, sample: Sample) -> Dict[str, dict]:
        """label -> {"current", "peak", "alive", "handle", "gc"} for every task of the sample."""
        groups: Dict[Tuple[str, int], List[TaskSample]] = {}
        for t in sample.tasks:
            groups.setdefault((t.name, t.handle), []).append(t)
        out: Dict[str, dict] = {}
        known: Dict[Tuple[str, int], List[dict]] = {}
        for key, found in groups.items():
            before = list(self._known.get(key, ()))
            matched: List[Tuple[TaskSample, dict]] = []

            def take(record, pick):
                for inst in before:
                    if pick(inst):
                        before.remove(inst)
                        matched.append((record, inst))
                        return True
                return False

            dead = []
            for record in found:
                if record.alive:
                    if not take(record, lambda i: i["alive"]):
                        matched.append((record, {"label": self._new(record.name)}))
                else:
                    dead.append(record)
            # Deleted records: first to deleted tasks of the same peak, then to the
            # task that was alive, then in order; what is left is new.
            for pick in (lambda r: lambda i: not i["alive"] and i["peak"] == r.peak,
                         lambda r: lambda i: i["alive"], lambda r: lambda i: True):
                dead = [record for record in dead if not take(record, pick(record))]
            for record in dead:
                matched.append((record, {"label": self._new(record.name)}))
            order = {id(record): i for i, record in enumerate(found)}
            matched.sort(key=lambda pair: order[id(pair[0])])   # ESP-IDF's order
            for record, inst in matched:
                inst.update(alive=record.alive, peak=record.peak)
                known.setdefault(key, []).append(inst)
                out[inst["label"]] = {"current": record.current, "peak": record.peak, "alive": record.alive,
                                      "handle": record.handle, "gc": 0}
        self._known = known
        # The GC heap's areas, each to the task it is charged to: the alive one of
        # that handle, else a deleted one that holds at least as much.
        for area in sample.gc_areas:
            owners = [e for e in out.values() if e["handle"] == area["task"]]
            owner = next((e for e in owners if e["alive"]), None) or next(
                (e for e in owners if e["current"] - e["gc"] >= area["size"]), None)
            if owner is not None:
                owner["gc"] += area["size"]
        return out


_TASK_FIELDS = (("current", int), ("peak", int), ("alive", bool))
_HEADER_FIELDS = (("port", str), ("machine", str), ("script", str), ("started", str), ("interval", float),
                  ("duration", float), ("virtual", bool), ("track_deleted", bool), ("hard_reset", bool))


def _check_header(obj: dict) -> None:
    # Optional fields, but of their type when there: plot prints and draws them.
    for name, kind in _HEADER_FIELDS:
        value = obj.get(name)
        if value is None:
            continue
        if kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        else:
            ok = isinstance(value, kind)
        if not ok:
            raise records.RecordError("header: %r is %r, not %s" % (name, value, {str: "text", float: "a number",
                                                                                 bool: "true or false"}[kind]))


def _check_sample(obj: dict) -> None:
    t = obj.get("t")
    if not isinstance(t, (int, float)) or isinstance(t, bool) or not math.isfinite(t) or abs(t) > records.MAX_SECONDS:
        raise records.RecordError('a sample needs a finite number "t" (seconds), got %r' % (t,))
    tasks = obj.get("tasks")
    if not isinstance(tasks, dict):
        raise records.RecordError('a sample needs a "tasks" object')
    for name, v in tasks.items():
        records.check(v, _TASK_FIELDS, "task %r" % name)
        if "gc" in v:
            records.check(v, (("gc", int),), "task %r" % name)
    regions = obj.get("regions", [])
    if not isinstance(regions, list):
        raise records.RecordError('"regions" is not a list')
    for r in regions:
        records.check(r, records.REGION, "region")
    gc = obj.get("gc", {})
    if gc:
        records.check(gc, records.SAMPLE_GC, "gc")
    events = obj.get("gc_events", [])
    if not isinstance(events, list):
        raise records.RecordError('"gc_events" is not a list')
    for e in events:
        records.check(e, records.GC_EVENT, "gc event")
    if obj.get("gc_types") is not None:
        _gc_types(obj["gc_types"], "a sample")
    failed = obj.get("failures")
    if failed is not None:
        records.check(failed, (("total", int), ("new", list)), "failures")
        for f in failed["new"]:
            records.check(f, records.FAILURE, "failure")


def _check_time(obj: dict, what: str) -> None:
    t = obj.get("t")
    if not isinstance(t, (int, float)) or isinstance(t, bool) or not math.isfinite(t) or abs(t) > records.MAX_SECONDS:
        raise records.RecordError('%s needs a finite number "t" (seconds), got %r' % (what, t))


def _no_constant(name: str):
    # JSON has no NaN or Infinity; Python's json module reads them unless told not to.
    raise ValueError("%s is not a JSON number" % name)


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
            obj = json.loads(text, parse_constant=_no_constant)
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
                _check_header(obj)
                rec.header = obj
            elif kind == "sample":
                _check_sample(obj)
                rec.samples.append(obj)
            elif kind == "python_error":
                _check_time(obj, "a python_error line")
                records.check(obj, (("text", str),), "python_error")
                rec.python_errors.append(obj)
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
    """One task's current/peak usage over the samples where it appeared (gc: the bytes
    of it that are MicroPython GC heap areas)."""
    name: str
    times: List[float] = field(default_factory=list)
    current: List[int] = field(default_factory=list)
    peak: List[int] = field(default_factory=list)
    alive: List[bool] = field(default_factory=list)
    gc: List[int] = field(default_factory=list)
    appeared: bool = False  # not there at the first sample: it started while observed

    def add(self, t: float, current: int, peak: int, alive: bool, gc: int = 0) -> None:
        self.times.append(t)
        self.current.append(current)
        self.peak.append(peak)
        self.alive.append(alive)
        self.gc.append(gc)

    @property
    def change(self) -> int:
        """What its usage did since its first sample."""
        return self.current[-1] - self.current[0]

    def peaks_seen(self) -> List[int]:
        """At each sample, the highest use seen since the first one: ESP-IDF's peak
        when the task started while observed, or once its peak rose past where it
        stood at the first sample (it reached that peak since); else the highest use
        sampled. Never a peak from before the observation."""
        out = []
        high = 0
        for current, peak in zip(self.current, self.peak):
            high = max(high, current)
            out.append(peak if self.appeared or peak > self.peak[0] else high)
        return out

    def verdict(self) -> verdict.Verdict:
        """The leak verdict (verdict.judge) for this series."""
        return verdict.judge(self.times, self.current, self.alive, appeared=self.appeared, gc=self.gc)


def add_to_series(series: Dict[str, TaskSeries], sample: dict, first: bool) -> None:
    """Adds a sample dict (Sample.to_json() or a recording line) to label -> TaskSeries; first:
    it is the first sample (a task not in it started while observed)."""
    for name, v in sample["tasks"].items():
        s = series.get(name)
        if s is None:
            s = series[name] = TaskSeries(name, appeared=not first)
        s.add(sample["t"], v["current"], v["peak"], v["alive"], v.get("gc", 0))


def series_by_task(samples: Iterable[dict]) -> Dict[str, TaskSeries]:
    """label -> TaskSeries from sample dicts (Sample.to_json() or recording lines), first seen first."""
    out: Dict[str, TaskSeries] = {}
    for i, s in enumerate(samples):
        add_to_series(out, s, i == 0)
    return out


def gc_type_series(samples: Iterable[dict]) -> Tuple[List[float], Dict[str, List[Optional[int]]]]:
    """The GC heap's top types over time, from the samples that carry them (recorded with
    --gc-types): their times, and type name -> its bytes at each of them, every type that
    was among some sample's top N (None where it was not among that sample's: below the
    top, not known to be 0). Biggest first, by the most bytes it held."""
    times: List[float] = []
    rows: List[Dict[str, int]] = []
    for s in samples:
        types = s.get("gc_types")
        if types is None:
            continue
        times.append(s["t"])
        rows.append({t["name"]: t["size"] for t in types})
    most: Dict[str, int] = {}
    for row in rows:
        for name, size in row.items():
            most[name] = max(most.get(name, 0), size)
    order = sorted(most, key=lambda name: (-most[name], name))
    return times, {name: [row.get(name) for row in rows] for name in order}


class RecordingWriter:
    """``mpheaptrack record``'s file: a header, the samples, the script's
    MemoryError/ENOMEM lines and an end line, each flushed as it is written, so
    that a recording cut short (the recorder killed, the machine down) still holds
    every sample taken before::

        with RecordingWriter(path) as rec:      # OSError if it cannot be written
            rec.header(board, interval=..., duration=..., script=..., hard_reset=...)
            rec.sample(line)                    # Sample.to_json()'s dict
            rec.python_error(t, text)
            rec.end(samples, script_error, board_lost)
    """

    def __init__(self, path):
        self.path = path
        self._f = open(path, "w", encoding="utf-8")

    def __enter__(self) -> "RecordingWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._f.close()

    def _line(self, obj: dict) -> None:
        self._f.write(json.dumps(obj) + "\n")
        self._f.flush()

    def header(self, board, *, interval: float, duration: Optional[float], script: Optional[str],
               hard_reset: bool) -> None:
        """The first line: which board (a connection.Connection), how it is sampled, when it began."""
        self._line({"type": "record", "version": RECORD_VERSION, "port": board.device,
                    "virtual": board.vboard is not None, "machine": board.machine,
                    "track_deleted": board.track_deleted, "interval": interval, "duration": duration,
                    "script": script, "hard_reset": hard_reset,
                    "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds")})

    def sample(self, line: dict) -> None:
        """A sample, as Sample.to_json() made it (tasks labelled by recording.Instances)."""
        self._line(line)

    def python_error(self, t: float, text: str) -> None:
        """A MemoryError or ENOMEM line of the script's output, after the sample at t."""
        self._line({"type": "python_error", "t": t, "text": text})

    def end(self, samples: int, script_error: Optional[str], board_lost: Optional[str]) -> None:
        self._line({"type": "end", "samples": samples, "script_error": script_error, "board_lost": board_lost})
