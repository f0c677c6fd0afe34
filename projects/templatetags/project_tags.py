"""Template tags about projects: answers shown by their question's type, the caller's role.

``{% load project_tags %}``
"""

from __future__ import annotations

from django import template

from projects.schema import answer_display
from projects.selectors import project_role

register = template.Library()


@register.simple_tag
def answer_of(project, name: str, value, task=None) -> str:
    """Question ``name``'s answer as one line: ``{% answer_of project k v task as shown %}``."""
    question = project.question(name)
    return answer_display(value, question, task)


@register.simple_tag
def question_title(project, name: str) -> str:
    """Question ``name``'s title, as annotators read it (its name if it has none or is gone)."""
    return (project.question(name) or {}).get("title") or name


@register.simple_tag
def question_titles(project, names) -> str:
    """Titles of the questions ``names``, separated by semicolons; "—" for none."""
    return "; ".join(question_title(project, name) for name in names or ()) or "—"


@register.simple_tag(takes_context=True)
def role_in(context, project) -> str:
    """The current user's role in ``project``: ``{% role_in project as role %}``."""
    request = context.get("request")
    if request is None or project is None:
        return ""
    return project_role(request.user, project) or ""
