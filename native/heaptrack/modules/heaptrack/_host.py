# heaptrack._host: the board's half of the host tools (heaptrack_host's
# connection.py calls it, one line per call). Frozen with the firmware, so that
# the host sends calls, not programs, and binds nothing in the REPL's namespace:
# a board left at its prompt has nothing of the host tools' defined there.
# Not API: its calls change with the host tools, PROTOCOL says when.
import sys
import time

import heaptrack

# What the host tools check first: a firmware whose PROTOCOL is older than theirs
# is told to be flashed again. 2: run_sampled's gc_types.
PROTOCOL = 2


def hello(marker):
    # The answer in one write after a marker: a task's printing may come before it on its line.
    sys.stdout.write(marker + repr((PROTOCOL, getattr(sys.implementation, "_machine", ""),
                                    heaptrack.TRACK_DELETED)) + "\n")


def run(src, name):
    # As `mpremote run` runs a script: a namespace of its own, __name__ == "__main__".
    g = {"__name__": "__main__", "__file__": name}
    try:
        code = compile(src, name, "exec")
    except NameError:
        # a firmware without compile(): exec takes the source itself
        code = src
    exec(code, g)


# The sampler's stack when its samples take a census: the census's table lives
# on the calling task's stack (modgc.c), on top of what a sample needs.
_CENSUS_STACK = 10 * 1024


def run_sampled(src, name, interval_ms, marker, task, failures_after, gc_types=0):
    # The script runs in the REPL's task (its allocations are mp_task's, Ctrl-C
    # interrupts it) while a task of ours writes a sample every interval_ms; a
    # last sample once it ended, however it ended.
    state = [False, False, failures_after]  # stop requested, sampler finished, failures seen
    if state[2] is None:
        # Counted before the script starts, so that its failures are news in the samples.
        state[2] = heaptrack.failures(0).total
    t0 = time.ticks_ms()

    def sampler():
        try:
            while not state[0]:
                state[2] = heaptrack.dump_sample(t0, marker, state[2], gc_types)
                deadline = time.ticks_add(time.ticks_ms(), interval_ms)
                while not state[0]:
                    left = time.ticks_diff(deadline, time.ticks_ms())
                    if left <= 0:
                        break
                    time.sleep_ms(min(left, 20))
        finally:
            state[1] = True

    heaptrack.start_task(task, sampler, stack_size=_CENSUS_STACK if gc_types else 0)
    try:
        run(src, name)
    finally:
        state[0] = True
        deadline = time.ticks_add(time.ticks_ms(), 5000)
        while not state[1] and time.ticks_diff(deadline, time.ticks_ms()) > 0:
            time.sleep_ms(5)
        heaptrack.dump_sample(t0, marker, state[2], gc_types)


def metrics(marker, piece, max_deleted=None):
    # heaptrack.metrics()'s text in pieces, each one write after the marker and its
    # offset, after a line with the text's length. A long write may give up the
    # interpreter lock part way (a pseudo-terminal's buffer, a USB driver) and let
    # another task's printing in; a short one does not, and the host drops what
    # comes between pieces.
    text = heaptrack.metrics() if max_deleted is None else heaptrack.metrics(max_deleted=max_deleted)
    write = sys.stdout.write
    write("%s%d\n" % (marker, len(text)))
    for at in range(0, len(text), piece):
        write("%s%d:%s" % (marker, at, text[at:at + piece]))


def gc_run(src, name, marker):
    # A run between two censuses of the GC heap; writes the marker and JSON
    # {type: [objects gained, bytes gained, objects now, bytes now]} of the types
    # that changed. Each census is taken holding one other census of the same
    # types (the first is made before heaptrack's own types are in the heap) and
    # nothing else of this function's, so that its own objects cancel out.
    import json
    c = None
    c = heaptrack.gc_census()
    c = heaptrack.gc_census()
    a = heaptrack.gc_census()
    c = None
    run(src, name)
    b = heaptrack.gc_census()
    d = {}
    for t in b.types:
        o = a.type(t.name)
        d[t.name] = [t.count - o.count, t.size - o.size, t.count, t.size]
    for o in a.types:
        if o.name not in d:
            d[o.name] = [-o.count, -o.size, 0, 0]
    sys.stdout.write(marker + json.dumps({k: v for k, v in d.items() if v[0] or v[1]}) + "\n")
