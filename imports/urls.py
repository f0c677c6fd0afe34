from django.urls import path

from . import views

app_name = "imports"

urlpatterns = [
    path("projects/<int:project_id>/imports/", views.import_list, name="import-list"),
    path(
        "projects/<int:project_id>/imports/<int:pk>/",
        views.import_detail,
        name="import-detail",
    ),
]
