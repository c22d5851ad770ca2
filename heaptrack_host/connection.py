"""The connection to a heaptrack board, through mpremote's serial transport.

The transport layer of the host tools (mpremote's transport_serial is the model):
``cli`` (commands and main) and the pytest plugin talk to a board through it;
what it reads is recording.Sample.

    with open_board(port) as board:          # or open_board(vboard=True)
        sample = board.sample()              # recording.Sample: t, tasks, regions, gc
        dump = board.dump()                  # dump.Dump (every block)
        text = board.metrics()               # heaptrack.metrics(): Prometheus's text format
        board.run_sampled(source, interval, on_sample, on_output)

Ports are given as mpremote takes them: a device path, ``auto`` (the first USB
serial port), ``a0``-``a99`` (/dev/ttyACM0...), ``u0`` (/dev/ttyUSB0...), ``c0``
(COM0...), ``id:SERIAL``, ``port:PATH``, and ``vboard``: the virtual board
started last with its default flash (``mpheaptrack vboard``), through its link.

How samples are taken
---------------------
The connection holds the board in the raw REPL for its whole life (one
``SerialTransport``, not an mpremote process per sample). A sample is what the
firmware's ``heaptrack.dump_sample()`` writes: one line of keyed JSON, the
firmware's format, read with records.py's field table.

* Without a script (``sample()``): each sample is one raw-REPL exchange calling
  ``heaptrack.dump_sample()``. Nothing runs on the board between samples.
* While a script runs (``run_sampled``): the raw REPL is busy running the
  script, so one command does both: it starts a sampler task on the board
  (``heaptrack.start_task("ht_sampler", ...)``) that calls
  ``heaptrack.dump_sample(t0, marker)`` every interval, then runs the script in
  the REPL's own task, in a fresh namespace with ``__name__ == "__main__"`` (as
  ``mpremote run`` does: its allocations are charged to ``mp_task`` and it can be
  interrupted with Ctrl-C). When the script ends or is interrupted, the command
  stops the sampler, waits for it and writes a last sample. The host reads the
  command's output as it arrives: lines that hold the sample marker are samples,
  everything else is the script's output. Each sample is a single write of one
  line, so the script's own output can only come between samples; a sample that
  still arrives garbled (a real board's USB driver may release the GIL while
  writing a long line) is counted in ``garbled`` and skipped, never fatal.

  Cost on a real ESP32: the sampler is a FreeRTOS task whose stack is charged
  by ESP-IDF to the task that created it (``mp_task``) until it ends.

Reading: in bulk, whatever the port holds (a pty or a USB CDC endpoint hands
over kilobytes per read), never a byte per Python call; what a read brings past
the end of the answer being read is kept for the next reader (``_pending``),
so every reader still stops at its own end, as when reads were a byte at a
time. A timeout counts silence (output that keeps coming keeps a command
alive), except while entering the raw REPL, whose deadline holds however much
a board task prints.

Stopping: the caller's stop condition (sample count, duration) or Ctrl-C on
the host sends Ctrl-C to the board, which interrupts the script; the command
then finishes normally. Host Ctrl-C never tears a raw-REPL exchange apart:
while a connection is sampling, SIGINT only sets a flag that the loops check
(a second Ctrl-C raises KeyboardInterrupt at once). ``close()`` deletes the
helper and leaves the raw REPL, so the board is back at its friendly prompt
with nothing of ours running. A board that disappears (unplugged, its virtual
board killed, reset under us) raises ``BoardLost``, once.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import select
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, Optional

from .recording import Sample

__all__ = ["BoardError", "BoardLost", "ScriptError", "Connection", "open_board", "find_port", "resolve_port"]

SAMPLE_MARKER = "\x1eheaptrack-sample:"
SETUP_MARKER = "\x1eheaptrack-setup:"
RAW_REPL_BANNER = b"raw REPL; CTRL-B to exit\r\n"
SAMPLER_TASK = "ht_sampler"
# Seconds a board has to answer for one sample (a board with a thousand tasks takes
# well under one): longer, and it stopped answering.
SAMPLE_TIMEOUT = 15

# Board side: _heaptrack_host_exec(src, name) runs a script as `mpremote run` would
# (fresh namespace, __name__ == "__main__"). Also checks that the heaptrack module
# is there (ImportError otherwise).
BOARD_HELPER = """\
import heaptrack as _heaptrack_host_check
del _heaptrack_host_check
def _heaptrack_host_exec(src, name):
    g = {"__name__": "__main__", "__file__": name}
    try:
        code = compile(src, name, "exec")
    except NameError:
        code = src
    exec(code, g)
"""

# Board side: runs a script while a sampler task writes samples. Filled in
# with repr()s of the script source, its name, the interval and the marker.
BOARD_RUN = """\
def _heaptrack_host_run(src, name, interval_ms, marker):
    import heaptrack, time
    state = [False, False, %(failures_after)r]  # stop requested, sampler finished, failures seen
    if state[2] is None:
        # Counted before the script starts, so that its failures are news in the samples.
        state[2] = heaptrack.failures(0).total
    t0 = time.ticks_ms()
    def sampler():
        try:
            while not state[0]:
                state[2] = heaptrack.dump_sample(t0, marker, state[2])
                deadline = time.ticks_add(time.ticks_ms(), interval_ms)
                while not state[0]:
                    left = time.ticks_diff(deadline, time.ticks_ms())
                    if left <= 0:
                        break
                    time.sleep_ms(min(left, 20))
        finally:
            state[1] = True
    heaptrack.start_task(%(task)r, sampler)
    try:
        _heaptrack_host_exec(src, name)
    finally:
        state[0] = True
        deadline = time.ticks_add(time.ticks_ms(), 5000)
        while not state[1] and time.ticks_diff(deadline, time.ticks_ms()) > 0:
            time.sleep_ms(5)
        heaptrack.dump_sample(t0, marker, state[2])
try:
    _heaptrack_host_run(%(src)r, %(name)r, %(interval_ms)d, %(marker)r)
finally:
    del _heaptrack_host_run
"""

# Board side: heaptrack.metrics()'s text in pieces of METRICS_PIECE characters,
# each written with one write after a marker and its offset (marker + "12:"),
# after a marker line with the text's length (marker + "4123\n"). A long write
# is not one: the port's write may give up the interpreter lock part way (a
# pseudo-terminal's buffer, a USB driver), and another task's printing come in;
# a short one is. Filled in with the call, the marker and the piece's size.
METRICS_MARKER = "\x1eheaptrack-metrics:"
METRICS_PIECE = 256
BOARD_METRICS = """\
def _heaptrack_host_metrics(text, write, marker, piece):
    write('%%s%%d\\n' %% (marker, len(text)))
    for at in range(0, len(text), piece):
        write('%%s%%d:%%s' %% (marker, at, text[at:at + piece]))
try:
    _heaptrack_host_metrics(__import__('heaptrack').%(call)s, __import__('sys').stdout.write, %(marker)r, %(piece)d)
finally:
    del _heaptrack_host_metrics
"""
_METRICS_FRAME = re.compile(re.escape(METRICS_MARKER) + r"(\d+)(\n|:)")

# Board side: runs a script once.
BOARD_RUN_ONCE = "_heaptrack_host_exec(%(src)r, %(name)r)\n"

# What the virtual board writes when its firmware ends under a running command
# (vboard/board.py: _end_command): the board was reset, not the script's error.
_VBOARD_RESET = re.compile(r"\*\*\* vboard: (firmware crashed \([^\n]*\)|hard reset) \*\*\*")


# What MicroPython's error output starts a line with: a traceback, or an
# exception printed without one. Anything else between the board's two ends of
# output is a task's printing that came in between.
_ERROR_OUTPUT = re.compile(r"^(Traceback \(most recent call last\):|[A-Za-z_][\w.]*"
                           r"(Error|Exception|Exit|Interrupt|Iteration)\b)", re.M)


class BoardError(Exception):
    """The board cannot be used (missing, busy, not MicroPython, no heaptrack module, stopped answering).

    str() is one line meant for the user."""


class BoardLost(BoardError):
    """The board went away during the job (unplugged, its virtual board killed, reset under us)."""


class ScriptError(Exception):
    """Code run on the board raised; ``traceback`` is the board's error output."""

    def __init__(self, traceback: str):
        self.traceback = traceback.replace("\r\n", "\n")
        lines = [line for line in self.traceback.strip().splitlines() if line.strip()]
        super().__init__(lines[-1] if lines else "error on the board")


# ---------------------------------------------------------------------------
# Finding and opening boards


def find_port() -> str:
    """The first USB serial port (what `mpremote connect auto` picks); BoardError if there is none."""
    import serial.tools.list_ports
    for p in sorted(serial.tools.list_ports.comports(), key=lambda p: p.device):
        if p.vid is not None:
            return p.device
    from . import vboard
    live = vboard.running_boards()
    if live:
        raise BoardError("no USB board found, but a virtual board runs (%s): pass --port vboard, or "
                         "--vboard for one of this command's own" % ", ".join(b.device for b in live))
    raise BoardError("no board found: connect one and pass --port DEV, or use --vboard for a virtual board")


_SHORTCUT = re.compile(r"^([auc])(\d{1,2})$")
_SHORTCUT_DEVICES = {"a": "/dev/ttyACM%s", "u": "/dev/ttyUSB%s", "c": "COM%s"}


def resolve_port(spec: Optional[str]) -> str:
    """A device path from a port as mpremote's users type it (see the module's docstring)."""
    if spec in (None, "", "auto"):
        return find_port()
    m = _SHORTCUT.match(spec)
    if m:
        return _SHORTCUT_DEVICES[m.group(1)] % m.group(2)
    if spec.startswith("port:"):
        return spec[5:]
    if spec.startswith("id:"):
        import serial.tools.list_ports
        for p in serial.tools.list_ports.comports():
            if p.serial_number == spec[3:]:
                return p.device
        raise BoardError("no USB serial device with serial number %s" % spec[3:])
    if spec == "vboard":
        from . import vboard
        live = vboard.running_boards()
        if not live:
            raise BoardError("no virtual board is running: start one with `mpheaptrack vboard`, or use --vboard")
        default = [b for b in live if b.default]
        if default or len(live) == 1:
            return (default or live)[0].device
        raise BoardError("%d virtual boards run (%s): pass --port with the device of the one you mean"
                         % (len(live), ", ".join("%s, flash %s" % (b.device, b.flash) for b in live)))
    return spec


@contextlib.contextmanager
def open_board(port: Optional[str] = None, *, vboard: bool = False, firmware: Optional[str] = None,
               connect_timeout: float = 10) -> Iterator["Connection"]:
    """A Connection to the board at port (auto-detected if None), or to a virtual board started
    for the occasion (vboard=True; firmware: host firmware path) and stopped afterwards."""
    if vboard:
        from .vboard import VirtualBoard, VirtualBoardError
        with tempfile.TemporaryDirectory(prefix="heaptrack-vboard-") as tmp:
            try:
                vb = VirtualBoard(firmware=firmware, flash=Path(tmp) / "flash").start()
            except VirtualBoardError as e:
                raise BoardError(str(e)) from None
            try:
                with Connection(vb.device, connect_timeout=connect_timeout) as conn:
                    conn.vboard = vb
                    yield conn
            finally:
                vb.stop()
        return
    with Connection(resolve_port(port), connect_timeout=connect_timeout) as conn:
        yield conn


class Connection:
    """A board with heaptrack firmware, in the raw REPL until close()."""

    def __init__(self, device: str, *, connect_timeout: float = 10):
        from mpremote.transport import TransportError
        from mpremote.transport_serial import SerialTransport
        self.device = device
        self.vboard = None
        self.machine = ""
        self.track_deleted = None
        self.interrupted = False
        self.garbled = 0
        self.script_interrupted = False
        self._busy = False  # a raw-REPL command may still be running
        self._t0 = None
        self._failures_seen: Optional[int] = None  # the failures' total the last sample said
        self._helper = False
        self.lost: Optional[str] = None  # why the board went away, once it did
        self._pending = b""  # read past the end of the last answer: the next reader's
        try:
            self.transport = SerialTransport(device, baudrate=115200)
            # A read timeout lets the transport's own timeouts work on
            # pseudo-terminals too (it reads them with blocking reads).
            self.transport.serial.timeout = 1
        except TransportError:
            raise BoardError("cannot open %s: no such device, or it is busy or not accessible" % device) from None
        try:
            self._enter(connect_timeout)
            self._setup()
        except BaseException:
            self._close_transport()
            raise

    def __repr__(self):
        return "<heaptrack Connection %s>" % self.device

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- raw REPL -----------------------------------------------------------

    def _enter(self, timeout: float, soft_reset: bool = False) -> None:
        """Interrupts what runs and enters the raw REPL, after a soft reset if asked.

        Not mpremote's enter_raw_repl: it waits for the raw REPL's banner and
        prompt as one string, which the board writes in two writes, and its
        timeout counts only silence. A board task printing between the two
        writes kept it waiting for ever. Each string waited for here is one write
        of the board's, and the deadline holds while output flows.
        """
        serial = self.transport.serial
        deadline = time.monotonic() + timeout
        try:
            serial.write(b"\r\x03")  # Ctrl-C: interrupt any running program
            self._pending = b""
            while time.monotonic() < deadline and self._read_some(0):
                pass
            serial.write(b"\r\x01")  # Ctrl-A: the raw REPL
            self._wait_for(RAW_REPL_BANNER, deadline)
            if soft_reset:
                # The prompt after the banner may still be on its way: the REPL reads this after it.
                serial.write(b"\x04")
                self._wait_for(b"soft reboot\r\n", deadline)
                self._wait_for(RAW_REPL_BANNER, deadline)
        except OSError as e:
            raise BoardError("no MicroPython REPL answers on %s (%s)" % (self.device, e)) from None
        self.transport.in_raw_repl = True

    def _wait_for(self, ending: bytes, deadline: float, silent: Optional[str] = None) -> None:
        """Reads up to and including ending, never past it: what follows is the next reader's.
        BoardLost when the virtual board says meanwhile that its firmware ended (a crash, a
        hard reset): the new one will not answer what was sent to the old."""
        tail = b""
        seen = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BoardError(silent or "no MicroPython REPL answers on %s (no %r)" % (self.device, ending.decode()))
            data = self._read_some(min(left, 1.0))
            if not data:
                continue
            window = tail + data
            at = window.find(ending)
            if at >= 0:
                # what came after ending is the next reader's
                cut = at + len(ending) - len(tail)
                self._pending = data[cut:] + self._pending
                data = data[:cut]
            seen = (seen + data)[-160:]
            if b"***" in seen:
                self._reset_under_us(seen)
            if at >= 0:
                return
            tail = window[-(len(ending) - 1):] if len(ending) > 1 else b""

    def _read_some(self, timeout: float) -> bytes:
        """What the port holds now, in one read, else what arrives within timeout seconds; b"" if
        nothing did. Raises OSError (SerialException) when the device went away."""
        if self._pending:
            data, self._pending = self._pending, b""
            return data
        serial = self.transport.serial
        fd = getattr(serial, "fd", None)
        if fd is None:
            # Not a POSIX port: pyserial's reads (the port's timeout bounds the first byte).
            data = serial.read(1)
            waiting = serial.in_waiting if data else 0
            return data + serial.read(waiting) if waiting else data
        ready, _, _ = select.select([fd], [], [], max(0.0, timeout))
        if not ready:
            return b""
        data = os.read(fd, 1 << 16)
        if not data:
            # pyserial's wording, which _lost() knows
            raise OSError(errno.EIO, "device reports readiness to read but returned no data "
                                     "(device disconnected or multiple access on port?)")
        return data

    def _read_through(self, end: bytes, timeout: float, consumer: Optional[Callable[[bytes], None]] = None,
                      idle: Optional[Callable[[], bool]] = None) -> bytes:
        """Reads up to and including the byte end, in bulk; what follows it stays for the next
        reader. Returns what came (ending with end unless timeout seconds passed in silence:
        then without it). consumer(chunk) gets each piece as it arrives (the last one without
        end); idle() is called on every 0.1 s of silence and stops the read when it returns
        True. Pieces are joined once, at the end: appending each to the last is quadratic."""
        chunks = []
        quiet_since = time.monotonic()
        while True:
            data = self._read_some(0.1 if idle is not None else min(0.1, max(0.0, timeout)))
            if data:
                at = data.find(end)
                if at >= 0:
                    self._pending = data[at + 1:] + self._pending
                    data = data[:at + 1]
                chunks.append(data)
                if consumer is not None:
                    consumer(data[:-1] if at >= 0 else data)
                if at >= 0:
                    return b"".join(chunks)
                quiet_since = time.monotonic()
                continue
            if idle is not None and idle():
                return b"".join(chunks)
            if time.monotonic() - quiet_since >= timeout:
                return b"".join(chunks)

    def _follow(self, timeout: float):
        """The raw REPL's answer to a command: its output and its error output, each ended by
        Ctrl-D (mpremote's follow(), reading in bulk). timeout: seconds of silence."""
        from mpremote.transport import TransportError
        out = self._read_through(b"\x04", timeout)
        if not out.endswith(b"\x04"):
            raise TransportError("timeout waiting for first EOF reception")
        err = self._read_through(b"\x04", timeout)
        if not err.endswith(b"\x04"):
            raise TransportError("timeout waiting for second EOF reception")
        return out[:-1], err[:-1]

    def _setup(self) -> None:
        try:
            # The answer in one write after a marker: a task's printing may come before it on its line.
            out = self.exec(BOARD_HELPER + "import sys as _s, heaptrack as _h\n"
                            "_h.task_stats, _h.heap_info, _h.dump, _h.dump_sample\n"
                            "_s.stdout.write(%r + repr((getattr(_s.implementation, '_machine', ''), "
                            "_h.TRACK_DELETED)) + '\\n')\n"
                            "del _s, _h" % SETUP_MARKER)
        except ScriptError as e:
            if "ImportError" in e.traceback and "heaptrack" in e.traceback:
                raise BoardError("the board on %s runs MicroPython without the heaptrack module: "
                                 "flash heaptrack firmware (make flash BOARD=... PORT=%s)"
                                 % (self.device, self.device)) from None
            if "AttributeError" in e.traceback:
                raise BoardError("the heaptrack firmware on %s is older than these host tools (%s): "
                                 "flash a current one" % (self.device, e)) from None
            raise BoardError("the board on %s failed to set up heaptrack sampling: %s" % (self.device, e)) from None
        import ast
        answer = out[out.rfind(SETUP_MARKER) + len(SETUP_MARKER):].split("\n", 1)[0]
        try:
            self.machine, self.track_deleted = ast.literal_eval(answer.strip())
        except (ValueError, SyntaxError):
            raise BoardError("the board on %s gave no answer to heaptrack's set-up (%r)" % (self.device, answer)) \
                from None
        self._helper = True

    def _lost(self, e) -> BoardError:
        """The error for a failed exchange: BoardLost if the device is gone."""
        why = str(e) or type(e).__name__
        gone = (not os.path.exists(self.device) or getattr(e, "errno", None) in (errno.EIO, errno.ENXIO, errno.ENODEV)
                or any(s in why for s in ("disconnected", "returned no data", "Input/output error", "Errno 5")))
        if gone:
            self.lost = "the board on %s went away (%s)" % (self.device, why)
            return BoardLost(self.lost)
        return BoardError("the board on %s stopped answering (%s)" % (self.device, why))

    def _reset_under_us(self, err: bytes) -> None:
        """The virtual board's notice that its firmware ended under a command: BoardLost."""
        m = _VBOARD_RESET.search(err.decode(errors="replace"))
        if m:
            self.lost = "the board on %s was reset (%s)" % (self.device, m.group(1))
            raise BoardLost(self.lost)

    def exec(self, code: str, timeout: float = 30) -> str:
        """Runs code in the raw REPL; its output (text, \\r\\n kept). ScriptError if it raised."""
        from mpremote.transport import TransportError
        try:
            self._busy = True
            self._send(code, timeout)
            out, err = self._follow(timeout)
            self._busy = False
        except (TransportError, OSError) as e:
            raise self._lost(e) from None
        if err:
            self._reset_under_us(err)
            if _ERROR_OUTPUT.search(err.decode(errors="replace")):
                raise ScriptError(err.decode(errors="replace"))
            out += err  # a task's lines between the board's two ends of output, no error
        return out.decode(errors="replace")

    def _send(self, code: str, timeout: float) -> None:
        """Types code into the raw REPL and returns once the board says it runs it.

        Not mpremote's exec_raw_no_follow: it waits for the prompt, then
        negotiates raw-paste mode with binary replies read a fixed count at a
        time, and a board task printing meanwhile left it waiting for ever. The
        raw REPL's plain mode takes what is typed at any time and answers only
        "OK", one write of the board's. As mpremote's plain mode, 256 bytes at
        a time, 10 ms apart, for a board's UART buffer.
        """
        serial = self.transport.serial
        data = code.encode()
        for i in range(0, len(data), 256):
            if i:
                time.sleep(0.01)
            serial.write(data[i:i + 256])
        serial.write(b"\x04")
        self._wait_for(b"OK", time.monotonic() + timeout,
                       "the board on %s stopped answering (no 'OK' within %g s)" % (self.device, timeout))

    def soft_reset(self) -> None:
        """Ctrl-D: a fresh interpreter. ESP-IDF's heap and its statistics live on, as on an
        ESP32: deleted tasks' records, peaks."""
        self._helper = False
        self._t0 = None
        self._enter(15, soft_reset=True)  # also interrupts a command still running
        self._busy = False
        self._setup()

    def hard_reset(self, timeout: float = 30) -> None:
        """machine.reset(), as `mpremote reset` does, and back in the raw REPL once the board
        answers again: from power-on, with no task records, peaks or deleted tasks from
        before. A USB board drops off the bus and comes back (at the same device, as a
        board at a fixed port does); the virtual board starts a new firmware process
        behind the same device."""
        from mpremote.transport_serial import SerialTransport
        self._helper = False
        self._t0 = None
        self._failures_seen = 0   # from power-on, every failure is news
        serial = self.transport.serial
        try:
            self._enter(5)   # whatever runs, interrupted
            serial.write(b"import machine\nmachine.reset()\x04")
            self._wait_for(b"OK", time.monotonic() + 5)   # it runs it: the board resets
        except OSError as e:
            raise self._lost(e) from None
        self._close_transport()
        deadline = time.monotonic() + timeout
        last = None
        while True:
            time.sleep(0.2)
            try:
                self.transport = SerialTransport(self.device, baudrate=115200)
                self.transport.serial.timeout = 1
                self._enter(min(3, max(0.5, deadline - time.monotonic())))
                break
            except Exception as e:   # not back yet: the device is away, or not answering
                last = e
                if getattr(self, "transport", None) is not None:
                    self._close_transport()
                if time.monotonic() >= deadline:
                    raise BoardError("the board on %s did not come back within %.0f s of its hard reset (%s)"
                                     % (self.device, timeout, last)) from None
        self._busy = False
        self._setup()

    # -- sampling ----------------------------------------------------------

    def sample(self) -> Sample:
        """One sample, taken now by the REPL's task."""
        try:
            out = self.exec("__import__('heaptrack').dump_sample(%r, %r, %r)"
                            % (self._t0, SAMPLE_MARKER, self._failures_seen), timeout=SAMPLE_TIMEOUT)
        except ScriptError as e:
            raise BoardError("sampling failed on %s: %s" % (self.device, e)) from None
        # the marked line: a task may print around it (split at newlines only:
        # str.splitlines() also splits at the marker's \x1e)
        marked = [line for line in out.split("\n") if SAMPLE_MARKER in line]
        line = marked[-1].split(SAMPLE_MARKER, 1)[1].strip() if marked else out.strip()
        try:
            s = Sample.from_board(line)
        except (ValueError, TypeError) as e:
            raise BoardError("unexpected sample from %s: %s" % (self.device, e)) from None
        if self._t0 is None:
            self._t0 = s.ticks_ms
        self._failures_seen = s.failures_total
        return s

    def metrics(self, max_deleted: Optional[int] = None, timeout: float = 10) -> str:
        """heaptrack.metrics()'s text, taken now by the REPL's task (Prometheus's exposition format).

        The board writes it in short pieces, each marked with its offset (BOARD_METRICS), so
        that a board task's printing between them is left out; text that still arrives
        garbled (a piece cut by other output) has not its length or is not the format, and
        raises BoardError."""
        call = "metrics()" if max_deleted is None else "metrics(max_deleted=%d)" % max_deleted
        try:
            out = self.exec(BOARD_METRICS % {"call": call, "marker": METRICS_MARKER, "piece": METRICS_PIECE},
                            timeout=timeout)
        except ScriptError as e:
            if "AttributeError" in e.traceback and "metrics" in e.traceback:
                raise BoardError("the heaptrack firmware on %s is older than these host tools (it has no "
                                 "heaptrack.metrics()): flash a current one" % self.device) from None
            raise BoardError("reading metrics failed on %s: %s" % (self.device, e)) from None
        text = _metrics_pieces(out.replace("\r\n", "\n"))
        if text is None:
            raise BoardError("metrics from %s came garbled (pieces missing or cut)" % self.device)
        from .exposition import ExpositionError, parse
        try:
            parse(text)
        except ExpositionError as e:
            raise BoardError("metrics from %s came garbled: %s" % (self.device, e)) from None
        return text

    def run_script(self, source: str, name: str = "script.py", timeout: float = 60) -> str:
        """Runs source as `mpremote run` would (fresh namespace, __name__ == "__main__") but without
        a soft reset, so statistics carry over between runs; returns its output. ScriptError if it raised."""
        return self.exec(BOARD_RUN_ONCE % {"src": source, "name": name}, timeout=timeout)

    def dump(self, task=None, blocks: bool = True):
        """heaptrack.dump() parsed (dump.Dump)."""
        from . import dump
        return dump.parse(self.exec("__import__('heaptrack').dump(%r, %r)" % (task, bool(blocks))))

    def run_sampled(self, source: str, interval: float, on_sample: Callable[[Sample], None],
                    on_output: Callable[[str], None] = lambda text: None, *, name: str = "script.py",
                    should_stop: Callable[[], bool] = lambda: False) -> Optional[str]:
        """Runs source on the board while a board-side task samples every interval seconds.

        on_sample(Sample) for each sample; on_output(text) with the script's output as it comes.
        Stops when the script ends, or when should_stop() or a host Ctrl-C (self.interrupted) asks,
        by sending Ctrl-C to the board. Returns the board's error output if the script raised
        (a KeyboardInterrupt we caused is not an error), else None. garbled: samples that were
        cut by other output.
        """
        from mpremote.transport import TransportError
        code = BOARD_RUN % {"src": source, "name": name, "interval_ms": max(1, int(interval * 1000)),
                            "marker": SAMPLE_MARKER, "task": SAMPLER_TASK, "failures_after": self._failures_seen}
        first = []

        def sampled(sample):
            if not first:
                first.append(sample)
            self._failures_seen = sample.failures_total
            on_sample(sample)

        splitter = _StreamSplitter(sampled, on_output)
        self.garbled = 0
        stop = _Stopper(self.transport.serial, should_stop=lambda: self.interrupted or should_stop())

        def check():
            stop.check()  # also while output keeps coming
            if stop.given_up():
                raise BoardError("the script on %s does not stop on Ctrl-C" % self.device)

        def feed(data):
            splitter.feed(data)
            check()

        def idle():
            splitter.idle()
            check()
            return False

        try:
            self._busy = True
            self._send(code, timeout=10)  # the script's own time is not limited
            self._read_through(b"\x04", float("inf"), consumer=feed, idle=idle)
            splitter.flush()
            err = self._read_through(b"\x04", 10)
            if not err.endswith(b"\x04"):
                raise BoardError("the board on %s stopped answering after the script" % self.device)
            self._busy = False
        except (TransportError, OSError) as e:
            raise self._lost(e) from None
        finally:
            self.garbled = splitter.garbled
            self.script_interrupted = stop.sent_at is not None
        if first and self._t0 is None:
            # Samples taken after the run continue its clock.
            t0 = first[0].ticks_ms - int(round(first[0].t * 1000))
            self._t0 = t0 if t0 >= 0 else first[0].ticks_ms
        self._reset_under_us(err)
        error = err[:-1].decode(errors="replace").replace("\r\n", "\n")
        if not error.strip():
            return None
        if not _ERROR_OUTPUT.search(error):
            # A task's lines between the board's two ends of output: output, not an
            # error (as exec() takes them).
            on_output(error)
            return None
        last_line = error.strip().splitlines()[-1]
        if stop.sent_at is not None and last_line.startswith("KeyboardInterrupt"):
            return None
        return error

    # -- Ctrl-C and closing -------------------------------------------------

    @contextlib.contextmanager
    def ctrl_c_guard(self) -> Iterator[None]:
        """While inside: the first SIGINT sets self.interrupted, a second raises KeyboardInterrupt."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum, frame):
            if self.interrupted:
                raise KeyboardInterrupt
            self.interrupted = True

        previous = signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def sleep(self, seconds: float) -> None:
        """Sleeps, returning early when interrupted."""
        end = time.monotonic() + seconds
        while not self.interrupted:
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 0.05))

    def close(self) -> None:
        """Deletes our board-side helper, leaves the raw REPL and closes the port."""
        if getattr(self, "transport", None) is None:
            return
        if self.lost and not os.path.exists(self.device):
            self._close_transport()
            return
        try:
            if self._busy:
                # Left in the middle of a command (a second Ctrl-C, a timeout):
                # interrupt it and wait for the raw REPL again.
                self._enter(5)
                self._busy = False
            if self._helper:
                try:
                    self.exec("del _heaptrack_host_exec", timeout=5)
                except (BoardError, ScriptError):
                    # An exchange was cut short: interrupt whatever runs and resync.
                    self._enter(5)
                    self.exec("try:\n del _heaptrack_host_exec\nexcept NameError:\n pass", timeout=5)
            self.transport.exit_raw_repl()
        except (BoardError, ScriptError, OSError):
            pass
        finally:
            self._close_transport()

    def _close_transport(self) -> None:
        try:
            self.transport.close()
        except OSError:
            pass
        self.transport = None


def _metrics_pieces(out: str) -> Optional[str]:
    """The text BOARD_METRICS wrote in out, its pieces put together; None without all of them."""
    length = None
    pieces = []
    for m in _METRICS_FRAME.finditer(out):
        if m.group(2) == "\n":
            length, pieces = int(m.group(1)), []
        elif length is not None:
            at = int(m.group(1))
            if at != len(pieces) * METRICS_PIECE:
                return None
            pieces.append(out[m.end():m.end() + min(METRICS_PIECE, length - at)])
    text = "".join(pieces)
    return text if length is not None and len(text) == length else None


class _Stopper:
    """Sends Ctrl-C once should_stop() says so, again every 5 s if the script caught it."""

    def __init__(self, serial, should_stop):
        self.serial = serial
        self.should_stop = should_stop
        self.sent_at = None
        self.last_sent = None

    def check(self) -> None:
        now = time.monotonic()
        if self.sent_at is None:
            if self.should_stop():
                self.serial.write(b"\x03")
                self.sent_at = self.last_sent = now
        elif now - self.last_sent > 5:
            self.serial.write(b"\x03")
            self.last_sent = now

    def given_up(self) -> bool:
        return self.sent_at is not None and time.monotonic() - self.sent_at > 20


class _StreamSplitter:
    """Splits a running command's output into samples and the script's own output."""

    def __init__(self, on_sample, on_output):
        self.on_sample = on_sample
        self.on_output = on_output
        self.buf = bytearray()
        self.garbled = 0

    def feed(self, data: bytes) -> None:
        """Takes bytes as they arrive; complete lines go out at once."""
        self.buf += data.replace(b"\x04", b"")
        while True:
            nl = self.buf.find(b"\n")
            if nl < 0:
                break
            line = bytes(self.buf[:nl + 1])
            del self.buf[:nl + 1]
            self._line(line.decode(errors="replace"))

    def idle(self) -> None:
        """The stream paused: pass on output that has no newline yet (a prompt, progress dots),
        unless it may be the start of a sample or ends inside a character or a \\r\\n."""
        if not self.buf or b"\x1e" in self.buf or self.buf.endswith(b"\r"):
            return
        try:
            text = bytes(self.buf).decode()
        except UnicodeDecodeError:
            return
        self.buf.clear()
        self.on_output(text)

    def _line(self, line: str) -> None:
        at = line.find(SAMPLE_MARKER)
        if at < 0:
            if "\x1e" in line:
                self.garbled += 1
                line = line.replace("\x1e", "")
            self.on_output(line.replace("\r\n", "\n"))
            return
        if at > 0:
            self.on_output(line[:at])
        payload = line[at + len(SAMPLE_MARKER):].strip()
        try:
            sample = Sample.from_board(payload)
        except (ValueError, TypeError, KeyError):
            self.garbled += 1
            return
        self.on_sample(sample)

    def flush(self) -> None:
        if self.buf:
            self._line(bytes(self.buf).decode(errors="replace"))
            self.buf.clear()
