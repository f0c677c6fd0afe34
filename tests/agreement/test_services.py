"""The snapshot service, the API and the debounced recomputation on a real worker."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from django.db.models import Count

from agreement.models import AgreementSnapshot, TaskAgreement
from agreement.quality import quality_score
from agreement.scheduling import agreement_refresh_later
from agreement.services import agreement_snapshot_create
from labeling.models import Assignment
from projects.models import Annotation, Task
from tests.conftest import wait_for
from tests.factories import AnnotationFactory, TaskFactory, UserFactory

# Three annotators, four tasks: (better, quality, topic) per annotator per task.
ANSWERS = {
    "t1": [("A", 5, "writing"), ("A", 5, "writing"), ("A", 4, "writing")],
    "t2": [("B", 2, "coding"), ("B", 2, "coding"), ("B", 1, "coding")],
    "t3": [("A", 1, "writing"), ("B", 5, "coding"), ("tie", 3, "other")],
    "t4": [("B", 3, "other"), ("B", 4, "other"), ("A", 3, "writing")],
}


@pytest.fixture
def annotated(project):
    people = [UserFactory(username=f"ann{i}") for i in range(3)]
    tasks = {}
    for ext, rows in ANSWERS.items():
        task = TaskFactory(project=project, external_id=ext, state=Task.State.COMPLETE)
        tasks[ext] = task
        for person, (better, quality, topic) in zip(people, rows, strict=True):
            AnnotationFactory(
                task=task,
                annotator=person,
                values={"better": better, "quality": quality, "topic": topic},
                lead_time_s=10.0 + people.index(person),
            )
            Assignment.objects.create(
                project=project,
                task=task,
                annotator=person,
                state=Assignment.State.SUBMITTED,
                leased_at=task.created_at,
                expires_at=task.created_at,
            )
    return project, people, tasks


def _matrix(index):
    codes = {"A": -1, "tie": 0, "B": 1, "writing": 0, "coding": 1, "other": 2}
    return np.array(
        [[codes.get(r[index], r[index]) for r in rows] for rows in ANSWERS.values()], float
    ).T


def test_snapshot_matches_reference_and_marks_disputed_tasks(annotated):
    project, _people, tasks = annotated
    project.agreement_threshold = 0.6
    project.save()
    snapshot = agreement_snapshot_create(project_id=project.id)
    body = snapshot.data
    assert set(body) >= {"questions", "annotators", "computed_at"}
    for name, index, level in [
        ("better", 0, "ordinal"),
        ("quality", 1, "ordinal"),
        ("topic", 2, "nominal"),
    ]:
        q = body["questions"][name]
        ref = krippendorff.alpha(reliability_data=_matrix(index), level_of_measurement=level)
        assert q["level"] == level
        assert q["krippendorff_alpha"] == pytest.approx(ref)
        assert q["items"] == 4
        assert q["annotations"] == 12
        assert q["fleiss_kappa"] is not None
        lo, hi = q["alpha_ci"]
        assert lo <= hi
    assert body["questions"]["topic"]["distribution"] == [
        {"value": "writing", "count": 5},
        {"value": "coding", "count": 4},
        {"value": "other", "count": 3},
    ]

    measured = Task.objects.with_agreement()
    t1, t3 = measured.get(pk=tasks["t1"].pk), measured.get(pk=tasks["t3"].pk)
    assert t1.consensus["better"] == "A"
    assert t1.consensus["quality"] == 5
    assert t1.consensus["topic"] == "writing"
    assert "_ties" not in t1.consensus
    assert t1.agreement > 0.8
    assert t1.state == Task.State.COMPLETE
    assert "topic" in t3.consensus["_ties"]
    assert t3.agreement < 0.6
    assert t3.state == Task.State.DISPUTED

    # Leave-one-out, worked by hand: topic 2.5/4, better 2.75/4, quality 2.875/4.
    qualities = [a["quality"] for a in body["annotators"]]
    assert qualities == sorted(qualities, reverse=True)
    first = {a["username"]: a for a in body["annotators"]}["ann0"]
    assert first["agreement"] == pytest.approx((2.5 + 2.75 + 2.875) / 12, abs=1e-4)
    assert first["annotations"] == 4
    assert first["median_seconds"] == 10.0
    assert first["skip_rate"] == 0.0
    assert first["gold_accuracy"] is None
    assert 0 <= first["quality"] <= 1

    # Disputes are per question, named on the task; t4 (two of three agree everywhere)
    # is complete.
    assert Task.objects.get(pk=tasks["t3"].pk).disputed_questions == ["better", "quality", "topic"]
    assert Task.objects.get(pk=tasks["t4"].pk).state == Task.State.COMPLETE

    # Answers that come to agree (revised) bring the task back; resolved stays.
    Annotation.objects.filter(task=tasks["t3"]).update(
        values={"better": "A", "quality": 3, "topic": "other"}
    )
    Task.objects.filter(pk=tasks["t2"].pk).update(state=Task.State.RESOLVED)
    agreement_snapshot_create(project_id=project.id)
    assert Task.objects.with_agreement().get(pk=tasks["t3"].pk).state == Task.State.COMPLETE
    assert Task.objects.get(pk=tasks["t3"].pk).disputed_questions is None
    assert Task.objects.with_agreement().get(pk=tasks["t2"].pk).state == Task.State.RESOLVED


def test_gold_accuracy_counts_against_gold_answers(annotated):
    project, _people, tasks = annotated
    Task.objects.filter(pk=tasks["t1"].pk).update(
        is_gold=True, gold={"better": "A", "quality": 5, "topic": "writing"}
    )
    body = agreement_snapshot_create(project_id=project.id).data
    by_name = {a["username"]: a for a in body["annotators"]}
    assert by_name["ann0"]["gold_accuracy"] == 1.0
    # ann2 rated 4 on a 1..5 scale where gold is 5: 1 - 1/4 on that question.
    assert by_name["ann2"]["gold_accuracy"] == pytest.approx((1 + 0.75 + 1) / 3, abs=1e-4)


def test_empty_project_gives_nulls_not_errors(project):
    body = agreement_snapshot_create(project_id=project.id).data
    for q in body["questions"].values():
        assert q["krippendorff_alpha"] is None
        assert q["items"] == 0
    assert body["annotators"] == []


def test_quality_score_formula():
    assert quality_score(
        agreement=0.6,
        gold_accuracy=0.9,
        skip_rate=0.0,
        median_seconds=30,
        project_median_seconds=30,
    ) == pytest.approx(0.8)
    assert (
        quality_score(
            agreement=None,
            gold_accuracy=None,
            skip_rate=0,
            median_seconds=1,
            project_median_seconds=1,
        )
        is None
    )
    halved = quality_score(
        agreement=1.0,
        gold_accuracy=None,
        skip_rate=1.0,
        median_seconds=None,
        project_median_seconds=None,
    )
    assert halved == 0.5
    rushed = quality_score(
        agreement=1.0, gold_accuracy=None, skip_rate=0, median_seconds=2, project_median_seconds=40
    )
    assert rushed == pytest.approx(0.2)


def test_api_roles_and_missing_snapshot(annotated, api, lead, reviewer, annotator, outsider):
    project, _, _ = annotated
    url = f"/api/v1/projects/{project.id}/agreement/"
    response = api(lead).get(url)
    assert response.status_code == 404
    assert "refresh" in response.json()["detail"]
    agreement_snapshot_create(project_id=project.id)
    body = api(reviewer).get(url).json()
    assert body["questions"]["topic"]["level"] == "nominal"
    assert api(annotator).get(url).status_code == 403
    assert api(outsider).get(url).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_refresh_endpoint_recomputes_on_the_worker(celery_worker, annotated, api, lead):
    project, _, _ = annotated
    response = api(lead).post(f"/api/v1/projects/{project.id}/agreement/refresh/")
    assert response.status_code == 202
    status_url = response.json()["status_url"]
    # The client has something to wait on: pending, then done with the new snapshot.
    assert api(lead).get(status_url).json()["status"] in ("pending", "done")
    done = wait_for(lambda: api(lead).get(status_url).json()["status"] == "done")
    assert done
    snapshot = AgreementSnapshot.objects.get(project=project)
    assert snapshot.data["questions"]["better"]["items"] == 4
    assert api(lead).get(f"/api/v1/projects/{project.id}/agreement/").status_code == 200
    bad = api(lead).get(f"/api/v1/projects/{project.id}/agreement/refresh/status/?since=soon")
    assert bad.status_code == 400


@pytest.mark.django_db(transaction=True)
def test_refresh_with_wait_answers_with_a_snapshot_holding_every_answer(
    celery_worker, annotated, api, lead
):
    project, _, _ = annotated
    old = agreement_snapshot_create(project_id=project.id, bootstrap=50)
    response = api(lead).post(f"/api/v1/projects/{project.id}/agreement/refresh/?wait=1")
    assert response.status_code == 200
    assert response.json()["computed_at"] > old.computed_at.isoformat()
    assert response.json()["questions"]["better"]["items"] == 4


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_submits_causes_one_recomputation(celery_worker, annotated, settings):
    settings.AGREEMENT_DEBOUNCE_SECONDS = 1
    project, _, _ = annotated
    queued = [agreement_refresh_later(project.id) for _ in range(20)]
    assert queued.count(True) == 1
    wait_for(lambda: AgreementSnapshot.objects.filter(project=project).exists(), timeout=30)
    import time

    # Any second job would have had the same countdown: give it time to show up.
    time.sleep(1)
    assert AgreementSnapshot.objects.filter(project=project).count() == 1
    # After the run the key is clear, so the next submit schedules again.
    assert agreement_refresh_later(project.id) is True


def test_text_multilabel_ranking_and_interval_questions(db):
    from tests.factories import ProjectFactory

    project = ProjectFactory(
        questions=[
            {"name": "note", "type": "text", "title": "Note"},
            {"name": "flags", "type": "multilabel", "options": ["unsafe", "wrong", "long"]},
            {"name": "order", "type": "ranking", "title": "Rank"},
            {"name": "score", "type": "rating", "min": 0, "max": 10, "level": "interval"},
        ]
    )
    people = [UserFactory(username=f"p{i}") for i in range(3)]
    answers = {
        "x1": [
            ("the cat sat", ["unsafe"], [0, 1, 2], 8),
            ("the cat sat down", ["unsafe"], [0, 2, 1], 6),
            ("a dog ran", ["unsafe", "long"], [0, 1, 2], 7),
        ],
        "x2": [
            ("fine", [], [2, 1, 0], 2),
            ("fine", ["wrong"], [2, 1, 0], 3),
            ("ok fine", ["wrong"], [1, 2, 0], 1),
        ],
    }
    tasks = {}
    for ext, rows in answers.items():
        tasks[ext] = TaskFactory(
            project=project,
            external_id=ext,
            state=Task.State.COMPLETE,
            data={"instruction": ext, "responses": ["r0", "r1", "r2"]},
        )
        for person, (note, flags, order, score) in zip(people, rows, strict=True):
            AnnotationFactory(
                task=tasks[ext],
                annotator=person,
                values={"note": note, "flags": flags, "order": order, "score": score},
            )
    body = agreement_snapshot_create(project_id=project.id).data
    q = body["questions"]
    assert q["note"]["level"] == "text"
    assert q["note"]["krippendorff_alpha"] is None
    assert 0 < q["note"]["mean_similarity"] < 1
    assert q["flags"]["level"] == "nominal"
    assert q["flags"]["items"] == 6
    assert q["flags"]["distribution"] == [
        {"value": "unsafe", "count": 3},
        {"value": "wrong", "count": 2},
        {"value": "long", "count": 1},
    ]
    assert set(q["flags"]["per_option_alpha"]) == {"unsafe", "wrong", "long"}
    assert q["order"]["level"] == "ordinal"
    assert q["order"]["items"] == 6
    assert q["score"]["level"] == "interval"
    ref = krippendorff.alpha(
        reliability_data=np.array([[8, 6, 7], [2, 3, 1]], float).T, level_of_measurement="interval"
    )
    assert q["score"]["krippendorff_alpha"] == pytest.approx(ref)
    x1 = Task.objects.with_agreement().get(pk=tasks["x1"].pk).consensus
    x2 = Task.objects.with_agreement().get(pk=tasks["x2"].pk).consensus
    assert x1["flags"] == ["unsafe"]
    assert x2["flags"] == ["wrong"]
    assert x1["order"] == [0, 1, 2]
    assert x2["order"] == [2, 1, 0]
    assert x1["score"] == 7.0
    assert x2["score"] == 2.0
    assert x1["note"] == "the cat sat"
    assert x2["note"] == "fine"


NUMERIC_QUESTIONS = [
    {"name": "topic", "type": "label", "options": ["writing", "coding", "other"]},
    {"name": "quality", "type": "rating", "min": 1, "max": 5},
    {"name": "better", "type": "preference", "strength": True},
    {"name": "flags", "type": "multilabel", "options": ["unsafe", "wrong", "long"]},
]


@pytest.fixture
def numeric_project(db):
    """Numeric questions only, 1 to 4 answers per task, some questions left unanswered."""
    from tests.factories import ProjectFactory

    project = ProjectFactory(questions=[dict(q) for q in NUMERIC_QUESTIONS])
    people = [UserFactory(username=f"n{i}") for i in range(4)]
    rng = np.random.default_rng(11)
    for n in range(40):
        task = TaskFactory(project=project, external_id=f"n{n}", state=Task.State.COMPLETE)
        for person in rng.permutation(people)[: int(rng.integers(1, 5))]:
            strength = int(rng.integers(0, 4))
            values = {
                "topic": str(rng.choice(["writing", "coding", "other"])),
                "quality": int(rng.integers(1, 6)),
                "better": {"choice": "tie", "strength": 0}
                if strength == 0
                else {"choice": str(rng.choice(["A", "B"])), "strength": strength},
                "flags": [o for o in ["unsafe", "wrong", "long"] if rng.random() < 0.4],
            }
            for name in list(values):
                if rng.random() < 0.1:
                    del values[name]
            AnnotationFactory(task=task, annotator=person, values=values)
    return project


def test_binary_and_csv_loads_read_the_same_answers(numeric_project):
    from agreement import loading
    from agreement.encoding import encoder_for

    exprs, params = [], []
    for question in numeric_project.questions:
        sql, p = encoder_for(question).select_sql()
        exprs.append(sql)
        params.extend(p)
    binary = loading.load_numeric(numeric_project, exprs, params)
    csv = loading.load_csv(numeric_project, exprs, params, [True] * len(exprs))
    order = np.lexsort((csv[1], csv[0]))
    assert len(binary[0]) == Annotation.objects.filter(project=numeric_project).count()
    for ours, theirs in zip(binary, csv, strict=True):
        np.testing.assert_array_equal(ours, theirs[order])
    assert np.isnan(binary[3]).any()  # unanswered questions come back as NaN


def test_multilabel_consensus_is_the_majority_per_option(numeric_project):
    agreement_snapshot_create(project_id=numeric_project.id)
    options = ["unsafe", "wrong", "long"]
    tasks = Task.objects.filter(project=numeric_project).with_agreement()
    for task in tasks.prefetch_related("annotations"):
        answers = [a.values["flags"] for a in task.annotations.all() if "flags" in a.values]
        if not answers:
            assert task.consensus["flags"] is None
            continue
        chosen = {o: sum(o in a for a in answers) for o in options}
        assert task.consensus["flags"] == [o for o in options if 2 * chosen[o] > len(answers)]
        tied = any(2 * c == len(answers) for c in chosen.values())
        assert ("flags" in task.consensus.get("_ties", [])) == tied


def test_recomputing_rewrites_only_the_tasks_that_change(numeric_project):
    from django.db import connection

    def versions():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT t.id, t.xmin::text || '/' || coalesce(m.xmin::text, ''),"
                " m.agreement, m.consensus::text, t.state FROM projects_task t"
                " LEFT JOIN projects_taskagreement m ON m.task_id = t.id WHERE t.project_id = %s",
                [numeric_project.id],
            )
            return {row[0]: row[1:] for row in cursor.fetchall()}

    before = versions()

    agreement_snapshot_create(project_id=numeric_project.id)
    first = versions()
    # The first computation writes agreement rows; a task row itself only when its state changes.
    for task_id, (_, _, _, state) in first.items():
        if state == before[task_id][3]:
            assert first[task_id][0].split("/")[0] == before[task_id][0].split("/")[0]
    agreement_snapshot_create(project_id=numeric_project.id)
    assert versions() == first  # the same row versions: nothing was rewritten
    # A task with one answer: its consensus is that answer, so changing it changes the task.
    lone = Task.objects.filter(project=numeric_project).annotate(n=Count("annotations"))
    annotation = Annotation.objects.filter(task=lone.filter(n=1).first()).get()
    quality = annotation.values.get("quality", 5) % 5 + 1
    annotation.values = {**annotation.values, "quality": quality}
    annotation.save()
    agreement_snapshot_create(project_id=numeric_project.id)
    second = versions()
    rewritten = {t for t in first if first[t][0] != second[t][0]}
    changed = {t for t in first if first[t][1:] != second[t][1:]}
    assert annotation.task_id in rewritten
    assert rewritten == changed


def test_a_failure_after_the_write_started_leaves_tasks_and_snapshots_untouched(
    numeric_project, monkeypatch
):
    from agreement import services

    def broken(prep, bootstrap):
        raise RuntimeError("coefficients failed")

    monkeypatch.setattr(services, "_body", broken)
    with pytest.raises(RuntimeError, match="coefficients failed"):
        agreement_snapshot_create(project_id=numeric_project.id)
    assert not AgreementSnapshot.objects.filter(project=numeric_project).exists()
    assert not TaskAgreement.objects.filter(task__project=numeric_project).exists()
    # The connection is still usable: the next recomputation works.
    monkeypatch.undo()
    agreement_snapshot_create(project_id=numeric_project.id)
    assert not (
        Task.objects.filter(project=numeric_project)
        .with_agreement()
        .filter(consensus__isnull=True)
        .exists()
    )


def test_text_answers_that_correct_different_turns_do_not_agree(db):
    from tests.factories import ProjectFactory

    project = ProjectFactory(questions=[{"name": "reply", "type": "text", "title": "Reply"}])
    messages = [
        {"role": "user", "content": "Capital of Australia?"},
        {"role": "assistant", "content": "Sydney."},
        {"role": "user", "content": "Population?"},
        {"role": "assistant", "content": "About 5 million."},
    ]
    people = [UserFactory(username=f"t{i}") for i in range(3)]
    same_turn = TaskFactory(project=project, external_id="same", data={"messages": messages})
    mixed = TaskFactory(
        project=project, external_id="mixed", data={"messages": messages, "meta": {"case": 2}}
    )
    for person, value in zip(
        people,
        [
            {"text": "The capital is Canberra.", "turn": 1},
            {"text": "The capital is Canberra.", "turn": 1},
            {"text": "Canberra, not Sydney.", "turn": 1},
        ],
        strict=True,
    ):
        AnnotationFactory(task=same_turn, annotator=person, values={"reply": value})
    for person, value in zip(
        people,
        [
            {"text": "The capital is Canberra.", "turn": 1},
            {"text": "The capital is Canberra.", "turn": 3},
            "The capital is Canberra.",
        ],
        strict=True,
    ):
        AnnotationFactory(task=mixed, annotator=person, values={"reply": value})
    agreement_snapshot_create(project_id=project.id)
    same_turn, mixed = (Task.objects.with_agreement().get(pk=t.pk) for t in (same_turn, mixed))
    # Identical texts for the same turn agree fully; the third shares one token of four.
    assert same_turn.consensus["reply"] == {"text": "The capital is Canberra.", "turn": 1}
    assert 0.3 < same_turn.agreement < 1
    # The same words aimed at three different turns are three different answers.
    assert mixed.agreement == 0


def test_deleting_a_project_deletes_its_task_results(numeric_project):
    agreement_snapshot_create(project_id=numeric_project.id)
    task_ids = list(numeric_project.tasks.values_list("id", flat=True))
    assert TaskAgreement.objects.filter(task_id__in=task_ids).count() == len(task_ids)
    numeric_project.delete()
    assert not TaskAgreement.objects.filter(task_id__in=task_ids).exists()
