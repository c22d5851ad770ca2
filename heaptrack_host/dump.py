"""Read the JSON lines of ``heaptrack.dump()`` back into Python objects.

On the board, ``heaptrack.dump(task=None, blocks=True)`` prints::

    {"type": "begin", "version": 1, "ticks_ms": ..., "track_deleted": true}
    {"type": "region", "name": "RAM", "caps": ..., "total": ..., "free": ..., "largest_free": ..., "minimum_free": ...}
    ...                                          (one line per ESP-IDF heap region)
    {"type": "gc", "total": ..., "used": ..., "free": ..., "largest_free": ..., "areas": ..., "in_esp_heap": ...,
     "area_blocks": [[address, size, task or null], ...]}
    {"type":"task","name":"mp_task","handle":...,"alive":true,"current":...,"peak":...,"heap_count":1}
    {"type":"heap","task":<handle>,"name":"RAM","caps":...,"size":...,"current":...,"peak":...,"alloc_count":2,"blocks":[[addr,size],...]}
    ...                                          (per task: its line, then one line per heap)
    {"type": "end"}

(``blocks`` is absent with ``blocks=False``.)  ``parse(text)`` finds the dump in
text that may hold anything else (other output, ``\\r\\n`` line endings from a
serial port) and returns a ``Dump``.  A dump that is cut short or malformed
raises ``DumpError`` with the line number.

Tasks are ``report.TaskDetail`` objects (``DumpTask`` adds the handle) holding
``report.HeapDetail`` heaps, so ``report.render_details(dump.to_report_details())``
prints exactly what ``heaptrack.print_details()`` prints for the same statistics.
``str(dump)`` is heaptrack's own rendering of that tree: the blocks that are
MicroPython GC heap areas (``area_blocks``, in a firmware's dump since 0.2.0)
named, and Pre-scheduler's record of a start-up block freed since, whose
address another task's block has now, marked (ESP-IDF keeps listing such
blocks: README, "Blocks listed twice").

Rules:

* Lines before ``begin`` and after ``end`` are ignored, and so are lines inside
  a dump that do not start with ``{`` (output of other code).
* Inside a dump, a line that starts with ``{`` is a dump record: it must be a
  JSON object of a known type with every field, in the order above.
* Percentages are computed as ESP-IDF computes them: ``value * 100 // size``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional

from . import records, report
from .report import HeapDetail, OverviewRow, ReportError, TaskDetail

__all__ = ["DumpError", "Region", "GcHeap", "DumpTask", "Dump", "parse", "parse_all", "FORMAT_VERSION"]

FORMAT_VERSION = 1

# The records' fields: records.py, shared with the samples of dump_sample().
REGION_FIELDS = records.names(records.REGION)
GC_FIELDS = records.names(records.GC)
TASK_FIELDS = records.names(records.TASK)
HEAP_FIELDS = records.names(records.HEAP)


class DumpError(ReportError):
    """Malformed or truncated dump; ``lineno`` (1-based) and ``line`` when known."""


@dataclass
class Region:
    """One ESP-IDF heap region (heap_caps_get_info)."""
    name: str
    caps: int
    total: int
    free: int
    largest_free: int
    minimum_free: int


@dataclass
class GcHeap:
    """MicroPython's GC heap; in_esp_heap: bytes of its areas inside ESP-IDF heaps."""
    total: int
    used: int
    free: int
    largest_free: int
    areas: int
    in_esp_heap: int


@dataclass
class DumpTask(TaskDetail):
    """A report.TaskDetail with the task's handle."""
    handle: int = 0

    def detail(self) -> TaskDetail:
        """This task as a plain report.TaskDetail (compares equal to a parsed report's)."""
        heaps = [HeapDetail(h.name, h.caps, h.size, h.current, h.current_pct, h.peak, h.peak_pct,
                            h.alloc_count, list(h.blocks)) for h in self.heaps]
        return TaskDetail(self.name, self.alive, self.current, self.peak, self.heap_count, heaps)


GC_AREA = "MicroPython GC heap area"
STALE = "start-up block, freed since: ESP-IDF keeps listing it; the address is in use again"


@dataclass
class Dump:
    version: int
    ticks_ms: int
    track_deleted: bool
    regions: List[Region] = field(default_factory=list)
    gc: Optional[GcHeap] = None
    tasks: List[DumpTask] = field(default_factory=list)
    blocks: bool = True  # False when dumped with blocks=False (no ALLOC lists)
    line: int = 0  # 1-based line of the begin record
    # The GC heap's areas in ESP-IDF's heap: address -> the handle of the task
    # charged for it (None: unknown).
    gc_areas: Dict[int, Optional[int]] = field(default_factory=dict)

    def is_gc_area(self, task: "DumpTask", address: int) -> bool:
        """Whether task's block at address is a MicroPython GC heap area."""
        return address in self.gc_areas and self.gc_areas[address] in (None, task.handle)

    def stale_blocks(self) -> set:
        """Addresses Pre-scheduler lists that another task's block has now: blocks made
        before any task ran and freed since, which ESP-IDF keeps listing."""
        early = {b[0] for t in self.tasks if t.handle == 0 for h in t.heaps for b in h.blocks}
        return {b[0] for t in self.tasks if t.handle != 0 for h in t.heaps for b in h.blocks if b[0] in early}

    def __str__(self) -> str:
        """heaptrack's rendering of the detail tree: GC heap areas named, Pre-scheduler's
        stale blocks marked (see the module's docstring)."""
        stale = self.stale_blocks()

        def mark(task, address):
            if self.is_gc_area(task, address):
                return " (%s)" % GC_AREA
            return " (%s)" % STALE if task.handle == 0 and address in stale else ""

        head = "heaptrack dump at %d ms: %d tasks (%d alive)" % (
            self.ticks_ms, len(self.tasks), sum(1 for t in self.tasks if t.alive))
        return head + "\n" + report.render_details(self.tasks, mark).rstrip("\n")

    def task(self, name_or_handle) -> DumpTask:
        """The first task with this handle (int) or name (str)."""
        for t in self.tasks:
            if t.handle == name_or_handle or t.name == name_or_handle:
                return t
        raise KeyError("no task %r in dump" % (name_or_handle,))

    def to_report_details(self) -> List[TaskDetail]:
        """The tasks as report.TaskDetail, for report.render_details / render_overview.

        Rendering these gives print_details()' text only for a dump with blocks
        (a dump without them has no ALLOC lines to print).
        """
        return [t.detail() for t in self.tasks]

    def overview_rows(self) -> List[OverviewRow]:
        return [t.row() for t in self.tasks]

    def totals_by_name(self, gc_areas: bool = True) -> dict:
        """name -> current bytes summed over every task of that name (alive or deleted);
        gc_areas=False leaves out the blocks that are MicroPython GC heap areas."""
        totals: dict = {}
        for t in self.tasks:
            held = t.current
            if not gc_areas:
                held -= self.gc_bytes(t)
            totals[t.name] = totals.get(t.name, 0) + held
        return totals

    def gc_bytes(self, task: "DumpTask") -> int:
        """The bytes of task's blocks that are MicroPython GC heap areas."""
        return sum(size for h in task.heaps for address, size in h.blocks if self.is_gc_area(task, address))


def _pct(value: int, size: int) -> int:
    return value * 100 // size if size > 0 else 0


def _split_lines(text: str) -> List[str]:
    lines = [line.rstrip("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _record(line: str, lineno: int) -> Optional[dict]:
    """The dump record on this line, None if the line is not one ("{" starts a record)."""
    stripped = line.strip()
    if not stripped.startswith("{"):
        return None
    try:
        obj = json.loads(stripped)
    except ValueError as e:
        raise DumpError("malformed dump line (%s)" % e, lineno, line) from None
    if not isinstance(obj, dict) or "type" not in obj:
        raise DumpError("dump line is not a JSON object with a \"type\"", lineno, line)
    return obj


def _fields(obj: dict, table, lineno: int, line: str) -> list:
    try:
        return records.check(obj, table, "%s line" % obj["type"])
    except records.RecordError as e:
        raise DumpError(str(e), lineno, line) from None


def _is_begin(line: str) -> bool:
    s = line.strip()
    if not s.startswith("{") or '"begin"' not in s:
        return False
    try:
        obj = json.loads(s)
    except ValueError:
        return False
    return isinstance(obj, dict) and obj.get("type") == "begin"


class _DumpParser:
    """One dump, from its begin line to its end line."""

    def __init__(self, begin: dict, lineno: int, line: str):
        if begin.get("version") != FORMAT_VERSION:
            raise DumpError("unsupported dump version %r (this parser reads version %d)"
                            % (begin.get("version"), FORMAT_VERSION), lineno, line)
        ticks = begin.get("ticks_ms")
        track = begin.get("track_deleted")
        if not isinstance(ticks, int) or isinstance(ticks, bool) or not isinstance(track, bool):
            raise DumpError("begin line needs an int 'ticks_ms' and a bool 'track_deleted'", lineno, line)
        self.dump = Dump(FORMAT_VERSION, ticks, track, line=lineno)
        self.stage = "regions"  # regions -> tasks (after gc) -> done
        self.task: Optional[DumpTask] = None
        self.task_lineno = 0
        self.blocks_seen: Optional[bool] = None

    def _close_task(self, lineno: int, line: Optional[str]) -> None:
        t = self.task
        if t is not None and len(t.heaps) != t.heap_count:
            raise DumpError("task %r has heap_count %d but %d heap lines follow it"
                            % (t.name, t.heap_count, len(t.heaps)), lineno, line)
        self.task = None

    def feed(self, obj: dict, lineno: int, line: str) -> bool:
        """Takes one record; True when it was the end record."""
        kind = obj["type"]
        if kind == "region":
            if self.stage != "regions":
                raise DumpError("region line after the gc line", lineno, line)
            self.dump.regions.append(Region(*_fields(obj, records.REGION, lineno, line)))
        elif kind == "gc":
            if self.stage != "regions":
                raise DumpError("second gc line", lineno, line)
            self.dump.gc = GcHeap(*_fields(obj, records.GC, lineno, line))
            self.dump.gc_areas = _area_blocks(obj, lineno, line)
            self.stage = "tasks"
        elif kind == "task":
            if self.stage != "tasks":
                raise DumpError("task line before the gc line", lineno, line)
            self._close_task(lineno, line)
            name, handle, alive, current, peak, heap_count = _fields(obj, records.TASK, lineno, line)
            self.task = DumpTask(name, alive, current, peak, heap_count, [], handle)
            self.task_lineno = lineno
            self.dump.tasks.append(self.task)
        elif kind == "heap":
            if self.task is None:
                raise DumpError("heap line without a task line above it", lineno, line)
            task, name, caps, size, current, peak, count = _fields(obj, records.HEAP, lineno, line)
            if task != self.task.handle:
                raise DumpError("heap line of task %d under task %r (handle %d)"
                                % (task, self.task.name, self.task.handle), lineno, line)
            if len(self.task.heaps) >= self.task.heap_count:
                raise DumpError("task %r has heap_count %d but more heap lines follow it"
                                % (self.task.name, self.task.heap_count), lineno, line)
            blocks = self._blocks(obj, count, lineno, line)
            self.task.heaps.append(HeapDetail(name, caps, size, current, _pct(current, size), peak,
                                              _pct(peak, size), count, blocks))
        elif kind == "end":
            if self.stage != "tasks":
                raise DumpError("end line before the gc line", lineno, line)
            self._close_task(lineno, line)
            self.dump.blocks = self.blocks_seen is not False
            return True
        elif kind == "begin":
            raise DumpError("begin line inside the dump that began at line %d (the first dump has no end)"
                            % self.dump.line, lineno, line)
        else:
            raise DumpError("unknown dump line type %r" % (kind,), lineno, line)
        return False

    def _blocks(self, obj: dict, count: int, lineno: int, line: str) -> list:
        has = "blocks" in obj
        if self.blocks_seen is None:
            self.blocks_seen = has
        elif self.blocks_seen != has:
            raise DumpError("heap lines disagree on whether blocks are listed", lineno, line)
        if not has:
            return []
        raw = obj["blocks"]
        if not isinstance(raw, list) or not all(
                isinstance(b, list) and len(b) == 2 and all(isinstance(v, int) and v >= 0 for v in b)
                for b in raw):
            raise DumpError("heap line: 'blocks' must be a list of [address, size]", lineno, line)
        if len(raw) != count:
            raise DumpError("heap line: alloc_count %d but %d block%s" % (count, len(raw), "" if len(raw) == 1 else "s"),
                            lineno, line)
        return [(a, s) for a, s in raw]


def _area_blocks(obj: dict, lineno: int, line: str) -> Dict[int, Optional[int]]:
    raw = obj.get("area_blocks", [])   # (not in dumps of firmware before 0.2.0)
    if not isinstance(raw, list) or not all(
            isinstance(a, list) and len(a) == 3 and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                                                        for v in a[:2])
            and (a[2] is None or isinstance(a[2], int) and not isinstance(a[2], bool)) for a in raw):
        raise DumpError("gc line: 'area_blocks' must be a list of [address, size, task or null]", lineno, line)
    return {a[0]: a[2] for a in raw}


def parse_all(text: str) -> List[Dump]:
    """Every dump in text, in order (an empty list if there is none)."""
    lines = _split_lines(text)
    dumps = []
    parser: Optional[_DumpParser] = None
    for i, line in enumerate(lines):
        lineno = i + 1
        if parser is None:
            if _is_begin(line):
                parser = _DumpParser(json.loads(line.strip()), lineno, line)
            continue
        obj = _record(line, lineno)
        if obj is None:
            continue
        if parser.feed(obj, lineno, line):
            dumps.append(parser.dump)
            parser = None
    if parser is not None:
        raise DumpError("dump truncated: no end line after the begin line at line %d" % parser.dump.line,
                        len(lines), None)
    return dumps


def parse(text: str) -> Dump:
    """The one dump in text (DumpError if there is none or more than one)."""
    dumps = parse_all(text)
    if not dumps:
        raise DumpError("no heaptrack dump found (no {\"type\": \"begin\", ...} line)")
    if len(dumps) > 1:
        raise DumpError("%d dumps found where one was expected (lines %s)"
                        % (len(dumps), ", ".join(str(d.line) for d in dumps)))
    return dumps[0]
