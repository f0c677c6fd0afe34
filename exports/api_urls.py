from django.urls import path

from . import api

urlpatterns = [
    path("projects/<int:project_id>/exports/", api.ExportListView.as_view(), name="export-list"),
    path(
        "projects/<int:project_id>/exports/latest/",
        api.ExportLatestView.as_view(),
        name="export-latest",
    ),
    path("exports/<int:pk>/", api.ExportDetailView.as_view(), name="export-detail"),
    path("exports/<int:pk>/download/", api.ExportDownloadView.as_view(), name="export-download"),
    path(
        "projects/<int:project_id>/export-tokens/",
        api.ExportTokenListView.as_view(),
        name="export-token-list",
    ),
    path(
        "export-tokens/<int:pk>/", api.ExportTokenDetailView.as_view(), name="export-token-detail"
    ),
]
