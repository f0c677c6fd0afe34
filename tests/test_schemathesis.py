"""Generated requests against the live API, checked against its OpenAPI schema.

Every operation is called with examples drawn from the schema, as a lead and
as an annotator, with its ids pointed at real objects half of the time: no 5xx,
every status code documented, every documented body matching its schema.
Bounded in examples and time so the suite stays fast.
"""

from __future__ import annotations

import hashlib

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from exports.models import Export
from projects.models import Role, Task
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

pytestmark = [pytest.mark.schemathesis, pytest.mark.django_db(transaction=True)]

EXAMPLES = 12
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def world(tmp_path, settings):
    settings.EXPORT_ROOT = tmp_path / "exports"
    settings.MEDIA_ROOT = tmp_path / "media"
    project = ProjectFactory()
    tokens = {}
    for role in (Role.LEAD, Role.ANNOTATOR):
        user = UserFactory(username=f"st-{role}")
        MembershipFactory(project=project, user=user, role=role)
        tokens[role] = Token.objects.get_or_create(user=user)[0].key
    data = {"instruction": "Say hi.", "responses": ["hi", "hello"]}
    task = Task.objects.create(
        project=project, external_id="t1", data=data,
        content_hash=hashlib.sha256(b"st-t1").hexdigest(),
    )  # fmt: skip
    export = Export.objects.create(project=project, format="sft", schema=project.questions)
    return {"project": project, "tokens": tokens, "task": task, "export": export}


def _real_ids(world) -> dict:
    return {
        "project_id": world["project"].pk,
        "task_id": world["task"].pk,
        "pk": world["export"].pk,
    }


def _lead_stays_lead(case, lead: str) -> bool:
    """The run must not lock itself out: no member change that names the lead."""
    body = case.body if isinstance(case.body, dict) else {}
    return not (case.path.endswith("/members/") and body.get("username") == lead)


@pytest.mark.timeout(120)
def test_the_live_api_matches_its_schema(world, live_server):
    lead_header = {"Authorization": f"Token {world['tokens'][Role.LEAD]}"}
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/schema/", headers=lead_header)
    real = _real_ids(world)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    seen_statuses: set[int] = set()

    for operation in operations:

        @given(case=operation.as_strategy(), role=st.sampled_from([Role.LEAD, Role.ANNOTATOR]),
               use_real=st.booleans())  # fmt: skip
        @hypothesis.settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def call(case, role, use_real):
            if use_real and case.path_parameters:
                for name in case.path_parameters:
                    if name in real:
                        case.path_parameters[name] = real[name]
            hypothesis.assume(_lead_stays_lead(case, f"st-{Role.LEAD}"))
            headers = {"Authorization": f"Token {world['tokens'][role]}"}
            response = case.call(base_url=f"{live_server.url}", headers=headers)
            seen_statuses.add(response.status_code)
            case.validate_response(response, checks=CHECKS, headers=headers)

        call()
    assert any(200 <= s < 300 for s in seen_statuses)
    assert any(400 <= s < 500 for s in seen_statuses)
