"""The ``mpheaptrack`` command: watch, record and plot a board's heap use per task.

    mpheaptrack watch  [--port P | --vboard] [--interval S] [--run script.py] [--samples N | --once] [--gc-types N]
    mpheaptrack record [--port P | --vboard] --out run.jsonl [--interval S] [--duration S] [--run script.py]
                       [--gc-types N]
    mpheaptrack plot   run.jsonl [-o usage.png] [--html usage.html]
    mpheaptrack parse  [capture.txt] [--check]      (ESP-IDF report text -> JSON; stdin by default)
    mpheaptrack exporter --port [NAME=]DEV [--port ...] [--listen [HOST]:PORT]   (Prometheus's /metrics)
    mpheaptrack vboard [vboard options]            (the virtual board: heaptrack_host.vboard)

The same as ``python -m heaptrack_host``. Not called ``heaptrack``: that name is
KDE's heap profiler, installed as /usr/bin/heaptrack by Debian and others.

Exit status: 0 done; 1 the script run on the board raised; 2 the job could not
be done (no board, board without heaptrack firmware, wrong port, bad input, the
board went away), with one line on stderr saying why.

Layering as in mpremote: transport.py is the raw REPL (the one module that uses
mpremote), connection.py the board-level API above it (commands.py's place),
recording.py the model of what is sampled (and the recording file: its format,
writer and reader), verdict.py the one leak verdict, exposition.py
Prometheus's text format and exporter.py the /metrics server, this module the
commands and main.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

from . import trend, verdict
from .connection import BoardError, ScriptError, open_board
from .recording import Instances, RecordingError, RecordingWriter, Sample, TaskSeries, add_to_series, read_record

__all__ = ["main"]

PROG = "mpheaptrack"
WATCH_HISTORY = 3600  # samples per task that watch keeps for its trend and sparkline


class UsageError(Exception):
    """Bad input from the user: one line, exit status 2."""


# ---------------------------------------------------------------------------
# Shared bits


def _add_board_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("board")
    g.add_argument("-p", "--port", default=os.environ.get("HEAPTRACK_PORT"), metavar="DEV",
                   help="serial device of the board, or as mpremote takes it: auto, a0 (/dev/ttyACM0), "
                   "u0 (/dev/ttyUSB0), c0 (COM0), id:SERIAL, port:PATH; vboard: the running "
                   "`mpheaptrack vboard` (default: $HEAPTRACK_PORT, else auto)")
    g.add_argument("--vboard", action="store_true",
                   help="start a virtual board (the host firmware) for this command instead")
    g.add_argument("--firmware", default=None, metavar="PATH",
                   help="host firmware for --vboard (default: $HEAPTRACK_FIRMWARE, else the heaptrack "
                   "checkout's build/host/micropython, else the one installed with heaptrack-host)")
    g.add_argument("--no-reset", action="store_true",
                   help="with --run: do not soft-reset the board before running the script")
    g.add_argument("--hard-reset", action="store_true",
                   help="hard-reset the board first (machine.reset()): a run from zero, with no task "
                   "records, peaks or deleted tasks from before")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a number: %r" % text) from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be > 0, got %r" % text)
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a whole number: %r" % text) from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1, got %r" % text)
    return value


# The most types --gc-types asks for: every sample line carries them, and a line of
# a few dozen types is still one short write on a board.
GC_TYPES_MAX = 32


def _gc_types_count(text: str) -> int:
    value = _count(text)
    if value > GC_TYPES_MAX:
        raise argparse.ArgumentTypeError("at most %d, got %r" % (GC_TYPES_MAX, text))
    return value


def _add_gc_types_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--gc-types", type=_gc_types_count, default=0, metavar="N",
                   help="each sample also carries MicroPython's GC heap's N biggest Python types by bytes "
                   "(1 to %d; a census of the GC heap without a collection, on the board, per sample)"
                   % GC_TYPES_MAX)


def _read_script(path: Optional[str]) -> Optional[str]:
    if path is None:
        return None
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise UsageError("cannot read script %s: %s" % (path, e.strerror or e)) from None
    except UnicodeDecodeError:
        raise UsageError("script %s is not UTF-8 text" % path) from None


def _count_of(n: int, word: str) -> str:
    return "%d %s%s" % (n, word, "" if n == 1 else "s")


def _open(args):
    return open_board(args.port, vboard=args.vboard, firmware=args.firmware)


def _board_label(board) -> str:
    label = board.device
    if board.vboard is not None:
        label += " (virtual board)"
    elif board.machine:
        label += " (%s)" % board.machine
    return label


class _Collector:
    """The samples so far: how many, the last one, and each task's series (the last `keep`
    samples of each, when given), tasks of the same name kept apart (recording.Instances)."""

    def __init__(self, keep: Optional[int] = None):
        self.count = 0
        self.last: Optional[Sample] = None
        self.last_json: Optional[dict] = None
        self.keep = keep
        self._series: Dict[str, TaskSeries] = {}
        self._instances = Instances()
        self.failures: List[dict] = []   # the failed allocations seen since the first sample
        self._gc_events_seen: Optional[int] = None   # the highest GC heap event number recorded
        self.first_gc_types: Optional[Dict[str, int]] = None   # type -> bytes at the first sample carrying them

    def add(self, sample: Sample) -> List[dict]:
        """Takes a sample in; returns the failed allocations it is the first to carry."""
        self.count += 1
        self.last = sample
        self.failures.extend(sample.failures)
        if self.first_gc_types is None and sample.gc_types is not None:
            self.first_gc_types = {t["name"]: t["size"] for t in sample.gc_types}
        self.last_json = sample.to_json(self._instances.label(sample), self._gc_events_seen)
        # The board sends its newest few events with every sample: the first sample
        # records them (the GC heap's history so far), later ones only newer ones.
        self._gc_events_seen = max([e["number"] for e in sample.gc_events] + [self._gc_events_seen or 0])
        add_to_series(self._series, self.last_json, self.count == 1)
        if self.keep is not None:
            for name in self.last_json["tasks"]:
                s = self._series[name]
                if len(s.times) > self.keep:
                    # (the first sample stays: changes and peaks are since it)
                    for values in (s.times, s.current, s.peak, s.alive, s.gc):
                        del values[1]
        return sample.failures

    def series(self) -> Dict[str, TaskSeries]:
        return self._series

    def verdicts(self) -> Dict[str, verdict.Verdict]:
        return {name: s.verdict() for name, s in self._series.items()}


def _failure_line(sample: Sample, failure: dict) -> str:
    """A failed allocation the moment a sample brings it: the firmware's sentence."""
    return "%s: allocation failed (seen at %.1f s): %s" % (PROG, sample.t, failure["text"])


class _PythonErrors:
    """The lines of a script's output that are MicroPython's side of a failed allocation
    (a MemoryError, an OSError ENOMEM), whole lines from output that comes in pieces."""

    PATTERN = re.compile(r"MemoryError|\bENOMEM\b|\[Errno 12\]")

    def __init__(self):
        self._partial = ""

    def feed(self, text: str) -> List[str]:
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        return [line.strip() for line in lines if self.PATTERN.search(line)]


class _Script:
    """What became of the --run script, for headers and summaries."""

    def __init__(self, path: Optional[str]):
        self.path = path
        self.state = "running" if path else None  # running, ended, raised, stopped

    def describe(self) -> str:
        if not self.path:
            return ""
        return {"running": "running %s", "ended": "%s ended", "raised": "%s raised an error",
                "stopped": "%s stopped"}[self.state] % Path(self.path).name


def _sampling(board, args, script: Optional[str], on_sample, on_output, should_stop,
              after_script: bool, script_state: Optional[_Script] = None) -> Optional[str]:
    """Samples until should_stop() or Ctrl-C; with a script, while it runs, then (after_script)
    on until should_stop() or Ctrl-C. Returns the script's error output, if it raised."""
    if args.hard_reset:
        board.hard_reset()
    if script is not None:
        if not args.no_reset and not args.hard_reset:
            board.soft_reset()
        try:
            error = board.run_sampled(script, args.interval, on_sample, on_output, name=Path(args.run).name,
                                      should_stop=should_stop, gc_types=args.gc_types)
        except KeyboardInterrupt:  # a second Ctrl-C: stop the script and its tasks all the same
            if not args.no_reset:
                try:
                    board.soft_reset()
                except BoardError:
                    pass
            raise
        if script_state is not None:
            script_state.state = "raised" if error else "stopped" if board.script_interrupted else "ended"
        if board.script_interrupted and not args.no_reset:
            # Tasks the script started would go on without it: a soft reset ends them.
            board.soft_reset()
        if error or not after_script or board.script_interrupted:
            return error
        board.sleep(args.interval)
    next_at = time.monotonic()
    while not board.interrupted and not should_stop():
        on_sample(board.sample(args.gc_types))
        if should_stop():
            break
        next_at += args.interval
        board.sleep(max(0.0, next_at - time.monotonic()))
    return None


def _report_script_error(error: Optional[str]) -> int:
    if error:
        sys.stderr.write(error if error.endswith("\n") else error + "\n")
        sys.stderr.write("%s: the script raised an error on the board\n" % PROG)
        return 1
    return 0


# ---------------------------------------------------------------------------
# watch

VERDICT_STYLE = {verdict.LEAK: "bold red", verdict.HELD: "bold yellow", verdict.OK: "green"}


def _change(s: TaskSeries) -> str:
    """What the task's usage did while watched: +/- bytes (nothing for a deleted task that stayed flat)."""
    delta = s.change
    if not delta and not any(s.alive):
        return ""
    return ("+" if delta > 0 else "") + trend.format_bytes(delta)


def _quiet(s: TaskSeries, v: verdict.Verdict) -> bool:
    """A task deleted before watching began that holds nothing, did nothing since and is
    ok: the table folds such tasks into one line (a board with task churn has hundreds)."""
    return not s.appeared and not any(s.alive) and s.current[-1] == 0 and not s.change and v.word == verdict.OK


def _watch_table(collector: _Collector, width: int):
    """The table, sized for width columns: VERDICT comes right after TASK and never goes; HISTORY
    takes what is left (and goes first when there is none). Each LEAK's reason follows below it."""
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    series = collector.series()
    if not series:
        return Text("(no task has allocated ESP-IDF heap memory yet)", style="dim")
    verdicts = collector.verdicts()
    rows = []
    quiet = 0
    for name, s in series.items():
        v = verdicts[name]
        if _quiet(s, v):
            quiet += 1
            continue
        rows.append((name, v, "ALIVE" if s.alive[-1] else "DELETED", str(s.current[-1]), str(s.peaks_seen()[-1]),
                     _change(s), s))
    if not rows:
        rows.append(("", verdict.Verdict(verdict.OK, ""), "", "", "", "", TaskSeries("")))
    widths = [max(len(h), max(len(r[i].word if i == 1 else str(r[i])) for r in rows)) for i, h in
              enumerate(("TASK", "VERDICT", "STATUS", "CURRENT", "PEAK", "CHANGE"))]
    used = sum(widths) + 3 * len(widths)  # each column's padding and the gap rich keeps
    history = min(30, width - used - 6)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=False)
    table.add_column("TASK", no_wrap=True, overflow="ellipsis")
    table.add_column("VERDICT", no_wrap=True)
    table.add_column("STATUS", no_wrap=True)
    table.add_column("CURRENT", justify="right", no_wrap=True)
    table.add_column("PEAK", justify="right", no_wrap=True)
    table.add_column("CHANGE", justify="right", no_wrap=True)
    if history >= 5:
        table.add_column("HISTORY", no_wrap=True)
    for name, v, status, current, peak, change, s in rows:
        if not name:
            continue
        cells = [name, Text(v.word, style=VERDICT_STYLE.get(v.word, "dim")),
                 Text(status, style="" if status == "ALIVE" else "dim"), current, peak, change]
        if history >= 5:
            cells.append(Text(trend.sparkline(s.current, history), style="red" if v.leak else "cyan"))
        table.add_row(*cells)
    lines = [table]
    if quiet:
        lines.append(Text(" and %s holding nothing" % _count_of(quiet, "deleted task"), style="dim"))
    lines += [Text.assemble((" %s: " % name, "bold"), (v.reason, "red" if v.leak else "yellow"))
              for name, v in verdicts.items() if not v.ok]
    return Group(*lines) if len(lines) > 1 else table


def _heap_lines(sample: Optional[Sample]) -> str:
    if sample is None:
        return ""
    total = sum(r.get("total", 0) for r in sample.regions)
    text = "ESP-IDF heap: %s free of %s (%d region%s), largest block %s" % (
        trend.format_bytes(sample.total_free()), trend.format_bytes(total), len(sample.regions),
        "" if len(sample.regions) == 1 else "s", trend.format_bytes(sample.largest_free()))
    if sample.gc:
        text += "\nMicroPython GC heap: %s used of %s" % (
            trend.format_bytes(sample.gc.get("used", 0)), trend.format_bytes(sample.gc.get("total", 0)))
        if sample.gc_areas:
            text += " in %s in ESP-IDF's heap" % _count_of(len(sample.gc_areas), "area")
    rec = sample.records
    if rec is not None:
        text += "\nTask records: %d (%d of deleted tasks), %s; room for about %d more tasks" % (
            rec["tasks"], rec["deleted"], trend.format_bytes(rec["bytes"]), rec["tasks_left"])
        if rec["low"]:
            text += " -- WARNING: they have taken over half their room (heap_info() says more)"
    return text


def _gc_types_line(collector: _Collector) -> str:
    """The GC heap's biggest types (watch --gc-types), each with its change since the first
    sample that carried it (when it was among that sample's top types too)."""
    sample = collector.last
    if sample is None or not sample.gc_types:
        return ""
    first = collector.first_gc_types or {}
    parts = []
    for t in sample.gc_types:
        text = "%s %s" % (t["name"], trend.format_bytes(t["size"]))
        before = first.get(t["name"])
        if before is not None and t["size"] != before:
            text += " (%s%s)" % ("+" if t["size"] > before else "", trend.format_bytes(t["size"] - before))
        parts.append(text)
    return "MicroPython GC heap by type (no collection first): " + ", ".join(parts)


def _failure_lines(collector: _Collector) -> str:
    """The failed allocations: how many since power-on, how many while watched, the newest."""
    total = collector.last.failures_total if collector.last else None
    if not total:
        return ""
    text = "Failed ESP-IDF allocations: %d since power-on, %d while watched" % (total, len(collector.failures))
    if collector.failures:
        text += "; the newest: " + collector.failures[-1]["text"]
    else:
        text += " (heaptrack.failures() explains them)"
    return text


def _board_lost(error: BoardError, out_path: Optional[str] = None) -> int:
    msg = "%s: error: %s" % (PROG, error)
    if out_path:
        msg += "; the recording in %s ends there, marked so" % out_path
    sys.stderr.write(msg + "\n")
    return 2


def cmd_watch(args) -> int:
    from rich.console import Console, Group
    from rich.text import Text

    script = _read_script(args.run)
    limit = 1 if args.once else args.samples
    plain = limit is not None or not sys.stdout.isatty()
    console = Console(highlight=False, width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else 120)
    collector = _Collector(keep=WATCH_HISTORY)
    script_state = _Script(args.run)
    error = None

    with _open(args) as board:
        label = _board_label(board)

        def status(final=False):
            n = collector.count
            t = collector.last.t if collector.last else 0.0
            text = "%s watch: %s, sample %d%s at %.1f s, every %g s, changes and peaks since sample 1%s" % (
                PROG, label, n, " of %d" % limit if limit else "", t, args.interval,
                " (from a hard reset)" if args.hard_reset else "")
            if args.run:
                text += ", " + script_state.describe()
            if not plain and not final:
                text += " (Ctrl-C to stop)"
            return text

        def view(final=False):
            parts = [Text(status(final), style="bold"), _watch_table(collector, console.width),
                     Text(_heap_lines(collector.last), style="dim")]
            types = _gc_types_line(collector)
            if types:
                parts.append(Text(types))
            failed = _failure_lines(collector)
            if failed:
                parts.append(Text(failed, style="bold red"))
            return Group(*parts)

        def should_stop():
            return limit is not None and collector.count >= limit

        try:
            with board.ctrl_c_guard():
                if plain:
                    def on_sample(sample):
                        if should_stop():
                            return  # the script's last sample, after the limit
                        for failure in collector.add(sample):
                            console.print(Text(_failure_line(sample, failure), style="bold red"))
                        console.print(view())
                        console.print()

                    def on_output(text):
                        console.out(text, end="", highlight=False)

                    error = _sampling(board, args, script, on_sample, on_output, should_stop, True, script_state)
                else:
                    from rich.live import Live
                    with Live(view(), console=console, refresh_per_second=4, transient=False) as live:
                        def on_sample(sample):
                            if should_stop():
                                return
                            for failure in collector.add(sample):
                                live.console.print(Text(_failure_line(sample, failure), style="bold red"))
                            live.update(view())

                        def on_output(text):
                            live.console.out(text, end="", highlight=False)

                        try:
                            error = _sampling(board, args, script, on_sample, on_output, should_stop, True,
                                              script_state)
                        finally:
                            live.update(view(final=True))
        except BoardError as e:
            return _board_lost(e)
        interrupted = board.interrupted
    if interrupted:
        sys.stderr.write("%s: stopped; %s is back at its REPL, nothing of heaptrack's left running\n"
                         % (PROG, board.device))
    return _report_script_error(error)


# ---------------------------------------------------------------------------
# record


class _Progress:
    """Progress of a recording on stderr: a rich bar on a terminal, a line now and then otherwise."""

    def __init__(self, out_path: str, duration: Optional[float], limit: Optional[int]):
        self.out_path = out_path
        self.duration = duration
        self.limit = limit
        self.tty = sys.stderr.isatty()
        self.started = time.monotonic()
        self.last_line = 0.0
        self.collector = None
        self.progress = None
        if self.tty:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
            columns = [TextColumn("recording to {task.fields[path]}")]
            if duration or limit:
                columns.append(BarColumn())
            columns += [TimeElapsedColumn(), TextColumn("{task.fields[info]}")]
            # The script's output goes to stdout: above the bar when both are this terminal.
            self.progress = Progress(*columns, console=Console(stderr=True), transient=False,
                                     redirect_stdout=sys.stdout.isatty(), redirect_stderr=False)
            self.task = self.progress.add_task("record", total=duration or limit, path=out_path, info="")
            self.progress.start()

    def update(self, collector: _Collector) -> None:
        self.collector = collector
        n = collector.count
        elapsed = time.monotonic() - self.started
        if self.progress is not None:
            if elapsed - self.last_line >= 0.5 or n == 1:
                self.last_line = elapsed
                done = min(elapsed, self.duration) if self.duration else n
                self.progress.update(self.task, completed=done, info=self._info(collector))
        elif elapsed - self.last_line >= 5 or n == 1:
            self.last_line = elapsed
            sys.stderr.write("%s: recording to %s: %s, %.1f s\n" % (PROG, self.out_path, self._info(collector),
                                                                    elapsed))
            sys.stderr.flush()

    @staticmethod
    def _info(collector: _Collector) -> str:
        series = collector.series()
        info = "%s, %s" % (_count_of(collector.count, "sample"), _count_of(len(series), "task"))
        verdicts = collector.verdicts()
        for word, what in ((verdict.LEAK, "leaks"), (verdict.HELD, "held")):
            names = [name for name, v in verdicts.items() if v.word == word]
            if names:
                info += ", %s: %s" % (what, ", ".join(names))
        return info

    def note(self, line: str) -> None:
        """A line that matters now (a failed allocation): above the bar, or on its own."""
        if self.progress is not None:
            self.progress.console.print(line, highlight=False, markup=False)
        else:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()

    def close(self) -> None:
        if self.progress is not None:
            if self.collector is not None:
                elapsed = time.monotonic() - self.started
                done = min(elapsed, self.duration) if self.duration else self.collector.count
                self.progress.update(self.task, completed=done, info=self._info(self.collector))
            self.progress.stop()


def cmd_record(args) -> int:
    script = _read_script(args.run)
    try:
        out = RecordingWriter(args.out)
    except OSError as e:
        raise UsageError("cannot write %s: %s" % (args.out, e.strerror or e)) from None
    collector = _Collector()
    error = None
    with out, _open(args) as board:
        out.header(board, interval=args.interval, duration=args.duration, script=args.run,
                   hard_reset=args.hard_reset)
        progress = _Progress(args.out, args.duration, args.samples)
        started = time.monotonic()

        def on_sample(sample):
            if args.samples is not None and collector.count >= args.samples:
                return  # the script's last sample, after the limit
            failed = collector.add(sample)
            out.sample(collector.last_json)
            for failure in failed:
                progress.note(_failure_line(sample, failure))
            progress.update(collector)

        python_errors = _PythonErrors()

        def python_error_lines(text):
            for line in python_errors.feed(text):
                # After the last sample: the failure it reports is in the next sample's.
                out.python_error(collector.last_json["t"] if collector.last_json else 0.0, line)

        def on_output(text):
            sys.stdout.write(text)
            sys.stdout.flush()
            python_error_lines(text)

        def should_stop():
            if args.samples is not None and collector.count >= args.samples:
                return True
            return args.duration is not None and time.monotonic() - started >= args.duration

        lost = None
        try:
            with board.ctrl_c_guard():
                error = _sampling(board, args, script, on_sample, on_output, should_stop,
                                  args.duration is not None)
        except BoardError as e:   # gone, reset under us, or no longer answering
            lost = e
        finally:
            progress.close()
            # A script ended by MicroPython's MemoryError or ENOMEM: its traceback's line.
            python_error_lines((error or "") + "\n")
            out.end(collector.count, error, str(lost) if lost else None)
        if lost:
            return _board_lost(lost, args.out)
        interrupted = board.interrupted

    span = collector.last_json["t"] if collector.last_json else 0.0
    sys.stderr.write("%s: recorded %s of %s over %.1f s to %s%s\n" % (
        PROG, _count_of(collector.count, "sample"), _count_of(len(collector.series()), "task"), span, args.out,
        " (stopped by Ctrl-C)" if interrupted else ""))
    sys.stderr.write("%s: changes since the first sample%s: %s\n" % (
        PROG, " (from a hard reset)" if args.hard_reset else "", verdict.summary(collector.verdicts())))
    if collector.failures:
        sys.stderr.write("%s: %s failed while recording (in the recording; plot marks them)\n" % (
            PROG, _count_of(len(collector.failures), "ESP-IDF heap allocation")))
    return _report_script_error(error)


# ---------------------------------------------------------------------------
# plot


def cmd_plot(args) -> int:
    try:
        with open(args.record, encoding="utf-8", errors="replace", newline="") as f:
            rec = read_record(f, args.record)
    except OSError as e:
        raise UsageError("cannot read %s: %s" % (args.record, e.strerror or e)) from None
    except RecordingError as e:
        raise UsageError(str(e)) from None
    for warning in rec.warnings:
        sys.stderr.write("%s: warning: %s\n" % (PROG, warning))
    if rec.board_lost:
        sys.stderr.write("%s: warning: %s: %s\n" % (PROG, args.record, rec.board_lost))
    header, samples = rec.header, rec.samples
    if not samples:
        raise UsageError("%s holds no samples" % args.record)
    try:
        import matplotlib  # noqa: F401  (an extra: heaptrack-host[plot])

        from . import plot
    except ImportError as e:
        raise UsageError("%s plot needs matplotlib (%s): pip install 'heaptrack-host[plot]'" % (PROG, e)) from None
    outputs = []
    png = args.out
    if png is None and args.html is None:
        png = str(Path(args.record).with_suffix(".png"))
    if png is not None:
        try:
            plot.plot_png(header, samples, png, args.title, rec.python_errors)
        except OSError as e:
            raise UsageError("cannot write %s: %s" % (png, e.strerror or e)) from None
        outputs.append(png)
    if args.html is not None:
        try:
            plot.write_html(header, samples, args.html, args.title, rec.python_errors)
        except OSError as e:
            raise UsageError("cannot write %s: %s" % (args.html, e.strerror or e)) from None
        outputs.append(args.html)
    summary = plot.summarize(samples)
    failed = rec.failures()
    print("%s: %s, %s -> %s; %s%s" % (
        PROG, _count_of(len(summary), "task"), _count_of(len(samples), "sample"), ", ".join(outputs),
        verdict.summary({name: v for name, (_, v) in summary.items()}),
        "; %s marked" % _count_of(len(failed), "failed allocation") if failed else ""))
    return 0


# ---------------------------------------------------------------------------
# gc


def cmd_gc(args) -> int:
    """Inside MicroPython's GC heap: its census by Python type now, who holds a type's
    objects (--holders), or which types a script leaves behind run after run (--run)."""
    from .gc_growth import check_gc_growth
    if args.run and args.code:
        raise UsageError("give --run SCRIPT or --code CODE, not both")
    source = _read_script(args.run) if args.run else args.code
    with _open(args) as board:
        if args.hard_reset:
            board.hard_reset()
        elif args.run and not args.no_reset:
            board.soft_reset()
        if source is not None:
            try:
                report = check_gc_growth(board, source, os.path.basename(args.run) if args.run else "<code>",
                                         runs=args.runs,
                                         warmup=args.warmup, tolerance=args.tolerance)
            except AssertionError as e:   # the script raised on the board
                sys.stderr.write("%s gc: %s\n" % (PROG, e))
                return 1
            print(report)
        else:
            print(board.exec("__import__('heaptrack').gc_census(%s).print(%r)" % (not args.no_collect, args.limit))
                  .rstrip())
        for name in args.holders or ():
            print(board.exec("print(__import__('heaptrack').gc_holders(%r, 3))" % name).rstrip())
    return 0


# ---------------------------------------------------------------------------
# parse


def _copy_json(held, to, extra: dict, indent) -> None:
    """Copies the JSON object held (from its start) to `to`, with extra's keys added
    before its closing brace, a megabyte at a time."""
    held.seek(0)
    last = None
    for block in iter(lambda: held.read(1 << 20), ""):
        if last is not None:
            to.write(last)
        last = block
    if not extra or last is None:
        to.write(last or "")
        return
    space = "" if indent is None else "\n" + " " * indent
    added = "".join(",%s%s: %s" % (space or " ", json.dumps(k), json.dumps(v, ensure_ascii=False))
                    for k, v in extra.items())
    to.write(last[:-1] + added + ("\n" if indent is not None else "") + "}")


def cmd_parse(args) -> int:
    import contextlib
    import functools
    import shutil
    import tempfile

    from . import report
    if args.file in (None, "-"):
        stream = sys.stdin
        source = "stdin"
    else:
        try:
            stream = open(args.file, encoding="utf-8", errors="replace")
        except OSError as e:
            raise UsageError("cannot read %s: %s" % (args.file, e.strerror or e)) from None
        source = args.file

    # print_heap_info()'s GC heap area events: heaptrack's own lines, beside the
    # reports, picked out of the chunks that hold one (a substring search keeps
    # the others at the reports' speed).
    from .gc_event_lines import MARK, parse_line
    gc_events: List[dict] = []
    partial = [""]

    def events_in(text):
        gc_events.extend(e for e in map(parse_line, text.split("\n")) if e is not None)

    def chunks():
        # A megabyte at a time: a capture of any size parses in bounded memory.
        while True:
            try:
                chunk = stream.read(1 << 20)
            except OSError as e:
                raise UsageError("cannot read %s: %s" % (source, e.strerror or e)) from None
            if not chunk:
                events_in(partial[0])
                return
            text = partial[0] + chunk
            cut = text.rfind("\n") + 1
            partial[0] = text[cut:]
            if MARK in text[:cut]:
                events_in(text[:cut])
            yield chunk

    def incomplete_note(line, why):
        # heaptrack said so itself: counts of blocks it could not list.
        notes.write("%s: %s line %d: not checked: heaptrack said these figures are incomplete: %s\n"
                    % (PROG, source, line, why))

    # The JSON and the notes are held back (beyond a few megabytes, in temporary
    # files) until the whole text has parsed and checked: on an error, stdout
    # stays empty and the error is the one line on stderr.
    spool = functools.partial(tempfile.SpooledTemporaryFile, 8 << 20, "w+", encoding="utf-8")
    with spool() as out, spool() as notes:
        try:
            with contextlib.ExitStack() as stack:
                if stream is not sys.stdin:
                    stack.enter_context(stream)
                found = report.stream_json(chunks(), out, indent=args.indent, check=args.check,
                                           incomplete_note=incomplete_note)
        except report.CheckError as e:
            # The notes of the trees before it, then the error, as Details.check() one after another.
            notes.seek(0)
            shutil.copyfileobj(notes, sys.stderr, 1 << 20)
            raise UsageError("%s: %s" % (source, e)) from None
        except report.ReportError as e:
            raise UsageError("%s: %s" % (source, e)) from None
        if not found and not gc_events:
            raise UsageError("%s: no ESP-IDF heap task report or GC heap area event found" % source)
        notes.seek(0)
        shutil.copyfileobj(notes, sys.stderr, 1 << 20)
        _copy_json(out, sys.stdout, {"gc_events": gc_events} if gc_events else {}, args.indent)
    sys.stdout.write("\n")
    return 0


# ---------------------------------------------------------------------------
# exporter


def _board_spec(text: str):
    """--port [NAME=]PORT: the board's label (NAME, else PORT as given) and its port."""
    label, sep, port = text.partition("=")
    if not sep:
        return text, text
    if not label or not port:
        raise argparse.ArgumentTypeError("expected PORT or NAME=PORT, got %r" % text)
    return label, port


def _listen_address(text: str):
    """--listen [HOST]:PORT (HOST empty: every interface; [ADDR] for IPv6)."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "", text
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        number = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError("expected [HOST]:PORT, got %r" % text) from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError("port must be 0 to 65535, got %d" % number)
    return host, number


def _max_deleted(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a whole number: %r" % text) from None
    if not 0 <= value <= 64:
        raise argparse.ArgumentTypeError("must be 0 to 64, got %d" % value)
    return value


def cmd_exporter(args) -> int:
    from .exporter import ExportedBoard, Exporter, serve
    ports = args.port or ([os.environ["HEAPTRACK_PORT"]] if os.environ.get("HEAPTRACK_PORT") else None)
    if not ports:
        raise UsageError("exporter needs --port for each board (or $HEAPTRACK_PORT)")
    specs = [p if isinstance(p, tuple) else _board_spec(p) for p in ports]
    labels = [label for label, _ in specs]
    if len(set(labels)) != len(labels):
        raise UsageError("two boards with the same label: give each --port a NAME=PORT")

    def on_change(line: str) -> None:  # a board went away or came back
        sys.stderr.write("%s exporter: %s\n" % (PROG, line))
        sys.stderr.flush()

    boards = [ExportedBoard(label, port, max_deleted=args.max_deleted, timeout=args.timeout, on_change=on_change)
              for label, port in specs]
    exporter = Exporter(boards, timeout=args.timeout)
    try:
        exporter.open()
        try:
            server = serve(exporter, args.listen)
        except OSError as e:
            raise UsageError("cannot listen on %s:%d: %s" % (args.listen[0] or "*", args.listen[1],
                                                              e.strerror or e)) from None
        host, port = server.server_address[:2]
        sys.stderr.write("%s exporter: serving http://%s:%d/metrics for %s: %s (Ctrl-C to stop)\n" % (
            PROG, "[%s]" % host if ":" in host else host, port, _count_of(len(boards), "board"),
            ", ".join(str(b) for b in boards)))
        sys.stderr.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            sys.stderr.write("%s exporter: stopped; the boards are back at their REPL\n" % PROG)
        finally:
            server.server_close()
    finally:
        exporter.close()
    return 0


# ---------------------------------------------------------------------------
# main


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    from . import __version__
    ap = argparse.ArgumentParser(
        prog=prog, description="Watch, record and plot ESP-IDF heap use per task on a heaptrack board.",
        epilog="Exit status: 0 done, 1 the script run on the board raised, 2 the job could not be done.")
    ap.add_argument("--version", action="version", version="%(prog)s (heaptrack-host) " + __version__)
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("watch", help="live view of every task's usage, growth and leak verdict",
                       description="Live view of every task's current and peak ESP-IDF heap usage, growth per "
                       "minute, history and leak verdict. Ctrl-C stops and leaves the board at its REPL. "
                       "With --samples or --once (or when stdout is not a terminal) it prints plain tables.")
    _add_board_options(p)
    p.add_argument("-i", "--interval", type=_positive, default=1.0, metavar="S",
                   help="seconds between samples (default: %(default)s)")
    p.add_argument("--run", metavar="SCRIPT", help="run this local script on the board while watching")
    p.add_argument("-n", "--samples", type=_count, metavar="N", help="stop after N samples (plain output)")
    p.add_argument("--once", action="store_true", help="one sample, plain output")
    _add_gc_types_option(p)
    p.set_defaults(func=cmd_watch)

    p = sub.add_parser("record", help="record samples as JSON lines",
                       description="Record every task's usage as JSON lines, one sample per line, until "
                       "--duration, --samples, the end of the --run script, or Ctrl-C.")
    _add_board_options(p)
    p.add_argument("-o", "--out", required=True, metavar="FILE", help="recording to write (JSON lines)")
    p.add_argument("-i", "--interval", type=_positive, default=0.5, metavar="S",
                   help="seconds between samples (default: %(default)s)")
    p.add_argument("-d", "--duration", type=_positive, metavar="S",
                   help="stop after S seconds (interrupting the script)")
    p.add_argument("-n", "--samples", type=_count, metavar="N", help="stop after N samples")
    p.add_argument("--run", metavar="SCRIPT", help="run this local script on the board while recording")
    _add_gc_types_option(p)
    p.set_defaults(func=cmd_record)

    p = sub.add_parser("plot", help="plot a recording (PNG, or an interactive HTML page)",
                       description="Plot each task's current usage over time from a recording, with the "
                       "leak verdict every command gives: a task whose verdict is LEAK is drawn thick in "
                       "red, one that is HELD (a task that died before the recording, still holding memory) "
                       "in orange.")
    p.add_argument("record", metavar="RECORDING", help="a file written by `mpheaptrack record`")
    p.add_argument("-o", "--out", metavar="PNG", help="image to write (default: RECORDING with .png, "
                   "unless only --html is given)")
    p.add_argument("--html", metavar="FILE", help="also write a self-contained interactive page")
    p.add_argument("--title", help="title of the figure")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("gc", help="inside MicroPython's GC heap: objects by Python type, who holds them, "
                       "what a script leaves behind",
                       description="MicroPython's GC heap by Python type (heaptrack.gc_census()): objects and "
                       "bytes of each type, its storage included. --holders TYPE: who holds a sample of its "
                       "objects, up to a module global. --run SCRIPT: runs the script --warmup + --runs times, "
                       "each between two censuses, and names the types that grew in every run, with who holds "
                       "them (each run has a namespace of its own, as `mpremote run` gives it: what grows is held "
                       "from elsewhere, a module or a task).")
    _add_board_options(p)
    p.add_argument("--run", metavar="SCRIPT", help="a local script to run again and again")
    p.add_argument("-c", "--code", metavar="CODE", help="Python code to run again and again instead (no reset "
                   "first: e.g. a round of a module on the board's flash, 'import app; app.one_round()')")
    p.add_argument("--runs", type=_count, default=5, metavar="N", help="measured runs (default: %(default)s)")
    p.add_argument("--warmup", type=int, default=1, metavar="N", help="runs first, not measured (default: %(default)s)")
    p.add_argument("--tolerance", type=int, default=0, metavar="BYTES",
                   help="growth per run a type may have (default: %(default)s)")
    p.add_argument("--holders", action="append", metavar="TYPE",
                   help="who holds objects of TYPE ('bytes', 'app.Sensor'); may be given again")
    p.add_argument("--limit", type=_count, default=20, metavar="N", help="types the census lists (default: %(default)s)")
    p.add_argument("--no-collect", action="store_true", help="count the heap as it is, garbage included")
    p.set_defaults(func=cmd_gc)

    p = sub.add_parser("parse", help="ESP-IDF heap task report text to JSON",
                       description="Read ESP-IDF heap task tracking reports (overview tables and detail "
                       "trees, from heaptrack or a C firmware) and print them as JSON.")
    p.add_argument("file", nargs="?", metavar="FILE", help="text to read (default: stdin)")
    p.add_argument("--check", action="store_true",
                   help="also check the numbers (sums, counts, percentages, peaks); a report heaptrack "
                   "says is incomplete (its warning line before it) is noted on stderr, not checked")
    p.add_argument("--indent", type=int, default=1, help="JSON indent (default: %(default)s)")
    p.set_defaults(func=cmd_parse)

    p = sub.add_parser("exporter", help="serve Prometheus's /metrics for boards on serial ports",
                       description="Serve heaptrack.metrics() of one or many boards at /metrics for Prometheus, "
                       "each sample with a board label. Every scrape reads each board through its serial port "
                       "(the raw REPL); background tasks on the boards go on running.")
    p.add_argument("-p", "--port", action="append", type=_board_spec, metavar="[NAME=]DEV",
                   help="a board, as --port of the other commands takes it (a0, /dev/ttyACM0, vboard, ...); "
                   "NAME is its board label (default: DEV as given). Give it once per board "
                   "(default: $HEAPTRACK_PORT)")
    p.add_argument("--listen", type=_listen_address, default=("", 9101), metavar="[HOST]:PORT",
                   help="where to serve /metrics (default: :9101, every interface; port 0: any free port)")
    p.add_argument("--max-deleted", type=_max_deleted, metavar="N",
                   help="deleted tasks each board lists one by one (0 to 64; default: heaptrack.metrics()'s, 16)")
    p.add_argument("--timeout", type=_positive, default=10.0, metavar="S",
                   help="seconds a board has to answer a scrape (default: %(default)s; less when Prometheus's "
                   "scrape timeout is shorter)")
    p.set_defaults(func=cmd_exporter)

    sub.add_parser("vboard", help="run a virtual board (see `mpheaptrack vboard --help`)", add_help=False)
    return ap


def _exit_on_signal(signum, frame):
    raise SystemExit(128 + signum)


def main(argv: Optional[List[str]] = None, prog: str = PROG) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "vboard":
        from . import vboard
        return vboard.main(argv[1:], prog="%s vboard" % prog)
    args = build_parser(prog).parse_args(argv)
    # Killed politely (SIGTERM, a closed terminal): unwind as on Ctrl-C, so the
    # board is left at its REPL and a virtual board we started is stopped.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _exit_on_signal)
    try:
        return args.func(args)
    except (BoardError, UsageError) as e:
        sys.stderr.write("%s: error: %s\n" % (PROG, e))
        return 2
    except ScriptError as e:  # our own board-side code failed: not the user's script
        sys.stderr.write("%s: error: on the board: %s\n" % (PROG, e))
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("%s: interrupted\n" % PROG)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
