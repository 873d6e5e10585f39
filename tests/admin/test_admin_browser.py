"""The two admin pages with JavaScript or frames, in Debian's chromium: drawing a box, previewing a rule."""

from __future__ import annotations

import os

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from catalog.models import SeasonalRule
from catalog.services.images import product_image_create
from recommender.models import EncoderVersion, Garment
from tests.admin.conftest import staff_group, two_garment_photo
from tests.admin.test_rule_preview import vector_at
from tests.factories import category_create, garment_create, image_create, product_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = os.environ.get("FASHIONREC_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop on this thread; Django then refuses ORM calls
    # from it (SynchronousOnlyOperation) although they run synchronously. The documented escape.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        yield from _chromium(sync_playwright)
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def _chromium(sync_playwright):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        yield browser
        browser.close()


@pytest.fixture
def page_as(chromium, live_server, settings):
    contexts, errors = [], []

    def open_as(user: User):
        client = Client()
        client.force_login(user)
        context = chromium.new_context(viewport={"width": 1400, "height": 1000}, base_url=live_server.url)
        context.set_default_timeout(15_000)
        host = live_server.url.split("://")[1].split(":")[0]
        cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "domain": host, "path": "/"}])
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        contexts.append(context)
        return page

    yield open_as
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors: {errors}"


def staff_user(name: str, group: str) -> User:
    user = User.objects.create_user(name, password=None, is_staff=True)
    user.groups.add(staff_group(group))
    return user


def test_dragging_on_the_photo_fills_the_correction_box(page_as):
    # given: a 200 × 300 photo with one detected garment, shown 520 px wide
    image = product_image_create(product=product_create(), file=two_garment_photo(), enqueue=False)
    garment = garment_create(image.product, image=image)
    Garment.objects.filter(pk=garment.pk).update(box_x1=40, box_y1=20, box_x2=160, box_y2=140, label="top")
    page = page_as(staff_user("staff", "Catalog staff"))
    page.goto(reverse("admin:catalog_productimage_change", args=[image.pk]))
    overlay = page.locator("#garment-overlay")
    overlay.locator("img").evaluate("img => img.decode()")
    box = overlay.bounding_box()
    scale = box["width"] / 200
    # when: drag from image pixel (20, 30) to (120, 250)
    page.mouse.move(box["x"] + 20 * scale, box["y"] + 30 * scale)
    page.mouse.down()
    page.mouse.move(box["x"] + 70 * scale, box["y"] + 140 * scale, steps=4)
    page.mouse.move(box["x"] + 120 * scale, box["y"] + 250 * scale, steps=4)
    page.mouse.up()
    # then: the form holds the box in image pixels (±1 for rounding)
    values = [int(page.locator(f"#correction-form [name={n}]").input_value()) for n in ("x1", "y1", "x2", "y2")]
    assert all(abs(got - want) <= 1 for got, want in zip(values, (20, 30, 120, 250), strict=True)), values
    # and choosing the detected garment loads its box and label
    page.select_option("#correction-form [name=garment]", str(garment.pk))
    values = [int(page.locator(f"#correction-form [name={n}]").input_value()) for n in ("x1", "y1", "x2", "y2")]
    assert values == [40, 20, 160, 140]
    assert page.locator("#correction-form [name=label]").input_value() == "top"


def test_the_rule_preview_appears_under_the_form_without_saving(page_as):
    # given: a sample product and two neighbours; the less similar one is red
    EncoderVersion.objects.create(name="test-v1", is_active=True)
    category = category_create("women/tops")
    for sku, similarity, axis, colour in [("sample", 1.0, 1, ""), ("near", 0.95, 2, ""), ("red", 0.9, 3, "red")]:
        product = product_create(sku=sku, category=category, colour=colour)
        Garment.objects.create(
            image=image_create(product),
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
    page = page_as(staff_user("merch", "Merchandiser"))
    page.goto(reverse("admin:catalog_seasonalrule_add"))
    # when: a merchandiser fills the rule and asks for a preview
    page.fill("#id_name", "Red week")
    page.fill("#id_weight", "0.2")
    page.fill("#id_starts_on", "2026-06-01")
    page.fill("#id_ends_on", "2026-06-07")
    page.select_option("#id_target_colour", "red")
    page.fill("#id__preview_product", "sample")
    page.click("#rule-preview-controls button")
    # then: the frame shows the red product moving up, and nothing was saved
    frame = page.frame_locator("#rule-preview")
    summary = frame.locator("#preview-summary")
    summary.wait_for()
    assert "1 up" in summary.inner_text()
    assert frame.locator("tr.preview-row").first.get_attribute("data-move") == "1"
    assert not SeasonalRule.objects.exists()
    assert page.url.endswith(reverse("admin:catalog_seasonalrule_add"))
