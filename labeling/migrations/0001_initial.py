"""assignment: moved from projects, tables unchanged."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

MODELS = ['assignment']


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
                    name='Assignment',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('state', models.CharField(choices=[('leased', 'Leased'), ('submitted', 'Submitted'), ('skipped', 'Skipped'), ('released', 'Released')], default='leased', max_length=16)),
                        ('leased_at', models.DateTimeField()),
                        ('expires_at', models.DateTimeField()),
                        ('skip_reason', models.TextField(blank=True)),
                        ('finished_at', models.DateTimeField(blank=True, null=True)),
                        ('annotator', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='assignments', to=settings.AUTH_USER_MODEL)),
                        ('project', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='projects.project')),
                        ('task', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='assignments', to='projects.task')),
                    ],
                    options={
                        'db_table': 'projects_assignment',
                        'indexes': [models.Index(fields=['project', 'annotator', 'state'], name='assignment_mine'), models.Index(fields=['task', 'state', 'expires_at'], name='assignment_active')],
                        'constraints': [models.UniqueConstraint(fields=('task', 'annotator'), name='assignment_unique')],
                    },
                ),
            ],
        ),
        migrations.RunPython(_relabel("projects", "labeling"), _relabel("labeling", "projects")),
    ]
