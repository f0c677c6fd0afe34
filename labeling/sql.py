"""The labeling hot paths' SQL: leasing the next task, the active lease, submitting.

Written as SQL rather than the ORM because these run on every annotator
action and compiling the ORM queries cost more than running them; each
string is fixed, so web.rows.prepared_cursor() lets PostgreSQL plan it once
per connection. Table names and states come from the models.
"""

from __future__ import annotations

from labeling.models import Assignment
from projects.models import Annotation, Membership, Task
from web import rows

TASK = Task._meta.db_table
ASSIGNMENT = Assignment._meta.db_table
ANNOTATION = Annotation._meta.db_table
MEMBERSHIP = Membership._meta.db_table

OPEN = Task.State.OPEN.value
COMPLETE = Task.State.COMPLETE.value
LEASED = Assignment.State.LEASED.value
SUBMITTED = Assignment.State.SUBMITTED.value
SKIPPED = Assignment.State.SKIPPED.value

# The caller has neither answered nor skipped the task (shared by both queries).
NOT_DONE_BY_USER = f"""NOT EXISTS (
    SELECT 1 FROM {ANNOTATION} an
    WHERE an.task_id = t.id AND an.annotator_id = %(user)s)
  AND NOT EXISTS (
    SELECT 1 FROM {ASSIGNMENT} a
    WHERE a.task_id = t.id AND a.annotator_id = %(user)s
      AND a.state IN ('{SUBMITTED}', '{SKIPPED}'))"""

# The task's current target: the answers it needs now (see Task.target_overlap).
TARGET = "coalesce(t.target_overlap, %(overlap)s)"

# An open task of the drawn kind (gold or not) that the annotator has not
# answered or skipped and that still has room under its target once active
# leases are counted. ``annotation_count < overlap_max`` bounds the index walk.
_CANDIDATE_WHERE = f"""
SELECT t.id FROM {TASK} t
WHERE t.project_id = %(project)s
  AND t.state = '{OPEN}'
  AND t.is_gold = %(gold)s
  AND t.annotation_count < %(overlap_max)s
  AND t.annotation_count < {TARGET}
  AND NOT (t.id = ANY(%(tried)s))
  AND {NOT_DONE_BY_USER}
  AND t.annotation_count + (
    SELECT count(*) FROM {ASSIGNMENT} a
    WHERE a.task_id = t.id AND a.state = '{LEASED}' AND a.expires_at > %(now)s
  ) < {TARGET}"""
_LOCK = "\nLIMIT 1\nFOR UPDATE OF t SKIP LOCKED\n"

# One fixed string per task order, each served by an index without a sort, so
# the cost does not grow with the number of tasks (docs/labeling.md, "Task order"):
# - complete_first: a started task, most answers first (the partial index
#   task_lease_gold_order walked backwards), else the first untouched task in
#   id order (the same index forwards within annotation_count = 0);
# - spread: fewest answers first, the same index forwards;
# - random: the first task at or after a random id between the lowest and the
#   highest open id of that kind, on task_project_state_order (the bounds are
#   two probes of the same index); ``spot`` in [0, 1) picks the id, and 0
#   starts from the lowest id once nothing is left above the random one.
# The lowest or highest open id of the drawn kind. The state is a range, not an
# equality, so that ordering by (state, id) can come only from
# task_project_state_order: with an equality the planner may walk the primary
# key instead, which passes every finished task before the first open one.
_BOUND = f"""SELECT b.id FROM {TASK} b
      WHERE b.project_id = %(project)s AND b.state >= '{OPEN}' AND b.state <= '{OPEN}'
        AND b.is_gold = %(gold)s"""


def _first_of(*queries: str) -> str:
    """The first id any of ``queries`` finds, trying the next only when one finds none."""
    walks = ",\n".join(f"({q})" for q in queries)
    # OFFSET 0 keeps the coalesce in its own subquery, so that it runs once.
    return f"SELECT id FROM (SELECT coalesce(\n{walks}) AS id OFFSET 0) c WHERE id IS NOT NULL"


CANDIDATES = {
    "complete_first": _first_of(
        _CANDIDATE_WHERE
        + "\n  AND t.annotation_count > 0\nORDER BY t.annotation_count DESC, t.id DESC"
        + _LOCK,
        _CANDIDATE_WHERE + "\n  AND t.annotation_count = 0\nORDER BY t.id" + _LOCK,
    ),
    "spread": _CANDIDATE_WHERE + "\nORDER BY t.annotation_count, t.id" + _LOCK,
    "random": _CANDIDATE_WHERE
    + f"""
  AND t.id >= (
    SELECT lo.id + floor(%(spot)s * (hi.id - lo.id + 1))::bigint
    FROM ({_BOUND} ORDER BY b.state, b.id LIMIT 1) lo,
         ({_BOUND} ORDER BY b.state DESC, b.id DESC LIMIT 1) hi)
ORDER BY t.id"""
    + _LOCK,
}
# The same candidates without the lock: is anything left once tasks that others
# hold locked right now are counted too?
PEEKS = {order: query.replace(_LOCK, "\nLIMIT 1\n") for order, query in CANDIDATES.items()}

# Run after the task lock is held: the lease is written only if the task
# still has room. A new statement sees every assignment committed before the
# lock was granted, which the candidate query's older snapshot may have missed.
LEASE_INSERT = f"""
WITH fresh AS (
  SELECT t.id FROM {TASK} t
  WHERE t.id = %(task)s
    AND {NOT_DONE_BY_USER}
    AND t.annotation_count + (
      SELECT count(*) FROM {ASSIGNMENT} a
      WHERE a.task_id = t.id AND a.state = '{LEASED}' AND a.expires_at > %(now)s
        AND a.annotator_id <> %(user)s
    ) < {TARGET}
)
INSERT INTO {ASSIGNMENT}
  (project_id, task_id, annotator_id, state, leased_at, expires_at, skip_reason)
SELECT %(project)s, fresh.id, %(user)s, '{LEASED}', %(now)s, %(expires)s, '' FROM fresh
ON CONFLICT (task_id, annotator_id) DO UPDATE
  SET state = '{LEASED}', leased_at = EXCLUDED.leased_at, expires_at = EXCLUDED.expires_at
RETURNING *
"""
# The lease comes back with its task, so the caller needs no second query.
LEASE = f"""WITH a AS ({LEASE_INSERT})
SELECT {rows.columns(Assignment, "a")}, {rows.columns(Task, "t")}
FROM a JOIN {TASK} t ON t.id = a.task_id"""

ACTIVE_LEASE = f"""
SELECT {rows.columns(Assignment, "a")}, {rows.columns(Task, "t")}
FROM {ASSIGNMENT} a JOIN {TASK} t ON t.id = a.task_id
WHERE a.project_id = %s AND a.annotator_id = %s AND a.state = '{LEASED}' AND a.expires_at > %s
ORDER BY a.leased_at, a.id
LIMIT 1"""

# The task's lock for a submit, in a statement of its own (see SUBMIT), with its
# count and target, and, when this answer may reach the target, the answers
# already stored and who gave them: the submit decides there whether they
# agree. Both aggregates take the rows of one scan in the same order, so the
# two lists are in step without a sort.
LOCK_TASK = f"""
SELECT t.annotation_count, {TARGET},
       CASE WHEN t.annotation_count + 1 >= {TARGET} THEN
         (SELECT jsonb_build_object(
                   'values', coalesce(jsonb_agg(an."values"), '[]'::jsonb),
                   'annotators', coalesce(jsonb_agg(an.annotator_id), '[]'::jsonb))
          FROM {ANNOTATION} an WHERE an.task_id = t.id) END
FROM {TASK} t WHERE t.id = %(task)s
FOR UPDATE"""

# The estimated accuracies of some of a project's members (stop_confidence only).
ACCURACIES = f"""
SELECT user_id, accuracy FROM {MEMBERSHIP}
WHERE project_id = %(project)s AND user_id = ANY(%(users)s) AND accuracy IS NOT NULL"""

# Run under the task lock, taken by an earlier statement so that this one's
# snapshot sees every answer and lease committed before it. The checks and the
# writes share the statement: the answer, the caller's lease marked submitted
# and the task's count, state and target (decided by the caller from the
# answers LOCK_TASK returned) are written only when the checks pass, and the
# checks come back either way so the caller can say why not.
SUBMIT = f"""
WITH chk AS (
  SELECT
    (SELECT id FROM {ANNOTATION} WHERE client_id = %(client)s) AS same_client,
    EXISTS (SELECT 1 FROM {ANNOTATION}
            WHERE task_id = %(task)s AND annotator_id = %(user)s) AS answered,
    (SELECT count(*) FROM {ASSIGNMENT}
     WHERE task_id = %(task)s AND state = '{LEASED}' AND expires_at > %(now)s
       AND annotator_id <> %(user)s) AS others_leased
), an AS (
  INSERT INTO {ANNOTATION}
    (project_id, task_id, annotator_id, "values", client_id, lead_time_s, source,
     review_state, review_comment, created_at, updated_at, shown_order)
  SELECT %(project)s, %(task)s, %(user)s, %(values)s::jsonb, %(client)s,
         %(lead_time)s::float8, %(source)s, %(review_state)s, '', %(now)s, %(now)s,
         %(shown_order)s::jsonb
  FROM chk
  WHERE chk.same_client IS NULL AND NOT chk.answered
    AND %(count)s + chk.others_leased < %(target)s
  RETURNING *
), lease AS (
  UPDATE {ASSIGNMENT} SET state = '{SUBMITTED}', finished_at = %(now)s
  WHERE task_id = %(task)s AND annotator_id = %(user)s AND EXISTS (SELECT 1 FROM an)
), counted AS (
  UPDATE {TASK}
  SET annotation_count = annotation_count + 1,
      state = CASE WHEN state = '{OPEN}' THEN %(state)s ELSE state END,
      target_overlap = coalesce(%(grow_to)s::int, target_overlap),
      disputed_questions = CASE WHEN state = '{OPEN}' THEN %(disputed)s::jsonb
                                ELSE disputed_questions END
  WHERE id = %(task)s AND EXISTS (SELECT 1 FROM an)
)
SELECT chk.same_client, chk.answered, {rows.columns(Annotation, "an")}
FROM chk LEFT JOIN an ON true"""
