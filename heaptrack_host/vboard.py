"""The virtual board: the host firmware behind a pseudo-terminal.

    python -m heaptrack_host.vboard [--firmware PATH] [--flash DIR] [--env NAME=VALUE]...

prints the device path (``/dev/pts/N``) as its first line and serves until
SIGINT/SIGTERM, so that unmodified tools talk to the firmware as they talk to a
USB board::

    mpremote connect /dev/pts/N exec "print(1 + 1)"

How it works
------------
The firmware is MicroPython's unix port (our ``boards/HOST`` variant). It is run
as a child process with ``-i`` (REPL even though stdin is no tty) on pipes that
this program owns; the client's pseudo-terminal is never handed to it. The unix
port's REPL is the same ``pyexec`` code a board runs (friendly REPL, raw REPL,
raw-paste mode), so only what differs from a board is done here:

* Output: the unix firmware writes bare ``\\n`` and relies on a terminal to add
  ``\\r``; a board's REPL sends ``\\r\\n``. Lone ``\\n`` becomes ``\\r\\n``, except
  inside the binary records of mpremote's ``mount`` protocol (``0x18`` + command
  byte + fixed fields), which pass through untouched.
* Input: the unix REPL turns each received ``\\n`` into ``\\r``, so code with
  CRLF line ends would reach its lexer with two line breaks per line. While a
  raw-REPL client sends code, ``\\r\\n`` is passed on as ``\\r`` (in raw-paste
  mode the board then answers the client's flow-control windows itself).
  Program input (sys.stdin, the mount protocol) is passed on unchanged.
* Ctrl-C: a board turns an incoming 0x03 into KeyboardInterrupt while the
  interrupt character is armed (code running), and queues it as a plain byte
  otherwise (REPL line editing, ``micropython.kbd_intr(-1)``). The unix firmware
  arms it by installing a SIGINT handler (and ignores SIGINT otherwise), so for
  each 0x03 from the client the board checks the firmware's caught-signal mask
  (``/proc/PID/status``) and either sends SIGINT (dropping the byte) or passes
  the byte on. The firmware arms it for the user's code only: not while it runs
  the board's own setup (mounting the flash, the code given with ``-c``, which
  it treats as a board treats its ``_boot.py``), so a client that connects,
  Ctrl-C first, while the board restarts does not stop that setup half way;
  ``boot.py`` and ``main.py`` are interruptible.
* Soft reset: on Ctrl-D at the friendly prompt, on an empty raw-REPL command, or
  on ``sys.exit()`` / ``machine.soft_reset()`` the firmware restarts MicroPython
  inside its process, as an ESP32 does (boards/HOST/board_reset.c): it prints
  ``MPY: soft reboot``, runs the setup code and ``boot.py`` again (and
  ``main.py`` in the friendly REPL) and returns to the REPL mode the client was
  in. Its process, and with it ESP-IDF's heap and its statistics, lives on;
  the threads of the old boot end. The board counts soft resets by that line.
* Hard reset: ``machine.reset()`` (``mpremote reset``) ends the firmware process
  with status HARD_RESET_STATUS; the board starts a new one, in its power-on
  state (a new process: a fresh heap, no statistics), and counts it. A client
  whose raw-REPL command was running gets its missing end markers, with a
  notice as its error output. Stopping and starting the virtual board is a
  hard reset too.
* Boot: each boot mounts the flash directory as the root filesystem (``/``),
  makes it the current directory and sets ``sys.path`` to
  ``['', '.frozen', '/lib']``; the firmware then runs ``boot.py`` and
  (friendly REPL only) ``main.py`` from it, as the esp32 port does.
* Crash: a firmware killed by a signal, or whose output has a fatal report
  (``FATAL: uncaught NLR``, or any AddressSanitizer/LeakSanitizer/UBSan report
  from a ``make SANITIZE=1`` firmware, which dies of it with status 1 instead
  of a signal), or that exits in any other way than a hard reset, is announced
  on the terminal, in the log (with the whole report) and on stderr, counted
  (``VirtualBoard.crashes`` and the status file) and restarted (a new process,
  as after a hard reset). If a raw-REPL command was running, its missing end
  markers are sent, with the crash message as its error output, so the client
  fails instead of waiting forever. The sanitizers' runtime options are set
  for the firmware (SANITIZER_OPTIONS): UBSan halts on its first report, and
  findings in upstream MicroPython are suppressed only as listed, with reasons,
  in ``native/tests/*-upstream.supp``.

Python API (for tests)::

    with VirtualBoard(firmware=..., flash=..., env={"HEAPTRACK_IDF_REGIONS": "SPIRAM:0x3c000000:1048576"}) as vb:
        vb.device        # /dev/pts/N
        vb.crashes       # number of firmware crashes so far
        vb.soft_resets   # soft resets (the firmware process lives on)
        vb.hard_resets   # hard resets (machine.reset(): a new firmware process)
        vb.firmware_pid  # the firmware process
        vb.log_path      # event log
"""

import argparse
import datetime
import errno
import json
import os
import re
import select
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tty
from pathlib import Path

__all__ = ["VirtualBoard", "VirtualBoardError", "main"]

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FIRMWARE = REPO / "build" / "host" / "micropython"
DEFAULT_FLASH = REPO / "build" / "vboard-flash"

RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
FRIENDLY_PROMPT = b">>> "
# The firmware's soft reboot line, as it writes it (boards/HOST/board_reset.c): at
# the start of a line, or straight after the 0x04 that ends a raw-REPL command's
# output (sys.exit() in a raw-REPL command).
SOFT_REBOOT_LINE = b"MPY: soft reboot\n"
_SOFT_REBOOT = re.compile(rb"(?<=[\x00-\x1f])MPY: soft reboot\n")
# The firmware's exit status for machine.reset(), a hard reset (boards/HOST/board_reset.c,
# HARD_RESET_STATUS): the board starts a new firmware process.
HARD_RESET_STATUS = 100

# Reports in the firmware's output (stderr shares the pipe) that make a run a
# crash whatever its exit status: a sanitizer finding (a firmware built with
# `make SANITIZE=1`), or MicroPython's fatal error. Matched on whole lines as
# they stream past, since a report with its stack traces and shadow-memory
# dump can be many kilobytes long.
_FATAL_LINE = re.compile(
    # at the start of a line, or straight after a raw-REPL "OK", 0x04 or ">"
    rb"(?:^|(?<=[\x00-\x1f>])|(?<=OK))"
    rb"(?:==\d+==ERROR: (?P<san>\w+Sanitizer): (?P<what>[^\r\n]*)"  # ASan, LSan, ...
    # UBSan: "path/file.c:LINE:COL: runtime error: ..."
    rb"|(?P<loc>[^\x00-\x1f\"'<>]*?\.(?:c|h|cc|cpp|inc):\d+(?::\d+)?|<unknown>): runtime error: (?P<ub>[^\r\n]*)"
    rb"|(?P<nlr>FATAL: uncaught NLR[^\r\n]*))",
    re.M)
# ASan catches deadly signals itself and exits with status 1: "SEGV on unknown address ..."
_ASAN_SIGNALS = {b"SEGV": "SIGSEGV", b"BUS": "SIGBUS", b"FPE": "SIGFPE", b"ILL": "SIGILL",
                 b"ABRT": "SIGABRT", b"TRAP": "SIGTRAP"}
# How much of a report the log keeps.
REPORT_LOG_MAX = 32 * 1024

# Sanitizer runtime options for the firmware. They only matter for a firmware
# built with sanitizers; options from the environment come after them (so they
# win). UBSan is compiled recoverable (a report in suppressed upstream code must
# not stop the firmware), so halt_on_error=1 makes every other report fatal.
# The suppression files list upstream MicroPython code only, each entry with
# its reason; heaptrack's own code is never suppressed.
SANITIZER_SUPPRESSIONS = REPO / "native" / "tests"
SANITIZER_OPTIONS = {
    "UBSAN_OPTIONS": ("halt_on_error=1:print_stacktrace=1:report_error_type=1", "ubsan-upstream.supp"),
    # detect_stack_use_after_return=0: MicroPython's GC finds roots by scanning the
    # C stack, which ASan's fake stack frames would hide from it (upstream's CI
    # builds with --param asan-use-after-return=0 for the same reason).
    "ASAN_OPTIONS": ("detect_leaks=1:detect_stack_use_after_return=0:abort_on_error=0", None),
    # Upstream leaks nothing at exit now; should it, lsan-upstream.supp is where it goes.
    "LSAN_OPTIONS": ("print_suppressions=0", "lsan-upstream.supp"),
}

# Stop reading firmware output while this much is waiting for the client
# (flow control, as a USB CDC device gets from its host).
OUT_HIGH_WATER = 256 * 1024

# mpremote's mount protocol: after 0x18 and a command byte the device writes
# these fields (1 = s8, 4 = s32, "s" = s32 length + bytes), then reads the
# reply. See mpremote/transport_serial.py (RemoteCommand, PyboardCommand).
MOUNT_COMMANDS = {
    1: ("s",),  # stat(path)
    2: ("s",),  # ilistdir_start(path)
    3: (),  # ilistdir_next
    4: ("s", "s"),  # open(path, mode)
    5: (1,),  # close(fd)
    6: (1, 4),  # read(fd, n)
    7: (1,),  # readline(fd)
    8: (1, "s"),  # write(fd, data)
    9: (1, 4, 1),  # seek(fd, n, whence)
    10: ("s",),  # remove(path)
    11: ("s", "s"),  # rename(old, new)
    12: ("s",),  # mkdir(path)
    13: ("s",),  # rmdir(path)
}

# Code run by each boot (the firmware's command-line code, run again at every
# soft reset), before the firmware runs boot.py and main.py and its REPL: what
# a board's _boot.py does. {root!r} is filled in. The firmware arms no Ctrl-C
# while it runs (boards/HOST/board_reset.c), so it cannot be interrupted half
# way. Flash is the flash directory as a board's root filesystem: a VfsPosix
# rooted there, whose ilistdir also gives sizes as FAT/littlefs do (mpremote fs
# ls shows them). It delegates rather than subclasses VfsPosix: the VFS layer
# would call a native subclass's C protocol with the Python instance.
BOOT_CODE = """\
def _vboard_boot(root):
    import os, sys, vfs

    class Flash:
        def __init__(self, root):
            self.p = vfs.VfsPosix(root)
        def mount(self, readonly, mkfs):
            self.p.mount(readonly, mkfs)
        def umount(self):
            self.p.umount()
        def ilistdir(self, path):
            for e in self.p.ilistdir(path):
                size = 0
                if e[1] == 0x8000:
                    try:
                        size = self.p.stat(path.rstrip('/') + '/' + e[0] if path else e[0])[6]
                    except Exception:
                        pass
                yield (e[0], e[1], e[2], size)
        def open(self, path, mode):
            return self.p.open(path, mode)
        def chdir(self, path):
            self.p.chdir(path)
        def getcwd(self):
            return self.p.getcwd()
        def mkdir(self, path):
            self.p.mkdir(path)
        def remove(self, path):
            self.p.remove(path)
        def rename(self, old, new):
            self.p.rename(old, new)
        def rmdir(self, path):
            self.p.rmdir(path)
        def stat(self, path):
            return self.p.stat(path)
        def statvfs(self, path):
            return self.p.statvfs(path)

    try:
        os.umount('/')
        os.mount(Flash(root), '/')
        os.chdir('/')
    except Exception as e:
        print('vboard: flash not mounted at /:', repr(e))
    while sys.argv:
        sys.argv.pop()
_vboard_boot({root!r})
del _vboard_boot
"""

_LONE_LF = re.compile(rb"(?<!\r)\n")


class VirtualBoardError(RuntimeError):
    pass


def _close_quietly(fd):
    """Closes fd if it is open (not None, not negative); returns -1 for the caller to store."""
    if fd is not None and fd >= 0:
        try:
            os.close(fd)
        except OSError:
            pass
    return -1


def _signal_name(num):
    try:
        return signal.Signals(num).name
    except ValueError:
        return "signal %d" % num


def _sigint_caught(pid):
    """True if process pid has a SIGINT handler installed (its Ctrl-C is armed)."""
    try:
        with open("/proc/%d/status" % pid, "rb") as f:
            for line in f:
                if line.startswith(b"SigCgt:"):
                    return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    except (OSError, ValueError, IndexError):
        pass
    return False


class _ReplProtocol:
    """What sits between the unix firmware's REPL and the client, in both directions.

    feed(firmware_output) -> bytes for the client: a board's line endings, and the
    REPL state followed on the way (mode "friendly"/"raw", raw-REPL command
    progress, raw-paste sessions).

    client_input(data) -> (bytes for the firmware, bytes for the client). The unix
    firmware's REPL input turns every \\n into \\r, so code with CRLF line ends
    (a CRLF file sent with `mpremote run`) would reach its lexer as \\r\\r: two
    line breaks, where a board's lexer sees one. While a raw-REPL client sends
    code, \\r\\n goes to the firmware as \\r. In raw-paste mode that would
    upset the firmware's flow-control count (it acks each window of bytes *it*
    read), so in a paste session the board answers the client's windows itself
    (its buffer, a pipe and a queue, cannot overflow) and drops the firmware's acks.
    Program input (the mount protocol, sys.stdin) is never changed.
    """

    # raw-REPL states
    (_IDLE, _PROMPT_WAIT, _AT_PROMPT, _GOT_O, _GOT_R, _PASTE_W, _PASTE_CREDIT, _PASTE_DATA,
     _EXEC) = range(9)

    def __init__(self, banner=None):
        self.banner = banner  # the firmware's banner line, ends with \r\n
        self.mode = "friendly"
        self._prev_cr = False
        self._tail = b""
        self._rstate = self._IDLE
        self._eofs_left = 0
        self._wbuf = b""
        # client side of a raw-paste session
        self._paste_in = False
        self._paste_window = 0
        self._paste_count = 0
        self._in_cr = False
        # mount protocol record being passed through
        self._pending_18 = False
        self._fields = []
        self._need = 0
        self._lenbuf = None

    def new_firmware(self):
        """A new firmware process starts: nothing is half-sent any more."""
        self._pending_18 = False
        self._fields = []
        self._need = 0
        self._lenbuf = None
        self._prev_cr = False
        self._paste_in = False
        self._in_cr = False

    def eofs_missing(self):
        """In raw mode while a command runs: how many of its 0x04 end markers are still due."""
        if self.mode != "raw":
            return 0
        if self._rstate in (self._PASTE_W, self._PASTE_CREDIT, self._PASTE_DATA):
            return 3
        if self._rstate == self._EXEC:
            return self._eofs_left
        return 0

    # -- client -> firmware ----------------------------------------------------

    def client_input(self, data):
        if self._paste_in:
            ends = [j for j in (data.find(b"\x04"), data.find(b"\x03")) if j >= 0]
            j = min(ends) if ends else len(data)
            self._paste_count += j
            acks = b"\x01" * (self._paste_count // self._paste_window)
            self._paste_count %= self._paste_window
            to_fw = self._crlf(data[:j])
            if ends:  # end of the code (or abort): what follows is the program's input
                self._paste_in = False
                to_fw += data[j:]
            return to_fw, acks
        if self.mode == "raw" and self._rstate in (self._PROMPT_WAIT, self._AT_PROMPT):
            return self._crlf(data), b""  # raw-REPL command being typed
        self._in_cr = False
        return data, b""

    def _crlf(self, data):
        if self._in_cr and data[:1] == b"\n":
            data = data[1:]
        if data:
            self._in_cr = data[-1:] == b"\r"
        return data.replace(b"\r\n", b"\r")

    # -- firmware -> client ----------------------------------------------------

    def feed(self, data):
        out = bytearray()
        i, n = 0, len(data)
        while i < n:
            if self._pending_18:
                self._pending_18 = False
                fields = MOUNT_COMMANDS.get(data[i])
                if fields is None:
                    self._text(b"\x18", out)  # not a record; the byte is reread as text
                    continue
                out += b"\x18" + data[i : i + 1]
                i += 1
                self._fields = list(fields)
                self._next_field()
            elif self._need:
                k = min(self._need, n - i)
                chunk = data[i : i + k]
                out += chunk
                i += k
                self._need -= k
                if self._lenbuf is not None:
                    self._lenbuf += chunk
                    if not self._need:
                        self._need = max(0, int.from_bytes(self._lenbuf, "little", signed=True))
                        self._lenbuf = None
                        if not self._need:
                            self._next_field()
                elif not self._need:
                    self._next_field()
            else:
                j = data.find(b"\x18", i)
                if j < 0:
                    self._text(data[i:], out)
                    break
                self._text(data[i:j], out)
                self._pending_18 = True
                i = j + 1
        return bytes(out)

    def _next_field(self):
        self._prev_cr = False
        self._lenbuf = None
        self._need = 0
        if self._fields:
            f = self._fields.pop(0)
            if f == "s":
                self._lenbuf = bytearray()
                self._need = 4
            else:
                self._need = f

    def _text(self, seg, out):
        seg = self._track(seg)
        if not seg:
            return
        last_cr = seg[-1:] == b"\r"
        if self._prev_cr and seg[:1] == b"\n":
            out += b"\n"
            seg = seg[1:]
        out += _LONE_LF.sub(b"\r\n", seg)
        self._prev_cr = last_cr

    def _track(self, seg):
        """Follows the REPL state through seg; returns seg without the firmware's paste acks."""
        buf = self._tail + seg
        best = None
        for marker, mode in ((RAW_BANNER, "raw"), (self.banner, "friendly")):
            if not marker:
                continue
            p = buf.rfind(marker)
            if p >= 0:
                end = p + len(marker)
                if end > len(self._tail) and (best is None or end > best[0]):
                    best = (end, mode)
        keep = max(len(RAW_BANNER), len(self.banner or b"")) - 1
        self._tail = buf[-keep:]
        if best is not None:
            end, self.mode = best
            self._rstate = self._PROMPT_WAIT if self.mode == "raw" else self._IDLE
            self._paste_in = False
            end -= len(buf) - len(seg)  # now an index into seg
            head, seg = seg[:end], seg[end:]
        else:
            head = b""
        if self.mode == "raw" and seg:
            seg = self._raw_track(seg)
        return head + seg

    def _raw_track(self, seg):
        kept = []
        i, n = 0, len(seg)
        start = 0
        while i < n:
            st = self._rstate
            if st == self._EXEC:
                j = seg.find(b"\x04", i)
                if j < 0:
                    break
                i = j + 1
                self._eofs_left -= 1
                if not self._eofs_left:
                    self._rstate = self._PROMPT_WAIT
            elif st == self._PROMPT_WAIT:
                j = seg.find(b">", i)
                if j < 0:
                    break
                i = j + 1
                self._rstate = self._AT_PROMPT
            elif st == self._PASTE_DATA:
                # only window acks (dropped: the board sends its own) and the end 0x04
                c = seg[i]
                if c == 0x01:
                    kept.append(seg[start:i])
                    start = i + 1
                elif c == 0x04:
                    self._rstate, self._eofs_left = self._EXEC, 2
                i += 1
            else:
                c = seg[i]
                i += 1
                if st == self._AT_PROMPT:
                    self._rstate = {0x4F: self._GOT_O, 0x52: self._GOT_R}.get(c, self._PROMPT_WAIT)
                elif st == self._GOT_O:
                    if c == 0x4B:  # "OK": a command was received
                        self._rstate, self._eofs_left = self._EXEC, 2
                    else:
                        self._rstate = self._PROMPT_WAIT
                elif st == self._GOT_R:
                    if c == 0x01:  # "R\x01": raw-paste accepted; the window size follows
                        self._rstate, self._wbuf = self._PASTE_W, b""
                    elif c == 0x00:  # raw-paste refused; the client falls back to "OK"
                        self._rstate = self._AT_PROMPT
                    else:
                        self._rstate = self._PROMPT_WAIT
                elif st == self._PASTE_W:
                    self._wbuf += bytes([c])
                    if len(self._wbuf) == 2:
                        self._rstate = self._PASTE_CREDIT
                elif st == self._PASTE_CREDIT:
                    # the firmware's first credit (passed on); from here the board does flow control
                    self._rstate = self._PASTE_DATA
                    self._paste_in = True
                    self._paste_window = max(1, int.from_bytes(self._wbuf, "little"))
                    self._paste_count = 0
                    self._in_cr = False
                else:
                    self._rstate = self._PROMPT_WAIT
        kept.append(seg[start:])
        return b"".join(kept)


class _Firmware:
    """One firmware process (from power-on to its end: its soft resets included) and its pipes."""

    def __init__(self, proc, fd_in, fd_out):
        self.proc = proc
        self.fd_in = fd_in  # write end of its stdin
        self.fd_out = fd_out  # read end of its stdout+stderr
        self.booting = True  # from power-on or a soft reset until its REPL is ready
        self.boot_started = time.monotonic()
        self.boot_buf = b""  # output of the boot so far (up to its REPL prompt)
        self.in_q = bytearray()
        self.recent = b""  # last output bytes, for the log
        self.soft_tail = b"\n"  # output before the next, for _SOFT_REBOOT
        self.line = b""  # output after the last \n, for _FATAL_LINE
        self.fatal = None  # what the first fatal report in its output says
        self.report = bytearray()  # that report, for the log
        self.counted = False  # its crash has been counted already

    @property
    def pid(self):
        return self.proc.pid


class VirtualBoard:
    """The host firmware behind a pseudo-terminal, driven from a background thread.

    firmware: the unix-port firmware binary (default build/host/micropython).
    flash:    directory that is the board's filesystem (default build/vboard-flash).
    env:      extra environment variables for the firmware (e.g. HEAPTRACK_IDF_REGIONS).
    log:      event log file (default: <flash>.log); the status file is next to it
              (<log without .log>.status.json) and holds the crash count as JSON, and
              so is the chip's console (<log without .log>.console.log): ESP-IDF's
              log output, which a board writes to its UART, not to the USB REPL.
    verbose:  also log every byte exchanged.
    """

    def __init__(self, firmware=None, flash=None, env=None, log=None, *, verbose=False,
                 boot_timeout=10.0, firmware_args=()):
        self.firmware = Path(firmware or DEFAULT_FIRMWARE).resolve()
        self.flash = Path(flash or DEFAULT_FLASH).resolve()
        self.env = dict(env or {})
        self.log_path = Path(log).resolve() if log else self.flash.with_name(self.flash.name + ".log")
        stem = self.log_path.name[:-4] if self.log_path.name.endswith(".log") else self.log_path.name
        self.status_path = self.log_path.with_name(stem + ".status.json")
        self.console_path = self.log_path.with_name(stem + ".console.log")
        self.verbose = verbose
        self.boot_timeout = boot_timeout
        self.firmware_args = list(firmware_args)
        self.device = None
        self.crashes = 0
        self.soft_resets = 0
        self.hard_resets = 0
        self.last_crash = None
        self._lock = threading.Lock()
        self._thread = None
        self._fw = None
        self._master = self._slave = None
        self._wake_r = self._wake_w = None
        self._home = None
        self._log_file = None
        self._stop = False
        self._ready = threading.Event()
        self._start_error = None
        self._out_q = bytearray()
        self._filter = _ReplProtocol()
        self._banner = None
        self._restart_at = None
        self._sel = None

    # -- public API ---------------------------------------------------------

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def firmware_pid(self):
        fw = self._fw
        return fw.pid if fw else None

    def start(self):
        if self._thread:
            raise VirtualBoardError("already started")
        if not os.access(self.firmware, os.X_OK):
            raise VirtualBoardError("firmware not found: %s (build it with `make`)" % self.firmware)
        self.flash.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = open(self.log_path, "w", buffering=1)
        self._home = tempfile.mkdtemp(prefix="vboard-home-")
        try:
            self._master, self._slave = os.openpty()
            tty.setraw(self._slave)  # like a USB CDC device: no echo, no CR/LF mapping, no signals
            os.set_blocking(self._master, False)
            self.device = os.ttyname(self._slave)
            self._wake_r, self._wake_w = os.pipe()
            os.set_blocking(self._wake_r, False)
            self._sel = selectors.DefaultSelector()
            self._sel.register(self._master, selectors.EVENT_READ, "client")
            self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
            self._log("start: device %s, firmware %s, flash %s, env %s"
                      % (self.device, self.firmware, self.flash, self.env))
            self._spawn()
        except BaseException:
            self._teardown()
            raise
        self._write_status()
        self._thread = threading.Thread(target=self._run, name="vboard " + self.device, daemon=True)
        self._thread.start()
        if not self._ready.wait(self.boot_timeout + 5):
            self._start_error = self._start_error or "no REPL prompt from the firmware"
        if self._start_error:
            err = self._start_error
            self.stop()
            raise VirtualBoardError("virtual board did not start: %s (log: %s)" % (err, self.log_path))
        return self

    def stop(self):
        if self._thread is None:
            self._teardown()
            return
        self._log("stopping")
        self._stop = True
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass
        self._thread.join(15)
        self._thread = None

    def status(self):
        return {
            "device": self.device,
            "pid": os.getpid(),
            "firmware": str(self.firmware),
            "firmware_pid": self.firmware_pid,
            "flash": str(self.flash),
            "log": str(self.log_path),
            "crashes": self.crashes,
            "last_crash": self.last_crash,
            "soft_resets": self.soft_resets,
            "hard_resets": self.hard_resets,
            "running": self._thread is not None and not self._stop,
        }

    # -- logging and status -------------------------------------------------

    def _log(self, msg):
        if self._log_file:
            stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
            try:
                self._log_file.write("%s %s\n" % (stamp, msg))
            except ValueError:
                pass

    def _write_status(self):
        try:
            tmp = self.status_path.with_name(self.status_path.name + ".tmp")
            tmp.write_text(json.dumps(self.status(), indent=1) + "\n")
            os.replace(tmp, self.status_path)
        except OSError as e:
            self._log("cannot write status file: %s" % e)

    # -- firmware process ---------------------------------------------------

    def _firmware_env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("MICROPY")}
        env["HOME"] = self._home  # readline history goes here, not to the user's home
        env["MICROPYPATH"] = ".frozen:/lib"  # with '' first: sys.path as on a board
        env["LIBC_FATAL_STDERR_"] = "1"
        env["HEAPTRACK_IDF_CONSOLE"] = str(self.console_path)
        env.update(self.env)
        for name, (options, supp) in SANITIZER_OPTIONS.items():
            if supp and (SANITIZER_SUPPRESSIONS / supp).is_file():
                options += ':suppressions="%s"' % (SANITIZER_SUPPRESSIONS / supp)
            if env.get(name):
                options += ":" + env[name]
            env[name] = options
        return env

    def _spawn(self):
        """Starts a firmware process: power-on, in the friendly REPL."""
        boot = BOOT_CODE.format(root=str(self.flash))
        cmd = [str(self.firmware)] + self.firmware_args + ["-i", "-c", boot]
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        try:
            proc = subprocess.Popen(cmd, stdin=in_r, stdout=out_w, stderr=out_w, cwd=str(self.flash),
                                    env=self._firmware_env(), start_new_session=True, close_fds=True)
        except OSError:
            for fd in (in_r, in_w, out_r, out_w):
                os.close(fd)
            raise
        # The board holds the only write end of its stdin: the firmware ends when
        # it is closed (its input ends), never at a soft reset.
        os.close(in_r)
        os.close(out_w)
        os.set_blocking(in_w, False)
        os.set_blocking(out_r, False)
        fw = _Firmware(proc, in_w, out_r)
        self._fw = fw
        self._filter.new_firmware()
        self._sel.register(out_r, selectors.EVENT_READ, "fw_out")
        self._update_interest()
        self._log("firmware started: pid %d" % proc.pid)
        self._write_status()

    def _respawn(self):
        """Starts a new firmware process; if it cannot be started (being rebuilt?), retries each second."""
        try:
            self._spawn()
        except OSError as e:
            msg = "cannot start the firmware (%s); retrying" % e
            self._log(msg)
            self._to_client(b"\r\n*** vboard: " + msg.encode() + b" ***\r\n")
            self._restart_at = time.monotonic() + 1.0

    def _close_fw(self, fw):
        """Forgets a dead firmware's pipes and its pending input (lost, as on a resetting board)."""
        for fd in (fw.fd_in, fw.fd_out):
            try:
                self._sel.unregister(fd)
            except (KeyError, ValueError):
                pass
        fw.fd_in = _close_quietly(fw.fd_in)
        fw.fd_out = _close_quietly(fw.fd_out)
        fw.in_q.clear()

    def _reap(self, fw, timeout=5.0):
        try:
            return fw.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._log("firmware pid %d closed its output but did not exit: killing it" % fw.pid)
            fw.proc.kill()
            return fw.proc.wait()

    def _on_firmware_exit(self):
        """The firmware process ended: a hard reset, or a crash (it never exits at a soft reset)."""
        fw = self._fw
        rc = self._reap(fw)
        self._scan_fatal(fw, b"\n")  # a last line without its \n
        if self._stop:
            self._log_report(fw)
            self._close_fw(fw)
            return
        if rc == HARD_RESET_STATUS:
            self._on_hard_reset(fw)
            return
        if rc < 0:
            crashed = _signal_name(-rc)
            if fw.fatal:
                crashed = "%s; %s" % (crashed, fw.fatal)
        elif fw.fatal:
            crashed = "%s; exit status %d" % (fw.fatal, rc)
        elif fw.booting:
            crashed = "exited during boot with status %d" % rc
        else:
            crashed = "exited with status %d" % rc
        self._on_crash(fw, rc, crashed)

    def _on_hard_reset(self, fw):
        with self._lock:
            self.hard_resets += 1
        self._log("hard reset #%d (firmware pid %d exited with status %d)"
                  % (self.hard_resets, fw.pid, HARD_RESET_STATUS))
        self._log_report(fw)  # a report it survived was counted as a crash already
        self._end_command(b"\r\n*** vboard: hard reset ***\r\n")
        self._close_fw(fw)
        self._fw = None
        self._write_status()
        if fw.booting:
            # reset while booting (boot.py calls machine.reset()?): don't spin
            self._restart_at = time.monotonic() + 1.0
        else:
            self._respawn()

    def _end_command(self, notice):
        """Sends notice; a running raw-REPL command gets its missing end markers, notice as its error output."""
        missing = self._filter.eofs_missing()
        if missing:
            self._to_client(b"\x04" * (missing - 1) + notice + b"\x04")
        else:
            self._to_client(notice)

    def _count_crash(self, fw, what):
        with self._lock:
            self.crashes += 1
            self.last_crash = what
        fw.counted = True
        msg = "firmware crashed (%s)" % what
        self._log("CRASH #%d: %s; pid %d; last output: %r" % (self.crashes, msg, fw.pid, fw.recent[-300:]))
        sys.stderr.write("vboard: %s: %s\n" % (self.device, msg))
        sys.stderr.flush()
        self._write_status()

    def _scan_fatal(self, fw, data):
        """Follows the firmware's output for fatal reports (see _FATAL_LINE).

        The first one is kept in fw.fatal and counted as a crash at once: a report
        the firmware survives (a recoverable sanitizer finding) is a failure too.
        """
        if fw.fatal is not None:
            if len(fw.report) < REPORT_LOG_MAX:
                fw.report += data[: REPORT_LOG_MAX - len(fw.report)]
            return
        text = fw.line + data
        end = text.rfind(b"\n") + 1
        fw.line = text[end:][-4096:]
        m = _FATAL_LINE.search(text, 0, end)
        if m is None:
            return
        if m.group("san"):
            what = m.group("what").decode(errors="replace")
            sig = _ASAN_SIGNALS.get(what.split(" ", 1)[0].encode())
            if sig and " on unknown address" in what:
                fw.fatal = "%s, caught by %s" % (sig, m.group("san").decode())
            else:
                fw.fatal = "%s: %s" % (m.group("san").decode(), what.split(" on address ", 1)[0])
        elif m.group("ub") is not None:
            loc = m.group("loc")
            if loc[:2] == b"OK" and loc[2:3] in (b".", b"/", b"<"):
                loc = loc[2:]  # straight after a raw-REPL "OK"
            fw.fatal = "UndefinedBehaviorSanitizer: %s: %s" % (
                loc.decode(errors="replace"), m.group("ub").decode(errors="replace"))
        else:
            fw.fatal = m.group("nlr").decode(errors="replace")
        fw.report += text[m.start() :][:REPORT_LOG_MAX]
        self._count_crash(fw, fw.fatal)

    def _log_report(self, fw):
        if fw.report:
            self._log("firmware pid %d report:\n%s" % (fw.pid, bytes(fw.report).decode(errors="replace").rstrip()))
            fw.report = bytearray()

    def _on_crash(self, fw, rc, what):
        msg = "firmware crashed (%s)" % what
        if fw.counted:
            with self._lock:
                self.last_crash = what
            self._log("firmware pid %d ended (status %d): %s" % (fw.pid, rc, msg))
        else:
            self._count_crash(fw, what)
        self._log_report(fw)
        self._close_fw(fw)
        self._fw = None
        if fw.booting and self._banner is None:
            # never came up: no restart loop at first start
            self._start_error = "%s; output: %r" % (msg, fw.recent[-500:])
            self._write_status()
            self._ready.set()
            return
        self._end_command(b"\r\n*** vboard: " + msg.encode() + b" ***\r\n")
        self._write_status()
        if fw.booting:
            # crashing while booting: don't spin
            self._restart_at = time.monotonic() + 1.0
        else:
            self._respawn()

    # -- data paths ---------------------------------------------------------

    def _to_client(self, data):
        if data:
            self._out_q += data
            if self.verbose:
                self._log("to client %r" % bytes(data))

    def _from_client(self, data):
        if self.verbose:
            self._log("from client %r" % data)
        fw = self._fw
        if fw is None:
            return  # between a crash and the restart: lost, as on a resetting board
        data, reply = self._filter.client_input(data)
        self._to_client(reply)
        while data:
            j = data.find(b"\x03")
            if j < 0:
                fw.in_q += data
                break
            fw.in_q += data[:j]
            data = data[j + 1 :]
            if _sigint_caught(fw.pid):
                # Ctrl-C armed: KeyboardInterrupt, and the byte is consumed. (The
                # firmware arms it for the user's code only, not for the board's
                # setup: see boards/HOST/board_reset.c.)
                try:
                    os.kill(fw.pid, signal.SIGINT)
                except ProcessLookupError:
                    pass
            else:
                fw.in_q += b"\x03"

    def _from_firmware(self, data):
        fw = self._fw
        fw.recent = (fw.recent + data)[-1024:]
        self._scan_fatal(fw, data)
        if self.verbose:
            self._log("from firmware %r" % data)
        self._to_client(self._filter.feed(data))
        boot = self._scan_soft_reboot(fw, data)
        if boot is not None:
            fw.booting = True
            fw.boot_started = time.monotonic()
            fw.boot_buf = b""
            data = data[boot:]
        elif not fw.booting:
            return
        # booting: until its REPL is ready
        fw.boot_buf = (fw.boot_buf + data)[-8192:]
        if FRIENDLY_PROMPT in fw.boot_buf or RAW_BANNER in fw.boot_buf:
            if self._banner is None and FRIENDLY_PROMPT in fw.boot_buf:
                self._banner = self._find_banner(fw.boot_buf)
                self._filter.banner = self._banner
            fw.boot_buf = b""
            self._booted(fw)

    def _scan_soft_reboot(self, fw, data):
        """Counts the soft reboot lines that end in data; returns where the last one ends, or None."""
        buf = fw.soft_tail + data
        tail = len(fw.soft_tail)
        end = None
        for m in _SOFT_REBOOT.finditer(buf):
            if m.end() > tail:  # (not counted with the last data)
                end = m.end() - tail
                with self._lock:
                    self.soft_resets += 1
                self._log("soft reset #%d (firmware pid %d)" % (self.soft_resets, fw.pid))
        fw.soft_tail = buf[-len(SOFT_REBOOT_LINE):]
        if end is not None:
            self._write_status()
        return end

    @staticmethod
    def _find_banner(out):
        """The banner line the friendly REPL prints before its prompt (with its \\r\\n).

        Found by lines, each ended by \\n: other output before it (boot.py, or a
        diagnostic on stderr, which ends its lines with a bare \\n) is not part of it.
        """
        head = out[: out.rfind(FRIENDLY_PROMPT)]
        lines = [ln for ln in head.split(b"\n") if ln.strip()]
        if lines and lines[-1].startswith(b"Type "):
            lines.pop()
        if not lines or not lines[-1].endswith(b"\r"):
            return None
        return lines[-1] + b"\n"

    def _booted(self, fw):
        fw.booting = False
        self._log("firmware pid %d ready (%s REPL, %.0f ms)"
                  % (fw.pid, self._filter.mode, (time.monotonic() - fw.boot_started) * 1000))
        self._ready.set()

    def _update_interest(self):
        fw = self._fw
        want_out = bool(self._out_q)
        self._sel.modify(self._master, selectors.EVENT_READ | (selectors.EVENT_WRITE if want_out else 0),
                         "client")
        if fw is None:
            return
        keys = self._sel.get_map()
        if fw.in_q:
            if fw.fd_in not in keys:
                self._sel.register(fw.fd_in, selectors.EVENT_WRITE, "fw_in")
        elif fw.fd_in in keys:
            self._sel.unregister(fw.fd_in)
        if len(self._out_q) < OUT_HIGH_WATER:
            if fw.fd_out not in keys:
                self._sel.register(fw.fd_out, selectors.EVENT_READ, "fw_out")
        elif fw.fd_out in keys:
            self._sel.unregister(fw.fd_out)

    def _run(self):
        boot_deadline = time.monotonic() + self.boot_timeout
        try:
            while not self._stop:
                timeout = None
                now = time.monotonic()
                if self._restart_at is not None:
                    timeout = max(0.0, self._restart_at - now)
                if not self._ready.is_set():
                    if now > boot_deadline and self._fw and (self.flash / "main.py").exists():
                        self._log("no REPL prompt within %.0f s: main.py still running" % self.boot_timeout)
                        self._fw.booting = False
                        self._ready.set()
                    elif now > boot_deadline:
                        fw = self._fw
                        out = fw.recent[-500:] if fw else b""
                        self._start_error = "no REPL prompt within %.0f s; output: %r" % (self.boot_timeout, out)
                        self._ready.set()
                        break
                    timeout = 0.1 if timeout is None else min(timeout, 0.1)
                for key, events in self._sel.select(timeout):
                    self._handle(key.data, events)
                    if self._stop:
                        break
                if self._restart_at is not None and time.monotonic() >= self._restart_at:
                    self._restart_at = None
                    self._respawn()
                if self._stop:
                    break
                self._update_interest()
        except Exception as e:  # keep the reason; the board is dead anyway
            self._log("vboard I/O thread failed: %r" % e)
            sys.stderr.write("vboard: internal error: %r\n" % e)
            self._start_error = self._start_error or repr(e)
            self._ready.set()
        finally:
            self._stop = True
            self._teardown()

    def _handle(self, what, events):
        fw = self._fw
        if what == "wake":
            try:
                os.read(self._wake_r, 64)
            except OSError:
                pass
        elif what == "client":
            if events & selectors.EVENT_READ:
                try:
                    data = os.read(self._master, 65536)
                except (BlockingIOError, InterruptedError):
                    data = None
                except OSError as e:
                    if e.errno != errno.EIO:
                        raise
                    data = None
                if data:
                    self._from_client(data)
            if events & selectors.EVENT_WRITE and self._out_q:
                try:
                    n = os.write(self._master, self._out_q[:65536])
                    del self._out_q[:n]
                except (BlockingIOError, InterruptedError):
                    pass
        elif what == "fw_in" and fw is not None:
            try:
                n = os.write(fw.fd_in, fw.in_q[:65536])
                del fw.in_q[:n]
            except (BlockingIOError, InterruptedError):
                pass
            except BrokenPipeError:
                pass  # it is exiting; its output EOF handles the rest
        elif what == "fw_out" and fw is not None:
            try:
                data = os.read(fw.fd_out, 65536)
            except (BlockingIOError, InterruptedError):
                return
            if data:
                self._from_firmware(data)
            else:
                self._on_firmware_exit()

    def _teardown(self):
        fw, self._fw = self._fw, None
        if fw is not None:
            self._stop_firmware(fw)
        # last output to the client, if it is reading
        if self._out_q and self._master is not None:
            try:
                os.write(self._master, self._out_q)
            except OSError:
                pass
        self._out_q.clear()
        if self._sel is not None:
            self._sel.close()
            self._sel = None
        for name in ("_master", "_slave", "_wake_r", "_wake_w"):
            _close_quietly(getattr(self, name))
            setattr(self, name, None)
        if self._home:
            shutil.rmtree(self._home, ignore_errors=True)
            self._home = None
        if self._log_file:
            self._log("stopped; %d crash(es), %d soft reset(s), %d hard reset(s)"
                      % (self.crashes, self.soft_resets, self.hard_resets))
            self._write_status()
            self._log_file.close()
            self._log_file = None

    def _stop_firmware(self, fw):
        """Ends the firmware: EOF on its stdin (it exits when its input ends), then SIGTERM, then SIGKILL.

        Its last output is read (not sent on) until it closes it: a report it
        writes on its way out (LeakSanitizer's, at exit) is a crash too. It gets
        3 s: as at a soft reset, it first stops its other threads (up to 2 s).
        """
        fw.fd_in = _close_quietly(fw.fd_in)
        deadline = time.monotonic() + 3.0
        poll = select.poll()
        if fw.fd_out >= 0:
            poll.register(fw.fd_out, select.POLLIN)
        while fw.fd_out >= 0 and time.monotonic() < deadline:
            try:
                ready = poll.poll(max(0, int((deadline - time.monotonic()) * 1000)))
                data = os.read(fw.fd_out, 65536) if ready else None
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if data is None:
                break
            if not data:
                self._scan_fatal(fw, b"\n")
                break
            fw.recent = (fw.recent + data)[-1024:]
            self._scan_fatal(fw, data)
        fw.fd_out = _close_quietly(fw.fd_out)
        try:
            fw.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for sig, wait in ((signal.SIGTERM, 2.0), (signal.SIGKILL, None)):
                try:
                    os.killpg(fw.pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass
                try:
                    fw.proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self._log("firmware pid %d stopped (status %s)" % (fw.pid, fw.proc.returncode))
        self._log_report(fw)


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
        "Prints the device path, then serves until SIGINT/SIGTERM.")
    ap.add_argument("--firmware", default=str(DEFAULT_FIRMWARE),
                    help="host firmware binary (default: %(default)s)")
    ap.add_argument("--flash", default=str(DEFAULT_FLASH),
                    help="directory holding the board's filesystem (default: %(default)s)")
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

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    # SIGHUP too: closing the terminal must not leave the firmware running.
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    try:
        vb = VirtualBoard(firmware=args.firmware, flash=args.flash, env=env, log=args.log,
                          verbose=args.verbose).start()
    except VirtualBoardError as e:
        print("vboard: %s" % e, file=sys.stderr)
        return 1
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
                  % (vb.device, vb.firmware, vb.flash, vb.log_path), file=sys.stderr, flush=True)
            while not stop.wait(0.5):
                if vb._thread is None or not vb._thread.is_alive():
                    print("vboard: stopped unexpectedly (log: %s)" % vb.log_path, file=sys.stderr)
                    return 1
            rc = 0
    finally:
        vb.stop()
    if vb.crashes:
        print("vboard: %d firmware crash(es), see %s" % (vb.crashes, vb.log_path), file=sys.stderr)
        rc = rc or 3
    return rc


if __name__ == "__main__":
    sys.exit(main())
