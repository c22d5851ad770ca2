# heaptrack: which task holds ESP-IDF heap memory, how much, at what peak, in
# which heap, and which blocks it leaked. The C module _heaptrack does the work;
# this package re-exports it and adds what reads better in Python. Its
# namespace is the public API only (the typed stubs in heaptrack_host/stubs
# list the same names).
from _heaptrack import (
    __version__,
    start_task,
    current_task,
    malloc,
    free,
    free_all,
    reset_peak,
    clear,
    task_stats,
    print_overview,
    print_details,
    dump,
    metrics,
    TaskStat,
    HeapStat,
    CAP_EXEC,
    CAP_32BIT,
    CAP_8BIT,
    CAP_DMA,
    CAP_SPIRAM,
    CAP_INTERNAL,
    CAP_DEFAULT,
)
import _heaptrack
from .leaks import Snapshot, Statistic, Diff, TaskDiff, HeapDiff, LeakCheck, snapshot, check_leaks
from .heapinfo import HeapInfo, heap_info, print_heap_info
from .sample import dump_sample
from .failed import Failure, Failures, failures, clear_failures
from .census import (Census, TypeStat, CensusDiff, TypeStatDiff, Chain, Link, Holders, GcEvent, GcEvents,
                     gc_census, gc_holders, gc_events)

# True when deleted tasks keep their statistics (CONFIG_HEAP_TRACK_DELETED_TASKS).
TRACK_DELETED = _heaptrack.track_deleted()
# The tracker the firmware was built with: "idf" (ESP-IDF's heap task tracking)
# or "hooks" (heaptrack's own, on ESP-IDF's heap hooks); None without heap task
# tracking, where statistics raise RuntimeError.
TRACKER = _heaptrack.tracker()

# Importing the submodules bound them here; they are not API.
for _name in ("_heaptrack", "leaks", "heapinfo", "table", "sample", "failed", "census", "_survivors"):
    globals().pop(_name, None)
del _name
