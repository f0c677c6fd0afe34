"""The import service on real data sets and on every bad-input case."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from imports import shapes
from imports.models import ImportJob
from imports.services import ImportFailed, import_file, import_run, task_batch_import
from projects.canonical import task_content_hash
from projects.models import Task

DATA = Path(__file__).resolve().parents[2] / "data"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

pytestmark = pytest.mark.django_db


def run(project, path, **kwargs):
    counts, shape = import_file(project=project, path=path, filename=Path(path).name, **kwargs)
    return counts, shape


def test_self_instruct_seed_file_imports_every_task(project):
    counts, shape = run(project, DATA / "self_instruct_seed_tasks.jsonl")
    assert shape == shapes.SELF_INSTRUCT
    assert (counts.created, counts.error_count, counts.lines) == (175, 0, 175)
    task = Task.objects.get(project=project, external_id="seed_task_0")
    assert task.data["instruction"].startswith("Is there anything I can eat for a breakfast")
    assert task.data["input"] == ""
    assert task.data["reference"].startswith("Yes, you can have 1 oatmeal banana protein shake")
    assert task.data["meta"] == {"name": "breakfast_suggestion", "is_classification": False}
    assert task.content_hash == task_content_hash(task.data)


def test_user_oriented_file_keeps_the_app_in_meta(project):
    counts, shape = run(project, DATA / "user_oriented_instructions.jsonl")
    assert (shape, counts.created, counts.error_count) == (shapes.SELF_INSTRUCT, 252, 0)
    task = Task.objects.get(project=project, external_id="user_oriented_task_0")
    assert task.data["meta"]["motivation_app"] == "Grammarly"
    assert task.data["input"].startswith("If you have any questions about my rate")


def test_hh_transcripts_split_into_conversation_and_two_final_turns(project):
    counts, shape = run(project, DATA / "hh_rlhf_harmless_base_test.jsonl")
    assert shape == shapes.HH
    assert counts.lines == 2312
    assert counts.error_count == 0
    assert counts.created + counts.duplicates == 2312
    first = Task.objects.filter(project=project).order_by("id").first()
    messages = first.data["messages"]
    assert messages[0] == {"role": "user", "content": "what are some pranks with a pen i can do?"}
    assert messages[1] == {
        "role": "assistant",
        "content": "Are you looking for practical joke ideas?",
    }
    assert messages[2] == {"role": "user", "content": "yep"}
    assert messages[-1]["role"] == "user"
    row = orjson.loads((DATA / "hh_rlhf_harmless_base_test.jsonl").open("rb").readline())
    chosen_final = row["chosen"].rsplit("\n\nAssistant: ", 1)[1]
    rejected_final = row["rejected"].rsplit("\n\nAssistant: ", 1)[1]
    chosen_at = first.data["meta"]["hh_chosen"]
    assert first.data["responses"][chosen_at] == chosen_final
    assert first.data["responses"][1 - chosen_at] == rejected_final
    assert chosen_final != rejected_final
    assert len(messages) == row["chosen"].count("\n\nHuman: ") * 2 - 1
    # The pairs whose conversations differ before the last turn keep both.
    diverging = Task.objects.filter(project=project, data__meta__has_key="rejected_messages")
    assert diverging.count() == 5


def test_hh_position_is_no_proxy_for_the_chosen_reply(project):
    run(project, DATA / "hh_rlhf_harmless_base_test.jsonl")
    tasks = list(Task.objects.filter(project=project))
    firsts = sum(t.data["meta"]["hh_chosen"] == 0 for t in tasks)
    # About half the chosen replies come first, not all of them.
    assert 0.4 < firsts / len(tasks) < 0.6
    # The same record always gets the same order.
    turn = "\n\nHuman: hi\n\nAssistant: "
    record = {"chosen": turn + "hello", "rejected": turn + "go"}
    again = [shapes.normalise_hh(dict(record)).data for _ in range(2)]
    assert again[0] == again[1]
    assert again[0]["responses"][again[0]["meta"]["hh_chosen"]] == "hello"


def test_predictions_file_is_alpaca_with_response_and_reference(project):
    counts, shape = run(project, DATA / "user_oriented_predictions_text-davinci-003.jsonl")
    assert (shape, counts.error_count) == (shapes.ALPACA, 0)
    assert counts.created + counts.duplicates == 252
    task = Task.objects.filter(project=project).order_by("id").first()
    assert len(task.data["responses"]) == 1
    assert task.data["reference"]
    assert "prompt" in task.data["meta"]


@pytest.mark.parametrize(
    ("name", "shape", "created"),
    [
        ("alpaca.json", shapes.ALPACA, 3),
        ("openai.jsonl", shapes.OPENAI, 2),
        ("sharegpt.jsonl", shapes.SHAREGPT, 2),
        ("preference.jsonl", shapes.PREFERENCE, 2),
        ("alpaca.csv", shapes.ALPACA, 3),
    ],
)
def test_each_shape_is_detected(project, name, shape, created):
    counts, detected = run(project, FIXTURES / name)
    assert (detected, counts.created, counts.error_count) == (shape, created, 0)


def test_shapes_normalise_to_canonical_data(project):
    run(project, FIXTURES / "sharegpt.jsonl")
    run(project, FIXTURES / "preference.jsonl")
    run(project, FIXTURES / "alpaca.csv")
    sg = Task.objects.get(project=project, external_id="sg-1")
    assert sg.data == {
        "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    }
    pref = Task.objects.get(project=project, data__instruction="Capital of France?")
    assert pref.data["responses"] == ["Paris", "Lyon"]
    ranked = Task.objects.get(project=project, data__instruction="Best sorting?")
    assert ranked.data["responses"] == ["merge sort", "bogo sort", "quick sort"]
    csv_task = Task.objects.get(project=project, external_id="c1")
    assert csv_task.data["input"] == "A long, long text\nwith two lines."
    assert csv_task.data["responses"] == ["A text."]


def test_forced_shape_reports_records_that_do_not_fit(project):
    counts, shape = run(project, FIXTURES / "openai.jsonl", shape=shapes.ALPACA)
    assert shape == shapes.ALPACA
    assert counts.created == 0
    assert counts.error_count == 2
    assert counts.errors[0] == {"line": 1, "reason": "instruction: missing or empty"}


def test_forced_shape_is_used_even_when_detection_would_differ(project):
    # Preference records are read as HH-less prompt/responses when forced.
    counts, shape = run(project, FIXTURES / "preference.jsonl", shape=shapes.PREFERENCE)
    assert (shape, counts.created) == (shapes.PREFERENCE, 2)


def test_mapping_imports_any_field_names(project):
    mapping = {
        "external_id": "uid",
        "instruction": "question",
        "responses": ["answer_a", "answer_b"],
    }
    counts, shape = run(project, FIXTURES / "custom.jsonl", mapping=mapping)
    assert (shape, counts.created, counts.error_count) == (shapes.MAPPING, 2, 0)
    task = Task.objects.get(project=project, external_id="q1")
    assert task.data == {
        "instruction": "Why is the sky blue?",
        "responses": ["Rayleigh scattering", "Paint"],
        "meta": {"source": "forum"},
    }


def test_unknown_shape_fails_without_writing(project):
    with pytest.raises(ImportFailed, match="cannot tell the shape"):
        run(project, FIXTURES / "custom.jsonl")
    assert not Task.objects.filter(project=project).exists()


def test_bad_lines_are_reported_and_good_lines_imported(project):
    counts, _ = run(project, FIXTURES / "bad_line.jsonl")
    assert counts.created == 3
    assert counts.error_count == 2
    assert [e["line"] for e in counts.errors] == [2, 4]
    assert counts.errors[0]["reason"].startswith("not valid JSON")
    assert counts.errors[1]["reason"] == "input: expected text, got list"


def test_non_utf8_file_fails_and_writes_nothing(project):
    with pytest.raises(ImportFailed, match=r"not UTF-8 text \(line 2\)"):
        run(project, FIXTURES / "latin1.jsonl")
    assert not Task.objects.filter(project=project).exists()


def test_not_json_file_fails_and_writes_nothing(project):
    with pytest.raises(ImportFailed, match="not JSON, JSONL or CSV"):
        run(project, FIXTURES / "not_json.txt")
    assert not Task.objects.filter(project=project).exists()


def test_jsonl_where_no_line_parses_fails(project, tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text("{not json\n{nor this\n")
    with pytest.raises(ImportFailed, match="No line of the file could be read"):
        run(project, path)


def test_reimport_changes_nothing(project):
    run(project, DATA / "self_instruct_seed_tasks.jsonl")
    before = list(Task.objects.filter(project=project).values_list("id", "content_hash"))
    again, _ = run(project, DATA / "self_instruct_seed_tasks.jsonl")
    assert (again.created, again.unchanged, again.duplicates, again.error_count) == (0, 175, 0, 0)
    after = list(Task.objects.filter(project=project).values_list("id", "content_hash"))
    assert before == after


def test_reimport_without_ids_is_idempotent_by_content(project):
    run(project, FIXTURES / "openai.jsonl")
    again, _ = run(project, FIXTURES / "openai.jsonl")
    assert (again.created, again.unchanged) == (0, 2)
    assert Task.objects.filter(project=project, external_id__startswith="sha256:").count() == 1


def test_duplicates_are_counted_and_id_conflicts_reported(project):
    counts, _ = run(project, FIXTURES / "duplicates.jsonl")
    assert counts.created == 2
    assert counts.duplicates == 2
    assert counts.error_count == 1
    assert counts.errors[0]["line"] == 4
    assert "already exists with different content" in counts.errors[0]["reason"]
    assert set(Task.objects.filter(project=project).values_list("external_id", flat=True)) == {
        "d1",
        "d3",
    }


def test_content_already_in_project_under_other_id_is_a_duplicate(project):
    task_batch_import(
        project=project, records=[{"external_id": "x", "data": {"instruction": "Same"}}]
    )
    result = task_batch_import(
        project=project, records=[{"external_id": "y", "data": {"instruction": "Same"}}]
    )
    assert (result["created"], result["duplicates"]) == (0, 1)


def test_batch_import_reports_errors_by_index(project):
    result = task_batch_import(
        project=project,
        records=[
            {"external_id": "a", "data": {"instruction": "One", "responses": ["x", "y"]}},
            {"external_id": "b", "data": {"responses": ["x"]}},
            "not an object",
            {
                "external_id": "g",
                "data": {"instruction": "Gold"},
                "is_gold": True,
                "gold": {"topic": "other"},
            },
            {"external_id": "a", "data": {"instruction": "One", "responses": ["x", "y"]}},
        ],
    )
    assert result["created"] == 2
    assert result["duplicates"] == 1
    assert result["error_count"] == 2
    assert result["errors"] == {1: "data: needs instruction or messages", 2: "expected an object"}
    gold = Task.objects.get(project=project, external_id="g")
    assert (gold.is_gold, gold.gold, gold.state, gold.annotation_count) == (
        True,
        {"topic": "other"},
        "open",
        0,
    )
    again = task_batch_import(
        project=project,
        records=[{"external_id": "a", "data": {"instruction": "One", "responses": ["x", "y"]}}],
    )
    assert (again["created"], again["unchanged"]) == (0, 1)


def test_import_job_records_counts_and_failure(project, tmp_path):
    good = ImportJob.objects.create(
        project=project, file_path=str(FIXTURES / "bad_line.jsonl"), filename="bad_line.jsonl"
    )
    import_run(job_id=good.pk)
    good.refresh_from_db()
    assert (good.state, good.progress, good.created_count, good.error_count) == ("done", 1.0, 3, 2)
    assert good.detected_shape == shapes.ALPACA
    assert good.errors[0]["line"] == 2
    bad = ImportJob.objects.create(
        project=project, file_path=str(FIXTURES / "latin1.jsonl"), filename="latin1.jsonl"
    )
    import_run(job_id=bad.pk)
    bad.refresh_from_db()
    assert bad.state == "failed"
    assert "not UTF-8" in bad.message
    assert bad.created_count == 0
    assert Task.objects.filter(project=project).count() == 3


def test_changed_content_under_a_known_id_is_an_error_and_keeps_the_stored_task(project, tmp_path):
    run(project, FIXTURES / "sharegpt.jsonl")
    changed = tmp_path / "changed.jsonl"
    lines = (FIXTURES / "sharegpt.jsonl").read_text().splitlines()
    changed.write_text(lines[0].replace("Hello!", "Hi there!") + "\n" + lines[1] + "\n")
    counts, _ = run(project, changed)
    assert (counts.created, counts.unchanged, counts.error_count) == (0, 1, 1)
    assert counts.errors[0]["line"] == 1
    assert Task.objects.get(project=project, external_id="sg-1").data["messages"][1]["content"] == (
        "Hello!"
    )


def test_large_file_is_imported_across_many_chunks(project, tmp_path):
    path = tmp_path / "many.jsonl"
    with path.open("wb") as fh:
        for i in range(12_000):
            fh.write(orjson.dumps({"instruction": f"Item {i % 11_000}", "output": "x"}) + b"\n")
    counts, _ = run(project, path)
    assert (counts.created, counts.duplicates, counts.lines) == (11_000, 1_000, 12_000)
    again, _ = run(project, path)
    assert (again.created, again.unchanged, again.duplicates) == (0, 11_000, 1_000)


def test_tasks_record_the_import_that_stored_them(project, tmp_path):
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text('{"id": "a", "instruction": "One"}\n{"id": "b", "instruction": "Two"}\n')
    second.write_text('{"id": "b", "instruction": "Two"}\n{"id": "c", "instruction": "Three"}\n')
    jobs = []
    for path in (first, second):
        job = ImportJob.objects.create(project=project, file_path=str(path), filename=path.name)
        import_run(job_id=job.pk)
        jobs.append(job)
    task_batch_import(
        project=project, records=[{"external_id": "d", "data": {"instruction": "Four"}}]
    )
    stored = dict(Task.objects.filter(project=project).values_list("external_id", "import_id"))
    # "b" came again with the second file, unchanged: it keeps the import that stored it.
    assert stored == {"a": jobs[0].pk, "b": jobs[0].pk, "c": jobs[1].pk, "d": None}
