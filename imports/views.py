"""The lead's import page: upload form, past imports, a polling job status."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from imports.selectors import import_job_of, import_jobs_of
from projects.selectors import LEAD_ONLY, project_for_user
from web.files import StorageUnavailable

from . import shapes
from .uploads import (
    UploadTooLarge,
    content_length_check,
    import_upload_accept,
    upload_handlers_limit,
)

PAST_IMPORTS_SHOWN = 20


@csrf_exempt
@login_required
def import_list(request, project_id: int):
    # The size guard has to be installed before the CSRF check reads the body.
    if request.method == "POST":
        upload_handlers_limit(request)
    return _import_list(request, project_id)


@csrf_protect
def _import_list(request, project_id: int):
    project = project_for_user(request.user, project_id, roles=LEAD_ONLY)
    errors: dict = {}
    values = {"shape": shapes.AUTO, "mapping": ""}
    status = 200
    if request.method == "POST":
        try:
            content_length_check(request.META)
            values = {
                "shape": request.POST.get("shape", shapes.AUTO),
                "mapping": request.POST.get("mapping", ""),
            }
            with transaction.atomic():
                job = import_upload_accept(
                    project=project,
                    user=request.user,
                    upload=request.FILES.get("file"),
                    shape=values["shape"],
                    mapping_raw=values["mapping"],
                )
        except UploadTooLarge as exc:
            errors, status = {"file": [str(exc.detail)]}, 413
        except StorageUnavailable as exc:
            errors, status = {"file": [str(exc.detail)]}, 503
        except ValidationError as exc:
            errors, status = exc.message_dict, 400
        else:
            url = reverse("imports:import-detail", args=[project.pk, job.pk])
            if request.htmx:
                response = HttpResponse(status=204)
                response["HX-Redirect"] = url
                return response
            return redirect(url)
    jobs = import_jobs_of(project=project)[:PAST_IMPORTS_SHOWN]
    context = {
        "project": project,
        "jobs": jobs,
        "shape_choices": shapes.SHAPE_CHOICES,
        "values": values,
        "errors": errors,
    }
    return render(request, "imports/import_list.html", context, status=status)


@login_required
def import_detail(request, project_id: int, pk: int):
    project = project_for_user(request.user, project_id, roles=LEAD_ONLY)
    job = import_job_of(project=project, pk=pk)
    template = "imports/import_detail.html"
    if request.htmx:
        template += "#job-status"
    return render(request, template, {"project": project, "job": job})
