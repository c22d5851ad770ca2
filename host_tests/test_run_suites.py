"""`make test`'s runner (mk/run-suites.sh): every suite runs whatever the others did,
and the end says how each went."""
import subprocess
from pathlib import Path

RUNNER = Path(__file__).resolve().parents[1] / "mk" / "run-suites.sh"


def test_every_suite_runs_and_each_is_reported_at_the_end(tmp_path):
    ran = tmp_path / "ran"
    proc = subprocess.run([str(RUNNER),
                           "first", "echo first >> %s; exit 3" % ran,
                           "second", "echo second >> %s" % ran,
                           "third", "echo third >> %s; false" % ran],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert ran.read_text().split() == ["first", "second", "third"]   # none skipped after a failure
    summary = proc.stdout.split("== make test: every suite")[1].splitlines()[1:]
    assert [line.split()[0] for line in summary[:3]] == ["first", "second", "third"]
    assert "FAILED" in summary[0] and "exit status 3" in summary[0]
    assert "passed" in summary[1] and "FAILED" in summary[2]
    assert summary[3] == "make test: FAILED (see each failed suite's output above)"


def test_all_passed_says_so(tmp_path):
    proc = subprocess.run([str(RUNNER), "one", "true", "two", "true"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.rstrip().endswith("make test: all passed")
