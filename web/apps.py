from django.apps import AppConfig


class WebConfig(AppConfig):
    """Web plumbing every app shares: authentication, API errors, Markdown, template tags."""

    name = "web"

    def ready(self) -> None:
        # Only a Celery worker sends these signals: the sweeper runs inside every worker.
        from celery.signals import worker_ready, worker_shutdown

        from web import sweeper

        worker_ready.connect(sweeper.start_in_worker, weak=False, dispatch_uid="quorum-sweeper")
        worker_shutdown.connect(sweeper.stop_in_worker, weak=False, dispatch_uid="quorum-sweeper")
