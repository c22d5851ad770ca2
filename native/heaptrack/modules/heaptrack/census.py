# Inside MicroPython's GC heap: which Python types hold it (gc_census), who holds
# an object (gc_holders), and how the GC heap grew into ESP-IDF's heap
# (gc_events). The C module walks the heap (native/heaptrack/gc_census.h,
# gc_holders.h, gc_areas.h); this formats what it found, in CPython's tracemalloc
# style: objects format themselves in __str__, print() only prints.
import time

import _heaptrack

from ._listing import Kept, Listing
from .table import Table

UNATTRIBUTED = "(unattributed)"
OTHER_TYPES = "(other types)"

# What the REPL shows of a census or a difference: this many rows.
_REPR_ROWS = 20


def _grouped(n):
    s = str(abs(n))
    head = len(s) % 3 or 3
    return ("-" if n < 0 else "") + ",".join([s[:head]] + [s[i:i + 3] for i in range(head, len(s), 3)])


def _signed(n):
    return ("+" if n > 0 else "") + _grouped(n)


def _type_name(module, name):
    return name if module is None else module + "." + name


def _table(first, headings, rows):
    width = max([len(first)] + [len(r[0]) for r in rows])
    widths = [min(width, 40)] + [max(9, len(h)) for h in headings]
    return Table((first,) + tuple(headings), widths, left=(0,)).lines(rows)


class TypeStat:
    """One row of a census: `count` objects of type `name` ('list', 'app.Sensor', or
    UNATTRIBUTED, OTHER_TYPES) holding `size` bytes of the GC heap, their storage included."""

    def __init__(self, name, count, size):
        self.name = name
        self.count = count
        self.size = size

    def __str__(self):
        text = "%s: size=%s B, count=%s" % (self.name, _grouped(self.size), _grouped(self.count))
        if self.count:
            text += ", average=%s B" % _grouped(self.size // self.count)
        return text

    def __repr__(self):
        return "<TypeStat %s>" % self

    def __eq__(self, other):
        return (isinstance(other, TypeStat) and self.name == other.name and self.count == other.count
                and self.size == other.size)


class Census:
    """The GC heap by type at one moment.

    collected: taken right after a collection (else garbage not yet collected is
    counted too); ticks_ms: when; total: the bytes counted, every live allocation
    once: the GC's used bytes then (gc.mem_alloc()); allocations: live allocations;
    types: [TypeStat] biggest first, the unattributed and other-types rows included
    when not empty."""

    def __init__(self, collected, total, allocations, types, ticks_ms):
        self.collected = collected
        self.total = total
        self.allocations = allocations
        self.types = types
        self.ticks_ms = ticks_ms

    def type(self, name):
        """The TypeStat of a type name, or one of 0 objects."""
        for t in self.types:
            if t.name == name:
                return t
        return TypeStat(name, 0, 0)

    @property
    def unattributed(self):
        return self.type(UNATTRIBUTED)

    def statistics(self):
        """[TypeStat] biggest first, as tracemalloc sorts: by size, then count."""
        return list(self.types)

    def compare_to(self, old):
        """What changed since the older census `old`: a CensusDiff."""
        if not isinstance(old, Census):
            raise TypeError("compare_to needs a Census")
        return CensusDiff(old, self)

    def _header(self):
        return " MicroPython GC heap%s: %s bytes used in %s allocations" % (
            " after a collection" if self.collected else " (no collection first: garbage included)",
            _grouped(self.total), _grouped(self.allocations))

    def _lines(self, limit=None):
        rows = self.types if limit is None else self.types[:limit]
        out = [self._header()]
        out.extend(_table("TYPE", ("OBJECTS", "BYTES"), [(t.name, t.count, t.size) for t in rows]))
        if len(rows) < len(self.types):
            out.append(" ... %d more types" % (len(self.types) - len(rows)))
        return out

    def __str__(self):
        return "\n".join(self._lines())

    def __repr__(self):
        return "\n".join(self._lines(_REPR_ROWS))

    def print(self, limit=None):
        """Prints the table (the `limit` biggest types only, if given)."""
        print("\n".join(self._lines(limit)))


def _sort_stats(stats):
    stats.sort(key=lambda s: (s.size, s.count, s.name), reverse=True)
    return stats


# 'module.Class' for each class seen, made once: a census that made these strings
# afresh would show str growing by a few objects whenever censuses are kept (a
# snapshot's, check_leaks' rounds), which is the census's doing, not the program's.
_names = {}


def _qualified(module, name):
    if module is None:
        return name
    key = (module, name)
    text = _names.get(key)
    if text is None:
        text = _names[key] = module + "." + name
    return text


def gc_census(collect=True):
    """A Census of MicroPython's GC heap now: each Python type's objects and bytes,
    their storage counted with them. With collect (the default) after a collection,
    so only what is alive is counted; collect=False counts the heap as it is."""
    ticks = time.ticks_ms()
    (collected, gc_used, total, allocations, un_count, un_bytes, other_count, other_bytes,
     rows) = _heaptrack.gc_census(bool(collect), False)
    merged = {}
    for module, name, count, size in rows:
        key = _qualified(module, name)
        s = merged.get(key)
        if s is None:
            merged[key] = TypeStat(key, count, size)
        else:   # two classes of one name in one module (one redefined)
            s.count += count
            s.size += size
    stats = list(merged.values())
    if un_count:
        stats.append(TypeStat(UNATTRIBUTED, un_count, un_bytes))
    if other_count:
        stats.append(TypeStat(OTHER_TYPES, other_count, other_bytes))
    return Census(collected, total, allocations, _sort_stats(stats), ticks)


class TypeStatDiff:
    """A type across two censuses, as tracemalloc's StatisticDiff: name, size and
    count now, and their differences (size_diff, count_diff)."""

    def __init__(self, name, size, size_diff, count, count_diff):
        self.name = name
        self.size = size
        self.size_diff = size_diff
        self.count = count
        self.count_diff = count_diff

    def __str__(self):
        text = "%s: size=%s B (%s B), count=%s (%s)" % (
            self.name, _grouped(self.size), _signed(self.size_diff), _grouped(self.count), _signed(self.count_diff))
        if self.count:
            text += ", average=%s B" % _grouped(self.size // self.count)
        return text

    def __repr__(self):
        return "<TypeStatDiff %s>" % self


class CensusDiff:
    """What changed between two censuses. stats: [TypeStatDiff] of every type in
    either, biggest change first (tracemalloc's order: by the size difference's
    magnitude, then the size); grew: those whose bytes or objects grew; elapsed_ms;
    total_diff: the GC heap's used bytes' change."""

    def __init__(self, old, new):
        self.old = old
        self.new = new
        self.elapsed_ms = time.ticks_diff(new.ticks_ms, old.ticks_ms)
        self.total_diff = new.total - old.total
        before = {t.name: t for t in old.types}
        stats = []
        for t in new.types:
            o = before.pop(t.name, None)
            stats.append(TypeStatDiff(t.name, t.size, t.size - (o.size if o else 0),
                                      t.count, t.count - (o.count if o else 0)))
        for o in before.values():
            stats.append(TypeStatDiff(o.name, 0, -o.size, 0, -o.count))
        stats.sort(key=lambda s: (abs(s.size_diff), s.size, abs(s.count_diff), s.name), reverse=True)
        self.stats = stats

    @property
    def grew(self):
        return [s for s in self.stats if s.size_diff > 0 or s.count_diff > 0]

    def type(self, name):
        """The TypeStatDiff of a type name; ValueError if neither census has it."""
        for s in self.stats:
            if s.name == name:
                return s
        raise ValueError("no type %r in either census" % name)

    def _lines(self, limit=None, changed_only=True):
        rows = [s for s in self.stats if s.size_diff or s.count_diff or not changed_only]
        shown = rows if limit is None else rows[:limit]
        out = [" GC HEAP BY TYPE OVER %d MS: %s bytes used (%s)" % (
            self.elapsed_ms, _grouped(self.new.total), _signed(self.total_diff))]
        if not rows:
            out.append(" no type changed")
            return out
        out.extend(_table("TYPE", ("OBJECTS", "+/-", "BYTES", "+/-"),
                          [(s.name, s.count, _signed(s.count_diff), s.size, _signed(s.size_diff)) for s in shown]))
        if len(shown) < len(rows):
            out.append(" ... %d more types changed" % (len(rows) - len(shown)))
        return out

    def __str__(self):
        return "\n".join(self._lines())

    def __repr__(self):
        return "\n".join(self._lines(_REPR_ROWS))

    def print(self, limit=None, changed_only=True):
        """Prints the table of types that changed (every type with changed_only=False)."""
        print("\n".join(self._lines(limit, changed_only)))


# Holder chains.

def _key(key):
    if isinstance(key, (str, bytes, int, float)) or key is None or key is True or key is False:
        text = repr(key)
        return text if len(text) <= 40 else text[:37] + "..."
    return "<%s>" % type(key).__name__


class Link:
    """One object of a chain and how it holds the next. what: 'object', 'instance'
    (of a class), 'class', 'module', 'frame' (a running function's) or 'data'
    (an allocation with no type); name: its type's name (a class's or module's own
    name for those); size: its bytes with the storage the chain passes through
    (the last object's: all it owns); via: 'index', 'key', 'dict_key', 'member',
    'attr', 'local', 'const' (a constant of a function's code), 'closed' (a value a
    closure closed over), 'word' or None (the last); detail: the index, the key or
    the byte offset; func: the name of the function it is or runs, if any."""

    def __init__(self, what, module, name, size, via, detail, func):
        self.what = what
        self.module = module
        self.name = name
        self.size = size
        self.via = via
        self.detail = detail
        self.func = func

    @property
    def type_name(self):
        return _type_name(self.module, self.name) if self.name else None

    def _noun(self):
        if self.what == "instance":
            return self.name + " instance"
        if self.what == "class":
            return "class " + self.name
        if self.what == "module":
            return "module " + self.name
        if self.what == "frame":
            return "%s()" % (self.func or "?")
        if self.what == "data":
            return UNATTRIBUTED
        if self.func:
            return "%s %s()" % (self.name, self.func)
        return self.name

    def __str__(self):
        via, d = self.via, self.detail
        if via is None:
            return "%s (%s B)" % (self._noun(), _grouped(self.size))
        if via == "index":
            return "%s[%d]" % (self.name, d)
        if via == "key":
            return "%s[%s]" % (self.name, _key(d))
        if via == "dict_key":
            return "%s key %s" % (self.name, _key(d))
        if via == "member":
            return "%s member" % self.name
        if via == "attr":
            if self.what in ("class", "module"):
                return "%s.%s" % (self.name, d)
            return "%s .%s" % (self._noun(), d)
        if via == "local":
            if self.what == "frame":
                return "a local of %s()" % (self.func or "?")
            return "a local of %s" % self._noun()
        if via == "const":
            return "a constant of %s's code" % self._noun()
        if via == "closed":
            return "a value %s closed over" % self._noun()
        return "%s +%d" % (self._noun(), d)

    def __repr__(self):
        return "<Link %s>" % self


class Chain:
    """Who holds an object: root, what holds the chain ('global': a module's global,
    module and key; 'vm': one of the VM's root pointers; 'stack': another task's
    stack; 'caller': only the calling task's stack, a running function's local or
    the caller's own reference; 'none': nothing found); links: [Link] from what
    the root holds down to the object; sweeps: heap sweeps the search made;
    truncated: the search ran out of room (a chain may exist that it missed)."""

    def __init__(self, raw):
        root, links, self.sweeps, self.truncated = raw
        self.root = root[0]
        self.module = self.key = self.task = self.task_name = self.vm_offset = self.vm_name = None
        if self.root == "global":
            self.module, self.key = root[1], root[2]
        elif self.root == "vm":
            self.vm_offset, self.vm_name = root[1], root[2]
        elif self.root in ("stack", "caller"):
            self.task, self.task_name = root[1], root[2]
        self.links = [Link(*link) for link in links]

    @property
    def held(self):
        """False when nothing but the caller (or nothing at all) holds the object."""
        return self.root not in ("caller", "none")

    def _root_text(self):
        if self.root == "global":
            name = self.key if isinstance(self.key, str) else _key(self.key)
            return "%s.%s" % (self.module, name)
        if self.root == "vm":
            return "VM root %s" % (self.vm_name or "pointer at mp_state_ctx+0x%x" % self.vm_offset)
        if self.root == "stack":
            return "the stack of task %s" % self.task_name
        if self.root == "caller":
            return "only the calling code (task %s's stack: a local or argument of a running function)" % (
                self.task_name)
        return "nothing found (garbage, or held from outside the GC heap)"

    def __str__(self):
        parts = [self._root_text()] + [str(link) for link in self.links]
        if self.root == "global" and self.links and self.links[0].via is None:
            parts = ["%s: %s" % (parts[0], parts[1])]
        text = " -> ".join(parts)
        if self.truncated:
            text += " (search cut short: out of room)"
        return text

    def __repr__(self):
        return "<Chain %s>" % self


class Holders(Listing):
    """Chains of a sample of the objects of one type: name, count (objects of that
    type now), chains: [Chain] of up to `sampled` of them, evenly spread through
    the heap."""

    def __init__(self, name, count, chains):
        Listing.__init__(self, chains)
        self.name = name
        self.count = count
        self.chains = chains

    def __str__(self):
        if not self.count:
            return "no %s objects in the GC heap" % self.name
        lines = ["%d of %s %s objects, evenly spread through the heap, are held by:" % (
            len(self.chains), _grouped(self.count), self.name)]
        lines.extend("  " + str(c) for c in self.chains)
        return "\n".join(lines)

    __repr__ = __str__


def gc_holders(obj, count=3):
    """Who holds obj: its Chain of holders up to a root. With a type's name ('bytes',
    'app.Sensor') or a class, the Holders of `count` (1 to 8) of its objects."""
    if not isinstance(count, int):
        raise TypeError("count must be an int")
    if not 1 <= count <= 8:
        raise ValueError("count must be 1 to 8")
    if isinstance(obj, type):
        if hasattr(obj, "__module__"):
            obj = _type_name(obj.__module__, obj.__name__)
        else:
            obj = obj.__name__
    if isinstance(obj, str):
        module, dot, name = obj.rpartition(".")
        total, chains = _heaptrack.gc_holders_of(module if dot else None, name, count)
        return Holders(obj, total, [Chain(c) for c in chains])
    return Chain(_heaptrack.gc_holders(obj))


# The GC heap in ESP-IDF's heap, over time.

def _amount(n):
    return "%s B" % _grouped(n) if n < 10 * 1024 else "%s KB" % _grouped(n // 1024)


class GcEvent:
    """The GC heap took an area of ESP-IDF's heap (grew) or gave one back.

    number: the how-many-th since power-on; ms: milliseconds since start-up; grew;
    address, size: the area's block; heap: the ESP-IDF heap it is in ('RAM',
    'SPIRAM'); task, task_name: the task whose allocation (or collection) it was;
    largest_before, largest_after: ESP-IDF's largest free internal block before and
    after; gc_areas, gc_bytes: the GC heap's areas and their bytes after."""

    def __init__(self, record):
        for name in ("number", "ms", "grew", "address", "size", "heap", "task", "task_name",
                     "largest_before", "largest_after", "gc_areas", "gc_bytes"):
            setattr(self, name, getattr(record, name))

    def __str__(self):
        return ("#%d at %d.%03d s: the GC heap %s %s (%s at 0x%08x) in %s; largest free internal block "
                "%s -> %s; GC heap now %d area%s, %s") % (
            self.number, self.ms // 1000, self.ms % 1000, "took" if self.grew else "gave back", _amount(self.size),
            self.heap, self.address, self.task_name or "Pre-scheduler", _amount(self.largest_before),
            _amount(self.largest_after), self.gc_areas, "" if self.gc_areas == 1 else "s", _amount(self.gc_bytes))

    def __repr__(self):
        return "<GcEvent %s>" % self


class GcEvents(Kept):
    """The GC heap's areas taken from and given back to ESP-IDF's heap, oldest first
    (the firmware keeps the newest); total: how many since power-on, lost: how many
    of those are no longer kept. Iterable; str() tells each."""

    def __str__(self):
        head = "%d GC heap area event%s since power-on" % (self.total, "" if self.total == 1 else "s")
        if self.lost:
            head += " (the oldest %d no longer kept)" % self.lost
        return "\n".join([head + ":"] + [" " + str(e) for e in self.items])

    __repr__ = __str__


def gc_events():
    """GcEvents: each time MicroPython's GC heap took an area of ESP-IDF's heap or
    gave one back, with ESP-IDF's largest free internal block before and after."""
    total, lost, records = _heaptrack.gc_events()
    return GcEvents(total, lost, [GcEvent(r) for r in records])
