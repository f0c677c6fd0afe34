"""Recovery of export jobs, run by the sweeper (web/sweeper.py)."""

from __future__ import annotations

from web import jobs, sweeper

from .models import Export
from .tasks import export_build


@sweeper.register
def sweep_exports() -> dict[str, int]:
    return jobs.sweep_jobs(Export, export_build, what="export")
