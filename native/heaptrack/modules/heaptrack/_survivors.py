# The blocks that show a leak, one definition for check_leaks on the board
# (leaks.py) and the pytest plugin on the host (heaptrack_host/survivors.py is
# this file): plain Python that MicroPython and CPython both run.


def survivors(before_last, final):
    """The blocks (address, size) held at the end that were not held before the last
    round: what the last round allocated and kept, sorted by address. In a leak that
    grows every round, these are the blocks to look at first."""
    return sorted(set(final) - set(before_last))
