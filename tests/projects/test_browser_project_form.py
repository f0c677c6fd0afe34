import pytest

from projects.models import Project

pytestmark = pytest.mark.django_db(transaction=True)


def test_lead_builds_questions_with_live_preview_and_creates_project(page_as, staff):
    page = page_as(staff)
    page.goto("/projects/new/")
    page.fill("#id_name", "Browser-made project")
    page.click("button[data-insert=preference]")
    page.click("button[data-insert=rating]")
    preview = page.locator("#questions-preview")
    preview.get_by_text("A is better").wait_for()
    assert preview.locator("fieldset[data-question=helpfulness] input[type=radio]").count() == 5

    page.fill("#id_questions_json", '[{"name": "x", "type": "label", "options": ["only"]}]')
    preview.get_by_text("options needs a list of at least two options").wait_for()

    page.fill("#id_questions_json", '[{"name": "better", "type": "preference"}]')
    preview.get_by_text("A is better").wait_for()
    page.click("button.primary[type=submit]")
    page.get_by_text("Next: import tasks").wait_for()
    project = Project.objects.get(name="Browser-made project")
    assert [q["name"] for q in project.questions] == ["better"]
