"""importjob: moved from projects, tables unchanged."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

MODELS = ['importjob']


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
                    name='ImportJob',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('file_path', models.CharField(max_length=500)),
                        ('filename', models.CharField(max_length=255)),
                        ('size_bytes', models.BigIntegerField(default=0)),
                        ('shape', models.CharField(default='auto', max_length=32)),
                        ('mapping', models.JSONField(blank=True, default=dict)),
                        ('state', models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('done', 'Done'), ('failed', 'Failed')], default='queued', max_length=16)),
                        ('progress', models.FloatField(default=0.0)),
                        ('lines', models.PositiveIntegerField(default=0)),
                        ('created_count', models.PositiveIntegerField(default=0)),
                        ('unchanged_count', models.PositiveIntegerField(default=0)),
                        ('duplicate_count', models.PositiveIntegerField(default=0)),
                        ('error_count', models.PositiveIntegerField(default=0)),
                        ('errors', models.JSONField(blank=True, default=list)),
                        ('detected_shape', models.CharField(blank=True, max_length=32)),
                        ('message', models.TextField(blank=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('started_at', models.DateTimeField(blank=True, null=True)),
                        ('finished_at', models.DateTimeField(blank=True, null=True)),
                        ('created_by', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('project', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='imports', to='projects.project')),
                    ],
                    options={
                        'db_table': 'projects_importjob',
                        'ordering': ['-created_at'],
                    },
                ),
            ],
        ),
        migrations.RunPython(_relabel("projects", "imports"), _relabel("imports", "projects")),
    ]
