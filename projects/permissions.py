"""DRF permission helpers built on the selectors' role rules."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from .selectors import can_create_projects


class CanCreateProjects(BasePermission):
    message = "Only staff or users allowed to add projects can create one."

    def has_permission(self, request, view) -> bool:
        if request.method != "POST":
            return True
        return can_create_projects(request.user)


class IsStaff(BasePermission):
    message = "Only staff can do this."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_staff)
