"""The REST contract (v1); each area keeps its own routes."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("", include("projects.api_urls")),
    path("", include("imports.api_urls")),
    path("", include("agreement.api_urls")),
    path("", include("labeling.api_urls")),
    path("", include("exports.api_urls")),
]
