from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "annotator.settings")

app = Celery("annotator")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Task modules live beside the code they wrap, one per area.
app.autodiscover_tasks(["imports", "agreement", "exports"])
