"""Query count of the lead's exports page, measured with several exports and tokens."""

from __future__ import annotations

import pytest
from django.urls import reverse

from exports.models import Export, ExportToken
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_export_list_queries(client, project, lead, django_assert_num_queries):
    other = UserFactory(username="otherlead")
    for n in range(6):
        by = lead if n % 2 else other
        Export.objects.create(
            project=project,
            format=Export.Format.SFT,
            state=Export.State.READY,
            created_by=by,
            sha256="ab" * 32,
            file_path=f"/exports/{n}.jsonl",
            row_count=3,
            bytes=100,
        )
        Export.objects.create(project=project, format=Export.Format.SFT, created_by=by)
        ExportToken.objects.create(
            project=project,
            name=f"token {n}",
            key_hash=f"{n:064x}",
            key_prefix="qx_",
            created_by=by,
        )
    url = reverse("exports:export-list", args=[project.pk])
    client.force_login(lead)
    client.get(url)  # the session and anything cached per process are warm
    # Session, user, project with role, the exports, the tokens (each with their creators).
    with django_assert_num_queries(5):
        response = client.get(url)
    assert response.status_code == 200
    assert "token 5" in response.content.decode()
