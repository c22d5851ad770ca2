"""The firmware's record format has one definition, heaptrack_host/records.py: what
heaptrack.dump() and heaptrack.dump_sample() write on the board, the fields of the
on-board objects they come from, and the typed stubs are all checked against its
tables, field by field (issue 23: record fields spelled once)."""
import ast
import json
from pathlib import Path

from board_code import PRELUDE
from heaptrack_host import records

REPO = Path(__file__).resolve().parents[1]
STUB = REPO / "heaptrack_host" / "stubs" / "heaptrack" / "__init__.pyi"

# A dump's line types, their table, and the keys a line may have besides it
# ("type" always; a heap's blocks with blocks=True; the GC heap's area blocks).
DUMP_LINES = {"region": (records.REGION, ()), "gc": (records.GC, ("area_blocks",)),
              "task": (records.TASK, ()), "heap": (records.HEAP, ("blocks",))}

# A board with something in every record: a task's block, a failed allocation,
# the GC heap's first area.
SETUP = PRELUDE + """
import json
keep = heaptrack.malloc(100)
err(heaptrack.malloc, 64 * 1024 * 1024)
"""


def _keys(obj, extras=()):
    return [k for k in obj if k != "type" and k not in extras]


def test_a_dump_writes_each_record_with_the_tables_fields_in_order(board):
    out = board.exec(SETUP + "heaptrack.dump()\nheaptrack.free_all()\n")
    seen = set()
    for line in out.splitlines():
        if not line.startswith("{"):
            continue
        obj = json.loads(line)
        if obj["type"] in DUMP_LINES:
            table, extras = DUMP_LINES[obj["type"]]
            assert _keys(obj, extras) == list(records.names(table)), (obj["type"], list(obj))
            records.check(obj, table, obj["type"])
            seen.add(obj["type"])
    assert seen == set(DUMP_LINES)


def _fields(obj):
    # MicroPython's dicts keep no order: a sample's keys are compared as sets.
    return sorted(k for k in obj if k != "type")


def test_a_sample_writes_each_record_with_the_tables_fields(board):
    out = board.exec(SETUP + "heaptrack.dump_sample(None, '', 0)\nheaptrack.free_all()\n")
    sample = json.loads([line for line in out.splitlines() if '"type": "sample"' in line][-1])
    for key, table in (("tasks", records.SAMPLE_TASK), ("regions", records.REGION),
                       ("gc_areas", records.GC_AREA)):
        assert sample[key], key
        for item in sample[key]:
            assert _fields(item) == sorted(records.names(table)), (key, list(item))
    assert _fields(sample["gc"]) == sorted(records.names(records.SAMPLE_GC))
    assert _fields(sample["records"]) == sorted(records.names(records.RECORDS))
    assert _fields(sample["failures"]) == sorted(records.names(records.FAILURES))
    assert sample["failures"]["new"], "the failed allocation above"
    for item in sample["failures"]["new"]:
        assert _fields(item) == sorted(records.names(records.FAILURE)), list(item)
    assert sample["gc_events"]["recent"], "the GC heap's first area"
    for item in sample["gc_events"]["recent"]:
        assert _fields(item) == sorted(records.names(records.GC_EVENT)), list(item)


def test_a_sample_with_gc_types_writes_the_biggest_types_with_the_tables_fields(board):
    out = board.exec(SETUP + """
heaptrack.dump_sample(None, '', 0, gc_types=4)
heaptrack.dump_sample(None, '', 0)
print('bad:', err(heaptrack.dump_sample, None, '', 0, -1), err(heaptrack.dump_sample, None, '', 0, '3'))
heaptrack.free_all()
""")
    with_types, without = [json.loads(line) for line in out.splitlines() if '"type": "sample"' in line]
    types = with_types["gc_types"]
    assert 1 <= len(types) <= 4
    for item in types:
        assert _fields(item) == sorted(records.names(records.GC_TYPE)), list(item)
        records.check(item, records.GC_TYPE, "gc type")
    sizes = [t["size"] for t in types]
    assert sizes == sorted(sizes, reverse=True)
    # (taken after the sample's other figures, so the GC's used bytes then are no bound)
    assert sum(sizes) <= with_types["gc"]["total"]
    assert "gc_types" not in without   # asked for none: no census, no field
    assert "bad: ValueError TypeError" in out


def test_the_on_board_objects_have_the_tables_fields(board):
    # The attribute tuples heapinfo.c makes, which heap_info() and the records above read.
    out = board.exec(SETUP + """
import _heaptrack
print(json.dumps({'gc': list(dir(_heaptrack.gc_info())), 'records': list(dir(_heaptrack.records_info())),
                  'regions': [list(r) for r in _heaptrack.region_info()][:1]}))
heaptrack.free_all()
""")
    got = json.loads(out.strip().splitlines()[-1])
    assert set(records.names(records.GC)) <= set(got["gc"])
    assert set(records.names(records.RECORDS)) <= set(got["records"])
    assert len(got["regions"][0]) == len(records.REGION)


def _stub_fields(cls_name):
    tree = ast.parse(STUB.read_text(encoding="utf-8"))
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls_name]
    return [n.target.id for n in cls.body if isinstance(n, ast.AnnAssign)]


def test_the_stubs_name_the_tables_fields():
    assert _stub_fields("_Region") == list(records.names(records.REGION))
    assert _stub_fields("_GCHeap") == list(records.names(records.GC))
    assert _stub_fields("_GCArea") == list(records.names(records.GC_AREA))
    assert _stub_fields("_Records")[-len(records.RECORDS):] == list(records.names(records.RECORDS))
    failure = _stub_fields("Failure")
    assert [f for f in records.names(records.FAILURE) if f not in ("kind", "text")] == \
        [f for f in failure if f in records.names(records.FAILURE) and f != "kind"]
