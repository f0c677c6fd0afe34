from __future__ import annotations

from django.contrib.auth import get_user_model
from rest_framework import serializers

from .models import Membership, Project, Role, Task


class ProjectSerializer(serializers.ModelSerializer):
    class Meta:
        model = Project
        fields = [
            "id", "name", "slug", "description", "guidelines", "questions", "overlap",
            "overlap_max", "stop_confidence", "task_order", "shuffle_responses", "skip_reasons",
            "gold_fraction",
            "lease_seconds", "agreement_threshold", "status",
            "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {"slug": {"required": False, "validators": []}}

    def to_representation(self, instance: Project) -> dict:
        data = super().to_representation(instance)
        # Unset means "the same as overlap" (v1.1): clients read the number in force.
        data["overlap_max"] = instance.max_overlap
        return data


class ProjectDetailSerializer(ProjectSerializer):
    task_counts = serializers.SerializerMethodField()
    role = serializers.SerializerMethodField()

    class Meta(ProjectSerializer.Meta):
        fields = [*ProjectSerializer.Meta.fields, "task_counts", "role"]

    def get_task_counts(self, project: Project) -> dict[str, int]:
        from .selectors import task_counts

        return task_counts(project)

    def get_role(self, project: Project) -> str | None:
        from .selectors import project_role

        return project_role(self.context["request"].user, project)


class MemberInputSerializer(serializers.Serializer):
    username = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices)


class MemberSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username")

    class Meta:
        model = Membership
        fields = ["username", "role", "created_at"]


class UserCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(write_only=True)
    email = serializers.EmailField(required=False, allow_blank=True, default="")


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = get_user_model()
        fields = ["id", "username", "email", "is_staff"]


class TaskSerializer(serializers.ModelSerializer):
    # From the task's TaskAgreement row: querysets come with ``with_agreement()``.
    agreement = serializers.FloatField(read_only=True, allow_null=True)
    consensus = serializers.JSONField(read_only=True, allow_null=True)
    disputed_questions = serializers.SerializerMethodField()

    class Meta:
        model = Task
        fields = [
            "id", "external_id", "data", "is_gold", "gold", "state", "disputed_questions",
            "annotation_count", "agreement", "consensus", "created_at",
        ]  # fmt: skip

    def get_disputed_questions(self, task: Task) -> list[str]:
        return task.disputed_questions or []
