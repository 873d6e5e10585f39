"""Complete the look in a real browser (issue 17): under the similar items, a row per kind of
garment that goes with the query, from the shipped outfit model, on the home page (an uploaded
photo's chosen garment) and on a product page; hidden with a note when the model is missing.
Debian's chromium via Playwright against a live server and a processed slice of the catalog."""

from __future__ import annotations

import re

import pytest

from catalog.models import Product
from recommender.outfit_selectors import LookRequest, look_for_product
from storefront.views import LOOK_PER_KIND
from tests.browser.conftest import street_photo, validation_photos
from tests.browser.test_demo import K, cards, look_generation, look_settled, requery, upload

pytestmark = [pytest.mark.browser, pytest.mark.django_db, pytest.mark.usefixtures("clothing_catalog")]

# CCP 0161, held out from training (see test_shop_the_look.py): outerwear, trousers and shoes.
OUTFIT = street_photo(161)
LOOK_API = "/api/v1/complete-the-look/"
HEADLINE = re.compile(r"^Goes with it (\d+)%$")


def look_rows(page) -> list[dict]:
    return page.eval_on_selector_all(
        "#complete-look [data-complete-kind]",
        """rows => rows.map(row => ({
            kind: row.dataset.completeKind,
            title: row.querySelector('.look-row__title').textContent,
            cards: [...row.querySelectorAll('.card')].map(card => ({
                id: card.dataset.productId,
                inStock: card.dataset.inStock,
                compatibility: Number(card.dataset.compatibility),
                href: card.querySelector('.card__title a').getAttribute('href'),
                headline: card.querySelector('.score__toggle').textContent,
            })),
        }))""",
    )


def assert_rows_match(page, look: dict) -> list[dict]:
    """The section shows the API's look: a row per kind that found something, titled with the kind,
    never the query garment's own kind; each card links to its product with its compatibility."""
    shown = look_rows(page)
    expected = [group for group in look["looks"] if group["results"]]
    assert [row["kind"] for row in shown] == [group["kind"] for group in expected]
    assert shown, look
    assert page.locator("#complete-look").is_visible()
    assert page.locator("#complete-look-note").is_hidden()
    for row, group in zip(shown, expected, strict=True):
        assert row["title"] == row["kind"] != look["query"]["garment_kind"]
        assert [card["id"] for card in row["cards"]] == [str(r["product"]["id"]) for r in group["results"]]
        for card, result in zip(row["cards"], group["results"], strict=True):
            assert card["href"] == f"/products/{card['id']}/"
            assert card["compatibility"] == pytest.approx(result["compatibility"])
            percent = HEADLINE.match(card["headline"])
            assert percent and int(percent.group(1)) == round(result["compatibility"] * 100), card
    return shown


def test_an_uploaded_outfit_gets_rows_that_complete_the_chosen_garment(page, artifacts):
    # given the home page
    page.goto("/")

    # when an outfit photo is uploaded
    before = look_generation(page)
    with page.expect_response(lambda response: LOOK_API in response.url) as answer:
        body = upload(page, OUTFIT)
    look_settled(page, before)

    # then the look was asked for the garment the similar items are for (the main one) ...
    look = answer.value.json()
    assert answer.value.status == 200, look
    chosen = body["garment"]
    assert look["garment"] == chosen
    assert look["query"]["garment_kind"] == body["garments"][chosen]["label"]
    assert look["query"]["k"] == LOOK_PER_KIND
    # ... and shown under the similar items, a row per complementary kind
    assert len(cards(page)) == K
    assert_rows_match(page, look)
    assert page.evaluate(
        "document.querySelector('#results-section').compareDocumentPosition("
        "document.querySelector('#complete-look')) & Node.DOCUMENT_POSITION_FOLLOWING"
    )
    page.locator("#complete-look").scroll_into_view_if_needed()
    page.screenshot(path=artifacts / "13-complete-the-look.png", full_page=True)

    # when another garment of the photo is chosen (its row in "the rest of the look")
    other = next(g["index"] for g in body["garments"] if g["index"] != chosen)
    before = look_generation(page)
    with page.expect_response(lambda response: LOOK_API in response.url) as answer:
        requery(page, lambda: page.locator(f"#looks [data-look-row='{other}'] .look-row__head").click())
    look_settled(page, before)

    # then the section is refreshed for that garment: its kinds complete the new one
    look = answer.value.json()
    assert look["garment"] == other
    assert page.get_attribute("#complete-look", "data-garment") == str(other)
    assert look["query"]["garment_kind"] == body["garments"][other]["label"]
    assert_rows_match(page, look)


def test_a_product_page_completes_its_look_under_the_same_filters(page, artifacts):
    # given a product whose look (as the selector computes it) has something to show
    product = next(
        p
        for p in Product.objects.order_by("pk")
        if any(g.results for g in look_for_product(product_id=p.pk, request=LookRequest(k=LOOK_PER_KIND)).groups)
    )

    # when its page is opened
    with page.expect_response(f"**/api/v1/products/{product.pk}/complete-the-look/**") as answer:
        page.goto(f"/products/{product.pk}/")
    look_settled(page, 0)

    # then the look is shown under the similar items, never the product itself
    shown = assert_rows_match(page, answer.value.json())
    assert str(product.pk) not in {card["id"] for row in shown for card in row["cards"]}
    page.screenshot(path=artifacts / "14-product-complete-the-look.png", full_page=True)

    # when "in stock only" is ticked, then the look is asked again with that filter, and obeys it
    before = look_generation(page)
    with page.expect_response(lambda response: "/complete-the-look/" in response.url) as answer:
        requery(page, lambda: page.check("#filter-in-stock"))
    look_settled(page, before)
    assert "in_stock=true" in answer.value.url
    look = answer.value.json()
    if any(group["results"] for group in look["looks"]):
        shown = assert_rows_match(page, look)
        assert all(card["inStock"] == "true" for row in shown for card in row["cards"])
    else:  # nothing in stock goes with it: the section says so instead
        assert page.locator("#complete-look").is_hidden()
        assert page.get_attribute("#complete-look-note", "data-reason") == "empty"


def test_without_the_outfit_model_the_section_is_hidden_with_a_note(page, settings, tmp_path, artifacts):
    # given no outfit model where the setting points (the live server reads the same settings)
    settings.FASHIONREC_OUTFIT_MODEL = str(tmp_path / "no-model")
    page.goto("/")

    # when a photo is uploaded
    before = look_generation(page)
    with page.expect_response(lambda response: LOOK_API in response.url) as answer:
        upload(page, validation_photos("dress", 1)[0])
    look_settled(page, before)

    # then the similar items are there, the look is hidden with a short note, and no error is shown
    assert answer.value.status == 503
    assert answer.value.json()["error"]["code"] == "outfit_model_unavailable"
    assert len(cards(page)) >= 1
    assert page.locator("#complete-look").is_hidden()
    note = page.locator("#complete-look-note")
    assert note.is_visible() and "not available" in note.inner_text()
    assert note.get_attribute("data-reason") == "outfit_model_unavailable"
    assert page.locator("#error").is_hidden()
    page.screenshot(path=artifacts / "15-complete-the-look-unavailable.png", full_page=True)
