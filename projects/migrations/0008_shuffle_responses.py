from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('projects', '0007_revision_review_state'),
    ]

    operations = [
        # Existing projects keep showing responses as stored; new ones shuffle.
        migrations.AddField(
            model_name='project',
            name='shuffle_responses',
            field=models.BooleanField(db_default=False, default=False, help_text='Each annotator sees the responses in an order of their own.'),
        ),
        migrations.AlterField(
            model_name='project',
            name='shuffle_responses',
            field=models.BooleanField(db_default=True, default=True, help_text='Each annotator sees the responses in an order of their own.'),
        ),
        migrations.AddField(
            model_name='annotation',
            name='shown_order',
            field=models.JSONField(blank=True, null=True),
        ),
    ]
