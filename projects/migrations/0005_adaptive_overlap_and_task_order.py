
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('projects', '0004_models_to_their_apps'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='task',
            name='task_project_state',
        ),
        migrations.AddField(
            model_name='project',
            name='overlap_max',
            field=models.PositiveSmallIntegerField(blank=True, help_text='Answers a task may get while they disagree.', null=True),
        ),
        # Existing projects keep the order they had (spread); new ones complete
        # started tasks first.
        migrations.AddField(
            model_name='project',
            name='task_order',
            field=models.CharField(choices=[('complete_first', 'Complete started tasks first'), ('spread', 'Fewest answers first'), ('random', 'Random')], db_default='spread', default='spread', help_text='Which task an annotator is offered next.', max_length=16),
        ),
        migrations.AlterField(
            model_name='project',
            name='task_order',
            field=models.CharField(choices=[('complete_first', 'Complete started tasks first'), ('spread', 'Fewest answers first'), ('random', 'Random')], db_default='complete_first', default='complete_first', help_text='Which task an annotator is offered next.', max_length=16),
        ),
        migrations.AddField(
            model_name='task',
            name='disputed_questions',
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='task',
            name='target_overlap',
            field=models.PositiveSmallIntegerField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name='project',
            name='overlap',
            field=models.PositiveSmallIntegerField(default=3, help_text='Answers a task needs when they agree.'),
        ),
        migrations.AddIndex(
            model_name='task',
            index=models.Index(fields=['project', 'state', 'is_gold', 'id'], name='task_project_state_order'),
        ),
        migrations.AddConstraint(
            model_name='project',
            constraint=models.CheckConstraint(condition=models.Q(('overlap_max__isnull', True), ('overlap_max__gte', models.F('overlap')), _connector='OR'), name='project_overlap_max_at_least_overlap'),
        ),
    ]
