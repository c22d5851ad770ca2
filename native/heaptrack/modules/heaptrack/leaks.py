# Leak hunting on top of heaptrack's statistics: snapshots, their differences,
# and a repeated-workload leak check. Modelled on CPython's tracemalloc
# (take_snapshot / compare_to) where that fits.
import time

import _heaptrack

from .table import Table

# The diff table: ESP-IDF's overview layout with delta columns.
_TABLE = Table(("TASK", "STATUS", "CURRENT MEMORY DELTA", "PEAK MEMORY DELTA", "BLOCKS +NEW/-GONE"),
               (18, 7, 20, 17, 18), left=(1,))


def _signed(n):
    return "%+d" % n if n else "0"


def _keyed(items, key):
    # Keys repeat when ESP-IDF reuses a deleted task's handle, or two heap
    # regions look alike; the occurrence number tells them apart.
    seen = {}
    out = {}
    for item in items:
        k = key(item)
        n = seen.get(k, 0)
        seen[k] = n + 1
        out[(k, n)] = item
    return out


def _task_key(t):
    return (t.handle, t.name)


def _heap_key(h):
    return (h.name, h.caps, h.size)


class Snapshot:
    """Every tracked task's statistics at one moment, taken as one consistent copy."""

    def __init__(self, tasks, ticks_ms, blocks):
        self.tasks = tasks
        self.ticks_ms = ticks_ms
        self.blocks = blocks

    def task(self, name_or_handle):
        for t in self.tasks:
            if t.handle == name_or_handle or t.name == name_or_handle:
                return t
        raise ValueError("no task %r in snapshot" % (name_or_handle,))

    def statistics(self):
        """Tasks by current usage, largest first (tracemalloc's statistics())."""
        return sorted(self.tasks, key=lambda t: t.current, reverse=True)

    def compare_to(self, old):
        if not isinstance(old, Snapshot):
            raise TypeError("compare_to needs a Snapshot")
        return Diff(old, self)


def snapshot(blocks=True):
    return Snapshot(_heaptrack.task_stats(None, blocks=bool(blocks)), time.ticks_ms(), bool(blocks))


class HeapDiff:
    def __init__(self, old, new):
        ref = new or old
        self.name = ref.name
        self.caps = ref.caps
        self.size = ref.size
        self.current_delta = (new.current if new else 0) - (old.current if old else 0)
        self.peak_delta = (new.peak if new else 0) - (old.peak if old else 0)
        self.count_delta = (new.alloc_count if new else 0) - (old.alloc_count if old else 0)
        old_blocks = (old.blocks if old else None) or ()
        new_blocks = (new.blocks if new else None) or ()
        old_set = set(old_blocks)
        new_set = set(new_blocks)
        # Allocation order is kept, so the newest additions print last.
        self.blocks_added = [b for b in new_blocks if b not in old_set]
        self.blocks_gone = [b for b in old_blocks if b not in new_set]


class TaskDiff:
    def __init__(self, old, new):
        ref = new or old
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
            self.status = "ALIVE  " if new.alive else "DELETED"
        self.current = new.current if new else 0
        self.current_delta = self.current - (old.current if old else 0)
        self.peak_delta = (new.peak if new else 0) - (old.peak if old else 0)
        old_heaps = _keyed(old.heaps if old else (), _heap_key)
        new_heaps = _keyed(new.heaps if new else (), _heap_key)
        self.heaps = [HeapDiff(old_heaps.get(k), new_heaps.get(k)) for k in new_heaps]
        self.heaps += [HeapDiff(h, None) for k, h in old_heaps.items() if k not in new_heaps]

    @property
    def blocks_added(self):
        return [b for h in self.heaps for b in h.blocks_added]

    @property
    def blocks_gone(self):
        return [b for h in self.heaps for b in h.blocks_gone]

    @property
    def changed(self):
        return bool(self.current_delta or self.peak_delta or self.status in ("NEW", "GONE", "DIED")
                    or any(h.blocks_added or h.blocks_gone for h in self.heaps))


class Diff:
    """What changed between two snapshots, per task and per heap, largest growth first."""

    def __init__(self, old, new):
        self.elapsed_ms = time.ticks_diff(new.ticks_ms, old.ticks_ms)
        self.blocks = old.blocks and new.blocks
        old_tasks = _keyed(old.tasks, _task_key)
        new_tasks = _keyed(new.tasks, _task_key)
        tasks = [TaskDiff(old_tasks.get(k), t) for k, t in new_tasks.items()]
        tasks += [TaskDiff(t, None) for k, t in old_tasks.items() if k not in new_tasks]
        tasks.sort(key=lambda d: d.current_delta, reverse=True)
        self.tasks = tasks

    @property
    def appeared(self):
        return [d for d in self.tasks if d.status == "NEW"]

    @property
    def died(self):
        return [d for d in self.tasks if d.status == "DIED"]

    @property
    def died_holding(self):
        """Tasks that ended between the snapshots while still holding memory."""
        return [d for d in self.tasks if d.status == "DIED" and d.current > 0]

    def task(self, name_or_handle):
        for d in self.tasks:
            if d.handle == name_or_handle or d.name == name_or_handle:
                return d
        raise ValueError("no task %r in diff" % (name_or_handle,))

    def print(self, name=None, changed_only=True):
        """Prints the diff as an ESP-IDF-style table, then the blocks that came and went."""
        rows = [d for d in self.tasks
                if (name is None or d.name == name) and (d.changed or not changed_only)]
        print("\n HEAP CHANGES OVER %d MS" % self.elapsed_ms)
        _TABLE.print((d.name, d.status, _signed(d.current_delta), _signed(d.peak_delta),
                       "+%d/-%d" % (len(d.blocks_added), len(d.blocks_gone))) for d in rows)
        if not self.blocks:
            return
        shown = [d for d in rows if d.blocks_added or d.blocks_gone]
        for i, d in enumerate(shown):
            last_task = i == len(shown) - 1
            rail = " " if last_task else "│"
            print("%s %s: %s, CURRENT %s" % ("└" if last_task else "├", d.status.strip(), d.name,
                                               _signed(d.current_delta)))
            heaps = [h for h in d.heaps if h.blocks_added or h.blocks_gone]
            for j, h in enumerate(heaps):
                last_heap = j == len(heaps) - 1
                print("%s    %s HEAP: %s, CAPS: 0x%08x, SIZE: %d, CURRENT %s" % (
                    rail, "└" if last_heap else "├", h.name, h.caps, h.size, _signed(h.current_delta)))
                heap_rail = " " if last_heap else "│"
                for address, size in h.blocks_added:
                    print("%s    %s    ├ + ALLOC 0x%x, SIZE %d" % (rail, heap_rail, address, size))
                for address, size in h.blocks_gone:
                    print("%s    %s    ├ - ALLOC 0x%x, SIZE %d" % (rail, heap_rail, address, size))


class LeakCheck:
    """check_leaks' verdict: which task names grew in every measured round."""

    def __init__(self, rounds, growth, survivors, tolerance):
        self.rounds = rounds
        self.growth = growth          # name -> [bytes grown in each measured round]
        self.survivors = survivors    # name -> [(address, size)] added in round 1, still held
        self.tolerance = tolerance
        self.leaks = sorted((n for n, g in growth.items() if all(x > tolerance for x in g)),
                            key=lambda n: -sum(growth[n]))

    @property
    def ok(self):
        return not self.leaks

    def print(self):
        if self.ok:
            print("no task grew in every one of %d rounds" % self.rounds)
            return
        for name in self.leaks:
            print("LEAK: %s grew %s bytes over %d rounds (%s); %d blocks from the first round still held" % (
                name, sum(self.growth[name]), self.rounds,
                ", ".join("+%d" % g for g in self.growth[name]), len(self.survivors[name])))
            for address, size in self.survivors[name]:
                print("    ALLOC 0x%x, SIZE %d" % (address, size))


def _by_name(snap):
    totals = {}
    blocks = {}
    for t in snap.tasks:
        totals[t.name] = totals.get(t.name, 0) + t.current
        held = blocks.setdefault(t.name, set())
        for h in t.heaps:
            held.update(h.blocks or ())
    return totals, blocks


def check_leaks(func, *args, rounds=5, tolerance=0, warmup=1, **kwargs):
    """Runs func(*args, **kwargs) warmup + rounds times and reports the task names
    whose memory grew by more than tolerance bytes in every measured round.

    Tasks are grouped by name, so a workload that starts a fresh task each
    round is judged across rounds."""
    if not callable(func):
        raise TypeError("func must be callable")
    if rounds < 1 or warmup < 0 or tolerance < 0:
        raise ValueError("rounds must be >= 1, warmup and tolerance >= 0")
    for _ in range(warmup):
        func(*args, **kwargs)
    before, first_blocks = _by_name(snapshot())
    growth = {}
    after_first = None
    for i in range(rounds):
        func(*args, **kwargs)
        totals, held = _by_name(snapshot())
        if after_first is None:
            after_first = {n: held[n] - first_blocks.get(n, set()) for n in held}
        for name in set(totals) | set(before):
            growth.setdefault(name, [0] * i).append(totals.get(name, 0) - before.get(name, 0))
        before = totals
    final_blocks = held
    survivors = {n: sorted(b & final_blocks.get(n, set())) for n, b in after_first.items()}
    for name in growth:
        survivors.setdefault(name, [])
    return LeakCheck(rounds, growth, survivors, tolerance)
