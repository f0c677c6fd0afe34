"""The agreement snapshot: every coefficient per question, consensus and agreement
per task, quality per annotator, written in a handful of queries.

Answers are loaded with one query (``loading``), turned into long NumPy arrays
(unit, coder, value) per question by the question's encoder (``encoding``), and
every figure is computed from those arrays (``consensus``, ``quality``,
``metrics``). Per-task results go back through two temporary tables (COPY)
into the narrow TaskAgreement table (``writing``), which PostgreSQL writes
while the coefficients are computed here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from django.db import transaction
from django.utils import timezone

from agreement import consensus, loading, metrics, quality, writing
from agreement.dawid_skene import dawid_skene
from agreement.encoding import Encoded, Encoder, Tally, encoder_for, parse
from agreement.models import AgreementSnapshot
from projects.models import Project
from projects.schema import answer_text

BOOTSTRAP_SAMPLES = 1000


@dataclass
class _Question:
    """One question's state between the per-task pass and the coefficients."""

    encoder: Encoder
    enc: Encoded | None = None
    coders: np.ndarray | None = None
    tally: Tally | None = None
    stats: dict = field(default_factory=dict)  # figures known after the per-task pass
    raw: np.ndarray | None = None  # answers still to be encoded (a deferred encoding)


@dataclass
class _Prepared:
    """Everything the per-task write and the snapshot body need, read from the database."""

    project: Project
    task_ids: np.ndarray
    task_idx: np.ndarray
    coder_ids: np.ndarray
    coder_idx: np.ndarray
    lead: np.ndarray
    n_rows: int
    gold: dict
    gold_pos: dict
    questions: list[_Question]
    task_agreement: np.ndarray
    task_disputed: np.ndarray  # per task: bit i set when question i is in dispute
    consensus_code: np.ndarray  # per task: index into consensus_docs
    consensus_docs: list[bytes]  # distinct consensus documents (JSON)
    users: dict
    skips: dict
    external: dict
    load_s: float
    compute_s: float


def _text_question(encoder: Encoder, raw, task_idx, n_tasks):
    """A text question's per-task agreement, its figures and its consensus column."""
    agreement, medoids, ties = consensus.text_agreement(raw, task_idx, n_tasks)
    defined = ~np.isnan(agreement)
    answered = int(sum(1 for r in raw if answer_text(parse(r))))
    stats = {
        **metrics.empty_figures("text", annotations=answered, items=int(defined.sum())),
        "similarity": "token_f1",
        "mean_similarity": float(agreement[defined].mean()) if defined.any() else None,
    }
    present = np.array([c is not None for c in medoids], dtype=bool)
    codes = np.where(present, np.arange(n_tasks), -1)
    return agreement, stats, (encoder.name, codes, medoids, ties)


def _prepare(project: Project) -> _Prepared:
    """Load the answers and compute what the per-task write needs.

    Per task: agreement (mean pair score), consensus (with Dawid-Skene for
    ties). Every other database read happens here too, so the coefficients
    that follow need no query and can run while the write does.
    """
    started = time.perf_counter()
    loaded = loading.load(project)
    load_s = time.perf_counter() - started
    task_ids_raw, coder_ids_raw, lead = loaded[:3]
    raw_cols = loaded[3:]
    del loaded
    task_ids, task_idx = loading.dense_index(task_ids_raw)
    coder_ids, coder_idx = loading.dense_index(coder_ids_raw)
    # 32-bit positions halve the memory of every per-answer array derived from them.
    task_idx, coder_idx = task_idx.astype(np.int32), coder_idx.astype(np.int32)
    n_tasks, n_coders, n_rows = len(task_ids), len(coder_ids), len(task_ids_raw)
    del task_ids_raw, coder_ids_raw
    gold, gold_pos = loading.gold_answers(project, task_ids)

    task_score_sum = np.zeros(n_tasks)
    task_score_n = np.zeros(n_tasks)
    columns = []  # (name, codes, table, ties) per question, for the consensus documents
    prepared = []
    task_disputed = np.zeros(n_tasks, dtype=np.int64)
    for qi, question in enumerate(project.questions):
        encoder = encoder_for(question)
        raw = raw_cols[qi]
        raw_cols[qi] = None
        # Per question, as a submit decides: one question in dispute is enough.
        # Under stop_confidence the submits decide and the bits go unused.
        if qi < writing.MAX_DISPUTE_BITS and project.stop_confidence is None:
            split = consensus.disputed_tasks(question, encoder, raw, task_idx, n_tasks)
            task_disputed |= split.astype(np.int64) << qi
        if encoder.free_text:
            agreement, stats, column = _text_question(encoder, raw, task_idx, n_tasks)
            defined = ~np.isnan(agreement)
            task_score_sum[defined] += agreement[defined]
            task_score_n[defined] += 1
            columns.append(column)
            prepared.append(_Question(encoder, stats=stats))
            continue
        first = encoder.first_pass(raw, task_idx, n_tasks)
        del raw
        if first is None:
            continue
        enc, tally, rest = first
        coders = coder_idx[enc.rows]
        item = _Question(encoder, enc, coders, tally, raw=rest)
        n_units = len(enc.unit_task)
        prepared.append(item)

        # Agreement per task: the mean over its units of the mean pair score.
        unit_mean, has_pair = consensus.unit_pair_means(enc, tally, n_units)
        t_sum = np.bincount(enc.unit_task, weights=unit_mean, minlength=n_tasks)
        t_n = np.bincount(enc.unit_task, weights=has_pair.astype(float), minlength=n_tasks)
        defined = t_n > 0
        task_score_sum[defined] += t_sum[defined] / t_n[defined]
        task_score_n[defined] += 1
        del unit_mean, has_pair

        # Dawid-Skene where the encoder asks for it: competence-weighted truth.
        ds_choice = None
        if encoder.dawid_skene and len(enc.units):
            codes = np.searchsorted(enc.scale, enc.values)
            ds = dawid_skene(
                enc.units,
                coders,
                codes,
                n_units=n_units,
                n_coders=n_coders,
                n_categories=len(enc.scale),
            )
            ds_choice = enc.scale[ds.posterior.argmax(axis=1)]
            answered_by = np.bincount(coders, minlength=n_coders) > 0
            item.stats["dawid_skene"] = {
                "iterations": ds.iterations,
                "accuracy": [
                    {"annotator_id": int(coder_ids[c]), "accuracy": round(float(ds.accuracy[c]), 4)}
                    for c in np.nonzero(answered_by)[0]
                ],
            }
            del ds, codes

        choice, tied = consensus.consensus(encoder.consensus, enc, tally, ds_choice, n_units)
        columns.append((encoder.name, *encoder.answers(enc, choice, tied, n_tasks)))

    task_agreement = np.where(
        task_score_n > 0, task_score_sum / np.maximum(task_score_n, 1), np.nan
    )
    # A task with a single answer has no agreement, whatever the per-question bookkeeping.
    answers_per_task = np.bincount(task_idx, minlength=n_tasks)
    task_agreement[answers_per_task < 2] = np.nan
    # One answer where several are asked for is that answer, not a consensus.
    single = (answers_per_task == 1) if project.overlap >= 2 else None
    consensus_code, consensus_docs = consensus.consensus_docs(columns, n_tasks, single)
    del columns

    external = loading.external_ids(task_ids, consensus.lowest(task_agreement))
    users, skips = quality.annotator_rows(project, coder_ids)
    return _Prepared(
        project=project,
        task_ids=task_ids,
        task_idx=task_idx,
        coder_ids=coder_ids,
        coder_idx=coder_idx,
        lead=lead,
        n_rows=n_rows,
        gold=gold,
        gold_pos=gold_pos,
        questions=prepared,
        task_agreement=task_agreement,
        task_disputed=task_disputed,
        consensus_code=consensus_code,
        consensus_docs=consensus_docs,
        users=users,
        skips=skips,
        external=external,
        load_s=load_s,
        compute_s=time.perf_counter() - started - load_s,
    )


def _body(prep: _Prepared, bootstrap: int) -> dict:
    """The snapshot body: coefficients per question, annotators, pairwise, lowest tasks.

    Pure computation on what ``_prepare`` loaded: no database access.
    """
    started = time.perf_counter()
    n_tasks, n_coders, n_rows = len(prep.task_ids), len(prep.coder_ids), prep.n_rows
    totals = quality.AnnotatorTotals(n_coders)
    questions: dict = {}
    for item in prep.questions:
        encoder = item.encoder
        if item.enc is None:
            questions[encoder.name] = item.stats
            continue
        if item.raw is not None:
            item.enc = encoder.complete(item.raw, prep.task_idx, n_tasks, item.tally)
            item.coders = prep.coder_idx[item.enc.rows]
            item.raw = None
        enc, coders, tally = item.enc, item.coders, item.tally
        n_units = len(enc.unit_task)
        # Who answered what alongside whom: Cohen's kappa and the pairwise agreement.
        tables = metrics.joint_tables(
            enc.units, coders, tally.codes, n_coders=n_coders, k=len(tally.cats)
        )
        stats = metrics.reliability_long(
            enc.units,
            coders,
            enc.values,
            n_units=n_units,
            n_coders=n_coders,
            level=enc.level,
            scale=enc.scale,
            bootstrap=bootstrap,
            tables=tables,
        )
        stats["annotations"] = int(np.count_nonzero(np.bincount(enc.rows, minlength=n_rows)))
        stats.update(item.stats)
        totals.add_pairs(enc, tally, tables)
        del tables
        stats.update(encoder.distribution(enc, tally, n_tasks))
        questions[encoder.name] = stats
        totals.add_leave_one_out(enc, coders, tally)
        if prep.gold_pos:
            totals.add_gold(encoder, enc, coders, prep.gold, prep.task_ids, prep.gold_pos)

    task_ids, task_agreement = prep.task_ids, prep.task_agreement
    return {
        "questions": questions,
        "annotators": quality.annotators(
            coder_ids=prep.coder_ids,
            coder_idx=prep.coder_idx,
            lead=prep.lead,
            totals=totals,
            users=prep.users,
            skips=prep.skips,
        ),
        "pairwise": totals.pairwise(prep.coder_ids),
        "lowest_tasks": [
            {
                "task_id": int(task_ids[t]),
                "external_id": prep.external.get(int(task_ids[t]), ""),
                "agreement": round(float(task_agreement[t]), 4),
            }
            for t in consensus.lowest(task_agreement)
        ],
        "tasks": n_tasks,
        "annotations": n_rows,
        "timings": {
            "load_s": round(prep.load_s, 3),
            "compute_s": round(prep.compute_s + time.perf_counter() - started, 3),
        },
    }


def agreement_compute(*, project: Project, bootstrap: int = BOOTSTRAP_SAMPLES) -> dict:
    """Compute the snapshot body and the per-task results (without writing anything)."""
    prep = _prepare(project)
    return {
        "body": _body(prep, bootstrap),
        "task_ids": prep.task_ids,
        "task_agreement": prep.task_agreement,
        "task_disputed": prep.task_disputed,
        "consensus_code": prep.consensus_code,
        "consensus_docs": prep.consensus_docs,
    }


def agreement_snapshot_create(*, project_id: int, bootstrap: int = BOOTSTRAP_SAMPLES):
    """Recompute the project's agreement and store a snapshot; returns it.

    Writes every task's agreement and consensus (TaskAgreement) and moves tasks
    between complete and disputed by the per-question rule of a submit
    (naming the questions in dispute), in one transaction with the snapshot.
    """
    started = time.perf_counter()
    # Taken before the answers are read: the snapshot holds every answer committed
    # before computed_at, which is what a client waiting on a refresh relies on.
    now = timezone.now()
    project = Project.objects.get(pk=project_id)
    prep = _prepare(project)
    with transaction.atomic():
        write = writing.TasksWrite(
            project,
            task_ids=prep.task_ids,
            agreement=prep.task_agreement,
            disputed=prep.task_disputed,
            codes=prep.consensus_code,
            docs=prep.consensus_docs,
        )
        try:
            body = _body(prep, bootstrap)
        except BaseException:
            write.cancel()
            raise
        write_s = write.wait()
        quality.accuracies_store(project, body["annotators"], body["questions"])
        body["computed_at"] = now.isoformat()
        body["timings"]["write_s"] = round(write_s, 3)
        snapshot = AgreementSnapshot.objects.create(
            project=project,
            computed_at=now,
            duration_s=time.perf_counter() - started,
            data=body,
        )
    return snapshot
