"""Exports of real instruction data: the Self-Instruct user-oriented tasks with
two models' responses, judged and corrected by three annotators."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest
from datasets import load_dataset

from agreement.models import TaskAgreement
from projects.models import Annotation, Task
from tests.exports.conftest import build, lines
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

DATA = Path(__file__).resolve().parents[2] / "data"
ROWS = 40


def _jsonl(name: str) -> list[dict]:
    with open(DATA / name) as handle:
        return [json.loads(line) for _, line in zip(range(ROWS), handle, strict=False)]


@pytest.fixture
def real_project(text_project):
    instructions = _jsonl("user_oriented_instructions.jsonl")
    strong = _jsonl("user_oriented_predictions_text-davinci-003.jsonl")
    weak = _jsonl("user_oriented_predictions_davinci-self-instruct.jsonl")
    crew = [UserFactory(username=f"real{i}") for i in range(3)]
    for i, (item, a, b) in enumerate(zip(instructions, strong, weak, strict=True)):
        instance = item["instances"][0]
        data = {
            "instruction": item["instruction"],
            "input": instance["input"],
            "responses": [a["response"], b["response"]],
            "reference": instance["output"],
            "meta": {"app": item["motivation_app"]},
        }
        # Annotators mostly prefer the stronger model; the third disagrees on every fifth task.
        votes = ["A", "A", "B" if i % 5 == 0 else "A"]
        if i % 7 == 0:
            votes = ["A", "B", "tie"]
        top = Counter(votes).most_common()
        tied = len(top) > 1 and top[0][1] == top[1][1]
        task = Task.objects.create(
            project=text_project,
            external_id=item["id"],
            data=data,
            content_hash=hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest(),
            state="disputed" if tied else "complete",
        )
        TaskAgreement.objects.create(
            task=task,
            agreement=0.3 if tied else 0.8,
            consensus={
                "better": top[0][0],
                "answer": a["response"].strip() or None,
                "_ties": ["better"] if tied else [],
            },
        )
        for user, vote in zip(crew, votes, strict=True):
            Annotation.objects.create(
                project=text_project,
                task=task,
                annotator=user,
                values={"better": vote, "answer": a["response"].strip()},
                lead_time_s=30.0,
            )
    return text_project


def test_real_data_exports_load_and_have_training_shapes(real_project):
    sft = build(real_project, "sft")
    # Disputed tasks (a tie) are left out until a reviewer resolves them, and counted.
    disputed = real_project.tasks.filter(state="disputed").count()
    assert disputed > 0
    assert sft.row_count == ROWS - disputed
    assert sft.excluded == {"incomplete": disputed}
    dataset = load_dataset("json", data_files=sft.file_path, split="train")
    for row in dataset:
        roles = [m["role"] for m in row["messages"]]
        assert roles == ["user", "assistant"]
        assert all(m["content"].strip() for m in row["messages"])

    preference = build(real_project, "preference")
    pairs = load_dataset("json", data_files=preference.file_path, split="train")
    assert 0 < len(pairs) < ROWS  # ties give no pair
    for row in pairs:
        assert isinstance(row["prompt"], str)
        assert row["chosen"] != row["rejected"]

    alpaca = build(real_project, "alpaca")
    assert set(load_dataset("json", data_files=alpaca.file_path, split="train").column_names) == {
        "instruction",
        "input",
        "output",
    }

    annotations = build(real_project, "annotations")
    assert annotations.row_count == 3 * ROWS
    audit = load_dataset("json", data_files=annotations.file_path, split="train")
    assert len(set(audit["annotator"])) == 3
    assert {line["task"]["meta"]["app"] for line in lines(annotations)} > set()
