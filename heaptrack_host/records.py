"""The firmware's records, one field table: what ``heaptrack.dump()`` and
``heaptrack.dump_sample()`` write on the board, as the host reads them.

Each table lists a record's fields in order with their type; ``check(obj, table, what)``
validates one record (a dict from JSON) and returns its values in that order.
"""

from __future__ import annotations

from typing import Sequence, Tuple

__all__ = ["RecordError", "REGION", "GC", "SAMPLE_GC", "TASK", "HEAP", "SAMPLE_TASK", "names", "check"]

Table = Sequence[Tuple[str, type]]

REGION: Table = (("name", str), ("caps", int), ("total", int), ("free", int), ("largest_free", int),
                 ("minimum_free", int))
GC: Table = (("total", int), ("used", int), ("free", int), ("largest_free", int), ("areas", int),
             ("in_esp_heap", int))
SAMPLE_GC: Table = GC[:4]
TASK: Table = (("name", str), ("handle", int), ("alive", bool), ("current", int), ("peak", int),
               ("heap_count", int))
SAMPLE_TASK: Table = TASK[:5]
HEAP: Table = (("task", int), ("name", str), ("caps", int), ("size", int), ("current", int), ("peak", int),
               ("alloc_count", int))


class RecordError(ValueError):
    """A record lacks a field or has one of the wrong type (str() says which)."""


def names(table: Table) -> Tuple[str, ...]:
    return tuple(name for name, _ in table)


def check(obj, table: Table, what: str) -> list:
    """obj's values for table's fields, in order; RecordError if one is missing or of the wrong type
    (ints are >= 0; a bool is not an int)."""
    if not isinstance(obj, dict):
        raise RecordError("%s is not a JSON object" % what)
    values = []
    for name, kind in table:
        if name not in obj:
            raise RecordError("%s lacks %r" % (what, name))
        value = obj[name]
        if kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        else:
            ok = isinstance(value, kind)
        if not ok:
            raise RecordError("%s: %r is %r" % (what, name, value))
        values.append(value)
    return values
