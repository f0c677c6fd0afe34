from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from web.auth_views import LoginView

urlpatterns = [
    # The admin's own login form would bypass the limit on failed attempts.
    path("admin/login/", LoginView.as_view(), name="admin-login"),
    path("admin/", admin.site.urls),
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/v1/", include("annotator.api_urls")),
    path("", include("projects.urls")),
    path("", include("imports.urls")),
    path("", include("agreement.urls")),
    path("", include("labeling.urls")),
    path("", include("exports.urls")),
]

handler404 = "web.errors.not_found"
