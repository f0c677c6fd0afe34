"""The export's SQL: one query walks a project's tasks, with their agreement,
resolution and (for the annotations format) their answers.

Raw SQL because it streams millions of rows through a server-side cursor on
a connection of its own (web.rows.connect), where the ORM has no place.
Table names and review states come from the models.
"""

from __future__ import annotations

from typing import Any

from agreement.models import Resolution, TaskAgreement
from projects.models import Annotation, Task

TASK = Task._meta.db_table
ANNOTATION = Annotation._meta.db_table
RESOLUTION = Resolution._meta.db_table
TASK_AGREEMENT = TaskAgreement._meta.db_table

ACCEPTED = Annotation.ReviewState.ACCEPTED.value
REJECTED = Annotation.ReviewState.REJECTED.value

# The whole result is read, so plan for throughput, not for the first rows
# (a cursor's default); JIT compilation only adds latency here.
THROUGHPUT_SETTINGS = ("SET LOCAL cursor_tuple_fraction = 1.0", "SET LOCAL jit = off")

TASK_COLUMNS = (
    "id", "external_id", "data", "is_gold", "gold", "state", "agreement", "consensus", "resolution",
)  # fmt: skip
ANNOTATION_FIELDS = (
    "annotation_id", "annotator_id", "values", "lead_time_s", "review_state", "source",
    "created_at", "updated_at",
)  # fmt: skip
TASK_SELECT = (
    "t.id, t.external_id, t.data, t.is_gold, t.gold, t.state, m.agreement, m.consensus, r.values"
)


COMPLETE_STATES = (Task.State.COMPLETE.value, Task.State.RESOLVED.value)


def excluded_query(frm: str, reasons: list[tuple[str, str, list]]) -> tuple[str, list]:
    """One aggregate over the project's tasks: how many each filter leaves out.

    Each task is counted once, under the first filter (in ``reasons`` order)
    that drops it; ``""`` counts the tasks the export walks. This replaces a
    plain count(*), so the reasons cost no extra pass over the tasks.
    """
    if not reasons:
        return f"SELECT '', count(*){frm}", []
    cases = " ".join(
        f"WHEN NOT coalesce(({cond}), false) THEN '{name}'" for name, cond, _ in reasons
    )
    params = [p for _, _, cond_params in reasons for p in cond_params]
    return f"SELECT CASE {cases} ELSE '' END AS reason, count(*){frm} GROUP BY 1", params


def export_query(
    *, project_id: int, format: str, filters: dict, quality: dict[int, float]
) -> tuple[str, list, str, list]:
    """The export's SQL: (select, its params, the excluded-count query, its params).

    Every format walks the project's tasks in id order; the annotations format
    gathers each task's annotations into one JSON array, so task data crosses
    the wire once per task rather than once per annotation. The task filters
    are named by the reason they give for leaving a task out (``excluded_query``).
    """
    ann_where, ann_params = "a.task_id = t.id", []
    base = (
        f" FROM {TASK} t LEFT JOIN {RESOLUTION} r ON r.task_id = t.id"
        f" LEFT JOIN {TASK_AGREEMENT} m ON m.task_id = t.id"
        " WHERE t.project_id = %s"
    )
    reasons: list[tuple[str, str, list]] = []
    if filters["gold"] == "exclude":
        reasons.append(("gold", "NOT t.is_gold", []))
    elif filters["gold"] == "only":
        reasons.append(("gold", "t.is_gold", []))
    if format != "annotations" and not filters.get("include_incomplete"):
        # Only answers that reached their overlap, or that a reviewer settled;
        # a disputed task comes in through its resolution.
        states = ", ".join(f"'{state}'" for state in COMPLETE_STATES)
        reasons.append(("incomplete", f"r.id IS NOT NULL OR t.state IN ({states})", []))
    if filters["reviewed_only"]:
        if format == "annotations":
            ann_where += f" AND a.review_state = '{ACCEPTED}'"
        else:
            reasons.append((
                "not_reviewed",
                f"r.id IS NOT NULL OR EXISTS (SELECT 1 FROM {ANNOTATION} ra"
                f" WHERE ra.task_id = t.id AND ra.review_state = '{ACCEPTED}')",
                [],
            ))  # fmt: skip
    if filters["min_agreement"] is not None:
        # A reviewer's resolution settles a task whatever its agreement was.
        reasons.append(
            ("min_agreement", "r.id IS NOT NULL OR m.agreement >= %s", [filters["min_agreement"]])
        )
    if filters["min_annotator_quality"] is not None:
        bar = filters["min_annotator_quality"]
        good = [uid for uid, q in quality.items() if q is not None and q >= bar]
        if format == "annotations":
            ann_where += " AND a.annotator_id = ANY(%s)"
            ann_params.append(good)
        else:
            # The consensus is trusted only when everyone who shaped it meets the bar.
            reasons.append((
                "min_quality",
                f"r.id IS NOT NULL OR NOT EXISTS (SELECT 1 FROM {ANNOTATION} qa"
                f" WHERE qa.task_id = t.id AND qa.review_state <> '{REJECTED}'"
                " AND NOT (qa.annotator_id = ANY(%s)))",
                [good],
            ))  # fmt: skip
    frm = base + "".join(f" AND ({cond})" for _, cond, _ in reasons)
    params: list[Any] = [project_id] + [p for _, _, cond_params in reasons for p in cond_params]
    count_sql, count_params = excluded_query(base, reasons)
    count_params = [*count_params, project_id]
    if format == "annotations":
        select = (
            f"SELECT {TASK_SELECT}, (SELECT json_agg(json_build_array(a.id, a.annotator_id,"
            " a.values, a.lead_time_s, a.review_state, a.source, a.created_at, a.updated_at)"
            f" ORDER BY a.id) FROM {ANNOTATION} a WHERE {ann_where}){frm} ORDER BY t.id"
        )
        return select, ann_params + params, count_sql, count_params
    return f"SELECT {TASK_SELECT}{frm} ORDER BY t.id", params, count_sql, count_params
