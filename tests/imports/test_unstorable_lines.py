"""A record that cannot be stored (a NUL, a lone surrogate, nesting past the limit) is
one bad line, reported with its number; the rest of the file imports."""

from __future__ import annotations

import pytest

from imports.services import import_file
from projects.models import Task

pytestmark = pytest.mark.django_db

DEEP = '{"a":' * 300 + "1" + "}" * 300


def _import(project, path):
    counts, _ = import_file(project=project, path=path, filename=path.name)
    return counts


def test_jsonl_lines_that_cannot_be_stored_are_reported_by_number(project, tmp_path):
    path = tmp_path / "tasks.jsonl"
    path.write_text(
        '{"instruction": "first"}\n'
        '{"instruction": "has a \\u0000 in it"}\n'
        '{"instruction": "deep", "meta": ' + DEEP + "}\n"
        '{"instruction": "lone \\ud800 surrogate"}\n'
        '{"instruction": "key", "meta": {"k\\u0000": 1}}\n'
        '{"instruction": "last"}\n'
    )
    counts = _import(project, path)
    assert counts.created == 2
    assert {e["line"] for e in counts.errors} == {2, 3, 4, 5}
    reasons = {e["line"]: e["reason"] for e in counts.errors}
    assert "instruction: contains a NUL character" in reasons[2]
    assert "nested deeper than 64 levels" in reasons[3]
    assert "surrogate" in reasons[4]
    assert "NUL" in reasons[5]
    stored = set(Task.objects.filter(project=project).values_list("data__instruction", flat=True))
    assert stored == {"first", "last"}


def test_a_json_array_record_with_a_nul_is_one_bad_item(project, tmp_path):
    path = tmp_path / "tasks.json"
    path.write_text('[{"instruction": "a"}, {"instruction": "b\\u0000"}, {"instruction": "c"}]')
    counts = _import(project, path)
    assert counts.created == 2
    assert counts.errors == [
        {
            "line": 2,
            "reason": "instruction: contains a NUL character (\\u0000), which cannot be stored",
        }
    ]


def test_a_csv_cell_with_a_nul_is_one_bad_line(project, tmp_path):
    path = tmp_path / "tasks.csv"
    path.write_bytes(b"instruction,input\nfirst,x\nsec\x00ond,y\nthird,z\n")
    counts = _import(project, path)
    assert counts.created == 2
    assert [e["line"] for e in counts.errors] == [3]
