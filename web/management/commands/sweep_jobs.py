from __future__ import annotations

from django.core.management.base import BaseCommand

from web.sweeper import sweep_all


class Command(BaseCommand):
    help = (
        "Requeue jobs whose worker died, resend jobs whose message was lost and queue "
        "missed agreement recomputations (every worker also does this on its own)."
    )

    def handle(self, *args, **options):
        results = sweep_all()
        if results is None:
            self.stdout.write("Another process is sweeping; nothing done.")
            return
        for name, counts in results.items():
            self.stdout.write(f"{name}: {counts}")
