"""Background jobs are queued after commit, on the real broker, or not at all."""

from __future__ import annotations

import pytest
from celery import shared_task
from django.db import transaction

from annotator.celery import app
from web.jobs import enqueue

# A queue of its own, so that the suite's worker never takes these jobs before they are counted.
QUEUE = "tests-web-jobs"


@shared_task(name="tests.web.noop", queue=QUEUE)
def noop(value: int) -> int:
    return value


def _redis():
    return app.connection_for_write().default_channel.client


def _queued() -> int:
    return _redis().llen(QUEUE)


@pytest.fixture
def empty_queue():
    _redis().delete(QUEUE)
    yield
    _redis().delete(QUEUE)


@pytest.mark.django_db(transaction=True)
def test_a_job_reaches_the_broker_only_when_its_transaction_commits(empty_queue):
    with transaction.atomic():
        enqueue(noop, 1, countdown=30)
        assert _queued() == 0
    assert _queued() == 1


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_queues_nothing(empty_queue):
    with transaction.atomic():
        enqueue(noop, 1)
        transaction.set_rollback(True)
    assert _queued() == 0
