"""The pytest plugin (heaptrack_host.pytest_plugin), used from a small fresh project via pytester."""
import os
import textwrap

import pytest

pytest_plugins = ["pytester"]

# Board scripts of the sample project. Each run starts a task; the leaky one
# keeps 512 bytes per run, and ends (DELETED, still charged with them).
LEAKY = """\
import heaptrack, time

def work(done):
    heaptrack.malloc(512)
    scratch = heaptrack.malloc(2000)
    heaptrack.free(scratch)
    done.append(1)

done = []
heaptrack.start_task("leaky_worker", work, (done,))
while not done:
    time.sleep_ms(2)
time.sleep_ms(20)
print("leaky run done")
"""

CLEAN = """\
import heaptrack, time

def work(done):
    blocks = [heaptrack.malloc(n) for n in (100, 700, 3000)]
    for b in blocks:
        heaptrack.free(b)
    done.append(1)

done = []
heaptrack.start_task("clean_worker", work, (done,))
while not done:
    time.sleep_ms(2)
time.sleep_ms(20)
"""

TESTS = """\
from pathlib import Path

from heaptrack_host.pytest_plugin import assert_no_leak

HERE = Path(__file__).parent


def test_leaky(heaptrack_board):
    heaptrack_board.assert_no_leak(HERE / "leaky.py", runs=3)


def test_clean(heaptrack_board):
    # After test_leaky: its leaky_worker tasks are deleted and hold memory, HELD here
    # (a warning, no failure: clean.py leaks nothing).
    report = assert_no_leak(heaptrack_board, HERE / "clean.py", runs=3)
    assert report.ok and "clean_worker" in report.table()
    assert report.held == ["leaky_worker"] and report.verdicts["leaky_worker"].word == "HELD"


def test_clean_from_power_on(heaptrack_board):
    report = heaptrack_board.check_leak(HERE / "clean.py", runs=2, hard_reset=True)
    assert report.ok and report.held == [] and "leaky_worker" not in report.table()


def test_code_string_and_tolerance(heaptrack_board):
    code = "import heaptrack\\nheaptrack.malloc(16)\\n"
    assert not heaptrack_board.check_leak(code=code, runs=2).ok
    assert heaptrack_board.check_leak(code=code, runs=2, tolerance=64).ok


def test_broken_script(heaptrack_board):
    heaptrack_board.assert_no_leak(code="raise ValueError('broken on the board')", runs=2)


def test_without_the_fixture():
    assert True
"""


@pytest.fixture
def sample_project(pytester):
    pytester.makeini("[pytest]\n")  # a project of its own: its rootdir, not ours
    pytester.makefile(".py", leaky=LEAKY, clean=CLEAN)
    pytester.makepyfile(test_board=TESTS)
    return pytester


def board_args(request, board):
    # One token each: pytest takes a separate value for a path argument when it looks for the rootdir.
    # The inner run has a directory of its own: a firmware path relative to where pytest was
    # started is made absolute (pytester has changed the working directory by now).
    if board.virtual:
        firmware = os.path.join(request.config.invocation_params.dir, request.config.getoption("--firmware"))
        return ["--heaptrack-firmware=%s" % firmware]
    return ["--heaptrack-port=%s" % board.device]


def test_leaky_script_fails_with_a_table_clean_one_passes(sample_project, board, request):
    result = sample_project.runpytest_subprocess(*board_args(request, board), "-p", "no:cacheprovider",
                                                 timeout=180)
    result.assert_outcomes(passed=4, failed=2)
    result.stdout.fnmatch_lines(["*HeldWarning: heaptrack: HELD: leaky_worker, deleted before these runs of clean.py, "
                                 "still holds memory: no leak of these runs*"])
    result.stdout.fnmatch_lines([
        "*heaptrack: LEAK in leaky_worker over 3 runs of leaky.py (after 1 warm-up run)*",
        "*TASK*BEFORE*RUN 1*RUN 2*RUN 3*VERDICT*",
        "*leaky_worker*+5??*+5??*+5??*LEAK: deleted while holding 2??? B; +1??? B in 3 runs, more in every run*",
        "*blocks leaky_worker allocated in run 3 and still holds:*",
        "*ALLOC 0x*, SIZE 5??*",
        "*FAILED test_board.py::test_leaky - *LeakError*",
    ])
    result.stdout.fnmatch_lines(["*<code> raised on the board in its warm-up run:*",
                                 "*ValueError: broken on the board*"])
    assert not any("clean_worker" in line and "LEAK" in line for line in result.outlines)


def test_no_board_is_started_unless_the_fixture_is_used(pytester):
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_plain="def test_plain():\n    assert 1 + 1 == 2\n")
    result = pytester.runpytest_subprocess("--heaptrack-firmware=/nonexistent/micropython")
    result.assert_outcomes(passed=1)


def test_missing_firmware_is_one_session_error(pytester):
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_needs_board="def test_it(heaptrack_board):\n    pass\n"
                        "def test_too(heaptrack_board):\n    pass\n")
    result = pytester.runpytest_subprocess("--heaptrack-firmware=/nonexistent/micropython")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.assert_outcomes()   # no test ran, none failed on its own
    result.stdout.fnmatch_lines(["*heaptrack: no host firmware at /nonexistent/micropython (given with --heaptrack-firmware)*"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_an_unreachable_board_is_one_session_error(pytester):
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_needs_board="def test_it(heaptrack_board):\n    pass\n"
                        "def test_too(heaptrack_board):\n    pass\n")
    # A shortcut as mpheaptrack's --port takes it: u97 is /dev/ttyUSB97.
    result = pytester.runpytest_subprocess("--heaptrack-port=u97")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.assert_outcomes()
    result.stdout.fnmatch_lines(["*heaptrack: --heaptrack-port=u97: cannot open /dev/ttyUSB97: no such device, "
                                 "or it is busy or not accessible*"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_the_port_takes_the_cli_shortcuts(pytester, board):
    # --heaptrack-port goes through mpheaptrack's --port parser: port:PATH is one of
    # its shortcuts (as are auto, a0, u0, c0, id:SERIAL and vboard).
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_board="def test_it(heaptrack_board):\n"
                        "    assert heaptrack_board.device == %r\n"
                        "    assert heaptrack_board.exec('print(1 + 1)').strip() == '2'\n" % board.device)
    result = pytester.runpytest_subprocess("--heaptrack-port=port:%s" % board.device, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_options_are_prefixed(pytester):
    pytester.makeini("[pytest]\n")
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(["*--heaptrack-port=DEV*", "*--heaptrack-firmware=PATH*"])
    # The plugin's options never clash with a project's own --port / --firmware.
    pytester.makeconftest(textwrap.dedent("""
        def pytest_addoption(parser):
            parser.addoption("--port")
            parser.addoption("--firmware")
    """))
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    assert pytester.runpytest_subprocess("--port", "x", "--firmware", "y").ret == 0
