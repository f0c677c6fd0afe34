"""Every raw SQL statement of the agreement app.

Table and column names come from the models and task states from their
choices, so that a renamed field or state cannot leave a query behind. The
statements are built once, at import; only the per-question answer
expressions take the question's name and options as parameters.
"""

from __future__ import annotations

from agreement.models import TaskAgreement
from projects.models import Annotation, Task
from projects.sql import TASK_SEARCH_WORDS, TASK_WORDS, TASK_WORDS_TAIL


def _column(model, field: str) -> str:
    return model._meta.get_field(field).column


def _literal(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


ANNOTATIONS = Annotation._meta.db_table
TASKS = Task._meta.db_table
TASK_AGREEMENTS = TaskAgreement._meta.db_table

_VALUES = _column(Annotation, "values")
_A_TASK = _column(Annotation, "task")
_A_ANNOTATOR = _column(Annotation, "annotator")
_A_LEAD = _column(Annotation, "lead_time_s")
_A_PROJECT = _column(Annotation, "project")
_A_ID = _column(Annotation, "id")
_T_ID = _column(Task, "id")
_T_PROJECT = _column(Task, "project")
_T_STATE = _column(Task, "state")
_T_DISPUTED = _column(Task, "disputed_questions")
_M_TASK = _column(TaskAgreement, "task")
_M_AGREEMENT = _column(TaskAgreement, "agreement")
_M_CONSENSUS = _column(TaskAgreement, "consensus")
_COMPLETE = _literal(Task.State.COMPLETE)
_DISPUTED = _literal(Task.State.DISPUTED)


# --- one question's answer, as loaded (see agreement.encoding) -----------------

# label: the index of the chosen option (params: options, name).
ANSWER_OPTION_INDEX = f"array_position(%s::text[], {_VALUES}->>%s) - 1"
# rating: the number (params: name, name).
ANSWER_NUMBER = (
    f"CASE WHEN jsonb_typeof({_VALUES}->%s) = 'number' THEN ({_VALUES}->>%s)::float8 END"
)
# preference: the score -3..3 of projects.schema.preference_score (params: name x 5).
ANSWER_PREFERENCE = f"""CASE jsonb_typeof({_VALUES}->%s)
                 WHEN 'string' THEN CASE {_VALUES}->>%s WHEN 'A' THEN -1 WHEN 'B' THEN 1
                                                      WHEN 'tie' THEN 0 END
                 WHEN 'object' THEN CASE {_VALUES}->%s->>'choice'
                     WHEN 'tie' THEN 0
                     WHEN 'A' THEN -coalesce(nullif(({_VALUES}->%s->>'strength')::int, 0), 1)
                     WHEN 'B' THEN coalesce(nullif(({_VALUES}->%s->>'strength')::int, 0), 1) END
               END"""
# text: the whole answer as JSON (params: name).
ANSWER_JSON = f"({_VALUES}->%s)::text"
# anything else: the answer as text (params: name).
ANSWER_TEXT = f"{_VALUES}->>%s"


def answer_bitmask(n_options: int) -> str:
    """multilabel: a bit mask over the options (params: name, then name and option per option)."""
    bits = " + ".join(f"(({_VALUES}->%s) ? %s)::int::bigint * {1 << i}" for i in range(n_options))
    return f"CASE WHEN jsonb_typeof({_VALUES}->%s) = 'array' THEN {bits} END"


# --- loading --------------------------------------------------------------------

# Room to group the answers in memory; no JIT, whose compilation costs more than it saves.
LOAD_SETTINGS = "SET LOCAL work_mem = '64MB'; SET LOCAL jit = off"


def answers_packed(exprs: list[str]) -> str:
    """Every answer as one fixed-width binary record, concatenated per chunk of tasks.

    8-byte big-endian fields: task, annotator, lead time, one float per
    expression (NULL as NaN). ``OFFSET 0`` keeps the inner query apart from
    the aggregate, so parallel workers can extract the answers from the JSON.
    Params: the expressions' params, then the project id.
    """
    fields = [
        f"int8send({_A_TASK}::int8)",
        f"int8send({_A_ANNOTATOR}::int8)",
        f"float8send(coalesce({_A_LEAD}::float8, 'NaN'::float8))",
    ]
    fields += [f"float8send(coalesce(({e})::float8, 'NaN'::float8))" for e in exprs]
    return f"""
        SELECT string_agg(answer, ''::bytea) FROM (
            SELECT {_A_TASK}::int8 >> 14 AS chunk, {" || ".join(fields)} AS answer
              FROM {ANNOTATIONS} WHERE {_A_PROJECT} = %s OFFSET 0) AS a
         GROUP BY chunk
    """


def answers_rows(exprs: list[str]) -> str:
    """(task, annotator, lead time, one column per expression), sorted by task.

    Params: the expressions' params, then the project id.
    """
    columns = "".join(f", {e} AS q{i}" for i, e in enumerate(exprs))
    return (
        f"SELECT {_A_TASK}, {_A_ANNOTATOR}, {_A_LEAD}{columns} "
        f"FROM {ANNOTATIONS} WHERE {_A_PROJECT} = %s ORDER BY {_A_TASK}, {_A_ID}"
    )


def copy_csv_out(query: str) -> str:
    return f"COPY ({query}) TO STDOUT WITH (FORMAT csv)"


# --- the per-task write -----------------------------------------------------------

# Two temporary tables: the distinct consensus documents, and per task its
# agreement and document number.
RESULTS_CREATE = (
    "DROP TABLE IF EXISTS pg_temp.agreement_docs, pg_temp.agreement_tasks;"
    " CREATE TEMP TABLE agreement_docs (code int4, consensus jsonb) ON COMMIT DROP;"
    " CREATE TEMP TABLE agreement_tasks (id int8, agreement float8, code int4, disputed int8)"
    " ON COMMIT DROP"
)
RESULTS_COPY_DOCS = "COPY agreement_docs (code, consensus) FROM STDIN"
RESULTS_COPY_TASKS = (
    "COPY agreement_tasks (id, agreement, code, disputed) FROM STDIN (FORMAT binary)"
)
# Statistics so that the planner hashes the small documents table and sees how
# few tasks fall below the threshold; no JIT, whose compilation costs more
# than it saves here.
RESULTS_ANALYZE = (
    "ANALYZE agreement_docs, agreement_tasks; SET LOCAL jit = off; SET LOCAL work_mem = '64MB'"
)

# Params of the three statements below: names (the questions, in order), project.
# Skips rows whose values would not change. NaN (no agreement) sorts above
# every number in PostgreSQL, hence the nullif.
RESULTS_UPSERT = f"""
    INSERT INTO {TASK_AGREEMENTS} AS a ({_M_TASK}, {_M_AGREEMENT}, {_M_CONSENSUS})
    SELECT r.id, nullif(r.agreement, 'NaN'::float8), d.consensus
      FROM agreement_tasks AS r JOIN agreement_docs AS d ON d.code = r.code
    ON CONFLICT ({_M_TASK}) DO UPDATE
       SET {_M_AGREEMENT} = excluded.{_M_AGREEMENT}, {_M_CONSENSUS} = excluded.{_M_CONSENSUS}
     WHERE a.{_M_AGREEMENT} IS DISTINCT FROM excluded.{_M_AGREEMENT}
        OR a.{_M_CONSENSUS} IS DISTINCT FROM excluded.{_M_CONSENSUS}
"""
# The names of the questions whose bit is set in r.disputed (bit i: question i).
_DISPUTED_NAMES = """(SELECT jsonb_agg(q.name ORDER BY q.i)
      FROM unnest(%(names)s::text[]) WITH ORDINALITY AS q(name, i)
     WHERE (r.disputed >> (q.i - 1)::int) & 1 = 1)"""
# A task is disputed when any question is (the rule a submit applies); the only
# writes to the wide task rows are these changes of state or of the names.
TASKS_DISPUTE = f"""
    UPDATE {TASKS} AS t
       SET {_T_STATE} = {_DISPUTED}, {_T_DISPUTED} = {_DISPUTED_NAMES}
      FROM agreement_tasks AS r
     WHERE r.disputed <> 0 AND t.{_T_ID} = r.id AND t.{_T_PROJECT} = %(project)s
       AND (t.{_T_STATE} = {_COMPLETE}
            OR (t.{_T_STATE} = {_DISPUTED}
                AND t.{_T_DISPUTED} IS DISTINCT FROM {_DISPUTED_NAMES}))
"""
TASKS_SETTLE = f"""
    UPDATE {TASKS} AS t SET {_T_STATE} = {_COMPLETE}, {_T_DISPUTED} = NULL
      FROM agreement_tasks AS r
     WHERE t.{_T_PROJECT} = %(project)s AND t.{_T_STATE} = {_DISPUTED} AND t.{_T_ID} = r.id
       AND r.disputed = 0 AND nullif(r.agreement, 'NaN'::float8) IS NOT NULL
"""

# The task browser's search (agreement.browser.search_condition). Parameters: the
# tsquery; the project id twice, the tsquery. The tasks whose words match (of any
# project: the GIN index holds no project, and the page keeps its own), plus the
# project's tasks stored since its words were last written, whose words are
# computed here (a few seconds' worth of imports at most). As an array: the id
# index then returns the matches in id order and the page stops after 51. (The
# planner takes any word prefix to match 2% of the tasks; given a plain
# condition it walked every id for a rare word, 10 s at a million.)
TASK_SEARCH_MATCH = f"""{TASKS}.id = ANY(ARRAY(
    SELECT task_id FROM {TASK_WORDS} WHERE words @@ to_tsquery('simple'::regconfig, %s)
    UNION ALL
    SELECT id FROM {TASKS}
     WHERE project_id = %s AND id > {TASK_WORDS_TAIL}
       AND {TASK_SEARCH_WORDS} @@ to_tsquery('simple'::regconfig, %s)))"""
