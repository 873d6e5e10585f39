import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0001_initial'),
        ('recommender', '0003_garment_correction'),
    ]

    operations = [
        migrations.CreateModel(
            name='ImageIngestState',
            fields=[
                ('image', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='ingest_state', serialize=False, to='catalog.productimage')),
                ('enqueued_at', models.DateTimeField(blank=True, null=True)),
                ('started_at', models.DateTimeField(blank=True, null=True)),
            ],
        ),
    ]
