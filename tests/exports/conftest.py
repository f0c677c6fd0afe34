from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from agreement.models import AgreementSnapshot, Resolution, TaskAgreement
from projects.models import Annotation, Task
from tests.factories import UserFactory

QUESTIONS = [
    {
        "name": "answer",
        "type": "text",
        "title": "Write or correct the response",
        "prefill": "responses.0",
    },
    {"name": "better", "type": "preference", "title": "Which response is better?"},
    {"name": "order", "type": "ranking", "title": "Rank the responses"},
]


@pytest.fixture(autouse=True)
def export_root(settings, tmp_path):
    settings.EXPORT_ROOT = tmp_path / "exports"
    return settings.EXPORT_ROOT


@pytest.fixture
def text_project(project):
    project.questions = [dict(q) for q in QUESTIONS]
    project.save(update_fields=["questions"])
    return project


def make_task(
    project,
    n: int,
    *,
    consensus=None,
    resolution=None,
    annotators=(),
    values=None,
    review_state="pending",
    agreement=None,
    is_gold=False,
    data=None,
) -> Task:
    data = data or {
        "instruction": f"Summarise item {n}.",
        "input": f"Item {n} is a long text.",
        "responses": [f"Short summary {n}.", f"Bad summary {n}.", f"Third summary {n}."],
        "reference": f"Reference summary {n}.",
    }
    task = Task.objects.create(
        project=project,
        external_id=f"t{n}",
        data=data,
        content_hash=hashlib.sha256(f"{project.pk}:{n}:{data}".encode()).hexdigest(),
        is_gold=is_gold,
        state="resolved" if resolution else ("complete" if consensus else "open"),
    )
    if consensus is not None or agreement is not None:
        TaskAgreement.objects.create(task=task, agreement=agreement, consensus=consensus)
    for user in annotators:
        Annotation.objects.create(
            project=project,
            task=task,
            annotator=user,
            values=values or {"answer": f"Answer {n}", "better": "A", "order": [0, 1, 2]},
            lead_time_s=12.5,
            review_state=review_state,
        )
    if resolution:
        Resolution.objects.create(
            task=task, values=resolution, reviewer=annotators[0] if annotators else UserFactory()
        )
    return task


def build(project, format: str, **filters):
    """Record an export and run its job in this process (no broker involved)."""
    from exports.models import Export
    from exports.services import export_filters_clean, export_run

    clean = export_filters_clean(filters=filters, project=project, format=format)
    export = Export.objects.create(
        project=project, format=format, filters=clean, schema=project.questions
    )
    return export_run(export_id=export.pk)


def lines(export) -> list[dict]:
    import orjson

    with open(export.file_path, "rb") as handle:
        return [orjson.loads(line) for line in handle]


def agreement_fresh(project, **data) -> AgreementSnapshot:
    """A snapshot newer than every answer: the hand-made consensus is what an export reads."""
    return AgreementSnapshot.objects.create(
        project=project, computed_at=timezone.now() + timedelta(minutes=1), data=data
    )
