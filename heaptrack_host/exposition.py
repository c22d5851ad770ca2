"""Prometheus's text exposition format (version 0.0.4), as far as the exporter needs it.

The model of what ``heaptrack.metrics()`` writes on a board: metric families,
each with its HELP and TYPE lines and its samples. ``mpheaptrack exporter``
reads each board's text, adds a ``board`` label to every sample and serves the
families of all boards as one text, each family once.

    families = parse(text)                          # ExpositionError if it is not the format
    merged = merge([labelled(parse(a), "board", "rack1"), labelled(parse(b), "board", "rack2")])
    str(merged)                                     # the text again, each family once

Only what the format says is read: ``# HELP`` and ``# TYPE`` lines, other
comments (skipped), and sample lines ``name{label="value",...} value [timestamp]``.
"""

from __future__ import annotations

import re
from typing import Dict, Iterable, List, Optional

__all__ = ["ExpositionError", "Family", "Exposition", "parse", "labelled", "merge", "escape_label_value",
           "CONTENT_TYPE"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL_VALUE = r'"(?:[^"\\\n]|\\.)*"'
_LABELS = r"\{(?:\s*[a-zA-Z_][a-zA-Z0-9_]*\s*=\s*%s\s*,?)*\s*\}" % _LABEL_VALUE
_VALUE = r"[-+]?(?:[0-9.]+(?:[eE][-+]?[0-9]+)?|Inf|NaN)"
_SAMPLE = re.compile(r"(%s)(%s)?[ \t]+%s(?:[ \t]+-?[0-9]+)?[ \t]*$" % (_NAME, _LABELS, _VALUE))
_META = re.compile(r"#[ \t]+(HELP|TYPE)[ \t]+(%s)(?:[ \t]+(.*))?$" % _NAME)
_TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
# The samples a histogram or summary family has besides its own name.
_SUFFIXES = ("_bucket", "_sum", "_count")


class ExpositionError(ValueError):
    """Text that is not Prometheus's exposition format; says which line."""


def escape_label_value(value: str) -> str:
    """A label value as the format writes it between double quotes."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Family:
    """One metric family: name, help text, type, and its sample lines as written."""

    def __init__(self, name: str, help: Optional[str] = None, type: Optional[str] = None):
        self.name = name
        self.help = help
        self.type = type
        self.samples: List[str] = []

    def owns(self, sample_name: str) -> bool:
        if sample_name == self.name:
            return True
        return self.type in ("histogram", "summary") and any(sample_name == self.name + s for s in _SUFFIXES)

    def __str__(self) -> str:
        lines = []
        if self.help is not None:
            lines.append("# HELP %s %s" % (self.name, self.help))
        if self.type is not None:
            lines.append("# TYPE %s %s" % (self.name, self.type))
        return "".join(line + "\n" for line in lines + self.samples)

    def __repr__(self) -> str:
        return "<Family %s (%s), %d samples>" % (self.name, self.type or "untyped", len(self.samples))


class Exposition:
    """Metric families in the order they came; str() is the text."""

    def __init__(self, families: Optional[Iterable[Family]] = None):
        self.families: Dict[str, Family] = {}
        for f in families or ():
            self.families[f.name] = f

    def __iter__(self):
        return iter(self.families.values())

    def __len__(self) -> int:
        return len(self.families)

    def __getitem__(self, name: str) -> Family:
        return self.families[name]

    def __contains__(self, name: str) -> bool:
        return name in self.families

    def __str__(self) -> str:
        return "".join(str(f) for f in self.families.values())

    def __repr__(self) -> str:
        return "<Exposition: %d families>" % len(self.families)


def _family_for(families: Exposition, name: str, lineno: int, kind: str) -> Family:
    f = families.families.get(name)
    if f is None:
        f = families.families[name] = Family(name)
    elif f.samples:
        raise ExpositionError("line %d: %s for %s after its samples" % (lineno, kind, name))
    return f


def parse(text: str) -> Exposition:
    """The families of an exposition text. Each family's samples must come together, after
    its HELP and TYPE lines when it has them; ExpositionError names the first line that is not so."""
    families = Exposition()
    current: Optional[Family] = None
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            m = _META.match(line)
            if m is None:
                continue  # a comment
            kind, name, rest = m.group(1), m.group(2), m.group(3) or ""
            f = _family_for(families, name, lineno, kind)
            if kind == "HELP":
                f.help = rest
            else:
                if rest.strip() not in _TYPES:
                    raise ExpositionError("line %d: unknown metric type %r" % (lineno, rest))
                f.type = rest.strip()
            current = f
            continue
        m = _SAMPLE.match(line)
        if m is None:
            raise ExpositionError("line %d: not a sample: %r" % (lineno, line[:200]))
        name = m.group(1)
        if current is None or not current.owns(name):
            if name in families.families:
                raise ExpositionError("line %d: sample of %s apart from the others" % (lineno, name))
            current = families.families[name] = Family(name)
        current.samples.append(line.rstrip())
    return families


def _with_label(sample: str, name: str, value: str) -> str:
    label = '%s="%s"' % (name, escape_label_value(value))
    m = re.match(_NAME, sample)
    end = m.end()
    if sample[end:end + 1] == "{":
        rest = sample[end + 1:]
        return "%s{%s%s%s" % (sample[:end], label, "" if rest.lstrip().startswith("}") else ",", rest)
    return "%s{%s}%s" % (sample[:end], label, sample[end:])


def labelled(families: Exposition, name: str, value: str) -> Exposition:
    """The same families with the label name="value" first on every sample."""
    out = Exposition()
    for f in families:
        g = Family(f.name, f.help, f.type)
        g.samples = [_with_label(s, name, value) for s in f.samples]
        out.families[g.name] = g
    return out


def merge(expositions: Iterable[Exposition]) -> Exposition:
    """One exposition of several: a family that several have is written once, with every
    one's samples (its HELP and TYPE from the first that has them)."""
    out = Exposition()
    for e in expositions:
        for f in e:
            g = out.families.get(f.name)
            if g is None:
                g = out.families[f.name] = Family(f.name, f.help, f.type)
            g.help = g.help if g.help is not None else f.help
            g.type = g.type if g.type is not None else f.type
            g.samples.extend(f.samples)
    return out
