from django.urls import path

from agreement import task_views, views

app_name = "agreement"

urlpatterns = [
    path("projects/<int:project_id>/agreement/", views.dashboard, name="dashboard"),
    path(
        "projects/<int:project_id>/agreement/refresh/",
        views.dashboard_refresh,
        name="dashboard-refresh",
    ),
    path("projects/<int:project_id>/team/", views.team, name="team"),
    path("projects/<int:project_id>/review/", views.review_queue_view, name="review-queue"),
    path("projects/<int:project_id>/review/<int:task_id>/", views.review_task, name="review-task"),
    path(
        "projects/<int:project_id>/review/<int:task_id>/annotations/<int:annotation_id>/",
        views.annotation_review_view,
        name="annotation-review",
    ),
]

urlpatterns += [
    path("projects/<int:project_id>/tasks/", task_views.task_list, name="task-list"),
    path("projects/<int:project_id>/tasks/bulk/", task_views.task_bulk, name="task-bulk"),
    path(
        "projects/<int:project_id>/tasks/<int:task_id>/",
        task_views.task_detail,
        name="task-detail",
    ),
]
