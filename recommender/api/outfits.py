"""Complete the look and outfit scores (issue 17).

``GET /api/v1/products/{id}/complete-the-look/``, ``POST /api/v1/complete-the-look/`` and
``POST /api/v1/outfits/score/``. The ranking is one SQL statement (``queries.complete_the_look``)
fed by the outfit model (``recommender/outfits``); see docs/outfits.md.
"""

from __future__ import annotations

import time

import numpy as np
from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.api.products import ProductFilterInputSerializer
from catalog.errors import ProductNotFound
from catalog.filters import LIST_PARAMETERS, filter_parameters, filters_from
from fashionrec.api import schema
from fashionrec.api.fields import id_field, parse_id, plain_data
from fashionrec.imaging import ImageRejected, load_image
from recommender import outfit_selectors as looks
from recommender.analysis_cache import image_analysis
from recommender.api.serializers import (
    DetectedGarmentSerializer,
    ProductCardField,
    QueryImageSerializer,
    RoundedFloatField,
    RoundedIntegerField,
)
from recommender.api.throttles import RECOMMENDATION_THROTTLES
from recommender.api.views import _ERRORS, _detected, _pipeline, _user_id
from recommender.errors import GarmentNotDetected
from recommender.outfits import photo_lighting
from recommender.outfits.catalog import COLOUR_BINS, colour_namer
from recommender.outfits.street import CATALOG_KINDS, colour_histogram, pixel_sample

LOOK_LIST_FIELDS = (*LIST_PARAMETERS, "kinds")
# What a query or an outfit garment came from; one OpenAPI enum (settings ENUM_NAME_OVERRIDES) for
# these fields and the recommendations' query kind, which has the same two values.
QUERY_SOURCES = ("image", "product")


# --- input ------------------------------------------------------------------------------------


class KindListField(serializers.ListField):
    """Kinds as a repeated parameter or one comma-separated value (like the list filters)."""

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = [data]
        if not isinstance(data, list | tuple):
            self.fail("not_a_list", input_type=type(data).__name__)
        split = [part.strip() for item in data for part in str(item).split(",") if part.strip()]
        return super().to_internal_value(split)


class LookFilterInputSerializer(ProductFilterInputSerializer):
    k = serializers.IntegerField(
        min_value=1,
        required=False,
        default=looks.DEFAULT_K_PER_KIND,
        help_text=f"Results per kind; capped at {settings.FASHIONREC_RECOMMEND_K_MAX}.",
    )
    kinds = KindListField(
        child=serializers.ChoiceField(choices=list(CATALOG_KINDS)),
        required=False,
        max_length=len(CATALOG_KINDS),
        help_text="Kinds to fill (default: the kinds people wear with the query garment; never its own kind "
        "unless listed here).",
    )


class LookInputSerializer(LookFilterInputSerializer):
    image = serializers.FileField(required=False, allow_empty_file=True, use_url=False)
    product_id = id_field(required=False)
    garment = serializers.IntegerField(
        min_value=0, max_value=1000, required=False, help_text="Index into the detected garments (default 0)."
    )

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if ("image" in attrs) == ("product_id" in attrs):
            raise serializers.ValidationError({"non_field_errors": ["Send exactly one of image or product_id."]})
        if "garment" in attrs and "image" not in attrs:
            raise serializers.ValidationError({"garment": ["Only meaningful with an image."]})
        return attrs


class OutfitScoreInputSerializer(serializers.Serializer):
    images = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True, use_url=False),
        required=False,
        help_text="Photos (multipart, repeat the field); each contributes its main garment.",
    )
    product_ids = serializers.ListField(
        child=id_field(), required=False, help_text="Catalog products; each contributes its main garment."
    )

    def validate(self, attrs):
        count = len(attrs.get("images", [])) + len(attrs.get("product_ids", []))
        if not looks.MIN_OUTFIT <= count <= looks.MAX_OUTFIT:
            raise serializers.ValidationError(
                {
                    "non_field_errors": [
                        f"An outfit has {looks.MIN_OUTFIT} to {looks.MAX_OUTFIT} garments (images and product_ids "
                        f"together); got {count}."
                    ]
                }
            )
        return attrs


def _look_request(values: dict) -> looks.LookRequest:
    return looks.LookRequest(
        k=min(values.get("k", looks.DEFAULT_K_PER_KIND), settings.FASHIONREC_RECOMMEND_K_MAX),
        filters=filters_from(values),
        kinds=tuple(values.get("kinds", ())),
    )


# --- output -----------------------------------------------------------------------------------


# Reads outfit_selectors.LookItem.
class LookItemSerializer(serializers.Serializer):
    product = ProductCardField(source="card")
    compatibility = RoundedFloatField(
        places=6, source="row.compatibility", help_text="Outfit compatibility with the query garment, in [0, 1]."
    )
    score = RoundedFloatField(places=6, source="row.score", help_text="The ranking score: the sum of score_breakdown.")
    score_breakdown = serializers.DictField(
        child=RoundedFloatField(places=6),
        source="row.breakdown",
        help_text="compatibility, seasonal, preference, taste, dislike (≤ 0), inventory: weighted parts.",
    )


class LookGroupSerializer(serializers.Serializer):
    kind = serializers.CharField()
    results = LookItemSerializer(many=True)


class LookQuerySerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=QUERY_SOURCES)
    product_id = serializers.IntegerField(allow_null=True)
    garment_kind = serializers.CharField(
        help_text="The query's kind: a product's category kind (its garment's label when the category has none), "
        "a photo garment's label."
    )
    k = serializers.IntegerField(help_text="Results per kind.")
    plan = serializers.ChoiceField(choices=["ann", "exact"], help_text="See docs/database.md.")
    estimated_rows = RoundedIntegerField(help_text="Planner's estimate of the filtered rows (all kinds).")
    model_version = serializers.CharField(help_text="The outfit model (models/outfits/).")


class LookSerializer(serializers.Serializer):
    query = LookQuerySerializer()
    image = QueryImageSerializer(allow_null=True)
    garments = DetectedGarmentSerializer(many=True)
    garment = serializers.IntegerField(allow_null=True)
    looks = LookGroupSerializer(many=True, help_text="One group per complementary kind, most worn first.")
    timings_ms = serializers.DictField(child=serializers.FloatField())


class OutfitPairSerializer(serializers.Serializer):
    a = serializers.IntegerField(help_text="Index of the first garment in `garments`.")
    b = serializers.IntegerField(help_text="Index of the second garment.")
    score = RoundedFloatField(places=6, help_text="Pair compatibility in [0, 1].")


class OutfitGarmentSerializer(serializers.Serializer):
    source = serializers.ChoiceField(choices=QUERY_SOURCES)
    product_id = serializers.IntegerField(allow_null=True)
    kind = serializers.CharField()


class OutfitScoreSerializer(serializers.Serializer):
    score = RoundedFloatField(places=6, help_text="The set's compatibility in [0, 1]: the mean of its pairs.")
    pairs = OutfitPairSerializer(many=True)
    garments = OutfitGarmentSerializer(many=True, help_text="Images first (in order sent), then products.")
    model_version = serializers.CharField()
    encoder_version = serializers.CharField()


def _look_body(result: looks.LookResult, *, kind: str, product_id, started: float, analysis=None, garment=None) -> dict:
    timings = dict(result.timings_ms)
    timings["total"] = round((time.perf_counter() - started) * 1000, 2)
    return LookSerializer(
        {
            "query": {
                "kind": kind,
                "product_id": product_id,
                "garment_kind": result.query_kind,
                "k": result.k,
                "plan": result.plan,
                "estimated_rows": result.estimated_rows,
                "model_version": result.model_version,
            },
            "image": analysis,
            "garments": _detected(analysis),
            "garment": garment,
            "looks": result.groups,
            "timings_ms": timings,
        }
    ).data


def _photo_garment(data: bytes, index: int = 0):
    """(analysis, QueryGarment of garment ``index``, encoder version) of an uploaded photo."""
    if len(data) > settings.FASHIONREC_MAX_UPLOAD_BYTES:
        raise ImageRejected("too_large", f"The image is larger than {settings.FASHIONREC_MAX_UPLOAD_BYTES} bytes.")
    pipeline = _pipeline()
    # the demo's similar-items request analysed it a moment ago; only garment ``index`` is encoded
    analysis = image_analysis(pipeline, data, encode=(index,))
    if index >= len(analysis.garments):
        raise GarmentNotDetected(index, len(analysis.garments))
    crop = analysis.garments[index]
    # the box's pixels (no mask for a shopper's photo): the colour histogram the model expects
    image = np.asarray(load_image(data, max_bytes=pipeline.max_bytes, max_pixels=pipeline.max_pixels).convert("RGB"))
    x1, y1, x2, y2 = crop.box
    pixels = image[y1:y2, x1:x2].reshape(-1, 3)
    garment = looks.QueryGarment(
        kind=crop.label,
        embedding=crop.embedding,
        colours=colour_histogram(pixels, colour_namer, COLOUR_BINS),
        pixels=pixel_sample(pixels),
        # the model takes the photo's lighting out of the garment's pixels (as it did in training)
        photo_mean=photo_lighting.photo_mean(image),
    )
    return analysis, garment, pipeline.encoder_version


_LOOK_ERRORS = {
    **_ERRORS,
    503: schema.error("No active encoder, or the outfit model is missing or stale.", "outfit_model_unavailable"),
}


class ProductCompleteTheLookApi(APIView):
    permission_classes = [AllowAny]
    throttle_classes = RECOMMENDATION_THROTTLES

    @extend_schema(
        operation_id="products_complete_the_look",
        summary="Products that complete the look of this one",
        description=(
            "For the product's main garment and each kind people wear with it (or `kinds`), the `k` products "
            "that go best with it, ranked by the outfit model's compatibility plus seasonal rules, preferences "
            "and inventory, under the same filters as similar items. The query's own kind is never returned "
            "unless listed in `kinds`."
        ),
        parameters=[
            *filter_parameters(recommend=True),
            OpenApiParameter("k", int, description="Results per kind (default 4)."),
            OpenApiParameter("kinds", str, many=True, enum=list(CATALOG_KINDS), description="Kinds to fill."),
            OpenApiParameter("product_id", OpenApiTypes.INT, OpenApiParameter.PATH),
        ],
        responses={200: LookSerializer, **{code: _LOOK_ERRORS[code] for code in (400, 404, 409, 429, 503)}},
    )
    def get(self, request: Request, product_id: str) -> Response:
        started = time.perf_counter()
        pk = parse_id(product_id)
        if pk is None:
            raise ProductNotFound(product_id)
        serializer = LookFilterInputSerializer(data=plain_data(request.query_params, LOOK_LIST_FIELDS))
        serializer.is_valid(raise_exception=True)
        result = looks.look_for_product(
            product_id=pk, request=_look_request(serializer.validated_data), user_id=_user_id(request)
        )
        return Response(_look_body(result, kind="product", product_id=pk, started=started))


class CompleteTheLookApi(APIView):
    permission_classes = [AllowAny]
    throttle_classes = RECOMMENDATION_THROTTLES
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(
        operation_id="complete_the_look_create",
        summary="Complete the look of a photo's garment or a catalog product",
        description=(
            "Send a photo (multipart `image`, optional `garment` index, default 0: the main garment) or a "
            "`product_id`, plus optional filters, `k` per kind and `kinds`. Same answer as "
            "GET /products/{id}/complete-the-look/."
        ),
        request={"multipart/form-data": LookInputSerializer, "application/json": LookInputSerializer},
        responses={200: LookSerializer, **_LOOK_ERRORS},
    )
    def post(self, request: Request) -> Response:
        started = time.perf_counter()
        serializer = LookInputSerializer(data=plain_data(request.data, LOOK_LIST_FIELDS))
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        look_request = _look_request(values)
        if "product_id" in values:
            result = looks.look_for_product(
                product_id=values["product_id"], request=look_request, user_id=_user_id(request)
            )
            return Response(_look_body(result, kind="product", product_id=values["product_id"], started=started))
        index = values.get("garment", 0)
        analysis, garment, encoder_version = _photo_garment(values["image"].read(), index)
        result = looks.look_for_garment(
            garment=garment,
            encoder_version=encoder_version,
            request=look_request,
            user_id=_user_id(request),
            timings={name: round(value, 2) for name, value in analysis.timings_ms.items()},
        )
        return Response(
            _look_body(result, kind="image", product_id=None, started=started, analysis=analysis, garment=index)
        )


class OutfitScoreApi(APIView):
    permission_classes = [AllowAny]
    throttle_classes = RECOMMENDATION_THROTTLES
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(
        operation_id="outfits_score",
        summary="Does this go with that? Score an outfit of 2 to 6 garments",
        description=(
            "Send 2 to 6 garments as photos (multipart `images`, repeated) and/or catalog `product_ids`; each "
            "contributes its main garment. Answers the set's compatibility (mean of its pairs) and every pair's, "
            "each in [0, 1], with the outfit model's version. Fewer than 2 or more than 6: 400."
        ),
        request={"multipart/form-data": OutfitScoreInputSerializer, "application/json": OutfitScoreInputSerializer},
        responses={200: OutfitScoreSerializer, **_LOOK_ERRORS},
    )
    def post(self, request: Request) -> Response:
        serializer = OutfitScoreInputSerializer(data=plain_data(request.data, ("images", "product_ids")))
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        garments, sources = [], []
        encoder_version = None
        for upload in values.get("images", []):
            _, garment, encoder_version = _photo_garment(upload.read())
            garments.append(garment)
            sources.append({"source": "image", "product_id": None, "kind": garment.kind})
        product_ids = values.get("product_ids", [])
        if product_ids or encoder_version is None:
            from_products, active = looks.product_garments(product_ids)
            if encoder_version is not None and active != encoder_version:
                from recommender.errors import EncoderSwitching

                raise EncoderSwitching(encoder_version, active)
            encoder_version = active
            garments += from_products
            sources += [{"source": "product", "product_id": g.product_id, "kind": g.kind} for g in from_products]
        result = looks.score_outfit(garments, encoder_version)
        return Response(
            OutfitScoreSerializer(
                {
                    "score": result.score,
                    "pairs": [{"a": a, "b": b, "score": s} for a, b, s in result.pairs],
                    "garments": sources,
                    "model_version": result.model_version,
                    "encoder_version": result.encoder_version,
                }
            ).data
        )
