# dump_sample(): every task's usage and every heap's free space, as one line of
# keyed JSON: what host tools sample (mpheaptrack watch/record; the host reads it
# with heaptrack_host.records' field table). dump() gives everything, blocks
# included, over many lines; a sample is one line written with one write, so
# output of other tasks cannot land inside it.
import json
import sys
import time

import _heaptrack

from .census import OTHER_TYPES, UNATTRIBUTED, _qualified
from .failed import Failures, failures
from .heapinfo import heap_info

SAMPLE_VERSION = 1
# A sample carries the GC heap's newest area events, this many: more than come
# between two samples of a host's interval, so that none is missed.
_EVENTS_SENT = 4


def _gc_types(n):
    # A census without a collection: a sample must not change the heap's story
    # (a collection would free what the script has not yet let go of) and a
    # collection costs more than the walk. The C side makes only the n biggest
    # rows; the unattributed and other-types rows compete with them here.
    (_, _, _, _, un_count, un_bytes, other_count, other_bytes, rows) = _heaptrack.gc_census(False, False, n)
    top = [(size, count, _qualified(module, name)) for module, name, count, size in rows]
    if un_count:
        top.append((un_bytes, un_count, UNATTRIBUTED))
    if other_count:
        top.append((other_bytes, other_count, OTHER_TYPES))
    top.sort(reverse=True)
    return [{"name": name, "count": count, "size": size} for size, count, name in top[:n]]


def dump_sample(t0=None, marker="", failures_after=None, gc_types=0):
    """Writes marker + one JSON line: {"type": "sample", "version", "ticks_ms", "ms" (since
    ticks_ms t0, 0 without one), "tasks": [{name, handle, alive, current, peak}],
    "regions": [{name, caps, total, free, largest_free, minimum_free}],
    "gc": {total, used, free, largest_free}, "gc_areas": [{address, size, task}] (the GC
    heap's areas that are blocks of ESP-IDF's heap, task None when unknown), "records":
    {tasks, deleted, bytes, tasks_left, low} or null without task tracking, "gc_events":
    {"total": how many since power-on, "recent": the newest few, each {number, ms (since
    start-up), grew, address, size, heap, task_name, largest_before, largest_after,
    gc_areas, gc_bytes}}: the GC heap taking areas of ESP-IDF's heap or giving them back;
    a host keeps those whose number it has not seen, "failures": {total, lost, "new":
    [{number, ms, task, task_name, size, caps, function, kind, text}]} (the failed ESP-IDF
    allocations since power-on; "new": those numbered after failures_after, each explained
    in text, none when it is None)}, and with gc_types > 0 "gc_types": [{name, count,
    size}]: the gc_types biggest Python types of the GC heap by bytes, biggest first, from
    a census taken without a collection (garbage not yet collected counts with its type).
    Returns the failures' total: the failures_after of the next sample. Nobody counts as
    told of them."""
    if not isinstance(gc_types, int):
        raise TypeError("gc_types must be an int")
    if gc_types < 0:
        raise ValueError("gc_types must be 0 or more")
    ms = time.ticks_ms()
    tasks = _heaptrack._task_totals()
    info = heap_info(with_failures=False)
    g = info.gc
    rec = info.records
    if failures_after is None:
        total, lost, _ = _heaptrack.failures(0)
        failed = Failures(total, lost, [])
    else:
        failed = failures(failures_after)
    ev = info.gc_events
    obj = {
        "type": "sample", "version": SAMPLE_VERSION, "ticks_ms": ms,
        "ms": 0 if t0 is None else time.ticks_diff(ms, t0),
        "tasks": [{"name": name, "handle": handle, "alive": alive, "current": current, "peak": peak}
                  for name, handle, alive, current, peak in tasks],
        "regions": [{"name": r.name, "caps": r.caps, "total": r.total, "free": r.free,
                     "largest_free": r.largest_free, "minimum_free": r.minimum_free} for r in info.regions],
        "gc": {"total": g.total, "used": g.used, "free": g.free, "largest_free": g.largest_free},
        "gc_areas": [{"address": a.address, "size": a.size, "task": a.task} for a in info.gc_areas],
        "records": None if rec is None else {"tasks": rec.tasks, "deleted": rec.deleted, "bytes": rec.bytes,
                                             "tasks_left": rec.tasks_left, "low": rec.low},
        "failures": {"total": failed.total, "lost": failed.lost, "new": [
            {"number": f.number, "ms": f.ms, "task": f.task, "task_name": f.task_name, "size": f.size,
             "caps": f.caps, "function": f.function, "kind": f.kind, "text": str(f)} for f in failed]},
        "gc_events": {"total": ev.total, "recent": [
            {"number": e.number, "ms": e.ms, "grew": e.grew, "address": e.address, "size": e.size, "heap": e.heap,
             "task_name": e.task_name, "largest_before": e.largest_before, "largest_after": e.largest_after,
             "gc_areas": e.gc_areas, "gc_bytes": e.gc_bytes} for e in ev.items[-_EVENTS_SENT:]]},
    }
    if gc_types:
        obj["gc_types"] = _gc_types(gc_types)
    line = json.dumps(obj)
    sys.stdout.write(marker + line + "\n")
    return failed.total
