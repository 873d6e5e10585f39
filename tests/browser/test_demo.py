"""The demo in a real browser (Debian's chromium via Playwright) against a live server.

A slice of the clothing catalog is imported and processed by the real models; the page is used
the way a shopper would: upload, look at the boxes and the grid, filter, sign in and like.
Screenshots of every step go to ``test-artifacts/browser/``, and the upload → results-on-screen
times measured in the page go to ``test-artifacts/browser/upload-timings.md``.
"""

from __future__ import annotations

import base64
import json
import statistics

import pytest

from catalog.models import Category, Product
from tests.browser.conftest import PER_CATEGORY, SHOPPER, street_photo, validation_photos

pytestmark = [
    pytest.mark.browser,
    # Reads only: the catalog is committed once for the module (see conftest.py).
    pytest.mark.django_db,
    pytest.mark.usefixtures("clothing_catalog"),
]

K = 12  # what the page asks for


# ------------------------------------------------------------------------------ helpers


def generation(page) -> int:
    return int(page.get_attribute("#results-section", "data-generation"))


def wait_settled(page, previous: int) -> None:
    """Wait until the page has finished the request started after ``previous``."""
    page.wait_for_function(
        """previous => {
            const section = document.querySelector('#results-section');
            return Number(section.dataset.generation) > previous && section.getAttribute('aria-busy') === 'false';
        }""",
        arg=previous,
    )


def look_generation(page) -> int:
    return int(page.get_attribute("#complete-look", "data-generation"))


def look_settled(page, previous: int) -> None:
    """Wait until "Complete the look" has rendered (or hidden itself for) a look asked after ``previous``."""
    page.wait_for_function(
        """previous => {
            const section = document.querySelector('#complete-look');
            return Number(section.dataset.generation) > previous && section.getAttribute('aria-busy') === 'false';
        }""",
        arg=previous,
    )


def upload(page, path_or_payload, *, input_selector="#photo-input") -> dict | None:
    """Choose a file with the picker; return the API's JSON answer (None if not JSON)."""
    before = generation(page)
    with page.expect_response(lambda response: "/api/v1/recommendations/" in response.url) as answer:
        page.set_input_files(input_selector, path_or_payload)
    wait_settled(page, before)
    try:
        return answer.value.json()
    except ValueError:
        return None


def requery(page, action) -> dict:
    """Run ``action`` (a filter change, a click) and return the API answer it caused."""
    before = generation(page)
    with page.expect_response(
        lambda response: "/api/v1/recommendations/" in response.url or "/similar/" in response.url
    ) as answer:
        action()
    wait_settled(page, before)
    return answer.value.json()


def cards(page) -> list[dict]:
    return page.eval_on_selector_all(
        "#results .card",
        "cards => cards.map(card => ({...card.dataset, title: card.querySelector('.card__title').textContent}))",
    )


def drop_file(page, path, *, mime="image/jpeg") -> dict:
    """Drag and drop a file onto the drop zone (a real DataTransfer with a File in it)."""
    data = base64.b64encode(path.read_bytes()).decode()
    before = generation(page)
    with page.expect_response(lambda response: "/api/v1/recommendations/" in response.url) as answer:
        page.evaluate(
            """([data, name, mime]) => {
                const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
                const transfer = new DataTransfer();
                transfer.items.add(new File([bytes], name, {type: mime}));
                const zone = document.querySelector('#dropzone');
                for (const type of ['dragenter', 'dragover', 'drop']) {
                    zone.dispatchEvent(new DragEvent(type, {dataTransfer: transfer, bubbles: true, cancelable: true}));
                }
            }""",
            [data, path.name, mime],
        )
    wait_settled(page, before)
    return answer.value.json()


def street_photo_with_several_garments():
    """The first street photo in which the shipped detector finds at least two garments."""
    from recommender.vision.pipeline import get_pipeline

    pipeline = get_pipeline()
    for number in (7, 3, 4, 6, 8, 9, 11, 12, 13, 14):
        garments = pipeline.analyse(street_photo(number).read_bytes()).garments
        if sum(not garment.is_whole_image for garment in garments) >= 2:
            return street_photo(number)
    raise AssertionError("the detector found two garments in none of 10 street photos")


def intercept_file_choosers(page) -> None:
    """Turn on file-chooser interception for the page and wait until the browser has it.

    Playwright turns interception on when the first "filechooser" listener is added, with a
    message it does not wait for; a key press sent right after can reach the page first, and
    then the chooser opens unobserved and ``expect_file_chooser`` times out (seen in CI). A
    listener that stays for the page's life, followed by a round trip to the page, closes
    that window.
    """
    page.on("filechooser", lambda chooser: None)
    page.evaluate("() => document.readyState")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[index]


# ------------------------------------------------------------------------------ tests


def test_search_by_photo_boxes_grid_filters_and_bad_uploads(page, artifacts, settings):
    # given the catalog slice and the home page
    page.goto("/")
    assert not page.locator("#catalog-empty").count()
    page.screenshot(path=artifacts / "01-home.png", full_page=True)

    # when a street photo (a person wearing several garments) is chosen with the file picker,
    # opened from the keyboard
    intercept_file_choosers(page)
    photo_path = street_photo_with_several_garments()
    page.get_by_role("button", name="Choose a photo").focus()
    before = generation(page)
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Enter")
    with page.expect_response("**/api/v1/recommendations/") as answer:
        chooser.value.set_files(photo_path)
    wait_settled(page, before)
    body = answer.value.json()

    # then a page opened without ?testhooks=1 records no timings for tests
    assert page.evaluate("typeof window.fashionrecTimings") == "undefined"
    assert page.get_attribute("#results-section", "data-upload-ms") is None

    # and the photo shows a labelled box per detected garment, scaled to the displayed photo
    boxes = page.locator("#photo-boxes .box")
    assert boxes.count() == len(body["garments"]) >= 1
    photo = page.locator("#photo").bounding_box()
    box = boxes.nth(0).bounding_box()
    x1, y1, x2, y2 = body["garments"][0]["box"]
    scale = photo["width"] / body["image"]["width"]
    assert abs(box["width"] - (x2 - x1) * scale) <= 2
    assert abs(box["height"] - (y2 - y1) * scale) <= 2
    assert abs(box["x"] - (photo["x"] + x1 * scale)) <= 2
    assert abs(box["y"] - (photo["y"] + y1 * scale)) <= 2
    top = body["garments"][0]
    assert ("whole photo" if top["is_whole_image"] else top["label"]) in boxes.nth(0).inner_text()
    assert boxes.nth(0).get_attribute("aria-pressed") == "true"  # the most confident one first
    # ... and a full grid of K recommendations with image, title, price and sizes
    assert len(cards(page)) == K == len(body["results"])
    first = page.locator("#results .card").nth(0)
    assert first.locator("img").get_attribute("alt") == body["results"][0]["product"]["title"]
    assert first.locator(".card__price").inner_text().strip()
    assert "Showing 12 similar items" in page.locator("#status").inner_text()
    page.screenshot(path=artifacts / "02-results.png", full_page=True)

    # and its match badge shows the calibrated match, not the raw cosine
    expected = round(body["results"][0]["match"] * 100)
    assert first.locator(".score__toggle").inner_text().strip() == f"Match {expected}%"

    # when the shopper hovers the match badge, then the score breakdown shows
    first.locator(".score__toggle").hover()
    assert first.locator(".score__panel").is_visible()
    assert "Looks similar" in first.locator(".score__panel").inner_text()
    page.screenshot(path=artifacts / "03-score-breakdown.png")
    page.mouse.move(0, 0)

    # when another garment is chosen with the keyboard (boxes are buttons), then the grid is for it
    assert boxes.count() >= 2
    boxes.nth(1).focus()
    chosen = requery(page, lambda: page.keyboard.press("Enter"))
    assert chosen["garment"] == 1
    assert boxes.nth(1).get_attribute("aria-pressed") == "true"
    assert boxes.nth(0).get_attribute("aria-pressed") == "false"
    assert f"for the {body['garments'][1]['label']}" in page.locator("#results-meta").inner_text()
    page.screenshot(path=artifacts / "04-second-garment.png", full_page=True)

    # when a category is chosen, then every card is in that category (or below it), no reload
    page.evaluate("window.noReload = true")
    # (a parent category: trousers, shorts and skirts all belong to "Bottoms")
    bottoms = Category.objects.get(name="Bottoms")
    page.wait_for_selector(f"#filter-category option[value='{bottoms.pk}']", state="attached")
    filtered = requery(page, lambda: page.select_option("#filter-category", str(bottoms.pk)))
    shown = cards(page)
    assert len(shown) == len(filtered["results"]) == 3 * PER_CATEGORY
    assert all(card["category"].startswith(str(bottoms)) for card in shown), shown
    assert len({card["category"] for card in shown}) == 3
    assert page.evaluate("window.noReload") is True

    # when "in stock only" is ticked as well, then every card has a size in stock
    requery(page, lambda: page.check("#filter-in-stock"))
    shown = cards(page)
    assert all(card["inStock"] == "true" for card in shown)
    assert all(card["category"].startswith(str(bottoms)) for card in shown)
    expected = Product.objects.filter(category__path__startswith=bottoms.path, variants__stock__gt=0).distinct()
    assert {int(card["productId"]) for card in shown} == set(expected.values_list("pk", flat=True))
    page.screenshot(path=artifacts / "05-filtered.png", full_page=True)

    # when a price ceiling below every item is typed, then a clear "nothing matches" message
    requery(page, lambda: page.fill("#filter-price-max", "1"))
    assert not cards(page)
    assert "Nothing matches these filters" in page.locator("#results-empty").inner_text()
    requery(page, lambda: page.click("#filters-reset"))
    assert len(cards(page)) == K

    # when a file that is not an image is uploaded, then the API's message is shown
    answer = upload(page, {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a photo at all\n" * 50})
    error = page.locator("#error")
    assert error.is_visible()
    assert answer["error"]["message"] in error.inner_text()
    assert page.get_attribute("#error", "data-code") == answer["error"]["code"]
    page.screenshot(path=artifacts / "06-not-an-image.png", full_page=True)

    # when a file above the upload limit is uploaded, then the API's "too large" message is shown
    limit, settings.FASHIONREC_MAX_UPLOAD_BYTES = settings.FASHIONREC_MAX_UPLOAD_BYTES, 64 * 1024
    answer = upload(page, {"name": "huge.jpg", "mimeType": "image/jpeg", "buffer": b"\xff\xd8\xff" + b"0" * 80_000})
    assert answer["error"]["code"] == "too_large"
    assert answer["error"]["message"] in error.inner_text()
    assert "Try a smaller photo" in error.inner_text()
    page.screenshot(path=artifacts / "07-too-large.png", full_page=True)
    settings.FASHIONREC_MAX_UPLOAD_BYTES = limit

    # when a good photo is dropped on the page afterwards, then the error goes and results come
    dropped = drop_file(page, validation_photos("dress", 1)[0])
    assert not error.is_visible()
    assert len(cards(page)) == len(dropped["results"]) == K


def test_upload_to_results_time_in_the_browser(page, artifacts):
    """upload → results on screen (photos of the first cards decoded), measured in the page."""
    # given a warm page (the first upload loads the models in the server process), opened with
    # the flag that makes it record its timings
    page.goto("/?testhooks=1")
    upload(page, street_photo(2))
    look_settled(page, 0)
    # 20 photos not in the catalog: 10 street photos (several garments each), 10 flat lays
    categories = ("t-shirt", "pants", "shoes", "skirt", "outwear")
    flat_lays = [photo for category in categories for photo in validation_photos(category, 2)]
    photos = [*(street_photo(n) for n in range(3, 14) if street_photo(n).exists())][:10] + flat_lays

    # when the shopper uploads photo after photo
    page.evaluate("window.fashionrecTimings.length = 0; window.fashionrecTimingDetails.length = 0")
    for photo in photos:
        before = look_generation(page)
        upload(page, photo)
        assert len(cards(page)) == K
        # "Complete the look" is asked once the similar items are on screen (it is not part of
        # the time measured); let it finish, as a shopper would, before the next photo
        look_settled(page, before)

    # then every upload was timed, and the times are reported
    timings = page.evaluate("window.fashionrecTimings")
    details = page.evaluate("window.fashionrecTimingDetails")
    assert len(timings) == len(photos) == len(details)
    p50, p95 = statistics.median(timings), percentile(timings, 0.95)
    report = {
        "uploads": len(timings),
        "p50_ms": round(p50, 1),
        "p95_ms": round(p95, 1),
        "max_ms": round(max(timings), 1),
        "target_p95_ms": 1000,
        "timings_ms": [round(t, 1) for t in timings],
        # ms since the photo was chosen: request sent, answer parsed, grid rendered; and the
        # server's own total (decode, detect, encode, query) for the same request
        "phases_ms": details,
    }
    (artifacts / "upload-timings.json").write_text(json.dumps(report, indent=2))
    (artifacts / "upload-timings.md").write_text(
        "# Upload → results on screen, in chromium (live server, catalog slice)\n\n"
        f"| uploads | p50 ms | p95 ms | max ms | target p95 ms |\n|---:|---:|---:|---:|---:|\n"
        f"| {len(timings)} | {p50:.0f} | {p95:.0f} | {max(timings):.0f} | 1000 |\n\n"
        "Per upload, ms since the photo was chosen (server: the API's own total):\n\n"
        "| request sent | answer parsed | grid rendered | card photos shown (total) | server |\n"
        "|---:|---:|---:|---:|---:|\n"
        + "".join(
            f"| {d['sent']} | {d['answered']} | {d['rendered']} | {d['total']} | {d['server']:.0f} |\n" for d in details
        )
    )
    print(f"\nupload→results in the browser: p50 {p50:.0f} ms, p95 {p95:.0f} ms over {len(timings)} uploads")
    # Guard against regressions with headroom for a busy 2-core CI machine; the figure itself
    # is reported above, in the README and in docs/demo.md.
    assert p95 <= 2000


def test_signed_in_shopper_likes_and_dislikes_change_the_next_results(page, artifacts):
    # given a shopper who signs in through the page
    page.goto("/accounts/login/?next=/")
    page.fill("#id_username", SHOPPER["username"])
    page.fill("#id_password", SHOPPER["password"])
    page.click("button[type=submit]")
    page.wait_for_url("**/")
    assert "Signed in as" in page.locator(".site-nav").inner_text()
    before = upload(page, validation_photos("t-shirt", 1)[0])
    assert all(result["score_breakdown"].get("taste", 0) == 0 for result in before["results"])

    # when they like the third item and dislike the first
    liked, disliked = page.locator("#results .card").nth(2), page.locator("#results .card").nth(0)
    liked_id, disliked_id = int(liked.get_attribute("data-product-id")), int(disliked.get_attribute("data-product-id"))
    assert liked_id != disliked_id  # two different cards were picked, or the test proves nothing
    with page.expect_response("**/api/v1/me/interactions/") as like:
        liked.locator(".js-like").click()
    assert like.value.status == 201
    # the server recorded each click on the product of the card that was clicked, and learnt from it
    assert {key: like.value.json()[key] for key in ("product_id", "kind", "learned")} == {
        "product_id": liked_id,
        "kind": "like",
        "learned": True,
    }
    with page.expect_response("**/api/v1/me/interactions/") as dislike:
        disliked.locator(".js-dislike").click()
    assert dislike.value.status == 201
    assert {key: dislike.value.json()[key] for key in ("product_id", "kind", "learned")} == {
        "product_id": disliked_id,
        "kind": "dislike",
        "learned": True,
    }
    assert liked.locator(".js-like").get_attribute("aria-pressed") == "true"
    assert "not for you" in page.locator("#status").inner_text()
    page.screenshot(path=artifacts / "08-liked.png", full_page=True)

    # then their next results carry the taste and the dislike
    after = requery(page, lambda: page.check("#filter-in-stock"))
    parts = {result["product"]["id"]: result["score_breakdown"] for result in after["results"]}
    tastes = {product_id: part["taste"] for product_id, part in parts.items()}
    dislikes = {product_id: part["dislike"] for product_id, part in parts.items()}
    # the dislike vector is the disliked garment, a near neighbour of this query's results: they
    # are demoted (-w_dislike x max(0, cosine), never raised); the taste vector is the liked one
    assert all(value <= 0 for value in dislikes.values()) and any(value < 0 for value in dislikes.values()), dislikes
    assert any(value > 0 for value in tastes.values()), tastes
    # the disliked product lost score (its taste gain, at most w_taste = 0.1, is below its dislike
    # loss, w_dislike = 0.2 x its cosine to itself) or fell out of the list altogether
    score_before = {result["product"]["id"]: result["score"] for result in before["results"]}[disliked_id]
    score_after = {result["product"]["id"]: result["score"] for result in after["results"]}
    assert score_after.get(disliked_id, float("-inf")) < score_before, (score_after, score_before)


def test_product_page_shows_similar_items(page, artifacts):
    # given a product from the catalog
    product = Product.objects.filter(category__name__iexact="dress").first() or Product.objects.first()

    # when its page is opened
    before = 0
    with page.expect_response(f"**/api/v1/products/{product.pk}/similar/**") as answer:
        page.goto(f"/products/{product.pk}/")
    wait_settled(page, before)

    # then it shows the product and a grid of other, similar products
    assert page.locator("h1").inner_text() == product.title
    shown = cards(page)
    assert len(shown) == len(answer.value.json()["results"]) >= 1
    assert str(product.pk) not in {card["productId"] for card in shown}
    page.screenshot(path=artifacts / "09-product-page.png", full_page=True)

    # when a filter changes, then the similar items obey it
    requery(page, lambda: page.check("#filter-in-stock"))
    assert all(card["inStock"] == "true" for card in cards(page))


def test_phone_layout_offers_the_camera_and_a_two_column_grid(chromium, live_url, artifacts):
    # given a phone-sized touch screen
    context = chromium.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, base_url=live_url
    )
    phone = context.new_page()
    try:
        # when the page opens, then the camera is offered next to the file picker
        phone.goto("/")
        camera = phone.get_by_role("button", name="Take a photo")
        assert camera.is_visible()
        assert phone.get_attribute("#camera-input", "capture") == "environment"
        assert phone.get_attribute("#camera-input", "accept") == "image/*"

        # when a photo is taken (the camera input gets a file), then results come in two columns
        upload(phone, street_photo(1), input_selector="#camera-input")
        lefts = {round(box["x"]) for box in (card.bounding_box() for card in phone.locator("#results .card").all()[:4])}
        assert len(lefts) == 2
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # nothing overflows sideways
        phone.screenshot(path=artifacts / "10-phone.png", full_page=True)
    finally:
        context.close()


def test_a_heic_photo_from_a_phone_is_searched_and_its_boxes_shown(page, artifacts):
    """Chromium cannot decode HEIC: the server does, and the page shows a stand-in of the size the
    server read, with the boxes on it, instead of a broken image."""
    import io

    from PIL import Image

    # given: a street photo as a phone saves it (HEIC)
    with Image.open(street_photo(7)) as source:
        buffer = io.BytesIO()
        source.convert("RGB").save(buffer, format="HEIF", quality=80)
    page.goto("/")
    # desktop file pickers filter by type, and not every system calls .heic an image/*
    assert page.get_attribute("#photo-input", "accept") == "image/*,.heic,.heif"
    # when
    body = upload(page, {"name": "IMG_0007.HEIC", "mimeType": "image/heic", "buffer": buffer.getvalue()})
    # then: the server read it and answered with garments and a full grid
    assert body is not None and body["garments"], body
    assert len(cards(page)) == K == len(body["results"])
    assert page.locator("#error").is_hidden()
    # and the photo frame is not a broken image: it has the size the server decoded
    page.wait_for_function("() => document.querySelector('#photo').complete")
    natural = page.eval_on_selector("#photo", "img => [img.naturalWidth, img.naturalHeight]")
    width, height = body["image"]["width"], body["image"]["height"]
    assert natural[0] > 0 and abs(natural[0] / natural[1] - width / height) < 0.01
    if page.get_attribute("#photo", "data-fallback") == "shown":  # a browser without HEIC (chromium)
        assert "cannot display this photo" in page.locator("#photo-caption").inner_text()
        assert "cannot display" in page.get_attribute("#photo", "alt")
    # and a box per garment, on the displayed frame
    boxes = page.locator("#photo-boxes .box")
    assert boxes.count() == len(body["garments"])
    frame, box = page.locator("#photo").bounding_box(), boxes.nth(0).bounding_box()
    x1, y1, x2, y2 = body["garments"][0]["box"]
    scale = frame["width"] / width
    assert abs(box["x"] - (frame["x"] + x1 * scale)) <= 2 and abs(box["width"] - (x2 - x1) * scale) <= 2
    assert abs(box["y"] - (frame["y"] + y1 * scale)) <= 2 and abs(box["height"] - (y2 - y1) * scale) <= 2
    page.screenshot(path=artifacts / "heic-upload.png", full_page=True)
