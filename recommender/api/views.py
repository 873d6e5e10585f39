"""``POST /api/v1/recommendations/`` and ``GET /api/v1/products/{id}/similar/``."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.api.products import (
    PRODUCT_LIST_PARAMETERS,
    ProductCardSerializer,
    ProductFilterInputSerializer,
    _parse_id,
    id_field,
    plain_data,
)
from fashionrec.api.errors import ApiError, image_rejected_error
from recommender import queries, selectors
from recommender.api import schema
from recommender.api.throttles import RECOMMENDATION_THROTTLES
from recommender.vision.preprocess import ImageRejected

logger = logging.getLogger(__name__)

LIST_FIELDS = ("sizes", "exclude")


class RecommendFilterInputSerializer(ProductFilterInputSerializer):
    k = serializers.IntegerField(
        min_value=1,
        required=False,
        default=settings.FASHIONREC_RECOMMEND_K_DEFAULT,
        help_text=f"Results wanted; capped at {settings.FASHIONREC_RECOMMEND_K_MAX}.",
    )
    exclude = serializers.ListField(child=id_field(), required=False, default=list, max_length=200)
    max_per_category = serializers.IntegerField(
        min_value=0, max_value=1000, required=False, help_text="Diversify: at most this many per category (0: off)."
    )

    def to_internal_value(self, data):
        # exclude, like sizes, may come comma-separated, repeated or as a JSON list
        if "exclude" in data:
            data = {**data, "exclude": _split(data["exclude"])}
        return super().to_internal_value(data)


def _split(raw) -> list:
    items = raw if isinstance(raw, list | tuple) else [raw]
    flat: list = []
    for item in items:
        if isinstance(item, str):
            flat.extend(part.strip() for part in item.split(",") if part.strip())
        else:
            flat.append(item)
    return flat


class RecommendationsInputSerializer(RecommendFilterInputSerializer):
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


def _request(values: dict) -> selectors.RecommendRequest:
    return selectors.RecommendRequest(
        k=min(values.get("k", settings.FASHIONREC_RECOMMEND_K_DEFAULT), settings.FASHIONREC_RECOMMEND_K_MAX),
        category_id=values.get("category"),
        price_min=values.get("price_min"),
        price_max=values.get("price_max"),
        sizes=tuple(dict.fromkeys(values.get("sizes", ()))),
        in_stock=values.get("in_stock", False),
        department=values.get("department"),
        brand_id=values.get("brand"),
        colour=values.get("colour"),
        season_id=values.get("season"),
        exclude=tuple(dict.fromkeys(values.get("exclude", ()))),
        max_per_category=values.get("max_per_category"),
    )


def _user_id(request: Request) -> int | None:
    return request.user.pk if request.user and request.user.is_authenticated else None


def _body(
    result: selectors.RecommendationResult,
    *,
    kind: str,
    product_id: int | None,
    started: float,
    image: dict | None = None,
    garments: list | None = None,
    garment: int | None = None,
) -> dict:
    timings = dict(result.timings_ms)
    timings["total"] = round((time.perf_counter() - started) * 1000, 2)
    return {
        "query": {
            "kind": kind,
            "product_id": product_id,
            "k": result.k,
            "plan": result.plan,
            "estimated_rows": round(result.estimated_rows),
        },
        "image": image,
        "garments": garments or [],
        "garment": garment,
        "results": [
            {
                "product": item.card,
                "similarity": round(item.row.similarity, 6),
                "score": round(item.row.score, 6),
                "score_breakdown": {name: round(value, 6) for name, value in item.row.breakdown.items()},
            }
            for item in result.results
        ],
        "timings_ms": timings,
    }


# --- OpenAPI --------------------------------------------------------------------------------

_GARMENT = inline_serializer(
    "DetectedGarment",
    many=True,
    fields={
        "index": serializers.IntegerField(),
        "box": serializers.ListField(child=serializers.IntegerField(), help_text="x1, y1, x2, y2 in pixels"),
        "label": serializers.CharField(),
        "confidence": serializers.FloatField(),
        "is_whole_image": serializers.BooleanField(),
    },
)
_RESULT = inline_serializer(
    "Recommendation",
    {
        "product": ProductCardSerializer(),
        "similarity": serializers.FloatField(help_text="Cosine similarity to the query garment."),
        "score": serializers.FloatField(help_text="The ranking score: the sum of score_breakdown."),
        "score_breakdown": serializers.DictField(
            child=serializers.FloatField(),
            help_text="similarity, seasonal, preference, taste, dislike (≤ 0), inventory: weighted parts.",
        ),
    },
)
RECOMMENDATIONS_RESPONSE = inline_serializer(
    "Recommendations",
    {
        "query": inline_serializer(
            "RecommendationQuery",
            {
                "kind": serializers.ChoiceField(choices=["image", "product"]),
                "product_id": serializers.IntegerField(allow_null=True),
                "k": serializers.IntegerField(),
                "plan": serializers.ChoiceField(choices=["ann", "exact"], help_text="See docs/database.md."),
                "estimated_rows": serializers.IntegerField(help_text="Planner's estimate of the filtered rows."),
            },
        ),
        "image": inline_serializer(
            "QueryImage", {"width": serializers.IntegerField(), "height": serializers.IntegerField()}, allow_null=True
        ),
        "garments": _GARMENT,
        "garment": serializers.IntegerField(allow_null=True),
        "results": serializers.ListField(child=_RESULT),
        "timings_ms": serializers.DictField(
            child=serializers.FloatField(), help_text="decode, detect, encode, lookup, query, hydrate, total"
        ),
    },
)
_EXAMPLE = OpenApiExample(
    "product query",
    value={
        "query": {"kind": "product", "product_id": 1, "k": 12, "plan": "ann", "estimated_rows": 9000},
        "image": None,
        "garments": [],
        "garment": None,
        "results": [
            {
                "product": {
                    "id": 7,
                    "sku": "SKU-7",
                    "title": "Linen shirt",
                    "brand": "Nordwind",
                    "category": "women › tops",
                    "price": "49.90",
                    "currency": "EUR",
                    "primary_image_url": "/media/products/7/a.img",
                    "stock_by_size": {"M": 3},
                    "seasons": [{"id": 1, "name": "Summer"}],
                    "url": "/api/v1/products/7/",
                },
                "similarity": 0.83,
                "score": 0.95,
                "score_breakdown": {
                    "similarity": 0.83,
                    "seasonal": 0.1,
                    "preference": 0.0,
                    "taste": 0.0,
                    "dislike": 0.0,
                    "inventory": 0.02,
                },
            }
        ],
        "timings_ms": {"lookup": 0.6, "query": 4.2, "hydrate": 2.0, "total": 8.1},
    },
    response_only=True,
)
_ERRORS = {
    400: schema.BAD_REQUEST,
    404: schema.NOT_FOUND,
    409: schema.error("The product has no embeddings for the active encoder yet.", "not_indexed"),
    413: schema.error(
        "The image is too large: file bytes (too_large), pixels (too_many_pixels) or decoded bytes "
        "(decoded_too_large).",
        "too_large",
    ),
    415: schema.error(
        "Not an image format (unsupported_format) or sample type (unsupported_mode) we accept.", "unsupported_format"
    ),
    429: schema.THROTTLED,
    503: schema.UNAVAILABLE,
}


class RecommendationsApi(APIView):
    permission_classes = [AllowAny]
    throttle_classes = RECOMMENDATION_THROTTLES
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(
        operation_id="recommendations_create",
        summary="Recommend products for a photo or a catalog product",
        description=(
            "Send a photo (multipart field `image`) or a `product_id` (JSON or form), plus optional "
            "filters and `k`. For a photo, the detected garments are returned and the recommendations "
            "are for `garment` (default 0: the main garment, chosen by prominence: kind, size and "
            "centrality). Anonymous callers are throttled."
        ),
        request={
            "multipart/form-data": RecommendationsInputSerializer,
            "application/json": RecommendationsInputSerializer,
        },
        responses={200: RECOMMENDATIONS_RESPONSE, **_ERRORS},
        examples=[_EXAMPLE],
    )
    def post(self, request: Request) -> Response:
        started = time.perf_counter()
        serializer = RecommendationsInputSerializer(data=plain_data(request.data, LIST_FIELDS))
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        recommend_request = _request(values)
        if "product_id" in values:
            result = selectors.recommendations_for_product(
                product_id=values["product_id"], request=recommend_request, user_id=_user_id(request)
            )
            return Response(_body(result, kind="product", product_id=values["product_id"], started=started))
        return self._for_image(request, values, recommend_request, started)

    def _for_image(self, request: Request, values: dict, recommend_request, started: float) -> Response:
        upload = values["image"]
        if upload.size is not None and upload.size > settings.FASHIONREC_MAX_UPLOAD_BYTES:
            raise ApiError(
                f"The image is larger than {settings.FASHIONREC_MAX_UPLOAD_BYTES} bytes.",
                code="too_large",
                status_code=413,
            )
        pipeline = _pipeline()
        try:
            analysis = pipeline.analyse(upload.read())
        except ImageRejected as rejected:
            raise image_rejected_error(rejected) from None
        index = values.get("garment", 0)
        if index >= len(analysis.garments):
            raise ApiError(
                f"garment {index} does not exist: {len(analysis.garments)} garment(s) detected.",
                code="invalid",
                details={"garment": [f"Must be below {len(analysis.garments)}."]},
            )
        crop = analysis.garments[index]
        result = selectors.recommendations_for_vector(
            vector=queries.vector_literal(crop.embedding),
            encoder_version=pipeline.encoder_version,
            request=recommend_request,
            user_id=_user_id(request),
            timings={name: round(value, 2) for name, value in analysis.timings_ms.items()},
        )
        garments = [
            {
                "index": n,
                "box": [int(v) for v in garment.box],
                "label": garment.label,
                "confidence": round(float(garment.confidence), 4),
                "is_whole_image": garment.is_whole_image,
            }
            for n, garment in enumerate(analysis.garments)
        ]
        body = _body(
            result,
            kind="image",
            product_id=None,
            started=started,
            image={"width": analysis.width, "height": analysis.height},
            garments=garments,
            garment=index,
        )
        return Response(body)


def _pipeline():
    """The process-wide vision pipeline; 503 while its module or weights are missing."""
    try:
        from recommender.vision.pipeline import get_pipeline

        return get_pipeline()
    except (ImportError, FileNotFoundError, OSError) as missing:
        logger.warning("vision pipeline unavailable: %s", missing)
        raise ApiError(
            "Image search is not available: the vision models are not installed.",
            code="vision_unavailable",
            status_code=503,
        ) from None


class SimilarProductsApi(APIView):
    permission_classes = [AllowAny]
    throttle_classes = RECOMMENDATION_THROTTLES

    @extend_schema(
        operation_id="products_similar",
        summary="Products that look like this one",
        description="The same filters, `k` and response as POST /recommendations/ with a product_id.",
        parameters=[
            *[p for p in PRODUCT_LIST_PARAMETERS if p.name not in ("q", "include_inactive")],
            OpenApiParameter("k", int, description=f"Default 12, capped at {settings.FASHIONREC_RECOMMEND_K_MAX}."),
            OpenApiParameter("exclude", str, description="Product ids to leave out (comma-separated or repeated)."),
            OpenApiParameter("max_per_category", int, description="Diversify: at most this many per category."),
            OpenApiParameter("product_id", OpenApiTypes.INT, OpenApiParameter.PATH),
        ],
        responses={200: RECOMMENDATIONS_RESPONSE, **{code: _ERRORS[code] for code in (400, 404, 409, 429, 503)}},
        examples=[_EXAMPLE],
    )
    def get(self, request: Request, product_id: str) -> Response:
        started = time.perf_counter()
        pk = _parse_id(product_id)
        if pk is None:
            raise ApiError(f"Product {product_id} does not exist.", code="not_found", status_code=404)
        serializer = RecommendFilterInputSerializer(data=plain_data(request.query_params, LIST_FIELDS))
        serializer.is_valid(raise_exception=True)
        result = selectors.recommendations_for_product(
            product_id=pk, request=_request(serializer.validated_data), user_id=_user_id(request)
        )
        return Response(_body(result, kind="product", product_id=pk, started=started))
