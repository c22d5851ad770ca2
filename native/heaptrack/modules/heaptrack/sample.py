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
    "gc": {total, used, free, largest_free}}."""
    ms = time.ticks_ms()
    info = heap_info(with_failures=False)
    g = info.gc
    line = json.dumps({
        "type": "sample", "version": SAMPLE_VERSION, "ticks_ms": ms,
        "ms": 0 if t0 is None else time.ticks_diff(ms, t0),
        "tasks": [{"name": t.name, "handle": t.handle, "alive": t.alive, "current": t.current, "peak": t.peak}
                  for t in _heaptrack.task_stats()],
        "regions": [{"name": r.name, "caps": r.caps, "total": r.total, "free": r.free,
                     "largest_free": r.largest_free, "minimum_free": r.minimum_free} for r in info.regions],
        "gc": {"total": g.total, "used": g.used, "free": g.free, "largest_free": g.largest_free},
    })
    sys.stdout.write(marker + line + "\n")
