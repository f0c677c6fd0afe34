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


def count(frm: str) -> str:
    """The count query over the export's FROM/WHERE (as ``export_query`` returns it)."""
    return f"SELECT count(*){frm}"


def export_query(
    *, project_id: int, format: str, filters: dict, quality: dict[int, float]
) -> tuple[str, list, str, list]:
    """The export's SQL: (select, its params, the count query's FROM/WHERE, its params).

    Every format walks the project's tasks in id order; the annotations format
    gathers each task's annotations into one JSON array, so task data crosses
    the wire once per task rather than once per annotation.
    """
    params: list[Any] = [project_id]
    ann_where, ann_params = "a.task_id = t.id", []
    frm = (
        f" FROM {TASK} t LEFT JOIN {RESOLUTION} r ON r.task_id = t.id"
        f" LEFT JOIN {TASK_AGREEMENT} m ON m.task_id = t.id"
        " WHERE t.project_id = %s"
    )
    if filters["reviewed_only"]:
        if format == "annotations":
            ann_where += f" AND a.review_state = '{ACCEPTED}'"
        else:
            frm += (
                f" AND (r.id IS NOT NULL OR EXISTS (SELECT 1 FROM {ANNOTATION} ra"
                f" WHERE ra.task_id = t.id AND ra.review_state = '{ACCEPTED}'))"
            )
    if filters["min_agreement"] is not None:
        # A reviewer's resolution settles a task whatever its agreement was.
        frm += " AND (r.id IS NOT NULL OR m.agreement >= %s)"
        params.append(filters["min_agreement"])
    if filters["min_annotator_quality"] is not None:
        bar = filters["min_annotator_quality"]
        good = [uid for uid, q in quality.items() if q is not None and q >= bar]
        if format == "annotations":
            ann_where += " AND a.annotator_id = ANY(%s)"
            ann_params.append(good)
        else:
            # The consensus is trusted only when everyone who shaped it meets the bar.
            frm += (
                f" AND (r.id IS NOT NULL OR NOT EXISTS (SELECT 1 FROM {ANNOTATION} qa"
                f" WHERE qa.task_id = t.id AND qa.review_state <> '{REJECTED}'"
                " AND NOT (qa.annotator_id = ANY(%s))))"
            )
            params.append(good)
    if filters["gold"] == "exclude":
        frm += " AND NOT t.is_gold"
    elif filters["gold"] == "only":
        frm += " AND t.is_gold"
    if format == "annotations":
        select = (
            f"SELECT {TASK_SELECT}, (SELECT json_agg(json_build_array(a.id, a.annotator_id,"
            " a.values, a.lead_time_s, a.review_state, a.source, a.created_at, a.updated_at)"
            f" ORDER BY a.id) FROM {ANNOTATION} a WHERE {ann_where}){frm} ORDER BY t.id"
        )
        return select, ann_params + params, frm, params
    return f"SELECT {TASK_SELECT}{frm} ORDER BY t.id", params, frm, params
