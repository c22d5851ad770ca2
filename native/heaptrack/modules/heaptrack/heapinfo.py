# heap_info(): every ESP-IDF heap region beside MicroPython's GC heap, to answer
# "why does this allocation fail while gc.mem_free() is large?".
import _heaptrack

from .failed import failures
from .table import Table

_TABLE = Table(("HEAP", "CAPS", "TOTAL", "FREE", "LARGEST FREE", "MINIMUM FREE"),
               (18, 10, 10, 10, 13, 12), left=(1,))


class HeapInfo:
    """regions: ESP-IDF heap regions (name, caps, total, free, largest_free, minimum_free),
    in the order heap_caps_malloc tries them; gc: the MicroPython GC heap (total, used,
    free, largest_free, areas, in_esp_heap: bytes of the GC areas inside ESP-IDF heaps);
    records: where the tracker keeps its records (region: an index in regions, None for
    heaptrack's static tables; room: largest free block there in bytes, or free table
    entries; full: the next new record may not be made; untracked: allocations it could
    not record), None without task tracking; failures: the failed ESP-IDF allocations
    (heaptrack.Failures), shown when there were any."""

    def __init__(self, regions, gc, records=None, failures=None):
        self.regions = regions
        self.gc = gc
        self.records = records
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
        lines = [" Tracking records: in " + where]
        if rec.full:
            lines.append(" WARNING: " + full)
        if rec.untracked:
            lines.append(" WARNING: %d allocation%s could not be recorded: reports are incomplete" % (
                rec.untracked, "" if rec.untracked == 1 else "s"))
        return lines

    def fits(self, size, caps=_heaptrack.CAP_DEFAULT):
        """One line: whether a block of size bytes with caps can be had now."""
        largest = self.largest_free(caps)
        return " A %d-byte block with caps 0x%08x %s (largest free: %d)" % (
            size, caps, "fits" if largest >= size else "does NOT fit", largest)

    def __str__(self):
        return "\n".join(self._lines())

    __repr__ = __str__

    def print(self, size=None, caps=_heaptrack.CAP_DEFAULT):
        print(self)
        if size is not None:
            print(self.fits(size, caps))


def heap_info(with_failures=True):
    """HeapInfo of now; with_failures: with the failed allocations explained (which
    counts as telling of them: reports stop announcing them)."""
    return HeapInfo(_heaptrack.region_info(), _heaptrack.gc_info(), _heaptrack.records_info(),
                    failures() if with_failures else None)


def print_heap_info(size=None, caps=_heaptrack.CAP_DEFAULT):
    """Prints the table; with size, also whether such a block can be had now."""
    heap_info().print(size, caps)
