"""The product filters, declared once.

``FILTERS`` is the one declaration of what a shopper can filter products by. Everything else is
derived from it, never restated:

* the input serializer fields (``filter_fields``), hence the request body schemas;
* the OpenAPI query parameters (``filter_parameters``) of the list and similar endpoints;
* the ORM condition on ``Product`` (``filters_q``), used by the product list;
* the SQL condition on the denormalised garment rows (the search copy of the products), built
  by the app that owns them from each filter's ``match`` and ``column``.

A category filter is the list of the paths of the category and of every category below it
(``ProductFilters.category_paths``) in both the ORM and the SQL: equality on a list of paths lets
PostgreSQL read one index range per path with the price bounds inside it.
``tests/catalog/test_filters.py`` holds the four to the same answer for every filter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from django.db.models import Exists, OuterRef, Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from catalog.models import ProductVariant
from catalog.models.products import Colour, Department
from fashionrec.api.fields import CommaSeparatedListField, id_field


class Match(StrEnum):
    """How a filter's value is compared; the recommend SQL has one template per kind."""

    ANY_OF = "any_of"  # the column equals one of the values
    AT_LEAST = "at_least"
    AT_MOST = "at_most"
    OVERLAPS = "overlaps"  # the array column shares a value with the values
    IS_TRUE = "is_true"  # a flag: True filters, False does not
    EQUALS = "equals"
    CONTAINS = "contains"  # the array column contains the value
    NONE_OF = "none_of"  # the column equals none of the values


@dataclass(frozen=True)
class ProductFilters:
    """Validated filter values. ``category_id`` is what was asked; ``category_paths`` what it means
    (the category's subtree), resolved by the selector that runs the filter."""

    category_id: int | None = None
    category_paths: tuple[str, ...] = ()
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    sizes: tuple[str, ...] = ()  # any of these sizes in stock
    in_stock: bool = False  # False: no stock filter
    department: str | None = None
    brand_id: int | None = None
    colour: str | None = None
    season_id: int | None = None
    exclude: tuple[int, ...] = ()  # product ids

    def is_set(self, product_filter: ProductFilter) -> bool:
        value = getattr(self, product_filter.attribute)
        return value not in (None, (), False)


def _stocked(sizes: Iterable[str] = ()) -> Q:
    variants = ProductVariant.objects.filter(product=OuterRef("pk"), stock__gt=0)
    if sizes:
        variants = variants.filter(size__in=list(sizes))
    return Q(Exists(variants))


def _unique(values) -> tuple:
    return tuple(dict.fromkeys(values))  # order kept, repeats dropped


@dataclass(frozen=True)
class ProductFilter:
    name: str  # the API parameter
    attribute: str  # the ProductFilters field the ORM and the SQL read
    make_field: Callable[[], serializers.Field]  # the input field
    match: Match
    column: str  # the column of the denormalised garment row (the search copy) it tests
    sql_type: str  # the PostgreSQL type of the bound value (arrays: of one element)
    orm: Callable[[Any], Q]  # the condition on Product
    description: str = ""
    api_attribute: str = ""  # where the parsed API value goes, when not ``attribute`` (category → id)
    to_value: Callable[[Any], Any] = field(default=lambda value: value)
    recommend_only: bool = False  # not a parameter of the product list

    @property
    def openapi_type(self):
        return _OPENAPI_TYPES[type(self.make_field())]


FILTERS: tuple[ProductFilter, ...] = (
    ProductFilter(
        name="category",
        attribute="category_paths",
        api_attribute="category_id",
        make_field=lambda: id_field(required=False, help_text="A category id; its sub-categories are included."),
        match=Match.ANY_OF,
        column="category_path",
        sql_type="varchar",
        orm=lambda paths: Q(category__path__in=list(paths)),
        description="A category id; its sub-categories are included.",
    ),
    ProductFilter(
        name="brand",
        attribute="brand_id",
        make_field=lambda: id_field(required=False),
        match=Match.EQUALS,
        column="brand_id",
        sql_type="bigint",
        orm=lambda brand_id: Q(brand_id=brand_id),
    ),
    ProductFilter(
        name="department",
        attribute="department",
        make_field=lambda: serializers.ChoiceField(choices=Department.choices, required=False),
        match=Match.EQUALS,
        column="department",
        sql_type="varchar",
        orm=lambda department: Q(department=department),
    ),
    ProductFilter(
        name="colour",
        attribute="colour",
        make_field=lambda: serializers.ChoiceField(choices=Colour.choices, required=False),
        match=Match.EQUALS,
        column="colour",
        sql_type="varchar",
        orm=lambda colour: Q(colour=colour),
    ),
    ProductFilter(
        name="price_min",
        attribute="price_min",
        make_field=lambda: serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, required=False),
        match=Match.AT_LEAST,
        column="price",
        sql_type="numeric",
        orm=lambda price: Q(price__gte=price),
    ),
    ProductFilter(
        name="price_max",
        attribute="price_max",
        make_field=lambda: serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, required=False),
        match=Match.AT_MOST,
        column="price",
        sql_type="numeric",
        orm=lambda price: Q(price__lte=price),
    ),
    ProductFilter(
        name="in_stock",
        attribute="in_stock",
        make_field=lambda: serializers.BooleanField(required=False, default=False),
        match=Match.IS_TRUE,
        column="in_stock",
        sql_type="boolean",
        orm=lambda _: _stocked(),
    ),
    ProductFilter(
        name="sizes",
        attribute="sizes",
        make_field=lambda: CommaSeparatedListField(
            child=serializers.CharField(max_length=16), required=False, max_length=30, default=list
        ),
        match=Match.OVERLAPS,
        column="sizes_in_stock",
        sql_type="varchar",
        orm=_stocked,
        description="Comma-separated, or repeated: any of them in stock.",
        to_value=_unique,
    ),
    ProductFilter(
        name="season",
        attribute="season_id",
        make_field=lambda: id_field(required=False),
        match=Match.CONTAINS,
        column="season_ids",
        sql_type="bigint",
        orm=lambda season_id: Q(seasons__id=season_id),
    ),
    ProductFilter(
        name="exclude",
        attribute="exclude",
        # like sizes, exclude may come comma-separated, repeated or as a JSON list
        make_field=lambda: CommaSeparatedListField(child=id_field(), required=False, default=list, max_length=200),
        match=Match.NONE_OF,
        column="product_id",
        sql_type="bigint",
        orm=lambda ids: ~Q(pk__in=list(ids)),
        description="Product ids to leave out (comma-separated or repeated).",
        to_value=_unique,
        recommend_only=True,
    ),
)

FILTERS_BY_NAME = {product_filter.name: product_filter for product_filter in FILTERS}
LIST_PARAMETERS = tuple(f.name for f in FILTERS if isinstance(f.make_field(), serializers.ListField))

_OPENAPI_TYPES = {
    serializers.IntegerField: OpenApiTypes.INT,
    serializers.ChoiceField: OpenApiTypes.STR,
    serializers.DecimalField: OpenApiTypes.DECIMAL,
    serializers.BooleanField: OpenApiTypes.BOOL,
    CommaSeparatedListField: OpenApiTypes.STR,  # in a query string: comma-separated or repeated
}


def filter_fields(*, recommend: bool) -> dict[str, serializers.Field]:
    """The input fields of the filters, for a serializer's declared fields."""
    return {f.name: f.make_field() for f in FILTERS if recommend or not f.recommend_only}


def filter_parameters(*, recommend: bool) -> list[OpenApiParameter]:
    """The filters as OpenAPI query parameters."""
    parameters = []
    for f in FILTERS:
        if f.recommend_only and not recommend:
            continue
        input_field = f.make_field()
        choices = getattr(input_field, "choices", None)
        parameters.append(
            OpenApiParameter(
                f.name,
                f.openapi_type,
                description=f.description,
                enum=list(choices) if choices else None,
            )
        )
    return parameters


def validate_price_range(attrs: dict) -> None:
    low, high = attrs.get("price_min"), attrs.get("price_max")
    if low is not None and high is not None and low > high:
        raise serializers.ValidationError({"price_min": ["Must not exceed price_max."]})


def filters_from(values: dict) -> ProductFilters:
    """Validated input (``serializer.validated_data``) as ``ProductFilters`` (category not resolved)."""
    parsed = {}
    for f in FILTERS:
        if values.get(f.name) is not None:
            parsed[f.api_attribute or f.attribute] = f.to_value(values[f.name])
    return ProductFilters(**parsed)


def filters_q(filters: ProductFilters) -> Q:
    """The ORM condition on ``Product`` of every filter that is set."""
    condition = Q()
    for f in FILTERS:
        if filters.is_set(f):
            condition &= f.orm(getattr(filters, f.attribute))
    return condition
