"""``python -m heaptrack_host.vboard`` / ``mpheaptrack vboard``: a virtual board on the command line."""

import argparse
import signal
import subprocess
import sys
import threading

from .. import paths
from .board import VirtualBoard, VirtualBoardError

__all__ = ["main"]


def _parse_env(items):
    env = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise argparse.ArgumentTypeError("--env wants NAME=VALUE, got %r" % item)
        env[name] = value
    return env


def main(argv=None, prog=None):
    ap = argparse.ArgumentParser(
        prog=prog or ("python -m heaptrack_host.vboard" if sys.argv[0].endswith("vboard.py") else None),
        description="Run the heaptrack host firmware as a virtual board on a pseudo-terminal. "
        "Prints the device path, then serves until SIGINT/SIGTERM.",
        epilog="Exit status: 0 stopped; 2 the board could not start (no firmware, its flash in use by "
        "another virtual board) or stopped unexpectedly; 3 its firmware crashed while it served; with "
        "--run, mpremote's.")
    ap.add_argument("--firmware", default=None, metavar="PATH",
                    help="host firmware binary (default: $HEAPTRACK_FIRMWARE, else the checkout's "
                    "build/host/micropython, else the one installed with this package)")
    ap.add_argument("--chip", default=None, choices=sorted(c for c in paths.CHIPS if not c.endswith("-psram")),
                    help="the chip the virtual board is, with its ESP-IDF memory layout at its addresses "
                    "(default: %s; each is its own firmware build: make HEAPTRACK_CHIP=CHIP)" % paths.DEFAULT_CHIP)
    ap.add_argument("--psram", action="store_true",
                    help="with --chip esp32s3 (or none): an ESP32-S3 with 8 MiB of octal PSRAM, as "
                    "MicroPython's ESP32_GENERIC_S3 SPIRAM_OCT variant (make HEAPTRACK_PSRAM=1)")
    ap.add_argument("--flash", default=None, metavar="DIR",
                    help="directory holding the board's filesystem; one virtual board at a time may have it "
                    "(default: %s, or %s-2, -3, ... while other virtual boards have those)"
                    % (paths.default_flash(), paths.default_flash().name))
    ap.add_argument("--log", default=None, help="event log file (default: <flash>.log)")
    ap.add_argument("--env", action="append", metavar="NAME=VALUE", default=[],
                    help="environment variable for the firmware (repeatable)")
    ap.add_argument("--run", metavar="SCRIPT",
                    help="run SCRIPT on the board with `mpremote run`, then stop (exit status: mpremote's)")
    ap.add_argument("-v", "--verbose", action="store_true", help="log every byte exchanged")
    args = ap.parse_args(argv)
    try:
        env = _parse_env(args.env)
    except argparse.ArgumentTypeError as e:
        ap.error(str(e))
    try:
        chip = paths.chip_name(args.chip, args.psram)
    except ValueError as e:
        ap.error(str(e))

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    # SIGHUP too: closing the terminal must not leave the firmware running.
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    try:
        vb = VirtualBoard(firmware=args.firmware, flash=args.flash, env=env, log=args.log,
                          verbose=args.verbose, chip=chip).start()
    except VirtualBoardError as e:
        # No board, so the job could not be done: 2, as every mpheaptrack command says it.
        print("vboard: %s" % e, file=sys.stderr)
        return 2
    try:
        print(vb.device, flush=True)
        if args.run:
            print("vboard: running %s on %s" % (args.run, vb.device), file=sys.stderr, flush=True)
            proc = subprocess.Popen([sys.executable, "-m", "mpremote", "connect", vb.device, "run", args.run])
            while proc.poll() is None:
                if stop.wait(0.1):
                    proc.terminate()
            rc = proc.wait()
        else:
            print("vboard: serving %s (firmware %s, flash %s, log %s); Ctrl-C to stop"
                  % (vb.device, vb.firmware, vb.flash, vb.log_path), file=sys.stderr)
            print("vboard: also at %s while it runs; for other shells: export HEAPTRACK_PORT=%s"
                  % (vb.tty_path, vb.device), file=sys.stderr, flush=True)
            while not stop.wait(0.5):
                if vb._thread is None or not vb._thread.is_alive():
                    print("vboard: stopped unexpectedly (log: %s)" % vb.log_path, file=sys.stderr)
                    return 2
            rc = 0
    finally:
        vb.stop()
    if vb.crashes:
        print("vboard: %d firmware crash(es), see %s" % (vb.crashes, vb.log_path), file=sys.stderr)
        rc = rc or 3
    return rc


