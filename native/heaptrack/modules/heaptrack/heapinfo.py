# heap_info(): every ESP-IDF heap region beside MicroPython's GC heap, to answer
# "why does this allocation fail while gc.mem_free() is large?".
import _heaptrack

from .table import Table

_TABLE = Table(("HEAP", "CAPS", "TOTAL", "FREE", "LARGEST FREE", "MINIMUM FREE"),
               (18, 10, 10, 10, 13, 12), left=(1,))


class HeapInfo:
    """regions: ESP-IDF heap regions (name, caps, total, free, largest_free, minimum_free),
    in the order heap_caps_malloc tries them; gc: the MicroPython GC heap (total, used,
    free, largest_free, areas, in_esp_heap: bytes of the GC areas inside ESP-IDF heaps)."""

    def __init__(self, regions, gc):
        self.regions = regions
        self.gc = gc

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


def heap_info():
    return HeapInfo(_heaptrack.region_info(), _heaptrack.gc_info())


def print_heap_info(size=None, caps=_heaptrack.CAP_DEFAULT):
    """Prints the table; with size, also whether such a block can be had now."""
    heap_info().print(size, caps)
