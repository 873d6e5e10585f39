from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q
from django.db.models.functions import Cast
from pgvector.django import HalfVectorField, HnswIndex, VectorField

EMBEDDING_DIM = settings.FASHIONREC_EMBEDDING_DIM

# HNSW build parameters. Measured on 100k clustered 128-d vectors on this machine
# (shared/notes/measured-on-this-machine.md): the defaults (m=16, ef_construction=64) leave
# 22 of 100 queries in the wrong cluster (recall 0) whatever ef_search; ef_construction=200
# reaches recall@10 1.000 at ef_search 800 and 0.980 at 200 for 1.9x the build time, while
# m=32 only adds build time. Build quality matters more than graph degree here.
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 200

# Every column the exact form of the recommend query reads (its filters, id, product, and the
# 16-bit copy of the vector it ranks the filtered rows by; recommender/queries.py).
EXACT_SCAN_COLUMNS = [
    "id",
    "product_id",
    "is_active",
    "in_stock",
    "sizes_in_stock",
    "season_ids",
    "brand_id",
    "department",
    "colour",
    "category_path",
    "embedding_half",
]


class EncoderVersion(models.Model):
    """A trained encoder whose embeddings may be stored. Exactly one is active for queries.

    A new version starts inactive; reindexing fills its embeddings while queries keep using
    the active one, and it is activated once it covers the catalog (see ingestion).
    """

    name = models.CharField(max_length=64, unique=True)
    dim = models.PositiveIntegerField(default=EMBEDDING_DIM)
    weights_sha256 = models.CharField(max_length=64, blank=True)
    is_active = models.BooleanField(default=False)
    card = models.JSONField(default=dict, blank=True, help_text="The model card: data, settings, metrics.")
    # The match calibration of these weights (recommender.vision.calibration.MatchCalibration.to_dict:
    # cosines, probabilities, pairs), copied from the weights file when the version is registered
    # so the recommend query can turn cosines into match probabilities; {} = uncalibrated.
    calibration = models.JSONField(
        default=dict, blank=True, help_text="cosine → P(same kind of garment) knots, from the weights file."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="encoder_one_active"),
        ]

    def __str__(self) -> str:
        return f"{self.name}{' (active)' if self.is_active else ''}"


class Garment(models.Model):
    """One garment crop of a product image, with its embedding.

    Design: the recommend query walks the HNSW index on ``embedding`` and must apply its
    relational filters to each candidate as the index yields it (pgvector's iterative scan
    re-checks the WHERE clause row by row). A join per candidate to products, variants and
    seasons would leave the index scan, so every attribute that a query filters or boosts
    on is **denormalised onto this row**: category (id and tree path), brand, department,
    colour, price, active flag, stock (total, in-stock flag, sizes in stock), season ids and
    tags. They are kept in sync by PostgreSQL triggers (migration
    ``recommender/0002_denormalisation_triggers``) on products, variants, product seasons
    and categories, so every writer (admin, API, bulk ``update()``, raw SQL, imports) keeps
    them right inside its own transaction. B-tree and GIN indexes on the same columns serve
    the exact plan used for very selective filters.
    """

    image = models.ForeignKey("catalog.ProductImage", on_delete=models.CASCADE, related_name="garments")
    # No index of its own: garment_product_idx (Meta) is the same B-tree, and a second copy cost
    # 20 MB per million garments for nothing (recommender/0011).
    product = models.ForeignKey("catalog.Product", on_delete=models.CASCADE, related_name="garments", db_index=False)
    encoder_version = models.CharField(max_length=64)
    embedding = VectorField(dimensions=EMBEDDING_DIM)
    # The same vector in 16-bit floats, kept by PostgreSQL (a stored generated column: nothing
    # writes it, COPY and triggers included). Only the exact plan's covering indexes carry it
    # (PostgreSQL refuses an expression in INCLUDE): 264 bytes an entry instead of 520, so the
    # three take about 40 % less memory. The exact plan ranks the filtered rows by it and then
    # re-scores its nearest ones at full precision from ``embedding`` (recommender/queries.py).
    embedding_half = models.GeneratedField(
        expression=Cast("embedding", HalfVectorField(dimensions=EMBEDDING_DIM)),
        output_field=HalfVectorField(dimensions=EMBEDDING_DIM),
        db_persist=True,
    )
    # Box in pixels of the EXIF-oriented image; a whole-image fallback covers it all.
    box_x1 = models.PositiveIntegerField()
    box_y1 = models.PositiveIntegerField()
    box_x2 = models.PositiveIntegerField()
    box_y2 = models.PositiveIntegerField()
    label = models.CharField(max_length=40)
    confidence = models.FloatField()
    is_whole_image = models.BooleanField(
        default=False, help_text="No garment passed the threshold; the whole image was used."
    )
    # One per image and encoder version: the garment a shopper most likely means
    # (recommender.vision.main_garment), set by ingest and by a staff correction. The product
    # query (recommender.queries) takes its primary image's main garment.
    is_main = models.BooleanField(
        default=False,
        # raw inserts (bulk loaders, benchmarks, COPY) need not name it
        db_default=False,
        help_text="The image's main garment (the product's query garment).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # The garment's colour as the outfit model reads it: the root histogram over that model's Lab
    # palette of the garment's own pixels (GrabCut on its box, recommender.outfits.colour_read),
    # written at ingest and by ``manage.py outfit_colours``. Complete the look scores a candidate's
    # colour by it, and a product page's query garment too, when ``outfit_colour_model`` is the
    # loaded model's ``colour_key`` (its version and a digest of its palette); otherwise by the
    # product's colour name, which loses most of what the model knows (docs/outfits.md,
    # "Catalog colours").
    outfit_colour = VectorField(null=True, blank=True, editable=False)
    outfit_colour_model = models.CharField(max_length=64, default="", db_default="", blank=True, editable=False)

    # Denormalised from the catalog by triggers; never written by application code.
    category_id = models.BigIntegerField(null=True, editable=False)
    category_path = models.CharField(max_length=500, default="", editable=False)
    brand_id = models.BigIntegerField(null=True, editable=False)
    department = models.CharField(max_length=10, default="", editable=False)
    colour = models.CharField(max_length=10, default="", editable=False)
    price = models.DecimalField(max_digits=10, decimal_places=2, null=True, editable=False)
    is_active = models.BooleanField(default=True, editable=False)
    stock_total = models.IntegerField(default=0, editable=False)
    in_stock = models.BooleanField(default=False, editable=False)
    sizes_in_stock = ArrayField(models.CharField(max_length=16), default=list, editable=False)
    season_ids = ArrayField(models.BigIntegerField(), default=list, editable=False)
    tags = ArrayField(models.CharField(max_length=40), default=list, editable=False)

    class Meta:
        ordering = ["image_id", "id"]
        indexes = [
            HnswIndex(
                name="garment_embedding_hnsw",
                fields=["embedding"],
                m=HNSW_M,
                ef_construction=HNSW_EF_CONSTRUCTION,
                opclasses=["vector_cosine_ops"],
            ),
            # The exact plan's entry points (recommender/queries.py). Price second: a category or
            # brand filter usually comes with a price window, decided inside the index. Covering
            # (INCLUDE every filter column and the 16-bit embedding): the exact scan then reads the
            # matching entries in index order and never the heap (index-only scan), 1.6x faster
            # at 1M garments than heap fetches (recommender/0007); with the 16-bit copy instead of
            # the 32-bit vector (recommender/0011) each index is about 40 % smaller.
            models.Index(
                fields=["encoder_version", "category_path", "price"],
                name="garment_category_price_idx",
                opclasses=["varchar_pattern_ops", "varchar_pattern_ops", "numeric_ops"],
                include=[c for c in EXACT_SCAN_COLUMNS if c != "category_path"],
            ),
            models.Index(
                fields=["encoder_version", "price"],
                name="garment_version_price_idx",
                include=EXACT_SCAN_COLUMNS,
            ),
            models.Index(fields=["product"], name="garment_product_idx"),
            GinIndex(fields=["sizes_in_stock"], name="garment_sizes_gin"),
            GinIndex(fields=["season_ids"], name="garment_seasons_gin"),
            GinIndex(fields=["tags"], name="garment_tags_gin"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(confidence__gte=0, confidence__lte=1), name="garment_confidence_unit"),
            models.CheckConstraint(
                condition=Q(box_x2__gt=models.F("box_x1"), box_y2__gt=models.F("box_y1")), name="garment_box_non_empty"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} on image {self.image_id}"


class GarmentCorrection(models.Model):
    """A garment box and label set by staff in admin (owner: admin engineer).

    Two uses: the corrected garment is re-encoded at once (``garment`` points at the row that
    got the new embedding), and the row is kept as a training label for ``train_detector``
    (see :func:`recommender.services.corrections.detector_training_labels`). The box is in
    pixels of the EXIF-oriented image, like ``Garment``'s. ``previous_*`` record what the
    detector had said, empty when staff added a garment it missed.
    """

    image = models.ForeignKey("catalog.ProductImage", on_delete=models.CASCADE, related_name="corrections")
    # SET_NULL: reprocessing an image replaces its garments, but the label stays a training label.
    garment = models.ForeignKey(Garment, null=True, blank=True, on_delete=models.SET_NULL, related_name="corrections")
    box_x1 = models.PositiveIntegerField()
    box_y1 = models.PositiveIntegerField()
    box_x2 = models.PositiveIntegerField()
    box_y2 = models.PositiveIntegerField()
    label = models.CharField(max_length=40)
    previous_box = ArrayField(models.PositiveIntegerField(), size=4, null=True, blank=True)
    previous_label = models.CharField(max_length=40, blank=True)
    encoder_version = models.CharField(max_length=64, help_text="Encoder that re-encoded the corrected box.")
    corrected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(box_x2__gt=models.F("box_x1"), box_y2__gt=models.F("box_y1")),
                name="correction_box_non_empty",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} corrected on image {self.image_id}"

    @property
    def box(self) -> tuple[int, int, int, int]:
        return (self.box_x1, self.box_y1, self.box_x2, self.box_y2)


class ImageIngestState(models.Model):
    """When an image was last handed to the queue and last picked up by a worker.

    The ingestion catch-up task reads it to find images whose task was lost (a broker that
    was down at upload time, a worker killed after Redis gave up redelivering) without
    re-enqueueing images that are merely waiting behind a long queue.
    """

    image = models.OneToOneField(
        "catalog.ProductImage", primary_key=True, on_delete=models.CASCADE, related_name="ingest_state"
    )
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"ingest state of image {self.image_id}"
