# heap_info(): every ESP-IDF heap region beside MicroPython's GC heap, to answer
# "why does this allocation fail while gc.mem_free() is large?".
import _heaptrack

from .failed import failures
from .table import Table

_TABLE = Table(("HEAP", "CAPS", "TOTAL", "FREE", "LARGEST FREE", "MINIMUM FREE"),
               (18, 10, 10, 10, 13, 12), left=(1,))

# What a report calls the blocks of ESP-IDF's heap that MicroPython's GC heap
# lives in (heap_info().gc_areas), so that they are not taken for a leak.
GC_AREA = "MicroPython GC heap area"


class Region:
    """One ESP-IDF heap region: name, caps, total, free, largest_free, minimum_free
    (bytes). Prints with its caps in hex, as reports do."""

    def __init__(self, info):
        self.name, self.caps, self.total, self.free, self.largest_free, self.minimum_free = info

    def __repr__(self):
        return "Region(name=%r, caps=0x%08x, total=%d, free=%d, largest_free=%d, minimum_free=%d)" % (
            self.name, self.caps, self.total, self.free, self.largest_free, self.minimum_free)


class GCArea:
    """One area of MicroPython's GC heap that is a block of ESP-IDF's heap: address
    and size as the statistics list the block (its ALLOC line), task: the handle of
    the task it is charged to (None when the tracker does not know)."""

    def __init__(self, info):
        self.address, self.size, self.task = info

    def __repr__(self):
        return "GCArea(address=0x%08x, size=%d, task=%s)" % (
            self.address, self.size, "None" if self.task is None else "0x%08x" % self.task)


def gc_area_owners():
    """The GC heap's areas in ESP-IDF's heap: address -> the handle of the task it is
    charged to (None when the tracker does not know)."""
    return {a[0]: a[2] for a in _heaptrack.gc_areas()}


class HeapInfo:
    """regions: ESP-IDF heap regions (Region: name, caps, total, free, largest_free,
    minimum_free), in the order heap_caps_malloc tries them; gc: the MicroPython GC heap
    (total, used, free, largest_free, areas, in_esp_heap: bytes of the GC areas inside
    ESP-IDF heaps); gc_areas: those areas as blocks of ESP-IDF's heap (GCArea: address,
    size, task); records: where the tracker keeps its records (region: an index in
    regions, None for heaptrack's static tables; room: largest free block there in bytes,
    or free table entries; full: the next new record may not be made; untracked:
    allocations it could not record; tasks, deleted: task records held, deleted tasks'
    among them; bytes: what they take; tasks_left: about how many more tasks can be
    recorded and reported; low: they have taken over half their room), None without
    task tracking; failures: the failed ESP-IDF allocations (heaptrack.Failures), shown
    when there were any."""

    def __init__(self, regions, gc, records=None, failures=None, gc_areas=()):
        self.regions = regions
        self.gc = gc
        self.records = records
        self.gc_areas = list(gc_areas)
        self.failures = failures

    @property
    def trusted(self):
        """False once the tracker has failed to record an allocation: reports are incomplete."""
        return self.records is None or self.records.untracked == 0

    def largest_free(self, caps=_heaptrack.CAP_DEFAULT):
        """The largest block heaptrack.malloc(size, caps) could get now."""
        return max([r.largest_free for r in self.regions if r.caps & caps == caps] or [0])

    def can_allocate(self, size, caps=_heaptrack.CAP_DEFAULT):
        return self.largest_free(caps) >= size

    def _lines(self):
        gc = self.gc
        rows = [(r.name, "0x%08x" % r.caps, r.total, r.free, r.largest_free, r.minimum_free)
                for r in self.regions]
        rows.append(("MicroPython GC", "", gc.total, gc.free, gc.largest_free, ""))
        lines = _TABLE.lines(rows)
        lines.append(" MicroPython GC heap: %d area%s, %d bytes used, %d bytes of it inside ESP-IDF heaps" % (
            gc.areas, "" if gc.areas == 1 else "s", gc.used, gc.in_esp_heap))
        for a in self.gc_areas:
            lines.append("   %s: ALLOC 0x%08x, SIZE %d%s" % (
                GC_AREA, a.address, a.size, "" if a.task is None else ", charged to task 0x%08x" % a.task))
        lines.extend(self._records_lines())
        if self.failures is not None and self.failures.total:
            lines.extend(" " + line for line in str(self.failures).split("\n"))
        return lines

    def _records_lines(self):
        rec = self.records
        if rec is None:
            return []
        if rec.region is not None:
            where = "ESP-IDF's biggest heap, %s" % self.regions[rec.region].name
            full = "%s is full: ESP-IDF cannot record new tasks, heaps or blocks" % (
                self.regions[rec.region].name)
        else:
            where = "heaptrack's own tables (room for %d more blocks)" % rec.room
            full = "the tracker's tables are full: new blocks go unrecorded"
        lines = [" Tracking records: in " + where,
                 " Task records: %d (%d of deleted tasks), %d bytes; room for about %d more tasks" % (
                     rec.tasks, rec.deleted, rec.bytes, rec.tasks_left)]
        if rec.full:
            lines.append(" WARNING: " + full)
        elif rec.low:
            lines.append(" WARNING: " + records_warning(rec))
        if rec.untracked:
            lines.append(" WARNING: %d allocation%s could not be recorded: reports are incomplete" % (
                rec.untracked, "" if rec.untracked == 1 else "s"))
        return lines

    def fits(self, size, caps=_heaptrack.CAP_DEFAULT):
        """One line: whether a block of size bytes with caps can be had now."""
        _check_request(size, caps)
        largest = self.largest_free(caps)
        return " A %d-byte block with caps 0x%08x %s (largest free: %d)" % (
            size, caps, "fits" if largest >= size else "does NOT fit", largest)

    def __str__(self):
        return "\n".join(self._lines())

    __repr__ = __str__

    def print(self, size=None, caps=_heaptrack.CAP_DEFAULT):
        # Checked first: a bad request prints nothing.
        fits = None if size is None else self.fits(size, caps)
        print(self)
        if fits is not None:
            print(fits)


def records_warning(rec):
    """The sentence that warns of task records running out (rec: heap_info().records)."""
    if rec.region is not None:
        return ("task records take %d bytes of ESP-IDF's biggest heap (%d tasks, %d deleted), which keeps "
                "them until a hard reset: room for about %d more tasks before new ones go unrecorded "
                "and reports fail (README: A board that runs for days)" % (rec.bytes, rec.tasks, rec.deleted, rec.tasks_left))
    return ("the table of task records is nearly full (%d tasks, %d deleted holding blocks or not): room "
            "for about %d more; heaptrack.clear() forgets deleted tasks that hold nothing"
            % (rec.tasks, rec.deleted, rec.tasks_left))


def _check_request(size, caps):
    # As heaptrack.malloc checks them, before anything is printed.
    if not isinstance(size, int) or not isinstance(caps, int):
        raise TypeError("size and caps must be ints")
    if size <= 0:
        raise ValueError("size must be > 0")
    if caps < 0 or caps & ~_CAPS_ALLOWED:
        raise ValueError("caps has bits that are not heaptrack.CAP_* values")


_CAPS_ALLOWED = (_heaptrack.CAP_EXEC | _heaptrack.CAP_32BIT | _heaptrack.CAP_8BIT | _heaptrack.CAP_DMA
                 | _heaptrack.CAP_SPIRAM | _heaptrack.CAP_INTERNAL | _heaptrack.CAP_DEFAULT)


def heap_info(with_failures=True):
    """HeapInfo of now; with_failures: with the failed allocations explained (which
    counts as telling of them: reports stop announcing them)."""
    return HeapInfo([Region(r) for r in _heaptrack.region_info()], _heaptrack.gc_info(),
                    _heaptrack.records_info(), failures() if with_failures else None,
                    [GCArea(a) for a in _heaptrack.gc_areas()])


def print_heap_info(size=None, caps=_heaptrack.CAP_DEFAULT):
    """Prints the table; with size, also whether such a block can be had now."""
    if size is not None:
        _check_request(size, caps)
    heap_info().print(size, caps)
