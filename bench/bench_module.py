"""Benchmarks of the heaptrack module on a board, through mpremote.

    python bench/bench_module.py                 # the virtual board (host firmware)
    python bench/bench_module.py --port DEV      # a real board

Prints, for each figure, what the board measured:
  - heaptrack.malloc + heaptrack.free pairs from Python, with 10 and with many
    blocks live (the tracker is O(1): the two should match), and on the virtual
    board the same with task tracking off (HEAPTRACK_TRACKING=0);
  - print_details: MicroPython heap used and wall time for 10 vs 10,000 blocks;
  - snapshot(): MicroPython heap used by a snapshot of N blocks.
The C-level tracked/untracked ratio is bench/bench_tracker.c (make bench).
"""
import argparse
import ast
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from heaptrack_host.vboard import DEFAULT_FIRMWARE, VirtualBoard  # noqa: E402

# Room for 100,000 live blocks on the virtual board.
BIG_LAYOUT = "RAM:0x0010580e:16777216"

PAIRS = """
import heaptrack, time, gc
def pairs(live, n=20000):
    held = [heaptrack.malloc(16) for i in range(live)]
    malloc, free = heaptrack.malloc, heaptrack.free
    t0 = time.ticks_us()
    for i in range(n):
        free(malloc(16))
    dt = time.ticks_diff(time.ticks_us(), t0)
    for b in held:
        free(b)
    return dt * 1000 // n
def baseline(n=20000):
    # The same loop calling a builtin pair that allocates nothing: the interpreter's share.
    f, g = abs, abs
    t0 = time.ticks_us()
    for i in range(n):
        g(f(16))
    return time.ticks_diff(time.ticks_us(), t0) * 1000 // n
print([baseline(), pairs(10), pairs(%(many)d)])
"""

PRINTING = """
import heaptrack, time, gc
def cost(n):
    held = [heaptrack.malloc(16) for i in range(n)]
    me = heaptrack.current_task()
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    t0 = time.ticks_us()
    heaptrack.print_details(me)
    dt = time.ticks_diff(time.ticks_us(), t0)
    used = gc.mem_alloc() - before
    gc.enable()
    for b in held:
        heaptrack.free(b)
    return [used, dt]
r = [cost(10), cost(%(many)d)]
print('RESULT', r)
"""

SNAPSHOT = """
import heaptrack, gc
def cost(n):
    held = [heaptrack.malloc(16) for i in range(n)]
    gc.collect()
    before = gc.mem_alloc()
    s = heaptrack.snapshot()
    used = gc.mem_alloc() - before
    del s
    for b in held:
        heaptrack.free(b)
    gc.collect()
    return used
print([[n, cost(n)] for n in (10, 100, 1000)])
"""


def mpremote_exec(device, code, timeout=600):
    proc = subprocess.run([sys.executable, "-m", "mpremote", "connect", device, "exec", code],
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise SystemExit("bench: mpremote failed: %s%s" % (proc.stdout[-2000:], proc.stderr[-2000:]))
    return proc.stdout


def last_literal(out, prefix=""):
    lines = [line for line in out.splitlines() if line.startswith(prefix) and line.strip()]
    return ast.literal_eval(lines[-1][len(prefix):].strip())


def run_all(device, many_live, many_print, untracked_device=None):
    baseline, few, many = last_literal(mpremote_exec(device, PAIRS % {"many": many_live}))
    print("malloc+free pair from Python (ns, board clock):")
    print("  %-34s %8d" % ("loop overhead (abs+abs)", baseline))
    print("  %-34s %8d" % ("with 10 blocks live", few))
    print("  %-34s %8d" % ("with %d blocks live" % many_live, many))
    print("  %-34s %8.2f" % ("ratio many/10", many / max(few, 1)))
    if untracked_device:
        _, few_off, many_off = last_literal(mpremote_exec(untracked_device, PAIRS % {"many": many_live}))
        print("  %-34s %8d" % ("untracked, 10 blocks live", few_off))
        print("  %-34s %8d" % ("untracked, %d blocks live" % many_live, many_off))
        print("  %-34s %8.2f %8.2f" % ("ratio tracked/untracked (10, many)",
                                       few / max(few_off, 1), many / max(many_off, 1)))

    (small_heap, small_us), (large_heap, large_us) = last_literal(
        mpremote_exec(device, PRINTING % {"many": many_print}), "RESULT")
    print("print_details (one task):")
    print("  %-34s %8s %10s" % ("", "MP heap", "wall ms"))
    print("  %-34s %8d %10.1f" % ("10 blocks", small_heap, small_us / 1000))
    print("  %-34s %8d %10.1f" % ("%d blocks" % many_print, large_heap, large_us / 1000))

    print("snapshot() MicroPython heap use:")
    for n, used in last_literal(mpremote_exec(device, SNAPSHOT)):
        print("  %-34s %8d bytes (%d per block)" % ("%d blocks" % n, used, used // n))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", help="a real board's serial device")
    parser.add_argument("--firmware", default=str(DEFAULT_FIRMWARE))
    args = parser.parse_args()
    if args.port:
        # A board's heaps hold far fewer blocks than the host model.
        run_all(args.port, many_live=1000, many_print=1000)
        return
    with tempfile.TemporaryDirectory() as flash:
        with VirtualBoard(firmware=args.firmware, flash=Path(flash) / "flash",
                          env={"HEAPTRACK_HEAPS": BIG_LAYOUT}) as vb, \
                VirtualBoard(firmware=args.firmware, flash=Path(flash) / "flash-untracked",
                             env={"HEAPTRACK_HEAPS": BIG_LAYOUT, "HEAPTRACK_TRACKING": "0"}) as untracked:
            print("virtual board, firmware %s" % args.firmware)
            run_all(vb.device, many_live=100000, many_print=10000, untracked_device=untracked.device)


if __name__ == "__main__":
    main()
