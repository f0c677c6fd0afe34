"""Reads for the import pages and API."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from imports.models import ImportJob
from projects.models import Project
from projects.selectors import LEAD_ONLY, project_for_user


def import_jobs_of(*, project: Project) -> QuerySet[ImportJob]:
    """The project's imports, newest first."""
    return project.imports.all()


def import_job_of(*, project: Project, pk: int) -> ImportJob:
    job = ImportJob.objects.filter(pk=pk, project=project).first()
    if job is None:
        raise Http404("No such import.")
    return job


def import_job_for_user(user, pk: int) -> ImportJob:
    """An import the user may read (a lead of its project); 404 otherwise."""
    job = ImportJob.objects.filter(pk=pk).first()
    if job is None:
        raise Http404("No such import.")
    project_for_user(user, job.project_id, roles=LEAD_ONLY)
    return job
