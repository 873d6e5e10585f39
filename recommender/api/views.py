"""``POST /api/v1/recommendations/`` and ``GET /api/v1/products/{id}/similar/``."""

from __future__ import annotations

import logging
import time
from types import SimpleNamespace
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
from recommender.analysis_cache import image_analysis
from recommender.api.serializers import RecommendationsSerializer
from recommender.api.throttles import RECOMMENDATION_THROTTLES
from recommender.errors import GarmentNotDetected, VisionUnavailable
from recommender.vision.garment_choice import EVERY_GARMENT

if TYPE_CHECKING:  # the pipeline module loads torch: only when a photo is first analysed
    from recommender.vision.pipeline import ImageAnalysis

logger = logging.getLogger(__name__)


# garments=all: results for every detected garment in one call.
ALL_GARMENTS = "all"


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
    garments = serializers.ChoiceField(
        choices=[ALL_GARMENTS],
        required=False,
        help_text="`all`: results for every detected garment of the photo (`results_by_garment`), the main "
        "garment first, each with its own top k and the same filters; `garment` then says whose list "
        "`results` repeats (default 0, the main garment).",
    )

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if ("image" in attrs) == ("product_id" in attrs):
            raise serializers.ValidationError({"non_field_errors": ["Send exactly one of image or product_id."]})
        for name in ("garment", "garments"):
            if name in attrs and "image" not in attrs:
                raise serializers.ValidationError({name: ["Only meaningful with an image."]})
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
    per_garment: list[selectors.RecommendationResult] | None = None,
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
            "garments": _detected(analysis),
            "garment": garment,
            "results": result.results,
            "results_by_garment": [
                {**detected, "results": garment_result.results}
                for detected, garment_result in zip(_detected(analysis), per_garment or [], strict=False)
            ],
            "timings_ms": timings,
        }
    ).data


def _detected(analysis: ImageAnalysis | None) -> list[dict]:
    # The pipeline lists the main garment first (recommender.vision.main_garment).
    if analysis is None:
        return []
    return [{"index": n, "crop": crop, "is_main": n == 0} for n, crop in enumerate(analysis.garments)]


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
_RECOMMENDATION_SAMPLE = selectors.Recommendation(
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
_EXAMPLE = OpenApiExample(
    "product query",
    value=RecommendationsSerializer(
        {
            "query": {"kind": "product", "product_id": 1, "k": 12, "plan": "ann", "estimated_rows": 9000},
            "image": None,
            "garments": [],
            "garment": None,
            "results_by_garment": [],
            "results": [_RECOMMENDATION_SAMPLE],
            "timings_ms": {"lookup": 0.6, "query": 4.2, "hydrate": 2.0, "total": 8.1},
        }
    ).data,
    response_only=True,
)
# A street photo sent with garments=all: a skirt (the main garment, though the detector is surer of
# the shoe) and a shoe, each with its own results (one sample each, k=1 to keep it short).
_LOOK_GARMENTS = [
    {
        "index": 0,
        "is_main": True,
        "crop": SimpleNamespace(box=(140, 300, 420, 640), label="skirt", confidence=0.41, is_whole_image=False),
    },
    {
        "index": 1,
        "is_main": False,
        "crop": SimpleNamespace(box=(200, 760, 270, 830), label="shoes", confidence=0.88, is_whole_image=False),
    },
]
_LOOK_EXAMPLE = OpenApiExample(
    "photo with garments all",
    value=RecommendationsSerializer(
        {
            "query": {"kind": "image", "product_id": None, "k": 1, "plan": "ann", "estimated_rows": 9000},
            "image": {"width": 550, "height": 843},
            "garments": _LOOK_GARMENTS,
            "garment": 0,
            "results": [_RECOMMENDATION_SAMPLE],
            "results_by_garment": [{**garment, "results": [_RECOMMENDATION_SAMPLE]} for garment in _LOOK_GARMENTS],
            "timings_ms": {
                "decode": 6.0,
                "detect": 45.0,
                "encode": 20.0,
                "lookup": 0.9,
                "query": 9.1,
                "hydrate": 2.1,
                "total": 86.0,
            },
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
            "centrality). With `garments=all`, `results_by_garment` holds every detected garment with "
            "its own top k (the same filters for each), the main garment first; `results` stays the "
            "main garment's. Anonymous callers are throttled."
        ),
        request={
            "multipart/form-data": RecommendationsInputSerializer,
            "application/json": RecommendationsInputSerializer,
        },
        responses={200: RecommendationsSerializer, **_ERRORS},
        examples=[_EXAMPLE, _LOOK_EXAMPLE],
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
        index = values.get("garment", 0)
        every = values.get("garments") == ALL_GARMENTS
        # only the garment(s) this answer needs are encoded; the others stay boxes to pick from
        analysis = image_analysis(pipeline, upload.read(), encode=EVERY_GARMENT if every else (index,))
        timings = {name: round(value, 2) for name, value in analysis.timings_ms.items()}
        if index >= len(analysis.garments):
            raise GarmentNotDetected(index, len(analysis.garments))
        if every:
            body = self._every_garment(request, analysis, pipeline, recommend_request, timings, started, index)
            return Response(body)
        crop = analysis.garments[index]
        result = selectors.recommendations_for_vector(
            vector=queries.vector_literal(crop.embedding),
            encoder_version=pipeline.encoder_version,
            request=recommend_request,
            user_id=_user_id(request),
            timings=timings,
        )
        body = _body(result, kind="image", product_id=None, started=started, analysis=analysis, garment=index)
        return Response(body)

    def _every_garment(
        self, request: Request, analysis, pipeline, recommend_request, timings, started, index: int
    ) -> dict:
        """garments=all: one result list per detected garment; ``results`` repeats garment ``index``'s."""
        per_garment = selectors.recommendations_for_vectors(
            vectors=[queries.vector_literal(crop.embedding) for crop in analysis.garments],
            encoder_version=pipeline.encoder_version,
            request=recommend_request,
            user_id=_user_id(request),
            timings=timings,
        )
        chosen = per_garment[index]
        chosen.timings_ms["query"] = round(sum(result.timings_ms["query"] for result in per_garment), 2)
        return _body(
            chosen,
            kind="image",
            product_id=None,
            started=started,
            analysis=analysis,
            garment=index,
            per_garment=per_garment,
        )


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
