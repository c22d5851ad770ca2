# What only a board can show: heaptrack's bookkeeping under task churn on both
# cores while Wi-Fi (and on an ESP32-P4, esp-hosted) allocates from the same
# heaps. Run it on your board and send us the output:
#
#   mpremote connect /dev/ttyACM0 run examples/board_check.py
#
# It also runs on the virtual board (no Wi-Fi there). The last line is
# "board_check: PASS" or "board_check: FAIL (<how many>)"; every failed check
# prints a line starting with "FAIL:".
import random
import time

import heaptrack

ROUNDS = 5
TASKS_PER_ROUND = 6
ALLOCS_PER_TASK = 40

failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL:", what)


def start_wifi():
    # Wi-Fi's own tasks allocate from ESP-IDF's heap on the other core while ours run.
    try:
        import network
    except ImportError:
        return None
    wlan = network.WLAN(network.WLAN.IF_STA)
    wlan.active(True)
    return wlan


def worker(name, seed, leaks, done):
    rnd = random.Random(seed) if hasattr(random, "Random") else random
    held = []
    for _ in range(ALLOCS_PER_TASK):
        held.append(heaptrack.malloc(rnd.randint(1, 2048)))
        if len(held) > 4:
            heaptrack.free(held.pop(rnd.randint(0, len(held) - 1)))
    for block in held[leaks:]:
        heaptrack.free(block)
    done.append(name)


def wait_for(done, count, timeout_ms=20000):
    deadline = time.ticks_add(time.ticks_ms(), timeout_ms)
    while len(done) < count and time.ticks_diff(deadline, time.ticks_ms()) > 0:
        time.sleep_ms(10)
    return len(done) >= count


def check_snapshot(names, leaked_per_task):
    stats = heaptrack.task_stats(blocks=True)
    for t in stats:
        total = 0
        for h in t.heaps:
            check(h.alloc_count == len(h.blocks), "%s: %s alloc_count %d but %d blocks"
                  % (t.name, h.name, h.alloc_count, len(h.blocks)))
            used = sum(size for _, size in h.blocks)
            check(h.current == used, "%s: %s current %d but its blocks hold %d" % (t.name, h.name, h.current, used))
            check(h.peak >= h.current, "%s: %s peak below current" % (t.name, h.name))
            total += h.current
        check(t.current == total, "%s: current %d but its heaps hold %d" % (t.name, t.current, total))
    for name in names:
        mine = [t for t in stats if t.name == name]
        check(len(mine) >= 1, "%s: no record" % name)
        if heaptrack.TRACK_DELETED and mine:
            # A finished task is deleted once FreeRTOS frees its TCB (soon after it ends).
            held = sum(len(h.blocks) for t in mine for h in t.heaps)
            check(held == leaked_per_task, "%s: holds %d blocks, leaked %d" % (name, held, leaked_per_task))


def main():
    wlan = start_wifi()
    print("board_check: %d rounds of %d tasks%s" % (ROUNDS, TASKS_PER_ROUND, ", Wi-Fi on" if wlan else ""))
    for r in range(ROUNDS):
        done = []
        names = ["chk%d_%d" % (r, i) for i in range(TASKS_PER_ROUND)]
        for i, name in enumerate(names):
            heaptrack.start_task(name, worker, (name, r * 100 + i, 1, done))
        if wlan:
            try:
                wlan.scan()
            except OSError as e:
                print("board_check: scan failed (%s); going on" % e)
        check(wait_for(done, len(names)), "round %d: tasks did not finish" % r)
        time.sleep_ms(200)   # FreeRTOS's idle task frees the TCBs
        check_snapshot(names, 1)
        regions = heaptrack.heap_info().regions
        for reg in regions:
            check(reg.free <= reg.total and reg.largest_free <= reg.free, "region %s: figures out of order" % reg.name)
        freed = heaptrack.free_all()
        check(freed == len(names), "round %d: free_all freed %d, expected %d" % (r, freed, len(names)))
    if wlan:
        wlan.active(False)
    print("board_check: %s" % ("PASS" if not failures else "FAIL (%d)" % len(failures)))


main()
