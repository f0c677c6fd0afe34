"""Labeling API: lease the next task, submit answers, import answers."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from labeling.models import Assignment
from labeling.services import (
    AnswerConflict,
    ImportRowsError,
    annotation_submit,
    annotations_import,
    assignment_lease_next,
    shown_order,
)
from projects.models import Annotation
from projects.selectors import LABEL_ROLES, LEAD_ONLY, project_for_user, task_for_user


class LeasedTaskSerializer(serializers.Serializer):
    """A leased task as the annotator sees it; gold status and expected answers stay hidden.

    ``data`` is as stored; ``response_order`` lists the responses' indices in the
    order to show them (first shown is "A"), or is null when shown as stored.
    Answers are submitted in the stored order whatever was shown.
    """

    def to_representation(self, assignment: Assignment) -> dict:
        task = assignment.task
        return {
            "id": task.pk,
            "external_id": task.external_id,
            "project": assignment.project_id,
            "data": task.data,
            "response_order": self.context.get("response_order"),
            "assignment": assignment.pk,
            "leased_at": assignment.leased_at.isoformat(),
            "lease_expires_at": assignment.expires_at.isoformat(),
        }


def _iso(moment) -> str | None:
    # DRF's DateTimeField output: UTC written with a trailing Z.
    if moment is None:
        return None
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class AnnotationSerializer(serializers.ModelSerializer):
    annotator = serializers.CharField(source="annotator.username", read_only=True)

    class Meta:
        model = Annotation
        fields = [
            "id",
            "task",
            "project",
            "annotator",
            "values",
            "shown_order",
            "client_id",
            "lead_time_s",
            "source",
            "review_state",
            "created_at",
            "updated_at",
        ]

    def to_representation(self, annotation: Annotation) -> dict:
        # Written out because building a ModelSerializer's fields on every
        # submit costs more than the rest of the response.
        return {
            "id": annotation.pk,
            "task": annotation.task_id,
            "project": annotation.project_id,
            "annotator": annotation.annotator.username,
            "values": annotation.values,
            "shown_order": annotation.shown_order,
            "client_id": str(annotation.client_id),
            "lead_time_s": annotation.lead_time_s,
            "source": annotation.source,
            "review_state": annotation.review_state,
            "created_at": _iso(annotation.created_at),
            "updated_at": _iso(annotation.updated_at),
        }


class SubmitSerializer(serializers.Serializer):
    """The request body of a submit (for the schema; the service checks each field)."""

    values = serializers.JSONField()
    client_id = serializers.UUIDField(required=False, allow_null=True)
    lead_time_s = serializers.FloatField(required=False, allow_null=True, min_value=0)


def _conflict(exc: AnswerConflict) -> Response:
    return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)


@extend_schema(responses={200: OpenApiTypes.OBJECT, 204: None, 409: OpenApiTypes.OBJECT})
@api_view(["GET"])
def next_task(request, project_id: int):
    project = project_for_user(request.user, project_id, roles=LABEL_ROLES)
    try:
        assignment = assignment_lease_next(project=project, annotator=request.user)
    except AnswerConflict as exc:  # a paused or archived project
        return _conflict(exc)
    if assignment is None:
        return Response(status=status.HTTP_204_NO_CONTENT)
    task = assignment.task
    task.project = project
    order = shown_order(task, request.user)
    return Response(LeasedTaskSerializer(assignment, context={"response_order": order}).data)


@extend_schema(
    request=SubmitSerializer, responses={200: AnnotationSerializer, 201: AnnotationSerializer}
)
@api_view(["POST"])
def annotation_create(request, task_id: int):
    task = task_for_user(request.user, task_id, roles=LABEL_ROLES)
    body = request.data
    if not isinstance(body, dict):
        raise ValidationError("The body must be a JSON object.")
    if "values" not in body:
        raise ValidationError({"values": ["This field is required."]})
    try:
        annotation, created = annotation_submit(
            task=task,
            annotator=request.user,
            values=body["values"],
            client_id=body.get("client_id"),
            lead_time_s=body.get("lead_time_s"),
            source=Annotation.Source.API,
        )
    except AnswerConflict as exc:
        return _conflict(exc)
    return Response(
        AnnotationSerializer(annotation).data,
        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
    )


@extend_schema(request=OpenApiTypes.OBJECT, responses={201: OpenApiTypes.OBJECT})
@api_view(["POST"])
def annotations_import_view(request, project_id: int):
    project = project_for_user(request.user, project_id, roles=LEAD_ONLY)
    rows = request.data
    if isinstance(rows, dict):
        rows = rows.get("annotations")
    try:
        result = annotations_import(project=project, rows=rows)
    except ImportRowsError as exc:
        first = exc.rows[0]
        return Response(
            {
                "detail": f"row {first['row']}: {first['field']}: {first['message']}",
                "errors": exc.rows,
            },
            status=status.HTTP_400_BAD_REQUEST,
        )
    return Response(result, status=status.HTTP_201_CREATED)
