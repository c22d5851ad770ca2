"""Pictures of a recording (``mpheaptrack record``): per-task usage over time.

``plot_png(header, samples, path)`` draws every task's current ESP-IDF heap usage
over time with matplotlib (Agg backend, no display needed), its peak since the
first sample (TaskSeries.peaks_seen) as a thin dotted line of the same colour, and below it the ESP-IDF heap's free space: all
regions, the largest free block and the lowest free space seen so far, scaled to
the range they move in. Tasks the leak verdict (``verdict.judge``, the same as
watch, record and the pytest plugin) calls LEAK are drawn thick in ``LEAK_COLOR``,
those it calls HELD (deleted before the recording, still holding memory) in
``HELD_COLOR``,
with what the verdict is based on drawn too: the lowest use in each third of the
run (diamonds joined by a dashed line) when it rose all through, an × where the
task was deleted while holding memory, a dark red line across both plots where
failed allocations were seen (dotted: the script's MemoryError/ENOMEM), and
MicroPython's GC heap size over time on its own scale beside the free space.
A recording made with ``--gc-types N`` gets a third panel, "MicroPython GC heap
by type": the bytes of each type that was among some sample's N biggest, over
time (a gap where a type was below a sample's top N), the type that grew most
drawn thick. Reasons are in the legend, outside the
plot, so nothing is written over a line or a border; every other task gets a
colour that is not red.

``write_html(header, samples, path)`` writes one self-contained page: the same
figure as inline SVG, a check box per task to hide or show it, a readout under
the mouse over any panel (every task's value, the ESP-IDF heap's free space, the
GC heap's size and its top types at that time), and a table of verdicts. No JavaScript
library, nothing fetched.
"""

from __future__ import annotations

import html
import io
import json
import textwrap
from typing import Dict, List, Optional, Sequence

from . import trend, verdict as verdicts
from .recording import TaskSeries, gc_type_series, series_by_task

__all__ = ["LEAK_COLOR", "HELD_COLOR", "OTHER_COLORS", "GC_TYPE_COLORS", "figure", "plot_png", "write_html", "summarize"]

LEAK_COLOR = "#d62728"  # matplotlib's tab:red
HELD_COLOR = "#ff7f0e"  # matplotlib's tab:orange
# tab10 without its red and orange, then a few darker ones: never mistaken for a verdict.
OTHER_COLORS = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31"]
FAILURE_COLOR = "#b00020"   # a failed allocation: darker than LEAK_COLOR, a line across both plots
FREE_COLOR = "#17becf"
GC_EVENT_COLOR = "#8e44ad"   # the GC heap's area events
LARGEST_COLOR = "#7f7f7f"
MINIMUM_COLOR = "#9467bd"
# The GC heap's types (Dark2, without its orange and grey): not the tasks' colours,
# so a type is never read as a task. The first is the type that grew most.
GC_TYPE_COLORS = ["#1b9e77", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#6a3d9a", "#b15928"]
# The types the panel draws at most (the biggest): more lines than this is a tangle.
GC_TYPES_DRAWN = len(GC_TYPE_COLORS)


def summarize(samples: List[dict]) -> Dict[str, tuple]:
    """name -> (TaskSeries, verdict.Verdict) in the order tasks first appeared."""
    return {name: (s, s.verdict()) for name, s in series_by_task(samples).items()}


def _unit(largest: float) -> tuple:
    """(divisor, name) that keeps axis numbers readable for values up to largest bytes."""
    if largest >= 10 * 1024 * 1024:
        return 1024.0 * 1024.0, "MiB"
    if largest >= 10 * 1024:
        return 1024.0, "KiB"
    return 1.0, "bytes"


def _scaled(values, divisor: float) -> list:
    return [v / divisor for v in values]


def _title(header: dict, samples: List[dict]) -> str:
    parts = []
    if header.get("script"):
        parts.append(header["script"])
    if header.get("machine"):
        parts.append(header["machine"])
    if samples:
        parts.append("%d sample%s over %.1f s" % (len(samples), "" if len(samples) == 1 else "s",
                                                  samples[-1]["t"] - samples[0]["t"]))
    return " · ".join(parts)


def _legend_label(name: str, series: TaskSeries, v: verdicts.Verdict) -> str:
    head = "%s — %s, peak %s" % (name, v.word, trend.format_bytes(series.peaks_seen()[-1]))
    if v.ok:
        return head
    why = "\n".join(textwrap.fill(part, 34, subsequent_indent="  ") for part in v.reason.split("; "))
    return "%s\n%s" % (head, why)


def figure(header: dict, samples: List[dict], title: Optional[str] = None, headed: bool = True,
           python_errors: Sequence[dict] = ()):
    """The matplotlib Figure for a recording, the usage axes and {name: Line2D} of the task lines
    (each with .extras: the other artists drawn for that task). Failed allocations the samples
    carry, and the script's MemoryError/ENOMEM lines (python_errors), are marked on the timeline."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    summary = summarize(samples)
    type_times, types = gc_type_series(samples)
    if types:
        # The same room for the tasks and the free space as without it, the panel below.
        fig = Figure(figsize=(11, 9.2 if headed else 8.4), dpi=100)
        grid = fig.add_gridspec(3, 1, height_ratios=[3, 1.25, 1.6], hspace=0.12, left=0.085, right=0.66,
                                top=0.9 if headed else 0.975, bottom=0.07 if headed else 0.075)
    else:
        fig = Figure(figsize=(11, 6.8 if headed else 6.0), dpi=100)
        grid = fig.add_gridspec(2, 1, height_ratios=[3, 1.25], hspace=0.1, left=0.085, right=0.66,
                                top=0.87 if headed else 0.97, bottom=0.09 if headed else 0.1)
    ax = fig.add_subplot(grid[0])
    ax_free = fig.add_subplot(grid[1], sharex=ax)
    if headed:  # (the HTML page has its own heading)
        fig.suptitle(title or "ESP-IDF heap used by each task", fontsize=15, fontweight="bold", x=0.085,
                     ha="left", y=0.975)
        fig.text(0.085, 0.935 if types else 0.915, _title(header, samples), fontsize=10, color="#444444",
                 ha="left")

    failures = [(sample["t"], f) for sample in samples for f in (sample.get("failures") or {}).get("new", [])]
    _mark_failures(ax, ax_free, failures, python_errors)
    top = max([max(s.peaks_seen()) for s, _ in summary.values()] or [0])
    div, unit = _unit(top)
    lines = {}
    colors = iter(OTHER_COLORS * (1 + len(summary) // len(OTHER_COLORS)))
    # Verdicts last, so they are drawn on top.
    order = sorted(summary, key=lambda n: not summary[n][1].ok)
    for name in order:
        series, v = summary[name]
        color = LEAK_COLOR if v.leak else HELD_COLOR if v.word == verdicts.HELD else next(colors)
        marker = "o" if len(series.times) <= 60 else None
        (line,) = ax.plot(series.times, _scaled(series.current, div), color=color,
                          linewidth=1.6 if v.ok else 3.0, marker=marker, markersize=3 if v.ok else 4,
                          label=_legend_label(name, series, v), zorder=2 if v.ok else 3, drawstyle="steps-post")
        # The peak: a dashed line of the task's colour, the room between it and the
        # current use lightly shaded (ESP-IDF's demo is about a task whose current
        # use returns to 0 after a 10 KB peak).
        peaks = series.peaks_seen()
        (peak,) = ax.plot(series.times, _scaled(peaks, div), color=color, linewidth=1.3, linestyle=(0, (4, 2)),
                          zorder=1, drawstyle="steps-post")
        band = ax.fill_between(series.times, _scaled(series.current, div), _scaled(peaks, div), color=color,
                               alpha=0.08, step="post", linewidth=0, zorder=0)
        line.extras = [peak, band] + _mark_deletion(ax, series, color, div)
        if v.leak and v.rising:
            (fl,) = ax.plot(v.floor_times, _scaled(v.floors, div), color="black", linestyle="--", linewidth=1.0,
                            marker="D", markersize=6, markerfacecolor="white", zorder=4)
            line.extras.append(fl)
        lines[name] = line
    if not summary:
        ax.text(0.5, 0.5, "no task allocated ESP-IDF heap memory while recording", transform=ax.transAxes,
                ha="center", va="center", color="#666666", fontsize=12)
    ax.set_ylabel("used by the task (%s)" % unit)
    ymax = max(top / div * 1.12, 1)
    ax.set_ylim(-ymax * 0.03, ymax)  # room at both ends: no line or marker runs along a border
    ax.grid(True, color="#e5e5e5")
    ax.tick_params(labelbottom=False)
    if summary:
        handles, labels = ax.get_legend_handles_labels()
        by_name = {lab.split(" — ")[0]: (h, lab) for h, lab in zip(handles, labels)}
        ordered = [by_name[n] for n in summary if n in by_name]
        keys = [Line2D([], [], color="#555555", linestyle=(0, (4, 2)), linewidth=1.3),
                Line2D([], [], color="#555555", marker="X", linestyle="none", markeredgecolor="black")]
        key_labels = ["peak since the first sample (dashed, the task's colour)", "deleted"]
        if any(v.leak and v.rising for _, v in summary.values()):
            keys.append(Line2D([], [], color="black", linestyle="--", marker="D", markerfacecolor="white"))
            key_labels.append("lowest use per third of the run")
        if failures:
            keys.append(Line2D([], [], color=FAILURE_COLOR, linewidth=1.4))
            key_labels.append("ESP-IDF allocation failed (%d; heaptrack.failures())" % len(failures))
        if python_errors:
            keys.append(Line2D([], [], color=FAILURE_COLOR, linewidth=1.2, linestyle=":"))
            key_labels.append("the script's MemoryError / ENOMEM (%d)" % len(python_errors))
        ax.legend([h for h, _ in ordered] + keys, [lab for _, lab in ordered] + key_labels, loc="upper left",
                  bbox_to_anchor=(1.02, 1.0), fontsize=8.5, frameon=False, title="task — verdict",
                  title_fontsize=9.5, alignment="left", borderaxespad=0)

    times = [s["t"] for s in samples]
    free = [sum(r.get("free", 0) for r in s.get("regions", [])) for s in samples]
    largest = [max([r.get("largest_free", 0) for r in s.get("regions", [])] or [0]) for s in samples]
    minimum = [sum(r.get("minimum_free", 0) for r in s.get("regions", [])) for s in samples]
    values = free + largest + minimum
    div_free, unit_free = _unit(max(values + [0]))
    ax_free.plot(times, _scaled(free, div_free), color=FREE_COLOR, linewidth=1.6, label="free, all regions",
                 drawstyle="steps-post")
    ax_free.plot(times, _scaled(largest, div_free), color=LARGEST_COLOR, linewidth=1.2, linestyle="--",
                 label="largest free block", drawstyle="steps-post")
    ax_free.plot(times, _scaled(minimum, div_free), color=MINIMUM_COLOR, linewidth=1.2, linestyle="-.",
                 label="lowest free so far", drawstyle="steps-post")
    if values:
        low, high = min(values) / div_free, max(values) / div_free
        pad = max((high - low) * 0.15, high * 0.01, 1)
        ax_free.set_ylim(max(0, low - pad), high + pad)  # the range they move in, not from 0
    _mark_gc_events(ax_free, samples)
    ax_free.set_ylabel("ESP-IDF heap\nfree (%s)" % unit_free)
    if types:
        ax_free.tick_params(labelbottom=False)
        _gc_types_panel(fig.add_subplot(grid[2], sharex=ax), type_times, types)
    else:
        ax_free.set_xlabel("time since start (s)")
    ax_free.grid(True, color="#e5e5e5")
    handles, labels = ax_free.get_legend_handles_labels()
    # MicroPython's GC heap size on its own scale (right): it grows as ESP-IDF's
    # free space shrinks, the story of an ENOMEM while gc.mem_free() looks fine.
    gc_total = [(s.get("gc") or {}).get("total") for s in samples]
    legend_x = 1.02
    if times and all(isinstance(v, int) for v in gc_total):
        ax_gc = ax_free.twinx()
        div_gc, unit_gc = _unit(max(gc_total))
        (gc_line,) = ax_gc.plot(times, _scaled(gc_total, div_gc), color=GC_EVENT_COLOR, linewidth=1.4,
                                drawstyle="steps-post")
        ax_gc.set_ylim(0, max(gc_total) / div_gc * 1.25)
        ax_gc.set_ylabel("GC heap (%s)" % unit_gc, color=GC_EVENT_COLOR, fontsize=9)
        ax_gc.tick_params(axis="y", colors=GC_EVENT_COLOR, labelsize=8)
        handles.append(gc_line)
        labels.append("MicroPython GC heap size (right scale)")
        legend_x = 1.1
    ax_free.legend(handles, labels, loc="upper left", bbox_to_anchor=(legend_x, 1.0), fontsize=8.5, frameon=False,
                   borderaxespad=0)
    if len(times) == 1:
        ax.set_xlim(times[0] - 0.5, times[0] + 0.5)
    elif times:
        span = times[-1] - times[0]
        ax.set_xlim(times[0] - span * 0.02, times[-1] + span * 0.03)
    return fig, ax, lines


def _gc_types_panel(ax, times: List[float], types: Dict[str, list]) -> None:
    """The GC heap's biggest types' bytes over time (recording.gc_type_series): a line per
    type, a gap where a sample's top N left it out; the one that grew most first and thick."""
    def change(values):
        known = [v for v in values if v is not None]
        return known[-1] - known[0] if known else 0

    drawn = list(types)[:GC_TYPES_DRAWN]
    grew = max(drawn, key=lambda name: change(types[name]))
    if change(types[grew]) > 0:
        drawn.remove(grew)
        drawn.insert(0, grew)
    else:
        grew = None
    top = max(v for name in drawn for v in types[name] if v is not None)
    div, unit = _unit(top)
    for i, name in enumerate(drawn):
        values = types[name]
        ys = [float("nan") if v is None else v / div for v in values]
        known = [v for v in values if v is not None]
        delta = change(values)
        label = "%s — %s%s" % (name, trend.format_bytes(known[-1]),
                               ", %s%s" % ("+" if delta > 0 else "", trend.format_bytes(delta)) if delta else "")
        ax.plot(times, ys, color=GC_TYPE_COLORS[i], linewidth=3.0 if name == grew else 1.5,
                marker="o" if len(times) <= 60 else None, markersize=3, label=label, drawstyle="steps-post",
                zorder=3 if name == grew else 2)
    ax.set_ylim(0, top / div * 1.15)
    ax.set_ylabel("MicroPython GC heap\nby type (%s)" % unit)
    ax.set_xlabel("time since start (s)")
    ax.grid(True, color="#e5e5e5")
    title = "type — bytes last seen, change\n(a gap: below that sample's top types)"
    if len(types) > len(drawn):
        title += " (%d more not drawn)" % (len(types) - len(drawn))
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8.5, frameon=False, title=title,
              title_fontsize=9.5, alignment="left", borderaxespad=0)


def _mark_failures(ax, ax_free, failures: List[tuple], python_errors: Sequence[dict]) -> None:
    """A line across both plots at each sample that brought failed allocations (labelled with
    their sizes), a dotted one where the script printed MicroPython's side of one."""
    by_time: Dict[float, List[dict]] = {}
    for t, f in failures:
        by_time.setdefault(t, []).append(f)
    for t, fs in by_time.items():
        for a in (ax, ax_free):
            a.axvline(t, color=FAILURE_COLOR, linewidth=1.4, zorder=1.5)
        label = ", ".join("%s B %s" % (format(f["size"], ","), f["kind"]) for f in fs[:2])
        if len(fs) > 2:
            label += " +%d" % (len(fs) - 2)
        ax.annotate("failed: " + label, xy=(t, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -3),
                    textcoords="offset points", ha="left", va="top", fontsize=7.5, color=FAILURE_COLOR,
                    rotation=90)
    for e in python_errors:
        for a in (ax, ax_free):
            a.axvline(e["t"], color=FAILURE_COLOR, linewidth=1.2, linestyle=":", zorder=1.5)


def _mark_gc_events(ax, samples) -> None:
    """A vertical line where the GC heap took an area of ESP-IDF's heap (solid) or gave one
    back (dotted), at the sample that first carried the event, with its size."""
    first = True
    for s in samples:
        for e in s.get("gc_events", []):
            ax.axvline(s["t"], color=GC_EVENT_COLOR, linewidth=1.0, linestyle="-" if e["grew"] else ":",
                       label="GC heap took / gave back an area" if first else None)
            ax.annotate("%s%d KB" % ("+" if e["grew"] else "-", e["size"] // 1024), (s["t"], 1.0),
                        xycoords=("data", "axes fraction"), fontsize=7.5, color=GC_EVENT_COLOR, ha="left",
                        va="top", xytext=(2, -2), textcoords="offset points")
            first = False


def _mark_deletion(ax, series: TaskSeries, color: str, div: float) -> list:
    """An X where the task was first seen deleted; the artists drawn."""
    for i in range(1, len(series.alive)):
        if series.alive[i - 1] and not series.alive[i]:
            (marker,) = ax.plot([series.times[i]], [series.current[i] / div], marker="X", markersize=9, color=color,
                                markeredgecolor="black", markeredgewidth=0.6, zorder=5, linestyle="none")
            return [marker]
    return []


def plot_png(header: dict, samples: List[dict], path, title: Optional[str] = None,
             python_errors: Sequence[dict] = ()) -> None:
    fig, _, _ = figure(header, samples, title, python_errors=python_errors)
    fig.savefig(path, format="png")


def write_html(header: dict, samples: List[dict], path, title: Optional[str] = None,
               python_errors: Sequence[dict] = ()) -> None:
    """A self-contained interactive page for the recording."""
    fig, ax, drawn = figure(header, samples, title, headed=False, python_errors=python_errors)
    lines = {name: drawn[name] for name in summarize(samples) if name in drawn}  # order of appearance
    for i, name in enumerate(lines):
        lines[name].set_gid("task-%d" % i)
        for j, extra in enumerate(lines[name].extras):
            extra.set_gid("task-%d-%d" % (i, j))
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]  # drop the XML prolog and doctype

    # Where the panels are, in the SVG's own units (points, y down): the readout
    # follows the mouse over all of them, as they share their time axis.
    fig.canvas.draw()
    width_pt, height_pt = fig.get_size_inches() * 72
    bbox = ax.get_window_extent()
    bottom = min(a.get_window_extent().y0 for a in fig.axes)
    scale = 72.0 / fig.dpi
    xmin, xmax = ax.get_xlim()
    summary = summarize(samples)
    data = {
        "axes": [bbox.x0 * scale, height_pt - bbox.y1 * scale, bbox.x1 * scale, height_pt - bottom * scale],
        "xlim": [xmin, xmax],
        "tasks": [{"id": "task-%d" % i, "name": name,
                   "color": lines[name].get_color(),
                   "points": [[t, v] for t, v in zip(summary[name][0].times, summary[name][0].current)]}
                  for i, name in enumerate(lines)],
        "heaps": _readout_heaps(samples),
    }
    rows = []
    for name, (series, v) in summary.items():
        change = series.current[-1] - series.current[0]
        rows.append("<tr class=%s><td>%s</td><td>%s</td><td>%s</td><td>%d</td><td>%d</td><td>%s</td><td>%s</td></tr>" % (
            '"leak"' if v.leak else '"held"' if v.word == verdicts.HELD else '"ok"', html.escape(name), v.word,
            "ALIVE" if series.alive[-1] else "DELETED", series.current[-1], series.peaks_seen()[-1],
            ("+" if change > 0 else "") + trend.format_bytes(change) if change or any(series.alive) else "",
            html.escape(v.reason)))
    boxes = "".join(
        '<label><input type="checkbox" checked data-id="task-%d"> <span style="color:%s">&#9632;</span> %s</label>'
        % (i, lines[name].get_color(), html.escape(name)) for i, name in enumerate(lines))
    page = HTML_TEMPLATE % {
        "title": html.escape(title or "heaptrack: ESP-IDF heap per task"),
        "subtitle": html.escape(_title(header, samples)),
        "boxes": boxes,
        "svg": svg,
        "rows": "\n".join(rows),
        "data": json.dumps(data).replace("</", "<\\/"),
    }
    with open(path, "w", encoding="utf-8") as f:
        f.write(page)


def _readout_heaps(samples: List[dict]) -> List[list]:
    """Per sample, what the panels under the tasks show, for the page's readout: [t, free in
    all regions, largest free block, lowest free so far, GC heap size or None, the failed
    allocations the sample brought (size and kind), [[type, objects, bytes], ...] of its GC heap's top types]."""
    rows = []
    for s in samples:
        regions = s.get("regions", [])
        rows.append([s["t"], sum(r.get("free", 0) for r in regions),
                     max([r.get("largest_free", 0) for r in regions] or [0]),
                     sum(r.get("minimum_free", 0) for r in regions), (s.get("gc") or {}).get("total"),
                     ["%s B %s" % (format(f["size"], ","), f["kind"]) for f in (s.get("failures") or {}).get("new", [])],
                     [[t["name"], t["count"], t["size"]] for t in s.get("gc_types") or []]])
    return rows


HTML_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>%(title)s</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; margin-bottom: 0.2em; } .sub { color: #555; margin-bottom: 1em; }
#tasks label { margin-right: 1.2em; white-space: nowrap; cursor: pointer; }
#plot { position: relative; display: inline-block; }
#plot svg { max-width: 100%%; height: auto; }
#readout { position: absolute; pointer-events: none; background: rgba(255,255,255,0.95);
  border: 1px solid #aaa; border-radius: 4px; padding: 4px 8px; font-size: 12px; display: none;
  white-space: nowrap; }
table { border-collapse: collapse; margin-top: 1em; font-size: 14px; }
td, th { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: left; white-space: nowrap; }
td:last-child { white-space: normal; }
td:nth-child(4), td:nth-child(5), td:nth-child(6) { text-align: right; font-variant-numeric: tabular-nums; }
tr.leak td { color: #b00; font-weight: 600; }
tr.held td { color: #b65c00; font-weight: 600; }
</style></head><body>
<h1>%(title)s</h1><div class="sub">%(subtitle)s</div>
<div id="tasks">%(boxes)s</div>
<div id="plot">%(svg)s<div id="readout"></div></div>
<table><tr><th>task</th><th>verdict</th><th>status</th><th>current (B)</th><th>peak since the first sample (B)</th><th>change</th><th>why</th></tr>
%(rows)s
</table>
<script>
const DATA = %(data)s;
const svg = document.querySelector('#plot svg');
const readout = document.getElementById('readout');
const hidden = new Set();
document.querySelectorAll('#tasks input').forEach(box => box.addEventListener('change', () => {
  const id = box.dataset.id;
  document.querySelectorAll('[id="' + id + '"], [id^="' + id + '-"]').forEach(
    g => { g.style.display = box.checked ? '' : 'none'; });
  if (box.checked) hidden.delete(box.dataset.id); else hidden.add(box.dataset.id);
}));
const cursor = document.createElementNS('http://www.w3.org/2000/svg', 'line');
cursor.setAttribute('stroke', '#888'); cursor.setAttribute('stroke-dasharray', '3,3');
cursor.setAttribute('y1', DATA.axes[1]); cursor.setAttribute('y2', DATA.axes[3]);
cursor.style.display = 'none'; svg.appendChild(cursor);
function nearest(points, t) {
  let best = null;
  for (const p of points) { if (p[0] <= t + 1e-9) best = p; else break; }
  return best;
}
svg.addEventListener('mousemove', ev => {
  const pt = svg.createSVGPoint(); pt.x = ev.clientX; pt.y = ev.clientY;
  const p = pt.matrixTransform(svg.getScreenCTM().inverse());
  const [x0, y0, x1, y1] = DATA.axes;
  if (p.x < x0 || p.x > x1 || p.y < y0 || p.y > y1) { readout.style.display = 'none'; cursor.style.display = 'none'; return; }
  const t = DATA.xlim[0] + (p.x - x0) / (x1 - x0) * (DATA.xlim[1] - DATA.xlim[0]);
  let text = '<b>t = ' + t.toFixed(2) + ' s</b>';
  const escaped = name => name.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  for (const task of DATA.tasks) {
    if (hidden.has(task.id)) continue;
    const q = nearest(task.points, t);
    if (q) text += '<br><span style="color:' + task.color + '">&#9632;</span> ' + escaped(task.name) + ': ' + q[1] + ' B';
  }
  const h = nearest(DATA.heaps, t);
  if (h) {
    text += '<br><b>ESP-IDF heap</b>: free ' + h[1] + ' B, largest free block ' + h[2] + ' B, lowest free ' + h[3] + ' B';
    if (h[4] !== null) text += '<br><b>MicroPython GC heap</b>: size ' + h[4] + ' B';
    if (h[5].length) text += '<br><b style="color:#b00020">failed: ' + h[5].join(', ') + '</b>';
    if (h[6].length) text += '<br><b>GC heap by type</b> (bytes, objects):';
    for (const [type, count, bytes] of h[6]) text += '<br>&nbsp;&nbsp;' + escaped(type) + ': ' + bytes + ' B, ' + count;
  }
  readout.innerHTML = text; readout.style.display = 'block';
  const box = document.getElementById('plot').getBoundingClientRect();
  readout.style.left = (ev.clientX - box.left + 14) + 'px'; readout.style.top = (ev.clientY - box.top + 14) + 'px';
  cursor.setAttribute('x1', p.x); cursor.setAttribute('x2', p.x); cursor.style.display = '';
});
svg.addEventListener('mouseleave', () => { readout.style.display = 'none'; cursor.style.display = 'none'; });
</script></body></html>
"""
