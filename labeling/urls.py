from django.urls import path

from . import views

app_name = "labeling"

urlpatterns = [
    path("projects/<int:project_id>/label/", views.label, name="label"),
    path(
        "projects/<int:project_id>/label/tasks/<int:task_id>/submit/",
        views.label_submit,
        name="label-submit",
    ),
    path(
        "projects/<int:project_id>/label/tasks/<int:task_id>/draft/",
        views.label_draft,
        name="label-draft",
    ),
    path(
        "projects/<int:project_id>/label/assignments/<int:assignment_id>/skip/",
        views.label_skip,
        name="label-skip",
    ),
    path(
        "projects/<int:project_id>/label/assignments/<int:assignment_id>/unskip/",
        views.label_unskip,
        name="label-unskip",
    ),
    path("projects/<int:project_id>/my-answers/", views.my_answers, name="my-answers"),
    path(
        "projects/<int:project_id>/my-answers/<int:annotation_id>/",
        views.answer_revise,
        name="answer-revise",
    ),
]
