from __future__ import annotations

from django import template

from web.markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text: str | None):
    """Render Markdown safely: ``{{ task.data.instruction|markdown }}``."""
    return render_markdown(text)


@register.filter(name="answer")
def answer_filter(value) -> str:
    """An answer as one line of text: ``{{ annotation.values.quality|answer }}``."""
    from projects.schema import answer_display

    return answer_display(value)


@register.simple_tag(takes_context=True)
def role_in(context, project) -> str:
    """The current user's role in ``project``: ``{% role_in project as role %}``."""
    from projects.selectors import project_role

    request = context.get("request")
    if request is None or project is None:
        return ""
    return project_role(request.user, project) or ""
