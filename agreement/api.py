"""REST endpoints: the latest agreement snapshot and a forced refresh."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from agreement.scheduling import agreement_refresh_now
from agreement.selectors import agreement_latest, snapshot_since
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
    @extend_schema(
        request=None,
        parameters=[
            OpenApiParameter(
                "wait", bool, description="Wait (a bounded time) and answer with the new snapshot"
            )
        ],
        responses={
            200: OpenApiResponse(description="wait=1: the new snapshot"),
            202: OpenApiResponse(
                description='Queued: {"detail", "project", "status_url", "requested_at"}'
            ),
        },
    )
    def post(self, request, project_id: int):
        project = project_for_user(request.user, project_id, roles=REVIEW_ROLES)
        requested_at = timezone.now()
        agreement_refresh_now(project.id)
        if request.query_params.get("wait") in ("1", "true"):
            snapshot = _wait_for_snapshot(project, requested_at)
            if snapshot is not None:
                return Response(snapshot.data)
        status_url = reverse("api:agreement-refresh-status", args=[project.id])
        return Response(
            {
                "detail": "Agreement recomputation queued.",
                "project": project.id,
                "requested_at": requested_at.isoformat(),
                "status_url": f"{status_url}?{urlencode({'since': requested_at.isoformat()})}",
            },
            status=status.HTTP_202_ACCEPTED,
        )


def _wait_for_snapshot(project, since):
    """Poll for the snapshot the refresh queued, up to AGREEMENT_REFRESH_WAIT_SECONDS."""
    deadline = time.monotonic() + settings.AGREEMENT_REFRESH_WAIT_SECONDS
    while time.monotonic() < deadline:
        snapshot = snapshot_since(project=project, since=since)
        if snapshot is not None:
            return snapshot
        time.sleep(0.2)
    return None


class AgreementRefreshStatusView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("since", str, required=True)],
        responses={200: OpenApiResponse(description='{"status": "pending" | "done", ...}')},
    )
    def get(self, request, project_id: int):
        project = project_for_user(request.user, project_id, roles=REVIEW_ROLES)
        try:
            since = parse_datetime(request.query_params.get("since") or "")
        except ValueError:
            since = None
        if since is None or since.tzinfo is None:
            raise ValidationError({"since": ["must be an ISO 8601 time with its offset"]})
        snapshot = snapshot_since(project=project, since=since)
        if snapshot is None:
            return Response({"status": "pending", "since": since.isoformat()})
        return Response(
            {
                "status": "done",
                "computed_at": snapshot.computed_at.isoformat(),
                "snapshot_url": reverse("api:agreement-detail", args=[project.id]),
            }
        )
