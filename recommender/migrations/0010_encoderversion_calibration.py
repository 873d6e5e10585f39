"""The match calibration of each encoder version (copied from its weights file when registered)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("recommender", "0009_garment_is_main"),
    ]

    operations = [
        migrations.AddField(
            model_name="encoderversion",
            name="calibration",
            field=models.JSONField(
                blank=True, default=dict, help_text="cosine → P(same kind of garment) knots, from the weights file."
            ),
        ),
    ]
