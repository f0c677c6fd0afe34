"""The import REST endpoints and the lead's import page."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from imports.models import ImportJob
from projects.models import Task
from tests.conftest import wait_for

DATA = Path(__file__).resolve().parents[2] / "data"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def upload(path: Path, name: str | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name or path.name, path.read_bytes())


def create_url(project) -> str:
    return reverse("api:import-create", args=[project.pk])


# --- the API, end to end through a real worker ------------------------------


@pytest.mark.django_db(transaction=True)
def test_upload_runs_as_a_job_with_progress_and_counts(api, project, lead, celery_worker):
    client = api(lead)
    response = client.post(
        create_url(project),
        {"file": upload(DATA / "hh_rlhf_harmless_base_test.jsonl")},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    job = response.json()
    assert job["state"] == "queued"
    assert job["filename"] == "hh_rlhf_harmless_base_test.jsonl"
    detail_url = reverse("api:import-detail", args=[job["id"]])

    def finished():
        body = client.get(detail_url).json()
        return body if body["state"] in {"done", "failed"} else None

    body = wait_for(finished, timeout=60)
    assert body["state"] == "done", body["message"]
    assert body["detected_shape"] == "hh"
    assert body["progress"] == 1.0
    assert body["lines"] == 2312
    assert body["created_count"] + body["duplicate_count"] == 2312
    assert body["error_count"] == 0
    assert Task.objects.filter(project=project).count() == body["created_count"]

    # The same file again: nothing changes.
    again = client.post(
        create_url(project),
        {"file": upload(DATA / "hh_rlhf_harmless_base_test.jsonl")},
        format="multipart",
    ).json()
    body2 = wait_for(
        lambda: (
            (b := client.get(reverse("api:import-detail", args=[again["id"]])).json())["state"]
            in {"done", "failed"}
            and b
        )
    )
    assert body2["created_count"] == 0
    assert body2["unchanged_count"] == body["created_count"]
    assert Task.objects.filter(project=project).count() == body["created_count"]


@pytest.mark.django_db(transaction=True)
def test_unreadable_file_fails_the_job_and_writes_nothing(api, project, lead, celery_worker):
    client = api(lead)
    job = client.post(
        create_url(project), {"file": upload(FIXTURES / "latin1.jsonl")}, format="multipart"
    ).json()
    url = reverse("api:import-detail", args=[job["id"]])
    body = wait_for(lambda: (b := client.get(url).json())["state"] in {"done", "failed"} and b)
    assert body["state"] == "failed"
    assert "not UTF-8" in body["message"]
    assert not Task.objects.filter(project=project).exists()


# --- the API, request checks --------------------------------------------------


@pytest.mark.django_db
def test_forced_shape_and_mapping_are_stored_on_the_job(api, project, lead):
    response = api(lead).post(
        create_url(project),
        {
            "file": upload(FIXTURES / "custom.jsonl"),
            "shape": "mapping",
            "mapping": '{"instruction": "question", "responses": ["answer_a", "answer_b"]}',
        },
        format="multipart",
    )
    assert response.status_code == 202
    job = ImportJob.objects.get(pk=response.json()["id"])
    assert job.shape == "mapping"
    assert job.mapping["instruction"] == "question"
    assert Path(job.file_path).read_bytes() == (FIXTURES / "custom.jsonl").read_bytes()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"shape": "yaml"}, "shape"),
        ({"mapping": "{not json"}, "mapping"),
        ({"mapping": '{"title": "question"}'}, "mapping"),
        ({"shape": "mapping"}, "mapping"),
    ],
)
def test_bad_form_fields_are_a_400_naming_the_field(api, project, lead, fields, field):
    response = api(lead).post(
        create_url(project),
        {"file": upload(FIXTURES / "custom.jsonl"), **fields},
        format="multipart",
    )
    assert response.status_code == 400
    body = response.json()
    assert field in body
    assert body["detail"].startswith(field)
    assert not ImportJob.objects.exists()


@pytest.mark.django_db
def test_missing_file_is_a_400(api, project, lead):
    response = api(lead).post(create_url(project), {"shape": "auto"}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()


@pytest.mark.django_db
def test_oversized_upload_is_a_413_with_json_detail(api, project, lead, settings):
    settings.IMPORT_MAX_BYTES = 1000
    response = api(lead).post(
        create_url(project),
        {"file": upload(DATA / "self_instruct_seed_tasks.jsonl")},
        format="multipart",
    )
    assert response.status_code == 413
    assert "larger than the limit of 1,000 bytes" in response.json()["detail"]
    assert not ImportJob.objects.exists()


@pytest.mark.django_db
def test_streamed_upload_past_the_limit_is_stopped(settings):
    from imports.uploads import LimitedUploadHandler, UploadTooLarge

    settings.IMPORT_MAX_BYTES = 10
    handler = LimitedUploadHandler()
    handler.receive_data_chunk(b"12345", 0)
    with pytest.raises(UploadTooLarge):
        handler.receive_data_chunk(b"678901", 5)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("persona", "status"), [("annotator", 403), ("reviewer", 403), ("outsider", 404)]
)
def test_only_leads_may_import(request, api, project, persona, status):
    user = request.getfixturevalue(persona)
    response = api(user).post(
        create_url(project), {"file": upload(FIXTURES / "alpaca.json")}, format="multipart"
    )
    assert response.status_code == status
    assert "detail" in response.json()
    assert not ImportJob.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("persona", "status"), [("annotator", 403), ("outsider", 404)])
def test_only_leads_may_read_an_import(request, api, project, persona, status):
    job = ImportJob.objects.create(project=project, file_path="/nonexistent", filename="x.jsonl")
    user = request.getfixturevalue(persona)
    assert api(user).get(reverse("api:import-detail", args=[job.pk])).status_code == status


@pytest.mark.django_db
def test_anonymous_cannot_import(api, project):
    response = api().post(
        create_url(project), {"file": upload(FIXTURES / "alpaca.json")}, format="multipart"
    )
    assert response.status_code in {401, 403}


@pytest.mark.django_db
def test_staff_may_import_anywhere(api, project, staff):
    response = api(staff).post(
        create_url(project), {"file": upload(FIXTURES / "alpaca.json")}, format="multipart"
    )
    assert response.status_code == 202


def test_contract_paths_are_stable():
    assert reverse("api:import-create", args=[7]) == "/api/v1/projects/7/imports/"
    assert reverse("api:import-detail", args=[9]) == "/api/v1/imports/9/"


# --- the lead's page ----------------------------------------------------------------


@pytest.mark.django_db
def test_import_page_shows_form_and_past_imports(client, project, lead):
    ImportJob.objects.create(project=project, file_path="/x", filename="earlier.jsonl")
    ImportJob.objects.create(
        project=project, file_path="/y", filename="partly.jsonl", state="done", error_count=2
    )
    client.force_login(lead)
    response = client.get(reverse("imports:import-list", args=[project.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'type="file"' in html
    assert '<option value="auto" selected>' in html
    assert "earlier.jsonl" in html
    # An import that refused lines does not read as a clean success.
    assert "Done, 2 lines refused" in html


@pytest.mark.django_db
@pytest.mark.parametrize(("persona", "status"), [("annotator", 403), ("outsider", 404)])
def test_import_page_is_for_leads_only(request, client, project, persona, status):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(reverse("imports:import-list", args=[project.pk])).status_code == status


@pytest.mark.django_db
def test_page_upload_creates_a_job_and_redirects_to_its_status(client, project, lead):
    client.force_login(lead)
    response = client.post(
        reverse("imports:import-list", args=[project.pk]),
        {"file": upload(FIXTURES / "alpaca.csv"), "shape": "auto", "mapping": ""},
    )
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("imports:import-detail", args=[project.pk, job.pk])


@pytest.mark.django_db
def test_page_upload_errors_are_shown_beside_the_field(client, project, lead, settings):
    client.force_login(lead)
    url = reverse("imports:import-list", args=[project.pk])
    response = client.post(url, {"file": upload(FIXTURES / "alpaca.csv"), "mapping": "{oops"})
    assert response.status_code == 400
    assert "not valid JSON" in response.content.decode()
    settings.IMPORT_MAX_BYTES = 10
    response = client.post(url, {"file": upload(FIXTURES / "alpaca.csv")})
    assert response.status_code == 413
    assert "larger than the limit" in response.content.decode()
    assert not ImportJob.objects.exists()


@pytest.mark.django_db
def test_status_fragment_polls_while_running_and_stops_when_done(client, project, lead):
    job = ImportJob.objects.create(
        project=project, file_path="/x", filename="big.jsonl", state="running", progress=0.4
    )
    client.force_login(lead)
    url = reverse("imports:import-detail", args=[project.pk, job.pk])
    fragment = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in fragment
    assert 'id="job-status"' in fragment
    assert 'hx-trigger="every 1s"' in fragment
    assert "width: 40%" in fragment
    job.state, job.progress, job.created_count = "done", 1.0, 12
    job.error_count, job.errors = 1, [{"line": 7, "reason": "instruction: missing or empty"}]
    job.save()
    fragment = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "every 1s" not in fragment
    assert "instruction: missing or empty" in fragment
    assert '<td class="num">7</td>' in fragment
    page = client.get(url).content.decode()
    assert "<html" in page
    assert 'id="job-status"' in page


@pytest.mark.django_db(transaction=True)
def test_lead_uploads_in_the_browser_and_watches_the_job_finish(
    page_as, project, lead, celery_worker
):
    page = page_as(lead)
    page.goto(reverse("imports:import-list", args=[project.pk]))
    page.set_input_files("#id_file", str(FIXTURES / "bad_line.jsonl"))
    page.click("button.primary[type=submit]")
    page.wait_for_selector("#job-status[data-state=done]", timeout=30_000)
    assert page.inner_text("#count-created") == "3"
    assert page.inner_text("#count-errors") == "2"
    assert "not valid JSON" in page.inner_text("#error-table")
