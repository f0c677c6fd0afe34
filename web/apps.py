from django.apps import AppConfig


class WebConfig(AppConfig):
    """Web plumbing every app shares: authentication, API errors, Markdown, template tags."""

    name = "web"
