# Leak hunting on top of heaptrack's statistics: snapshots, their differences,
# and a repeated-workload leak check. Modelled on CPython's tracemalloc
# (take_snapshot / compare_to / statistics / dump / load), whose habits it keeps:
# objects format themselves in __str__, and print() is a thin wrapper.
#
# Memory: a snapshot is one TaskStat per task (a single small object each, see
# native/heaptrack/stats.h); a Diff keeps pairs of them and makes its TaskDiffs
# when asked, so comparing snapshots of 1,000 tasks fits a small GC heap.
import json
import time

import _heaptrack

from ._survivors import survivors as _survivors
from .census import Census, TypeStat, gc_census, gc_holders
from .heapinfo import GC_AREA, gc_area_owners
from .table import Table

# The diff table: ESP-IDF's overview layout with delta columns.
_TABLE = Table(("TASK", "STATUS", "CURRENT MEMORY DELTA", "PEAK MEMORY DELTA", "BLOCKS +NEW/-GONE"),
               (18, 7, 20, 17, 18), left=(1,))

_FILE_VERSION = 1

# repr(snapshot), what the REPL shows, lists this many tasks and blocks per heap.
_REPR_TASKS = 20
_REPR_BLOCKS = 8
# A Diff lists this many of the GC heap's types that changed.
_REPR_TYPES = 20


def _signed(n):
    return "%+d" % n if n else "0"


class Block(tuple):
    """A live block: (address, size), a tuple that prints its address in hex."""

    @property
    def address(self):
        return self[0]

    @property
    def size(self):
        return self[1]

    def __repr__(self):
        return "(0x%08x, %d)" % (self[0], self[1])


def _is_gc_area(areas, address, task):
    # areas: address -> the handle of the task it is charged to (None: unknown).
    # Another task may list the same address: Pre-scheduler keeps blocks freed
    # before any task ran, and the heap hands the address out again.
    return address in areas and areas[address] in (None, task)


def _alloc_line(prefix, address, size, areas, task):
    # An ALLOC line as reports print it, a GC heap area named as such.
    return "%sALLOC 0x%x, SIZE %d%s" % (prefix, address, size,
                                        " (%s)" % GC_AREA if _is_gc_area(areas, address, task) else "")

# What _render says after an ALLOC line (report.h: report_mark_kind_t).
_MARK_GC_AREA = 0
_MARK_STALE = 1


def _find(items, name_or_handle, what):
    for t in items:
        if t.handle == name_or_handle or t.name == name_or_handle:
            return t
    raise ValueError("no task %r in %s" % (name_or_handle, what))


class Statistic:
    """One entry of Snapshot.statistics(key_type): `size` bytes in `count` blocks held
    under `key`, which is (task name, task handle) for 'task', (heap name, caps, heap
    size) for 'heap', and (address, task name, task handle) for 'block'."""

    def __init__(self, key_type, key, size, count, gc_area=False):
        self.key_type = key_type
        self.key = key
        self.size = size
        self.count = count
        self.gc_area = gc_area   # a 'block' that is a MicroPython GC heap area

    def __str__(self):
        k = self.key
        if self.key_type == "task":
            where = "%s (0x%08x)" % k
        elif self.key_type == "heap":
            where = "%s (CAPS 0x%08x, SIZE %d)" % k
        else:
            where = "0x%08x in %s (0x%08x)" % k
        return "%s: size=%d B, count=%d%s" % (where, self.size, self.count, " (%s)" % GC_AREA if self.gc_area else "")

    def __repr__(self):
        return "<Statistic %s>" % self

    def __eq__(self, other):
        return (isinstance(other, Statistic) and self.key_type == other.key_type
                and self.key == other.key and self.size == other.size and self.count == other.count)


class Snapshot:
    """Every tracked task's statistics at one moment, taken as one consistent copy.

    tasks: [TaskStat] in ESP-IDF's order; ticks_ms: time.ticks_ms() when taken;
    blocks: whether the TaskStats hold their blocks; gc_areas: the blocks that were
    MicroPython GC heap areas then, address -> the handle of the task they were
    charged to (None: unknown); census: the GC heap by Python type (a Census) when
    taken with gc=True, else None."""

    def __init__(self, tasks, ticks_ms, blocks, gc_areas=None, census=None):
        self.tasks = tasks
        self.ticks_ms = ticks_ms
        self.blocks = blocks
        self.gc_areas = dict(gc_areas or {})
        self.census = census

    def task(self, name_or_handle):
        """The TaskStat with that handle (int) or name (str); ValueError if none."""
        return _find(self.tasks, name_or_handle, "snapshot")

    def statistics(self, key_type="task"):
        """What is held, grouped by key_type ('task', 'heap' or 'block'), biggest
        first as tracemalloc sorts: by size, then count. Only what holds memory
        is listed. 'block' needs a snapshot taken with blocks."""
        groups = {}
        order = []
        if key_type == "task":
            for t in self.tasks:
                count = sum(h.alloc_count for h in t.heaps)
                if t.current or count:
                    order.append(Statistic("task", (t.name, t.handle), t.current, count))
        elif key_type == "heap":
            for t in self.tasks:
                for h in t.heaps:
                    if not (h.current or h.alloc_count):
                        continue
                    k = (h.name, h.caps, h.size)
                    s = groups.get(k)
                    if s is None:
                        s = groups[k] = Statistic("heap", k, 0, 0)
                        order.append(s)
                    s.size += h.current
                    s.count += h.alloc_count
        elif key_type == "block":
            if not self.blocks:
                raise ValueError("statistics('block') needs a snapshot taken with blocks=True")
            for t in self.tasks:
                for h in t.heaps:
                    for address, size in h.blocks or ():
                        order.append(Statistic("block", (address, t.name, t.handle), size, 1,
                                               _is_gc_area(self.gc_areas, address, t.handle)))
        else:
            raise ValueError("key_type must be 'task', 'heap' or 'block'")
        # By size, then count, in one int each (see _by_growth: not sort(key=...)).
        most = max((s.count for s in order), default=0) + 1
        return _by_growth(order, lambda s: s.size * most + s.count)

    def compare_to(self, old):
        """What changed since the older snapshot `old`: a Diff."""
        if not isinstance(old, Snapshot):
            raise TypeError("compare_to needs a Snapshot")
        return Diff(old, self)

    def dump(self, filename):
        """Writes the snapshot to a file (on the board's filesystem) as JSON lines:
        a header, then heaptrack.dump()'s task and heap lines. Snapshot.load reads it
        back, after a reset too."""
        with open(filename, "w") as f:
            f.write(json.dumps({"type": "snapshot", "version": _FILE_VERSION, "ticks_ms": self.ticks_ms,
                                "blocks": self.blocks, "tasks": len(self.tasks),
                                "gc_areas": sorted(self.gc_areas.items()),
                                "census": _census_record(self.census)}) + "\n")
            _heaptrack._write_tasks(f, self.tasks)
            f.write('{"type": "end"}\n')

    @staticmethod
    def load(filename):
        """The Snapshot that Snapshot.dump wrote to filename. ValueError if the file
        is not one, or is cut short."""
        tasks = []
        task = heaps = None
        header = None
        with open(filename, "rb") as f:
            for lineno, raw in enumerate(f, 1):
                try:
                    try:
                        line = raw.decode()
                    except UnicodeError:
                        raise ValueError("not UTF-8 text")
                    rec = json.loads(line)
                    kind = rec["type"]
                    if header is None:
                        if kind != "snapshot" or rec["version"] != _FILE_VERSION:
                            raise ValueError("not a heaptrack snapshot file (version %d)" % _FILE_VERSION)
                        header = rec
                    elif kind == "task" and task is None:
                        task, heaps = rec, []
                    elif kind == "heap" and task is not None and rec["task"] == task["handle"]:
                        heaps.append((rec["name"], rec["caps"], rec["size"], rec["current"], rec["peak"],
                                      rec["alloc_count"], rec.get("blocks")))
                    elif kind == "end" and task is None:
                        if len(tasks) != header["tasks"]:
                            raise ValueError("%d tasks, the header says %d" % (len(tasks), header["tasks"]))
                        return Snapshot(tasks, header["ticks_ms"], header["blocks"],
                                        {a: t for a, t in header.get("gc_areas", ())},
                                        _census_from(header.get("census")))
                    else:
                        raise ValueError("unexpected %r line" % kind)
                    if task is not None and len(heaps) == task["heap_count"]:
                        tasks.append(_heaptrack.TaskStat(task["name"], task["handle"], task["alive"],
                                                         task["current"], task["peak"], heaps))
                        task = heaps = None
                except (KeyError, TypeError, ValueError) as e:
                    raise ValueError("%s, line %d: %s" % (filename, lineno, e))
        raise ValueError("%s: cut short (no end line)" % filename)

    def _header(self):
        alive = sum(1 for t in self.tasks if t.alive)
        text = "Snapshot at %d ms: %d tasks (%d alive), %d bytes held%s" % (
            self.ticks_ms, len(self.tasks), alive, sum(t.current for t in self.tasks),
            ", with blocks" if self.blocks else "")
        if self.census is not None:
            text += "\n" + self.census._header().strip()
        return text

    def _marks(self):
        # What the tree says of blocks: GC heap areas, and Pre-scheduler's records
        # of blocks freed before any task ran (ESP-IDF keeps them, README) at an
        # address another task's list holds now.
        marks = []
        for t in self.tasks:
            for h in t.heaps:
                for address, size in h.blocks or ():
                    if _is_gc_area(self.gc_areas, address, t.handle):
                        marks.append((address, t.handle, _MARK_GC_AREA))
        early = {b[0] for t in self.tasks if t.handle == 0 for h in t.heaps for b in h.blocks or ()}
        if early:
            for t in self.tasks:
                if t.handle != 0:
                    for h in t.heaps:
                        for address, size in h.blocks or ():
                            if address in early:
                                marks.append((address, 0, _MARK_STALE))
        return marks

    def __str__(self):
        # ESP-IDF's detail tree, each task with its handle, blocks named as above.
        return _heaptrack._render(self._header(), self.tasks, True, None, None, self._marks())

    def __repr__(self):
        # What the REPL shows: the same, cut short so that a board can show it.
        return _heaptrack._render(self._header(), self.tasks, True, _REPR_TASKS, _REPR_BLOCKS, self._marks())

    def print(self):
        """Prints str(self), a line at a time: any number of blocks, no string built."""
        _heaptrack._render(self._header(), self.tasks, False, None, None, self._marks())


def _census_record(census):
    # A census as a snapshot file keeps it: a small list, types as [name, count, size].
    if census is None:
        return None
    return [census.collected, census.total, census.allocations, census.ticks_ms,
            [[t.name, t.count, t.size] for t in census.types]]


def _census_from(record):
    if record is None:
        return None
    collected, total, allocations, ticks_ms, types = record
    return Census(collected, total, allocations, [TypeStat(n, c, s) for n, c, s in types], ticks_ms)


def snapshot(blocks=True, gc=False):
    """Every task's statistics now (with their live blocks unless blocks=False); with
    gc=True also the GC heap by Python type (snapshot.census, after a collection), so
    that compare_to says which types grew."""
    # The census first: its collection may give GC heap areas back to ESP-IDF's
    # heap, which the task statistics then show as they are.
    census = gc_census() if gc else None
    return Snapshot(_heaptrack.task_stats(None, blocks=bool(blocks)), time.ticks_ms(), bool(blocks),
                    gc_area_owners(), census)


class HeapDiff:
    """One heap of a TaskDiff: name, caps, size of the heap; current/peak/count deltas;
    blocks_added and blocks_gone as [(address, size)], oldest first."""

    def __init__(self, old, new, gc_areas=None, task=None):
        ref = new or old
        self.name = ref.name
        self.caps = ref.caps
        self.size = ref.size
        self.gc_areas = gc_areas or {}
        self.task = task
        self.current_delta = (new.current if new else 0) - (old.current if old else 0)
        self.peak_delta = (new.peak if new else 0) - (old.peak if old else 0)
        self.count_delta = (new.alloc_count if new else 0) - (old.alloc_count if old else 0)
        old_blocks = (old.blocks if old else None) or ()
        new_blocks = (new.blocks if new else None) or ()
        old_set = set(old_blocks)
        new_set = set(new_blocks)
        # Allocation order is kept, so the newest additions print last.
        self.blocks_added = [Block(b) for b in new_blocks if b not in old_set]
        self.blocks_gone = [Block(b) for b in old_blocks if b not in new_set]

    @property
    def gc_delta(self):
        """Bytes of MicroPython GC heap areas added (less those gone): the GC heap grew."""
        return (sum(b[1] for b in self.blocks_added if _is_gc_area(self.gc_areas, b[0], self.task))
                - sum(b[1] for b in self.blocks_gone if _is_gc_area(self.gc_areas, b[0], self.task)))

    def _lines(self, rail="", last=True):
        heap_rail = " " if last else "│"
        out = ["%s%s HEAP: %s, CAPS: 0x%08x, SIZE: %d, CURRENT %s" % (
            rail, "└" if last else "├", self.name, self.caps, self.size, _signed(self.current_delta))]
        for address, size in self.blocks_added:
            out.append(_alloc_line("%s%s    ├ + " % (rail, heap_rail), address, size, self.gc_areas, self.task))
        for address, size in self.blocks_gone:
            out.append(_alloc_line("%s%s    ├ - " % (rail, heap_rail), address, size, self.gc_areas, self.task))
        return out

    def __str__(self):
        return "\n".join(self._lines())

    def __repr__(self):
        return "<HeapDiff %s CAPS 0x%08x SIZE %d: current %s, blocks +%d/-%d>" % (
            self.name, self.caps, self.size, _signed(self.current_delta), len(self.blocks_added),
            len(self.blocks_gone))


def _heap_key(h):
    return (h.name, h.caps, h.size)


class TaskDiff:
    """One task across two snapshots. status: NEW (not in the old one), GONE (not in
    the new one), DIED (alive then, deleted now), else ALIVE or DELETED; current (bytes
    now) and its delta, peak delta; gc_delta: how much of the delta is MicroPython GC
    heap areas (the GC heap grew: not a leak); heaps: [HeapDiff]; old, new: the TaskStats."""

    def __init__(self, old, new, gc_areas=None):
        ref = new or old
        self.old = old
        self.new = new
        self.gc_areas = gc_areas or {}
        self.name = ref.name
        self.handle = ref.handle
        self.alive = new.alive if new else False
        if old is None:
            self.status = "NEW"
        elif new is None:
            self.status = "GONE"
        elif old.alive and not new.alive:
            self.status = "DIED"
        else:
            self.status = "ALIVE" if new.alive else "DELETED"
        self.current = new.current if new else 0
        self.current_delta = self.current - (old.current if old else 0)
        self.peak_delta = (new.peak if new else 0) - (old.peak if old else 0)

    @property
    def heaps(self):
        old = self.old.heaps if self.old else ()
        new = self.new.heaps if self.new else ()
        out = []
        for h in new:
            match = [o for o in old if _heap_key(o) == _heap_key(h)]
            out.append(HeapDiff(match[0] if match else None, h, self.gc_areas, self.handle))
            if match:
                old = tuple(o for o in old if o is not match[0])
        return out + [HeapDiff(o, None, self.gc_areas, self.handle) for o in old]

    @property
    def gc_delta(self):
        return sum(h.gc_delta for h in self.heaps)

    @property
    def blocks_added(self):
        return [b for h in self.heaps for b in h.blocks_added]

    @property
    def blocks_gone(self):
        return [b for h in self.heaps for b in h.blocks_gone]

    @property
    def changed(self):
        return self.old is None or self.new is None or not (self.old == self.new)

    def _lines(self, rail="", last=True):
        heaps = [h for h in self.heaps if h.blocks_added or h.blocks_gone or h.current_delta]
        gc = sum(h.gc_delta for h in heaps)
        out = ["%s%s %s: %s (0x%08x), CURRENT %s (%d), PEAK %s%s" % (
            rail, "└" if last else "├", self.status, self.name, self.handle, _signed(self.current_delta),
            self.current, _signed(self.peak_delta), ", %s of it %ss" % (_signed(gc), GC_AREA) if gc else "")]
        sub = rail + ("     " if last else "│    ")
        for j, h in enumerate(heaps):
            out.extend(h._lines(sub, j == len(heaps) - 1))
        return out

    def __str__(self):
        return "\n".join(self._lines())

    def __repr__(self):
        return "<TaskDiff %s (0x%08x) %s: current %s (%d), peak %s, blocks +%d/-%d>" % (
            self.name, self.handle, self.status, _signed(self.current_delta), self.current,
            _signed(self.peak_delta), len(self.blocks_added), len(self.blocks_gone))


def _ordered(tasks):
    # ESP-IDF lists tasks by decreasing handle; anything else is sorted so.
    for i in range(1, len(tasks)):
        if tasks[i - 1].handle < tasks[i].handle:
            return sorted(tasks, key=lambda t: t.handle, reverse=True)
    return tasks


def _pairs(a, b):
    # Pairs old and new records of a task as codes (i + 1) * (len(b) + 1) + (j + 1),
    # 0 for "none": small ints, so 1,000 tasks cost 4 KB, not a tuple each. Both
    # lists are walked together by decreasing handle; a handle repeats when ESP-IDF
    # reuses a deleted task's TCB, and within one handle records pair by name.
    m = len(b) + 1
    pairs = []
    i = j = 0
    while i < len(a) or j < len(b):
        ha = a[i].handle if i < len(a) else -1
        hb = b[j].handle if j < len(b) else -1
        if ha > hb:
            pairs.append((i + 1) * m)
            i += 1
        elif hb > ha:
            pairs.append(j + 1)
            j += 1
        else:
            i2, j2 = i, j
            while i2 < len(a) and a[i2].handle == ha:
                i2 += 1
            while j2 < len(b) and b[j2].handle == hb:
                j2 += 1
            if i2 - i == 1 and j2 - j == 1 and a[i].name == b[j].name:
                pairs.append((i + 1) * m + j + 1)   # the common case, without the dict below
                i, j = i2, j2
                continue
            # Old records of this handle by name, each name's in order: a handle reused
            # by hundreds of tasks pairs in linear time, not a scan per new record.
            by_name = {}
            for ii in range(i2 - 1, i - 1, -1):
                by_name.setdefault(a[ii].name, []).append(ii)
            paired = set()
            for jj in range(j, j2):
                match = by_name.get(b[jj].name)
                if match:
                    ii = match.pop()
                    paired.add(ii)
                    pairs.append((ii + 1) * m + jj + 1)
                else:
                    pairs.append(jj + 1)
            pairs.extend((ii + 1) * m for ii in range(i, i2) if ii not in paired)
            i, j = i2, j2
    return pairs


def _by_growth(codes, delta):
    # codes ordered by delta(code), largest first, ties kept in order. Not
    # list.sort(key=...): MicroPython calls the key at every comparison, and its
    # quicksort (the last element as pivot) is quadratic on equal keys with
    # reverse=True and on sorted input: 1,000 tasks that did not change took
    # 500,000 calls. Here each code's delta is taken once, into one int that
    # orders it (distinct: ties broken by position), the ints are shuffled so
    # that no input order is the sorted one, and sorted with no key.
    m = len(codes) + 1
    keys = [delta(c) * m + (m - 1 - k) for k, c in enumerate(codes)]
    x = 1
    for k in range(len(keys) - 1, 0, -1):
        x = (x * 75 + 74) % 65537   # small ints throughout: no allocation on a board
        r = x % (k + 1)
        keys[k], keys[r] = keys[r], keys[k]
    keys.sort()
    return [codes[m - 1 - key % m] for key in reversed(keys)]


class Diff:
    """What changed between two snapshots, per task, largest growth first.

    tasks: [TaskDiff] (made when read); appeared, died, died_holding: the TaskDiffs
    of tasks that are new, that ended between the snapshots, and that ended holding
    memory; elapsed_ms between the snapshots; blocks: whether both held blocks;
    census: the GC heap's types compared (a CensusDiff) when both snapshots were
    taken with gc=True, else None; types: its [TypeStatDiff], biggest change first
    (tracemalloc's StatisticDiff order), [] without a census."""

    def __init__(self, old, new):
        self.elapsed_ms = time.ticks_diff(new.ticks_ms, old.ticks_ms)
        self.blocks = old.blocks and new.blocks
        self.census = (new.census.compare_to(old.census)
                       if old.census is not None and new.census is not None else None)
        self.gc_areas = dict(old.gc_areas)
        self.gc_areas.update(new.gc_areas)
        self._old = _ordered(old.tasks)
        self._new = _ordered(new.tasks)
        self._pairs = _by_growth(_pairs(self._old, self._new), self._delta)

    def _pair(self, code):
        i, j = divmod(code, len(self._new) + 1)
        return (self._old[i - 1] if i else None), (self._new[j - 1] if j else None)

    def _delta(self, code):
        old, new = self._pair(code)
        return (new.current if new else 0) - (old.current if old else 0)

    def _diffs(self, keep=None):
        for code in self._pairs:
            old, new = self._pair(code)
            if keep is None or keep(old, new):
                yield TaskDiff(old, new, self.gc_areas)

    @property
    def tasks(self):
        return list(self._diffs())

    @property
    def appeared(self):
        return list(self._diffs(lambda o, n: o is None))

    @property
    def died(self):
        return list(self._diffs(lambda o, n: o and n and o.alive and not n.alive))

    @property
    def died_holding(self):
        """Tasks that ended between the snapshots while still holding memory."""
        return [d for d in self.died if d.current > 0]

    @property
    def types(self):
        return self.census.stats if self.census is not None else []

    def task(self, name_or_handle):
        """The TaskDiff of the task with that handle (int) or name (str); ValueError if none."""
        return _find(self._diffs(), name_or_handle, "diff")

    def _lines(self, name=None, changed_only=True):
        out = self._task_lines(name, changed_only)
        if self.census is not None and name is None:
            out.extend(self.census._lines(_REPR_TYPES, changed_only))
        return out

    def _task_lines(self, name, changed_only):
        rows = [d for d in self._diffs(lambda o, n: name is None or (n or o).name == name)
                if d.changed or not changed_only]
        out = [" HEAP CHANGES OVER %d MS" % self.elapsed_ms]
        if not rows:
            out.append(" no change")
            return out
        out.extend(_TABLE.lines((d.name, d.status, _signed(d.current_delta), _signed(d.peak_delta),
                                 "+%d/-%d" % (len(d.blocks_added), len(d.blocks_gone))) for d in rows))
        if self.blocks:
            for d in rows:
                gc = d.gc_delta
                if gc:
                    out.append(" %s: %s of its change is %ss: MicroPython's GC heap %s, not a leak" % (
                        d.name, _signed(gc), GC_AREA, "grew" if gc > 0 else "shrank"))
            shown = [d for d in rows if d.blocks_added or d.blocks_gone]
            for i, d in enumerate(shown):
                out.extend(d._lines("", i == len(shown) - 1))
        return out

    def __str__(self):
        return "\n".join(self._lines())

    __repr__ = __str__

    def print(self, name=None, changed_only=True):
        """Prints str(self): the table of tasks that changed (only `name`'s rows if
        given; every task with changed_only=False), then the blocks that came and went."""
        print("\n".join(self._lines(name, changed_only)))


class LeakCheck:
    """check_leaks' verdict. leaks: the task names that grew in every measured round,
    biggest first (LEAK); held: name -> bytes still held by tasks of that name that
    are all deleted and are no leak by the rounds (HELD: a dead task holding memory,
    heaptrack_host.verdict's word); growth: name -> [bytes grown per round], MicroPython
    GC heap areas left out; gc_growth: name -> bytes of GC heap areas its tasks gained
    over the rounds (the GC heap grew: its own thing, never a leak); survivors: name ->
    [Block] the last round added and still held at the end (_survivors.py, the pytest
    plugin's definition too).

    Inside the GC heap (with gc=True, check_leaks' default): types: the Python types
    whose bytes grew by more than tolerance in every round, biggest growth first (GC
    LEAK); type_growth: type name -> [bytes grown per round]; type_count_growth: type
    name -> [objects gained per round], for every type that changed; holders: type name
    -> Holders (who holds a sample of its objects at the end), for the types that
    leak; census: the last round's Census (None without gc).

    ok: no leak, nothing held by a dead task and no type that kept growing."""

    def __init__(self, rounds, growth, survivors, tolerance, held=None, gc_growth=None, held_before=(),
                 type_growth=None, type_count_growth=None, census=None):
        self.rounds = rounds
        self.growth = growth
        self.survivors = survivors
        self.tolerance = tolerance
        self.leaks = sorted((n for n, g in growth.items() if all(x > tolerance for x in g)),
                            key=lambda n: -sum(growth[n]))
        self.held = {n: b for n, b in (held or {}).items() if n not in self.leaks}
        self.gc_growth = gc_growth or {}
        self._held_before = set(held_before)
        self.type_growth = type_growth or {}
        self.type_count_growth = type_count_growth or {}
        self.census = census
        # heaptrack's own objects (the censuses compared) are the check's doing.
        self.types = sorted((n for n, g in self.type_growth.items()
                             if all(x > tolerance for x in g) and not n.startswith("heaptrack.")),
                            key=lambda n: -sum(self.type_growth[n]))
        self.holders = {}

    @property
    def ok(self):
        return not self.leaks and not self.held and not self.types

    def _lines(self):
        out = []
        for name in self.leaks:
            held = len(self.survivors[name])
            out.append("LEAK: %s grew %s bytes over %d rounds (%s); %d block%s from the last round still held" % (
                name, sum(self.growth[name]), self.rounds,
                ", ".join("+%d" % g for g in self.growth[name]), held, "" if held == 1 else "s"))
            for address, size in self.survivors[name]:
                out.append("    ALLOC 0x%x, SIZE %d" % (address, size))
        for name, held in self.held.items():
            out.append("HELD: %s is deleted and still holds %d bytes (%s)" % (
                name, held, "died before watching" if name in self._held_before else "died during the rounds"))
        for name in self.types:
            grown = self.type_growth[name]
            objects = self.type_count_growth.get(name, [0] * len(grown))
            now = self.census.type(name) if self.census is not None else None
            out.append("GC LEAK: %s grew %d bytes over %d rounds (%s bytes per round; %s objects per round)%s" % (
                name, sum(grown), self.rounds, ", ".join("+%d" % g for g in grown),
                ", ".join(_signed(c) for c in objects),
                "" if now is None else "; %d objects, %d bytes now" % (now.count, now.size)))
            holders = self.holders.get(name)
            if holders is not None:
                out.extend("    held by: %s" % c for c in holders.chains)
        if not out:
            out.append("no task%s grew in every one of %d rounds" % (
                "" if self.census is None else " and no Python type", self.rounds))
        for name, grown in self.gc_growth.items():
            if grown:
                out.append("%s: MicroPython's GC heap %s by %d bytes in %ss (not a leak)" % (
                    name, "grew" if grown > 0 else "shrank", abs(grown), GC_AREA))
        return out

    def __str__(self):
        return "\n".join(self._lines())

    __repr__ = __str__

    def print(self):
        print(self)


def _by_name(snap):
    # Per task name: bytes held less MicroPython GC heap areas, the blocks held,
    # the bytes of GC heap areas held, and whether every task of it is deleted.
    totals = {}
    blocks = {}
    gc = {}
    dead = {}
    for t in snap.tasks:
        held = blocks.setdefault(t.name, set())
        in_gc = 0
        for h in t.heaps:
            for b in h.blocks or ():
                if _is_gc_area(snap.gc_areas, b[0], t.handle):
                    in_gc += b[1]
                else:
                    held.add(Block(b))
        totals[t.name] = totals.get(t.name, 0) + t.current - in_gc
        gc[t.name] = gc.get(t.name, 0) + in_gc
        dead[t.name] = dead.get(t.name, True) and not t.alive
    return totals, blocks, gc, dead


def check_leaks(func, *args, rounds=5, tolerance=0, warmup=1, gc=True, **kwargs):
    """Runs func(*args, **kwargs) warmup + rounds times and reports the task names
    whose memory grew by more than tolerance bytes in every measured round (LEAK),
    and those whose tasks are all deleted and still hold more than tolerance bytes
    (HELD). MicroPython GC heap areas a task gains are the GC heap growing, reported
    on their own and never counted as growth. With gc (the default), a census of the
    GC heap after each round (after a collection) also says which Python types grew
    by more than tolerance bytes in every round (GC LEAK), and who holds them.

    Tasks are grouped by name, so a workload that starts a fresh task each
    round is judged across rounds."""
    if not callable(func):
        raise TypeError("func must be callable")
    if rounds < 1 or warmup < 0 or tolerance < 0:
        raise ValueError("rounds must be >= 1, warmup and tolerance >= 0")
    for _ in range(warmup):
        func(*args, **kwargs)
    before, first_blocks, gc_before, dead_before = _by_name(snapshot())
    held_before = [n for n in before if dead_before[n] and before[n] > tolerance]
    gc_first = gc_before
    growth = {}
    before_last = first_blocks
    totals = held = gc_now = dead = None
    type_growth = {}
    type_count_growth = {}
    census = start = None
    i = 0
    while i < rounds:
        # A round's types are what func kept: a census just before it and one just
        # after. Each is taken holding one other census of the same types (the
        # first is made before heaptrack's own types are in the heap) and nothing
        # else of the check's (its tables change only after both), so the check's
        # own objects cancel out and what differs is func's.
        if gc:
            census = None
            census = gc_census()
            census = gc_census()
            start = gc_census()
            census = None
        func(*args, **kwargs)
        if gc:
            census = gc_census()
            _type_round(type_growth, type_count_growth, start, census, i, rounds)
            start = None
        if held is not None:
            before_last = held
        totals, held, gc_now, dead = _by_name(snapshot())
        for name in set(totals) | set(before):
            growth.setdefault(name, [0] * rounds)[i] = totals.get(name, 0) - before.get(name, 0)
        before = totals
        i += 1
    survivors = {n: _survivors(before_last.get(n, ()), held.get(n, ())) for n in set(held) | set(growth)}
    held_dead = {n: totals[n] for n in totals if dead[n] and totals[n] > tolerance}
    gc_growth = {n: gc_now.get(n, 0) - gc_first.get(n, 0) for n in set(gc_now) | set(gc_first)
                 if gc_now.get(n, 0) != gc_first.get(n, 0)}
    result = LeakCheck(rounds, growth, survivors, tolerance, held_dead, gc_growth, held_before,
                       type_growth, type_count_growth, census)
    for name in result.types[:_HOLDER_TYPES]:
        result.holders[name] = gc_holders(name, 1)
    return result


# check_leaks says who holds the objects of this many of the types that leak.
_HOLDER_TYPES = 3


def _type_round(bytes_growth, count_growth, old, new, i, rounds):
    # Round i's change of every type into the tables (type name -> [per round]);
    # a type is entered when it first changes.
    seen = {}
    for t in new.types:
        seen[t.name] = t
    for o in old.types:
        if o.name not in seen:
            seen[o.name] = None
    for name, t in seen.items():
        o = old.type(name)
        size = (t.size if t else 0) - o.size
        count = (t.count if t else 0) - o.count
        if size or count or name in bytes_growth:
            bytes_growth.setdefault(name, [0] * rounds)[i] = size
            count_growth.setdefault(name, [0] * rounds)[i] = count
