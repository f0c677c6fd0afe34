"""Export tokens: a DRF authentication class and the permission that confines them.

A token authenticates as an anonymous user with ``request.auth`` set to the
ExportToken; only views that opt in (``export_token_allowed = True``) and only
safe methods accept it, and selectors confine it to its own project. Every
other endpoint keeps the default authentication, which does not know these
tokens, so an export token cannot label, review or change anything.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from .models import ExportToken, token_hash


class ExportTokenAuthentication(authentication.BaseAuthentication):
    keywords = ("token", "bearer")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if len(header) != 2 or header[0].decode(errors="replace").lower() not in self.keywords:
            return None
        raw = header[1].decode(errors="replace")
        if not raw.startswith(ExportToken.PREFIX):
            return None  # an ordinary user token: the next class handles it
        token = (
            ExportToken.objects.select_related("project")
            .filter(key_hash=token_hash(raw), revoked_at__isnull=True)
            .first()
        )
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked export token.")
        ExportToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
        return AnonymousUser(), token

    def authenticate_header(self, request):
        return "Token"


def is_export_token(request) -> bool:
    return isinstance(getattr(request, "auth", None), ExportToken)


class UserOrExportTokenRead(permissions.BasePermission):
    """Signed-in users, or an export token on a safe method of a view that allows it."""

    message = "An export token can only read exports of its own project."

    def has_permission(self, request, view) -> bool:
        if is_export_token(request):
            return request.method in permissions.SAFE_METHODS and getattr(
                view, "export_token_allowed", False
            )
        return bool(request.user and request.user.is_authenticated)


class ExportTokenScheme(OpenApiAuthenticationExtension):
    target_class = "exports.permissions.ExportTokenAuthentication"
    name = "exportToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Project export token: `Token qex_…` (read-only, exports only).",
        }
