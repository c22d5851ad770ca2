"""The firmware's records, one field table: what ``heaptrack.dump()`` and
``heaptrack.dump_sample()`` write on the board, as the host reads them.

Each table lists a record's fields in order with their type; ``check(obj, table, what)``
validates one record (a dict from JSON) and returns its values in that order. These
tables are the format's one definition: host_tests/test_record_format.py checks the
firmware's dump() and dump_sample() output, the on-board objects they come from and
the typed stubs against them.
"""

from __future__ import annotations

from typing import Sequence, Tuple

__all__ = ["RecordError", "REGION", "GC", "SAMPLE_GC", "TASK", "HEAP", "SAMPLE_TASK", "GC_AREA", "GC_EVENT", "GC_TYPE", "RECORDS",
           "FAILURES", "FAILURE",
           "MAX_INT", "MAX_SECONDS", "names", "check"]

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
# dump_sample()'s "gc_areas" entries (task: an int, or None when the tracker does not know).
GC_AREA: Table = (("address", int), ("size", int), ("task", (int, type(None))))
# dump_sample()'s "gc_events" "recent" entries, and a recording's "gc_events": the GC
# heap took (grew) or gave back an area of ESP-IDF's heap (heaptrack.gc_events()).
GC_EVENT: Table = (("number", int), ("ms", int), ("grew", bool), ("address", int), ("size", int), ("heap", str),
                   ("task_name", (str, type(None))), ("largest_before", int), ("largest_after", int),
                   ("gc_areas", int), ("gc_bytes", int))
# dump_sample(gc_types=N)'s "gc_types" entries, and a recording sample's: one of the GC
# heap's N biggest Python types by bytes (a census without a collection).
GC_TYPE: Table = (("name", str), ("count", int), ("size", int))
# dump_sample()'s "records": the tracker's task records (heap_info().records).
RECORDS: Table = (("tasks", int), ("deleted", int), ("bytes", int), ("tasks_left", int), ("low", bool))
# dump_sample()'s "failures": the failed ESP-IDF allocations since power-on (or
# clear_failures()), and those after the sampler's last total, each explained.
FAILURES: Table = (("total", int), ("lost", int), ("new", list))
FAILURE: Table = (("number", int), ("ms", int), ("task", int), ("task_name", str), ("size", int), ("caps", int),
                  ("function", (str, type(None))), ("kind", str), ("text", str))

# No figure of a board is larger: an address or byte count of a 64-bit machine.
MAX_INT = (1 << 64) - 1
# Seconds of a recording, about 30 years: more is no board's clock.
MAX_SECONDS = 1e9


class RecordError(ValueError):
    """A record lacks a field or has one of the wrong type (str() says which)."""


def names(table: Table) -> Tuple[str, ...]:
    return tuple(name for name, _ in table)


def check(obj, table: Table, what: str) -> list:
    """obj's values for table's fields, in order; RecordError if one is missing or of the wrong type
    (ints are from 0 to MAX_INT; a bool is not an int)."""
    if not isinstance(obj, dict):
        raise RecordError("%s is not a JSON object" % what)
    values = []
    for name, kind in table:
        if name not in obj:
            raise RecordError("%s lacks %r" % (what, name))
        value = obj[name]
        if kind is int or (isinstance(kind, tuple) and int in kind and value is not None):
            ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_INT
        else:
            ok = isinstance(value, kind)
        if not ok:
            raise RecordError("%s: %r is %r" % (what, name, value))
        values.append(value)
    return values
