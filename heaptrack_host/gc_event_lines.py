"""The GC heap's area events as the board prints them, read back.

``heaptrack.print_heap_info()`` and ``print(heaptrack.gc_events())`` tell each time
MicroPython's GC heap took an area of ESP-IDF's heap or gave one back, one line
each (census.py ``GcEvent.__str__`` on the board)::

    #2 at 1.234 s: the GC heap took 64 KB (RAM at 0x3fca1234) in mp_task; largest free internal block 120 KB -> 56 KB; GC heap now 2 areas, 128 KB

``parse_line(line)`` gives such a line's fields as records.GC_EVENT names them (a
dict), or None for any other line, so ``mpheaptrack parse`` reads them from a
capture wherever they are, one line at a time. Sizes of 10 KB and more are printed
in whole KB (rounded down), and are read back so: ``exact`` says whether they were
printed in bytes. An event of no known task is printed as Pre-scheduler's, and read
so. Apart from the ESP-IDF report parser (report.py), whose format is
ESP-IDF's; this one is heaptrack's own.
"""

from __future__ import annotations

import re
from typing import Optional

from . import records

__all__ = ["MARK", "parse_line"]

# What every event line holds: a capture's chunks without it hold none.
MARK = ": the GC heap "

_AMOUNT = r"([\d,]+) (B|KB)"
_LINE = re.compile(
    r"#(\d+) at (\d+)\.(\d{3}) s: the GC heap (took|gave back) " + _AMOUNT + r" \((\S+) at 0x([0-9a-fA-F]+)\) "
    r"in (.*); largest free internal block " + _AMOUNT + " -> " + _AMOUNT + r"; GC heap now (\d+) areas?, "
    + _AMOUNT + r"\s*$")


def _bytes(digits: str, unit: str) -> int:
    n = int(digits.replace(",", ""))
    return n * 1024 if unit == "KB" else n


def parse_line(line: str) -> Optional[dict]:
    """The event a printed line tells (records.GC_EVENT's fields and ``exact``), or None if it is
    not one. Leading text (indentation, a log's timestamp) is skipped."""
    at = line.find("#")
    if at < 0:
        return None
    m = _LINE.match(line, at)
    if m is None:
        return None
    (number, secs, millis, verb, size, size_unit, heap, address, task, before, before_unit, after, after_unit,
     areas, gc_bytes, gc_unit) = m.groups()
    event = dict(zip(records.names(records.GC_EVENT), (
        int(number), int(secs) * 1000 + int(millis), verb == "took", int(address, 16), _bytes(size, size_unit),
        heap, task, _bytes(before, before_unit), _bytes(after, after_unit), int(areas),
        _bytes(gc_bytes, gc_unit))))
    event["exact"] = "KB" not in (size_unit, before_unit, after_unit, gc_unit)
    return event
