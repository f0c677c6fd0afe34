from django.urls import path

from . import api

urlpatterns = [
    path(
        "projects/<int:project_id>/imports/", api.ImportCreateView.as_view(), name="import-create"
    ),
    path("imports/<int:pk>/", api.ImportDetailView.as_view(), name="import-detail"),
]
