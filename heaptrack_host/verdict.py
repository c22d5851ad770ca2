"""The leak verdict: one definition, used by every host tool.

``mpheaptrack watch``, ``record``, ``plot`` and the pytest plugin all call
``judge()`` and print its ``word`` and ``reason``; nothing else decides whether
a task leaks.

A task (tasks are grouped by name, deleted ones included: ESP-IDF keeps charging
a deleted task with what it never freed) **leaks** when memory it took is not
given back. The evidence is either of:

* **it was deleted while still holding memory**: more than ``tolerance`` bytes at
  the last observation, all its tasks of that name deleted, and it started, was
  seen alive or grew during the observation (not a task deleted before it began). Nothing frees
  a deleted task's blocks through it any more; this is the leak of ESP-IDF's own
  example (``leaking_task``, DELETED with CURRENT > 0).
* **its floor rose all through the observation**: the least it held rose from
  each part of the observation to the next by more than ``tolerance`` bytes,
  and by at least ``MIN_GROWTH`` bytes overall. A part is one run when the
  observations are taken after each run of a workload (the pytest plugin: it
  reads the board when the work is done); for samples taken while the work goes
  on (watch, record, plot) it is a third of the samples taken while the task was
  alive (halves below 6 samples, at least ``MIN_SAMPLES`` samples); and it still
  holds more than its first floor at the end (memory given back was no leak). A task that
  allocates and frees, however spiky, keeps its floor; a buffer allocated once
  raises it only once.

A task that was already deleted when the observation began, still holding
more than ``tolerance`` bytes, and that held no more at its end, is **HELD**
("died before watching"): the plainest evidence ESP-IDF has of a leak, a dead
task that nothing frees through any more (or that handed its blocks to a task
still using them), but one the observation cannot put a time to. It is no
``ok``. Tasks are observed apart: a task of the same name from an earlier run
is another task (recording.Instances), so one that died holding memory before
a recording began is HELD there while this run's is judged on its own.

Blocks that are MicroPython GC heap areas (the GC heap grew, or shrank, by whole
areas from ESP-IDF's heap) are left out of both rules: the GC heap's growth is
its own thing, said in the reason ("its MicroPython GC heap areas grew by 64.0
KiB, not counted"), never a leak.

Otherwise the verdict is ``ok``, or ``...`` while there are too few samples of
a live task to tell. The words are ``LEAK``, ``HELD``, ``ok`` and ``...``; the
reason says in plain words what was seen ("deleted while holding 11.6 KiB",
"+10.6 KiB over 6.0 s, and what it held at its lowest rose all through", "died
before watching, still holds 5312 B").

On the board, ``heaptrack.check_leaks(func, rounds=N)`` is the floor test over
rounds (growth above ``tolerance`` in every round); a workload that starts a task
per round and leaves it deleted holding memory grows in every round, so it is
caught there too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from .trend import floors, format_bytes

__all__ = ["Verdict", "judge", "summary", "LEAK", "HELD", "OK", "UNSURE", "MIN_SAMPLES", "MIN_GROWTH",
           "format_span"]

LEAK, HELD, OK, UNSURE = "LEAK", "HELD", "ok", "..."
MIN_SAMPLES = 4
MIN_GROWTH = 16  # bytes: about ESP-IDF's smallest block


@dataclass
class Verdict:
    word: str              # LEAK, HELD, ok or ...
    reason: str            # plain words: what was seen
    held: int = 0          # bytes held by the task(s) after deletion (0 if alive)
    floor_rise: int = 0    # last part's floor minus the first's (0 when not judged)
    growth: int = 0        # last observation minus the first
    span: float = 0.0      # seconds (samples) or runs covered
    deleted: bool = False  # evidence 1: deleted while holding memory
    rising: bool = False   # evidence 2: the floor rose all through
    floors: tuple = ()     # the floors compared (what the plot draws)
    floor_times: tuple = ()  # where each floor was seen
    gc_growth: int = 0     # bytes of MicroPython GC heap areas gained (left out of the rules)

    @property
    def leak(self) -> bool:
        return self.word == LEAK

    @property
    def ok(self) -> bool:
        """Neither LEAK nor HELD (``...`` is no verdict yet, not a finding)."""
        return self.word not in (LEAK, HELD)

    def __str__(self) -> str:
        return "%s: %s" % (self.word, self.reason) if self.reason else self.word


def format_span(span: float, runs: bool = False) -> str:
    if runs:
        n = int(round(span))
        return "%d run%s" % (n, "" if n == 1 else "s")
    return "%.1f s" % span


def _signed(n: int) -> str:
    return ("+" if n > 0 else "") + format_bytes(n)


def judge(times: Sequence[float], values: Sequence[int], alive=None, *, runs: bool = False,
          tolerance: int = 0, appeared: bool = False, gc: Optional[Sequence[int]] = None) -> Verdict:
    """The verdict for one task's (or task name's) current usage observed at times.

    times: seconds (samples) or run numbers (runs=True: each observation is taken
    after a run, the first one before them). alive: per observation, whether a task
    of that name was alive (a sequence), or at the last one (a bool); None: unknown.
    appeared: the task was not there when the observation began (it started, and
    perhaps ended, while observed). gc: per observation, the bytes of its blocks that
    are MicroPython GC heap areas, left out of the rules.
    """
    n = len(values)
    if len(times) != n:
        raise ValueError("times and values differ in length (%d, %d)" % (len(times), n))
    if isinstance(alive, (list, tuple)) and len(alive) != n:
        raise ValueError("alive and values differ in length (%d, %d)" % (len(alive), n))
    if gc is not None and len(gc) != n:
        raise ValueError("gc and values differ in length (%d, %d)" % (len(gc), n))
    if n == 0:
        return Verdict(UNSURE, "no samples yet")
    gc_growth = 0
    if gc is not None and any(gc):
        gc_growth = gc[-1] - gc[0]
        values = [v - g for v, g in zip(values, gc)]
    alive_at_end = alive[-1] if isinstance(alive, (list, tuple)) else alive
    growth = values[-1] - values[0]
    span = times[-1] - times[0]
    v = Verdict(OK, "", growth=growth, span=span, gc_growth=gc_growth)

    # Evidence 2: the floor rose all through.
    if runs:
        idx = list(range(n))
        fl = list(values)
        fl_idx = idx
        enough = n >= 2
    else:
        idx = list(range(n))
        if isinstance(alive, (list, tuple)):
            living = [i for i in range(n) if alive[i]]
            if len(living) >= MIN_SAMPLES:
                idx = living
        tested = [values[i] for i in idx]
        fl = floors(tested)
        # where each floor was seen (its first occurrence in its part)
        parts = len(fl)
        bounds = [round(k * len(tested) / parts) for k in range(parts + 1)]
        fl_idx = [idx[bounds[k] + tested[bounds[k]:bounds[k + 1]].index(fl[k])] for k in range(parts)]
        enough = len(tested) >= MIN_SAMPLES
    v.floors = tuple(fl)
    v.floor_times = tuple(times[i] for i in fl_idx)
    if enough and len(fl) >= 2:
        v.floor_rise = fl[-1] - fl[0]
        v.rising = (all(b - a > tolerance for a, b in zip(fl, fl[1:]))
                    and values[-1] - fl[0] > tolerance)  # and not given back by the end
        if not runs:  # samples: at least a small block's worth overall
            v.rising = v.rising and v.floor_rise >= MIN_GROWTH

    # Evidence 1: deleted while still holding memory, during the observation: it was seen
    # alive, or what it holds grew (a task deleted before the observation began, holding
    # the same as at its start, was judged then).
    # Deleted before the observation began, still holding memory: HELD.
    seen_alive = any(alive[:-1]) if isinstance(alive, (list, tuple)) else False
    died_before = False
    if alive_at_end is False and values[-1] > tolerance:
        v.held = values[-1]
        if seen_alive or appeared or growth > tolerance:
            v.deleted = True
        else:
            died_before = True

    reasons = []
    if v.deleted:
        reasons.append("deleted while holding %s" % format_bytes(v.held))
    if v.rising:
        if runs:
            reasons.append("%s in %s, more in every run" % (_signed(v.floor_rise), format_span(span, True)))
        else:
            t0, t1 = times[idx[0]], times[idx[-1]]
            reasons.append("%s over %s%s, never given back: its lowest use rose %s" % (
                _signed(values[idx[-1]] - values[idx[0]]), format_span(t1 - t0),
                " while it ran" if v.deleted else "",
                " → ".join(format_bytes(f) for f in fl)))
    if reasons:
        v.word = LEAK
        v.reason = "; ".join(reasons)
    elif died_before:
        v.word = HELD
        v.reason = "died before watching, still holds %s" % format_bytes(v.held)
    elif not enough and alive_at_end is not False:
        v.word = UNSURE
        v.reason = "%d sample%s, need %d" % (n, "" if n == 1 else "s", MIN_SAMPLES)
    if gc_growth:
        note = "its MicroPython GC heap areas %s by %s, not counted" % (
            "grew" if gc_growth > 0 else "shrank", format_bytes(abs(gc_growth)))
        v.reason = "%s; %s" % (v.reason, note) if v.reason else note
    return v


def summary(verdicts) -> str:
    """One line for a set of verdicts (name -> Verdict), the same words in every
    command: "leaks: a (why); held: b (why)", "no leak; held: b (why)" or "no leak"."""
    leaks = ["%s (%s)" % (name, v.reason) for name, v in verdicts.items() if v.word == LEAK]
    held = ["%s (%s)" % (name, v.reason) for name, v in verdicts.items() if v.word == HELD]
    line = "leaks: " + "; ".join(leaks) if leaks else "no leak"
    if held:
        line += "; held by dead tasks: " + "; ".join(held)
    return line
