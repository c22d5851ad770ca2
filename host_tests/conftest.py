"""pytest fixtures: a board driven through mpremote.

By default the board is a virtual board (the host firmware behind a
pseudo-terminal, one per session, its flash a fresh temporary directory);
``--port /dev/ttyACM0`` runs the same tests on a real board instead.

Fixtures:
  board           the session's board (see Board below); a test during which
                  the virtual board's firmware crashes fails.
  from_power_on   hard-resets the board before the test: no records of earlier
                  tests' tasks (a soft reset keeps them, as on an ESP32).
  firmware_tracker  the tracker the session board's firmware was built with,
                  from its link map (linked_tracker); for the check of
                  heaptrack.TRACKER. Skips with --port.
  vboard_factory  vboard_factory(env={...}) -> a separate virtual board (own
                  flash, own firmware environment, e.g. HEAPTRACK_IDF_REGIONS;
                  untracked=True: the firmware built without heap task
                  tracking, `make HEAPTRACK_TRACKING=0`), stopped
                  after the test; tests using it are skipped with --port. A
                  firmware crash on it (a sanitizer report included) fails the
                  test, unless made with expect_crashes=True.
"""
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from heaptrack_host.vboard import DEFAULT_FIRMWARE, VirtualBoard  # noqa: E402


def pytest_addoption(parser):
    group = parser.getgroup("heaptrack board")
    group.addoption("--port", default=None, metavar="DEV",
                    help="run on the real board at DEV (e.g. /dev/ttyACM0) instead of a virtual board")
    group.addoption("--firmware", default=str(DEFAULT_FIRMWARE), metavar="PATH",
                    help="host firmware for virtual boards (default: %(default)s)")
    group.addoption("--firmware-untracked", default=None, metavar="PATH",
                    help="host firmware built without heap task tracking (make HEAPTRACK_TRACKING=0), "
                         "for the tests of such a firmware")
    group.addoption("--firmware-diff", default=None, metavar="PATH",
                    help="the differential host firmware (make HEAPTRACK_TRACKER=diff), for "
                         "test_tracker_diff.py")
    group.addoption("--vboard-verbose", action="store_true",
                    help="virtual boards log every byte they exchange")


class BoardError(AssertionError):
    pass


class Board:
    """A board reached through the mpremote CLI, as a user reaches it.

    device     serial device path
    virtual    True for a virtual board (then .vboard is the VirtualBoard)
    crashes    firmware crashes so far (always 0 for a real board)
    """

    def __init__(self, device, vboard=None):
        self.device = device
        self.vboard = vboard
        self.virtual = vboard is not None

    def __repr__(self):
        return "<Board %s%s>" % (self.device, " (virtual)" if self.virtual else "")

    @property
    def crashes(self):
        return self.vboard.crashes if self.vboard else 0

    def mpremote_cmd(self, *args):
        return [sys.executable, "-m", "mpremote", "connect", self.device] + [str(a) for a in args]

    def mpremote(self, *args, timeout=60, check=True, input=None):
        """Runs `mpremote connect DEVICE ARGS...`; returns the CompletedProcess (text).

        check: raise BoardError (with mpremote's output) if it exits non-zero.
        """
        cmd = self.mpremote_cmd(*args)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=input,
                                  stdin=None if input is not None else subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            raise BoardError("mpremote timed out after %s s: %s\nstdout:\n%s\nstderr:\n%s"
                             % (timeout, _short(cmd), _text(e.stdout), _text(e.stderr))) from None
        if check and proc.returncode != 0:
            raise BoardError("mpremote failed (exit status %d): %s\nstdout:\n%s\nstderr:\n%s"
                             % (proc.returncode, _short(cmd), proc.stdout, proc.stderr))
        return proc

    def exec(self, code, timeout=60):
        """Runs code on the board (`mpremote exec`, after a soft reset); returns its output."""
        return self.mpremote("exec", code, timeout=timeout).stdout

    def run(self, path, timeout=60):
        """Runs a local script on the board (`mpremote run`); returns its output."""
        return self.mpremote("run", str(path), timeout=timeout).stdout

    def put(self, local, remote):
        """Copies a local file to the board's filesystem (remote path without ':')."""
        self.mpremote("fs", "cp", str(local), ":" + remote.lstrip(":"))

    def get(self, remote, local):
        self.mpremote("fs", "cp", ":" + remote.lstrip(":"), str(local))

    def rm(self, remote):
        self.mpremote("fs", "rm", ":" + remote.lstrip(":"))

    def hard_reset(self, timeout=30):
        """A hard reset (`mpremote reset`: machine.reset()), as from power-on: ESP-IDF's
        heap and statistics start afresh (a soft reset keeps them). Returns once the
        board answers again."""
        old_pid = self.vboard.firmware_pid if self.vboard else None
        self.mpremote("reset")
        deadline = time.monotonic() + timeout
        # The board resets 100 ms after mpremote leaves; a client that connects
        # sooner would interrupt that (mpremote starts with Ctrl-C).
        if self.vboard:
            while self.vboard.firmware_pid in (None, old_pid) and time.monotonic() < deadline:
                time.sleep(0.02)
        else:
            time.sleep(1.0)  # a USB board drops off the bus and comes back
        while True:
            try:
                self.exec("pass", timeout=10)
                return
            except BoardError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)


def _text(b):
    if b is None:
        return ""
    return b.decode(errors="replace") if isinstance(b, bytes) else b


def _short(cmd):
    s = " ".join(cmd)
    return s if len(s) < 300 else s[:300] + "..."


def _start_vboard(config, flash, env=None, firmware=None):
    return VirtualBoard(firmware=firmware or config.getoption("--firmware"), flash=flash, env=env,
                        verbose=config.getoption("--vboard-verbose")).start()


@pytest.fixture(scope="session")
def session_board(request, tmp_path_factory):
    port = request.config.getoption("--port")
    if port:
        yield Board(port)
        return
    vb = _start_vboard(request.config, tmp_path_factory.mktemp("vboard") / "flash")
    request.config._heaptrack_vboards.append(vb)
    try:
        yield Board(vb.device, vb)
    finally:
        vb.stop()


@pytest.fixture
def board(session_board):
    """The session's board. On the virtual board, a firmware crash fails the test."""
    before = session_board.crashes
    yield session_board
    after = session_board.crashes
    if after != before:
        pytest.fail("the virtual board's firmware crashed during this test (%s); log: %s"
                    % (session_board.vboard.last_crash, session_board.vboard.log_path), pytrace=False)


@pytest.fixture
def from_power_on(board):
    """Hard-resets the board before the test (@pytest.mark.usefixtures("from_power_on")).

    A soft reset keeps ESP-IDF's statistics, deleted tasks' records included, as on
    an ESP32, and a task's handle is its TCB's address, which a later task reuses:
    a test that looks a finished task up by its handle could find an earlier task's
    record. From power-on there is none.
    """
    board.hard_reset()


def linked_tracker(firmware):
    """The tracker a host firmware was built with, as heaptrack.TRACKER should name it,
    read from what went into it rather than asked of it: the link map the unix port's
    linker writes beside the firmware (<firmware>.map) lists the archive members it
    linked. tracker_hooks.o: "hooks" (the differential firmware, which also links
    ESP-IDF's tracking, reports through it); tracker_idf.o with ESP-IDF's
    heap_task_info.o: "idf"; tracker_idf.o without it: None (HEAPTRACK_TRACKING=0).
    Raises LookupError when there is no map or it names no tracker."""
    path = Path(str(firmware) + ".map")
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise LookupError("no link map beside the firmware: %s" % e) from None
    # "Archive member included ..." lines: the member's path at the start of a line.
    linked = set(re.findall(r"^\S.*\((tracker_hooks|tracker_idf|heap_task_info)\.o\)$", text, re.M))
    if "tracker_hooks" in linked:
        return "hooks"
    if "tracker_idf" in linked:
        return "idf" if "heap_task_info" in linked else None
    raise LookupError("%s names no tracker (tracker_hooks.o, tracker_idf.o)" % path)


@pytest.fixture(scope="session")
def firmware_tracker(request):
    """The tracker the session board's firmware (--firmware) was built with: "idf",
    "hooks" or None (linked_tracker). Skipped on a real board, and for a firmware
    without its link map (one installed with heaptrack-host)."""
    if request.config.getoption("--port"):
        pytest.skip("needs the firmware's build (running with --port)")
    try:
        return linked_tracker(request.config.getoption("--firmware"))
    except LookupError as e:
        pytest.skip(str(e))


@pytest.fixture
def vboard_factory(request, tmp_path):
    """vboard_factory(env=None, expect_crashes=False, untracked=False, diff=False) -> Board on a new
    virtual board (diff: the differential firmware, --firmware-diff).

    Stopped after the test (a report the firmware writes as it exits, LeakSanitizer's,
    is still seen); if its firmware crashed and the test did not expect it, the test fails.
    """
    if request.config.getoption("--port"):
        pytest.skip("needs a virtual board (running with --port)")
    started = []

    def make(env=None, expect_crashes=False, untracked=False, diff=False):
        firmware = None
        if untracked:
            firmware = request.config.getoption("--firmware-untracked")
            if not firmware:
                pytest.skip("needs --firmware-untracked (a firmware built with HEAPTRACK_TRACKING=0)")
        if diff:
            firmware = request.config.getoption("--firmware-diff")
            if not firmware:
                pytest.skip("needs --firmware-diff (a firmware built with HEAPTRACK_TRACKER=diff)")
        flash = tmp_path / ("vboard%d" % len(started)) / "flash"
        vb = _start_vboard(request.config, flash, env=env, firmware=firmware)
        started.append((vb, expect_crashes))
        return Board(vb.device, vb)

    yield make
    crashed = []
    for vb, expected in started:
        vb.stop()
        if vb.crashes and not expected:
            crashed.append("%s (last: %s; log: %s)" % (vb.device, vb.last_crash, vb.log_path))
    if crashed:
        pytest.fail("virtual board firmware crashed: " + ", ".join(crashed), pytrace=False)


@pytest.fixture
def virtual_only(request):
    if request.config.getoption("--port"):
        pytest.skip("about the virtual board (running with --port)")


def pytest_configure(config):
    config._heaptrack_vboards = []


def pytest_sessionfinish(session, exitstatus):
    crashed = [vb for vb in getattr(session.config, "_heaptrack_vboards", []) if vb.crashes]
    if crashed:
        for vb in crashed:
            sys.stderr.write("\nheaptrack: the session's virtual board firmware crashed %d time(s) "
                             "(last: %s); log: %s\n" % (vb.crashes, vb.last_crash, vb.log_path))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_report_header(config):
    port = config.getoption("--port")
    if port:
        return "board: real, %s" % port
    return "board: virtual, firmware %s" % config.getoption("--firmware")
