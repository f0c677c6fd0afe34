"""Per-task agreement and consensus move to their own narrow table."""

import django.db.models.deletion
from django.db import migrations, models

COPY_FORWARD = """
    INSERT INTO projects_taskagreement (task_id, agreement, consensus)
    SELECT id, agreement, consensus FROM projects_task
     WHERE agreement IS NOT NULL OR consensus IS NOT NULL
"""
COPY_BACK = """
    UPDATE projects_task AS t SET agreement = a.agreement, consensus = a.consensus
      FROM projects_taskagreement AS a WHERE a.task_id = t.id
"""


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="TaskAgreement",
            fields=[
                (
                    "task",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        db_constraint=False,
                        primary_key=True,
                        related_name="measured",
                        serialize=False,
                        to="projects.task",
                    ),
                ),
                ("agreement", models.FloatField(blank=True, null=True)),
                ("consensus", models.JSONField(blank=True, null=True)),
            ],
        ),
        # Reversed, the columns come back (RemoveField in reverse) before COPY_BACK runs.
        migrations.RunSQL(COPY_FORWARD, COPY_BACK),
        migrations.RemoveField(model_name="task", name="agreement"),
        migrations.RemoveField(model_name="task", name="consensus"),
    ]
