"""Parse and render ESP-IDF heap task tracking reports.

ESP-IDF prints two kinds of report (components/heap/heap_task_info.c):

* the overview table of ``heap_caps_print_all_task_stat_overview`` /
  ``heap_caps_print_single_task_stat_overview``::

    ┌────────────────────┬─────────┬──────────────────────┬───────────────────┬─────────────────┐
    │ TASK               │ STATUS  │ CURRENT MEMORY USAGE │ PEAK MEMORY USAGE │ TOTAL HEAP USED │
    ├────────────────────┼─────────┼──────────────────────┼───────────────────┼─────────────────┤
    │       leaking_task │ DELETED │                11392 │             11616 │               1 │
    └────────────────────┴─────────┴──────────────────────┴───────────────────┴─────────────────┘

* the detail tree of ``heap_caps_print_all_task_stat`` /
  ``heap_caps_print_single_task_stat``::

    ├ DELETED: leaking_task, CURRENT MEMORY USAGE 11392, PEAK MEMORY USAGE 11616, TOTAL HEAP USED 1:
    │    └ HEAP: RAM, CAPS: 0x0010580e, SIZE: 22308, USAGE: CURRENT 11392 (51%), PEAK 11616 (52%), ALLOC COUNT: 3
    │         ├ ALLOC 0x3fcebbb8, SIZE 6656
    └ ALIVE: main, ...
         └ HEAP: ...
              ├ ALLOC 0x3fc99024, SIZE 88

``parse(text)`` finds every table and tree in text that may contain anything
else (headings, log lines, ``\\r\\n`` line endings from a serial port) and
returns a ``Report``.  Anything that starts like a table or a tree but is not
byte-for-byte ESP-IDF's format raises ``ReportError`` with the line number.
``render_overview`` / ``render_details`` print the exact ESP-IDF format, so
``parse(render_details(tasks)).details[0].tasks == tasks``.
``stream_json(chunks, out)`` writes ``to_json(parse(text))``'s JSON for text
read in pieces, holding no more than a piece and the longest line at a time:
``mpheaptrack parse`` of a capture of any size in bounded memory.

Rules worth knowing:

* Every line of a table or tree must be exactly what ESP-IDF prints for the
  values read from it (widths, padding, glyphs, lower-case hex, no leading
  zeros); this is checked by rendering each parsed line again.
* Overview names are right-aligned in 18 columns, so leading spaces of a task
  name cannot be recovered from a table (the detail tree keeps them).
* A tree ends with a task line that has ``└``.  A task line that follows a
  complete tree starts a new ``Details`` (``print_details(task)`` called twice
  in a row prints two one-task trees back to back).
* Parsing checks structure only.  ``TaskDetail.check()`` / ``Details.check()``
  check the numbers (sums, counts, percentages, peaks).
* Addresses and caps are ints; block addresses are printed as ``0x%x`` (what
  ``%p`` prints with newlib and glibc).
"""

from __future__ import annotations

import json
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Iterable, Iterator, List, Optional, Tuple, Union

__all__ = [
    "ReportError",
    "CheckError",
    "OverviewRow",
    "Overview",
    "HeapDetail",
    "TaskDetail",
    "Details",
    "Report",
    "parse",
    "parse_overview",
    "parse_details",
    "stream_json",
    "render_overview",
    "render_details",
    "to_json",
]


class ReportError(ValueError):
    """Malformed or inconsistent report; ``lineno`` (1-based) and ``line`` when known."""

    def __init__(self, msg: str, lineno: Optional[int] = None, line: Optional[str] = None):
        self.msg = msg
        self.lineno = lineno
        self.line = line
        text = msg
        if lineno is not None:
            text = "line %d: %s" % (lineno, text)
        if line is not None:
            shown = line if len(line) <= 120 else line[:117] + "..."
            text = "%s: %r" % (text, shown)
        super().__init__(text)


class CheckError(ReportError):
    """A report in ESP-IDF's format whose numbers do not add up (``check()``)."""


# ---------------------------------------------------------------------------
# Data


@dataclass
class OverviewRow:
    name: str
    alive: bool
    current: int
    peak: int
    heap_count: int


@dataclass
class Overview:
    rows: List[OverviewRow]
    heading: Optional[str] = None
    line: int = 0  # 1-based line of the table's top border, 0 if not parsed
    incomplete: Optional[str] = None  # why, when heaptrack's warning line precedes it


@dataclass
class HeapDetail:
    name: str
    caps: int
    size: int
    current: int
    current_pct: int
    peak: int
    peak_pct: int
    alloc_count: int
    blocks: List[Tuple[int, int]] = field(default_factory=list)  # (address, size)


@dataclass
class TaskDetail:
    name: str
    alive: bool
    current: int
    peak: int
    heap_count: int
    heaps: List[HeapDetail] = field(default_factory=list)

    def row(self) -> OverviewRow:
        """This task as a row of an overview table."""
        return OverviewRow(self.name, self.alive, self.current, self.peak, self.heap_count)

    def problem(self) -> Optional[Tuple[int, str]]:
        """The first inconsistency as (line offset from the task line, message), or None.

        Checked: PEAK >= CURRENT (task and heaps), TOTAL HEAP USED == number of
        heaps, task CURRENT == sum of its heaps' CURRENT, per heap: SIZE > 0,
        percentages == value * 100 // SIZE, ALLOC COUNT == number of blocks and
        CURRENT == sum of block sizes (ESP-IDF lists every live block).
        """
        where = "task %r" % self.name
        if self.peak < self.current:
            return 0, "%s: PEAK MEMORY USAGE %d < CURRENT MEMORY USAGE %d" % (where, self.peak, self.current)
        if self.heap_count != len(self.heaps):
            return 0, "%s: TOTAL HEAP USED %d but %d heap lines" % (where, self.heap_count, len(self.heaps))
        total = sum(h.current for h in self.heaps)
        if total != self.current:
            return 0, "%s: CURRENT MEMORY USAGE %d != sum of its heaps' CURRENT %d" % (where, self.current, total)
        offset = 1
        for i, h in enumerate(self.heaps):
            msg = _heap_problem(h, len(h.blocks), sum(size for _, size in h.blocks))
            if msg is not None:
                return offset, "%s, heap #%d (%s): %s" % (where, i + 1, h.name, msg)
            offset += 1 + len(h.blocks)
        return None

    def check(self) -> None:
        """Raise ReportError describing the first inconsistency (see ``problem``)."""
        self._check(None, True)

    def _check(self, lineno: Optional[int], last: bool) -> None:
        found = self.problem()
        if found is not None:
            offset, msg = found
            raise CheckError(msg, None if lineno is None else lineno + offset, _detail_line(self, offset, last))


def _heap_problem(h: HeapDetail, count: int, total: int) -> Optional[str]:
    """What is wrong with this heap's figures, given its count of ALLOC lines and the sum of their sizes."""
    if h.size <= 0:
        return "SIZE is %d" % h.size
    if h.peak < h.current:
        return "PEAK %d < CURRENT %d" % (h.peak, h.current)
    if h.current_pct != h.current * 100 // h.size:
        return "CURRENT %d is %d%% of SIZE %d, printed %d%%" % (h.current, h.current * 100 // h.size, h.size, h.current_pct)
    if h.peak_pct != h.peak * 100 // h.size:
        return "PEAK %d is %d%% of SIZE %d, printed %d%%" % (h.peak, h.peak * 100 // h.size, h.size, h.peak_pct)
    # ESP-IDF prints every live block of a heap.
    if h.alloc_count != count:
        return "ALLOC COUNT %d but %d ALLOC lines" % (h.alloc_count, count)
    if total != h.current:
        return "CURRENT %d != sum of block sizes %d" % (h.current, total)
    return None


@dataclass
class Details:
    tasks: List[TaskDetail]
    heading: Optional[str] = None
    line: int = 0  # 1-based line of the first task line, 0 if not parsed
    incomplete: Optional[str] = None  # why, when heaptrack's warning line precedes it

    def check(self) -> None:
        """Raise ReportError for the first inconsistent task (with its line when parsed).

        A tree heaptrack printed after its warning that the figures are
        incomplete (``incomplete``) need not add up: records were lost, and
        ESP-IDF then counts blocks it cannot list. Check ``incomplete`` first.
        """
        lineno = self.line
        for i, task in enumerate(self.tasks):
            task._check(lineno if lineno else None, i == len(self.tasks) - 1)
            lineno += 1 + sum(1 + len(h.blocks) for h in task.heaps)


Item = Union[Overview, Details]


@dataclass
class Report:
    items: List[Item] = field(default_factory=list)

    @property
    def overviews(self) -> List[Overview]:
        return [i for i in self.items if isinstance(i, Overview)]

    @property
    def details(self) -> List[Details]:
        return [i for i in self.items if isinstance(i, Details)]

    def to_json(self) -> dict:
        return to_json(self)

    @classmethod
    def from_json(cls, data: dict) -> "Report":
        items: List[Item] = []
        for d in data["items"]:
            kind = d.get("type")
            if kind == "overview":
                rows = [OverviewRow(**r) for r in d["rows"]]
                items.append(Overview(rows, d.get("heading"), d.get("line", 0), d.get("incomplete")))
            elif kind == "details":
                tasks = []
                for t in d["tasks"]:
                    heaps = []
                    for h in t["heaps"]:
                        h = dict(h)
                        h["blocks"] = [(int(a), int(s)) for a, s in h["blocks"]]
                        heaps.append(HeapDetail(**h))
                    t = dict(t)
                    t["heaps"] = heaps
                    tasks.append(TaskDetail(**t))
                items.append(Details(tasks, d.get("heading"), d.get("line", 0), d.get("incomplete")))
            else:
                raise ValueError("unknown report item type %r" % (kind,))
        return cls(items)


def to_json(report: Report) -> dict:
    """The report as plain dicts and lists (ints stay ints; blocks are [address, size])."""
    items = []
    for item in report.items:
        if isinstance(item, Overview):
            items.append({
                "type": "overview",
                "heading": item.heading,
                "line": item.line,
                "incomplete": item.incomplete,
                "rows": [_row_json(r) for r in item.rows],
            })
        else:
            items.append({
                "type": "details",
                "heading": item.heading,
                "line": item.line,
                "incomplete": item.incomplete,
                "tasks": [_task_json(t) for t in item.tasks],
            })
    return {"items": items}


def _row_json(r: OverviewRow) -> dict:
    return {"name": r.name, "alive": r.alive, "current": r.current, "peak": r.peak, "heap_count": r.heap_count}


def _task_json(t: TaskDetail) -> dict:
    return {
        "name": t.name,
        "alive": t.alive,
        "current": t.current,
        "peak": t.peak,
        "heap_count": t.heap_count,
        "heaps": [
            {
                "name": h.name,
                "caps": h.caps,
                "size": h.size,
                "current": h.current,
                "current_pct": h.current_pct,
                "peak": h.peak,
                "peak_pct": h.peak_pct,
                "alloc_count": h.alloc_count,
                "blocks": [[a, s] for a, s in h.blocks],
            }
            for h in t.heaps
        ],
    }


# ---------------------------------------------------------------------------
# Rendering (ESP-IDF's exact format)

TOP = "┌────────────────────┬─────────┬──────────────────────┬───────────────────┬─────────────────┐"
HEADER = "│ TASK               │ STATUS  │ CURRENT MEMORY USAGE │ PEAK MEMORY USAGE │ TOTAL HEAP USED │"
SEPARATOR = "├────────────────────┼─────────┼──────────────────────┼───────────────────┼─────────────────┤"
BOTTOM = "└────────────────────┴─────────┴──────────────────────┴───────────────────┴─────────────────┘"


def _pad_bytes(name: str, width: int) -> str:
    """name right-aligned in width *bytes* of UTF-8, as C's %18s pads it (a name of
    non-ASCII characters gets fewer columns than characters)."""
    return " " * max(0, width - len(name.encode("utf-8", "surrogateescape"))) + name


def _row_line(r: OverviewRow) -> str:
    return "│ %s │ %7s │ %20d │ %17d │ %15d │" % (
        _pad_bytes(r.name, 18), "ALIVE  " if r.alive else "DELETED", r.current, r.peak, r.heap_count)


def _task_line(t: TaskDetail, last: bool) -> str:
    return "%s %s: %s, CURRENT MEMORY USAGE %d, PEAK MEMORY USAGE %d, TOTAL HEAP USED %d:" % (
        "└" if last else "├", "ALIVE" if t.alive else "DELETED", t.name, t.current, t.peak, t.heap_count)


def _heap_line(h: HeapDetail, task_visual: str, last: bool) -> str:
    return "%s    %s HEAP: %s, CAPS: 0x%08x, SIZE: %d, USAGE: CURRENT %d (%d%%), PEAK %d (%d%%), ALLOC COUNT: %d" % (
        task_visual, "└" if last else "├", h.name, h.caps, h.size,
        h.current, h.current_pct, h.peak, h.peak_pct, h.alloc_count)


def _alloc_line(address: int, size: int, task_visual: str, heap_visual: str) -> str:
    return "%s    %s    ├ ALLOC 0x%x, SIZE %d" % (task_visual, heap_visual, address, size)


def render_overview(rows: List[OverviewRow]) -> str:
    """The overview table ESP-IDF prints for these rows ("" for none, as ESP-IDF prints nothing)."""
    if not rows:
        return ""
    lines = [TOP, HEADER, SEPARATOR]
    lines.extend(_row_line(r) for r in rows)
    lines.append(BOTTOM)
    return "\n".join(lines) + "\n"


def _task_lines(task: TaskDetail, last: bool, mark=None) -> Iterator[str]:
    task_visual = " " if last else "│"
    yield _task_line(task, last)
    for i, h in enumerate(task.heaps):
        last_heap = i == len(task.heaps) - 1
        yield _heap_line(h, task_visual, last_heap)
        heap_visual = " " if last_heap else "│"
        for address, size in h.blocks:
            line = _alloc_line(address, size, task_visual, heap_visual)
            yield line + mark(task, address) if mark is not None else line


def render_details(tasks: List[TaskDetail], mark=None) -> str:
    """The detail tree ESP-IDF prints for these tasks (the last one gets └). mark(task,
    address), when given, is what heaptrack's own rendering adds after an ALLOC line
    (dump.Dump's str): then it is no longer ESP-IDF's format."""
    out = []
    for i, t in enumerate(tasks):
        out.extend(_task_lines(t, i == len(tasks) - 1, mark))
    return "".join(line + "\n" for line in out)


def _detail_line(task: TaskDetail, offset: int, last: bool) -> Optional[str]:
    """The rendered line at ``offset`` in this task's subtree."""
    for i, line in enumerate(_task_lines(task, last)):
        if i == offset:
            return line
    return None


# ---------------------------------------------------------------------------
# Parsing
#
# The text is read as a stream: one state machine (_Parser) over its lines hands
# what it finds to a sink, _Builder (a Report, for parse()) or _JsonWriter (the
# JSON of to_json written as it goes, for stream_json(): `mpheaptrack parse` of a
# capture of any size in bounded memory). A capture's bytes are nearly all ALLOC
# lines, so runs of them are matched many lines at a time by one regex
# (_ALLOC_RUNS); every other line is checked on its own.

# Every pattern here runs in time linear in the line (no two unbounded wildcards
# that can backtrack against each other; names and numbers have bounded lengths):
# a capture may hold any garbage, megabytes on one line.
_INT = r"(\d{1,20})"
_TASK_LOOSE = re.compile(r"^[├└] (ALIVE|DELETED)\b")
_SUB_LOOSE = re.compile(r"^[│ ]{1,10}[├└] (HEAP|ALLOC)\b")
_TASK = re.compile(
    r"^([├└]) (ALIVE|DELETED): (.{0,256}?), CURRENT MEMORY USAGE %s, PEAK MEMORY USAGE %s, TOTAL HEAP USED %s:$"
    % (_INT, _INT, _INT))
_HEAP = re.compile(
    r"^([│ ])    ([├└]) HEAP: (.{0,64}?), CAPS: 0x([0-9a-fA-F]{1,16}), SIZE: %s, USAGE: CURRENT %s \(%s%%\), "
    r"PEAK %s \(%s%%\), ALLOC COUNT: %s$" % (_INT, _INT, _INT, _INT, _INT, _INT))
_ALLOC = re.compile(r"^([│ ])    ([│ ])    ([├└]) ALLOC 0x([0-9a-fA-F]{1,16}), SIZE %s$" % _INT)
_NUM_CELL = re.compile(r"^ {0,20}(\d{1,20})$")

# A timestamp or tag before each line of a capture, as idf.py monitor --timestamps
# ("2025-01-31 12:00:00.123 "), CI logs ("2025-01-31T12:00:00.1234567Z "), ts(1)
# ("Jan 31 12:00:00 "), terminal programs ("[12:00:00.123] ", "[2025-01-31 12:00:00] ")
# and dmesg-style uptimes ("[   12.345678] ") put it: taken off before parsing.
_PREFIX_BODY = (
    r"(?:\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?"
    r"|[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}(?:\.\d{1,9})?"
    r"|\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?"
    r"|\[[\d :.,T+-]{1,40}Z?\]) ?")
_PREFIX = re.compile("^" + _PREFIX_BODY)
# The first characters a _PREFIX can start with (besides digits).
_PREFIX_FIRST = "[ADFJMNOS"

# One or more ALLOC lines exactly as ESP-IDF prints them under a heap whose task
# and heap lines give these glyphs: hex and decimal as %x and %d print them (no
# leading zeros, ASCII digits), so a line matched here needs no rendering again,
# and nothing else can match. Lines that do not (a wrong glyph, a leading zero)
# are read one at a time, where the errors say what is wrong. A line may
# start with a _PREFIX, taken off as _Parser.line() does: only where a line starts
# with one of _PREFIX_FIRST or a digit, and as _PREFIX.match() finds it, never
# shorter (the lookahead does not backtrack, the backreference takes what it found).
_HEX = r"(?:0|[1-9a-f][0-9a-f]{0,15})"
_DEC = r"(?:0|[1-9][0-9]{0,19})"
_RUN_PREFIX = r"(?:(?=(?=[\d\[%s])(%s))\1)?" % (_PREFIX_FIRST[1:], _PREFIX_BODY)
_ALLOC_RUNS = {(task_visual, heap_visual): re.compile(
    r"(?:%s%s    %s    ├ ALLOC 0x%s, SIZE %s\r*\n)+" % (_RUN_PREFIX, task_visual, heap_visual, _HEX, _DEC))
    for task_visual in "│ " for heap_visual in "│ "}
# The address and size of each line of a run (no prefix has "ALLOC 0x").
_ALLOC_PAIR = re.compile(r"ALLOC 0x([0-9a-f]+), SIZE ([0-9]+)")

_TABLE_LINES = (HEADER, SEPARATOR, BOTTOM)


def _is_row(line: str) -> bool:
    """Loosely an overview row (the check that it is exactly one comes later)."""
    return line.startswith("│ ") and line.endswith(" │") and (" │ ALIVE   │ " in line or " │ DELETED │ " in line)


# The line heaptrack prints before a report (native/heaptrack/report.c): when
# its figures are incomplete (then why), or when task records run out.
WARNING = "heaptrack: warning: "
INCOMPLETE = WARNING + "these figures are incomplete: "
# The line heaptrack prints before a report when ESP-IDF's heap has failed
# allocations it has not told of yet (report.c): not part of the report.
FAILED_NOTE = re.compile(r"heaptrack: \d+ ESP-IDF heap allocations? failed ")

# Stands, among the lines before a report, for a line of an earlier report: it
# ends the search for a heading as such a line does (none starts like a heading,
# a warning or a note).
_REPORT_LINE = "\x00"


def _preamble(before) -> Tuple[Optional[str], Optional[str]]:
    """What precedes a report whose nearest non-empty lines before it are `before`
    (the last one nearest): its " PRINTING" heading, and why its figures are
    incomplete when heaptrack's warning line (printed by the report, after the
    caller's heading and any note of failed allocations) is there."""
    lines = list(before)
    line = lines.pop() if lines else None
    incomplete = None
    if line is not None and line.startswith(WARNING):
        if line.startswith(INCOMPLETE):
            incomplete = line.strip()[len(INCOMPLETE):]
        line = lines.pop() if lines else None
    if line is not None and FAILED_NOTE.match(line):
        line = lines.pop() if lines else None
    heading = line.strip() if line is not None and line.startswith(" PRINTING") else None
    return heading, incomplete


def _parse_row(line: str, lineno: int) -> OverviewRow:
    bad = "overview row does not match ESP-IDF's format '│ %18s │ %7s │ %20d │ %17d │ %15d │'"
    if not (line.startswith("│ ") and line.endswith(" │")):
        raise ReportError("expected an overview row or the table's bottom border", lineno, line)
    cells = line[2:-2].rsplit(" │ ", 4)
    if len(cells) != 5 or cells[1] not in ("ALIVE  ", "DELETED"):
        raise ReportError(bad, lineno, line)
    nums = [_NUM_CELL.match(c) for c in cells[2:]]
    if not all(nums):
        raise ReportError(bad, lineno, line)
    row = OverviewRow(cells[0].lstrip(" "), cells[1] == "ALIVE  ", *(int(m.group(1)) for m in nums))
    if _row_line(row) != line:
        raise ReportError(bad + " (column widths)", lineno, line)
    return row


class _TreeParser:
    """State of one detail tree while its lines are read; hands tasks, heaps and
    blocks to the sink as they come, and keeps none of them."""

    def __init__(self, sink):
        self.sink = sink
        self.tasks = 0
        self.task_name = ""
        self.task_last = False  # current task line has └
        self.heaps = 0  # of the current task
        self.heap_last = False  # current heap line has └
        self.in_heap = False

    @property
    def complete(self) -> bool:
        return bool(self.tasks) and self.task_last and self._heaps_closed()

    def _heaps_closed(self) -> bool:
        return not self.heaps or self.heap_last

    def alloc_run(self):
        """The regex of a run of ALLOC lines that may come next, or None."""
        if not self.in_heap:
            return None
        return _ALLOC_RUNS[(" " if self.task_last else "│", " " if self.heap_last else "│")]

    def close_task(self, lineno: int, line: Optional[str]) -> None:
        if self.tasks and not self._heaps_closed():
            raise ReportError("heaps of task %r not closed (its last heap line has ├)"
                              % self.task_name, lineno, line)

    def end(self, lineno: int, line: Optional[str]) -> None:
        self.close_task(lineno, line)
        if not self.task_last:
            raise ReportError("detail tree ends before its last task line (└); last task %r has ├"
                              % self.task_name, lineno, line)

    def task(self, line: str, lineno: int) -> None:
        m = _TASK.match(line)
        if not m:
            raise ReportError("task line does not match ESP-IDF's format", lineno, line)
        self.close_task(lineno, line)
        t = TaskDetail(m.group(3), m.group(2) == "ALIVE", int(m.group(4)), int(m.group(5)), int(m.group(6)))
        last = m.group(1) == "└"
        if _task_line(t, last) != line:
            raise ReportError("task line does not match ESP-IDF's format", lineno, line)
        self.tasks += 1
        self.task_name = t.name
        self.task_last = last
        self.heaps = 0
        self.in_heap = False
        self.heap_last = False
        self.sink.task(t, lineno, line)

    def heap_line(self, line: str, lineno: int) -> None:
        m = _HEAP.match(line)
        if not m:
            raise ReportError("heap line does not match ESP-IDF's format", lineno, line)
        if m.group(1) != (" " if self.task_last else "│"):
            raise ReportError("heap line of task %r must start with %r (its task line has %s)"
                              % (self.task_name, " " if self.task_last else "│", "└" if self.task_last else "├"),
                              lineno, line)
        if self.heaps and self.heap_last:
            raise ReportError("heap line after the last heap (└) of task %r" % self.task_name, lineno, line)
        h = HeapDetail(m.group(3), int(m.group(4), 16), *(int(m.group(k)) for k in range(5, 11)))
        last = m.group(2) == "└"
        if _heap_line(h, m.group(1), last) != line:
            raise ReportError("heap line does not match ESP-IDF's format", lineno, line)
        self.heaps += 1
        self.in_heap = True
        self.heap_last = last
        self.sink.heap(h, lineno, line)

    def alloc_line(self, line: str, lineno: int) -> None:
        m = _ALLOC.match(line)
        if not m:
            raise ReportError("ALLOC line does not match ESP-IDF's format", lineno, line)
        if not self.in_heap:
            raise ReportError("ALLOC line without a heap line above it", lineno, line)
        task_visual = " " if self.task_last else "│"
        heap_visual = " " if self.heap_last else "│"
        if (m.group(1), m.group(2)) != (task_visual, heap_visual):
            raise ReportError("ALLOC line must start with %r (task line has %s, heap line has %s)"
                              % (task_visual + "    " + heap_visual, "└" if self.task_last else "├",
                                 "└" if self.heap_last else "├"), lineno, line)
        if m.group(3) != "├":
            raise ReportError("ALLOC lines use ├ (ESP-IDF prints ├ for every ALLOC)", lineno, line)
        address, size = int(m.group(4), 16), int(m.group(5))
        if _alloc_line(address, size, task_visual, heap_visual) != line:
            raise ReportError("ALLOC line does not match ESP-IDF's format", lineno, line)
        # Rendered again the same, so these are the digits a run would have given.
        self.sink.blocks([(m.group(4), m.group(5))])


class _Parser:
    """The text's lines, fed in pieces that end at a line's end (lines()) and then
    finish(): every table and tree to the sink, in order, or a ReportError."""

    def __init__(self, sink):
        self.sink = sink
        self.lineno = 0
        self.state = self._outside
        self.before: deque = deque(maxlen=3)  # the last non-empty lines outside a report (_preamble)
        self.tree: Optional[_TreeParser] = None
        self.rows = 0
        self.run = None  # _TreeParser.alloc_run() while in a tree

    def lines(self, buf: str) -> None:
        """Every line of buf, which ends with a newline."""
        pos, end = 0, len(buf)
        find, blocks, pair = buf.find, self.sink.blocks, _ALLOC_PAIR.findall
        while pos < end:
            run = self.run
            if run is not None:
                m = run.match(buf, pos)
                if m is not None:
                    stop = m.end()
                    found = pair(buf, pos, stop)
                    self.lineno += len(found)
                    blocks(found)
                    pos = stop
                    continue
            nl = find("\n", pos)
            self.line(buf[pos:nl])
            pos = nl + 1

    def line(self, line: str) -> None:
        self.lineno += 1
        line = line.rstrip("\r")
        if line[:1].isdigit() or line[:1] in _PREFIX_FIRST:
            m = _PREFIX.match(line)
            if m:
                line = line[m.end():]
        self.state(line)

    def finish(self) -> None:
        """The text has ended."""
        state, lineno = self.state, self.lineno
        if state == self._header:
            raise ReportError("overview table not closed (text ends before its header)", lineno, None)
        if state == self._separator:
            raise ReportError("overview table not closed (text ends before its header separator)", lineno, None)
        if state == self._rows:
            raise ReportError("overview table not closed (no bottom border)", lineno, None)
        if state == self._in_tree:
            self._end_tree(lineno, None)

    def _ended(self) -> None:
        self.before.clear()
        self.before.append(_REPORT_LINE)
        self.state = self._outside
        self.tree = None
        self.run = None

    def _outside(self, line: str) -> None:
        if line == TOP:
            heading, incomplete = _preamble(self.before)
            self.rows = 0
            self.sink.table(heading, self.lineno, incomplete)
            self.state = self._header
        elif _TASK_LOOSE.match(line):
            heading, incomplete = _preamble(self.before)
            self._start_tree(heading, incomplete, line)
        elif line in _TABLE_LINES or _is_row(line):
            raise ReportError("overview table line without the table's top border", self.lineno, line)
        else:
            m = _SUB_LOOSE.match(line)
            if m:
                raise ReportError("%s line without a task line above it" % m.group(1), self.lineno, line)
            if line.strip():
                self.before.append(line)

    def _header(self, line: str) -> None:
        if line != HEADER:
            raise ReportError("expected the overview table's header", self.lineno, line)
        self.state = self._separator

    def _separator(self, line: str) -> None:
        if line != SEPARATOR:
            raise ReportError("expected the overview table's header separator", self.lineno, line)
        self.state = self._rows

    def _rows(self, line: str) -> None:
        if line == BOTTOM:
            if not self.rows:
                raise ReportError("overview table has no rows", self.lineno, line)
            self.sink.table_end()
            self._ended()
            return
        self.sink.row(_parse_row(line, self.lineno))
        self.rows += 1

    def _start_tree(self, heading: Optional[str], incomplete: Optional[str], line: str) -> None:
        self.tree = _TreeParser(self.sink)
        self.sink.tree(heading, self.lineno, incomplete)
        self.state = self._in_tree
        self.tree.task(line, self.lineno)
        self.run = None

    def _end_tree(self, lineno: int, line: Optional[str]) -> None:
        self.tree.end(lineno, line)
        self.sink.tree_end()
        self._ended()

    def _in_tree(self, line: str) -> None:
        tree = self.tree
        if _TASK_LOOSE.match(line):
            if tree.complete:
                # A new tree starts right after a complete one: a line of it is
                # the nearest before the new one, so it has no heading.
                self._end_tree(self.lineno, line)
                self._start_tree(None, None, line)
                return
            tree.task(line, self.lineno)
        else:
            m = _SUB_LOOSE.match(line)
            if m is None:
                self._end_tree(self.lineno, line)
                self._outside(line)
                return
            if m.group(1) == "HEAP":
                tree.heap_line(line, self.lineno)
            else:
                tree.alloc_line(line, self.lineno)
        self.run = tree.alloc_run()


def _scan(chunks: Iterable[str], sink) -> None:
    """Parse the text that is chunks joined (each cut anywhere) into sink."""
    parser = _Parser(sink)
    pending: List[str] = []  # the start of a line longer than the chunks so far
    for chunk in chunks:
        cut = chunk.rfind("\n") + 1
        if not cut:
            if chunk:
                pending.append(chunk)
            continue
        if pending:
            pending.append(chunk[:cut])
            parser.lines("".join(pending))
            pending.clear()
        else:
            parser.lines(chunk if cut == len(chunk) else chunk[:cut])
        if cut < len(chunk):
            pending.append(chunk[cut:])
    if pending:
        parser.lines("".join(pending) + "\n")  # the last line, without its newline
    parser.finish()


class _Builder:
    """The sink that builds a Report."""

    def __init__(self):
        self.items: List[Item] = []
        self._rows: List[OverviewRow] = []
        self._tasks: List[TaskDetail] = []
        self._blocks: List[Tuple[int, int]] = []

    def table(self, heading, lineno, incomplete):
        self._rows = []
        self.items.append(Overview(self._rows, heading, lineno, incomplete))

    def row(self, row):
        self._rows.append(row)

    def table_end(self):
        pass

    def tree(self, heading, lineno, incomplete):
        self._tasks = []
        self.items.append(Details(self._tasks, heading, lineno, incomplete))

    def task(self, task, lineno, line):
        self._tasks.append(task)

    def heap(self, heap, lineno, line):
        self._tasks[-1].heaps.append(heap)
        self._blocks = heap.blocks

    def blocks(self, found):
        self._blocks.extend([(int(a, 16), int(s)) for a, s in found])

    def tree_end(self):
        pass


class _JsonWriter:
    """The sink that writes to_json()'s JSON, as json.dump(indent=indent,
    ensure_ascii=False) would print it, while the text is read: it keeps no
    task, heap or block once written. With check, it also checks the numbers as
    Details.check() does, keeping the first problem in `error`."""

    def __init__(self, out, indent, check=False, incomplete_note=None):
        self.write = out.write
        self.indent = indent
        unit = indent if isinstance(indent, str) else " " * indent
        self.nl = ["\n" + unit * level for level in range(10)]
        nl = self.nl
        self.between_blocks = "," + nl[8]  # in a heap's "blocks"
        self.check = check
        self.incomplete_note = incomplete_note
        self.error: Optional[CheckError] = None
        self.items = 0
        self.write("{" + nl[1] + '"items": [')
        self._task: Optional[TaskDetail] = None
        self._heap: Optional[HeapDetail] = None
        self._checking = False

    def _at(self, obj, level: int) -> str:
        return json.dumps(obj, indent=self.indent, ensure_ascii=False).replace("\n", self.nl[level])

    def _open(self, obj: dict, level: int) -> Tuple[str, str]:
        """obj's JSON at level up to its last member's value, and what closes it
        after that value (streamed between the two); the last value is None."""
        text = self._at(obj, level)
        close = self.nl[level] + "}"
        return text[:-len("null" + close)], close

    def _item(self) -> None:
        self.write(("," if self.items else "") + self.nl[2])
        self.items += 1

    def finish(self) -> None:
        self.write((self.nl[1] + "]" if self.items else "]") + self.nl[0] + "}")

    # overview tables

    def table(self, heading, lineno, incomplete):
        self._item()
        head, self._close = self._open({"type": "overview", "heading": heading, "line": lineno,
                                        "incomplete": incomplete, "rows": None}, 2)
        self.write(head + "[")
        self._count = 0

    def row(self, row):
        self.write(("," if self._count else "") + self.nl[4] + self._at(_row_json(row), 4))
        self._count += 1

    def table_end(self):
        self.write(self.nl[3] + "]" + self._close)

    # detail trees

    def tree(self, heading, lineno, incomplete):
        self._item()
        head, self._tree_close = self._open({"type": "details", "heading": heading, "line": lineno,
                                             "incomplete": incomplete, "tasks": None}, 2)
        self.write(head + "[")
        self._tasks = 0
        self._task = None
        # heaptrack said these figures are incomplete (records were lost, ESP-IDF
        # then counts blocks it cannot list): noted, not checked.
        self._checking = self.check and self.error is None and incomplete is None
        if self.check and self.error is None and incomplete is not None and self.incomplete_note:
            self.incomplete_note(lineno, incomplete)

    def task(self, task, lineno, line):
        self._end_task()
        head, self._task_close = self._open({"name": task.name, "alive": task.alive, "current": task.current,
                                             "peak": task.peak, "heap_count": task.heap_count, "heaps": None}, 4)
        self.write(("," if self._tasks else "") + self.nl[4] + head + "[")
        self._tasks += 1
        self._task, self._task_lineno, self._task_line = task, lineno, line
        self._heaps = 0
        self._heaps_current = 0
        self._first_heap_error: Optional[CheckError] = None

    def heap(self, heap, lineno, line):
        self._end_heap()
        head, self._heap_close = self._open({"name": heap.name, "caps": heap.caps, "size": heap.size,
                                             "current": heap.current, "current_pct": heap.current_pct,
                                             "peak": heap.peak, "peak_pct": heap.peak_pct,
                                             "alloc_count": heap.alloc_count, "blocks": None}, 6)
        self.write(("," if self._heaps else "") + self.nl[6] + head + "[")
        self._heaps += 1
        self._heaps_current += heap.current
        self._heap, self._heap_lineno, self._heap_line = heap, lineno, line
        self._count = 0
        self._sum = 0

    def blocks(self, found):
        # Each block is [address, size] at level 8 (an f-string formats them
        # faster than % or str.format).
        nl8, nl9 = self.nl[8], self.nl[9]
        self.write((self.between_blocks if self._count else nl8)
                   + self.between_blocks.join([f"[{nl9}{int(a, 16)},{nl9}{s}{nl8}]" for a, s in found]))
        self._count += len(found)
        if self._checking:
            self._sum += sum([int(s) for _, s in found])

    def tree_end(self):
        self._end_task()
        self.write(self.nl[3] + "]" + self._tree_close)

    def _end_heap(self) -> None:
        heap = self._heap
        if heap is None:
            return
        self.write((self.nl[7] + "]" if self._count else "]") + self._heap_close)
        self._heap = None
        if self._checking and self._first_heap_error is None:
            msg = _heap_problem(heap, self._count, self._sum)
            if msg is not None:
                where = "task %r, heap #%d (%s)" % (self._task.name, self._heaps, heap.name)
                self._first_heap_error = CheckError("%s: %s" % (where, msg), self._heap_lineno, self._heap_line)

    def _end_task(self) -> None:
        task = self._task
        if task is None:
            return
        self._end_heap()
        self.write((self.nl[5] + "]" if self._heaps else "]") + self._task_close)
        self._task = None
        if not self._checking:
            return
        # TaskDetail.problem()'s checks, in its order.
        where = "task %r" % task.name
        msg = None
        if task.peak < task.current:
            msg = "%s: PEAK MEMORY USAGE %d < CURRENT MEMORY USAGE %d" % (where, task.peak, task.current)
        elif task.heap_count != self._heaps:
            msg = "%s: TOTAL HEAP USED %d but %d heap lines" % (where, task.heap_count, self._heaps)
        elif self._heaps_current != task.current:
            msg = "%s: CURRENT MEMORY USAGE %d != sum of its heaps' CURRENT %d" % (
                where, task.current, self._heaps_current)
        if msg is not None:
            self.error = CheckError(msg, self._task_lineno, self._task_line)
        else:
            self.error = self._first_heap_error
        if self.error is not None:
            self._checking = False


def parse(text: str) -> Report:
    """Every overview table and detail tree in text, in order."""
    sink = _Builder()
    _scan((text,), sink)
    return Report(sink.items)


def stream_json(chunks: Iterable[str], out, indent=1, check=False, incomplete_note=None) -> int:
    """Write to_json(parse(text)) to out as json.dump(..., indent=indent,
    ensure_ascii=False) would, where text is chunks joined (str pieces cut
    anywhere, e.g. a file read a megabyte at a time), keeping at a time no
    more than a chunk and the longest line. Returns the count of tables and
    trees found. Raises ReportError for text that is not ESP-IDF's format,
    having written part of the JSON, and then, with check, CheckError for the
    first report whose numbers do not add up (as Details.check(), once the
    whole text has parsed). incomplete_note(line, why) is called, with check,
    for each tree before that one that heaptrack said is incomplete, which is
    not checked (as `mpheaptrack parse --check` does)."""
    sink = _JsonWriter(out, indent, check, incomplete_note)
    _scan(chunks, sink)
    sink.finish()
    if sink.error is not None:
        raise sink.error
    return sink.items


def parse_overview(text: str) -> Overview:
    """The first overview table in text (ValueError if there is none)."""
    found = parse(text).overviews
    if not found:
        raise ValueError("no overview table found")
    return found[0]


def parse_details(text: str) -> Details:
    """The first detail tree in text (ValueError if there is none)."""
    found = parse(text).details
    if not found:
        raise ValueError("no detail tree found")
    return found[0]
