"""Debounced recomputation: queued by reference, after commit, with the debounce setting."""

from __future__ import annotations

from django.core.cache import cache

from agreement.scheduling import agreement_refresh_later, pending_key
from agreement.tasks import agreement_recompute


def test_refresh_later_queues_the_task_after_commit_with_the_debounce_setting(
    db, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.AGREEMENT_DEBOUNCE_SECONDS = 2
    queued = []
    monkeypatch.setattr(agreement_recompute, "apply_async", lambda **kw: queued.append(kw))
    cache.delete(pending_key(987654))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert agreement_refresh_later(987654) is True
        assert agreement_refresh_later(987654) is False
        assert queued == []  # nothing before the commit
    assert len(callbacks) == 1
    assert queued == [{"args": (987654,), "countdown": 2}]
    cache.delete(pending_key(987654))


def test_the_task_keeps_the_name_that_jobs_queued_before_an_upgrade_use():
    assert agreement_recompute.name == "projects.agreement.tasks.agreement_recompute"
