"""One lease index: the gold-aware one serves ordinary tasks as well."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('projects', '0002_task_agreement'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='task',
            name='task_lease_order',
        ),
    ]
