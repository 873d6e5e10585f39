"""``/api/v1/products/``, ``/categories/``, ``/seasons/``: the catalog for shoppers; writes for staff."""

from __future__ import annotations

from dataclasses import replace

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import selectors
from catalog.api.permissions import CatalogModelPermission, PricesAndStockReadOnlyForMerchandisers
from catalog.errors import CategoryNotFound, ProductNotFound, UnknownFilterValue, VariantNotFound
from catalog.filters import LIST_PARAMETERS, filter_fields, filter_parameters, filters_from, validate_price_range
from catalog.garment_kinds import KINDS
from catalog.models import Brand, Category, Product, ProductVariant, Season
from catalog.models.products import Colour, Department
from catalog.services import categories as category_services
from catalog.services import products as product_services
from fashionrec.api import schema
from fashionrec.api.fields import id_field, parse_id, plain_data
from fashionrec.api.pagination import CappedLimitOffsetPagination, validated_paginator


def _validate_filters(self, attrs):
    validate_price_range(attrs)
    return attrs


# The filter fields come from their one declaration (catalog.filters); type() keeps their order.
ProductFilterInputSerializer = type(
    "ProductFilterInputSerializer",
    (serializers.Serializer,),
    {**filter_fields(recommend=False), "validate": _validate_filters, "__module__": __name__},
)


# --- output ---------------------------------------------------------------------------------


class SeasonRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


def primary_image_url(product: Product) -> str | None:
    images = list(product.images.all())  # prefetched, primary first
    return images[0].file.url if images and images[0].file else None


def stock_by_size(product: Product) -> dict[str, int]:
    stock: dict[str, int] = {}
    for variant in product.variants.all():  # prefetched
        stock[variant.size] = stock.get(variant.size, 0) + variant.stock
    return stock


class ProductCardSerializer(serializers.Serializer):
    """What a product tile shows (recommendation results and product lists)."""

    id = serializers.IntegerField()
    sku = serializers.CharField()
    title = serializers.CharField()
    brand = serializers.SerializerMethodField()
    category = serializers.SerializerMethodField()
    category_id = serializers.IntegerField()
    department = serializers.CharField()
    colour = serializers.CharField()
    price = serializers.DecimalField(max_digits=10, decimal_places=2)
    currency = serializers.CharField()
    primary_image_url = serializers.SerializerMethodField()
    stock_by_size = serializers.SerializerMethodField()
    seasons = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    def get_brand(self, product: Product) -> str | None:
        return product.brand.name if product.brand_id else None

    def get_category(self, product: Product) -> str:
        return str(product.category)

    def get_primary_image_url(self, product: Product) -> str | None:
        return primary_image_url(product)

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "integer"}, "example": {"M": 3}})
    def get_stock_by_size(self, product: Product) -> dict[str, int]:
        return stock_by_size(product)

    @extend_schema_field(SeasonRefSerializer(many=True))
    def get_seasons(self, product: Product) -> list[dict]:
        return [{"id": season.pk, "name": season.name} for season in product.seasons.all()]

    def get_url(self, product: Product) -> str:
        return f"/api/v1/products/{product.pk}/"


class VariantOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField()
    size = serializers.CharField()
    colour = serializers.CharField()
    stock = serializers.IntegerField()


class ImageRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.SerializerMethodField()
    is_primary = serializers.BooleanField()
    status = serializers.CharField()

    def get_url(self, image) -> str:
        return image.file.url if image.file else ""


class ProductDetailSerializer(ProductCardSerializer):
    description = serializers.CharField()
    brand_id = serializers.IntegerField(allow_null=True)
    tags = serializers.ListField(child=serializers.CharField())
    is_active = serializers.BooleanField()
    variants = VariantOutputSerializer(many=True)
    images = ImageRefSerializer(many=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class CategoryOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField()
    parent_id = serializers.IntegerField(allow_null=True)
    path = serializers.CharField()
    label = serializers.CharField(source="__str__", help_text="women › tops › t-shirts")
    garment_kind = serializers.CharField(help_text="The kind this category sets; empty: inherited from its parent.")
    effective_garment_kind = serializers.ChoiceField(
        choices=KINDS, help_text="The kind in force for its products: its own, else the nearest parent's, else none."
    )


class SeasonOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField()
    hemisphere = serializers.CharField()
    start_month = serializers.IntegerField()
    start_day = serializers.IntegerField()
    end_month = serializers.IntegerField()
    end_day = serializers.IntegerField()


# --- product writes -------------------------------------------------------------------------


def _get(model, pk: int, field: str):
    obj = model.objects.filter(pk=pk).first()
    if obj is None:
        raise serializers.ValidationError({field: [f"Unknown {model._meta.verbose_name} {pk}."]})
    return obj


class ProductWriteSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    title = serializers.CharField(max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, max_length=20_000)
    brand = id_field(required=False, allow_null=True)
    category = id_field()
    department = serializers.ChoiceField(choices=Department.choices, required=False)
    colour = serializers.ChoiceField(choices=[("", "none"), *Colour.choices], required=False)
    price = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0)
    currency = serializers.RegexField(r"^[A-Z]{3}$", required=False)
    tags = serializers.ListField(child=serializers.CharField(max_length=40), required=False, max_length=50)
    seasons = serializers.ListField(child=id_field(), required=False, max_length=20)
    is_active = serializers.BooleanField(required=False)

    def validate(self, attrs):
        if "brand" in attrs:
            attrs["brand"] = _get(Brand, attrs["brand"], "brand") if attrs["brand"] else None
        if "category" in attrs:
            attrs["category"] = _get(Category, attrs["category"], "category")
        if "seasons" in attrs:
            attrs["seasons"] = [_get(Season, pk, "seasons") for pk in dict.fromkeys(attrs["seasons"])]
        return attrs


class VariantWriteSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    size = serializers.CharField(max_length=16)
    colour = serializers.ChoiceField(choices=[("", "none"), *Colour.choices], required=False)
    stock = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False)


def _product_or_404(product_id: str, *, include_inactive: bool) -> Product:
    pk = parse_id(product_id)
    product = selectors.product_get(pk, include_inactive=include_inactive) if pk else None
    if product is None:
        raise ProductNotFound(product_id)
    return product


def _detail(product_id: int) -> dict:
    return ProductDetailSerializer(selectors.product_get(product_id, include_inactive=True)).data


PRODUCT_LIST_PARAMETERS = [
    OpenApiParameter("q", str, description="Search in title, SKU and brand name."),
    *filter_parameters(recommend=False),
    OpenApiParameter("include_inactive", bool, description="Staff only: list inactive products too."),
]


class ProductListInputSerializer(ProductFilterInputSerializer):
    q = serializers.CharField(required=False, max_length=100, allow_blank=True)
    include_inactive = serializers.BooleanField(required=False, default=False)


class ProductListCreateApi(APIView):
    permission_classes = [CatalogModelPermission, PricesAndStockReadOnlyForMerchandisers]
    permission_model = Product
    merchandiser_read_only = ("price", "currency")
    pagination_class = CappedLimitOffsetPagination

    @extend_schema(
        operation_id="products_list",
        summary="List products",
        description="Active products, newest first, with filters, search and limit/offset pagination "
        f"(limit capped at {CappedLimitOffsetPagination.max_limit}).",
        parameters=[
            *PRODUCT_LIST_PARAMETERS,
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses={200: ProductCardSerializer(many=True), 400: schema.BAD_REQUEST},
    )
    def get(self, request: Request) -> Response:
        data = plain_data(request.query_params, LIST_PARAMETERS)
        for name in ("limit", "offset"):
            data.pop(name, None)
        params = ProductListInputSerializer(data=data)
        params.is_valid(raise_exception=True)
        values = params.validated_data
        filters = filters_from(values)
        if filters.category_id is not None:
            filters = replace(filters, category_paths=selectors.category_subtree_paths(filters.category_id))
            if not filters.category_paths:
                raise UnknownFilterValue({"category": filters.category_id})
        products = selectors.product_list(
            filters,
            search=values.get("q") or None,
            include_inactive=values.get("include_inactive", False) and request.user.is_staff,
        )
        paginator = validated_paginator(request)
        page = paginator.paginate_queryset(products, request, view=self)
        return paginator.get_paginated_response(ProductCardSerializer(page, many=True).data)

    @extend_schema(
        operation_id="products_create",
        summary="Create a product (staff)",
        request=ProductWriteSerializer,
        responses={201: ProductDetailSerializer, 400: schema.BAD_REQUEST, 403: schema.FORBIDDEN, 409: schema.CONFLICT},
    )
    def post(self, request: Request) -> Response:
        serializer = ProductWriteSerializer(data=plain_data(request.data, ("tags", "seasons")))
        serializer.is_valid(raise_exception=True)
        product = product_services.product_create(**serializer.validated_data)
        return Response(_detail(product.pk), status=status.HTTP_201_CREATED)


class ProductDetailApi(APIView):
    permission_classes = [CatalogModelPermission, PricesAndStockReadOnlyForMerchandisers]
    permission_model = Product
    merchandiser_read_only = ("price", "currency")

    @extend_schema(
        operation_id="products_retrieve",
        summary="A product with its variants and images",
        responses={200: ProductDetailSerializer, 404: schema.NOT_FOUND},
    )
    def get(self, request: Request, product_id: str) -> Response:
        product = _product_or_404(product_id, include_inactive=request.user.is_staff)
        return Response(ProductDetailSerializer(product).data)

    @extend_schema(
        operation_id="products_partial_update",
        summary="Update a product (staff)",
        request=ProductWriteSerializer(partial=True),
        responses={200: ProductDetailSerializer, 400: schema.BAD_REQUEST, 403: schema.FORBIDDEN, 404: schema.NOT_FOUND},
    )
    def patch(self, request: Request, product_id: str) -> Response:
        product = _product_or_404(product_id, include_inactive=True)
        serializer = ProductWriteSerializer(data=plain_data(request.data, ("tags", "seasons")), partial=True)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        seasons = fields.pop("seasons", None)
        product_services.product_update(product=product, seasons=seasons, **fields)
        return Response(_detail(product.pk))

    @extend_schema(
        operation_id="products_update",
        summary="Replace a product's fields (staff)",
        request=ProductWriteSerializer,
        responses={200: ProductDetailSerializer, 400: schema.BAD_REQUEST, 403: schema.FORBIDDEN, 404: schema.NOT_FOUND},
    )
    def put(self, request: Request, product_id: str) -> Response:
        product = _product_or_404(product_id, include_inactive=True)
        serializer = ProductWriteSerializer(data=plain_data(request.data, ("tags", "seasons")))
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        seasons = fields.pop("seasons", [])
        product_services.product_update(product=product, seasons=seasons, **fields)
        return Response(_detail(product.pk))

    @extend_schema(
        operation_id="products_destroy",
        summary="Delete a product with its variants and images (staff)",
        description="The image files are deleted once the deletion commits; their `/media/` URLs then answer 404.",
        request=None,
        responses={204: None, 403: schema.FORBIDDEN, 404: schema.NOT_FOUND},
    )
    def delete(self, request: Request, product_id: str) -> Response:
        product = _product_or_404(product_id, include_inactive=True)
        product_services.product_delete(product_id=product.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class VariantCreateApi(APIView):
    permission_classes = [CatalogModelPermission, PricesAndStockReadOnlyForMerchandisers]
    permission_model = ProductVariant
    merchandiser_read_only = ("stock",)

    @extend_schema(
        operation_id="products_variants_create",
        summary="Add a size/colour variant with its stock (staff)",
        request=VariantWriteSerializer,
        responses={
            201: VariantOutputSerializer,
            400: schema.BAD_REQUEST,
            403: schema.FORBIDDEN,
            404: schema.NOT_FOUND,
            409: schema.CONFLICT,
        },
    )
    def post(self, request: Request, product_id: str) -> Response:
        product = _product_or_404(product_id, include_inactive=True)
        serializer = VariantWriteSerializer(data=plain_data(request.data, ()))
        serializer.is_valid(raise_exception=True)
        variant = product_services.variant_create(product=product, **serializer.validated_data)
        return Response(VariantOutputSerializer(variant).data, status=status.HTTP_201_CREATED)


def _variant_or_404(product_id: str, variant_id: str) -> ProductVariant:
    pk, vpk = parse_id(product_id), parse_id(variant_id)
    variant = ProductVariant.objects.filter(pk=vpk, product_id=pk).first() if pk and vpk else None
    if variant is None:
        raise VariantNotFound(variant_id, product_id=product_id)
    return variant


class VariantDetailApi(APIView):
    permission_classes = [CatalogModelPermission, PricesAndStockReadOnlyForMerchandisers]
    permission_model = ProductVariant
    merchandiser_read_only = ("stock",)

    @extend_schema(
        operation_id="products_variants_partial_update",
        summary="Change a variant, typically its stock (staff)",
        request=VariantWriteSerializer(partial=True),
        responses={200: VariantOutputSerializer, 400: schema.BAD_REQUEST, 403: schema.FORBIDDEN, 404: schema.NOT_FOUND},
    )
    def patch(self, request: Request, product_id: str, variant_id: str) -> Response:
        variant = _variant_or_404(product_id, variant_id)
        serializer = VariantWriteSerializer(data=plain_data(request.data, ()), partial=True)
        serializer.is_valid(raise_exception=True)
        variant = product_services.variant_update(variant=variant, **serializer.validated_data)
        return Response(VariantOutputSerializer(variant).data)

    @extend_schema(
        operation_id="products_variants_destroy",
        summary="Delete a variant (staff)",
        request=None,
        responses={204: None, 403: schema.FORBIDDEN, 404: schema.NOT_FOUND},
    )
    def delete(self, request: Request, product_id: str, variant_id: str) -> Response:
        product_services.variant_delete(variant=_variant_or_404(product_id, variant_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class CategoryWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    slug = serializers.SlugField(max_length=120)
    parent = id_field(required=False, allow_null=True, help_text="The parent category's id; null for a root.")
    garment_kind = serializers.ChoiceField(
        choices=("", *KINDS),
        required=False,
        allow_blank=True,
        help_text="What its products are; empty: inherit the parent's. Left out on create: guessed from the name.",
    )

    def validate(self, attrs):
        if attrs.get("parent") is not None:
            attrs["parent"] = _get(Category, attrs["parent"], "parent")
        return attrs


class CategoryListApi(APIView):
    permission_classes = [CatalogModelPermission]  # anyone reads the tree; writes as admin allows
    permission_model = Category

    @extend_schema(
        operation_id="categories_list",
        summary="The category tree, flattened in path order (for filter dropdowns)",
        responses={200: CategoryOutputSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        return Response(CategoryOutputSerializer(selectors.category_list(), many=True).data)

    @extend_schema(
        operation_id="categories_create",
        summary="Add a category (catalog staff)",
        request=CategoryWriteSerializer,
        responses={201: CategoryOutputSerializer, 400: schema.BAD_REQUEST, 403: schema.FORBIDDEN},
    )
    def post(self, request: Request) -> Response:
        serializer = CategoryWriteSerializer(data=plain_data(request.data, ()))
        serializer.is_valid(raise_exception=True)
        category = category_services.category_create(**serializer.validated_data)
        return Response(CategoryOutputSerializer(category).data, status=status.HTTP_201_CREATED)


class CategoryDetailApi(APIView):
    permission_classes = [CatalogModelPermission]
    permission_model = Category

    @extend_schema(
        operation_id="categories_partial_update",
        summary="Rename or move a category (catalog staff); its sub-categories follow",
        description="Moving a category under itself or one of its sub-categories is refused (400).",
        request=CategoryWriteSerializer(partial=True),
        responses={
            200: CategoryOutputSerializer,
            400: schema.BAD_REQUEST,
            403: schema.FORBIDDEN,
            404: schema.NOT_FOUND,
        },
    )
    def patch(self, request: Request, category_id: str) -> Response:
        category = _category_or_404(category_id)
        serializer = CategoryWriteSerializer(data=plain_data(request.data, ()), partial=True)
        serializer.is_valid(raise_exception=True)
        category = category_services.category_update(category=category, **serializer.validated_data)
        return Response(CategoryOutputSerializer(category).data)

    @extend_schema(
        operation_id="categories_destroy",
        summary="Delete a category nothing uses (catalog staff)",
        description="Refused with 409 while sub-categories, products or seasonal rules use it.",
        responses={204: None, 403: schema.FORBIDDEN, 404: schema.NOT_FOUND, 409: schema.IN_USE},
    )
    def delete(self, request: Request, category_id: str) -> Response:
        category_services.category_delete(category=_category_or_404(category_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _category_or_404(category_id: str) -> Category:
    pk = parse_id(category_id)
    category = selectors.category_get(pk) if pk else None
    if category is None:
        raise CategoryNotFound(category_id)
    return category


class SeasonListApi(APIView):
    permission_classes = []

    @extend_schema(
        operation_id="seasons_list",
        summary="Seasons (for filter dropdowns)",
        responses={200: SeasonOutputSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        return Response(SeasonOutputSerializer(selectors.season_list(), many=True).data)


__all__ = [
    "CategoryDetailApi",
    "CategoryListApi",
    "ProductCardSerializer",
    "ProductDetailApi",
    "ProductFilterInputSerializer",
    "ProductListCreateApi",
    "SeasonListApi",
    "VariantCreateApi",
    "VariantDetailApi",
]
