from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from .formats import FORMATS
from .models import Export, ExportToken


class ExportCreateSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=FORMATS)
    filters = serializers.JSONField(required=False, default=dict)


class ExportSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()
    created_by = serializers.CharField(
        source="created_by.username", default=None, read_only=True, allow_null=True
    )

    class Meta:
        model = Export
        fields = [
            "id", "project", "format", "filters", "state", "progress", "row_count", "bytes",
            "sha256", "schema", "excluded", "error", "created_by", "created_at", "started_at",
            "finished_at", "download_url",
        ]  # fmt: skip
        read_only_fields = fields

    def get_download_url(self, export: Export) -> str | None:
        if export.state != Export.State.READY:
            return None
        return reverse("api:export-download", kwargs={"pk": export.pk})


class ExportTokenSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(
        source="created_by.username", default=None, read_only=True, allow_null=True
    )
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = ExportToken
        fields = [
            "id", "project", "name", "key_prefix", "created_by", "created_at", "last_used_at",
            "revoked_at", "is_active",
        ]  # fmt: skip
        read_only_fields = fields


class ExportTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
