from django.urls import path

from agreement import api

urlpatterns = [
    path(
        "projects/<int:project_id>/agreement/",
        api.AgreementView.as_view(),
        name="agreement-detail",
    ),
    path(
        "projects/<int:project_id>/agreement/refresh/",
        api.AgreementRefreshView.as_view(),
        name="agreement-refresh",
    ),
    path(
        "projects/<int:project_id>/agreement/refresh/status/",
        api.AgreementRefreshStatusView.as_view(),
        name="agreement-refresh-status",
    ),
]
