# dump_sample(): every task's usage and every heap's free space, as one line of
# keyed JSON: what host tools sample (mpheaptrack watch/record; the host reads it
# with heaptrack_host.records' field table). dump() gives everything, blocks
# included, over many lines; a sample is one line written with one write, so
# output of other tasks cannot land inside it.
import json
import sys
import time

import _heaptrack

from .heapinfo import heap_info

SAMPLE_VERSION = 1


def dump_sample(t0=None, marker=""):
    """Writes marker + one JSON line: {"type": "sample", "version", "ticks_ms", "ms" (since
    ticks_ms t0, 0 without one), "tasks": [{name, handle, alive, current, peak}],
    "regions": [{name, caps, total, free, largest_free, minimum_free}],
    "gc": {total, used, free, largest_free}, "gc_areas": [{address, size, task}] (the GC
    heap's areas that are blocks of ESP-IDF's heap, task None when unknown), "records":
    {tasks, deleted, bytes, tasks_left, low} or null without task tracking}."""
    ms = time.ticks_ms()
    tasks = _heaptrack._task_totals()
    info = heap_info(with_failures=False)
    g = info.gc
    rec = info.records
    line = json.dumps({
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
    })
    sys.stdout.write(marker + line + "\n")
