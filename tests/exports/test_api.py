"""The export REST API: roles, create, status, download with ETag and Range,
latest, and export tokens."""

from __future__ import annotations

import hashlib

import pytest

from exports.models import Export, ExportToken
from tests.factories import ProjectFactory, TaskFactory

pytestmark = pytest.mark.django_db

CONTENT = b"".join(
    f'{{"instruction": "line {i}", "input": "", "output": "ok"}}\n'.encode() for i in range(50)
)


def ready_export(project, export_root, *, fmt="alpaca", content=CONTENT) -> Export:
    """A finished export as the job leaves it: a whole file and its checksum."""
    export = Export.objects.create(project=project, format=fmt, schema=project.questions)
    path = export_root / f"export-{export.pk}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    Export.objects.filter(pk=export.pk).update(
        state="ready", file_path=str(path), sha256=hashlib.sha256(content).hexdigest(),
        bytes=len(content), row_count=content.count(b"\n"), progress=1.0,
    )  # fmt: skip
    export.refresh_from_db()
    return export


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_lead_creates_export_202_and_reads_it(api, project, lead):
    response = api(lead).post(
        f"/api/v1/projects/{project.pk}/exports/",
        {"format": "sft", "filters": {"min_agreement": 0.5, "split": "train"}},
        format="json",
    )
    assert response.status_code == 202, response.content
    data = response.json()
    assert data["state"] == "queued"
    assert data["filters"]["min_agreement"] == 0.5
    assert data["schema"] == project.questions
    detail = api(lead).get(f"/api/v1/exports/{data['id']}/")
    assert detail.status_code == 200
    listing = api(lead).get(f"/api/v1/projects/{project.pk}/exports/?format=sft")
    assert [e["id"] for e in listing.json()["results"]] == [data["id"]]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"format": "csv"}, "format"),
        ({"format": "sft", "filters": {"min_agreement": 3}}, "filters.min_agreement"),
        ({"format": "sft", "filters": {"split": "test"}}, "filters.split"),
        ({"format": "sft", "filters": "all"}, "filters"),
        ({"format": "preference", "filters": {"question": "nope"}}, "filters.question"),
    ],
)
def test_bad_create_is_400_naming_the_field(api, project, lead, payload, field):
    response = api(lead).post(f"/api/v1/projects/{project.pk}/exports/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Export.objects.exists()


def test_roles(api, project, lead, reviewer, annotator, outsider, export_root):
    export = ready_export(project, export_root)
    url = f"/api/v1/projects/{project.pk}/exports/"
    assert api(reviewer).get(url).status_code == 200
    assert api(reviewer).post(url, {"format": "sft"}, format="json").status_code == 403
    assert api(annotator).get(url).status_code == 403
    assert api(annotator).get(f"/api/v1/exports/{export.pk}/download/").status_code == 403
    assert api(outsider).get(url).status_code == 404
    assert api(outsider).get(f"/api/v1/exports/{export.pk}/").status_code == 404
    assert api().get(url).status_code == 401


def test_download_streams_with_etag_and_304(api, project, lead, export_root):
    export = ready_export(project, export_root)
    response = api(lead).get(f"/api/v1/exports/{export.pk}/download/")
    assert response.status_code == 200
    assert body(response) == CONTENT
    assert response["ETag"] == f'"{export.sha256}"'
    assert response["Accept-Ranges"] == "bytes"
    assert "attachment" in response["Content-Disposition"]
    again = api(lead).get(
        f"/api/v1/exports/{export.pk}/download/", HTTP_IF_NONE_MATCH=f'"{export.sha256}"'
    )
    assert again.status_code == 304
    assert again.content == b""


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=100-", 100, None),
        ("bytes=-20", -20, None),
        ("bytes=10-999999", 10, None),
    ],
)
def test_range_206(api, project, lead, export_root, header, start, end):
    export = ready_export(project, export_root)
    response = api(lead).get(f"/api/v1/exports/{export.pk}/download/", HTTP_RANGE=header)
    assert response.status_code == 206
    expected = CONTENT[start : None if end is None else end + 1]
    assert body(response) == expected
    first = start if start >= 0 else len(CONTENT) + start
    assert response["Content-Range"] == f"bytes {first}-{first + len(expected) - 1}/{len(CONTENT)}"


@pytest.mark.parametrize(
    "header", ["bytes=99999-", "bytes=5-2", "bytes=-0", "items=0-1", "bytes=x-y"]
)
def test_bad_range_416(api, project, lead, export_root, header):
    export = ready_export(project, export_root)
    response = api(lead).get(f"/api/v1/exports/{export.pk}/download/", HTTP_RANGE=header)
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(CONTENT)}"
    assert "detail" in response.json()


def test_resume_by_ranges_reassembles_the_file(api, project, lead, export_root):
    export = ready_export(project, export_root)
    url = f"/api/v1/exports/{export.pk}/download/"
    parts = [
        body(api(lead).get(url, HTTP_RANGE=f"bytes={i}-{i + 99}"))
        for i in range(0, len(CONTENT), 100)
    ]
    assert hashlib.sha256(b"".join(parts)).hexdigest() == export.sha256


def test_download_of_unfinished_export_is_409(api, project, lead):
    export = Export.objects.create(project=project, format="sft", state="running")
    response = api(lead).get(f"/api/v1/exports/{export.pk}/download/")
    assert response.status_code == 409
    assert "not ready" in response.json()["detail"]


def test_latest_redirects_to_newest_ready(api, project, lead, export_root):
    ready_export(project, export_root, fmt="sft")
    newest = ready_export(project, export_root, fmt="sft", content=b'{"a": 1}\n')
    ready_export(project, export_root, fmt="alpaca")
    Export.objects.create(project=project, format="sft", state="running")
    response = api(lead).get(f"/api/v1/projects/{project.pk}/exports/latest/?format=sft")
    assert response.status_code == 302
    assert response["Location"] == f"/api/v1/exports/{newest.pk}/download/"
    followed = api(lead).get(response["Location"])
    assert body(followed) == b'{"a": 1}\n'
    none = api(lead).get(f"/api/v1/projects/{project.pk}/exports/latest/?format=preference")
    assert none.status_code == 404
    assert "detail" in none.json()
    assert (
        api(lead).get(f"/api/v1/projects/{project.pk}/exports/latest/?format=xml").status_code
        == 400
    )


def _token(api, project, lead) -> str:
    response = api(lead).post(
        f"/api/v1/projects/{project.pk}/export-tokens/", {"name": "trainer"}, format="json"
    )
    assert response.status_code == 201
    return response.json()["token"]


def test_token_is_shown_once_and_stored_hashed(api, project, lead):
    raw = _token(api, project, lead)
    token = ExportToken.objects.get()
    assert token.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in str(ExportToken.objects.values_list())
    listed = api(lead).get(f"/api/v1/projects/{project.pk}/export-tokens/").json()
    assert "token" not in listed[0]
    assert listed[0]["key_prefix"] == raw[:12]


def test_export_token_reads_its_project_only(api, project, lead, export_root):
    export = ready_export(project, export_root, fmt="sft")
    raw = _token(api, project, lead)
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    assert client.get(f"/api/v1/projects/{project.pk}/exports/").status_code == 200
    assert client.get(f"/api/v1/exports/{export.pk}/").status_code == 200
    assert body(client.get(f"/api/v1/exports/{export.pk}/download/")) == CONTENT
    latest = client.get(f"/api/v1/projects/{project.pk}/exports/latest/?format=sft")
    assert latest.status_code == 302
    bearer = api()
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert bearer.get(f"/api/v1/exports/{export.pk}/").status_code == 200

    other = ProjectFactory()
    foreign = ready_export(other, export_root)
    assert client.get(f"/api/v1/projects/{other.pk}/exports/").status_code == 404
    assert client.get(f"/api/v1/exports/{foreign.pk}/download/").status_code == 404


def test_export_token_cannot_create_label_or_manage(api, project, lead):
    raw = _token(api, project, lead)
    task = TaskFactory(project=project)
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    create = client.post(
        f"/api/v1/projects/{project.pk}/exports/", {"format": "sft"}, format="json"
    )
    assert create.status_code == 403
    assert client.get(f"/api/v1/projects/{project.pk}/").status_code == 401
    assert client.get(f"/api/v1/projects/{project.pk}/next-task/").status_code in (401, 404)
    answer = client.post(f"/api/v1/tasks/{task.pk}/annotations/", {"values": {}}, format="json")
    assert answer.status_code in (401, 404)
    assert client.get(f"/api/v1/projects/{project.pk}/export-tokens/").status_code == 401


def test_revoked_token_stops_working(api, project, lead, export_root):
    export = ready_export(project, export_root)
    raw = _token(api, project, lead)
    token = ExportToken.objects.get()
    assert api(lead).delete(f"/api/v1/export-tokens/{token.pk}/").status_code == 204
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    assert client.get(f"/api/v1/exports/{export.pk}/").status_code == 401


def test_only_lead_manages_tokens(api, project, lead, reviewer):
    url = f"/api/v1/projects/{project.pk}/export-tokens/"
    assert api(reviewer).post(url, {"name": "x"}, format="json").status_code == 403
    raw = _token(api, project, lead)
    assert raw.startswith("qex_")
    token = ExportToken.objects.get()
    assert api(reviewer).delete(f"/api/v1/export-tokens/{token.pk}/").status_code == 403
