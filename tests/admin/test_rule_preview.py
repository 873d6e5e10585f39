"""The rule preview: top results for a sample product with and without the rule in the form."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pytest
from django.urls import reverse

from catalog.models import SeasonalRule, SeasonalRuleChange
from catalog.services.rules import seasonal_rule_create, seasonal_rule_next_active_day
from recommender.models import EMBEDDING_DIM, EncoderVersion, Garment
from recommender.rule_preview import seasonal_rule_preview
from tests.factories import brand_create, category_create, image_create, product_create

pytestmark = pytest.mark.django_db

ON = dt.date(2026, 7, 1)


def vector_at(similarity: float, axis: int) -> list[float]:
    """A unit vector whose cosine similarity to e0 is ``similarity``."""
    vector = np.zeros(EMBEDDING_DIM)
    vector[0], vector[axis] = similarity, np.sqrt(1 - similarity**2)
    return vector.tolist()


@pytest.fixture
def shelf(db):
    """A sample product and four neighbours: Acme at 0.95 and 0.90, Zara at 0.85 and 0.80."""
    EncoderVersion.objects.create(name="test-v1", is_active=True)
    category = category_create("women/tops")
    acme, zara = brand_create("Acme"), brand_create("Zara")
    products = {}
    for name, brand, similarity, axis in [
        ("sample", acme, 1.0, 1),
        ("acme-95", acme, 0.95, 2),
        ("acme-90", acme, 0.90, 3),
        ("zara-85", zara, 0.85, 4),
        ("zara-80", zara, 0.80, 5),
    ]:
        product = product_create(sku=name, category=category, brand=brand, sizes={"M": 5})
        image = image_create(product)
        Garment.objects.create(
            image=image,
            product=product,
            encoder_version="test-v1",
            embedding=vector_at(similarity, axis),
            box_x1=0,
            box_y1=0,
            box_x2=10,
            box_y2=10,
            label="top",
            confidence=0.9,
        )
        products[name] = product
    return {"products": products, "zara": zara}


def zara_rule(shelf, weight=0.2, **fields) -> SeasonalRule:
    fields = {"target_brand": shelf["zara"], **fields}
    return SeasonalRule(
        name="Zara summer", weight=weight, starts_on=dt.date(2026, 6, 1), ends_on=dt.date(2026, 8, 31), **fields
    )


def ranks(rows) -> dict[str, tuple]:
    return {r.product.sku: (r.rank_without, r.rank_with) for r in rows}


def test_a_boost_moves_the_targeted_products_up_and_saves_nothing(shelf):
    # given
    rule = zara_rule(shelf, weight=0.2)
    # when
    preview = seasonal_rule_preview(rule=rule, product_id=shelf["products"]["sample"].pk, on=ON, k=4)
    # then: Zara (0.85, 0.80 + 0.2) overtakes Acme (0.95, 0.90)
    assert preview.problem == ""
    assert ranks(preview.with_rule) == {
        "zara-85": (3, 1),
        "zara-80": (4, 2),
        "acme-95": (1, 3),
        "acme-90": (2, 4),
    }
    assert {r.product.sku for r in preview.moved_up} == {"zara-85", "zara-80"}
    assert {r.product.sku for r in preview.moved_down} == {"acme-95", "acme-90"}
    zara_85 = preview.with_rule[0]
    assert zara_85.seasonal_with == pytest.approx(0.2) and zara_85.seasonal_without == 0
    assert zara_85.score_with - zara_85.score_without == pytest.approx(0.2)
    # and nothing was written
    assert rule.pk is None
    assert not SeasonalRule.objects.exists()
    assert not SeasonalRuleChange.objects.exists()


def test_the_preview_weighs_a_boost_against_the_calibrated_match(shelf):
    """With the encoder version's calibration (as the API ranks), the same +0.2 that lifts Zara
    on the raw cosine is too small against a 0.5 gap in match."""
    # given: a calibration under which Acme's results are much likelier the same kind than Zara's
    EncoderVersion.objects.filter(name="test-v1").update(
        calibration={"cosines": [0.8, 0.85, 0.9, 0.95], "probabilities": [0.2, 0.3, 0.8, 0.9], "pairs": 100}
    )
    # when
    preview = seasonal_rule_preview(
        rule=zara_rule(shelf, weight=0.2), product_id=shelf["products"]["sample"].pk, on=ON, k=4
    )
    # then: nothing moves, and the rows carry the match the score adds
    assert [r.movement for r in preview.with_rule] == [0, 0, 0, 0]
    by_sku = {r.product.sku: r for r in preview.with_rule}
    assert by_sku["acme-90"].match == pytest.approx(0.8) and by_sku["zara-85"].match == pytest.approx(0.3)
    assert by_sku["zara-85"].score_with - by_sku["zara-85"].score_without == pytest.approx(0.2)


def test_a_rule_pushes_products_out_of_the_top_k(shelf):
    # given: a strong demotion of Acme with k=2
    rule = zara_rule(shelf, weight=-0.5, target_brand=shelf["products"]["acme-95"].brand)
    # when
    preview = seasonal_rule_preview(rule=rule, product_id=shelf["products"]["sample"].pk, on=ON, k=2)
    # then
    assert [r.product.sku for r in preview.with_rule] == ["zara-85", "zara-80"]
    assert all(r.rank_without is None for r in preview.with_rule)
    assert [r.product.sku for r in preview.dropped] == ["acme-95", "acme-90"]


def test_previewing_an_edit_compares_with_the_saved_rule(shelf, django_user_model):
    # given: the saved rule boosts Zara; the form turns it into a demotion
    saved = seasonal_rule_create(
        user=None,
        data={
            "name": "Zara summer",
            "target_brand": shelf["zara"],
            "weight": 0.2,
            "starts_on": dt.date(2026, 6, 1),
            "ends_on": dt.date(2026, 8, 31),
        },
    )
    edited = SeasonalRule.objects.get(pk=saved.pk)
    edited.weight = -0.2
    # when
    preview = seasonal_rule_preview(rule=edited, product_id=shelf["products"]["sample"].pk, on=ON, k=4)
    # then: "without" is today's ranking (with the saved boost), "with" the edited rule's
    assert ranks(preview.with_rule) == {
        "acme-95": (3, 1),
        "acme-90": (4, 2),
        "zara-85": (1, 3),
        "zara-80": (2, 4),
    }
    assert SeasonalRule.objects.get(pk=saved.pk).weight == 0.2
    assert SeasonalRuleChange.objects.count() == 1


def test_the_preview_page_shows_movement(client_for, shelf):
    # given
    client = client_for("merchandiser")
    form = {
        "name": "Zara summer",
        "is_active": "on",
        "weight": "0.2",
        "priority": "0",
        "starts_on": "2026-06-01",
        "ends_on": "2026-08-31",
        "target_brand": shelf["zara"].pk,
        "_preview_product": "sample",
        "_preview_date": "2026-07-01",
    }
    # when
    response = client.post(reverse("admin:catalog_seasonalrule_preview"), form)
    # then
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "SAMEORIGIN"  # shown in an iframe under the form
    html = response.content.decode()
    moves = dict(re.findall(r'data-product="(\d+)" data-move="([^"]+)"', html))
    products = shelf["products"]
    assert moves[str(products["zara-85"].pk)] == "2"
    assert moves[str(products["acme-95"].pk)] == "-2"
    assert "2 up" in html and "2 down" in html
    assert not SeasonalRule.objects.exists()


def test_the_preview_page_explains_what_is_wrong_with_the_form(client_for, shelf):
    # given: an end before the start, and a weight out of bounds
    client = client_for("merchandiser")
    form = {
        "name": "Broken",
        "weight": "0.9",
        "priority": "0",
        "starts_on": "2026-08-01",
        "ends_on": "2026-06-01",
        "target_colour": "red",
        "_preview_product": "sample",
    }
    # when
    html = client.post(reverse("admin:catalog_seasonalrule_preview"), form).content.decode()
    # then
    assert "ends (2026-06-01) before it starts (2026-08-01)" in html
    assert "between -0.5 and 0.5" in html
    assert "Similar to" not in html


def test_the_preview_page_asks_for_a_known_sample_product(client_for, shelf):
    client = client_for("merchandiser")
    form = {"name": "x", "weight": "0.1", "priority": "0", "season": "", "target_colour": "red"}
    form |= {"starts_on": "2026-06-01", "ends_on": "2026-06-02", "_preview_product": "NOPE"}
    html = client.post(reverse("admin:catalog_seasonalrule_preview"), form).content.decode()
    assert "No product with SKU or id “NOPE”" in html


@pytest.mark.parametrize(
    ("fields", "after", "expected"),
    [
        ({"starts_on": dt.date(2026, 6, 1), "ends_on": dt.date(2026, 8, 31)}, dt.date(2026, 7, 4), dt.date(2026, 7, 4)),
        ({"starts_on": dt.date(2026, 6, 1), "ends_on": dt.date(2026, 8, 31)}, dt.date(2026, 3, 1), dt.date(2026, 6, 1)),
        (
            {"starts_on": dt.date(2026, 6, 1), "ends_on": dt.date(2026, 8, 31)},
            dt.date(2026, 11, 1),
            dt.date(2026, 6, 1),
        ),
    ],
)
def test_the_preview_day_defaults_to_a_day_the_window_is_open(fields, after, expected):
    rule = SeasonalRule(name="x", weight=0.1, target_colour="red", **fields)
    assert seasonal_rule_next_active_day(rule=rule, after=after) == expected


def test_the_preview_day_of_a_season_rule_wraps_the_year(season_winter):
    rule = SeasonalRule(name="x", weight=0.1, target_colour="red", season=season_winter)
    assert seasonal_rule_next_active_day(rule=rule, after=dt.date(2026, 7, 1)) == dt.date(2026, 12, 1)
    assert seasonal_rule_next_active_day(rule=rule, after=dt.date(2027, 1, 10)) == dt.date(2027, 1, 10)
