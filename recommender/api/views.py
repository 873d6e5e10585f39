"""``POST /api/v1/recommendations/`` and ``GET /api/v1/products/{id}/similar/``."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.api.products import ProductCardSerializer, ProductFilterInputSerializer
from catalog.errors import ProductNotFound
from catalog.filters import FILTERS_BY_NAME, LIST_PARAMETERS, filter_parameters, filters_from
from fashionrec.api import schema
from fashionrec.api.fields import id_field, parse_id, plain_data
from fashionrec.imaging import ImageRejected
from recommender import queries, selectors
from recommender.api.serializers import RecommendationsSerializer
from recommender.api.throttles import RECOMMENDATION_THROTTLES
from recommender.errors import GarmentNotDetected, VisionUnavailable

if TYPE_CHECKING:  # the pipeline module loads torch: only when a photo is first analysed
    from recommender.vision.pipeline import ImageAnalysis

logger = logging.getLogger(__name__)


class RecommendFilterInputSerializer(ProductFilterInputSerializer):
    k = serializers.IntegerField(
        min_value=1,
        required=False,
        default=settings.FASHIONREC_RECOMMEND_K_DEFAULT,
        help_text=f"Results wanted; capped at {settings.FASHIONREC_RECOMMEND_K_MAX}.",
    )
    exclude = FILTERS_BY_NAME["exclude"].make_field()
    max_per_category = serializers.IntegerField(
        min_value=0, max_value=1000, required=False, help_text="Diversify: at most this many per category (0: off)."
    )


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
        filters=filters_from(values),
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
    analysis: ImageAnalysis | None = None,
    garment: int | None = None,
) -> dict:
    timings = dict(result.timings_ms)
    timings["total"] = round((time.perf_counter() - started) * 1000, 2)
    return RecommendationsSerializer(
        {
            "query": {
                "kind": kind,
                "product_id": product_id,
                "k": result.k,
                "plan": result.plan,
                "estimated_rows": result.estimated_rows,
            },
            "image": analysis,
            "garments": [{"index": n, "crop": crop} for n, crop in enumerate(analysis.garments)] if analysis else [],
            "garment": garment,
            "results": result.results,
            "timings_ms": timings,
        }
    ).data


# --- OpenAPI --------------------------------------------------------------------------------

# The example is rendered by the response serializers from one sample of each part, and its card
# has exactly the fields of ProductCardSerializer (a KeyError here names a field without a sample).
_CARD_SAMPLE = {
    "id": 7,
    "sku": "SKU-7",
    "title": "Linen shirt",
    "brand": "Nordwind",
    "category": "women › tops",
    "category_id": 3,
    "department": "women",
    "colour": "white",
    "price": "49.90",
    "currency": "EUR",
    "primary_image_url": "/media/products/7/a.img",
    "stock_by_size": {"M": 3},
    "seasons": [{"id": 1, "name": "Summer"}],
    "url": "/api/v1/products/7/",
}
_EXAMPLE = OpenApiExample(
    "product query",
    value=RecommendationsSerializer(
        {
            "query": {"kind": "product", "product_id": 1, "k": 12, "plan": "ann", "estimated_rows": 9000},
            "image": None,
            "garments": [],
            "garment": None,
            "results": [
                selectors.Recommendation(
                    row=queries.RecommendRow(
                        product_id=7,
                        garment_id=70,
                        image_id=71,
                        category_id=3,
                        similarity=0.83,
                        match=0.83,
                        score=0.95,
                        breakdown={
                            "similarity": 0.83,
                            "match": 0.83,
                            "seasonal": 0.1,
                            "preference": 0.0,
                            "taste": 0.0,
                            "dislike": 0.0,
                            "inventory": 0.02,
                        },
                    ),
                    card={name: _CARD_SAMPLE[name] for name in ProductCardSerializer().fields},
                )
            ],
            "timings_ms": {"lookup": 0.6, "query": 4.2, "hydrate": 2.0, "total": 8.1},
        }
    ).data,
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
        responses={200: RecommendationsSerializer, **_ERRORS},
        examples=[_EXAMPLE],
    )
    def post(self, request: Request) -> Response:
        started = time.perf_counter()
        serializer = RecommendationsInputSerializer(data=plain_data(request.data, LIST_PARAMETERS))
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
            raise ImageRejected("too_large", f"The image is larger than {settings.FASHIONREC_MAX_UPLOAD_BYTES} bytes.")
        pipeline = _pipeline()
        analysis = pipeline.analyse(upload.read())
        index = values.get("garment", 0)
        if index >= len(analysis.garments):
            raise GarmentNotDetected(index, len(analysis.garments))
        crop = analysis.garments[index]
        result = selectors.recommendations_for_vector(
            vector=queries.vector_literal(crop.embedding),
            encoder_version=pipeline.encoder_version,
            request=recommend_request,
            user_id=_user_id(request),
            timings={name: round(value, 2) for name, value in analysis.timings_ms.items()},
        )
        body = _body(result, kind="image", product_id=None, started=started, analysis=analysis, garment=index)
        return Response(body)


def _pipeline():
    """The process-wide vision pipeline; 503 while its module or weights are missing."""
    try:
        from recommender.vision.pipeline import get_pipeline

        return get_pipeline()
    except (ImportError, FileNotFoundError, OSError) as missing:
        logger.warning("vision pipeline unavailable: %s", missing)
        raise VisionUnavailable() from None


class SimilarProductsApi(APIView):
    permission_classes = [AllowAny]
    throttle_classes = RECOMMENDATION_THROTTLES

    @extend_schema(
        operation_id="products_similar",
        summary="Products that look like this one",
        description="The same filters, `k` and response as POST /recommendations/ with a product_id.",
        parameters=[
            *filter_parameters(recommend=True),
            OpenApiParameter("k", int, description=f"Default 12, capped at {settings.FASHIONREC_RECOMMEND_K_MAX}."),
            OpenApiParameter("max_per_category", int, description="Diversify: at most this many per category."),
            OpenApiParameter("product_id", OpenApiTypes.INT, OpenApiParameter.PATH),
        ],
        responses={200: RecommendationsSerializer, **{code: _ERRORS[code] for code in (400, 404, 409, 429, 503)}},
        examples=[_EXAMPLE],
    )
    def get(self, request: Request, product_id: str) -> Response:
        started = time.perf_counter()
        pk = parse_id(product_id)
        if pk is None:
            raise ProductNotFound(product_id)
        serializer = RecommendFilterInputSerializer(data=plain_data(request.query_params, LIST_PARAMETERS))
        serializer.is_valid(raise_exception=True)
        result = selectors.recommendations_for_product(
            product_id=pk, request=_request(serializer.validated_data), user_id=_user_id(request)
        )
        return Response(_body(result, kind="product", product_id=pk, started=started))
