"""What the recommendation endpoints answer: the response body, produced by these serializers.

Product cards are built by PostgreSQL for speed (``catalog.selectors.product_cards``) and pass
through as they are; ``tests/api/test_product_cards.py`` holds them equal to
``ProductCardSerializer``. The OpenAPI example is rendered by the same serializers, so it
cannot drift from the answers.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.api.products import ProductCardSerializer


class RoundedFloatField(serializers.FloatField):
    def __init__(self, *, places: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.places = places

    def to_representation(self, value) -> float:
        return round(float(value), self.places)


class RoundedIntegerField(serializers.IntegerField):
    def to_representation(self, value) -> int:
        return round(value)


@extend_schema_field(ProductCardSerializer)
class ProductCardField(serializers.Field):
    """A card built by ``product_cards`` (already the API's product object)."""

    def to_representation(self, value: dict) -> dict:
        return value


# Reads {"index": n, "crop": GarmentCrop} (comments, not docstrings: those become schema text).
class DetectedGarmentSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    box = serializers.ListField(
        child=serializers.IntegerField(), source="crop.box", help_text="x1, y1, x2, y2 in pixels"
    )
    label = serializers.CharField(source="crop.label")
    confidence = RoundedFloatField(places=4, source="crop.confidence")
    is_whole_image = serializers.BooleanField(source="crop.is_whole_image")
    is_main = serializers.BooleanField(
        help_text="The main garment (chosen by prominence: kind, size, centrality): the default, listed first."
    )


# Reads recommender.selectors.Recommendation.
class RecommendationSerializer(serializers.Serializer):
    product = ProductCardField(source="card")
    similarity = RoundedFloatField(
        places=6, source="row.similarity", help_text="Raw cosine similarity to the query garment."
    )
    match = RoundedFloatField(
        places=4,
        source="row.match",
        help_text=(
            "Calibrated match, 0-1: the probability that a result at this similarity is the same kind of "
            "garment as the query (measured on the encoder's held-out selection split; docs/api.md)."
        ),
    )
    score = RoundedFloatField(
        places=6, source="row.score", help_text="The ranking score: the sum of score_breakdown except similarity."
    )
    score_breakdown = serializers.DictField(
        child=RoundedFloatField(places=6),
        source="row.breakdown",
        help_text=(
            "similarity (the raw cosine, not added to the score), then the weighted parts that add up to the "
            "score: match, seasonal, preference, taste, dislike (≤ 0), inventory."
        ),
    )


# Reads {"index": n, "crop": GarmentCrop, "is_main": bool, "results": [Recommendation]}.
class GarmentRecommendationsSerializer(DetectedGarmentSerializer):
    results = RecommendationSerializer(many=True, help_text="This garment's top k, the request's filters applied.")


class RecommendationQuerySerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["image", "product"])
    product_id = serializers.IntegerField(allow_null=True)
    k = serializers.IntegerField()
    plan = serializers.ChoiceField(choices=["ann", "exact"], help_text="See docs/database.md.")
    estimated_rows = RoundedIntegerField(help_text="Planner's estimate of the filtered rows.")


class QueryImageSerializer(serializers.Serializer):
    width = serializers.IntegerField()
    height = serializers.IntegerField()


class RecommendationsSerializer(serializers.Serializer):
    query = RecommendationQuerySerializer()
    image = QueryImageSerializer(allow_null=True)
    garments = DetectedGarmentSerializer(many=True)
    garment = serializers.IntegerField(allow_null=True)
    results = RecommendationSerializer(many=True)
    results_by_garment = GarmentRecommendationsSerializer(
        many=True,
        help_text="Only with garments=all (empty otherwise): every detected garment with its own results, "
        "the main garment first.",
    )
    timings_ms = serializers.DictField(
        child=serializers.FloatField(), help_text="decode, detect, encode, lookup, query, hydrate, total"
    )
