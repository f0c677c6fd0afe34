"""REST endpoints for file imports: create a job, read its progress."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError as APIValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from imports.models import ImportJob
from imports.selectors import import_job_for_user
from imports.services import task_batch_import
from projects.api import TaskListView
from projects.selectors import LEAD_ONLY, project_for_user
from projects.serializers import TaskSerializer
from web.parsers import FormParser, MultiPartParser

from . import shapes
from .uploads import content_length_check, import_upload_accept, upload_handlers_limit


class ImportJobSerializer(serializers.ModelSerializer):
    class Meta:
        model = ImportJob
        fields = [
            "id",
            "project",
            "filename",
            "size_bytes",
            "shape",
            "detected_shape",
            "mapping",
            "state",
            "progress",
            "lines",
            "created_count",
            "unchanged_count",
            "duplicate_count",
            "error_count",
            "errors",
            "message",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class ImportCreateSerializer(serializers.Serializer):
    file = serializers.FileField()
    shape = serializers.ChoiceField(choices=shapes.SHAPE_CHOICES, required=False, default="auto")
    mapping = serializers.CharField(
        required=False, help_text="JSON {canonical_field: source_field}"
    )


class ImportCreateView(APIView):
    parser_classes = [MultiPartParser, FormParser]

    def initialize_request(self, request, *args, **kwargs):
        # The size guard must be in place before anything reads the body.
        if request.method == "POST":
            upload_handlers_limit(request)
        return super().initialize_request(request, *args, **kwargs)

    @extend_schema(request=ImportCreateSerializer, responses={202: ImportJobSerializer})
    def post(self, request, project_id: int):
        project = project_for_user(request.user, project_id, roles=LEAD_ONLY)
        content_length_check(request.META)
        with transaction.atomic():
            job = import_upload_accept(
                project=project,
                user=request.user,
                upload=request.FILES.get("file"),
                shape=request.data.get("shape", ""),
                mapping_raw=request.data.get("mapping"),
            )
        return Response(ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ImportDetailView(APIView):
    @extend_schema(responses=ImportJobSerializer)
    def get(self, request, pk: int):
        job = import_job_for_user(request.user, pk)
        return Response(ImportJobSerializer(job).data)


class TaskListImportView(TaskListView):
    """``projects/{id}/tasks/``: the task list (projects) plus small batches posted to it."""

    serializer_class = TaskSerializer  # for the schema generator only

    @extend_schema(request=TaskSerializer(many=True), responses={201: OpenApiTypes.OBJECT})
    def post(self, request, project_id: int):
        project = project_for_user(request.user, project_id, roles=LEAD_ONLY)
        if not isinstance(request.data, list):
            raise APIValidationError({"detail": "Send a JSON array of canonical tasks."})
        if len(request.data) > 1000:
            raise APIValidationError(
                {"detail": "At most 1000 tasks per request; upload a file to imports/ for more."}
            )
        # A small batch is all or nothing: one bad task and nothing is written.
        with transaction.atomic():
            result = task_batch_import(project=project, records=request.data)
            if result.get("errors"):
                transaction.set_rollback(True)
                index, reason = min(result["errors"].items())
                detail = f"tasks[{index}]: {reason}; nothing was imported"
                return Response({"detail": detail, **result}, status=status.HTTP_400_BAD_REQUEST)
        return Response(result, status=status.HTTP_201_CREATED)
