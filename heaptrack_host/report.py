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

import re
from dataclasses import dataclass, field
from typing import Iterator, List, Optional, Tuple, Union

__all__ = [
    "ReportError",
    "OverviewRow",
    "Overview",
    "HeapDetail",
    "TaskDetail",
    "Details",
    "Report",
    "parse",
    "parse_overview",
    "parse_details",
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
            msg = _heap_problem(h)
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
            raise ReportError(msg, None if lineno is None else lineno + offset, _detail_line(self, offset, last))


def _heap_problem(h: HeapDetail) -> Optional[str]:
    if h.size <= 0:
        return "SIZE is %d" % h.size
    if h.peak < h.current:
        return "PEAK %d < CURRENT %d" % (h.peak, h.current)
    if h.current_pct != h.current * 100 // h.size:
        return "CURRENT %d is %d%% of SIZE %d, printed %d%%" % (h.current, h.current * 100 // h.size, h.size, h.current_pct)
    if h.peak_pct != h.peak * 100 // h.size:
        return "PEAK %d is %d%% of SIZE %d, printed %d%%" % (h.peak, h.peak * 100 // h.size, h.size, h.peak_pct)
    # ESP-IDF prints every live block of a heap.
    if h.alloc_count != len(h.blocks):
        return "ALLOC COUNT %d but %d ALLOC lines" % (h.alloc_count, len(h.blocks))
    total = sum(size for _, size in h.blocks)
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
_PREFIX = re.compile(
    r"^(?:\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?"
    r"|[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}(?:\.\d{1,9})?"
    r"|\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?"
    r"|\[[\d :.,T+-]{1,40}Z?\]) ?")


def _is_row(line: str) -> bool:
    """Loosely an overview row (the check that it is exactly one comes later)."""
    return line.startswith("│ ") and line.endswith(" │") and (" │ ALIVE   │ " in line or " │ DELETED │ " in line)


def _split_lines(text: str) -> List[str]:
    """The lines of text, without \\r and without a timestamp prefix (_PREFIX) on any of them."""
    lines = []
    for line in text.split("\n"):
        line = line.rstrip("\r")
        if line[:1].isdigit() or line[:1] in "[ADFJMNOS":
            m = _PREFIX.match(line)
            if m:
                line = line[m.end():]
        lines.append(line)
    if lines[-1] == "":
        lines.pop()  # text ends with a newline (or is empty)
    return lines


# The line heaptrack prints before a report (native/heaptrack/report.c): when
# its figures are incomplete (then why), or when task records run out.
WARNING = "heaptrack: warning: "
INCOMPLETE = WARNING + "these figures are incomplete: "
# The line heaptrack prints before a report when ESP-IDF's heap has failed
# allocations it has not told of yet (report.c): not part of the report.
FAILED_NOTE = re.compile(r"heaptrack: \d+ ESP-IDF heap allocations? failed ")


def _line_before(lines: List[str], index: int) -> int:
    """The index of the nearest non-empty line before lines[index], or -1."""
    for j in range(index - 1, -1, -1):
        if lines[j].strip():
            return j
    return -1


def _preamble(lines: List[str], index: int) -> Tuple[Optional[str], Optional[str]]:
    """What precedes the report at lines[index]: its " PRINTING" heading, and why
    its figures are incomplete when heaptrack's warning line (printed by the report,
    after the caller's heading and any note of failed allocations) is there."""
    j = _line_before(lines, index)
    incomplete = None
    if j >= 0 and lines[j].startswith(WARNING):
        if lines[j].startswith(INCOMPLETE):
            incomplete = lines[j].strip()[len(INCOMPLETE):]
        j = _line_before(lines, j)
    if j >= 0 and FAILED_NOTE.match(lines[j]):
        j = _line_before(lines, j)
    heading = lines[j].strip() if j >= 0 and lines[j].startswith(" PRINTING") else None
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


def _parse_table(lines: List[str], i: int) -> Tuple[Overview, int]:
    """Parse the table whose top border is lines[i]; return it and the index after it."""
    start = i
    for expected, what in ((HEADER, "header"), (SEPARATOR, "header separator")):
        i += 1
        if i >= len(lines):
            raise ReportError("overview table not closed (text ends before its %s)" % what, i, None)
        if lines[i] != expected:
            raise ReportError("expected the overview table's %s" % what, i + 1, lines[i])
    rows = []
    while True:
        i += 1
        if i >= len(lines):
            raise ReportError("overview table not closed (no bottom border)", i, None)
        line = lines[i]
        if line == BOTTOM:
            if not rows:
                raise ReportError("overview table has no rows", i + 1, line)
            heading, incomplete = _preamble(lines, start)
            return Overview(rows, heading, start + 1, incomplete), i + 1
        rows.append(_parse_row(line, i + 1))


class _TreeParser:
    """State of one detail tree while its lines are read."""

    def __init__(self):
        self.tasks: List[TaskDetail] = []
        self.task_last = False  # current task line has └
        self.heap_last = False  # current heap line has └
        self.heap: Optional[HeapDetail] = None

    @property
    def complete(self) -> bool:
        return bool(self.tasks) and self.task_last and self._heaps_closed()

    def _heaps_closed(self) -> bool:
        return not self.tasks[-1].heaps or self.heap_last

    def close_task(self, lineno: int, line: Optional[str]) -> None:
        if self.tasks and not self._heaps_closed():
            raise ReportError("heaps of task %r not closed (its last heap line has ├)"
                              % self.tasks[-1].name, lineno, line)

    def end(self, lineno: int, line: Optional[str]) -> None:
        self.close_task(lineno, line)
        if not self.task_last:
            raise ReportError("detail tree ends before its last task line (└); last task %r has ├"
                              % self.tasks[-1].name, lineno, line)

    def task(self, line: str, lineno: int) -> None:
        m = _TASK.match(line)
        if not m:
            raise ReportError("task line does not match ESP-IDF's format", lineno, line)
        self.close_task(lineno, line)
        t = TaskDetail(m.group(3), m.group(2) == "ALIVE", int(m.group(4)), int(m.group(5)), int(m.group(6)))
        last = m.group(1) == "└"
        if _task_line(t, last) != line:
            raise ReportError("task line does not match ESP-IDF's format", lineno, line)
        self.tasks.append(t)
        self.task_last = last
        self.heap = None
        self.heap_last = False

    def heap_line(self, line: str, lineno: int) -> None:
        m = _HEAP.match(line)
        if not m:
            raise ReportError("heap line does not match ESP-IDF's format", lineno, line)
        task = self.tasks[-1]
        if m.group(1) != (" " if self.task_last else "│"):
            raise ReportError("heap line of task %r must start with %r (its task line has %s)"
                              % (task.name, " " if self.task_last else "│", "└" if self.task_last else "├"),
                              lineno, line)
        if task.heaps and self.heap_last:
            raise ReportError("heap line after the last heap (└) of task %r" % task.name, lineno, line)
        h = HeapDetail(m.group(3), int(m.group(4), 16), *(int(m.group(k)) for k in range(5, 11)))
        last = m.group(2) == "└"
        if _heap_line(h, m.group(1), last) != line:
            raise ReportError("heap line does not match ESP-IDF's format", lineno, line)
        task.heaps.append(h)
        self.heap = h
        self.heap_last = last

    def alloc_line(self, line: str, lineno: int) -> None:
        m = _ALLOC.match(line)
        if not m:
            raise ReportError("ALLOC line does not match ESP-IDF's format", lineno, line)
        if self.heap is None:
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
        self.heap.blocks.append((address, size))


def _parse_tree(lines: List[str], i: int) -> Tuple[Details, int]:
    """Parse the tree whose first task line is lines[i]; return it and the index after it."""
    start = i
    tree = _TreeParser()
    while i < len(lines):
        line = lines[i]
        if _TASK_LOOSE.match(line):
            if tree.complete:
                break  # a new tree starts right after a complete one
            tree.task(line, i + 1)
        elif _SUB_LOOSE.match(line):
            if _SUB_LOOSE.match(line).group(1) == "HEAP":
                tree.heap_line(line, i + 1)
            else:
                tree.alloc_line(line, i + 1)
        else:
            break
        i += 1
    tree.end(i + 1 if i < len(lines) else i, lines[i] if i < len(lines) else None)
    heading, incomplete = _preamble(lines, start)
    return Details(tree.tasks, heading, start + 1, incomplete), i


def parse(text: str) -> Report:
    """Every overview table and detail tree in text, in order."""
    lines = _split_lines(text)
    items: List[Item] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line == TOP:
            item, i = _parse_table(lines, i)
            items.append(item)
        elif _TASK_LOOSE.match(line):
            item, i = _parse_tree(lines, i)
            items.append(item)
        elif line in (HEADER, SEPARATOR, BOTTOM) or _is_row(line):
            raise ReportError("overview table line without the table's top border", i + 1, line)
        elif _SUB_LOOSE.match(line):
            raise ReportError("%s line without a task line above it" % _SUB_LOOSE.match(line).group(1),
                              i + 1, line)
        else:
            i += 1
    return Report(items)


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
