# failures(): every ESP-IDF heap allocation that failed, as ESP-IDF's
# failed-allocation callback reported it, with the heaps' figures of that
# moment (native/heaptrack/failures.h), each explained in one sentence: the
# answer to "why ENOMEM while gc.mem_free() looks fine?".
import _heaptrack

from ._listing import Kept

# Capability words, in the order a sentence says them; PSRAM is the noun.
_CAP_WORDS = (
    (_heaptrack.CAP_INTERNAL, "internal"),
    (_heaptrack.CAP_DMA, "DMA-capable"),
    (_heaptrack.CAP_EXEC, "executable"),
    (_heaptrack.CAP_32BIT, "32-bit"),
    (_heaptrack.CAP_8BIT, "8-bit"),
    (_heaptrack.CAP_DEFAULT, "default"),
)

NO_HEAP = "no heap"
EXHAUSTED = "exhausted"
FRAGMENTED = "fragmented"
IN_ISR = "in an interrupt handler"


def _grouped(n):
    s = str(n)
    head = len(s) % 3 or 3
    return ",".join([s[:head]] + [s[i:i + 3] for i in range(head, len(s), 3)])


def _amount(n):
    """Exact below 10 KB, whole KB (rounded down) above: '16,717 B', '61 KB'."""
    return "%s B" % _grouped(n) if n < 10 * 1024 else "%s KB" % _grouped(n // 1024)


def describe_caps(caps):
    """What a caps word asks for, in words: 'internal 8-bit RAM', 'DMA-capable PSRAM'."""
    words = [word for bit, word in _CAP_WORDS if caps & bit]
    rest = caps & ~_heaptrack.CAP_SPIRAM
    for bit, _ in _CAP_WORDS:
        rest &= ~bit
    if rest:
        words.append("0x%x" % rest)
    return " ".join(words + ["PSRAM" if caps & _heaptrack.CAP_SPIRAM else "RAM"])


class Failure:
    """One failed heap_caps_* allocation.

    number: the how-many-th since power-on (or clear_failures()); ms: milliseconds
    since start-up (FreeRTOS ticks); task, task_name: the calling task (task 0 is
    Pre-scheduler's); size, caps: what was asked for; function: the ESP-IDF call that
    failed; in_isr: it ran in an interrupt handler, where no heap figures are taken;
    heaps: at that moment, every heap with those caps (name, start, caps, total, free,
    largest, gc: bytes of MicroPython's GC heap in it, None if not known), up to
    heap_count of them; gc_total: the GC heap's size then.
    kind: NO_HEAP, EXHAUSTED, FRAGMENTED or IN_ISR; free, largest, gc: the heaps' sums
    (largest: the biggest); holders: [(task name, bytes)] holding the most of those heaps
    when failures() was called (not at the failure)."""

    def __init__(self, record, holders=()):
        for name in ("number", "ms", "task", "task_name", "size", "caps", "function", "in_isr",
                     "heap_count", "heaps", "gc_total"):
            setattr(self, name, getattr(record, name))
        self.holders = list(holders)
        self.free = sum(h.free for h in self.heaps)
        self.largest = max([h.largest for h in self.heaps] or [0])
        self.gc = sum(h.gc or 0 for h in self.heaps)
        if self.in_isr:
            self.kind = IN_ISR
        elif self.heap_count == 0:
            self.kind = NO_HEAP
        elif self.free < self.size:
            self.kind = EXHAUSTED
        else:
            self.kind = FRAGMENTED

    @property
    def where(self):
        return "Pre-scheduler" if self.task == 0 else self.task_name

    def _cause(self):
        heaps = "%d heap%s" % (self.heap_count, "" if self.heap_count == 1 else "s")
        if self.kind == IN_ISR:
            return "in an interrupt handler, where heaptrack takes no heap figures"
        if self.kind == NO_HEAP:
            return "no heap has these caps"
        if self.kind == EXHAUSTED:
            text = "exhausted: %s free in the %s with these caps" % (_amount(self.free), heaps)
            if self.holders:
                text += "; holding them now: " + ", ".join(
                    "%s %s" % (name, _amount(n)) for name, n in self.holders)
            return text
        return "fragmented: %s free in the %s with these caps but no block over %s" % (
            _amount(self.free), heaps, _amount(self.largest))

    def __str__(self):
        text = "#%d at %d.%03d s: %s of %s (caps 0x%08x) failed in %s (%s): %s" % (
            self.number, self.ms // 1000, self.ms % 1000, _grouped(self.size) + " B", describe_caps(self.caps),
            self.caps, self.where, self.function or "?", self._cause())
        if self.gc:
            text += "; MicroPython's GC heap took %s of them" % _amount(self.gc)
        return text

    def __repr__(self):
        return "<Failure %s>" % self


class Failures(Kept):
    """The failures the firmware holds (the newest), oldest first; total: how many
    there were since power-on (or clear_failures()), lost: how many of those the ring
    no longer holds. Iterable; str() explains each."""

    def __str__(self):
        if not self.total:
            return "No ESP-IDF heap allocation has failed."
        head = "%d ESP-IDF heap allocation%s failed" % (self.total, "" if self.total == 1 else "s")
        if self.lost:
            head += " (the oldest %d no longer kept)" % self.lost
        return "\n".join([head + ":"] + [" " + str(f) for f in self.items])

    __repr__ = __str__


def _holders(record, tasks, count=3):
    """The tasks holding the most of the heaps a failure could have used."""
    keys = [(h.caps, h.total) for h in record.heaps]
    held = []
    for t in tasks:
        n = sum(h.current for h in t.heaps if (h.caps, h.size) in keys)
        if n:
            held.append((n, t.name))
    held.sort(reverse=True)
    return [(name, n) for n, name in held[:count]]


def failures(after=None):
    """Failures: the failed allocations the firmware holds, each explained. Asking
    counts as being told: reports stop announcing them. after: only the failures
    numbered after it (a sampler's last total; all held when they were cleared
    since), and asking does not count as being told."""
    total, lost, records = _heaptrack.failures() if after is None else _heaptrack.failures(after)
    tasks = None
    items = []
    for r in records:
        holders = ()
        if not r.in_isr and r.heaps and sum(h.free for h in r.heaps) < r.size:
            if tasks is None:
                try:
                    tasks = _heaptrack.task_stats()
                except RuntimeError:   # built without heap task tracking
                    tasks = []
            holders = _holders(r, tasks)
        items.append(Failure(r, holders))
    return Failures(total, lost, items)


def clear_failures():
    """Forgets every failure recorded; the count starts again."""
    _heaptrack.clear_failures()
