"""Crash handling for the virtual board: fatal reports in the firmware's output, and the
sanitizers' runtime options.

A firmware run is a crash when it dies of a signal, or when its output carries a
fatal report whatever its exit status: MicroPython's ``FATAL: uncaught NLR``, or any
AddressSanitizer/LeakSanitizer/UBSan report of a ``make SANITIZE=1`` firmware.
FatalReports follows one firmware's output for them.
"""

import re
import signal

from .. import paths

__all__ = ["FatalReports", "SANITIZER_OPTIONS", "REPORT_LOG_MAX", "signal_name", "sanitizer_env"]

# Reports in the firmware's output (stderr shares the pipe) that make a run a
# crash whatever its exit status: a sanitizer finding (a firmware built with
# `make SANITIZE=1`), or MicroPython's fatal error. Matched on whole lines as
# they stream past, since a report with its stack traces and shadow-memory
# dump can be many kilobytes long.
_FATAL_LINE = re.compile(
    # at the start of a line, or straight after a raw-REPL "OK", 0x04 or ">"
    rb"(?:^|(?<=[\x00-\x1f>])|(?<=OK))"
    rb"(?:==\d+==ERROR: (?P<san>\w+Sanitizer): (?P<what>[^\r\n]*)"  # ASan, LSan, ...
    # UBSan: "path/file.c:LINE:COL: runtime error: ..."
    rb"|(?P<loc>[^\x00-\x1f\"'<>]*?\.(?:c|h|cc|cpp|inc):\d+(?::\d+)?|<unknown>): runtime error: (?P<ub>[^\r\n]*)"
    rb"|(?P<nlr>FATAL: uncaught NLR[^\r\n]*))",
    re.M)
# ASan catches deadly signals itself and exits with status 1: "SEGV on unknown address ..."
_ASAN_SIGNALS = {b"SEGV": "SIGSEGV", b"BUS": "SIGBUS", b"FPE": "SIGFPE", b"ILL": "SIGILL",
                 b"ABRT": "SIGABRT", b"TRAP": "SIGTRAP"}
# How much of a report the log keeps.
REPORT_LOG_MAX = 32 * 1024

# Sanitizer runtime options for the firmware. They only matter for a firmware
# built with sanitizers; options from the environment come after them (so they
# win). UBSan is compiled recoverable (a report in suppressed upstream code must
# not stop the firmware), so halt_on_error=1 makes every other report fatal.
# The suppression files list upstream MicroPython code only, each entry with
# its reason; heaptrack's own code is never suppressed.
SANITIZER_OPTIONS = {
    "UBSAN_OPTIONS": ("halt_on_error=1:print_stacktrace=1:report_error_type=1", "ubsan-upstream.supp"),
    # detect_stack_use_after_return=0: MicroPython's GC finds roots by scanning the
    # C stack, which ASan's fake stack frames would hide from it (upstream's CI
    # builds with --param asan-use-after-return=0 for the same reason).
    "ASAN_OPTIONS": ("detect_leaks=1:detect_stack_use_after_return=0:abort_on_error=0", None),
    # Upstream leaks nothing at exit now; should it, lsan-upstream.supp is where it goes.
    "LSAN_OPTIONS": ("print_suppressions=0", "lsan-upstream.supp"),
}



def signal_name(num):
    try:
        return signal.Signals(num).name
    except ValueError:
        return "signal %d" % num


def sanitizer_env(env):
    """Adds the sanitizers' options to env (a dict for the firmware; its own options win)."""
    supp_dir = paths.sanitizer_suppressions()
    for name, (options, supp) in SANITIZER_OPTIONS.items():
        if supp and (supp_dir / supp).is_file():
            options += ':suppressions="%s"' % (supp_dir / supp)
        if env.get(name):
            options += ":" + env[name]
        env[name] = options
    return env


class FatalReports:
    """Follows one firmware's output for fatal reports (see _FATAL_LINE).

    feed(data) returns what the first fatal report says, once, when it is found;
    it is kept in .fatal, and the report itself (up to REPORT_LOG_MAX bytes) in
    .report for the log.
    """

    def __init__(self):
        self.line = b""  # output after the last \n
        self.fatal = None
        self.report = bytearray()

    def feed(self, data):
        if self.fatal is not None:
            if len(self.report) < REPORT_LOG_MAX:
                self.report += data[: REPORT_LOG_MAX - len(self.report)]
            return None
        text = self.line + data
        end = text.rfind(b"\n") + 1
        self.line = text[end:][-4096:]
        m = _FATAL_LINE.search(text, 0, end)
        if m is None:
            return None
        if m.group("san"):
            what = m.group("what").decode(errors="replace")
            sig = _ASAN_SIGNALS.get(what.split(" ", 1)[0].encode())
            if sig and " on unknown address" in what:
                self.fatal = "%s, caught by %s" % (sig, m.group("san").decode())
            else:
                self.fatal = "%s: %s" % (m.group("san").decode(), what.split(" on address ", 1)[0])
        elif m.group("ub") is not None:
            loc = m.group("loc")
            if loc[:2] == b"OK" and loc[2:3] in (b".", b"/", b"<"):
                loc = loc[2:]  # straight after a raw-REPL "OK"
            self.fatal = "UndefinedBehaviorSanitizer: %s: %s" % (
                loc.decode(errors="replace"), m.group("ub").decode(errors="replace"))
        else:
            self.fatal = m.group("nlr").decode(errors="replace")
        self.report += text[m.start() :][:REPORT_LOG_MAX]
        return self.fatal
