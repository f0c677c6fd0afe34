"""The lead's exports page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from exports.models import Export, ExportToken
from tests.exports.test_api import CONTENT, ready_export

pytestmark = pytest.mark.django_db


def url(project):
    return reverse("exports:export-list", args=[project.pk])


def test_lead_sees_form_snippets_and_tabs(client, project, lead, export_root):
    export = ready_export(project, export_root, fmt="sft")
    client.force_login(lead)
    response = client.get(url(project))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="export-form"' in html
    assert "curl -fL -C -" in html
    assert f"/api/v1/projects/{project.pk}/exports/latest/" in html
    assert "sha256sum -c" in html
    assert reverse("exports:export-download", args=[export.pk]) in html
    assert 'class="tabs"' in html


def test_htmx_request_gets_the_rows_fragment_polling_while_busy(client, project, lead):
    Export.objects.create(project=project, format="sft", state="running", progress=0.4)
    client.force_login(lead)
    response = client.get(url(project), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="export-rows"')
    assert 'hx-trigger="every 2s"' in html
    assert 'aria-valuenow="40"' in html
    assert "<html" not in html


def test_lead_creates_export_from_form(client, project, lead):
    client.force_login(lead)
    response = client.post(
        url(project),
        {
            "format": "preference",
            "gold": "exclude",
            "split": "train",
            "validation_ratio": "0.2",
            "seed": "x",
            "min_agreement": "0.4",
        },
    )
    assert response.status_code == 302
    export = Export.objects.get()
    assert export.format == "preference"
    assert export.filters["gold"] == "exclude"
    assert export.filters["split"] == "train"
    assert export.filters["min_agreement"] == 0.4
    assert export.created_by == lead


def test_bad_form_is_400_with_message(client, project, lead):
    client.force_login(lead)
    response = client.post(
        url(project), {"format": "xml", "gold": "include", "validation_ratio": "2", "seed": "x"}
    )
    assert response.status_code == 400
    assert not Export.objects.exists()


def test_roles_on_the_page(client, project, reviewer, annotator, outsider, export_root):
    export = ready_export(project, export_root)
    client.force_login(reviewer)
    page = client.get(url(project))
    assert page.status_code == 200
    assert 'id="export-form"' not in page.content.decode()
    assert client.post(url(project), {"format": "sft"}).status_code == 403
    download = client.get(reverse("exports:export-download", args=[export.pk]))
    assert b"".join(download.streaming_content) == CONTENT
    client.force_login(annotator)
    assert client.get(url(project)).status_code == 403
    client.force_login(outsider)
    assert client.get(url(project)).status_code == 404


def test_token_shown_once_then_revoked(client, project, lead):
    client.force_login(lead)
    response = client.post(reverse("exports:token-create", args=[project.pk]), {"name": "trainer"})
    assert response.status_code == 200
    token = ExportToken.objects.get()
    html = response.content.decode()
    assert 'id="new-token-value"' in html
    assert token.key_prefix in html
    again = client.get(url(project)).content.decode()
    assert 'id="new-token-value"' not in again
    revoke = client.post(reverse("exports:token-revoke", args=[project.pk, token.pk]))
    assert revoke.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
