from django.urls import path

from . import views

app_name = "exports"

urlpatterns = [
    path("projects/<int:project_id>/exports/", views.export_list, name="export-list"),
    path("exports/<int:pk>/download/", views.export_download, name="export-download"),
    path("projects/<int:project_id>/exports/tokens/new/", views.token_create, name="token-create"),
    path(
        "projects/<int:project_id>/exports/tokens/<int:pk>/revoke/",
        views.token_revoke,
        name="token-revoke",
    ),
]
