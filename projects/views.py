from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from .selectors import projects_for_user


@login_required
def project_list(request):
    projects = projects_for_user(request.user).order_by("name")
    return render(request, "projects/project_list.html", {"projects": projects})
