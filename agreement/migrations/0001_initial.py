"""taskagreement, agreementsnapshot, resolution: moved from projects, tables unchanged."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

MODELS = ['taskagreement', 'agreementsnapshot', 'resolution']


def _relabel(old: str, new: str):
    def run(apps, schema_editor):
        ContentType = apps.get_model("contenttypes", "ContentType")
        ContentType.objects.filter(app_label=old, model__in=MODELS).update(app_label=new)

    return run


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('projects', '0004_models_to_their_apps'),
        ('contenttypes', '0002_remove_content_type_name'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    # The tables were created by projects' migrations and keep their names; only
    # the state (and the content types, which permissions and admin history
    # point at) move here.
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='TaskAgreement',
                    fields=[
                        ('task', models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='measured', serialize=False, to='projects.task')),
                        ('agreement', models.FloatField(blank=True, null=True)),
                        ('consensus', models.JSONField(blank=True, null=True)),
                    ],
                    options={
                        'db_table': 'projects_taskagreement',
                    },
                ),
                migrations.CreateModel(
                    name='AgreementSnapshot',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('computed_at', models.DateTimeField(db_index=True)),
                        ('duration_s', models.FloatField(default=0.0)),
                        ('data', models.JSONField()),
                        ('project', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='agreement_snapshots', to='projects.project')),
                    ],
                    options={
                        'db_table': 'projects_agreementsnapshot',
                        'ordering': ['-computed_at'],
                        'get_latest_by': 'computed_at',
                    },
                ),
                migrations.CreateModel(
                    name='Resolution',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('values', models.JSONField()),
                        ('comment', models.TextField(blank=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('reviewer', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('task', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='resolution', to='projects.task')),
                    ],
                    options={
                        'db_table': 'projects_resolution',
                    },
                ),
            ],
        ),
        migrations.RunPython(_relabel("projects", "agreement"), _relabel("agreement", "projects")),
    ]
