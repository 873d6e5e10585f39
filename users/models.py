from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from pgvector.django import VectorField


class UserPreference(models.Model):
    """What a shopper told us (categories, brands, colours, sizes, price range) and what we
    learnt from their interactions: a taste vector (running mean of liked/bought garment
    embeddings) and a dislike vector, both in the encoder's embedding space."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference")
    categories = models.ManyToManyField("catalog.Category", blank=True, related_name="+")
    brands = models.ManyToManyField("catalog.Brand", blank=True, related_name="+")
    colours = ArrayField(models.CharField(max_length=10), default=list, blank=True)
    sizes = ArrayField(models.CharField(max_length=16), default=list, blank=True)
    price_min = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    price_max = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    taste_vector = VectorField(dimensions=settings.FASHIONREC_EMBEDDING_DIM, null=True, blank=True)
    taste_weight = models.FloatField(default=0, help_text="Total weight of the interactions in the taste vector.")
    dislike_vector = VectorField(dimensions=settings.FASHIONREC_EMBEDDING_DIM, null=True, blank=True)
    dislike_weight = models.FloatField(default=0)
    encoder_version = models.CharField(max_length=64, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(price_min__isnull=True)
                | Q(price_max__isnull=True)
                | Q(price_max__gte=models.F("price_min")),
                name="preference_price_range_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"preferences of {self.user}"


class InteractionKind(models.TextChoices):
    VIEW = "view", "View"
    LIKE = "like", "Like"
    DISLIKE = "dislike", "Dislike"
    ADD_TO_CART = "add_to_cart", "Add to cart"
    PURCHASE = "purchase", "Purchase"


class Interaction(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="interactions")
    product = models.ForeignKey("catalog.Product", on_delete=models.CASCADE, related_name="interactions")
    kind = models.CharField(max_length=12, choices=InteractionKind.choices)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="interaction_user_recent_idx")]

    def __str__(self) -> str:
        return f"{self.user} {self.kind} {self.product_id}"
