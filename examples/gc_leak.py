# A leak inside MicroPython's GC heap: an asyncio task polls sensors and keeps
# every reading in a cache that never evicts. ESP-IDF's task tracking sees only
# "mp_task holds the GC heap"; heaptrack's census says which Python type grows,
# by how much per round, and who holds it.
#
#   mpremote run examples/gc_leak.py
#
# names the leaking type, its growth per round and the chain of holders from this
# module's global `cache`. With EVICT = True the cache keeps its newest LIMIT
# readings and check_leaks finds no growth. As a module on the board's flash
# (mpremote cp examples/gc_leak.py :), `mpheaptrack gc --code "import gc_leak;
# gc_leak.one_round()"` finds the same from the host.
import asyncio

import heaptrack

EVICT = False
LIMIT = 16          # readings the evicting cache keeps
POLLS = 8           # readings per round
SENSORS = 4


class Reading:
    def __init__(self, sensor, seq, raw):
        self.sensor = sensor
        self.seq = seq
        self.raw = raw


class ReadingCache:
    """Readings by key; with a limit, the oldest goes when a new one comes."""

    def __init__(self, limit=None):
        self.entries = {}
        # Keys in arrival order, in a ring of fixed size: evicting allocates nothing.
        self._ring = [None] * limit if limit else None
        self._next = 0

    def put(self, key, reading):
        ring = self._ring
        if ring is not None:
            old = ring[self._next]
            if old is not None:
                del self.entries[old]
            ring[self._next] = key
            self._next = (self._next + 1) % len(ring)
        self.entries[key] = reading


cache = ReadingCache(LIMIT if EVICT else None)
_seq = 0


def read_sensor(sensor):
    # Stands in for an I2C read: a few bytes of raw data.
    return bytes((sensor, _seq & 0xFF)) * 12


async def poller(polls):
    global _seq
    for _ in range(polls):
        sensor = _seq % SENSORS
        cache.put("t%d/%d" % (sensor, _seq), Reading(sensor, _seq, read_sensor(sensor)))
        _seq += 1
        await asyncio.sleep_ms(1)


def one_round(polls=POLLS):
    """One round of the service: the poller task runs until it has taken `polls` readings."""
    asyncio.run(poller(polls))


def main(rounds=4):
    # Two rounds first: an evicting cache is full after them.
    result = heaptrack.check_leaks(one_round, rounds=rounds, warmup=2)
    print(result)
    if result.types:
        print(heaptrack.gc_holders(result.types[0]))
    return result


if __name__ == "__main__":
    main()
