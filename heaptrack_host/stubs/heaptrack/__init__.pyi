# Typed stubs for `heaptrack`, the module the heaptrack firmware runs on the
# board (native/heaptrack: the C module _heaptrack and the frozen package).
# MicroPython strips docstrings, so the documentation lives here.
#
# Installed, this file is also the PEP 561 stub package heaptrack-stubs, which
# mypy and pyright find with no configuration; in this repository, mypy.ini sets
# mypy_path to heaptrack_host/stubs (with MicroPython's time).
# host_tests/test_stubs.py checks that these names are the board's public names.
from typing import Any, Callable, Dict, Iterable, Iterator, List, Literal, Optional, Sequence, Tuple, Union, overload

__version__: str
"""heaptrack's version; the host package heaptrack_host has the same one."""

CAP_EXEC: int
CAP_32BIT: int
CAP_8BIT: int
CAP_DMA: int
CAP_SPIRAM: int
CAP_INTERNAL: int
CAP_DEFAULT: int
"""ESP-IDF's MALLOC_CAP_* bits."""

TRACK_DELETED: bool
"""True when deleted tasks keep their records (CONFIG_HEAP_TRACK_DELETED_TASKS)."""

TRACKER: Optional[Literal["idf", "hooks"]]
"""The tracker the firmware was built with: "idf" (ESP-IDF's heap task tracking,
the default) or "hooks" (heaptrack's own, on ESP-IDF's heap hooks; make
HEAPTRACK_TRACKER=hooks). None on a firmware built without heap task tracking
(CONFIG_HEAP_TASK_TRACKING off), whose statistics raise RuntimeError."""

_Block = Tuple[int, int]
"""A live block: (address, size)."""


class _BlockTuple(Tuple[int, int]):
    """A live block, (address, size), that prints its address in hex."""

    @property
    def address(self) -> int: ...
    @property
    def size(self) -> int: ...


class HeapStat:
    """One heap a task used (ESP-IDF's heap_stat_t); a named tuple:
    (name, caps, size, current, peak, alloc_count, blocks)."""

    def __init__(self, name: str, caps: int, size: int, current: int, peak: int, alloc_count: int,
                 blocks: Optional[Sequence[Sequence[int]]]) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def caps(self) -> int: ...
    @property
    def size(self) -> int:
        """The heap region's size."""
    @property
    def current(self) -> int: ...
    @property
    def peak(self) -> int: ...
    @property
    def alloc_count(self) -> int: ...
    @property
    def blocks(self) -> Optional[Tuple[_Block, ...]]:
        """The task's live blocks in this heap, oldest first; None without blocks=True."""
    def __len__(self) -> int: ...
    def __getitem__(self, index: int) -> Any: ...
    def __iter__(self) -> Iterator[Any]: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...


class TaskStat:
    """One task's statistics (ESP-IDF's task_stat_t); a named tuple:
    (name, handle, alive, current, peak, heaps)."""

    def __init__(self, name: str, handle: int, alive: bool, current: int, peak: int,
                 heaps: Sequence[Union[HeapStat, Sequence[Any]]]) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def handle(self) -> int:
        """TaskHandle_t: the TCB's address, reused once the task's TCB is freed."""
    @property
    def alive(self) -> bool: ...
    @property
    def current(self) -> int: ...
    @property
    def peak(self) -> int: ...
    @property
    def heaps(self) -> Tuple[HeapStat, ...]: ...
    def __len__(self) -> int: ...
    def __getitem__(self, index: int) -> Any: ...
    def __iter__(self) -> Iterator[Any]: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...


def start_task(name: str, func: Callable[..., Any], args: Sequence[Any] = (),
               kwargs: Optional[Dict[str, Any]] = None, *, stack_size: int = 0) -> int:
    """Starts a named task (a FreeRTOS task) running func(*args, **kwargs); returns its
    handle. The task is deleted when func returns or raises. name: 1 to 15 bytes of
    UTF-8, no control characters (ValueError); stack_size: bytes, 0 for the port's
    default, at most 2**31 - 1 (ValueError); MemoryError when no heap has room for
    the task's stack and TCB."""

def current_task() -> int:
    """The calling task's handle, a TCB address: print it in hex, as reports do
    ("0x%08x" % heaptrack.current_task())."""

def malloc(size: int, caps: int = ...) -> int:
    """heap_caps_malloc(size, caps) charged to the calling task; returns the address.
    MemoryError when no heap with those caps can hold it."""

def free(addr: int) -> None:
    """Frees a block malloc returned (ValueError for any other address)."""

def free_all() -> int:
    """Frees every block malloc handed out and not yet freed; returns how many."""

def reset_peak() -> None:
    """Sets every alive task's peak usage (overall and per heap) back to its current
    usage, as tracemalloc.reset_peak() does. RuntimeError on ESP-IDF's tracker
    (TRACKER == "idf"), which keeps each peak in its own records with no call to
    reset it."""

def clear() -> int:
    """Forgets the records of deleted tasks that hold no block (their names, peaks
    and heap usage); returns how many. A deleted task still holding blocks keeps its
    record. RuntimeError on ESP-IDF's tracker (TRACKER == "idf"), which keeps every
    deleted task's record until a hard reset."""

# task_stats, print_overview, print_details, dump, snapshot: ValueError for an
# unknown task; MemoryError when no heap has room for the copy of the
# statistics; OSError(EAGAIN) when they kept changing through every attempt to
# copy them (call again).
@overload
def task_stats(task: None = None, *, blocks: bool = False) -> List[TaskStat]: ...
@overload
def task_stats(task: int, *, blocks: bool = False) -> TaskStat: ...

def print_overview(task: Optional[int] = None) -> None:
    """heap_caps_print_all_task_stat_overview, or _single_task_stat_overview for task."""

def print_details(task: Optional[int] = None) -> None:
    """heap_caps_print_all_task_stat, or heap_caps_print_single_task_stat for task."""

def dump(task: Optional[int] = None, blocks: bool = True) -> None:
    """Prints everything as JSON lines for host tools (heaptrack_host.dump)."""


# metrics(): the statistics in Prometheus's text exposition format (version
# 0.0.4): every alive task's current and peak bytes and live blocks (labels task,
# handle, status), the same for at most max_deleted (0 to 64) deleted tasks, those
# holding the most first (the others summed in heaptrack_unlisted_deleted_*), every
# heap region's size, free bytes, largest free block and low-water mark, the GC
# heap, tracker health and failed allocations. Returned as a str; given out (a
# file, a socket, sys.stdout), written to it in chunks, with no MicroPython heap
# used for the text. docs/fleet.md lists the metrics.
@overload
def metrics(out: None = None, *, max_deleted: int = 16) -> str: ...
@overload
def metrics(out: Any, *, max_deleted: int = 16) -> None: ...


def dump_sample(t0: Optional[int] = None, marker: str = "", failures_after: Optional[int] = None,
                gc_types: int = 0) -> int:
    """Every task's usage and every heap's free space as one line of keyed JSON (host tools' samples);
    with gc_types > 0 also the GC heap's gc_types biggest Python types by bytes (a census without a
    collection)."""


class Statistic:
    """One entry of Snapshot.statistics(): size bytes in count blocks held under key:
    (task name, handle) for 'task', (heap name, caps, heap size) for 'heap',
    (address, task name, handle) for 'block'."""

    key_type: str
    key: Tuple[Any, ...]
    size: int
    count: int
    gc_area: bool
    """A 'block' that is an area of MicroPython's GC heap."""
    def __init__(self, key_type: str, key: Tuple[Any, ...], size: int, count: int,
                 gc_area: bool = False) -> None: ...


class Snapshot:
    """Every tracked task's statistics at one moment (tracemalloc's Snapshot)."""

    tasks: List[TaskStat]
    ticks_ms: int
    blocks: bool
    gc_areas: Dict[int, Optional[int]]
    """The blocks that were MicroPython GC heap areas when it was taken: address -> the
    handle of the task charged for it (None: unknown)."""
    census: Optional[Census]
    """The GC heap by Python type when taken with gc=True, else None."""
    def __init__(self, tasks: List[TaskStat], ticks_ms: int, blocks: bool,
                 gc_areas: Optional[Dict[int, Optional[int]]] = None, census: Optional[Census] = None) -> None: ...
    def task(self, name_or_handle: Union[str, int]) -> TaskStat: ...
    def statistics(self, key_type: str = "task") -> List[Statistic]:
        """Grouped by 'task', 'heap' or 'block', biggest first."""
    def compare_to(self, old: "Snapshot") -> "Diff": ...
    def dump(self, filename: str) -> None:
        """Writes the snapshot to a file on the board (JSON lines)."""
    @staticmethod
    def load(filename: str) -> "Snapshot": ...
    def print(self) -> None: ...


def snapshot(blocks: bool = True, gc: bool = False) -> Snapshot:
    """Every task's statistics now; with gc=True also a census of the GC heap by type."""


class HeapDiff:
    name: str
    caps: int
    size: int
    current_delta: int
    peak_delta: int
    count_delta: int
    blocks_added: List[_BlockTuple]
    blocks_gone: List[_BlockTuple]
    gc_areas: Dict[int, Optional[int]]
    task: Optional[int]
    def __init__(self, old: Optional[HeapStat], new: Optional[HeapStat],
                 gc_areas: Optional[Dict[int, Optional[int]]] = None, task: Optional[int] = None) -> None: ...
    @property
    def gc_delta(self) -> int:
        """Bytes of MicroPython GC heap areas added less those gone: the GC heap grew."""


class TaskDiff:
    old: Optional[TaskStat]
    new: Optional[TaskStat]
    name: str
    handle: int
    alive: bool
    status: str
    """NEW, GONE, DIED, ALIVE or DELETED."""
    current: int
    current_delta: int
    peak_delta: int
    gc_areas: Dict[int, Optional[int]]
    def __init__(self, old: Optional[TaskStat], new: Optional[TaskStat],
                 gc_areas: Optional[Dict[int, Optional[int]]] = None) -> None: ...
    @property
    def heaps(self) -> List[HeapDiff]: ...
    @property
    def blocks_added(self) -> List[_BlockTuple]: ...
    @property
    def blocks_gone(self) -> List[_BlockTuple]: ...
    @property
    def gc_delta(self) -> int:
        """How much of current_delta is MicroPython GC heap areas (the GC heap grew: not a leak)."""
    @property
    def changed(self) -> bool: ...


class Diff:
    """What changed between two snapshots, largest growth first."""

    elapsed_ms: int
    blocks: bool
    gc_areas: Dict[int, Optional[int]]
    census: Optional[CensusDiff]
    """The GC heap's types compared, when both snapshots have a census."""
    def __init__(self, old: Snapshot, new: Snapshot) -> None: ...
    @property
    def types(self) -> List[TypeStatDiff]:
        """The GC heap's types, biggest change first ([] without censuses)."""
    @property
    def tasks(self) -> List[TaskDiff]: ...
    @property
    def appeared(self) -> List[TaskDiff]: ...
    @property
    def died(self) -> List[TaskDiff]: ...
    @property
    def died_holding(self) -> List[TaskDiff]: ...
    def task(self, name_or_handle: Union[str, int]) -> TaskDiff: ...
    def print(self, name: Optional[str] = None, changed_only: bool = True) -> None: ...


class LeakCheck:
    """check_leaks' verdict: leaks (LEAK: grew in every round), held (HELD: tasks all
    deleted and still holding memory), the GC heap's growth on its own."""

    rounds: int
    growth: Dict[str, List[int]]
    survivors: Dict[str, List[_BlockTuple]]
    tolerance: int
    leaks: List[str]
    held: Dict[str, int]
    gc_growth: Dict[str, int]
    types: List[str]
    """Python types whose bytes grew more than tolerance in every round (GC LEAK)."""
    type_growth: Dict[str, List[int]]
    type_count_growth: Dict[str, List[int]]
    holders: Dict[str, Holders]
    census: Optional[Census]
    def __init__(self, rounds: int, growth: Dict[str, List[int]], survivors: Dict[str, List[_BlockTuple]],
                 tolerance: int, held: Optional[Dict[str, int]] = None, gc_growth: Optional[Dict[str, int]] = None,
                 held_before: Iterable[str] = (), type_growth: Optional[Dict[str, List[int]]] = None,
                 type_count_growth: Optional[Dict[str, List[int]]] = None,
                 census: Optional[Census] = None) -> None: ...
    @property
    def ok(self) -> bool: ...
    def print(self) -> None: ...


def check_leaks(func: Callable[..., Any], *args: Any, rounds: int = 5, tolerance: int = 0, warmup: int = 1,
                gc: bool = True, **kwargs: Any) -> LeakCheck:
    """Runs func warmup + rounds times; the task names that grew more than tolerance
    bytes in every measured round are leaks; with gc, so are the Python types."""


class _Region:
    """An ESP-IDF heap region; prints its caps in hex."""

    name: str
    caps: int
    total: int
    free: int
    largest_free: int
    minimum_free: int


class _GCHeap:
    """The MicroPython GC heap (a named tuple on the board)."""

    total: int
    used: int
    free: int
    largest_free: int
    areas: int
    in_esp_heap: int


class _GCArea:
    """An area of MicroPython's GC heap that is a block of ESP-IDF's heap."""

    address: int            # the block's address, as its ALLOC line shows it
    size: int               # its size as the statistics count it
    task: Optional[int]     # the handle of the task it is charged to (None: unknown)


class _Records:
    """Where the tracker keeps its records (a named tuple on the board)."""

    region: Optional[int]   # an index in HeapInfo.regions; None: heaptrack's static tables
    room: int               # bytes (a heap's largest free block) or free table entries
    full: bool              # the next new record may not be made
    untracked: int          # allocations it could not record: reports are incomplete
    tasks: int              # task records held, deleted tasks' included
    deleted: int            # ... of them deleted tasks'
    bytes: int              # what the records take
    tasks_left: int         # about how many more tasks can be recorded and reported
    low: bool               # the records have taken over half their room: a warning


class _FailureHeap:
    """A heap with the failed call's caps, at that moment (a named tuple on the board)."""

    name: str
    start: int
    caps: int
    total: int
    free: int
    largest: int
    gc: Optional[int]       # bytes of it MicroPython's GC heap held; None: not known


class Failure:
    """One failed heap_caps_* allocation; str() explains it in one sentence."""

    number: int             # the how-many-th since power-on (or clear_failures())
    ms: int                 # milliseconds since start-up
    task: int               # the calling task's handle (0: Pre-scheduler)
    task_name: str
    size: int
    caps: int
    function: Optional[str]  # the ESP-IDF call that failed
    in_isr: bool
    heap_count: int
    heaps: Tuple[_FailureHeap, ...]
    gc_total: Optional[int]
    kind: str               # "no heap", "exhausted", "fragmented", "in an interrupt handler"
    free: int
    largest: int
    gc: int
    holders: List[Tuple[str, int]]
    def __init__(self, record: Any, holders: Any = ...) -> None: ...
    @property
    def where(self) -> str: ...


class Failures:
    """The failed allocations the board holds, oldest first; str() explains each."""

    total: int
    lost: int
    items: List[Failure]
    def __init__(self, total: int, lost: int, items: List[Failure]) -> None: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[Failure]: ...
    def __getitem__(self, i: int) -> Failure: ...


def failures(after: Optional[int] = None) -> Failures:
    """The failed ESP-IDF allocations, each explained; reports stop announcing them."""


def clear_failures() -> None: ...


class HeapInfo:
    regions: List[_Region]
    gc: _GCHeap
    gc_areas: List[_GCArea]       # the GC heap's areas in ESP-IDF's heap
    records: Optional[_Records]   # None on a firmware without task tracking
    failures: Optional[Failures]  # None when taken with_failures=False
    trusted: bool                 # no allocation went unrecorded
    gc_events: Optional[GcEvents]  # the GC heap taking / giving back areas of ESP-IDF's heap
    def __init__(self, regions: List[_Region], gc: _GCHeap, records: Optional[_Records] = None,
                 failures: Optional[Failures] = None, gc_areas: Iterable[_GCArea] = (),
                 gc_events: Optional[GcEvents] = None) -> None: ...
    def largest_free(self, caps: int = ...) -> int: ...
    def can_allocate(self, size: int, caps: int = ...) -> bool: ...
    def fits(self, size: int, caps: int = ...) -> str: ...
    def print(self, size: Optional[int] = None, caps: int = ...) -> None: ...


def heap_info(with_failures: bool = True) -> HeapInfo: ...
def print_heap_info(size: Optional[int] = None, caps: int = ...) -> None: ...


# Inside MicroPython's GC heap (native/heaptrack/modules/heaptrack/census.py).

class TypeStat:
    """One row of a census: count objects of type name ('list', 'app.Sensor', or
    '(unattributed)', '(other types)') holding size bytes, their storage included."""

    name: str
    count: int
    size: int
    def __init__(self, name: str, count: int, size: int) -> None: ...


class TypeStatDiff:
    """A type across two censuses (tracemalloc's StatisticDiff)."""

    name: str
    size: int
    size_diff: int
    count: int
    count_diff: int
    def __init__(self, name: str, size: int, size_diff: int, count: int, count_diff: int) -> None: ...


class CensusDiff:
    """What changed between two censuses, biggest change first."""

    old: "Census"
    new: "Census"
    elapsed_ms: int
    total_diff: int
    stats: List[TypeStatDiff]
    def __init__(self, old: "Census", new: "Census") -> None: ...
    @property
    def grew(self) -> List[TypeStatDiff]:
        """The types whose bytes or objects grew."""
    def type(self, name: str) -> TypeStatDiff:
        """ValueError if neither census has it."""
    def print(self, limit: Optional[int] = None, changed_only: bool = True) -> None: ...


class Census:
    """MicroPython's GC heap by Python type at one moment: every live allocation
    counted once, a container's storage with its owner; total is gc.mem_alloc()."""

    collected: bool     # taken right after a collection
    total: int
    allocations: int
    types: List[TypeStat]   # biggest first, '(unattributed)' and '(other types)' included
    ticks_ms: int
    def __init__(self, collected: bool, total: int, allocations: int, types: List[TypeStat],
                 ticks_ms: int) -> None: ...
    def type(self, name: str) -> TypeStat:
        """Its TypeStat (one of 0 objects if the census has none)."""
    @property
    def unattributed(self) -> TypeStat: ...
    def statistics(self) -> List[TypeStat]: ...
    def compare_to(self, old: "Census") -> CensusDiff: ...
    def print(self, limit: Optional[int] = None) -> None: ...


def gc_census(collect: bool = True) -> Census:
    """Each Python type's live objects and bytes in MicroPython's GC heap (after a
    collection unless collect=False). Allocates only its result; the walk leaves
    the heap as it found it."""


class Link:
    """One object of a holder chain and how it holds the next."""

    what: str               # 'object', 'instance', 'class', 'module', 'frame' or 'data'
    module: Optional[str]
    name: Optional[str]
    size: int
    via: Optional[str]      # 'index', 'key', 'dict_key', 'member', 'attr', 'local', 'const', 'closed', 'word', None
    detail: Any
    func: Optional[str]
    def __init__(self, what: str, module: Optional[str], name: Optional[str], size: int, via: Optional[str],
                 detail: Any, func: Optional[str]) -> None: ...
    @property
    def type_name(self) -> Optional[str]: ...


class Chain:
    """Who holds an object, from a root down to it: str() is
    'app.readings -> list[1203] -> bytes (64 B)'."""

    root: str               # 'global', 'vm', 'stack', 'caller' or 'none'
    module: Optional[str]
    key: Any
    task: Optional[int]
    task_name: Optional[str]
    vm_offset: Optional[int]
    vm_name: Optional[str]
    links: List[Link]
    sweeps: int
    truncated: bool
    def __init__(self, raw: Any) -> None: ...
    @property
    def held(self) -> bool:
        """False when only the caller (or nothing) holds the object."""


class Holders:
    """Chains of a sample of the objects of one type."""

    name: str
    count: int
    chains: List[Chain]
    def __init__(self, name: str, count: int, chains: List[Chain]) -> None: ...
    def __iter__(self) -> Iterator[Chain]: ...
    def __len__(self) -> int: ...
    def __getitem__(self, i: int) -> Chain: ...


@overload
def gc_holders(obj: Union[str, type], count: int = 3) -> Holders: ...
@overload
def gc_holders(obj: Any, count: int = 3) -> Chain: ...


class GcEvent:
    """MicroPython's GC heap took an area of ESP-IDF's heap (grew) or gave one back."""

    number: int
    ms: int
    grew: bool
    address: int
    size: int
    heap: str               # the ESP-IDF heap's memory type ('RAM', 'SPIRAM')
    task: int
    task_name: str
    largest_before: int     # ESP-IDF's largest free internal block before
    largest_after: int      # ... and after
    gc_areas: int
    gc_bytes: int
    def __init__(self, record: Any) -> None: ...


class GcEvents:
    total: int
    lost: int
    items: List[GcEvent]
    def __init__(self, total: int, lost: int, items: List[GcEvent]) -> None: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[GcEvent]: ...
    def __getitem__(self, i: int) -> GcEvent: ...


def gc_events() -> GcEvents:
    """Each time the GC heap took an area of ESP-IDF's heap or gave one back."""
