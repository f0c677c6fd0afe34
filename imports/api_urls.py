from django.urls import path

from . import api

urlpatterns = [
    # GET lists tasks (projects.api.TaskListView); POST imports a small batch.
    path("projects/<int:project_id>/tasks/", api.TaskListImportView.as_view(), name="task-list"),
    path(
        "projects/<int:project_id>/imports/", api.ImportCreateView.as_view(), name="import-create"
    ),
    path("imports/<int:pk>/", api.ImportDetailView.as_view(), name="import-detail"),
]
