# heaptrack: which task holds ESP-IDF heap memory, how much, at what peak, in
# which heap, and which blocks it leaked. The C module _heaptrack does the work;
# this module re-exports it and adds what reads better in Python.
from _heaptrack import (
    start_task,
    current_task,
    malloc,
    free,
    free_all,
    task_stats,
    print_overview,
    print_details,
    CAP_EXEC,
    CAP_32BIT,
    CAP_8BIT,
    CAP_DMA,
    CAP_SPIRAM,
    CAP_INTERNAL,
    CAP_DEFAULT,
)
import _heaptrack
from .leaks import Snapshot, Diff, LeakCheck, snapshot, check_leaks
from .heapinfo import HeapInfo, heap_info, print_heap_info
from .dump import dump

# True when deleted tasks keep their statistics (CONFIG_HEAP_TRACK_DELETED_TASKS).
TRACK_DELETED = _heaptrack.track_deleted()

del _heaptrack
