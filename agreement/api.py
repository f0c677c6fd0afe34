"""REST endpoints: the latest agreement snapshot and a forced refresh."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from agreement.scheduling import agreement_refresh_now
from agreement.selectors import agreement_latest
from projects.selectors import REVIEW_ROLES, project_for_user


class AgreementView(APIView):
    @extend_schema(responses={200: OpenApiResponse(description="The latest snapshot")})
    def get(self, request, project_id: int):
        project = project_for_user(request.user, project_id, roles=REVIEW_ROLES)
        snapshot = agreement_latest(project=project)
        if snapshot is None:
            raise NotFound(
                "No agreement computed yet for this project; "
                f"POST /api/v1/projects/{project.id}/agreement/refresh/ to compute it."
            )
        return Response(snapshot.data)


class AgreementRefreshView(APIView):
    @extend_schema(request=None, responses={202: OpenApiResponse(description="Queued")})
    def post(self, request, project_id: int):
        project = project_for_user(request.user, project_id, roles=REVIEW_ROLES)
        agreement_refresh_now(project.id)
        return Response(
            {"detail": "Agreement recomputation queued.", "project": project.id},
            status=status.HTTP_202_ACCEPTED,
        )
