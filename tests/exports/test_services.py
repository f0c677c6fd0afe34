"""Building export files from the database: formats end to end, filters, split,
immutability, the stream announcement and the webhook."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import redis
from datasets import load_dataset
from django.conf import settings
from django.core.exceptions import ValidationError

from agreement.models import AgreementSnapshot
from exports.formats import split_of
from exports.services import export_filters_clean
from tests.exports.conftest import agreement_fresh, build, lines, make_task
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def crew(text_project):
    return [UserFactory(username=f"ann{i}") for i in range(3)]


@pytest.fixture
def filled(text_project, crew):
    """Tasks covering each way an answer is settled."""
    make_task(
        text_project,
        1,
        consensus={"answer": "Consensus 1", "better": "A", "order": [0, 1, 2]},
        annotators=crew,
        agreement=0.9,
    )
    make_task(
        text_project,
        2,
        consensus={"answer": "Consensus 2", "better": "B", "_ties": ["order"]},
        resolution={"answer": "Resolved 2", "order": [1, 0, 2]},
        annotators=crew,
        agreement=0.2,
    )
    make_task(
        text_project,
        3,
        consensus={"better": "tie", "answer": None},
        annotators=crew[:2],
        agreement=0.5,
        review_state="accepted",
    )
    make_task(
        text_project,
        4,
        is_gold=True,
        consensus={"answer": "Gold 4", "better": "A"},
        annotators=crew[:1],
        agreement=1.0,
    )
    make_task(text_project, 5, data={"instruction": "No reference here."})
    agreement_fresh(text_project)
    return text_project


def test_every_format_loads_with_datasets(filled):
    for fmt in ("sft", "alpaca", "preference", "annotations"):
        export = build(filled, fmt)
        assert export.state == "ready", export.error
        assert export.row_count == len(lines(export)) > 0
        with open(export.file_path, "rb") as handle:
            content = handle.read()
        assert hashlib.sha256(content).hexdigest() == export.sha256
        assert len(content) == export.bytes
        dataset = load_dataset("json", data_files=export.file_path, split="train")
        assert len(dataset) == export.row_count


def test_sft_applies_resolution_then_consensus_then_reference(filled):
    rows = {line["metadata"]["external_id"]: line for line in lines(build(filled, "sft"))}
    assert rows["t1"]["messages"][-1] == {"role": "assistant", "content": "Consensus 1"}
    assert rows["t2"]["messages"][-1]["content"] == "Resolved 2"
    assert rows["t3"]["metadata"]["source"] == "reference"
    assert "t5" not in rows
    for line in rows.values():
        roles = [m["role"] for m in line["messages"]]
        assert roles[-2:] == ["user", "assistant"]
        assert all(isinstance(m["content"], str) and m["content"] for m in line["messages"])


def test_preference_lines_have_dpo_shape_and_skip_ties(filled):
    out = lines(build(filled, "preference"))
    for line in out:
        assert set(line) == {"prompt", "chosen", "rejected", "metadata"}
        assert line["chosen"] != line["rejected"]
    keyed = {(x["metadata"]["external_id"], x["metadata"]["question"]) for x in out}
    # t1: better + 3 ranking pairs; t2: better + resolved ranking (its tie is overridden); t3 tie.
    assert ("t3", "better") not in keyed
    assert sum(1 for x in out if x["metadata"]["external_id"] == "t1") == 4
    assert sum(1 for x in out if x["metadata"]["external_id"] == "t2") == 4


def test_annotations_export_has_every_annotation_with_pseudonyms(filled, crew):
    out = lines(build(filled, "annotations"))
    assert len(out) == 9
    ids = {line["annotator"] for line in out}
    assert len(ids) == 3
    assert not any(str(u.pk) == x or u.username in x for u in crew for x in ids)
    assert {line["review_state"] for line in out} == {"pending", "accepted"}
    assert all(line["lead_time_s"] == 12.5 for line in out)


def test_filters_reviewed_agreement_gold(filled):
    reviewed = {
        x["metadata"]["external_id"] for x in lines(build(filled, "sft", reviewed_only=True))
    }
    assert reviewed == {"t2", "t3"}
    agreed = {x["metadata"]["external_id"] for x in lines(build(filled, "sft", min_agreement=0.6))}
    assert agreed == {"t1", "t2", "t4"}  # t2 is resolved, which settles it
    no_gold = {x["metadata"]["external_id"] for x in lines(build(filled, "sft", gold="exclude"))}
    assert "t4" not in no_gold
    assert "t1" in no_gold
    only_gold = {x["metadata"]["external_id"] for x in lines(build(filled, "sft", gold="only"))}
    assert only_gold == {"t4"}
    accepted = lines(build(filled, "annotations", reviewed_only=True))
    assert len(accepted) == 2
    assert all(x["review_state"] == "accepted" for x in accepted)


def test_min_annotator_quality_uses_latest_snapshot(filled, crew):
    from datetime import timedelta

    from django.utils import timezone

    quality = [
        {"annotator_id": crew[0].pk, "quality": 0.9},
        {"annotator_id": crew[1].pk, "quality": 0.8},
        {"annotator_id": crew[2].pk, "quality": 0.3},
    ]
    AgreementSnapshot.objects.create(
        project=filled,
        computed_at=timezone.now() + timedelta(minutes=2),
        data={"annotators": quality},
    )
    out = lines(build(filled, "annotations", min_annotator_quality=0.5))
    assert len(out) == 7
    assert {x["annotator_quality"] for x in out} == {0.9, 0.8}
    # Task formats keep tasks whose every contributor meets the bar (or that are resolved).
    kept = {
        x["metadata"]["external_id"] for x in lines(build(filled, "sft", min_annotator_quality=0.5))
    }
    assert kept == {
        "t2",
        "t3",
        "t4",
    }


def test_split_is_deterministic_and_partitions(text_project, crew):
    for n in range(1, 61):
        make_task(text_project, n, consensus={"answer": f"A{n}"})
    train = build(text_project, "sft", split="train", validation_ratio=0.25, seed="s1")
    valid = build(text_project, "sft", split="validation", validation_ratio=0.25, seed="s1")
    again = build(text_project, "sft", split="validation", validation_ratio=0.25, seed="s1")
    t_ids = {x["metadata"]["task_id"] for x in lines(train)}
    v_ids = {x["metadata"]["task_id"] for x in lines(valid)}
    assert t_ids.isdisjoint(v_ids)
    assert len(t_ids | v_ids) == 60
    assert again.sha256 == valid.sha256
    assert all(split_of(i, ratio=0.25, seed="s1") == "validation" for i in v_ids)


def test_exports_are_immutable_new_export_new_file(filled, crew):
    first = build(filled, "sft")
    with open(first.file_path, "rb") as handle:
        before = handle.read()
    make_task(filled, 9, consensus={"answer": "Late"})
    second = build(filled, "sft")
    assert second.file_path != first.file_path
    with open(first.file_path, "rb") as handle:
        assert handle.read() == before
    assert second.row_count == first.row_count + 1
    assert first.sha256 != second.sha256


def test_bad_filters_name_the_field(text_project):
    with pytest.raises(ValidationError) as exc:
        export_filters_clean(
            filters={"min_agreement": "high", "gold": "maybe", "nope": 1},
            project=text_project,
            format="sft",
        )
    assert set(exc.value.message_dict) == {"filters", "filters.min_agreement", "filters.gold"}


def test_ready_export_is_announced_on_the_stream(filled):
    client = redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
    stream = f"{settings.EXPORT_STREAM}:test-{filled.pk}"
    settings.EXPORT_STREAM = stream
    client.delete(stream)
    client.xgroup_create(stream, "trainers", id="0", mkstream=True)
    export = build(filled, "sft")
    [(_, messages)] = client.xreadgroup("trainers", "worker-1", {stream: ">"}, count=10, block=2000)
    [(message_id, fields)] = messages
    assert fields["export_id"] == str(export.pk)
    assert fields["sha256"] == export.sha256
    assert fields["rows"] == str(export.row_count)
    assert fields["download"] == f"/api/v1/exports/{export.pk}/download/"
    client.xack(stream, "trainers", message_id)
    client.delete(stream)


def test_webhook_is_signed(filled):
    received = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        settings.EXPORT_WEBHOOK_URL = f"http://127.0.0.1:{server.server_port}/hook"
        settings.EXPORT_WEBHOOK_SECRET = "hook-secret"
        export = build(filled, "alpaca")
    finally:
        server.shutdown()
    [(headers, body)] = received
    expected = hmac.new(b"hook-secret", body, hashlib.sha256).hexdigest()
    assert headers["X-Quorum-Signature"] == f"sha256={expected}"
    payload = json.loads(body)
    assert payload["event"] == "export.ready"
    assert payload["sha256"] == export.sha256


def test_export_counts_what_it_left_out_and_why(filled):
    sft = build(filled, "sft")
    # t5 is open (no answers reached the overlap); the rest give a line.
    assert sft.excluded == {"incomplete": 1}
    no_gold = build(filled, "sft", gold="exclude", min_agreement=0.6)
    # gold first (t4), then incomplete (t5), then agreement (t3 at 0.5); t1 and t2 stay.
    assert no_gold.excluded == {"gold": 1, "incomplete": 1, "min_agreement": 1}
    assert no_gold.row_count == 2
    preference = build(filled, "preference")
    assert preference.excluded == {"incomplete": 1, "no_answer": 1}  # t3 prefers neither


def test_a_single_answer_is_never_a_consensus(text_project, crew):
    one = {"answer": "Only one said so", "better": "A", "order": [0, 1, 2], "_single": True}
    # No reference to fall back on.
    bare = {"instruction": "Say hi.", "responses": ["Hi.", "Hello."]}
    make_task(text_project, 1, consensus=one, annotators=crew[:1], data=bare)
    task = make_task(text_project, 2, consensus=dict(one), annotators=crew[:1], data=dict(bare))
    task.state = "open"
    task.save(update_fields=["state"])
    tied = {"answer": "Either", "_ties": ["answer"], "better": "A"}
    make_task(text_project, 3, consensus=tied, annotators=crew[:2], data={"instruction": "Hi."})
    agreement_fresh(text_project)
    export = build(text_project, "sft")
    assert lines(export) == []
    assert export.excluded == {"incomplete": 2, "tie": 1}
    everything = lines(build(text_project, "sft", include_incomplete=True))
    assert [x["metadata"]["source"] for x in everything] == ["single", "single"]
    assert not any(x["metadata"]["source"] == "consensus" for x in everything)


def test_include_incomplete_is_a_checked_filter(text_project):
    clean = export_filters_clean(filters={}, project=text_project, format="sft")
    assert clean["include_incomplete"] is False
    with pytest.raises(ValidationError) as caught:
        export_filters_clean(
            filters={"include_incomplete": "yes"}, project=text_project, format="sft"
        )
    assert "filters.include_incomplete" in caught.value.message_dict


def test_export_brings_a_stale_consensus_up_to_date(text_project, crew):
    from agreement.services import agreement_snapshot_create
    from labeling.services import annotation_submit

    task = make_task(text_project, 1)
    text_project.overlap = 2
    text_project.save(update_fields=["overlap"])
    values = {"answer": "Both agree.", "better": "A", "order": [0, 1, 2]}
    annotation_submit(task=task, annotator=crew[0], values=values)
    agreement_snapshot_create(project_id=text_project.pk)
    before = AgreementSnapshot.objects.filter(project=text_project).count()
    # The second answer comes after the snapshot: the export must not miss it.
    annotation_submit(task=task, annotator=crew[1], values=dict(values))
    export = build(text_project, "sft")
    assert AgreementSnapshot.objects.filter(project=text_project).count() == before + 1
    out = lines(export)
    assert [x["messages"][-1]["content"] for x in out] == ["Both agree."]
    assert out[0]["metadata"]["source"] == "consensus"
    assert export.excluded == {}
