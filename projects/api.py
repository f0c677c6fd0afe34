"""REST endpoints for accounts, projects, members and tasks (DESIGN.md, v1)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import ValidationError as APIValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from web.throttles import AuthRateThrottle

from . import services
from .permissions import CanCreateProjects, IsStaff
from .selectors import LEAD_ONLY, REVIEW_ROLES, members_of, project_for_user, projects_for_user
from .serializers import (
    MemberInputSerializer,
    MemberSerializer,
    ProjectDetailSerializer,
    ProjectSerializer,
    TaskSerializer,
    UserCreateSerializer,
    UserSerializer,
)


class TokenView(ObtainAuthToken):
    """username + password → {"token": …}."""

    permission_classes = [AllowAny]
    # DRF's view names its own parsers; ours check depth, NUL and surrogates.
    parser_classes = api_settings.DEFAULT_PARSER_CLASSES
    throttle_classes = [AuthRateThrottle]

    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token = services.api_token_issue(user=serializer.validated_data["user"])
        return Response({"token": token.key})


class UserCreateView(APIView):
    permission_classes = [IsAuthenticated, IsStaff]

    @extend_schema(request=UserCreateSerializer, responses={201: UserSerializer})
    def post(self, request):
        data = UserCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_create(**data.validated_data)
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)


class ProjectListView(APIView):
    permission_classes = [IsAuthenticated, CanCreateProjects]
    # Read by drf-spectacular: the list is documented as the paginated envelope.
    pagination_class = PageNumberPagination

    @extend_schema(responses=ProjectSerializer(many=True))
    def get(self, request):
        paginator = PageNumberPagination()
        projects = projects_for_user(request.user).order_by("-created_at")
        page = paginator.paginate_queryset(projects, request, view=self)
        return paginator.get_paginated_response(ProjectSerializer(page, many=True).data)

    @extend_schema(request=ProjectSerializer, responses={201: ProjectDetailSerializer})
    def post(self, request):
        data = ProjectSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        project = services.project_create(user=request.user, name=fields.pop("name"), **fields)
        body = ProjectDetailSerializer(project, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)


class ProjectDetailView(APIView):
    @extend_schema(responses=ProjectDetailSerializer)
    def get(self, request, project_id: int):
        project = project_for_user(request.user, project_id)
        return Response(ProjectDetailSerializer(project, context={"request": request}).data)

    @extend_schema(request=ProjectSerializer, responses=ProjectDetailSerializer)
    def patch(self, request, project_id: int):
        project = project_for_user(request.user, project_id, roles=LEAD_ONLY)
        data = ProjectSerializer(project, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        fields = {k: v for k, v in data.validated_data.items() if k != "slug"}
        project = services.project_update(project=project, **fields)
        return Response(ProjectDetailSerializer(project, context={"request": request}).data)


class MemberView(APIView):
    @extend_schema(responses=MemberSerializer(many=True))
    def get(self, request, project_id: int):
        project = project_for_user(request.user, project_id, roles=LEAD_ONLY)
        return Response(MemberSerializer(members_of(project), many=True).data)

    @extend_schema(request=MemberInputSerializer, responses={201: MemberSerializer})
    def post(self, request, project_id: int):
        project = project_for_user(request.user, project_id, roles=LEAD_ONLY)
        data = MemberInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.membership_set(project=project, **data.validated_data)
        return Response(MemberSerializer(membership).data, status=status.HTTP_201_CREATED)


class TaskListView(APIView):
    pagination_class = PageNumberPagination

    @extend_schema(responses=TaskSerializer(many=True))
    def get(self, request, project_id: int):
        from .selectors import tasks_filtered

        project = project_for_user(request.user, project_id, roles=REVIEW_ROLES)
        try:
            tasks = tasks_filtered(project, request.query_params)
        except ValueError as exc:
            raise APIValidationError({"detail": str(exc)}) from None
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(tasks, request, view=self)
        return paginator.get_paginated_response(TaskSerializer(page, many=True).data)
