"""Admin lists cost the same number of queries for 3 rows as for 6 (no query per row)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.models import ProductImage
from catalog.services.rules import seasonal_rule_create
from recommender.models import Garment, GarmentCorrection
from tests.factories import brand_create, category_create, garment_create, image_create, product_create
from users.models import Interaction

pytestmark = pytest.mark.django_db


def add_rows(n: int, users, season) -> None:
    """n products with an image, a garment, a correction, a rule (and its history) and an interaction."""
    for _ in range(n):
        product = product_create(category=category_create("women/tops"), brand=brand_create("Acme"))
        image = image_create(product)
        garment = garment_create(product, image=image)
        GarmentCorrection.objects.create(
            image=image, garment=garment, box_x1=0, box_y1=0, box_x2=9, box_y2=9, label="top", encoder_version="v"
        )
        seasonal_rule_create(
            user=users["merchandiser"],
            data={"name": f"rule {product.pk}", "season": season, "target_tag": "x", "weight": 0.1},
        )
        seasonal_rule_create(
            user=users["merchandiser"],
            data={
                "name": f"dated {product.pk}",
                "starts_on": dt.date(2026, 1, 1),
                "ends_on": dt.date(2026, 2, 1),
                "target_colour": "red",
                "weight": 0.1,
            },
        )
        Interaction.objects.create(user=users["shopper"], product=product, kind="view")


@pytest.mark.parametrize(
    "page",
    [
        "admin:catalog_product_changelist",
        "admin:catalog_productimage_changelist",
        "admin:catalog_productvariant_changelist",
        "admin:catalog_season_changelist",
        "admin:catalog_seasonalrule_changelist",
        "admin:catalog_seasonalrulechange_changelist",
        "admin:recommender_garment_changelist",
        "admin:recommender_garmentcorrection_changelist",
        "admin:users_interaction_changelist",
    ],
)
def test_a_changelist_does_not_query_per_row(client_for, users, season_summer, page):
    # given
    client = client_for("superuser")
    url = reverse(page)
    add_rows(3, users, season_summer)
    client.get(url)  # warm caches (content types, session)
    with CaptureQueriesContext(connection) as three:
        assert client.get(url).status_code == 200
    # when
    add_rows(3, users, season_summer)
    with CaptureQueriesContext(connection) as six:
        assert client.get(url).status_code == 200
    # then
    assert len(six) == len(three), "\n".join(q["sql"][:200] for q in six.captured_queries)
    assert ProductImage.objects.count() == Garment.objects.count() == 6
