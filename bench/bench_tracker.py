"""What heap tracking costs a malloc+free pair: runs bench/bench_tracker.c's
five builds and prints every figure as a ratio measured in this one run.

    bench_tracker.py --untracked B --idf B --tracing B --hooks B --floor B [--passes N]

- Instructions (where valgrind is installed): each build once under callgrind,
  a fixed number of pairs per figure, the same pairs in every build. They do
  not depend on the machine's load, so the goals' verdicts come from them.
- Wall clock: the builds run in turn, PASSES times (each pass in another
  order); each pass gives a ratio per figure (tracked / untracked, measured in
  that pass), and the table shows the median of those ratios and their spread
  (least to most), so that a burst of load from other processes lands on one
  pass, not on a verdict.
In both, the bench loop's own cost (its random numbers, its array of live
blocks, its clock) is measured alone and taken off every figure.
"""
import argparse
import glob
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

REGIONS = "SPIRAM:0x3c000000:33554432"
BUILDS = ("untracked", "idf", "tracing", "hooks", "floor")
TITLES = {
    "untracked": "untracked",
    "idf": "ESP-IDF's task tracking",
    "tracing": "ESP-IDF's heap tracing",
    "hooks": "heaptrack's hooks tracker",
    "floor": "floor",
}
LAYERED = ("untracked", "idf", "hooks")   # builds with heaptrack's layer (ht_malloc/ht_free)
PATTERNS = (("lifo", "LIFO: 1 task, blocks of 16..124 bytes, each freed at once"),
            ("random", "random: 4 tasks in turn, blocks of 16..4096 bytes, each pair freeing a live block at random\n"
                       "   (3 times in 4 another task's) and allocating one in its place"))
LIVES = (10, 1000, 10000)
GOAL_HOOKS = 1.3
GOAL_LAYER = 1.1
VALGRIND_APT = "apt-get install valgrind"


def child_env():
    env = dict(os.environ)
    env["HEAPTRACK_IDF_REGIONS"] = REGIONS
    env.setdefault("HEAPTRACK_IDF_CONSOLE", os.devnull)
    return env


def run_measure(binary):
    """One wall-clock pass of one build: its figures, {(pattern, live, api): ns} and the rest."""
    out = subprocess.run([binary, "--measure"], env=child_env(), check=True, capture_output=True,
                         text=True).stdout
    figures = {"time": {}}
    for line in out.splitlines():
        f = line.split()
        if f[0] == "time":
            figures["time"][(f[1], int(f[2]), f[3])] = float(f[4])
        elif f[0] == "lock":
            figures["lock"] = float(f[1])
        elif f[0] == "ram":
            figures["ram"] = (float(f[1]), float(f[2]))
        elif f[0] == "table":
            figures["table"] = int(f[1])
    return figures


def run_callgrind(binary, workdir):
    """Instructions of one build: {(pattern, live, api): instructions for the counted pairs}."""
    out = os.path.join(workdir, os.path.basename(binary))
    subprocess.run(["valgrind", "--tool=callgrind", "--collect-atstart=no", "--callgrind-out-file=%s.%%p" % out,
                    binary, "--instructions"], env=child_env(), check=True, capture_output=True)
    counts = {}
    for path in glob.glob(out + ".*"):
        with open(path) as f:
            text = f.read()
        label = re.search(r"^desc: Trigger: Client Request: (\S+) (\d+) (\S+)$", text, re.M)
        total = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
        if label and total:
            counts[(label.group(1), int(label.group(2)), label.group(3))] = int(total.group(1))
    return counts


def net(figures, pattern, live, api):
    """A figure less the bench loop's own cost (api none)."""
    return figures[(pattern, live, api)] - figures[(pattern, live, "none")]


def print_table(header, rows):
    """Columns as wide as their widest cell; the first left-aligned, the rest right-aligned."""
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    for r in [header] + rows:
        cells = [str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths))]
        print("  " + " | ".join(cells))
    print()


def ratio_text(values):
    """The median of per-pass ratios, and their spread."""
    return "%.2fx [%.2f-%.2f]" % (statistics.median(values), min(values), max(values))


class Run:
    """Every build's figures from this run: wall-clock passes, and instructions where valgrind is."""

    def __init__(self, passes, instructions):
        self.passes = passes              # [{build: figures}]
        self.instructions = instructions  # {build: counts} or None

    def instr(self, build, pattern, live, api):
        return net(self.instructions[build], pattern, live, api) / COUNTED

    def ratios(self, build, pattern, live, api, base_build, base_api):
        return [net(p[build]["time"], pattern, live, api) / net(p[base_build]["time"], pattern, live, base_api)
                for p in self.passes]

    def ratio(self, build, pattern, live, api, base_build, base_api):
        """The verdicts' figure: instructions where counted, else the median of the per-pass ratios."""
        if self.instructions:
            return (net(self.instructions[build], pattern, live, api)
                    / net(self.instructions[base_build], pattern, live, base_api))
        return statistics.median(self.ratios(build, pattern, live, api, base_build, base_api))


COUNTED = 2048   # bench_tracker.c's COUNTED: pairs per figure under callgrind


def print_pattern(run, pattern, description):
    print("== %s" % description)
    print()
    tracked = BUILDS[1:]
    if run.instructions:
        print("heap_caps_malloc + heap_caps_free: instructions per pair (callgrind), and x untracked:")
        rows = []
        for live in LIVES:
            base = run.instr("untracked", pattern, live, "raw")
            rows.append([live, "%.0f" % base] + ["%.0f  %.2fx" % (run.instr(b, pattern, live, "raw"),
                                                               run.instr(b, pattern, live, "raw") / base)
                                                  for b in tracked])
        print_table(["live", "untracked"] + [TITLES[b] for b in tracked], rows)
    print("the same, wall clock: ns per pair untracked (median of %d passes), and x untracked: the median of "
          "the %d per-pass ratios [least-most]:" % (len(run.passes), len(run.passes)))
    rows = []
    for live in LIVES:
        base = statistics.median(net(p["untracked"]["time"], pattern, live, "raw") for p in run.passes)
        rows.append([live, "%.1f" % base] + [ratio_text(run.ratios(b, pattern, live, "raw", "untracked", "raw"))
                                             for b in tracked])
    print_table(["live", "untracked ns"] + [TITLES[b] for b in tracked], rows)
    print("heaptrack's layer: ht_malloc + ht_free over its build's heap_caps pair%s:" % (
        ", in instructions, then wall clock [least-most]" if run.instructions else " [least-most]"))
    rows = []
    for live in LIVES:
        cells = []
        for b in LAYERED:
            text = ratio_text(run.ratios(b, pattern, live, "ht", b, "raw"))
            if run.instructions:
                text = "%.2fx  %s" % (run.ratio(b, pattern, live, "ht", b, "raw"), text)
            cells.append(text)
        rows.append([live] + cells)
    print_table(["live"] + [TITLES[b] for b in LAYERED], rows)


def print_ram(run):
    last = run.passes[-1]
    base = last["untracked"]["ram"][0]
    print("RAM per live block (64-byte blocks; the untracked heap takes %.1f bytes each); what tracking adds:" % base)
    print("  ESP-IDF's task tracking    %5.1f bytes of heap (its 16-byte record, from its biggest heap, and every"
          % (last["idf"]["ram"][0] - base))
    print("                             block's 4-byte owner word)")
    print("  ESP-IDF's heap tracing     %5.1f bytes of heap + %.0f static per record it can hold (no task, no heap)" % (
        last["tracing"]["ram"][0] - base, last["tracing"]["ram"][1]))
    print("  heaptrack's hooks tracker  %5.1f bytes of heap + %.0f static per block it can hold" % (
        last["hooks"]["ram"][0] - base, last["hooks"]["ram"][1]))
    print()


def print_goals(run):
    source = "instruction counts" if run.instructions else "medians of the per-pass wall-clock ratios"
    hooks = [(run.ratio("hooks", p, n, "raw", "untracked", "raw"), p, n) for p, _ in PATTERNS for n in LIVES]
    tracing = [(run.ratio("tracing", p, n, "raw", "untracked", "raw"), p, n) for p, _ in PATTERNS for n in LIVES]
    layer = [(run.ratio(b, p, n, "ht", b, "raw"), TITLES[b], p, n) for b in ("idf", "hooks")
             for p, _ in PATTERNS for n in LIVES]
    last = run.passes[-1]
    base = last["untracked"]["ram"][0]
    hooks_ram = last["hooks"]["ram"][0] - base + last["hooks"]["ram"][1]
    idf_ram = last["idf"]["ram"][0] - base
    verdict = lambda ok: "met" if ok else "NOT MET"
    print("Goals (verdicts from %s):" % source)
    worst = max(hooks)
    print("  hooks tracker <= %.1fx untracked, both patterns, every N: %s (at most %.2fx: %s, %d live)" % (
        GOAL_HOOKS, verdict(worst[0] <= GOAL_HOOKS), *worst))
    worst = max(layer)
    print("  heaptrack's layer <= %.1fx its build's heap_caps pair, both trackers and patterns, every N: %s\n"
          "    (at most %.2fx: %s, %s, %d live)" % (GOAL_LAYER, verdict(worst[0] <= GOAL_LAYER), *worst))
    beaten = [h[0] < t[0] for h, t in zip(hooks, tracing)]
    print("  hooks tracker cheaper than ESP-IDF's heap tracing: %s (at %d of %d figures)" % (
        verdict(all(beaten)), sum(beaten), len(beaten)))
    print("  hooks tracker's RAM per live block <= ESP-IDF's tracker's: %s (%.1f against %.1f bytes)" % (
        verdict(hooks_ram <= idf_ram), hooks_ram, idf_ram))
    print()
    table = last["hooks"].get("table")
    if table:
        print("The hooks tracker's table holds %d blocks here (the virtual board's), in %d slots: at 10,000 live "
              "blocks\nit is %.0f%% full, as is the floor's (the same table, no statistics)." % (
                  table, table + table // 4, 100.0 * 10000 / (table + table // 4)))
    lock = statistics.median(p["untracked"]["lock"] for p in run.passes)
    text = "One critical section (portMUX; on the host a spinlock of the chip's shape) costs %.1f ns here" % lock
    if run.instructions:
        text += " and %.0f instructions" % (run.instructions["untracked"][("lock", 2048, "pairs")] / 2048)
    print(text + ":\na pair takes two in the heap, two more in the hooks tracker and in the floor.")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for b in BUILDS:
        parser.add_argument("--" + b, required=True, help="bench_tracker built as " + TITLES[b])
    parser.add_argument("--passes", type=int, default=7)
    args = parser.parse_args()
    binaries = {b: getattr(args, b) for b in BUILDS}

    # Wall clock: the builds in turn, each pass in another order.
    passes = []
    for p in range(args.passes):
        order = BUILDS[p % len(BUILDS):] + BUILDS[:p % len(BUILDS)]
        passes.append({b: run_measure(binaries[b]) for b in order})

    instructions = None
    if shutil.which("valgrind"):
        with tempfile.TemporaryDirectory() as workdir:
            instructions = {b: run_callgrind(binaries[b], workdir) for b in BUILDS}
    run = Run(passes, instructions)

    print("What a malloc+free pair costs with each tracker, measured in this one run: ESP-IDF's heap built for\n"
          "the host (-O2, no PIC), a 32 MiB PSRAM heap, exactly N blocks live; the bench loop's own cost taken off.")
    if not instructions:
        print("(no instruction counts: valgrind is not installed here; %s gives them)" % VALGRIND_APT)
    print()
    for pattern, description in PATTERNS:
        print_pattern(run, pattern, description)
    print_ram(run)
    print_goals(run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
