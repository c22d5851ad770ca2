"""The typed stubs of the on-board API (heaptrack_host/stubs): a type checker accepts
the example and README's calls with them, and they name what the board has, no more,
no less (a stubtest for a module that lives on a board)."""
import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from board_code import run
from test_module import README_PRELUDE, readme_module_code

REPO = Path(__file__).resolve().parents[1]
STUB = REPO / "heaptrack_host" / "stubs" / "heaptrack" / "__init__.pyi"

pytest.importorskip("mypy", reason="mypy is in the test extras (pip install -e .[test])")


def mypy(*args, cwd=REPO):
    # No cache (--cache-dir=/dev/null, mypy's way): suites may run at the same time.
    proc = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir=/dev/null", "--config-file",
                           str(REPO / "mypy.ini")] + [str(a) for a in args],
                          capture_output=True, text=True, cwd=str(cwd), timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


def test_the_example_type_checks():
    rc, out = mypy(REPO / "examples" / "leak_demo.py")
    assert rc == 0, out


def test_readme_calls_type_check(tmp_path):
    typed = README_PRELUDE.replace("def func():", "def func() -> None:") \
        .replace("readme_done = []", "readme_done: list[int] = []") \
        .replace("def workload(arg):", "def workload(arg: int) -> None:")
    script = tmp_path / "readme_calls.py"
    script.write_text(typed + "\n".join(readme_module_code()) + "\n", encoding="utf-8")
    rc, out = mypy("--strict", script, cwd=tmp_path)
    assert rc == 0, out


def test_a_misuse_is_caught(tmp_path):
    script = tmp_path / "misuse.py"
    script.write_text("import heaptrack\nheaptrack.malloc('64', cap=heaptrack.CAP_8BIT)\n"
                      "heaptrack.task_stats()[0].nmae\n", encoding="utf-8")
    rc, out = mypy(script, cwd=tmp_path)
    assert rc == 1, out
    assert 'Unexpected keyword argument "cap" for "malloc"' in out
    assert 'Argument 1 to "malloc" has incompatible type "str"' in out
    assert '"TaskStat" has no attribute "nmae"' in out


def stub_names():
    """Public module-level names and, per class, its public attributes, from the stub."""
    tree = ast.parse(STUB.read_text(encoding="utf-8"))
    module, classes = set(), {}

    def public(name):
        return not name.startswith("_")

    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            name = node.name
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            name = node.target.id
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
        else:
            continue
        if isinstance(node, ast.ClassDef):
            members = set()
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    members.add(item.name)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    members.add(item.target.id)
            classes[name] = sorted(m for m in members if public(m))
        if public(name):
            module.add(name)
    return sorted(module), classes


@pytest.mark.usefixtures("from_power_on")
def test_stubs_name_what_the_board_has(board):
    on_board = run(board, """
def pub(o):
    return sorted(n for n in dir(o) if not n.startswith('_'))
me = heaptrack.current_task()
a = heaptrack.malloc(16)
s = heaptrack.snapshot()
t = s.task(me)
heaptrack.free(a)
d = heaptrack.snapshot().compare_to(s)
td = d.task(me)
r = heaptrack.check_leaks(lambda: None, rounds=1)
heaptrack.clear_failures()
err(heaptrack.malloc, 64 * 1024 * 1024)
info = heaptrack.heap_info()
fs = info.failures
heaptrack.clear_failures()
c0 = heaptrack.gc_census()
c = heaptrack.gc_census()
cd = c.compare_to(c0)
ch = heaptrack.gc_holders(s)
ho = heaptrack.gc_holders('Snapshot', 1)
ev = heaptrack.gc_events()
print({'Census': pub(c), 'TypeStat': pub(c.types[0]), 'CensusDiff': pub(cd), 'TypeStatDiff': pub(cd.stats[0]),
       'Chain': pub(ch), 'Link': pub(ch.links[0]), 'Holders': pub(ho), 'GcEvents': pub(ev), 'GcEvent': pub(ev[0]),
       'module': pub(heaptrack), 'TaskStat': pub(t), 'HeapStat': pub(t.heaps[0]), 'Snapshot': pub(s),
       'Diff': pub(d), 'TaskDiff': pub(td), 'HeapDiff': pub(td.heaps[0]), 'LeakCheck': pub(r),
       'HeapInfo': pub(info), 'Statistic': pub(s.statistics()[0]), '_Region': pub(info.regions[0]),
       '_GCHeap': pub(info.gc), '_GCArea': pub(info.gc_areas[0]), '_Records': pub(info.records),
       'Failures': pub(fs), 'Failure': pub(fs[0]), '_FailureHeap': pub(fs[0].heaps[0])})
""")
    module, classes = stub_names()
    assert module == on_board.pop("module")
    for cls, names in on_board.items():
        if cls.startswith("_"):
            # Named tuples on the board: their fields (dir() may add tuple methods).
            assert set(classes[cls]) <= set(names), cls
        else:
            assert classes[cls] == names, cls


def test_installed_stubs_need_no_configuration(tmp_path, request):
    # pip install of the project puts the stubs in site-packages as the PEP 561 stub
    # package heaptrack-stubs: mypy finds them there with no configuration at all,
    # and catches a wrong call (pyright finds the same package).
    # A wheel is built in the checkout's build/python: once per make test, by the
    # session on build/host's firmware (the suite on the hooks tracker runs at the
    # same time and would build in the same place).
    if Path(request.config.getoption("--firmware")).resolve() != (REPO / "build" / "host" / "micropython").resolve():
        pytest.skip("built once per make test, by the session on build/host's firmware")
    wheels = tmp_path / "wheels"
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(wheels), str(REPO)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (wheel,) = wheels.glob("heaptrack_host-*.whl")
    env = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True, timeout=120)
    python = env / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", site, str(wheel)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (Path(site) / "heaptrack-stubs" / "__init__.pyi").is_file()
    project = tmp_path / "project"
    project.mkdir()
    (project / "board.py").write_text("import heaptrack\nh: int = heaptrack.start_task('w', lambda: None)\n"
                                      "heaptrack.malloc('64', cap=heaptrack.CAP_8BIT)\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "--python-executable", str(python),
                           "board.py"], capture_output=True, text=True, cwd=str(project), timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert 'Unexpected keyword argument "cap" for "malloc"' in out
    assert 'Argument 1 to "malloc" has incompatible type "str"' in out
    assert "heaptrack" not in out.split("board.py:3")[0]   # the import itself is found


def test_micropython_time_stub_is_written_where_checkers_look(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "heaptrack_host.stubs", "--time", str(tmp_path / "typings")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    (tmp_path / "board.py").write_text("import time\ntime.sleep_ms(5)\nt: int = time.ticks_ms()\n", encoding="utf-8")

    def bare_mypy(**env):
        # mypy with no configuration file at all
        proc = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "board.py"], capture_output=True,
                              text=True, cwd=str(tmp_path), timeout=300, env=dict(os.environ, **env))
        return proc.returncode, proc.stdout + proc.stderr

    rc, out = bare_mypy()
    assert rc == 1 and 'has no attribute "sleep_ms"' in out   # the standard library's time, without it
    rc, out = bare_mypy(MYPYPATH="typings")
    assert rc == 0, out
