from django.urls import path

from . import api

urlpatterns = [
    path("auth/token/", api.TokenView.as_view(), name="auth-token"),
    path("users/", api.UserCreateView.as_view(), name="user-create"),
    path("projects/", api.ProjectListView.as_view(), name="project-list"),
    path("projects/<int:project_id>/", api.ProjectDetailView.as_view(), name="project-detail"),
    path("projects/<int:project_id>/members/", api.MemberView.as_view(), name="member-list"),
]
