"""Between the labeling page's HTML form and an answer ``{question: value}``.

Field names are ``q-<question name>`` (plus ``q-<name>-strength`` for a
preference with strength); a ranking posts its order as ``"2,0,1"``. Each
question type draws and reads its own widget (``projects.questions``); the
review page's resolution form shares them.
"""

from __future__ import annotations

from projects.questions.base import letter, task_field
from projects.questions.preference import STRENGTHS as PREFERENCE_STRENGTHS
from projects.questions.widgets import question_widgets, task_view, values_from_post

__all__ = [
    "PREFERENCE_STRENGTHS",
    "letter",
    "question_widgets",
    "task_field",
    "task_view",
    "values_from_post",
]
