"""A heaptrack board, at the level the host tools use it: the board-level API
(mpremote's commands.py is the model), over the raw REPL of transport.py (the
one module that touches mpremote). What it reads is recording.Sample.

    with open_board(port) as board:          # or open_board(vboard=True)
        sample = board.sample()              # recording.Sample: t, tasks, regions, gc
        dump = board.dump()                  # dump.Dump (every block)
        text = board.metrics()               # heaptrack.metrics(): Prometheus's text format
        board.run_sampled(source, interval, on_sample, on_output)

Ports are given as mpremote takes them: a device path, ``auto`` (the first USB
serial port), ``a0``-``a99`` (/dev/ttyACM0...), ``u0`` (/dev/ttyUSB0...), ``c0``
(COM0...), ``id:SERIAL``, ``port:PATH``, and ``vboard``: the virtual board
started last with its default flash (``mpheaptrack vboard``), through its link.

What runs on the board
----------------------
The board's half of every call is frozen into the firmware, in the module
``heaptrack._host`` (native/heaptrack/modules/heaptrack/_host.py); the host sends
one-line calls of it (``__import__('heaptrack._host')._host.run(...)``), which
bind nothing in the REPL's namespace. The first call (``probe``, on opening and
after every reset) checks its ``PROTOCOL``: a firmware older than these host
tools (without the module, or with an older one) is a BoardError telling to
flash a current one.

How samples are taken
---------------------
The connection holds the board in the raw REPL for its whole life (one
``transport.RawRepl``, not an mpremote process per sample). A sample is what the
firmware's ``heaptrack.dump_sample()`` writes: one line of keyed JSON, the
firmware's format, read with records.py's field table.

* Without a script (``sample()``): each sample is one raw-REPL exchange calling
  ``heaptrack.dump_sample()``. Nothing runs on the board between samples.
* While a script runs (``run_sampled``): the raw REPL is busy running the
  script, so one call does both: ``_host.run_sampled`` starts a sampler task on
  the board (``heaptrack.start_task("ht_sampler", ...)``) that calls
  ``heaptrack.dump_sample(t0, marker)`` every interval, then runs the script in
  the REPL's own task, in a fresh namespace with ``__name__ == "__main__"`` (as
  ``mpremote run`` does: its allocations are charged to ``mp_task`` and it can be
  interrupted with Ctrl-C). When the script ends or is interrupted, it stops the
  sampler, waits for it and writes a last sample. The host reads the command's
  output as it arrives: lines that hold the sample marker are samples,
  everything else is the script's output. Each sample is a single write of one
  line, so the script's own output can only come between samples; a sample that
  still arrives garbled (a real board's USB driver may release the GIL while
  writing a long line) is counted in ``garbled`` and skipped, never fatal.

  Cost on a real ESP32: the sampler is a FreeRTOS task whose stack is charged
  by ESP-IDF to the task that created it (``mp_task``) until it ends.

Stopping: the caller's stop condition (sample count, duration) or Ctrl-C on
the host sends Ctrl-C to the board, which interrupts the script; the command
then finishes normally. Host Ctrl-C never tears a raw-REPL exchange apart:
while a connection is sampling, SIGINT only sets a flag that the loops check
(a second Ctrl-C raises KeyboardInterrupt at once). ``close()`` leaves the raw
REPL, so the board is back at its friendly prompt with nothing of ours running
or defined. A board that disappears (unplugged, its virtual board killed, reset
under us) raises ``BoardLost``, once.
"""

from __future__ import annotations

import ast
import contextlib
import re
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, Optional

from .recording import Sample
from .transport import ERROR_OUTPUT, BoardError, BoardLost, RawRepl, ScriptError

__all__ = ["BoardError", "BoardLost", "ScriptError", "Connection", "open_board", "find_port", "resolve_port",
           "host_call"]

SAMPLE_MARKER = "\x1eheaptrack-sample:"
SETUP_MARKER = "\x1eheaptrack-setup:"
SAMPLER_TASK = "ht_sampler"
# Seconds a board has to answer for one sample (a board with a thousand tasks takes
# well under one): longer, and it stopped answering.
SAMPLE_TIMEOUT = 15
# The heaptrack._host protocol these host tools need (_host.PROTOCOL on the board).
HOST_PROTOCOL = 1
# The protocol from which samples can carry the GC heap's top types (gc_types): an
# older firmware still serves everything else, so it is asked of it only then.
GC_TYPES_PROTOCOL = 2

# heaptrack.metrics()'s text comes in pieces of METRICS_PIECE characters, each
# written with one write after a marker and its offset (marker + "12:"), after a
# marker line with the text's length (marker + "4123\n"): _host.metrics.
METRICS_MARKER = "\x1eheaptrack-metrics:"
METRICS_PIECE = 256
_METRICS_FRAME = re.compile(re.escape(METRICS_MARKER) + r"(\d+)(\n|:)")


def host_call(function: str, *args, **kwargs) -> str:
    """One line of code calling heaptrack._host.function(*args, **kwargs) on the board (arguments
    as their repr()s), binding nothing in the REPL's namespace."""
    params = [repr(a) for a in args] + ["%s=%r" % kv for kv in kwargs.items()]
    return "__import__('heaptrack._host')._host.%s(%s)\n" % (function, ", ".join(params))


def _older_firmware(device: str, why: str) -> BoardError:
    return BoardError("the heaptrack firmware on %s is older than these host tools (%s): flash a current one"
                      % (device, why))


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
        self.device = device
        self.vboard = None
        self.machine = ""
        self.track_deleted = None
        self.protocol = 0
        self.interrupted = False
        self.garbled = 0
        self.script_interrupted = False
        self._t0 = None
        self._failures_seen: Optional[int] = None  # the failures' total the last sample said
        self.repl = RawRepl(device, connect_timeout=connect_timeout)
        try:
            self.probe()
        except BaseException:
            self.repl.close()
            raise

    def __repr__(self):
        return "<heaptrack Connection %s>" % self.device

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def lost(self) -> Optional[str]:
        """Why the board went away, once it did."""
        return self.repl.lost

    # -- the board ----------------------------------------------------------

    def probe(self) -> None:
        """Checks that the board runs a heaptrack firmware as new as these tools, and reads what it is
        (machine, track_deleted)."""
        try:
            # The answer in one write after a marker: a task's printing may come before it on its line.
            out = self.exec("__import__('heaptrack')\n" + host_call("hello", SETUP_MARKER))
        except ScriptError as e:
            if "ImportError" in e.traceback and "heaptrack._host" in e.traceback:
                raise _older_firmware(self.device, "it has no heaptrack._host module") from None
            if "ImportError" in e.traceback and "heaptrack" in e.traceback:
                raise BoardError("the board on %s runs MicroPython without the heaptrack module: "
                                 "flash heaptrack firmware (make flash BOARD=... PORT=%s)"
                                 % (self.device, self.device)) from None
            if "AttributeError" in e.traceback:
                raise _older_firmware(self.device, str(e)) from None
            raise BoardError("the board on %s failed to set up heaptrack sampling: %s" % (self.device, e)) from None
        answer = out[out.rfind(SETUP_MARKER) + len(SETUP_MARKER):].split("\n", 1)[0]
        try:
            protocol, self.machine, self.track_deleted = ast.literal_eval(answer.strip())
            self.protocol = protocol
        except (ValueError, SyntaxError, TypeError):
            raise BoardError("the board on %s gave no answer to heaptrack's set-up (%r)" % (self.device, answer)) \
                from None
        if protocol < HOST_PROTOCOL:
            raise _older_firmware(self.device, "its heaptrack._host speaks protocol %d, these tools %d"
                                  % (protocol, HOST_PROTOCOL))

    def exec(self, code: str, timeout: float = 30) -> str:
        """Runs code in the raw REPL; its output (text, \\r\\n kept). ScriptError if it raised."""
        return self.repl.exec(code, timeout)

    def soft_reset(self) -> None:
        """Ctrl-D: a fresh interpreter. ESP-IDF's heap and its statistics live on, as on an
        ESP32: deleted tasks' records, peaks."""
        self._t0 = None
        self.repl.soft_reset(15)  # also interrupts a command still running
        self.probe()

    def hard_reset(self, timeout: float = 30) -> None:
        """machine.reset(), as `mpremote reset` does, and back in the raw REPL once the board
        answers again: from power-on, with no task records, peaks or deleted tasks from
        before. A USB board drops off the bus and comes back (at the same device, as a
        board at a fixed port does); the virtual board starts a new firmware process
        behind the same device."""
        self._t0 = None
        self._failures_seen = 0   # from power-on, every failure is news
        self.repl.enter(5)   # whatever runs, interrupted
        self.repl.start("import machine\nmachine.reset()", timeout=5)   # it runs it: the board resets
        self.repl.reconnect(timeout)
        self.probe()

    # -- sampling ----------------------------------------------------------

    def _check_gc_types(self, gc_types: int) -> None:
        if gc_types and self.protocol < GC_TYPES_PROTOCOL:
            raise _older_firmware(self.device, "its samples cannot carry the GC heap's types")

    def sample(self, gc_types: int = 0) -> Sample:
        """One sample, taken now by the REPL's task; with gc_types, the GC heap's gc_types biggest
        Python types too (a census of the heap without a collection)."""
        self._check_gc_types(gc_types)
        extra = ", gc_types=%d" % gc_types if gc_types else ""
        try:
            out = self.exec("__import__('heaptrack').dump_sample(%r, %r, %r%s)"
                            % (self._t0, SAMPLE_MARKER, self._failures_seen, extra), timeout=SAMPLE_TIMEOUT)
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

        The board writes it in short pieces, each marked with its offset (_host.metrics), so
        that a board task's printing between them is left out; text that still arrives
        garbled (a piece cut by other output) has not its length or is not the format, and
        raises BoardError."""
        try:
            out = self.exec(host_call("metrics", METRICS_MARKER, METRICS_PIECE, max_deleted), timeout=timeout)
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
        return self.exec(host_call("run", source, name), timeout=timeout)

    def dump(self, task=None, blocks: bool = True):
        """heaptrack.dump() parsed (dump.Dump)."""
        from . import dump
        return dump.parse(self.exec("__import__('heaptrack').dump(%r, %r)" % (task, bool(blocks))))

    def run_sampled(self, source: str, interval: float, on_sample: Callable[[Sample], None],
                    on_output: Callable[[str], None] = lambda text: None, *, name: str = "script.py",
                    should_stop: Callable[[], bool] = lambda: False, gc_types: int = 0) -> Optional[str]:
        """Runs source on the board while a board-side task samples every interval seconds
        (each sample with the GC heap's gc_types biggest types, when given).

        on_sample(Sample) for each sample; on_output(text) with the script's output as it comes.
        Stops when the script ends, or when should_stop() or a host Ctrl-C (self.interrupted) asks,
        by sending Ctrl-C to the board. Returns the board's error output if the script raised
        (a KeyboardInterrupt we caused is not an error), else None. garbled: samples that were
        cut by other output.
        """
        self._check_gc_types(gc_types)
        # (an older firmware's run_sampled has no gc_types: it is sent only when asked for)
        code = host_call("run_sampled", source, name, max(1, int(interval * 1000)), SAMPLE_MARKER, SAMPLER_TASK,
                         self._failures_seen, **({"gc_types": gc_types} if gc_types else {}))
        first = []

        def sampled(sample):
            if not first:
                first.append(sample)
            self._failures_seen = sample.failures_total
            on_sample(sample)

        splitter = _StreamSplitter(sampled, on_output)
        self.garbled = 0
        stop = _Stopper(self.repl.interrupt, should_stop=lambda: self.interrupted or should_stop())

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
            self.repl.start(code, timeout=10)  # the script's own time is not limited
            self.repl.read_through(b"\x04", float("inf"), consumer=feed, idle=idle)
            splitter.flush()
            err = self.repl.read_through(b"\x04", 10)
            if not err.endswith(b"\x04"):
                raise BoardError("the board on %s stopped answering after the script" % self.device)
            self.repl.command_done()
        finally:
            self.garbled = splitter.garbled
            self.script_interrupted = stop.sent_at is not None
        if first and self._t0 is None:
            # Samples taken after the run continue its clock.
            t0 = first[0].ticks_ms - int(round(first[0].t * 1000))
            self._t0 = t0 if t0 >= 0 else first[0].ticks_ms
        self.repl.check_reset(err)
        error = err[:-1].decode(errors="replace").replace("\r\n", "\n")
        if not error.strip():
            return None
        if not ERROR_OUTPUT.search(error):
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
        """Leaves the raw REPL (interrupting a command still running) and closes the port: the
        board is at its friendly prompt, with nothing of ours defined in its namespace."""
        self.repl.close()


def _metrics_pieces(out: str) -> Optional[str]:
    """The text _host.metrics wrote in out, its pieces put together; None without all of them."""
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

    def __init__(self, interrupt, should_stop):
        self.interrupt = interrupt
        self.should_stop = should_stop
        self.sent_at = None
        self.last_sent = None

    def check(self) -> None:
        now = time.monotonic()
        if self.sent_at is None:
            if self.should_stop():
                self.interrupt()
                self.sent_at = self.last_sent = now
        elif now - self.last_sent > 5:
            self.interrupt()
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
