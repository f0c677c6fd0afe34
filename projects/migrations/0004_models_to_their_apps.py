"""Assignment, ImportJob, TaskAgreement, AgreementSnapshot and Resolution leave projects."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('projects', '0003_one_lease_index'),
    ]

    # Leases, imports and agreement moved to apps of their own; their tables stay
    # where they are (each model keeps its db_table), so only the state changes.
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name='assignment',
                    name='annotator',
                ),
                migrations.RemoveField(
                    model_name='assignment',
                    name='project',
                ),
                migrations.RemoveField(
                    model_name='assignment',
                    name='task',
                ),
                migrations.RemoveField(
                    model_name='importjob',
                    name='created_by',
                ),
                migrations.RemoveField(
                    model_name='importjob',
                    name='project',
                ),
                migrations.RemoveField(
                    model_name='resolution',
                    name='reviewer',
                ),
                migrations.RemoveField(
                    model_name='resolution',
                    name='task',
                ),
                migrations.RemoveField(
                    model_name='taskagreement',
                    name='task',
                ),
                migrations.DeleteModel(
                    name='AgreementSnapshot',
                ),
                migrations.DeleteModel(
                    name='Assignment',
                ),
                migrations.DeleteModel(
                    name='ImportJob',
                ),
                migrations.DeleteModel(
                    name='Resolution',
                ),
                migrations.DeleteModel(
                    name='TaskAgreement',
                ),
            ],
        ),
    ]
