from __future__ import annotations

from uuid import uuid4

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from catalog.garment_kinds import KIND_LABELS, KINDS, NONE


class Category(models.Model):
    """A node of the category tree (women › tops › t-shirts).

    ``path`` is the chain of slugs from the root ("women/tops/t-shirts"), so a category and
    all its descendants are one prefix match away without a recursive query. The database
    keeps it (triggers of migration ``catalog/0003_category_paths_follow_the_tree``): renaming
    or moving a category rewrites its whole subtree, and the garments' copies, in the same
    transaction, whoever writes; a move under the category itself or its descendants is refused.

    ``garment_kind`` is what its products are (``catalog.garment_kinds``), or "" to inherit the
    parent's. ``effective_garment_kind`` is the resolved kind (the nearest own kind up the tree,
    ``none`` above the root), kept by the same triggers as ``path`` (``catalog/0005``): a
    change of kind or a move rewrites the subtree's resolved kinds in the same transaction.
    """

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=120)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    path = models.CharField(max_length=500, unique=True, editable=False)
    garment_kind = models.CharField(
        max_length=16,
        blank=True,
        default="",
        db_default="",  # raw inserts (bench/recommend.py's COPY) need not name it
        choices=[(kind, KIND_LABELS[kind]) for kind in KINDS],
        help_text="What this category's products are; empty: the same as the parent category's.",
    )
    effective_garment_kind = models.CharField(
        max_length=16,
        default=NONE,
        db_default=NONE,  # the trigger sets it on every insert anyway
        editable=False,
        choices=[(kind, KIND_LABELS[kind]) for kind in KINDS],
        help_text="The kind in force: its own, else the nearest parent's; none when no category above sets one.",
    )

    class Meta:
        verbose_name_plural = "categories"
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["parent", "slug"], name="category_unique_slug_per_parent"),
            models.UniqueConstraint(
                fields=["slug"], condition=Q(parent__isnull=True), name="category_unique_root_slug"
            ),
            models.CheckConstraint(condition=Q(garment_kind__in=("", *KINDS)), name="category_garment_kind_known"),
        ]
        indexes = [models.Index(fields=["path"], name="category_path_idx", opclasses=["varchar_pattern_ops"])]

    def __str__(self) -> str:
        return self.path.replace("/", " › ") if self.path else self.name

    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)
        # The trigger computed the path and kind (and its subtree's); read back the database's result.
        self.path, self.effective_garment_kind = Category.objects.values_list("path", "effective_garment_kind").get(
            pk=self.pk
        )

    def clean(self) -> None:
        super().clean()
        if self.parent_id is not None and self.pk is not None and self.parent_id in self.subtree_ids():
            raise ValidationError(
                {
                    "parent": f"“{self.parent}” is this category or one of its sub-categories; "
                    "a category cannot be moved under itself."
                }
            )

    def subtree_ids(self) -> set[int]:
        """The ids of this category and of every category below it, as stored."""
        stored = Category.objects.filter(pk=self.pk).values_list("path", flat=True).first()
        if stored is None:
            return set()
        return set(
            Category.objects.filter(Q(pk=self.pk) | Q(path__startswith=stored + "/")).values_list("pk", flat=True)
        )


class Brand(models.Model):
    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=120, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Department(models.TextChoices):
    WOMEN = "women", "Women"
    MEN = "men", "Men"
    UNISEX = "unisex", "Unisex"
    KIDS = "kids", "Kids"


class Colour(models.TextChoices):
    BLACK = "black", "Black"
    WHITE = "white", "White"
    GREY = "grey", "Grey"
    BEIGE = "beige", "Beige"
    BROWN = "brown", "Brown"
    RED = "red", "Red"
    PINK = "pink", "Pink"
    ORANGE = "orange", "Orange"
    YELLOW = "yellow", "Yellow"
    GREEN = "green", "Green"
    BLUE = "blue", "Blue"
    NAVY = "navy", "Navy"
    PURPLE = "purple", "Purple"
    MULTI = "multi", "Multicolour"


class Product(models.Model):
    sku = models.CharField(max_length=64, unique=True)
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    brand = models.ForeignKey(Brand, null=True, blank=True, on_delete=models.PROTECT, related_name="products")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    department = models.CharField(max_length=10, choices=Department.choices, default=Department.UNISEX)
    colour = models.CharField(max_length=10, choices=Colour.choices, blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=2, validators=[MinValueValidator(0)])
    currency = models.CharField(max_length=3, default="EUR")
    tags = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    seasons = models.ManyToManyField("catalog.Season", blank=True, related_name="products")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="product_price_non_negative"),
            models.CheckConstraint(condition=Q(currency__regex=r"^[A-Z]{3}$"), name="product_currency_iso"),
        ]
        indexes = [models.Index(fields=["category", "is_active"], name="product_category_active_idx")]

    def __str__(self) -> str:
        return f"{self.sku} · {self.title}"


class ProductVariant(models.Model):
    """A purchasable size/colour of a product. Inventory lives here, never on the product."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="variants")
    sku = models.CharField(max_length=64, unique=True)
    size = models.CharField(max_length=16)
    colour = models.CharField(max_length=10, choices=Colour.choices, blank=True)
    stock = models.IntegerField(default=0, validators=[MinValueValidator(0)])

    class Meta:
        ordering = ["product_id", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(stock__gte=0), name="variant_stock_non_negative"),
            models.UniqueConstraint(fields=["product", "size", "colour"], name="variant_unique_size_colour"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} ({self.size})"


# Every product image file lives under this folder of the media storage (and nothing else does:
# the orphan sweep of catalog.services.images deletes what no image row references).
IMAGES_FOLDER = "products"


def product_image_upload_to(instance: ProductImage, filename: str) -> str:
    # Stored under a generated name: the client's file name never reaches the file system.
    return f"{IMAGES_FOLDER}/{instance.product_id or 'new'}/{uuid4().hex}.img"


class ProcessingStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class ProductImage(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images")
    file = models.FileField(upload_to=product_image_upload_to, max_length=255)
    is_primary = models.BooleanField(default=False)
    checksum = models.CharField(max_length=64, help_text="SHA-256 of the file's bytes, to spot duplicates.")
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=ProcessingStatus.choices, default=ProcessingStatus.PENDING)
    error = models.TextField(blank=True)
    encoder_version = models.CharField(max_length=64, blank=True, help_text="Encoder that produced its garments.")
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["product_id", "-is_primary", "id"]
        constraints = [
            models.UniqueConstraint(fields=["product", "checksum"], name="image_unique_checksum_per_product"),
            models.UniqueConstraint(
                fields=["product"], condition=Q(is_primary=True), name="image_one_primary_per_product"
            ),
        ]
        indexes = [
            models.Index(fields=["checksum"], name="image_checksum_idx"),
            models.Index(fields=["status"], name="image_status_idx"),
        ]

    def __str__(self) -> str:
        return f"image {self.pk} of {self.product_id} ({self.status})"
