"""Migrations: a database of the layout before labeling, imports and agreement
became apps migrates forward without losing a row, and the models match them."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from agreement.models import AgreementSnapshot, Resolution, TaskAgreement
from imports.models import ImportJob
from labeling.models import Assignment
from projects.models import Annotation, Project, Task

# Before the move every one of these models lived in projects.
BEFORE = [
    ("projects", "0003_one_lease_index"),
    ("exports", "0001_initial"),
    ("labeling", None),
    ("imports", None),
    ("agreement", None),
]
MOVED = {
    "assignment": "labeling",
    "importjob": "imports",
    "taskagreement": "agreement",
    "agreementsnapshot": "agreement",
    "resolution": "agreement",
}
AT = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)


def _migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets or executor.loader.graph.leaf_nodes())


def _old_layout_rows(apps) -> dict:
    """Rows written through the historical models of the old layout; returns their ids."""
    User = apps.get_model("auth", "User")
    old = {name: apps.get_model("projects", name) for name in ("Project", "Task", "Annotation")}
    old.update(
        (name, apps.get_model("projects", name))
        for name in ("Assignment", "ImportJob", "TaskAgreement", "AgreementSnapshot", "Resolution")
    )
    user = User.objects.create(username="before-the-move", email="b@example.org")
    project = old["Project"].objects.create(
        name="Old layout", slug="old-layout", questions=[{"name": "better", "type": "preference"}]
    )
    task = old["Task"].objects.create(
        project=project,
        external_id="old-1",
        data={"instruction": "Say hi.", "responses": ["hi", "hello"]},
        content_hash="c" * 64,
        state="disputed",
        annotation_count=1,
    )
    client_id = uuid.uuid4()
    annotation = old["Annotation"].objects.create(
        project=project,
        task=task,
        annotator=user,
        values={"better": "A"},
        client_id=client_id,
        lead_time_s=4.5,
    )
    assignment = old["Assignment"].objects.create(
        project=project,
        task=task,
        annotator=user,
        state="submitted",
        leased_at=AT,
        expires_at=AT + dt.timedelta(minutes=10),
        finished_at=AT + dt.timedelta(minutes=2),
    )
    job = old["ImportJob"].objects.create(
        project=project,
        created_by=user,
        file_path="/imports/old.jsonl",
        filename="old.jsonl",
        size_bytes=123,
        state="done",
        created_count=1,
        errors=[{"line": 2, "message": "not JSON"}],
    )
    old["TaskAgreement"].objects.create(task=task, agreement=0.25, consensus={"better": "A"})
    snapshot = old["AgreementSnapshot"].objects.create(
        project=project, computed_at=AT, duration_s=1.5, data={"questions": {}}
    )
    resolution = old["Resolution"].objects.create(
        task=task, values={"better": "B"}, reviewer=user, comment="B follows the instruction."
    )
    # The content types as the old layout had them: the moved models under projects.
    ContentTypeOld = apps.get_model("contenttypes", "ContentType")
    content_types = {}
    for model in MOVED:
        ct = ContentTypeOld.objects.filter(model=model, app_label__in=["projects", MOVED[model]])
        ct = ct.first() or ContentTypeOld.objects.create(app_label="projects", model=model)
        ct.app_label = "projects"
        ct.save()
        content_types[model] = ct.pk
    return {
        "user": user.pk,
        "project": project.pk,
        "task": task.pk,
        "annotation": annotation.pk,
        "client_id": client_id,
        "assignment": assignment.pk,
        "job": job.pk,
        "snapshot": snapshot.pk,
        "resolution": resolution.pk,
        "content_types": content_types,
    }


@pytest.mark.django_db(transaction=True)
def test_old_layout_migrates_forward_without_loss():
    try:
        _migrate(BEFORE)
        executor = MigrationExecutor(connection)
        applied = executor.loader.applied_migrations
        assert ("projects", "0004_models_to_their_apps") not in applied
        assert not any(app in {"labeling", "imports", "agreement"} for app, _ in applied)
        # The state of the old layout: every other app at its latest migration.
        moved_or_emptied = {app for app, _ in BEFORE}
        nodes = [n for n in executor.loader.graph.leaf_nodes() if n[0] not in moved_or_emptied]
        nodes += [node for node in BEFORE if node[1] is not None]
        ids = _old_layout_rows(executor.loader.project_state(nodes).apps)
        _migrate(None)
        ContentType.objects.clear_cache()

        user = get_user_model().objects.get(pk=ids["user"])
        project = Project.objects.get(pk=ids["project"])
        assert project.slug == "old-layout"
        task = Task.objects.get(pk=ids["task"], project=project)
        assert (task.external_id, task.state, task.annotation_count) == ("old-1", "disputed", 1)
        annotation = Annotation.objects.get(pk=ids["annotation"])
        assert (annotation.task, annotation.annotator, annotation.values) == (
            task,
            user,
            {"better": "A"},
        )
        assert (annotation.client_id, annotation.lead_time_s) == (ids["client_id"], 4.5)

        assignment = Assignment.objects.get(pk=ids["assignment"])
        assert (assignment.task, assignment.annotator, assignment.project) == (task, user, project)
        assert assignment.state == Assignment.State.SUBMITTED
        assert (assignment.leased_at, assignment.finished_at) == (AT, AT + dt.timedelta(minutes=2))

        job = ImportJob.objects.get(pk=ids["job"])
        assert (job.project, job.created_by, job.filename, job.size_bytes) == (
            project,
            user,
            "old.jsonl",
            123,
        )
        assert job.state == ImportJob.State.DONE
        assert job.errors == [{"line": 2, "message": "not JSON"}]

        measured = TaskAgreement.objects.get(task=task)
        assert (measured.agreement, measured.consensus) == (0.25, {"better": "A"})
        snapshot = AgreementSnapshot.objects.get(pk=ids["snapshot"])
        assert (snapshot.project, snapshot.computed_at, snapshot.duration_s) == (project, AT, 1.5)
        assert snapshot.data == {"questions": {}}
        resolution = Resolution.objects.get(pk=ids["resolution"])
        assert (resolution.task, resolution.reviewer, resolution.values) == (
            task,
            user,
            {"better": "B"},
        )
        assert resolution.comment == "B follows the instruction."
        # Reverse relations through today's models reach the moved rows too.
        assert task.measured == measured
        assert task.resolution == resolution

        # Same content type rows (permissions and admin history point at their
        # ids), now under the apps the models moved to.
        for model, app in MOVED.items():
            ct = ContentType.objects.get(pk=ids["content_types"][model])
            assert (ct.app_label, ct.model) == (app, model)
            assert ContentType.objects.get_for_model(
                {
                    "assignment": Assignment,
                    "importjob": ImportJob,
                    "taskagreement": TaskAgreement,
                    "agreementsnapshot": AgreementSnapshot,
                    "resolution": Resolution,
                }[model]
            ).pk == ct.pk
        assert not ContentType.objects.filter(app_label="projects", model__in=MOVED).exists()
        assert Permission.objects.filter(
            content_type_id=ids["content_types"]["assignment"], codename="add_assignment"
        ).exists()
    finally:
        # Leave the test database at the latest migrations for the tests after this one.
        _migrate(None)
        ContentType.objects.clear_cache()


@pytest.mark.django_db
def test_models_and_migrations_agree():
    # Exits with status 1 when a model change has no migration.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
