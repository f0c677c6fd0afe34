"""REST endpoints for exports and export tokens (DESIGN.md, v1).

Leads create exports and tokens; leads and reviewers read; an export token
reads the exports of its own project and nothing else.
"""

from __future__ import annotations

from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from projects.selectors import project_for_user
from web.authentication import TokenAuthentication

from . import services
from .formats import FORMATS
from .http import export_file_response
from .models import ExportToken
from .permissions import ExportTokenAuthentication, UserOrExportTokenRead
from .selectors import (
    WRITE_ROLES,
    export_for_reader,
    export_latest_ready,
    exports_of,
    project_for_export_reader,
    tokens_of,
)
from .serializers import (
    ExportCreateSerializer,
    ExportSerializer,
    ExportTokenCreateSerializer,
    ExportTokenSerializer,
)


class FirstRenderer(BaseContentNegotiation):
    """``?format=sft`` names an export format here, not a DRF renderer; and a
    download answers whatever the client accepts."""

    def select_parser(self, request, parsers):
        content_type = request.content_type or ""
        return next((p for p in parsers if p.media_type in content_type), parsers[0])

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ExportReadView(APIView):
    authentication_classes = [
        ExportTokenAuthentication,
        TokenAuthentication,
        SessionAuthentication,
    ]
    permission_classes = [UserOrExportTokenRead]
    content_negotiation_class = FirstRenderer
    export_token_allowed = True


class ExportListView(ExportReadView):
    pagination_class = PageNumberPagination

    @extend_schema(responses=ExportSerializer(many=True))
    def get(self, request, project_id: int):
        project = project_for_export_reader(request, project_id)
        exports = exports_of(project)
        wanted = request.query_params.get("format")
        if wanted:
            exports = exports.filter(format=wanted)
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(exports, request, view=self)
        return paginator.get_paginated_response(ExportSerializer(page, many=True).data)

    @extend_schema(request=ExportCreateSerializer, responses={202: ExportSerializer})
    def post(self, request, project_id: int):
        project = project_for_user(request.user, project_id, roles=WRITE_ROLES)
        data = ExportCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        export = services.export_create(
            project=project,
            user=request.user,
            format=data.validated_data["format"],
            filters=data.validated_data.get("filters"),
        )
        return Response(ExportSerializer(export).data, status=status.HTTP_202_ACCEPTED)


class ExportDetailView(ExportReadView):
    @extend_schema(responses=ExportSerializer)
    def get(self, request, pk: int):
        return Response(ExportSerializer(export_for_reader(request, pk)).data)


class ExportDownloadView(ExportReadView):
    @extend_schema(responses={(200, "application/jsonl"): OpenApiTypes.BINARY})
    def get(self, request, pk: int):
        return export_file_response(request, export_for_reader(request, pk))


class ExportLatestView(ExportReadView):
    @extend_schema(
        parameters=[OpenApiParameter("format", enum=FORMATS, required=True)],
        responses={302: None},
    )
    def get(self, request, project_id: int):
        project = project_for_export_reader(request, project_id)
        wanted = request.query_params.get("format", "")
        if wanted not in FORMATS:
            return JsonResponse(
                {"detail": f"format: must be one of {', '.join(FORMATS)}", "format": [wanted]},
                status=400,
            )
        export = export_latest_ready(project, wanted)
        if export is None:
            return JsonResponse(
                {"detail": f"No ready {wanted} export in project {project.pk} yet."}, status=404
            )
        response = HttpResponseRedirect(reverse("api:export-download", kwargs={"pk": export.pk}))
        response["X-Export-Id"] = str(export.pk)
        response["X-Export-Sha256"] = export.sha256
        return response


class ExportTokenListView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=ExportTokenSerializer(many=True))
    def get(self, request, project_id: int):
        project = project_for_user(request.user, project_id, roles=WRITE_ROLES)
        return Response(ExportTokenSerializer(tokens_of(project), many=True).data)

    @extend_schema(request=ExportTokenCreateSerializer, responses={201: ExportTokenSerializer})
    def post(self, request, project_id: int):
        project = project_for_user(request.user, project_id, roles=WRITE_ROLES)
        data = ExportTokenCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token, raw = services.export_token_create(
            project=project, user=request.user, name=data.validated_data["name"]
        )
        # The raw token is shown here once; only its hash is stored.
        return Response(
            {**ExportTokenSerializer(token).data, "token": raw}, status=status.HTTP_201_CREATED
        )


class ExportTokenDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        token = ExportToken.objects.filter(pk=pk).first()
        if token is None:
            raise Http404("No such token.")
        project_for_user(request.user, token.project_id, roles=WRITE_ROLES)
        services.export_token_revoke(token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)
