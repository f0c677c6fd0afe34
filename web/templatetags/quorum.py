"""Template tags every app may use: ``{% load quorum %}``."""

from __future__ import annotations

from django import template

from web.markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text: str | None):
    """Render Markdown safely: ``{{ task.data.instruction|markdown }}``."""
    return render_markdown(text)
