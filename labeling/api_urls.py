from django.urls import path

from . import api as api_labeling

urlpatterns = [
    path("projects/<int:project_id>/next-task/", api_labeling.next_task, name="next-task"),
    path(
        "tasks/<int:task_id>/annotations/",
        api_labeling.annotation_create,
        name="task-annotation-create",
    ),
    path(
        "projects/<int:project_id>/annotations/import/",
        api_labeling.annotations_import_view,
        name="annotation-import",
    ),
]
