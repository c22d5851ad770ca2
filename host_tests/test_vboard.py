"""The board as mpremote and other raw-REPL clients see it.

These hold on the virtual board and on a real board (--port): they only use
what every MicroPython board offers, and clean up the files they make. Tests
about the virtual board itself (crash detection, its command line, its
environment) are skipped with --port.
"""
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import serial

from board_code import run
from heaptrack_host.connection import Connection

REPO = Path(__file__).resolve().parents[1]
PYBOARD_PY = REPO / "micropython" / "tools" / "pyboard.py"
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"


def unique(prefix):
    return "%s_%s" % (prefix, uuid.uuid4().hex[:8])


class Raw:
    """A minimal raw-REPL client on pyserial, byte-exact, to check the wire protocol."""

    def __init__(self, device):
        self.s = serial.Serial(device, 115200, timeout=0.05, exclusive=True)

    def close(self):
        try:
            self.s.write(b"\r\x02")  # leave the board in its friendly REPL
        finally:
            self.s.close()

    def read_until(self, ending, timeout=10):
        data = b""
        deadline = time.monotonic() + timeout
        while not data.endswith(ending):
            if time.monotonic() > deadline:
                raise AssertionError("timeout waiting for %r; got %r" % (ending, data))
            data += self.s.read(1)
        return data

    def drain(self, quiet=0.2):
        data = b""
        while True:
            chunk = self.s.read(4096)
            if not chunk:
                # nothing for one read timeout; wait a little longer to be sure
                time.sleep(quiet)
                chunk = self.s.read(4096)
                if not chunk:
                    return data
            data += chunk

    def prompt(self):
        """Interrupts whatever runs; returns at a fresh friendly prompt, nothing left to read."""
        self.s.write(b"\r\x03")
        self.read_until(b">>> ")
        self.drain()

    def enter(self):
        self.s.write(b"\r\x03\x03")
        self.drain()
        self.s.write(b"\r\x01")
        self.read_until(RAW_BANNER + b">")

    def exec(self, code, timeout=10):
        """Classic raw REPL (no raw-paste): returns (stdout, stderr) bytes."""
        self.s.write(code.encode() + b"\x04")
        assert self.s.read(2) == b"OK"
        out = self.read_until(b"\x04", timeout)[:-1]
        err = self.read_until(b"\x04", timeout)[:-1]
        self.read_until(b">")
        return out, err


@pytest.fixture
def raw(board):
    r = Raw(board.device)
    yield r
    r.close()


# -- mpremote, as users run it ---------------------------------------------------------


def test_exec(board):
    assert board.exec("print(1 + 1)") == "2\n"


def test_exec_error_is_reported(board):
    proc = board.mpremote("exec", "raise ValueError('boom')", check=False)
    assert proc.returncode == 1
    assert "ValueError: boom" in proc.stdout + proc.stderr


def test_run_script(board, tmp_path):
    script = tmp_path / "script.py"
    script.write_text("import sys\nfor i in range(3):\n    print('line', i)\nprint(sys.implementation.name)\n")
    assert board.run(script) == "line 0\nline 1\nline 2\nmicropython\n"


def test_soft_reset_clears_state(board):
    name = unique("vb_state")
    board.exec("%s = 123" % name)
    # `resume`: no soft reset, the global is still there
    assert board.mpremote("resume", "exec", "print(%s)" % name).stdout == "123\n"
    board.mpremote("soft-reset")
    out = board.mpremote("resume", "exec", "print('%s' in globals())" % name).stdout
    assert out == "False\n"


def test_machine_soft_reset(board):
    # a soft reset from code ends the command and restarts the REPL
    board.mpremote("exec", "import machine; machine.soft_reset()", check=False, timeout=20)
    assert board.exec("print('alive')") == "alive\n"


def test_fs_round_trip(board, tmp_path):
    d = unique("vb_dir")
    src = tmp_path / "data.txt"
    text = "first line\nsecond line\n" + "x" * 3000 + "\n"
    src.write_text(text)
    board.mpremote("fs", "mkdir", ":" + d)
    try:
        board.put(src, d + "/data.txt")
        ls = board.mpremote("fs", "ls", ":" + d).stdout
        assert re.search(r"\b%d data\.txt" % len(text), ls), ls
        assert board.mpremote("fs", "cat", ":%s/data.txt" % d).stdout == text
        back = tmp_path / "back.txt"
        board.get(d + "/data.txt", back)
        assert back.read_text() == text
        board.rm(d + "/data.txt")
        assert "data.txt" not in board.mpremote("fs", "ls", ":" + d).stdout
    finally:
        board.mpremote("exec", "import os\nfor f in os.listdir(%r): os.remove(%r + '/' + f)\nos.rmdir(%r)"
                       % (d, d, d), check=False)
    assert d not in board.mpremote("fs", "ls", ":").stdout


def test_import_from_board_filesystem(board, tmp_path):
    name = unique("vb_mod")
    (tmp_path / "m.py").write_text("VALUE = 'from flash'\n")
    board.put(tmp_path / "m.py", name + ".py")
    try:
        assert board.exec("import %s; print(%s.VALUE)" % (name, name)) == "from flash\n"
    finally:
        board.rm(name + ".py")


def test_mount_and_import(board, tmp_path):
    name = unique("vb_mounted")
    (tmp_path / (name + ".py")).write_text("X = 42\ndef f():\n    return 'hi\\nthere'\n")
    out = board.mpremote("mount", tmp_path, "exec", "import %s as m; print(m.X, repr(m.f()))" % name).stdout
    assert out.splitlines()[-1] == "42 'hi\\nthere'"


def test_mount_binary_file_both_ways(board, tmp_path):
    # every byte value, including \n, 0x03, 0x04 and 0x18, through mpremote's mount protocol
    blob = bytes(range(256)) * 40 + b"\n\r\n\x03\x04\x18"
    (tmp_path / "in.bin").write_bytes(blob)
    code = (
        "import hashlib, binascii\n"
        "d = open('in.bin', 'rb').read()\n"
        "print(len(d), binascii.hexlify(hashlib.sha256(d).digest()).decode())\n"
        "open('out.bin', 'wb').write(bytes(reversed(d)))\n"
        "with open('in.bin', 'rb') as f:\n"
        "    f.seek(10)\n"
        "    print(list(f.read(4)))\n"
    )
    out = board.mpremote("mount", tmp_path, "exec", code).stdout.splitlines()
    assert out[-2] == "%d %s" % (len(blob), hashlib.sha256(blob).hexdigest())
    assert out[-1] == str(list(blob[10:14]))
    assert (tmp_path / "out.bin").read_bytes() == blob[::-1]


def test_ctrl_c_interrupts_running_loop(board, raw):
    raw.enter()
    raw.s.write(b"while True:\n    pass\n\x04")
    assert raw.s.read(2) == b"OK"
    time.sleep(0.3)
    raw.s.write(b"\x03")
    out = raw.read_until(b"\x04")
    err = raw.read_until(b"\x04")
    raw.read_until(b">")
    assert out == b"\x04"
    assert b"KeyboardInterrupt" in err
    # still usable, and it sends what a board sends
    assert raw.exec("print('after')") == (b"after\r\n", b"")


def test_ctrl_c_from_next_mpremote_command(board):
    # a script left running is interrupted by the next command (mpremote sends Ctrl-C first)
    proc = subprocess.Popen(board.mpremote_cmd("exec", "import time\nwhile True:\n    time.sleep_ms(1)"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    time.sleep(1.0)
    proc.kill()
    proc.wait()
    assert board.exec("print('next')") == "next\n"


def test_raw_repl_bytes(board, raw):
    raw.enter()
    assert raw.exec("print('a')\nprint('b', 2)") == (b"a\r\nb 2\r\n", b"")
    out, err = raw.exec("1/0")
    assert out == b""
    assert err.startswith(b"Traceback (most recent call last):\r\n")
    assert err.endswith(b"ZeroDivisionError: divide by zero\r\n")
    # raw-paste mode, as mpremote uses it
    raw.s.write(b"\x05A\x01")
    assert raw.s.read(2) == b"R\x01"
    window = int.from_bytes(raw.s.read(2), "little")
    assert window > 0 and raw.s.read(1) == b"\x01"
    raw.s.write(b"print(6 * 7)\x04")
    assert raw.read_until(b"\x04") == b"\x04"  # end of data acknowledged
    assert raw.read_until(b"\x04") == b"42\r\n\x04"
    assert raw.read_until(b"\x04") == b"\x04"
    raw.read_until(b">")


def test_soft_reset_in_raw_repl(board, raw):
    raw.enter()
    raw.exec("vb_x = 1")
    raw.s.write(b"\x04")
    data = raw.read_until(RAW_BANNER + b">")
    assert data.startswith(b"OK\r\nMPY: soft reboot\r\n")
    out, err = raw.exec("print('vb_x' in globals())")
    assert (out, err) == (b"False\r\n", b"")


def test_soft_reset_in_friendly_repl(board, raw):
    raw.s.write(b"\r\x03\x03\r\x02")  # friendly REPL
    raw.read_until(b">>> ")
    raw.drain()
    raw.s.write(b"vb_y = 5\r")
    raw.read_until(b">>> ")
    raw.s.write(b"\x04")
    data = raw.read_until(b">>> ")
    assert b"MPY: soft reboot\r\n" in data
    assert b"MicroPython " in data
    raw.s.write(b"'vb_y' in globals()\r")
    assert raw.read_until(b">>> ").endswith(b"False\r\n>>> ")


@pytest.mark.usefixtures("from_power_on")
def test_soft_reset_keeps_heap_statistics(board):
    # As on an ESP32, ESP-IDF's heap and its task statistics survive a soft reset
    # (each `mpremote exec` starts with one): the next command sees the same ones.
    name = unique("keep")
    h, blocks, track_deleted = run(board, """
def leak():
    heaptrack.malloc(200)
h = heaptrack.start_task(%r, leak)
wait_deleted(h)
t = heaptrack.task_stats(h, blocks=True)
print((h, [b for hp in t.heaps for b in hp.blocks], heaptrack.TRACK_DELETED))
""" % name)
    if not track_deleted:
        pytest.skip("firmware built without CONFIG_HEAP_TRACK_DELETED_TASKS")
    assert len(blocks) == 1 and blocks[0][1] >= 200
    after = run(board, """
t = heaptrack.task_stats(%d, blocks=True)
blocks = [b for hp in t.heaps for b in hp.blocks]
for a, size in blocks:
    heaptrack.free(a)
print((t.name, t.alive, t.current, blocks, heaptrack.task_stats(%d).current))
""" % (h, h))
    assert after == (name, False, blocks[0][1], blocks, 0)


THREADS_AT_SOFT_RESET = """
import _thread, time
lock = _thread.allocate_lock()
lock.acquire()
def sleeper():
    while True:
        time.sleep(0.2)
        print('vb_tick')
def spinner():
    x = 0
    while True:
        x += 1
def waiter():
    lock.acquire()
    print('vb_acquired')
def task():
    heaptrack.malloc(100)
    while True:
        time.sleep_ms(1)
for f in (sleeper, spinner, waiter):
    _thread.start_new_thread(f, ())
h = heaptrack.start_task(%r, task)
time.sleep_ms(300)
print(h)
"""


@pytest.mark.usefixtures("from_power_on")
def test_soft_reset_ends_threads(board):
    # The threads of a boot end at its soft reset, as an ESP32 deletes their
    # tasks, whether they sleep, spin or wait for a lock: nothing they would do
    # shows up after it, their tasks are deleted, and the board stays usable.
    if board.virtual:
        pid = board.vboard.firmware_pid
        threads_before = _threads(pid)
    h = run(board, THREADS_AT_SOFT_RESET % unique("sr"))
    # They run on after the command that started them. (Through the host
    # tools' connection: mpremote's raw-paste exchange fails, or waits for
    # ever, when a thread's line comes in the middle of it.)
    with Connection(board.device) as conn:
        assert "vb_tick" in conn.exec("import time; time.sleep(0.5)")
    # the next command's soft reset ends them
    out = board.exec("import time; time.sleep(0.6); print('quiet')")
    assert out == "quiet\n"
    alive, blocks = run(board, """
wait_deleted(%d)
t = heaptrack.task_stats(%d, blocks=True)
blocks = [b for hp in t.heaps for b in hp.blocks]
for a, size in blocks:
    heaptrack.free(a)
print((t.alive, len(blocks)))
""" % (h, h))
    assert not alive
    if board.virtual:
        assert board.vboard.firmware_pid == pid
        deadline = time.monotonic() + 5
        while _threads(pid) != threads_before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _threads(pid) == threads_before


def test_soft_reset_cancels_a_thread_that_signals_do_not_reach(vboard_factory):
    # os.system() waits for its child again when a signal interrupts it, so a
    # thread in it never reaches the GIL: the soft reset cancels it after its
    # grace time (boards/HOST/threads.c), in that wait. Its task is deleted,
    # the child is killed, and the next boot runs as usual.
    b = vboard_factory()
    pid = b.vboard.firmware_pid
    threads_before = _threads(pid)
    h = run(b, """
import _thread, os, time
handles = []
def blocked():
    heaptrack.malloc(64)   # so that ESP-IDF's statistics know the task
    handles.append(heaptrack.current_task())
    os.system('exec sleep 29.5')
_thread.start_new_thread(blocked, ())
while not handles:
    time.sleep_ms(5)
print(handles[0])
""")
    # The thread is in os.system() once its shell has exec'd sleep: waited for, as a
    # loaded machine may take its time (a fixed 100 ms failed under load).
    deadline = time.monotonic() + 30
    while _sleepers(pid) != 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _sleepers(pid) == 1
    started = time.monotonic()
    assert run(b, "wait_deleted(%d); print(heaptrack.task_stats(%d).alive)" % (h, h)) is False
    assert time.monotonic() - started < 15
    assert _sleepers(pid) == 0
    assert _threads(pid) == threads_before
    assert b.vboard.firmware_pid == pid and b.crashes == 0


def _sleepers(pid):
    """The firmware's children running `sleep 29.5` (os.system's shell execs it)."""
    found = 0
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                args = f.read().split(b"\0")
            with open("/proc/%s/stat" % entry) as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue   # gone meanwhile
        found += args[:2] == [b"sleep", b"29.5"] and parent == pid
    return found


def _threads(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(next(line for line in f if line.startswith("Threads:")).split()[1])


def test_threads_printing(board):
    code = """
import _thread, sys, time
done = []
def worker(name, n):
    for i in range(n):
        sys.stdout.write('%s%d\\n' % (name, i))
    done.append(name)
_thread.start_new_thread(worker, ('A', 300))
_thread.start_new_thread(worker, ('B', 300))
t0 = time.ticks_ms()
while len(done) < 2 and time.ticks_diff(time.ticks_ms(), t0) < 20000:
    time.sleep_ms(10)
print('finished', sorted(done))
"""
    out = board.exec(code, timeout=60)
    assert out.rstrip().endswith("finished ['A', 'B']")
    for name in "AB":
        got = re.findall(r"%s(\d+)" % name, out)
        assert sorted(map(int, got)) == list(range(300)), name


def test_repl_interactive(board):
    pexpect = pytest.importorskip("pexpect")
    child = pexpect.spawn(sys.executable, ["-m", "mpremote", "connect", board.device, "repl"],
                          timeout=15, dimensions=(24, 200))
    try:
        child.expect("Connected to MicroPython")
        child.send("\r\x03")
        child.expect(">>> ")
        child.send("1+2\r")
        child.expect(r"\r\n3\r\n>>> ")
        child.send("for i in range(2): print('loop', i)\r")
        child.expect(r"\.\.\. ")
        child.send("\r")
        child.expect(r"loop 0\r\nloop 1\r\n>>> ")
        child.send("while True: pass\r\r")  # Ctrl-C interrupts it
        time.sleep(0.3)
        child.send("\x03")
        child.expect(r"KeyboardInterrupt: \r\n>>> ")
        child.send("\x1d")  # Ctrl-]: leave mpremote
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    # the board is usable after the session
    assert board.exec("print('ok')") == "ok\n"


def test_mount_survives_ctrl_d_in_repl(board, tmp_path):
    pexpect = pytest.importorskip("pexpect")
    name = unique("vb_rm")
    (tmp_path / (name + ".py")).write_text("V = 'mounted'\n")
    child = pexpect.spawn(sys.executable, ["-m", "mpremote", "connect", board.device, "mount", str(tmp_path),
                                           "repl"], timeout=15, dimensions=(24, 200))
    try:
        child.expect("Connected to MicroPython")
        child.send("\r")
        child.expect(">>> ")
        child.send("import %s; %s.V\r" % (name, name))
        child.expect(r"'mounted'\r\n>>> ")
        child.send("\x04")  # soft reset; mpremote mounts the directory again
        child.expect("soft reboot")
        # mpremote remounts only if the board answers its Ctrl-D at once ("MPY: soft
        # reboot" within 0.5 s, no pause of 0.1 s before it: write_ctrl_d), which a
        # loaded machine can miss. A user then presses Ctrl-D again; so does this, once.
        if child.expect(["Remount local directory", pexpect.TIMEOUT], timeout=5) == 1:
            child.send("\x04")
            child.expect("soft reboot")
            child.expect("Remount local directory")
        child.expect(">>> ")
        child.send("import os, %s; os.getcwd(), %s.V\r" % (name, name))
        child.expect(r"\('/remote', 'mounted'\)\r\n>>> ")
        child.send("\x1d")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    # mpremote unmounted it when it left
    assert "remote" not in board.exec("import os; print(os.getcwd())")


def test_pyboard_py_client(board):
    proc = subprocess.run([sys.executable, str(PYBOARD_PY), "--device", board.device, "-c", "print(123)"],
                          capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"123\r\n"


# -- the virtual board itself (skipped with --port) --------------------------------


def test_soft_reset_stays_in_the_firmware_process(board, virtual_only):
    # A soft reset restarts MicroPython inside the firmware process, as on an
    # ESP32: a new VM (a module-level value is gone), the same process (so
    # ESP-IDF's heap and its statistics are kept).
    vb = board.vboard
    pid, soft, hard = vb.firmware_pid, vb.soft_resets, vb.hard_resets
    name = unique("vb_kept")
    board.exec("%s = 1" % name)
    assert board.exec("print(%r in globals())" % name) == "False\n"
    assert vb.firmware_pid == pid
    assert vb.soft_resets == soft + 2  # one per `mpremote exec`
    r = Raw(board.device)
    try:
        r.s.write(b"\r\x03\x03\r\x02")  # friendly REPL
        r.read_until(b">>> ")
        r.drain()
        r.s.write(b"\x04")
        r.read_until(b"\r\nMPY: soft reboot\r\n")
        r.read_until(b">>> ")
    finally:
        r.close()
    assert vb.firmware_pid == pid
    status = json.loads(vb.status_path.read_text())
    assert (status["firmware_pid"], status["soft_resets"], status["hard_resets"]) == (pid, soft + 3, hard)


def _new_firmware(vb, old_pid, timeout=10):
    deadline = time.monotonic() + timeout
    while vb.firmware_pid in (None, old_pid):
        assert time.monotonic() < deadline, "no new firmware process after %s s" % timeout
        time.sleep(0.02)
    return vb.firmware_pid


def test_hard_reset_starts_a_new_firmware_process(vboard_factory):
    # machine.reset() (`mpremote reset`) is a hard reset: a new firmware process,
    # ESP-IDF's heap and statistics from power-on.
    b = vboard_factory()
    vb = b.vboard
    pid = vb.firmware_pid
    name = unique("hr")
    assert run(b, """
def leak():
    heaptrack.malloc(100)
h = heaptrack.start_task(%r, leak)
wait_deleted(h)
print([t.name for t in heaptrack.task_stats() if t.name == %r])
""" % (name, name)) == [name]
    b.mpremote("reset")  # sends machine.reset() and leaves
    pid2 = _new_firmware(vb, pid)
    assert not os.path.exists("/proc/%d" % pid)
    assert (vb.hard_resets, vb.soft_resets, vb.crashes) == (1, 2, 0)  # mpremote soft-resets first
    assert run(b, "print([t.name for t in heaptrack.task_stats() if t.name == %r])" % name) == []
    # from a running command, which then ends with a notice (a board over USB drops off the bus)
    proc = b.mpremote("exec", "print('resetting'); import machine; machine.reset()", check=False, timeout=30)
    assert proc.returncode != 0
    assert "resetting" in proc.stdout and "hard reset" in proc.stdout + proc.stderr
    _new_firmware(vb, pid2)
    assert b.exec("print('alive')") == "alive\n"
    assert (vb.hard_resets, vb.crashes) == (2, 0)
    assert json.loads(vb.status_path.read_text())["hard_resets"] == 2


def test_crash_is_detected_counted_and_survived(vboard_factory):
    b = vboard_factory(expect_crashes=True)
    assert b.crashes == 0
    proc = b.mpremote("exec", "import os\nprint('before')\nos.system('kill -SEGV $PPID')\nprint('after')",
                      check=False, timeout=30)
    assert proc.returncode != 0
    assert "before" in proc.stdout
    assert "after" not in proc.stdout
    # "(SIGSEGV)", or with a firmware built with ASan, which catches the signal and
    # exits with status 1: "(SIGSEGV, caught by AddressSanitizer; exit status 1)"
    assert re.search(r"firmware crashed \(SIGSEGV[,)]", proc.stdout + proc.stderr), proc
    assert b.crashes == 1
    status = json.loads(b.vboard.status_path.read_text())
    assert status["crashes"] == 1 and status["last_crash"].startswith("SIGSEGV")
    assert "SIGSEGV" in b.vboard.log_path.read_text()
    # it was restarted and works
    assert b.exec("print('alive')") == "alive\n"
    assert b.crashes == 1


def test_sanitizer_report_is_a_crash(vboard_factory):
    # What a firmware built with `make SANITIZE=1` writes to stderr (the same pipe) when
    # a sanitizer finds something; written here by a child process, so the test holds
    # for any firmware. Its first line counts as a crash at once, even if the firmware
    # lives on (UBSan in recover mode), and the whole report goes to the log.
    b = vboard_factory(expect_crashes=True)
    report = "../../py/vb_fake.c:12:34: runtime error: vb fake report"
    b.exec("import os\nos.system('echo %s >&2')" % report)
    assert b.crashes == 1
    assert b.vboard.last_crash == "UndefinedBehaviorSanitizer: ../../py/vb_fake.c:12:34: vb fake report"
    assert report in b.vboard.log_path.read_text()
    # The firmware lived on: the next command's soft reset is a soft reset.
    assert b.exec("print('alive')") == "alive\n"
    assert b.crashes == 1

    # An ASan report is long (stack traces, shadow memory), and ASan then ends the
    # process with status 1: a crash, however far the exit is from the report's
    # first line. (Here the exit comes from an exception in a sys.atexit function,
    # which upstream's main() calls, at the soft reset, without a handler:
    # "FATAL: uncaught NLR", status 1.)
    b = vboard_factory(expect_crashes=True)
    code = ("import os, sys\n"
            "os.system('(echo ==4242==ERROR: AddressSanitizer: heap-use-after-free on address 0x1234; "
            "head -c 20000 /dev/zero | tr \"\\\\000\" x; echo; echo ==4242==ABORTING) >&2')\n"
            "sys.atexit(lambda: 1 / 0)\n"
            "sys.exit()")
    b.mpremote("exec", code, check=False, timeout=30)
    assert b.crashes == 1
    assert b.exec("print('alive')") == "alive\n"
    assert b.crashes == 1
    assert b.vboard.last_crash == "AddressSanitizer: heap-use-after-free; exit status 1"
    log = b.vboard.log_path.read_text()
    assert "==4242==ABORTING" in log and "exited with status 1" not in log


def test_sanitizer_report_at_shutdown_is_a_crash(vboard_factory):
    # LeakSanitizer reports when the firmware exits, also when the board is stopped:
    # its last output is still read. Here a child of the firmware waits for the end
    # of the firmware's input (the board stopping), then writes such a report, framed
    # as LeakSanitizer frames it: an empty line and a rule first, so its ERROR line
    # starts a line even after a prompt. (The child competes with the firmware for
    # input: whether mpremote's parting Ctrl-B reaches the firmware, which then
    # prints the friendly REPL's ">>> ", varies from run to run.)
    b = vboard_factory(expect_crashes=True)
    # (a background job's input is /dev/null unless redirected explicitly)
    b.exec("import os\nos.system('exec 3<&0; (cat <&3 >/dev/null; echo; echo %s; "
           "echo ==4243==ERROR: LeakSanitizer: detected memory leaks) >&2 &')" % ("=" * 65))
    assert b.crashes == 0
    b.vboard.stop()
    assert b.crashes == 1
    assert b.vboard.last_crash == "LeakSanitizer: detected memory leaks"
    assert json.loads(b.vboard.status_path.read_text())["crashes"] == 1


def test_report_after_the_firmware_exited_is_a_crash(vboard_factory):
    # LeakSanitizer reports as the firmware exits. Here a child of the firmware
    # ends it (SIGTERM) and writes such a report once it has exited (a zombie
    # until the board reaps it), as late as a report can come: still the
    # firmware's crash. The client gets the crash message and a new firmware.
    # (The report starts on a line of its own, as LeakSanitizer's do, whatever
    # the REPL was printing when the firmware died.)
    b = vboard_factory(expect_crashes=True)
    pid = b.vboard.firmware_pid
    r = Raw(b.device)
    try:
        r.prompt()
        r.s.write(b"import os; os.system(\"(kill -TERM $PPID; while [ $(cut -d' ' -f3 /proc/$PPID/stat) != Z ]; "
                  b"do sleep 0.01; done; echo; echo ==4244==ERROR: LeakSanitizer: detected memory leaks) >&2 &\")\r")
        data = r.read_until(b") ***\r\n", timeout=20)
        data += r.read_until(b">>> ")  # the new firmware's
        assert (b"*** vboard: firmware crashed (SIGTERM; LeakSanitizer: detected memory leaks) ***\r\n"
                b"MicroPython ") in data
        assert b"soft reboot" not in data
        r.s.write(b"6*7\r")
        assert r.read_until(b">>> ").endswith(b"42\r\n>>> ")
    finally:
        r.close()
    assert b.crashes == 1
    assert b.vboard.firmware_pid not in (None, pid)


def test_crash_in_friendly_repl_is_announced(vboard_factory):
    b = vboard_factory(expect_crashes=True)
    r = Raw(b.device)
    try:
        r.prompt()
        r.s.write(b"import os; os.system('kill -ABRT $PPID')\r")
        r.read_until(b"\r\n*** vboard: firmware crashed (SIGABRT) ***\r\n")
        assert b"MicroPython " in r.read_until(b">>> ")
        r.s.write(b"6*7\r")
        assert r.read_until(b">>> ").endswith(b"42\r\n>>> ")
    finally:
        r.close()
    assert b.crashes == 1


def test_flash_dir_is_the_root_filesystem(vboard_factory):
    b = vboard_factory()
    flash = b.vboard.flash
    (flash / "lib").mkdir()
    (flash / "lib" / "vb_libmod.py").write_text("WHERE = 'lib'\n")
    (flash / "hello.txt").write_text("hello\n")
    out = b.exec("import os, sys\nprint(os.getcwd(), sys.path)\nprint(open('/hello.txt').read().strip())\n"
                 "import vb_libmod\nprint(vb_libmod.WHERE)\nopen('made.txt', 'w').write('x')")
    assert out.splitlines() == ["/ ['', '.frozen', '/lib']", "hello", "lib"]
    assert (flash / "made.txt").read_text() == "x"


def test_boot_py_and_main_py_run_as_on_a_board(vboard_factory):
    b = vboard_factory()
    (b.vboard.flash / "boot.py").write_text("vb_booted = True\nprint('booting')\n")
    (b.vboard.flash / "main.py").write_text("vb_main = True\n")
    # raw-REPL soft reset (what mpremote does): boot.py runs, main.py does not
    assert b.exec("print('vb_booted' in globals(), 'vb_main' in globals())") == "True False\n"
    r = Raw(b.device)
    try:
        r.enter()
        r.s.write(b"\x04")
        assert r.read_until(RAW_BANNER + b">") == b"OK\r\nMPY: soft reboot\r\nbooting\r\n" + RAW_BANNER + b">"
        r.s.write(b"\r\x03\x03\r\x02")
        r.read_until(b">>> ")
        r.s.write(b"\x04")  # friendly soft reset: both run
        r.read_until(b"soft reboot\r\n")
        r.read_until(b">>> ")
        r.s.write(b"print('vb_booted' in globals(), 'vb_main' in globals())\r")
        assert r.read_until(b">>> ").endswith(b"True True\r\n>>> ")
    finally:
        r.close()


def test_ctrl_c_while_restarting_interrupts_boot_py_only(vboard_factory):
    # A client may send Ctrl-C while the board restarts (mpremote starts with one).
    # The board's own setup (its flash mounted at /) is not interrupted by it;
    # boot.py is, as on a board.
    b = vboard_factory()
    (b.vboard.flash / "boot.py").write_text("import time\nprint('boot start')\ntime.sleep(5)\nprint('boot end')\n")
    r = Raw(b.device)
    try:
        r.prompt()
        r.s.write(b"\x04")
        r.read_until(b"soft reboot\r\n")
        data = b""
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            r.s.write(b"\x03")
            data += r.s.read(4096)  # (read timeout 0.05 s)
        data += r.drain()
        assert b"boot start" in data and b"KeyboardInterrupt" in data and b"boot end" not in data
        r.s.write(b"import os; os.getcwd(), os.listdir('/')\r")
        assert r.read_until(b">>> ").endswith(b"('/', ['boot.py'])\r\n>>> ")
    finally:
        r.close()
    assert b.crashes == 0


def test_env_reaches_the_firmware(vboard_factory):
    b = vboard_factory(env={"VBOARD_TEST_VAR": "hello board"})
    assert b.exec("import os; print(os.getenv('VBOARD_TEST_VAR'))") == "hello board\n"


def test_command_line(tmp_path, virtual_only, request):
    flash = tmp_path / "flash"
    proc = subprocess.Popen(
        [sys.executable, "-m", "heaptrack_host.vboard", "--firmware", request.config.getoption("--firmware"),
         "--flash", str(flash), "--env", "VB_CLI=1"],
        cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        device = proc.stdout.readline().strip()
        assert device.startswith("/dev/")
        out = subprocess.run([sys.executable, "-m", "mpremote", "connect", device, "exec",
                              "import os; print(os.getenv('VB_CLI'))"],
                             capture_output=True, text=True, timeout=30)
        assert out.stdout == "1\n", out
        status = json.loads((tmp_path / "flash.status.json").read_text())
        fw_pid = status["firmware_pid"]
        assert status["crashes"] == 0 and status["device"] == device
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, proc.stderr.read()
    assert not os.path.exists("/proc/%d" % fw_pid)
    assert (tmp_path / "flash.log").exists()


def test_start_and_stop_leave_nothing_behind(tmp_path, virtual_only, request):
    from heaptrack_host.vboard import VirtualBoard

    def fds():
        return set(os.listdir("/proc/self/fd"))

    before = fds()
    with VirtualBoard(firmware=request.config.getoption("--firmware"), flash=tmp_path / "f") as vb:
        pid = vb.firmware_pid
        assert os.path.exists("/proc/%d" % pid)
    assert fds() == before
    assert vb.crashes == 0
    assert not os.path.exists("/proc/%d" % pid)


def test_crlf_script_runs_as_on_a_board(board, tmp_path):
    # a script with CRLF line ends (as saved on Windows), long enough for many raw-paste windows
    lines = ["s = '''abc", "def'''", "t = 1 + \\", "    2", "print(repr(s), t)"]
    lines += ["x%d = %d" % (i, i) for i in range(2000)]
    lines += ["print(x1999)", "raise ValueError('end')"]
    script = tmp_path / "crlf.py"
    script.write_bytes("\r\n".join(lines).encode() + b"\r\n")
    proc = board.mpremote("run", script, check=False, timeout=60)
    out = proc.stdout.splitlines()
    assert out[:2] == ["'abc\\ndef' 3", "1999"], proc.stdout
    # the traceback's line number is the file's
    assert 'line %d, in <module>' % len(lines) in proc.stdout
    assert "ValueError: end" in proc.stdout


# -- hostile output, dying clients and parents, boot.py that never returns ---------------


def test_mount_bytes_in_output_without_a_mount(board, raw):
    # 0x18 and a mount command byte in a program's output, no `mpremote mount` running:
    # plain output, and the board's line endings and raw-REPL framing go on as before.
    raw.enter()
    out, err = raw.exec("import sys\nsys.stdout.buffer.write(b'\\x18\\x08\\x03\\xff\\xff\\xff\\x7f')\nprint('after')")
    assert err == b"" and out == b"\x18\x08\x03\xff\xff\xff\x7fafter\r\n"
    out, err = raw.exec("print('next')")
    assert (out, err) == (b"next\r\n", b"")
    raw.s.write(b"\r\x02")
    raw.read_until(b">>> ")
    raw.s.write(b"print(6 * 7)\r")
    assert raw.read_until(b">>> ").endswith(b"42\r\n>>> ")


def test_status_file_says_running_while_serving(vboard_factory):
    b = vboard_factory()
    status = json.loads(b.vboard.status_path.read_text())
    assert status["running"] is True and status["device"] == b.device
    assert os.readlink(status["tty"]) == b.device
    b.vboard.stop()
    status = json.loads(b.vboard.status_path.read_text())
    assert status["running"] is False and not os.path.lexists(status["tty"])


def test_df(board):
    out = board.mpremote("df").stdout.splitlines()
    assert out[0].split() == ["filesystem", "size", "used", "avail", "use%", "mounted", "on"]
    root = [line.split() for line in out[1:] if line.split()[-1:] == ["/"]]
    assert root and len(root[0]) == 6 and all(v.isdigit() for v in root[0][1:5]), out


def test_stale_output_of_a_dead_client_is_dropped(vboard_factory):
    b = vboard_factory()
    flood = subprocess.Popen(b.mpremote_cmd("exec", "while True:\n print('x' * 100)"),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)
    flood.kill()  # the client dies; the board goes on printing
    flood.wait()
    time.sleep(0.3)
    started = time.monotonic()
    assert b.exec("print('fresh')", timeout=30) == "fresh\n"
    assert time.monotonic() - started < 5
    assert "dropped" in b.vboard.log_path.read_text()


def test_boot_py_that_never_returns_is_reported_and_the_board_stays_usable(vboard_factory, capfd):
    b = vboard_factory()
    (b.vboard.flash / "boot.py").write_text("import time\nwhile True:\n    time.sleep(1)\n")
    # mpremote's soft reset runs boot.py, which never returns; mpremote would wait for it
    # forever on a pseudo-terminal: the board interrupts it and says so in the output.
    started = time.monotonic()
    out = b.exec("print('usable')", timeout=60)
    assert out.splitlines()[0].startswith("*** vboard: boot.py did not return within 10 s: interrupted")
    assert out.splitlines()[-1] == "usable"
    assert 10 <= time.monotonic() - started < 30
    err = capfd.readouterr().err
    assert "boot.py has not returned after 3 s" in err and "boot.py did not return within 10 s" in err
    (b.vboard.flash / "boot.py").unlink()
    assert b.exec("print('again')") == "again\n"


def test_firmware_dies_with_a_killed_board(tmp_path, virtual_only, request):
    proc = subprocess.Popen(
        [sys.executable, "-m", "heaptrack_host.vboard", "--firmware", request.config.getoption("--firmware"),
         "--flash", str(tmp_path / "flash")], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout.readline().startswith("/dev/")
        fw_pid = json.loads((tmp_path / "flash.status.json").read_text())["firmware_pid"]
        proc.kill()  # SIGKILL: no chance to stop its firmware
        proc.wait(10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _running(fw_pid):
            time.sleep(0.05)
        assert not _running(fw_pid), "the firmware outlived its virtual board"
    finally:
        if proc.poll() is None:
            proc.kill()


def _running(pid):
    """True while pid runs (a zombie waiting for its reaper does not)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_uname_and_unique_id_answer_as_the_esp32_port(vboard_factory):
    # os.uname() as the esp32 port fills it: sysname and nodename "esp32", release
    # MicroPython's version, machine "<board> with <chip>" (sys.implementation._machine);
    # machine.unique_id() the chip's 6-byte MAC: the same after a hard reset, another
    # for another board.
    a, b = vboard_factory(), vboard_factory()
    code = """
import os, sys, machine
u = os.uname()
print(repr([u.sysname, u.nodename, u.release, u.version.split(' on ')[0], u.machine, sys.platform,
            sys.implementation._machine, '%d.%d.%d' % sys.implementation.version[:3], machine.unique_id()]))
"""
    first = run(a, code)
    sysname, nodename, release, version, machine, platform, impl_machine, mp_version, uid = first
    assert (sysname, nodename, platform) == ("esp32", "esp32", "esp32")
    assert release == mp_version and version == "v" + mp_version
    assert machine == impl_machine and re.fullmatch(r"heaptrack virtual board with ESP32(S3|C3)?", machine)
    assert isinstance(uid, bytes) and len(uid) == 6 and uid[0] & 0x02   # locally administered
    a.hard_reset()
    assert run(a, code)[-1] == uid
    assert run(b, code)[-1] != uid


@pytest.fixture
def state_dir(tmp_path, monkeypatch):
    """The virtual boards' default state in a directory of the test's own (not the
    checkout's build/, where a developer's `mpheaptrack vboard` may run)."""
    from heaptrack_host import paths
    monkeypatch.setattr(paths, "checkout", lambda: None)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state" / "heaptrack"


def test_two_boards_with_the_default_flash_keep_apart(state_dir, virtual_only, request):
    from heaptrack_host.connection import BoardError, find_port, resolve_port
    from heaptrack_host.vboard import VirtualBoard, VirtualBoardError, running_boards
    firmware = request.config.getoption("--firmware")
    with VirtualBoard(firmware=firmware) as first, VirtualBoard(firmware=firmware) as second:
        # The second gets a flash, link and status of its own.
        assert first.flash == state_dir / "vboard-flash" and second.flash == state_dir / "vboard-flash-2"
        assert os.readlink(state_dir / "vboard-flash.tty") == first.device
        assert os.readlink(state_dir / "vboard-flash-2.tty") == second.device
        assert json.loads((state_dir / "vboard-flash.status.json").read_text())["device"] == first.device
        assert json.loads((state_dir / "vboard-flash-2.status.json").read_text())["device"] == second.device
        assert [(b.device, b.default) for b in running_boards()] == [(first.device, True), (second.device, False)]
        assert resolve_port("vboard") == first.device
        # One flash, one board: another asked for the first one's is refused.
        with pytest.raises(VirtualBoardError, match="the flash .*vboard-flash is in use by another virtual "
                                                      "board on %s: give this one its own" % first.device):
            VirtualBoard(firmware=firmware, flash=first.flash).start()
        # "No board found" says where the virtual ones are (no USB serial port here).
        try:
            find_port()
        except BoardError as e:
            assert "a virtual board runs (%s, %s): pass --port vboard" % (first.device, second.device) in str(e)
        first.stop()
        assert not os.path.lexists(state_dir / "vboard-flash.tty")
        assert resolve_port("vboard") == second.device   # the one that runs
    with pytest.raises(BoardError, match="no virtual board is running"):
        resolve_port("vboard")


def test_a_board_that_cannot_start_exits_2(tmp_path, virtual_only):
    proc = subprocess.run([sys.executable, "-m", "heaptrack_host.vboard", "--firmware", str(tmp_path / "none"),
                           "--flash", str(tmp_path / "flash")], capture_output=True, text=True, timeout=60,
                          cwd=str(REPO))
    assert proc.returncode == 2, proc
    assert proc.stderr.startswith("vboard: no host firmware at ") and proc.stderr.count("\n") == 1
