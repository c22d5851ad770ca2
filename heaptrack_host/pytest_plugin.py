"""pytest plugin: fail a test when a script leaks ESP-IDF heap memory on a board.

Installed with heaptrack-host (entry point ``pytest11``: ``heaptrack``); nothing
to configure. In a test::

    def test_my_driver_does_not_leak(heaptrack_board):
        heaptrack_board.assert_no_leak("tests/board/driver_cycle.py", runs=5)

``heaptrack_board`` is a virtual board (the heaptrack host firmware behind a
pseudo-terminal, one per test session, started the first time a test asks for
it) unless ``--heaptrack-port DEV`` names a real board. Options:

    --heaptrack-port=DEV        a board with heaptrack firmware, as mpheaptrack's
                                --port takes it: a device path, auto, a0, u0, c0,
                                id:SERIAL, port:PATH, vboard (a running
                                `mpheaptrack vboard`)
    --heaptrack-firmware=PATH   host firmware for the virtual board (default:
                                $HEAPTRACK_FIRMWARE, else the heaptrack checkout's
                                build/host/micropython when run from one, else the
                                firmware installed with the package: heaptrack_host.paths)
    --heaptrack-hard-reset      hard-reset the board before each check (from
                                power-on: no records of earlier tasks)

A board that cannot be reached (or a virtual board that cannot start) is one
error for the session, before any test runs, not a failure per test.

``assert_no_leak(script, runs=5, warmup=1, tolerance=0)`` runs the script
``warmup`` times, then ``runs`` times, on one interpreter (no reset in
between, so statistics carry over), and reads every task's memory after
each run with ``heaptrack.dump()``. Tasks are grouped by name (a script that
starts a fresh task per run is judged across runs; deleted tasks still count
what they never freed); MicroPython GC heap areas are left out. The verdict is
the one every heaptrack tool gives (heaptrack_host.verdict): LEAK when a task
name's memory grew by more than ``tolerance`` bytes in every run, or when it was
deleted while still holding more than ``tolerance`` bytes; HELD when it was
deleted, holding memory, before the check began. A LEAK fails the test with a
table of every task's growth per run and the blocks the leaking task allocated
in the last run and still holds. A HELD is no leak of the script checked (an
earlier script's task died holding that memory): its row says HELD, and the
session's summary has a warning (HeldWarning) naming it;
``--heaptrack-hard-reset`` (or ``hard_reset=True``) starts each check from
power-on, with no such task. ``check_leak`` returns the same verdicts without
failing.

Inside MicroPython's GC heap, ``assert_no_gc_growth(script, runs=5, warmup=1,
tolerance=0)`` runs the script the same way, with a census of the GC heap by
Python type (``heaptrack.gc_census()``, after a collection) just before and just
after each run, and fails the test when a type's bytes grew by more than
``tolerance`` in every run: a module's cache, a list a driver appends to. The
failure has a table of those types' growth per run and who holds a sample of
their objects (``heaptrack.gc_holders()``: ``mymodule.cache -> dict['k3'] ->
bytes (64 B)``). Each run's script has a namespace of its own, as ``mpremote
run`` gives it, so what it keeps in its own globals goes with it; what grows is
held from elsewhere (an imported module, a running task). ``check_gc_growth``
returns the report (``GcGrowthReport``) without failing.

The plugin only adds options and fixtures: no board is started or opened
unless a test uses ``heaptrack_board``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

from .gc_growth import GcGrowthError, GcGrowthReport
from .survivors import survivors
from .trend import aligned_table, runs_words

if False:  # typing only
    from .verdict import Verdict  # noqa: F401

__all__ = ["HeaptrackBoard", "LeakReport", "LeakError", "HeldWarning", "assert_no_leak", "GcGrowthReport",
           "GcGrowthError", "assert_no_gc_growth"]


def pytest_addoption(parser):
    group = parser.getgroup("heaptrack", "heaptrack: ESP-IDF heap leak checks on a board")
    group.addoption("--heaptrack-port", default=None, metavar="DEV",
                    help="board (with heaptrack firmware) for the heaptrack_board fixture, as mpheaptrack's "
                    "--port takes it: a device path, auto, a0 (/dev/ttyACM0), u0 (/dev/ttyUSB0), c0, "
                    "id:SERIAL, port:PATH, vboard (a running `mpheaptrack vboard`); default: a virtual board "
                    "of the session's own")
    group.addoption("--heaptrack-hard-reset", action="store_true",
                    help="hard-reset the board before each leak check: from power-on, with no records of "
                    "earlier tasks")
    group.addoption("--heaptrack-firmware", default=None, metavar="PATH",
                    help="host firmware for the virtual board (default: $HEAPTRACK_FIRMWARE, else the "
                    "heaptrack checkout's build/host/micropython, else the one installed with heaptrack-host)")


class LeakError(AssertionError):
    """A script's memory kept growing; str() is the readable table."""


class HeldWarning(UserWarning):
    """A check found a task deleted before it began still holding memory (HELD): no leak
    of the script checked, but memory nothing frees through that task any more."""


@dataclass
class LeakReport:
    script: str
    runs: int
    warmup: int
    tolerance: int
    totals: List[Dict[str, int]]  # after the warm-up runs, then after each run: name -> bytes
    leaks: List[str]  # names whose verdict (verdict.judge) is LEAK, most growth first
    new_blocks: Dict[str, List[Tuple[int, int]]] = field(default_factory=dict)  # leaks' blocks from the last run
    output: str = ""  # the last run's output
    verdicts: Dict[str, "Verdict"] = field(default_factory=dict)  # name -> verdict.Verdict

    @property
    def held(self) -> List[str]:
        """Names whose verdict is HELD: deleted, holding memory, before the check began."""
        return sorted(n for n, v in self.verdicts.items() if v.word == "HELD")

    @property
    def ok(self) -> bool:
        """The script leaks nothing (a HELD is an earlier script's task: see held)."""
        return not self.leaks

    def growth(self, name: str) -> List[int]:
        from .trend import growth_per_run
        return growth_per_run([t.get(name, 0) for t in self.totals])

    def table(self) -> str:
        """Every task's bytes before the runs and growth in each run."""
        names = []
        for t in self.totals:
            names.extend(n for n in t if n not in names)
        names.sort(key=lambda n: (n not in self.leaks, -sum(self.growth(n)), n))
        headers = ["TASK", "BEFORE"] + ["RUN %d" % (i + 1) for i in range(self.runs)] + ["VERDICT"]
        rows = []
        for name in names:
            growth = self.growth(name)
            v = self.verdicts.get(name)
            verdict = str(v) if v is not None else "ok"
            rows.append([name, str(self.totals[0].get(name, 0))] + ["%+d" % g if g else "0" for g in growth]
                        + [verdict])
        return aligned_table(headers, rows)

    def __str__(self) -> str:
        warm = " (after %d warm-up run%s)" % (self.warmup, "" if self.warmup == 1 else "s") if self.warmup else ""
        if self.ok:
            head = "heaptrack: no leak in %s of %s%s" % (runs_words(self.runs), self.script, warm)
        else:
            head = "heaptrack: LEAK in %s over %s of %s%s, bytes per task:" % (
                ", ".join(self.leaks), runs_words(self.runs), self.script, warm)
        parts = [head, "", self.table()]
        for name in self.leaks:
            blocks = self.new_blocks.get(name, [])
            if blocks:
                parts += ["", "blocks %s allocated in run %d and still holds:" % (name, self.runs)]
                parts += ["  ALLOC 0x%x, SIZE %d" % b for b in blocks[:20]]
                if len(blocks) > 20:
                    parts.append("  ... and %d more" % (len(blocks) - 20))
        if self.held:
            parts += ["", self.held_note()]
        return "\n".join(parts)

    def held_note(self) -> str:
        """What HELD says here, in one sentence."""
        return ("HELD: %s, deleted before these runs of %s, still hold%s memory: no leak of these runs (an "
                "earlier script's task died holding it, or handed it to a task still using it); from power-on "
                "no such task is left: --heaptrack-hard-reset, or check_leak(..., hard_reset=True)"
                % (", ".join(self.held), self.script, "s" if len(self.held) == 1 else ""))


class HeaptrackBoard:
    """A board for leak checks; each call opens the port, does its work and leaves the board at its REPL.
    hard_reset: check_leak's default (--heaptrack-hard-reset)."""

    def __init__(self, device: str, vboard=None, hard_reset: bool = False):
        self.device = device
        self.vboard = vboard
        self.virtual = vboard is not None
        self.hard_reset = hard_reset

    def __repr__(self):
        return "<HeaptrackBoard %s%s>" % (self.device, " (virtual)" if self.virtual else "")

    def connect(self):
        """A connection.Connection (context manager) to this board."""
        from .connection import Connection
        return Connection(self.device)

    def exec(self, code: str, timeout: float = 60) -> str:
        """Runs code on the board (no reset); its output."""
        with self.connect() as conn:
            return conn.exec(code, timeout=timeout)

    def dump(self, blocks: bool = True):
        """heaptrack.dump() of the board, parsed (heaptrack_host.dump.Dump)."""
        with self.connect() as conn:
            return conn.dump(blocks=blocks)

    def check_leak(self, script=None, *, code: Optional[str] = None, runs: int = 5, warmup: int = 1,
                   tolerance: int = 0, reset: bool = True, hard_reset: Optional[bool] = None,
                   timeout: float = 60) -> LeakReport:
        """Runs a local script (path) or code warmup + runs times and reports growing tasks.
        reset: soft-reset first; hard_reset: hard-reset first (default: --heaptrack-hard-reset)."""
        from .verdict import judge
        if (script is None) == (code is None):
            raise TypeError("give a script path or code=, not both")
        if runs < 1 or warmup < 0 or tolerance < 0:
            raise ValueError("runs must be >= 1, warmup and tolerance >= 0")
        if code is None:
            path = Path(script)
            code = path.read_text(encoding="utf-8")
            name = path.name
        else:
            name = "<code>"
        if hard_reset is None:
            hard_reset = self.hard_reset
        with self.connect() as conn:
            if hard_reset:
                conn.hard_reset()
            elif reset:
                conn.soft_reset()
            before = set(conn.dump(blocks=False).totals_by_name())   # the names there before any run
            output = ""
            for _ in range(warmup):
                output = _run(conn, code, name, timeout, "warm-up run")
            previous = conn.dump()
            totals = [previous.totals_by_name(gc_areas=False)]
            last = previous
            for i in range(runs):
                output = _run(conn, code, name, timeout, "run %d" % (i + 1))
                previous, last = last, conn.dump()
                totals.append(last.totals_by_name(gc_areas=False))
        names = set().union(*totals)
        growth_of = {n: [t.get(n, 0) for t in totals] for n in names}
        # The one verdict (verdict.py), over observations taken after each run.
        alive_at_end = {n: any(t.alive for t in last.tasks if t.name == n) if any(t.name == n for t in last.tasks)
                        else None for n in names}
        verdicts = {n: judge(list(range(len(totals))), growth_of[n], alive_at_end[n], runs=True,
                             tolerance=tolerance, appeared=n not in before) for n in names}
        leaks = sorted((n for n in names if verdicts[n].leak),
                       key=lambda n: (-(growth_of[n][-1] - growth_of[n][0]), n))
        new_blocks = {n: survivors(_blocks_of(previous, n), _blocks_of(last, n)) for n in leaks}
        return LeakReport(name, runs, warmup, tolerance, totals, leaks, new_blocks, output, verdicts)

    def check_gc_growth(self, script=None, *, code: Optional[str] = None, runs: int = 5, warmup: int = 1,
                        tolerance: int = 0, reset: bool = True, holders: int = 2,
                        timeout: float = 60) -> GcGrowthReport:
        """Runs a local script (path) or code warmup + runs times, each between two censuses of the
        GC heap, and reports the Python types whose bytes grew by more than tolerance in every run,
        with the chains of up to `holders` of their objects. reset: soft-reset first."""
        from .gc_growth import check_gc_growth
        if (script is None) == (code is None):
            raise TypeError("give a script path or code=, not both")
        if code is None:
            path = Path(script)
            code = path.read_text(encoding="utf-8")
            name = path.name
        else:
            name = "<code>"
        with self.connect() as conn:
            if reset:
                conn.soft_reset()
            return check_gc_growth(conn, code, name, runs=runs, warmup=warmup, tolerance=tolerance,
                                   holders=holders, timeout=timeout)

    def assert_no_gc_growth(self, script=None, **kwargs) -> GcGrowthReport:
        """check_gc_growth(), failing the test with the table when a Python type kept growing."""
        __tracebackhide__ = True
        report = self.check_gc_growth(script, **kwargs)
        if not report.ok:
            raise GcGrowthError(str(report))
        return report

    def assert_no_leak(self, script=None, **kwargs) -> LeakReport:
        """check_leak(), failing the test with the table when a task keeps growing; a warning
        (HeldWarning) for a HELD."""
        __tracebackhide__ = True
        import warnings
        report = self.check_leak(script, **kwargs)
        if not report.ok:
            raise LeakError(str(report))
        if report.held:
            warnings.warn(HeldWarning("heaptrack: " + report.held_note()), stacklevel=2)
        return report


def _run(conn, code: str, name: str, timeout: float, which: str) -> str:
    from .connection import ScriptError
    try:
        return conn.run_script(code, name, timeout)
    except ScriptError as e:
        raise AssertionError("%s raised on the board in its %s:\n%s" % (name, which, e.traceback.rstrip())) from None


def _blocks_of(dump, name: str) -> set:
    return {b for t in dump.tasks if t.name == name for h in t.heaps for b in h.blocks}


def assert_no_leak(board: HeaptrackBoard, script=None, **kwargs) -> LeakReport:
    """assert_no_leak(heaptrack_board, "script.py", runs=5): see HeaptrackBoard.assert_no_leak."""
    __tracebackhide__ = True
    return board.assert_no_leak(script, **kwargs)


def assert_no_gc_growth(board: HeaptrackBoard, script=None, **kwargs) -> GcGrowthReport:
    """assert_no_gc_growth(heaptrack_board, "script.py", runs=5): see HeaptrackBoard.assert_no_gc_growth."""
    __tracebackhide__ = True
    return board.assert_no_gc_growth(script, **kwargs)


def _firmware(config) -> Path:
    """The host firmware (paths.find_firmware); pytest.fail naming the options if there is none."""
    from . import paths
    try:
        return paths.find_firmware(config.getoption("--heaptrack-firmware"), option="--heaptrack-firmware=PATH")
    except paths.FirmwareNotFound as e:
        pytest.exit("heaptrack: %s; or use --heaptrack-port=DEV for a real board" % e,
                    returncode=pytest.ExitCode.USAGE_ERROR)


def pytest_collection_finish(session):
    """Before any test runs, when one uses heaptrack_board: the board answers (or the
    virtual board's firmware is there), else one error for the whole session."""
    if session.config.option.collectonly or not any(
            "heaptrack_board" in getattr(item, "fixturenames", ()) for item in session.items):
        return
    port = session.config.getoption("--heaptrack-port")
    if port:
        from .connection import BoardError, Connection, resolve_port
        try:
            device = resolve_port(port)
            with Connection(device):
                pass
        except BoardError as e:
            pytest.exit("heaptrack: --heaptrack-port=%s: %s" % (port, e), returncode=pytest.ExitCode.USAGE_ERROR)
        session.config._heaptrack_device = device
    else:
        _firmware(session.config)


@pytest.fixture(scope="session")
def _heaptrack_session_board(request, tmp_path_factory):
    hard_reset = request.config.getoption("--heaptrack-hard-reset")
    port = request.config.getoption("--heaptrack-port")
    if port:
        device = getattr(request.config, "_heaptrack_device", None)
        if device is None:   # (checked before the session when a collected test uses it)
            from .connection import BoardError, resolve_port
            try:
                device = resolve_port(port)
            except BoardError as e:
                pytest.exit("heaptrack: --heaptrack-port=%s: %s" % (port, e), returncode=pytest.ExitCode.USAGE_ERROR)
        yield HeaptrackBoard(device, hard_reset=hard_reset)
        return
    from .vboard import VirtualBoard, VirtualBoardError
    firmware = _firmware(request.config)
    try:
        vb = VirtualBoard(firmware=firmware, flash=tmp_path_factory.mktemp("heaptrack-vboard") / "flash").start()
    except VirtualBoardError as e:
        pytest.exit("heaptrack: %s" % e, returncode=pytest.ExitCode.USAGE_ERROR)
    try:
        yield HeaptrackBoard(vb.device, vb, hard_reset=hard_reset)
    finally:
        vb.stop()


@pytest.fixture
def heaptrack_board(_heaptrack_session_board) -> HeaptrackBoard:
    """The session's heaptrack board (virtual unless --heaptrack-port); a virtual board's firmware
    crash during the test fails it."""
    board = _heaptrack_session_board
    before = board.vboard.crashes if board.vboard else 0
    yield board
    if board.vboard and board.vboard.crashes != before:
        pytest.fail("heaptrack: the virtual board's firmware crashed during this test (%s); log: %s"
                    % (board.vboard.last_crash, board.vboard.log_path), pytrace=False)
