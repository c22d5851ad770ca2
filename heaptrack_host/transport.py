"""The raw REPL of a board on a serial port: the one module of the host tools that
touches mpremote (mpremote's transport_serial is the model; connection.py is the
board-level API above it, as mpremote's commands.py is above its transport).

    repl = RawRepl(device, connect_timeout=10)    # opened, in the raw REPL
    out = repl.exec("print(1)", timeout=30)       # its output; ScriptError if it raised
    repl.soft_reset()                              # Ctrl-D: a fresh interpreter, in the raw REPL again
    repl.start(code); repl.read_through(b"\\x04", ...); repl.interrupt()   # a command whose output streams
    repl.reconnect(30)                             # after machine.reset(): the board back, in the raw REPL
    repl.close()                                   # the friendly REPL again, the port closed

What is used of mpremote: ``SerialTransport``'s constructor, which opens a port
the way mpremote does (exclusive, retried while busy), its ``serial`` and
``close()``. Nothing of its raw-REPL state or its readers: pyproject.toml pins
the mpremote versions this was tested with.

Rules the board's wire needs (each was a hang once):

* Every string waited for is one write of the board's, under a deadline that
  holds while output flows: a board task may print between two writes (the raw
  REPL's banner and its prompt come in two), and a timeout that counts only
  silence then waits for ever. mpremote's enter_raw_repl and its raw-paste
  exchange wait otherwise, so neither is used.
* One reader: everything read off the port goes through ``_read_some``, in bulk
  (a pty or a USB CDC endpoint hands over kilobytes per read); what a read brings
  past the end of the answer being read stays in ``_pending`` for the next
  reader, so every reader stops at its own end.
* A timeout counts silence (output that keeps coming keeps a command alive),
  except while entering the raw REPL.
* The virtual board says on the wire when its firmware ended under a command
  (``*** vboard: hard reset ***``): that is ``BoardLost``, not the script's error.
"""

from __future__ import annotations

import errno
import os
import re
import select
import time
from typing import Callable, Optional

__all__ = ["BoardError", "BoardLost", "ScriptError", "RawRepl"]


RAW_REPL_BANNER = b"raw REPL; CTRL-B to exit\r\n"

# What the virtual board writes when its firmware ends under a running command
# (vboard/board.py: _end_command): the board was reset, not the script's error.
_VBOARD_RESET = re.compile(r"\*\*\* vboard: (firmware crashed \([^\n]*\)|hard reset) \*\*\*")

# What MicroPython's error output starts a line with: a traceback, or an
# exception printed without one. Anything else between the board's two ends of
# output is a task's printing that came in between.
ERROR_OUTPUT = re.compile(r"^(Traceback \(most recent call last\):|[A-Za-z_][\w.]*"
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


def _open_port(device: str):
    from mpremote.transport import TransportError
    from mpremote.transport_serial import SerialTransport
    try:
        port = SerialTransport(device, baudrate=115200)
    except TransportError:
        raise BoardError("cannot open %s: no such device, or it is busy or not accessible" % device) from None
    # Bounds pyserial's first byte where a port has no file descriptor to select on.
    port.serial.timeout = 1
    return port


class RawRepl:
    """A board's raw REPL, entered at once and held until close()."""

    def __init__(self, device: str, *, connect_timeout: float = 10):
        self.device = device
        self.lost: Optional[str] = None  # why the board went away, once it did
        self.busy = False  # a raw-REPL command may still be running
        self._pending = b""  # read past the end of the last answer: the next reader's
        self._port = _open_port(device)
        try:
            self.enter(connect_timeout)
        except BaseException:
            self._close_port()
            raise

    def __repr__(self):
        return "<RawRepl %s>" % self.device

    @property
    def _serial(self):
        return self._port.serial

    # -- entering -----------------------------------------------------------

    def enter(self, timeout: float, soft_reset: bool = False) -> None:
        """Interrupts what runs and enters the raw REPL, after a soft reset if asked; the
        deadline holds however much a board task prints."""
        serial = self._serial
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
        self.busy = False

    def soft_reset(self, timeout: float = 15) -> None:
        """Ctrl-D: a fresh interpreter, back in the raw REPL (also interrupts a command still running)."""
        self.enter(timeout, soft_reset=True)

    def reconnect(self, timeout: float = 30) -> None:
        """After the board was told to reset: closes the port, then opens it again until the
        raw REPL answers (a USB board drops off the bus and comes back at the same device;
        the virtual board starts a new firmware process behind it)."""
        self._close_port()
        deadline = time.monotonic() + timeout
        last = None
        while True:
            time.sleep(0.2)
            try:
                self._port = _open_port(self.device)
                self.enter(min(3, max(0.5, deadline - time.monotonic())))
                return
            except Exception as e:   # not back yet: the device is away, or not answering
                last = e
                self._close_port()
                if time.monotonic() >= deadline:
                    raise BoardError("the board on %s did not come back within %.0f s of its hard reset (%s)"
                                     % (self.device, timeout, last)) from None

    # -- commands -----------------------------------------------------------

    def exec(self, code: str, timeout: float = 30) -> str:
        """Runs code in the raw REPL; its output (text, \\r\\n kept). ScriptError if it raised.
        timeout: seconds of silence."""
        try:
            self.start(code, timeout)
            out = self._read_through(b"\x04", timeout)
            if not out.endswith(b"\x04"):
                raise OSError("timeout waiting for first EOF reception")
            err = self._read_through(b"\x04", timeout)
            if not err.endswith(b"\x04"):
                raise OSError("timeout waiting for second EOF reception")
            self.busy = False
        except OSError as e:
            raise self._lost(e) from None
        out, err = out[:-1], err[:-1]
        if err:
            self.check_reset(err)
            if ERROR_OUTPUT.search(err.decode(errors="replace")):
                raise ScriptError(err.decode(errors="replace"))
            out += err  # a task's lines between the board's two ends of output, no error
        return out.decode(errors="replace")

    def start(self, code: str, timeout: float = 10) -> None:
        """Types code into the raw REPL and returns once the board says it runs it; its output
        is then read with read_through().

        The raw REPL's plain mode takes what is typed at any time and answers only
        "OK", one write of the board's (mpremote's raw-paste negotiation reads
        binary replies a fixed count at a time, and a task printing meanwhile left
        it waiting for ever). As mpremote's plain mode, 256 bytes at a time, 10 ms
        apart, for a board's UART buffer."""
        self.busy = True
        try:
            serial = self._serial
            data = code.encode()
            for i in range(0, len(data), 256):
                if i:
                    time.sleep(0.01)
                serial.write(data[i:i + 256])
            serial.write(b"\x04")
            self._wait_for(b"OK", time.monotonic() + timeout,
                           "the board on %s stopped answering (no 'OK' within %g s)" % (self.device, timeout))
        except OSError as e:
            raise self._lost(e) from None

    def read_through(self, end: bytes, timeout: float, consumer: Optional[Callable[[bytes], None]] = None,
                     idle: Optional[Callable[[], bool]] = None) -> bytes:
        """_read_through for a command started with start(); BoardLost/BoardError if the port fails."""
        try:
            return self._read_through(end, timeout, consumer, idle)
        except OSError as e:
            raise self._lost(e) from None

    def interrupt(self) -> None:
        """Ctrl-C to whatever runs."""
        try:
            self._serial.write(b"\x03")
        except OSError as e:
            raise self._lost(e) from None

    def command_done(self) -> None:
        """A command started with start() was read to its end: the raw REPL waits for the next."""
        self.busy = False

    def check_reset(self, data: bytes) -> None:
        """BoardLost when data holds the virtual board's notice that its firmware ended under a command."""
        m = _VBOARD_RESET.search(data.decode(errors="replace"))
        if m:
            self.lost = "the board on %s was reset (%s)" % (self.device, m.group(1))
            raise BoardLost(self.lost)

    def close(self) -> None:
        """Interrupts a command still running, leaves the raw REPL (the board back at its
        friendly prompt) and closes the port."""
        if self._port is None:
            return
        if self.lost and not os.path.exists(self.device):
            self._close_port()
            return
        try:
            if self.busy:
                # Left in the middle of a command (a second Ctrl-C, a timeout).
                self.enter(5)
            self._serial.write(b"\r\x02")  # Ctrl-B: the friendly REPL
        except (BoardError, OSError):
            pass
        finally:
            self._close_port()

    @property
    def closed(self) -> bool:
        return self._port is None

    def _close_port(self) -> None:
        if getattr(self, "_port", None) is None:
            return
        try:
            self._port.close()
        except OSError:
            pass
        self._port = None

    # -- reading ------------------------------------------------------------

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
                self.check_reset(seen)
            if at >= 0:
                return
            tail = window[-(len(ending) - 1):] if len(ending) > 1 else b""

    def _read_some(self, timeout: float) -> bytes:
        """What the port holds now, in one read, else what arrives within timeout seconds; b"" if
        nothing did. Raises OSError (SerialException) when the device went away."""
        if self._pending:
            data, self._pending = self._pending, b""
            return data
        serial = self._serial
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

    def _lost(self, e) -> BoardError:
        """The error for a failed exchange: BoardLost if the device is gone."""
        if isinstance(e, BoardError):
            return e
        why = str(e) or type(e).__name__
        gone = (not os.path.exists(self.device) or getattr(e, "errno", None) in (errno.EIO, errno.ENXIO, errno.ENODEV)
                or any(s in why for s in ("disconnected", "returned no data", "Input/output error", "Errno 5")))
        if gone:
            self.lost = "the board on %s went away (%s)" % (self.device, why)
            return BoardLost(self.lost)
        return BoardError("the board on %s stopped answering (%s)" % (self.device, why))
