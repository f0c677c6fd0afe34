"""The exports page in a real browser: create, watch it finish, download link."""

from __future__ import annotations

import pytest

from tests.exports.conftest import make_task

pytestmark = pytest.mark.django_db(transaction=True)


def test_lead_creates_export_and_sees_it_become_ready(celery_worker, page_as, text_project, lead):
    for n in range(1, 11):
        make_task(text_project, n, consensus={"answer": f"Answer {n}"})
    page = page_as(lead)
    page.goto(f"/projects/{text_project.pk}/exports/")
    page.select_option("select[name=format]", "sft")
    page.click("#export-form button[type=submit]")
    row = page.locator("#export-rows tbody tr").first
    # The rows fragment polls until the worker has finished.
    row.get_by_text("ready").wait_for(timeout=30_000)
    assert row.get_by_role("link", name="Download").is_visible()
    assert row.locator("td").nth(3).inner_text() == "10"
