import pytest
from django.urls import reverse


def test_login_page_renders(client, db):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b"Log in" in response.content


def test_project_list_needs_login(client, db):
    response = client.get(reverse("projects:project-list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db(transaction=True)
def test_worker_answers(celery_worker):
    from annotator.celery import app

    assert app.control.ping(timeout=2)
