"""The virtual board's board process: the firmware behind a pseudo-terminal, driven by one thread.

See the package's docstring for what it does; protocol.py translates the REPL's
bytes, crash.py recognises crashes, main.py is the command line.
"""

import datetime
import errno
import fcntl
import hashlib
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
import termios
import threading
import time
import tty
from pathlib import Path

from .. import paths
from .crash import FatalReports, sanitizer_env, signal_name
from .protocol import FRIENDLY_PROMPT, RAW_BANNER, ReplProtocol

__all__ = ["VirtualBoard", "VirtualBoardError", "HARD_RESET_STATUS", "BOOT_CODE", "RunningBoard", "running_boards"]

# prctl(PR_SET_PDEATHSIG, SIGKILL) in the firmware's process: it dies with the
# thread that started it (the board's I/O thread), so a virtual board killed
# with SIGKILL leaves no firmware behind. Linux only; elsewhere nothing.
_PR_SET_PDEATHSIG = 1
try:
    import ctypes

    _libc = ctypes.CDLL(None, use_errno=True)
    _prctl = _libc.prctl
except (ImportError, OSError, AttributeError):  # pragma: no cover - not Linux
    _prctl = None


def _die_with_parent(parent_pid):
    def preexec():
        if _prctl is not None:
            _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl
            os._exit(1)
    return preexec

# The firmware's soft reboot line, as it writes it (boards/HOST/mp_task.c): at
# the start of a line, or straight after the 0x04 that ends a raw-REPL command's
# output (sys.exit() in a raw-REPL command).
SOFT_REBOOT_LINE = b"MPY: soft reboot\n"
_SOFT_REBOOT = re.compile(rb"(?<=[\x00-\x1f])MPY: soft reboot\n")
# The firmware's exit status for machine.reset(), a hard reset (boards/HOST/mp_task.c,
# HARD_RESET_STATUS): the board starts a new firmware process.
HARD_RESET_STATUS = 100

# Stop reading firmware output while this much is waiting for the client
# (flow control, as a USB CDC device gets from its host).
# 16 KiB, with the firmware's pipe made as small (_PIPE_SIZE): a board's USB
# buffers hold about that much, so output produced before a client's Ctrl-C is
# not replayed to it for seconds (mpremote reads the REPL's replies byte by byte).
OUT_HIGH_WATER = 16 * 1024
# A boot (the setup code, boot.py, main.py in the friendly REPL) that has not reached
# the REPL after this many seconds is announced (_boot_notice).
BOOT_NOTICE_AFTER = 3.0
# ... and one that a raw-REPL client waits for (mpremote after its soft reset) is
# interrupted after this many (_interrupt_boot).
BOOT_INTERRUPT_AFTER = 10.0
_PIPE_SIZE = 16 * 1024
_F_SETPIPE_SZ = 1031  # Linux fcntl

# Code run by each boot (the firmware's command-line code, run again at every
# soft reset), before the firmware runs boot.py and main.py and its REPL: a call
# of the firmware's frozen _vboard.boot (boards/HOST/modules/_vboard.py, what a
# board's _boot.py does), given the flash directory. {root!r} is filled in. A
# firmware built before that module existed says so on the wire at every boot.
BOOT_CODE = """\
try:
    import _vboard
except ImportError:
    print('vboard: this host firmware has no _vboard module: it is older than the host tools; '
          'build a current one (make firmware-host)')
else:
    _vboard.boot({root!r})
    del _vboard
"""


class VirtualBoardError(RuntimeError):
    pass


# Virtual boards that can run at once with the default flash (vboard-flash,
# vboard-flash-2, ...: paths.default_flash).
MAX_DEFAULT_BOARDS = 16


def _lock_path(flash: Path) -> Path:
    """The lock a running virtual board holds on its flash directory (flock)."""
    return flash.with_name(flash.name + ".lock")


class RunningBoard:
    """A virtual board running with a default flash: its device, flash and whether it is
    the first (default_flash(1), what `--port vboard` picks first)."""

    def __init__(self, device: str, flash: Path, default: bool):
        self.device = device
        self.flash = flash
        self.default = default

    def __repr__(self):
        return "<RunningBoard %s flash %s>" % (self.device, self.flash)


def running_boards():
    """The virtual boards that run now with a default flash, the first one's first: each
    holds the lock on its flash, and its status file names its device."""
    found = []
    for n in range(1, MAX_DEFAULT_BOARDS + 1):
        flash = paths.default_flash(n)
        lock = _lock_path(flash)
        if not lock.exists():
            continue
        try:
            with open(lock, "a") as f:
                try:
                    fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
                    continue   # nobody holds it: not running
                except OSError:
                    pass
            status = json.loads(flash.with_name(flash.name + ".status.json").read_text())
        except (OSError, ValueError):
            continue
        device = status.get("device")
        if isinstance(device, str) and os.path.exists(device):
            found.append(RunningBoard(device, flash, n == 1))
    return found


def _close_quietly(fd):
    """Closes fd if it is open (not None, not negative); returns -1 for the caller to store."""
    if fd is not None and fd >= 0:
        try:
            os.close(fd)
        except OSError:
            pass
    return -1


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



class _Firmware:
    """One firmware process (from power-on to its end: its soft resets included) and its pipes."""

    def __init__(self, proc, fd_in, fd_out):
        self.proc = proc
        self.fd_in = fd_in  # write end of its stdin
        self.fd_out = fd_out  # read end of its stdout+stderr
        self.booting = True  # from power-on or a soft reset until its REPL is ready
        self.boot_started = time.monotonic()
        self.boot_noticed = False  # the "boot.py has not returned" notice was given for this boot
        self.boot_interrupted = False  # ... and the board interrupted it for a waiting raw-REPL client
        self.boot_buf = b""  # output of the boot so far (up to its REPL prompt)
        self.in_q = bytearray()
        self.recent = b""  # last output bytes, for the log
        self.soft_tail = b"\n"  # output before the next, for _SOFT_REBOOT
        self.reports = FatalReports()  # fatal reports in its output (crash.py)
        self.counted = False  # its crash has been counted already

    @property
    def pid(self):
        return self.proc.pid

    @property
    def fatal(self):
        return self.reports.fatal


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
    chip:     without firmware, the chip whose host firmware runs (paths.CHIPS:
              the folders of boards/HOST/chips; esp32s3 by default).
    """

    def __init__(self, firmware=None, flash=None, env=None, log=None, *, verbose=False,
                 boot_timeout=10.0, firmware_args=(), chip=None):
        self.firmware = Path(firmware).resolve() if firmware else None  # found by start()
        self.chip = chip
        # Without a flash, the default one, or the next free one (start() chooses).
        self._default_flash = flash is None
        self._log_given = log
        self._place(Path(flash).resolve() if flash else paths.default_flash())
        self.env = dict(env or {})
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
        self._filter = ReplProtocol()
        self._banner = None
        self._restart_at = None
        self._sel = None
        self._client = False  # a client holds the device open
        self._hup_poll = None
        self._flash_lock = None  # the open lock file while the board holds its flash
        self.dropped = 0  # bytes of output dropped while no client had the device open

    # -- public API ---------------------------------------------------------

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def firmware_pid(self):
        fw = self._fw
        return fw.pid if fw else None

    def _place(self, flash):
        """Where the board keeps its state: flash, and beside it its log, status, console log
        and the link to its device."""
        self.flash = flash
        log = self._log_given
        self.log_path = Path(log).resolve() if log else self.flash.with_name(self.flash.name + ".log")
        stem = self.log_path.name[:-4] if self.log_path.name.endswith(".log") else self.log_path.name
        self.status_path = self.log_path.with_name(stem + ".status.json")
        self.console_path = self.log_path.with_name(stem + ".console.log")
        # A symlink to the device while the board runs: a path that stays the same
        # from one start to the next.
        self.tty_path = self.log_path.with_name(stem + ".tty")
        # Derived from the flash: the same from one start to the next, different per board.
        self.unique_id = hashlib.sha1(str(self.flash).encode()).hexdigest()[:12]
        self.unique_id = "%02x" % (int(self.unique_id[:2], 16) & 0xfc | 0x02) + self.unique_id[2:]

    def _lock_flash(self):
        """Takes the lock on the flash (held until the board stops); False if another board holds it."""
        self.flash.parent.mkdir(parents=True, exist_ok=True)
        f = open(_lock_path(self.flash), "a")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            return False
        self._flash_lock = f
        return True

    def _claim_flash(self):
        """The flash this board may write alone: the one given, or the first free default one."""
        if not self._default_flash:
            if not self._lock_flash():
                other = ""
                try:
                    other = " on %s" % json.loads(self.status_path.read_text())["device"]
                except (OSError, ValueError, KeyError, TypeError):
                    pass
                raise VirtualBoardError("the flash %s is in use by another virtual board%s: give this one "
                                        "its own (--flash DIR)" % (self.flash, other))
            return
        for n in range(1, MAX_DEFAULT_BOARDS + 1):
            self._place(paths.default_flash(n).resolve())
            if self._lock_flash():
                return
        raise VirtualBoardError("%d virtual boards run with the default flash already: stop one, or give "
                                "this one its own (--flash DIR)" % MAX_DEFAULT_BOARDS)

    def start(self):
        if self._thread:
            raise VirtualBoardError("already started")
        try:
            self.firmware = paths.find_firmware(self.firmware, chip=self.chip)
        except paths.FirmwareNotFound as e:
            raise VirtualBoardError(str(e)) from None
        self._claim_flash()
        self.flash.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = open(self.log_path, "w", buffering=1)
        self._home = tempfile.mkdtemp(prefix="vboard-home-")
        try:
            self._master, self._slave = os.openpty()
            tty.setraw(self._slave)  # like a USB CDC device: no echo, no CR/LF mapping, no signals
            os.set_blocking(self._master, False)
            self.device = os.ttyname(self._slave)
            # Only clients hold the device open: when the last one closes it, the
            # master reads EIO (poll: POLLHUP) and the board drops its output, as a
            # USB board drops what no host reads (see _client_gone).
            self._slave = _close_quietly(self._slave)
            self._hup_poll = select.poll()
            self._hup_poll.register(self._master, select.POLLIN)
            self._wake_r, self._wake_w = os.pipe()
            os.set_blocking(self._wake_r, False)
            self._sel = selectors.DefaultSelector()
            self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
            self._log("start: device %s, firmware %s, flash %s, env %s"
                      % (self.device, self.firmware, self.flash, self.env))
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
        self._link_tty()
        self._write_status()  # serving: "running": true
        return self

    def _link_tty(self):
        try:
            tmp = self.tty_path.with_name(self.tty_path.name + ".tmp")
            if os.path.lexists(tmp):
                os.unlink(tmp)
            os.symlink(self.device, tmp)
            os.replace(tmp, self.tty_path)
        except OSError as e:
            self._log("cannot link %s to the device: %s" % (self.tty_path, e))

    def _unlink_tty(self):
        try:
            if self.device and os.readlink(self.tty_path) == self.device:
                os.unlink(self.tty_path)
        except OSError:
            pass

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
            "tty": str(self.tty_path),
            "crashes": self.crashes,
            "last_crash": self.last_crash,
            "soft_resets": self.soft_resets,
            "hard_resets": self.hard_resets,
            "running": self._thread is not None and not self._stop and self._ready.is_set()
            and not self._start_error,
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
        env["HEAPTRACK_UNIQUE_ID"] = self.unique_id   # machine.unique_id() (boards/HOST/board_id.c)
        env.update(self.env)
        return sanitizer_env(env)

    def _spawn(self):
        """Starts a firmware process: power-on, in the friendly REPL."""
        boot = BOOT_CODE.format(root=str(self.flash))
        cmd = [str(self.firmware)] + self.firmware_args + ["-i", "-c", boot]
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        try:
            proc = subprocess.Popen(cmd, stdin=in_r, stdout=out_w, stderr=out_w, cwd=str(self.flash),
                                    env=self._firmware_env(), start_new_session=True, close_fds=True,
                                    preexec_fn=_die_with_parent(os.getpid()))
        except OSError:
            for fd in (in_r, in_w, out_r, out_w):
                os.close(fd)
            raise
        # The board holds the only write end of its stdin: the firmware ends when
        # it is closed (its input ends), never at a soft reset.
        os.close(in_r)
        os.close(out_w)
        try:
            fcntl.fcntl(out_r, _F_SETPIPE_SZ, _PIPE_SIZE)
        except OSError:
            pass
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
            crashed = signal_name(-rc)
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
        """Follows the firmware's output for fatal reports (crash.FatalReports).

        The first one is counted as a crash at once: a report the firmware
        survives (a recoverable sanitizer finding) is a failure too.
        """
        found = fw.reports.feed(data)
        if found is not None:
            self._count_crash(fw, found)

    def _log_report(self, fw):
        report = fw.reports.report
        if report:
            self._log("firmware pid %d report:\n%s" % (fw.pid, bytes(report).decode(errors="replace").rstrip()))
            fw.reports.report = bytearray()

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
        if fw.booting and self._banner is None and not self._ready.is_set():
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
            if not self._client:
                self.dropped += len(data)
                if self.verbose:
                    self._log("no client, dropped %r" % bytes(data))
                return
            self._out_q += data
            if self.verbose:
                self._log("to client %r" % bytes(data))

    def _check_client(self):
        """Follows whether a client holds the device open (no POLLHUP on the master)."""
        try:
            events = dict(self._hup_poll.poll(0)).get(self._master, 0)
        except (OSError, ValueError):
            return
        if events & select.POLLHUP:
            if self._client:
                self._client_gone()
        elif not self._client:
            self._client = True
            self._log("client connected")

    def _client_gone(self):
        """The last client closed the device: what it did not read is dropped, in our queue and
        the terminal's, and so is output until a client opens it again (a USB board drops what
        no host reads). The next client starts without a flood of stale output."""
        self._client = False
        stale = len(self._out_q)
        self._out_q.clear()
        try:
            termios.tcflush(self._master, termios.TCOFLUSH)
        except (OSError, termios.error):
            pass
        self._log("client disconnected%s" % (" (%d bytes of output it did not read dropped)" % stale if stale else ""))

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
                # setup: see boards/HOST/repl.c.)
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
            self._filter.soft_reboot()
            fw.booting = True
            fw.boot_started = time.monotonic()
            fw.boot_noticed = False
            fw.boot_interrupted = False
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

    def _boot_notice(self, fw):
        """The board's setup, boot.py (or main.py) has run for BOOT_NOTICE_AFTER seconds without
        reaching the REPL: say so, on the wire (mpremote shows it when it gives up waiting), on
        stderr and in the log. The board stays usable: Ctrl-C interrupts boot.py."""
        fw.boot_noticed = True
        running = [n for n in ("boot.py", "main.py") if (self.flash / n).exists()]
        what = " or ".join(running) or "the boot"
        msg = ("%s has not returned after %.0f s; Ctrl-C interrupts it (a raw-REPL client such as "
               "mpremote waiting for it gets it interrupted after %.0f s)"
               % (what, BOOT_NOTICE_AFTER, BOOT_INTERRUPT_AFTER))
        self._log(msg)
        sys.stderr.write("vboard: %s: %s\n" % (self.device, msg))
        sys.stderr.flush()
        self._to_client(b"\r\n*** vboard: " + msg.encode() + b" ***\r\n")

    def _interrupt_boot(self, fw):
        """A raw-REPL client (mpremote after its soft reset) has waited BOOT_INTERRUPT_AFTER seconds
        for a boot.py that does not return. mpremote, on a pseudo-terminal, would wait forever (on a
        USB board it gives up after 10 s): the board interrupts boot.py as Ctrl-C would, and says so
        at the start of the client's command output, on stderr and in the log."""
        fw.boot_interrupted = True
        if not _sigint_caught(fw.pid):
            self._log("boot.py runs with Ctrl-C disabled: not interrupted")
            return
        msg = ("boot.py did not return within %.0f s: interrupted (Ctrl-C), so that this command runs; "
               "fix or remove boot.py" % BOOT_INTERRUPT_AFTER)
        self._log(msg)
        sys.stderr.write("vboard: %s: %s\n" % (self.device, msg))
        sys.stderr.flush()
        self._filter.command_notice = b"*** vboard: " + msg.encode() + b" ***\r\n"
        try:
            os.kill(fw.pid, signal.SIGINT)
        except ProcessLookupError:
            pass

    def _booted(self, fw):
        fw.booting = False
        self._log("firmware pid %d ready (%s REPL, %.0f ms)"
                  % (fw.pid, self._filter.mode, (time.monotonic() - fw.boot_started) * 1000))
        self._ready.set()

    def _update_interest(self):
        fw = self._fw
        self._check_client()
        keys = self._sel.get_map()
        if self._client:
            want = selectors.EVENT_READ | (selectors.EVENT_WRITE if self._out_q else 0)
            if self._master in keys:
                self._sel.modify(self._master, want, "client")
            else:
                self._sel.register(self._master, want, "client")
        elif self._master in keys:
            self._sel.unregister(self._master)
        if fw is None:
            return
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
            # Every firmware process is started by this thread: it dies with it (_die_with_parent).
            try:
                self._spawn()
            except OSError as e:
                self._start_error = "cannot start the firmware %s: %s" % (self.firmware, e)
                self._ready.set()
                return
            while not self._stop:
                timeout = None
                now = time.monotonic()
                if self._restart_at is not None:
                    timeout = max(0.0, self._restart_at - now)
                fw = self._fw
                if fw is not None and fw.booting and not fw.boot_interrupted:
                    booted_for = now - fw.boot_started
                    if not fw.boot_noticed and booted_for > BOOT_NOTICE_AFTER:
                        self._boot_notice(fw)
                        self._update_interest()
                    elif booted_for > BOOT_INTERRUPT_AFTER and self._client and self._filter.mode == "raw":
                        self._interrupt_boot(fw)
                    next_check = BOOT_NOTICE_AFTER if not fw.boot_noticed else BOOT_INTERRUPT_AFTER
                    if booted_for < next_check:
                        timeout = min(timeout if timeout is not None else 1.0, next_check - booted_for + 0.01)
                    elif not fw.boot_interrupted:
                        timeout = min(timeout if timeout is not None else 0.5, 0.5)
                if not self._ready.is_set():
                    if now > boot_deadline and self._fw and any(
                            (self.flash / name).exists() for name in ("boot.py", "main.py")):
                        self._log("no REPL prompt within %.0f s: boot.py or main.py still running; serving"
                                  % self.boot_timeout)
                        self._ready.set()
                    elif now > boot_deadline:
                        fw = self._fw
                        out = fw.recent[-500:] if fw else b""
                        self._start_error = "no REPL prompt within %.0f s; output: %r" % (self.boot_timeout, out)
                        self._ready.set()
                        break
                    timeout = 0.1 if timeout is None else min(timeout, 0.1)
                if not self._client:  # look for a client now and then
                    timeout = 0.02 if timeout is None else min(timeout, 0.02)
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
                    self._client_gone()  # the last client closed the device
                    return
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
        self._unlink_tty()
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
        if self._flash_lock is not None:
            self._flash_lock.close()   # (the lock goes with it)
            self._flash_lock = None

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

