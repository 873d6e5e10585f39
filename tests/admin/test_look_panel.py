"""The product page's "completes the look" panel: the complete-the-look selector's answer for the
product, per complementary kind, read-only, in a fixed number of queries (issue 17)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from recommender.admin.look import LOOK_K
from recommender.models import EncoderVersion, Garment
from recommender.outfits.catalog import reset_outfit_model
from tests.factories import category_create, garment_create, image_create, outfit_model_create, product_create

pytestmark = pytest.mark.django_db
VERSION = "test-v1"


@pytest.fixture
def outfit_model(settings, tmp_path):
    """The tiny real model of the factories: tops are worn with trousers and shoes, never another top."""
    outfit_model_create(tmp_path / "outfits", encoder_version=VERSION)
    settings.FASHIONREC_OUTFIT_MODEL = str(tmp_path / "outfits")
    reset_outfit_model()
    yield
    reset_outfit_model()


def labelled_product(kind: str, seed: int):
    product = product_create(category=category_create(f"women/{kind}"), sizes={"M": 2})
    image = image_create(product)
    garment = garment_create(product, image=image, seed=seed, version=VERSION)
    Garment.objects.filter(pk=garment.pk).update(label=kind)
    return product


def add_partners(per_kind: int, start: int) -> None:
    for n in range(per_kind):
        for offset, kind in enumerate(("trousers", "shoes", "top")):
            labelled_product(kind, seed=start + 3 * n + offset)


@pytest.fixture
def top(outfit_model):
    """A top to complete, with two trousers, two shoes and two other tops in the catalog."""
    EncoderVersion.objects.create(name=VERSION, is_active=True)
    query = labelled_product("top", seed=1)
    add_partners(2, start=10)
    return query


def product_page(client, product):
    return client.get(reverse("admin:catalog_product_change", args=[product.pk]))


@pytest.mark.parametrize("role", ["merchandiser", "staff", "superuser"])
def test_the_panel_shows_the_complementary_kinds_with_their_compatibility(client_for, top, role):
    # when someone who may view products opens the top's page
    response = product_page(client_for(role), top)

    # then the panel lists the kinds worn with a top, never another top nor the product itself
    assert response.status_code == 200
    look = response.context["look"]
    assert [group.kind for group in look] == ["trousers", "shoes"]
    html = response.content.decode()
    assert 'id="look-panel"' in html
    for group in look:
        assert 1 <= len(group.results) <= LOOK_K
        assert top.pk not in {item.card["id"] for item in group.results}
        compatibilities = [item.row.compatibility for item in group.results]
        assert all(0.0 <= value <= 1.0 for value in compatibilities)
        scores = [item.row.score for item in group.results]
        assert scores == sorted(scores, reverse=True)
        assert f'<tbody data-kind="{group.kind}">' in html
        for item in group.results:
            # each product links to its own admin page, with its compatibility
            assert reverse("admin:catalog_product_change", args=[item.card["id"]]) in html
            assert f"<b>{item.row.compatibility:.3f}</b>" in html
    assert '<tbody data-kind="top">' not in html


def test_the_panel_costs_the_same_queries_for_more_products_and_kinds(client_for, top):
    # given
    client = client_for("superuser")
    product_page(client, top)  # warm caches (content types, session)
    with CaptureQueriesContext(connection) as few:
        assert product_page(client, top).status_code == 200
    # when four times as many partners of each kind are in the catalog
    add_partners(6, start=100)
    with CaptureQueriesContext(connection) as many:
        response = product_page(client, top)
    # then the panel shows more, in the same number of queries
    assert [len(group.results) for group in response.context["look"]] == [LOOK_K, LOOK_K]
    assert len(many) == len(few), "\n".join(q["sql"][:200] for q in many.captured_queries)


def test_without_an_outfit_model_the_panel_says_why_and_the_page_still_renders(client_for, top, settings, tmp_path):
    # given no model where the setting points
    settings.FASHIONREC_OUTFIT_MODEL = str(tmp_path / "missing")
    reset_outfit_model()
    # when
    response = product_page(client_for("staff"), top)
    # then
    assert response.status_code == 200
    assert response.context["look"] == []
    assert "the outfit model is not installed" in response.context["look_problem"]
    assert "the outfit model is not installed" in response.content.decode()


def test_shoppers_and_anonymous_visitors_do_not_get_the_page(client_for, top):
    for role in ("anonymous", "shopper"):
        response = product_page(client_for(role), top)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], role
