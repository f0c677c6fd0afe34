"""SQL for the reads every labeling call starts with: a project or a task with the caller's role.

Compiling the ORM query for these cost more than running it, so they are
fixed strings run through web.rows.fetchone (prepared, and doubling as the
connection's health check). Table names come from the models.
"""

from __future__ import annotations

from web import rows

from .models import Membership, Project, Task, TaskWords

PROJECT = Project._meta.db_table
TASK = Task._meta.db_table
MEMBERSHIP = Membership._meta.db_table
TASK_WORDS = TaskWords._meta.db_table

# Parameters: user id, project id. The role is the last column (NULL for a non-member).
PROJECT_FOR_USER = f"""SELECT {rows.columns(Project, "p")}, m.role FROM {PROJECT} p
LEFT JOIN {MEMBERSHIP} m ON m.project_id = p.id AND m.user_id = %s
WHERE p.id = %s"""

_TASK_COLUMNS, _PROJECT_COLUMNS = rows.columns(Task, "t"), rows.columns(Project, "p")
# Parameters: user id, task id. The task's columns, its project's, then the role.
TASK_FOR_USER = f"""SELECT {_TASK_COLUMNS}, {_PROJECT_COLUMNS}, m.role FROM {TASK} t
JOIN {PROJECT} p ON p.id = t.project_id
LEFT JOIN {MEMBERSHIP} m ON m.project_id = p.id AND m.user_id = %s
WHERE t.id = %s"""

# The text the task browser searches: the instruction, the input and the user
# turns (the JSON escapes of line breaks and tabs become spaces, so the word after
# one stays a word of its own).
_DATA = f'"{TASK}"."data"'
TASK_SEARCH_TEXT = (
    f"(coalesce({_DATA}->>'instruction', '') || ' ' || coalesce({_DATA}->>'input', '') || ' ' || "
    f"coalesce(regexp_replace(jsonb_path_query_array({_DATA}, "
    "'$.messages[*] ? (@.role == \"user\").content')::text, '\\\\[nrt]', ' ', 'g'), ''))"
)
# Its words, from the first TASK_SEARCH_CHARS characters (which bounds what a long
# prompt costs), as TaskWords holds them.
TASK_SEARCH_CHARS = 2000
TASK_SEARCH_WORDS = (
    f"to_tsvector('simple'::regconfig, left({TASK_SEARCH_TEXT}, {TASK_SEARCH_CHARS}))"
)
# The first task id of a project without words (parameter: the project id).
TASK_WORDS_TAIL = f"(SELECT coalesce(max(task_id), 0) FROM {TASK_WORDS} WHERE project_id = %s)"
# The per-project lock under which an import stores tasks and their words are
# written, until the transaction ends. Parameters: TASK_STORE_LOCK_CLASS, the project id.
TASK_STORE_LOCK_CLASS = 0x514D50
TASK_STORE_LOCK = "SELECT pg_advisory_xact_lock(%s, %s)"
# Parameters: the project id, twice. Writes the words of the project's tasks
# after the last one that has them.
TASK_WORDS_FILL = f"""INSERT INTO {TASK_WORDS} (task_id, project_id, words)
SELECT id, project_id, {TASK_SEARCH_WORDS} FROM {TASK}
 WHERE project_id = %s AND id > {TASK_WORDS_TAIL}"""
