"""The fleet set-up against a real Prometheus server (Debian's `prometheus`).

Two virtual boards run the leak demo: one serves its own /metrics
(examples/metrics_server.py, on the host's sockets as a board on Wi-Fi would on
its own), the other is read by `mpheaptrack exporter` over its serial port. A
Prometheus process scrapes both with contrib/prometheus's configuration and
alerting rules, their durations scaled from minutes to seconds; the test asks
Prometheus's HTTP API what it saw. promtool (from the same package) runs the
rules' own unit tests. Needs the `prometheus` package (.ci/run installs it);
only on virtual boards.
"""
import json
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from heaptrack_host.connection import Connection

from test_exporter import free_port, start_exporter, stop, wait_until

REPO = Path(__file__).resolve().parents[1]
CONTRIB = REPO / "contrib" / "prometheus"

# The demo's period and rounds: the leaking task leaks a block a period and is
# deleted after three; the whole demo takes about six periods.
DEMO = "period_s=1.5, rounds=4"
SCRAPE = "1s"
EVALUATE = "500ms"
# The board-side runner: waits for the file `go` (the test makes it in the
# board's flash directory once Prometheus scrapes), runs the demo, makes `done`,
# and stays alive: a runner that ended would be a deleted task, holding a GC
# heap area if it grew MicroPython's heap, which is the very leak the alert is about.
RUNNER = """
import heaptrack, os, time
def _demo_runner():
    while 'go' not in os.listdir():
        time.sleep_ms(50)
    import leak_demo
    leak_demo.main(%s)
    open('done', 'w').close()
    while True:
        time.sleep(1)
heaptrack.start_task('demo', _demo_runner)
""" % DEMO


def need(program):
    path = shutil.which(program)
    if path is None:
        pytest.fail("%s is not installed: apt-get install prometheus (Debian's Prometheus server; "
                    ".ci/run installs it)" % program, pytrace=False)
    return path


def scaled_rules(path):
    """The shipped rules with every duration's minutes made seconds (in expr and for)."""
    rules = yaml.safe_load(path.read_text(encoding="utf-8"))
    minutes = re.compile(r"\b(\d+)m\b")
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule["expr"] = minutes.sub(r"\1s", rule["expr"])
            if "for" in rule:
                rule["for"] = minutes.sub(r"\1s", rule["for"])
    return rules


def prometheus_config(board_target, exporter_target, rules_file):
    """The shipped configuration with the test's targets, scrape interval and rules."""
    config = yaml.safe_load((CONTRIB / "prometheus.yml").read_text(encoding="utf-8"))
    config["global"].update(scrape_interval=SCRAPE, scrape_timeout=SCRAPE, evaluation_interval=EVALUATE)
    config["rule_files"] = [str(rules_file)]
    targets = {"heaptrack": board_target, "heaptrack-exporter": exporter_target}
    assert sorted(job["job_name"] for job in config["scrape_configs"]) == sorted(targets)
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": [targets[job["job_name"]]]}]
    return config


class Prometheus:
    """A Prometheus server process and its HTTP API."""

    def __init__(self, config, workdir):
        self.port = free_port()
        config_file = workdir / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
        self.log = workdir / "prometheus.log"
        self.proc = subprocess.Popen(
            [need("prometheus"), "--config.file=%s" % config_file, "--storage.tsdb.path=%s" % (workdir / "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port],
            stdout=subprocess.DEVNULL, stderr=self.log.open("wb"))
        wait_until("Prometheus to be ready (log: %s)" % self.log, self.ready)

    def ready(self):
        assert self.proc.poll() is None, "prometheus exited:\n" + self.log.read_text(errors="replace")[-3000:]
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % self.port, timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def api(self, path, **params):
        url = "http://127.0.0.1:%d/api/v1/%s?%s" % (self.port, path, urllib.parse.urlencode(params))
        with urllib.request.urlopen(url, timeout=10) as r:
            answer = json.load(r)
        assert answer["status"] == "success", answer
        return answer["data"]

    def query(self, expr):
        """[(labels, value)] of an instant query."""
        return [(r["metric"], float(r["value"][1])) for r in self.api("query", query=expr)["result"]]

    def series(self, expr, start, end):
        """[(labels, [values])] of a range query, a point a second."""
        data = self.api("query_range", query=expr, start=start, end=end, step=1)
        return [(r["metric"], [float(v) for t, v in r["values"]]) for r in data["result"]]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def prepare(board, *code):
    """Copies the demo and the server to the board and runs code there, leaving its tasks running."""
    board.put(REPO / "examples" / "leak_demo.py", "leak_demo.py")
    board.put(REPO / "examples" / "metrics_server.py", "metrics_server.py")
    with Connection(board.device) as conn:
        for c in code:
            conn.exec(c)


def test_shipped_rules_pass_their_unit_tests():
    out = subprocess.run([need("promtool"), "test", "rules", "heaptrack-rules.test.yml"], cwd=CONTRIB,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


def test_prometheus_sees_the_leak_on_a_board_and_through_the_exporter(vboard_factory, tmp_path):
    need("prometheus")
    on_wifi, on_serial = vboard_factory(), vboard_factory()
    port = free_port()
    prepare(on_wifi, "import metrics_server\nmetrics_server.start(%d, '127.0.0.1')" % port, RUNNER)
    prepare(on_serial, RUNNER)
    exporter, exporter_target = start_exporter(tmp_path / "exporter.log", "rack1=" + on_serial.device)
    rules = tmp_path / "heaptrack-rules.yml"
    rules.write_text(yaml.safe_dump(scaled_rules(CONTRIB / "heaptrack-rules.yml")), encoding="utf-8")
    since = time.time()
    prometheus = Prometheus(prometheus_config("127.0.0.1:%d" % port, exporter_target, rules), tmp_path)
    try:
        wait_until("Prometheus to scrape both boards", lambda: sorted(
            labels["job"] for labels, v in prometheus.query("heaptrack_task_current_bytes{task='mp_task'}"))
            == ["heaptrack", "heaptrack-exporter"])
        started = time.time()
        for board in (on_wifi, on_serial):
            (board.vboard.flash / "go").touch()
        for board in (on_wifi, on_serial):
            wait_until("the demo to end on %s" % board.device, (board.vboard.flash / "done").exists, timeout=120)
        firing = 'ALERTS{alertname="HeaptrackDeletedTaskHoldsMemory",alertstate="firing"}'
        wait_until("the leak's alert to fire for both boards", lambda: sorted(
            (labels["job"], labels["task"]) for labels, v in prometheus.query(firing)) == [
            ("heaptrack", "leaking_task"), ("heaptrack-exporter", "leaking_task")])
        end = time.time()
        # Every alert that was pending or firing at any time: the leak's only. (A
        # scrape that a loaded machine makes miss its second can make the board-down
        # alert pending, never firing: it needs 5 s of them.)
        seen = [(l["alertname"], l["alertstate"], l["job"], l.get("task")) for l, v in
                prometheus.query("max_over_time(ALERTS[%ds])" % (end - since + 60))]
        assert sorted(a for a in seen if a[:2] != ("HeaptrackBoardDown", "pending")) == sorted(
            (name, state, job, "leaking_task") for name in ["HeaptrackDeletedTaskHoldsMemory"]
            for state in ("pending", "firing") for job in ("heaptrack", "heaptrack-exporter"))
        for job in ("heaptrack", "heaptrack-exporter"):
            check_series(prometheus, job, started, end)
        # Behind the exporter, every series carries its board label.
        assert {l.get("board") for l, v in prometheus.query('{job="heaptrack-exporter",__name__=~"heaptrack_.+"}')
                } == {"rack1"}
    finally:
        prometheus.stop()
        stop(exporter)


def check_series(prometheus, job, start, end):
    """The leaking task's series rises and ends deleted holding what it leaked; the other's
    returns to zero (its peak says it held memory)."""
    def of(task, metric="current"):
        return {l["status"]: values for l, values in prometheus.series(
            'heaptrack_task_%s_bytes{job="%s",task="%s"}' % (metric, job, task), start, end)}

    leaking, no_leak = of("leaking_task"), of("no_leak_task")
    assert set(leaking) == set(no_leak) == {"alive", "deleted"}, (job, leaking, no_leak)
    alive = leaking["alive"]
    assert alive[-1] > alive[0] > 0, (job, alive)
    assert leaking["deleted"][-1] >= alive[-1], (job, leaking)
    assert no_leak["deleted"][-1] == 0 and set(no_leak["alive"][-2:]) == {0}, (job, no_leak)
    assert max(max(values) for values in of("no_leak_task", "peak").values()) > 0, job
