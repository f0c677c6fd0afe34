import pytest
from django.core.management import call_command

from projects.models import Membership, Project, Task
from projects.schema import validate_questions

pytestmark = pytest.mark.django_db


def test_demo_loads_252_real_tasks_and_accounts_idempotently(capsys):
    call_command("load_demo")
    call_command("load_demo")
    project = Project.objects.get(slug="demo-user-oriented")
    assert Task.objects.filter(project=project).count() == 252
    assert validate_questions(project.questions)
    roles = dict(Membership.objects.filter(project=project).values_list("user__username", "role"))
    assert roles == {
        "lead": "lead",
        "reviewer": "reviewer",
        "ann1": "annotator",
        "ann2": "annotator",
        "ann3": "annotator",
    }
    task = Task.objects.get(project=project, external_id="user_oriented_task_0")
    assert len(task.data["responses"]) == 2
    assert task.data["reference"].startswith("If you have any questions about my rate")
    assert sorted(task.data["meta"]["response_models"]) == [
        "davinci-self-instruct",
        "text-davinci-003",
    ]
    out = capsys.readouterr().out
    assert "ann1" in out
    assert "quorum-lead" in out
