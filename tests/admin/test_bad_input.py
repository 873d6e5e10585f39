"""Hostile or mistyped input in admin URLs and forms: a clear message or a 404, never a 500."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import category_create, product_create

pytestmark = pytest.mark.django_db

RULE_FORM = {"name": "x", "weight": "0.1", "priority": "0", "target_colour": "red"}


@pytest.mark.parametrize("value", ["\x00", "women/\x00tops"])
def test_a_category_filter_with_a_nul_byte_is_an_incorrect_lookup_not_a_500(client_for, value):
    # given: a catalog with one product (PostgreSQL text can never hold NUL)
    product_create(category=category_create("women/tops"))
    client = client_for("staff")
    # when
    response = client.get(reverse("admin:catalog_product_changelist"), {"category_path": value})
    # then: the admin's own answer to a bad filter, a redirect to the list with ?e=1
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


@pytest.mark.parametrize("object_id", ["abc", "1.5", "²", "1%00"])
def test_the_crop_correction_of_a_non_numeric_image_id_is_a_404(client_for, object_id):
    # given
    client = client_for("staff")
    url = reverse("admin:catalog_productimage_correct", args=[1]).replace("/1/", f"/{object_id}/")
    # when
    responses = [client.get(url), client.post(url, {"x1": "0", "y1": "0", "x2": "5", "y2": "5"})]
    # then
    assert [r.status_code for r in responses] == [404, 404]


@pytest.mark.parametrize(
    ("sample", "shown"),
    [("²", "²"), ("٣", "٣"), ("99999999999999999999999", "99999999999999999999999")],
)
def test_the_rule_preview_explains_an_unknown_sample_product_whatever_its_characters(client_for, sample, shown):
    # given: ² and ٣ are digits to str.isdigit() but not to int(); NUL cannot reach PostgreSQL
    product_create(sku="SKU")
    client = client_for("merchandiser")
    form = RULE_FORM | {"starts_on": "2026-06-01", "ends_on": "2026-06-02", "_preview_product": sample}
    # when
    response = client.post(reverse("admin:catalog_seasonalrule_preview"), form)
    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert f"No product with SKU or id “{shown}" in html


@pytest.mark.parametrize("sample", ["SKU\x00", "\x00"])
def test_the_rule_preview_says_a_sample_cannot_hold_nul(client_for, sample):
    # given
    product_create(sku="SKU")
    client = client_for("merchandiser")
    form = RULE_FORM | {"starts_on": "2026-06-01", "ends_on": "2026-06-02", "_preview_product": sample}
    # when
    response = client.post(reverse("admin:catalog_seasonalrule_preview"), form)
    # then
    assert response.status_code == 200
    assert "A SKU or id cannot contain NUL characters." in response.content.decode()


def test_a_product_page_with_a_superscript_digit_id_is_the_admins_missing_object_answer(client_for):
    # given: "²".isdigit() is True, int("²") raises
    client = client_for("staff")
    url = reverse("admin:catalog_product_change", args=[1]).replace("/1/", "/²/")
    # when
    response = client.get(url)
    # then: the admin's redirect to the list with "does not exist", as for any unknown id
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")
