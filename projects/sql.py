"""SQL for the reads every labeling call starts with: a project or a task with the caller's role.

Compiling the ORM query for these cost more than running it, so they are
fixed strings run through web.rows.fetchone (prepared, and doubling as the
connection's health check). Table names come from the models.
"""

from __future__ import annotations

from web import rows

from .models import Membership, Project, Task

PROJECT = Project._meta.db_table
TASK = Task._meta.db_table
MEMBERSHIP = Membership._meta.db_table

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
