# dump(): the full statistics as JSON lines, for host tools (heaptrack_host.dump
# reads them back). Tasks and blocks stream from C, so any number of blocks
# costs no MicroPython heap.
import json
import time

import _heaptrack

from .heapinfo import heap_info

FORMAT_VERSION = 1


def dump(task=None, blocks=True):
    info = heap_info()
    print(json.dumps({"type": "begin", "version": FORMAT_VERSION, "ticks_ms": time.ticks_ms(),
                      "track_deleted": _heaptrack.track_deleted()}))
    for r in info.regions:
        print(json.dumps({"type": "region", "name": r.name, "caps": r.caps, "total": r.total,
                          "free": r.free, "largest_free": r.largest_free,
                          "minimum_free": r.minimum_free}))
    gc = info.gc
    print(json.dumps({"type": "gc", "total": gc.total, "used": gc.used, "free": gc.free,
                      "largest_free": gc.largest_free, "areas": gc.areas,
                      "in_esp_heap": gc.in_esp_heap}))
    _heaptrack.dump_tasks(task, blocks)
    print(json.dumps({"type": "end"}))
