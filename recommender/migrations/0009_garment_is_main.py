"""``Garment.is_main``: the image's main garment, the one the product query uses (issue 15).

The product query took the most confident garment of the primary image, mostly a shoe on a
street photo; it now takes the main garment chosen by ``recommender.vision.main_garment``, the
rule the photo query uses. Ingest and staff corrections set the flag from now on; existing rows
are backfilled here with the same rule (``stored_main_index``), one image and encoder version
at a time, in primary-key batches so a large catalog does not load at once.
"""

from django.db import migrations, models

from recommender.vision.main_garment import stored_main_index

BATCH = 2000  # images per batch


def backfill(apps, schema_editor):
    Garment = apps.get_model("recommender", "Garment")
    ProductImage = apps.get_model("catalog", "ProductImage")
    last = 0
    while True:
        images = list(ProductImage.objects.filter(pk__gt=last).order_by("pk").values("pk", "width", "height")[:BATCH])
        if not images:
            return
        last = images[-1]["pk"]
        sizes = {image["pk"]: (image["width"], image["height"]) for image in images}
        groups: dict[tuple[int, str], list[dict]] = {}
        rows = Garment.objects.filter(image_id__in=sizes).order_by("image_id", "encoder_version", "id")
        for row in rows.values(
            "pk",
            "image_id",
            "encoder_version",
            "box_x1",
            "box_y1",
            "box_x2",
            "box_y2",
            "label",
            "confidence",
            "is_whole_image",
        ):
            groups.setdefault((row["image_id"], row["encoder_version"]), []).append(row)
        main_ids = []
        for (image_id, _), garments in groups.items():
            boxes = [(g["box_x1"], g["box_y1"], g["box_x2"], g["box_y2"]) for g in garments]
            width, height = sizes[image_id]
            # an image processed before its size was stored: its garments' extent stands in
            width = width or max(box[2] for box in boxes)
            height = height or max(box[3] for box in boxes)
            index = stored_main_index(
                [
                    (box, g["label"], g["confidence"], g["is_whole_image"])
                    for box, g in zip(boxes, garments, strict=True)
                ],
                width,
                height,
            )
            if index is not None:
                main_ids.append(garments[index]["pk"])
        Garment.objects.filter(pk__in=main_ids).update(is_main=True)


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0001_initial"),
        ("recommender", "0008_garment_refresh_serialised_per_product"),
    ]

    operations = [
        migrations.AddField(
            model_name="garment",
            name="is_main",
            field=models.BooleanField(
                default=False, db_default=False, help_text="The image's main garment (the product's query garment)."
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
    ]
