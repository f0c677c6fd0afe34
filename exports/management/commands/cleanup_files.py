"""``manage.py cleanup_files``: remove finished imports' uploads, stale partial
exports and the files of failed exports (on local disk or in the bucket).

Safe to run at any time and as often as wanted (a cron entry, hourly).
"""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand

from exports.cleanup import failed_files_cleanup, partial_files_cleanup
from imports.cleanup import uploads_cleanup


class Command(BaseCommand):
    help = (
        "Remove the uploads of finished import jobs, stale partial export files "
        "and the files of failed exports."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--stale-minutes",
            type=int,
            default=None,
            help="age of a partial export file that counts as stale "
            "(default: the task time limit plus 10 minutes)",
        )

    def handle(self, *args, stale_minutes=None, **options):
        stale = None if stale_minutes is None else timedelta(minutes=stale_minutes)
        uploads = uploads_cleanup()
        parts = partial_files_cleanup(stale_after=stale)
        failed = failed_files_cleanup()
        self.stdout.write(
            f"removed {len(uploads)} uploaded import files, {len(parts)} partial export files, "
            f"{len(failed)} files of failed exports"
        )
