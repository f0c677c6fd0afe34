"""The demo project: 252 real user-oriented instructions, each with two models'
responses (Self-Instruct's human evaluation set), ready to compare, rate and
correct; plus demo accounts."""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from projects.canonical import task_content_hash
from projects.models import Membership, Project, Role, Task
from projects.services import task_words_fill

DATA_DIR = Path(getattr(settings, "DEMO_DATA_DIR", settings.BASE_DIR / "data"))
DEMO_SLUG = "demo-user-oriented"
MODELS = ("text-davinci-003", "davinci-self-instruct")
ACCOUNTS = (
    ("lead", "quorum-lead", Role.LEAD),
    ("reviewer", "quorum-reviewer", Role.REVIEWER),
    ("ann1", "quorum-ann1", Role.ANNOTATOR),
    ("ann2", "quorum-ann2", Role.ANNOTATOR),
    ("ann3", "quorum-ann3", Role.ANNOTATOR),
)
QUESTIONS = [
    {
        "name": "better",
        "type": "preference",
        "title": "Which response follows the instruction better?",
        "help": "Judge correctness first, then helpfulness, then style.",
    },
    {
        "name": "rating_a",
        "type": "rating",
        "title": "Rate response A",
        "min": 1,
        "max": 5,
        "target": "responses.0",
        "labels": {"1": "Wrong or useless", "3": "Acceptable", "5": "Excellent"},
    },
    {
        "name": "corrected_a",
        "type": "text",
        "title": "Correct response A so it is an answer you would be proud of",
        "help": "Leave it unchanged if it is already right.",
        "prefill": "responses.0",
    },
]
GUIDELINES = """\
# How to judge

1. **Read the instruction and its input** first. The reference answer is hidden on purpose.
2. **Which is better?** Pick the response that does what was asked, correctly. Prefer
   a short correct answer over a long wrong one. Use *tie* only when you truly cannot choose.
3. **Rate response A** from 1 (wrong or useless) to 5 (excellent).
4. **Correct response A**: edit it into a good answer. Your edits become training data.

Keyboard: press `?` on the labeling page for every shortcut.
"""


def _read_jsonl(name: str) -> list[dict]:
    with open(DATA_DIR / name, "rb") as handle:
        return [orjson.loads(line) for line in handle if line.strip()]


def demo_tasks() -> list[dict]:
    """Canonical tasks: instruction, input, two responses in a stable shuffled order."""
    instructions = _read_jsonl("user_oriented_instructions.jsonl")
    predictions = [_read_jsonl(f"user_oriented_predictions_{m}.jsonl") for m in MODELS]
    tasks = []
    for row, first, second in zip(instructions, *predictions, strict=True):
        instance = row["instances"][0]
        responses = [
            (MODELS[0], first["response"].strip()),
            (MODELS[1], second["response"].strip()),
        ]
        # Position bias is real: which model is A is decided by a stable hash.
        if hashlib.sha256(row["id"].encode()).digest()[0] % 2:
            responses.reverse()
        tasks.append(
            {
                "external_id": row["id"],
                "data": {
                    "instruction": row["instruction"].strip(),
                    "input": instance.get("input", "").strip(),
                    "responses": [text for _, text in responses],
                    "reference": instance.get("output", "").strip(),
                    "meta": {
                        "motivation_app": row.get("motivation_app", ""),
                        "response_models": [model for model, _ in responses],
                    },
                },
            }
        )
    return tasks


@transaction.atomic
def demo_load() -> tuple[Project, list[tuple[str, str, str]]]:
    """Create (or refresh) the demo accounts and project; safe to run again."""
    User = get_user_model()
    users = {}
    for username, password, _ in ACCOUNTS:
        user, created = User.objects.get_or_create(username=username)
        if created:
            user.set_password(password)
            user.save()
        users[username] = user
    users["lead"].is_staff = True
    users["lead"].save(update_fields=["is_staff"])
    project, _ = Project.objects.get_or_create(
        slug=DEMO_SLUG,
        defaults={
            "name": "Demo: user-oriented instructions",
            "description": "252 expert-written instructions with two models' responses.",
            "guidelines": GUIDELINES,
            "questions": QUESTIONS,
            "overlap": 3,
            # The loader already puts either model first by a stable hash, and the
            # questions name "response A": shuffling again would make those titles lie.
            "shuffle_responses": False,
            "created_by": users["lead"],
        },
    )
    for username, _, role in ACCOUNTS:
        Membership.objects.get_or_create(
            project=project, user=users[username], defaults={"role": role}
        )
    Task.objects.bulk_create(
        [
            Task(
                project=project,
                external_id=t["external_id"],
                data=t["data"],
                content_hash=task_content_hash(t["data"]),
            )
            for t in demo_tasks()
        ],
        ignore_conflicts=True,
    )
    task_words_fill(project_id=project.pk)
    return project, [(u, p, r) for u, p, r in ACCOUNTS]
