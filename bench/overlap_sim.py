"""Adaptive overlap simulation: accuracy of the consensus and annotations spent per task.

    python bench/overlap_sim.py                  # 600 tasks, seed 1
    python bench/overlap_sim.py --tasks 1500 --seed 2 --apart-only --fixed-only --confidence 0.8@1

Simulated annotators with known accuracies (0.6 to 0.95, and two spammers
who answer at random) answer a label, a rating and a preference question
whose true answers are known, through the real services on a real database
(``labeling.services`` lease and submit, ``agreement`` recomputing every
150 submits and at the end). The same tasks, annotators and answers are run
under each policy: a fixed overlap of 3, adaptive overlap by agreement
(2 -> 4, 2 -> 3) and by confidence (``stop_confidence``, from 2 or from 1
answer). It prints, per policy, the accuracy of the consensus against the
truth per question and for all three at once, and the annotations spent
per task.

An annotator's answer to a task is drawn from a generator seeded by
(annotator, task), so every policy sees the same answer whenever it asks
the same annotator for the same task. The database ``quorum_bench_overlap``
is recreated (override with ``BENCH_DATABASE_URL``).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

from _common import database_reset

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://quorum:quorum@127.0.0.1:55432/quorum_bench_overlap"
OPTIONS = ["writing", "coding", "math", "other"]
QUESTIONS = [
    {"name": "topic", "type": "label", "options": OPTIONS},
    {"name": "quality", "type": "rating", "min": 1, "max": 5},
    {"name": "better", "type": "preference"},
]
ACCURACIES = [0.95, 0.92, 0.9, 0.88, 0.85, 0.82, 0.8, 0.75, 0.7, 0.65, 0.6]
SPAMMERS = 2
# (label, overlap, overlap_max, stop_confidence); --confidence adds more.
POLICIES = [
    ("fixed 3", 3, 3, None),
    ("adaptive 2->4", 2, 4, None),
    ("adaptive 2->3", 2, 3, None),
]
# Agreement is recomputed after this many submits, as the debounced refresh
# does while a team works: it estimates each annotator's accuracy.
SNAPSHOT_EVERY = 150


def truth_for(n: int, rng: random.Random) -> dict:
    return {
        "topic": rng.choice(OPTIONS),
        "quality": rng.randint(1, 5),
        "better": rng.choice(["A", "B"]),
    }


def answer(truth: dict, accuracy: float | None, rng: random.Random) -> dict:
    """One annotator's answer: right with ``accuracy`` per question; None: a spammer."""
    if accuracy is None:
        return {
            "topic": rng.choice(OPTIONS),
            "quality": rng.randint(1, 5),
            "better": rng.choice(["A", "B", "tie"]),
        }
    out = {}
    right = [rng.random() < accuracy for _ in range(3)]
    out["topic"] = (
        truth["topic"] if right[0] else rng.choice([o for o in OPTIONS if o != truth["topic"]])
    )
    if right[1]:
        out["quality"] = truth["quality"]
    else:
        # A near miss more often than a far one.
        step = rng.choice([-2, -1, -1, 1, 1, 2])
        out["quality"] = min(5, max(1, truth["quality"] + step))
        if out["quality"] == truth["quality"]:
            out["quality"] = truth["quality"] - 1 if truth["quality"] > 1 else 2
    other = "B" if truth["better"] == "A" else "A"
    out["better"] = truth["better"] if right[2] else rng.choice([other, other, "tie"])
    return out


def confident_policy(spec: str) -> tuple:
    """``0.8`` -> confident 0.8 from 2 answers to 4; ``0.8@1`` -> from 1 answer."""
    value, _, lowest = spec.partition("@")
    lowest = lowest or "2"
    return (f"confident {value}, {lowest}->4", int(lowest), 4, float(value))


def run_policy(
    label: str,
    overlap: int,
    overlap_max: int,
    confidence: float | None,
    args,
    truths: dict,
    questions: list[dict],
) -> dict:
    from django.contrib.auth import get_user_model
    from django.db.models import Count

    from agreement.models import TaskAgreement
    from agreement.services import agreement_snapshot_create
    from labeling.services import annotation_submit, assignment_lease_next
    from projects.models import Annotation, Membership, Project, Role, Task

    User = get_user_model()
    names = [q["name"] for q in questions]
    project = Project.objects.create(
        name=label,
        slug=f"sim-{overlap}-{overlap_max}-{confidence}-{'-'.join(names)}",
        questions=questions,
        overlap=overlap,
        overlap_max=overlap_max,
        stop_confidence=confidence,
        task_order=Project.TaskOrder.COMPLETE_FIRST,
    )
    Task.objects.bulk_create(
        Task(project=project, external_id=f"t{n}", data={"n": n}, content_hash=f"{n:064d}")
        for n in range(args.tasks)
    )
    external = dict(Task.objects.filter(project=project).values_list("id", "external_id"))
    people = []
    for i, accuracy in enumerate([*ACCURACIES, *[None] * SPAMMERS]):
        user, _ = User.objects.get_or_create(username=f"sim{i}")
        Membership.objects.create(project=project, user=user, role=Role.ANNOTATOR)
        people.append((user, accuracy))

    picker = random.Random(args.seed)
    started = time.perf_counter()
    idle: set[int] = set()
    submits = 0
    while len(idle) < len(people):
        index = picker.choice([i for i in range(len(people)) if i not in idle])
        user, accuracy = people[index]
        lease = assignment_lease_next(project=project, annotator=user)
        if lease is None:
            idle.add(index)
            continue
        # Someone else's answer may have grown a target: everyone may have work again.
        idle.clear()
        n = int(external[lease.task.pk][1:])
        rng = random.Random(f"{args.seed}:{index}:{n}")
        values = answer(truths[n], accuracy, rng)
        annotation_submit(task=lease.task, annotator=user, values={k: values[k] for k in names})
        submits += 1
        if submits % SNAPSHOT_EVERY == 0:
            agreement_snapshot_create(project_id=project.id, bootstrap=0)
    label_s = time.perf_counter() - started
    agreement_snapshot_create(project_id=project.id, bootstrap=0)

    consensus = dict(
        TaskAgreement.objects.filter(task__project=project).values_list("task_id", "consensus")
    )
    right = dict.fromkeys(names, 0)
    all_right = 0
    for task_id, doc in consensus.items():
        truth = truths[int(external[task_id][1:])]
        hits = [doc.get(name) == truth[name] for name in right]
        for name, hit in zip(right, hits, strict=True):
            right[name] += hit
        all_right += all(hits)
    n_tasks = args.tasks
    states = dict(
        Task.objects.filter(project=project)
        .values("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    return {
        "policy": label,
        "answers": Annotation.objects.filter(project=project).count() / n_tasks,
        **{name: right[name] / n_tasks for name in right},
        "all": all_right / n_tasks if len(names) > 1 else None,
        "disputed": states.get("disputed", 0) / n_tasks,
        "label_s": label_s,
    }


def separate(label: str, lo: int, hi: int, confidence, args, truths: dict) -> dict:
    """One project per question: the figures of the three put side by side."""
    runs = [run_policy(label, lo, hi, confidence, args, truths, [q]) for q in QUESTIONS]
    row = {"policy": label, "all": None}
    for q, run in zip(QUESTIONS, runs, strict=True):
        row[q["name"]] = run[q["name"]]
    row["answers"] = sum(r["answers"] for r in runs) / len(runs)
    row["disputed"] = sum(r["disputed"] for r in runs) / len(runs)
    return row


def table(title: str, results: list[dict]) -> None:
    print(f"\n{title}")
    print(
        "| policy | answers / task | topic (label) | quality (rating) | better (preference)"
        " | all three | disputed |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        every = "—" if r["all"] is None else f"{r['all']:.3f}"
        print(
            f"| {r['policy']} | {r['answers']:.2f} | {r['topic']:.3f} | {r['quality']:.3f}"
            f" | {r['better']:.3f} | {every} | {r['disputed']:.1%} |"
        )
    fixed = results[0]
    for r in results[1:]:
        saved = 1 - r["answers"] / fixed["answers"]
        print(f"{r['policy']}: {saved:.1%} fewer annotations than {fixed['policy']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=600)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--confidence",
        default="0.8,0.8@1",
        help="stop_confidence values to run as adaptive 2->4 policies, comma-separated;"
        " VALUE@1 starts at one answer instead of two",
    )
    parser.add_argument("--apart-only", action="store_true", help="one question per task only")
    parser.add_argument(
        "--fixed-only",
        action="store_true",
        help="of the agreement policies, run only fixed 3 (the baseline)",
    )
    args = parser.parse_args()

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    database_reset(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "annotator.settings")
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)

    truth_rng = random.Random(args.seed)
    truths = {n: truth_for(n, truth_rng) for n in range(args.tasks)}
    print(
        f"{args.tasks} tasks, seed {args.seed}; annotators: accuracies "
        f"{', '.join(str(a) for a in ACCURACIES)} and {SPAMMERS} spammers"
    )
    policies = (POLICIES[:1] if args.fixed_only else POLICIES) + [
        confident_policy(item) for item in args.confidence.split(",") if item
    ]
    if not args.apart_only:
        together = [run_policy(*policy, args, truths, QUESTIONS) for policy in policies]
        table("One task, three questions (a task completes when all three agree)", together)
    apart = [separate(*policy, args, truths) for policy in policies]
    table("One question per task (three projects)", apart)


if __name__ == "__main__":
    main()
