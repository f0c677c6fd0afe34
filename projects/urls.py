from django.urls import path

from . import views

app_name = "projects"

urlpatterns = [
    path("", views.project_list, name="project-list"),
    path("projects/new/", views.project_create, name="project-create"),
    path("projects/preview/", views.questions_preview, name="questions-preview"),
    path("projects/<int:project_id>/", views.project_detail, name="project-detail"),
    path("projects/<int:project_id>/edit/", views.project_edit, name="project-edit"),
    path("projects/<int:project_id>/members/", views.member_list, name="member-list"),
    path(
        "projects/<int:project_id>/members/<str:username>/delete/",
        views.member_delete,
        name="member-delete",
    ),
]
