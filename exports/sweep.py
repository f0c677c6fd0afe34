"""Recovery of export jobs, run by the sweeper (web/sweeper.py)."""

from __future__ import annotations

from web import jobs, sweeper

from .models import Export
from .storage import export_discard
from .tasks import export_build


def _given_up(pk: int) -> None:
    # An attempt may have stored the whole file and died before marking it ready.
    for export in Export.objects.filter(pk=pk):
        export_discard(export)


@sweeper.register
def sweep_exports() -> dict[str, int]:
    return jobs.sweep_jobs(Export, export_build, what="export", on_given_up=_given_up)
