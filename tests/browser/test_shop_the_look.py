"""Shop the whole look in a real browser: every garment of an outfit photo boxed, with readable
labels, and one row of results per garment (issue 15). Debian's chromium via Playwright against
a live server, the shipped detector and encoder, and a processed slice of the catalog."""

from __future__ import annotations

import itertools

import pytest

from tests.browser.conftest import street_photo
from tests.browser.test_demo import K, generation, requery, upload, wait_settled

pytestmark = [pytest.mark.browser, pytest.mark.django_db, pytest.mark.usefixtures("clothing_catalog")]

# CCP 0161: in the held-out split (its number is divisible by 7: never trained on). The shipped
# detector finds five garments in it (outerwear, trousers, three shoes), and two of them share a
# top-left corner to within 1 % of the photo, so their labels would sit on each other unless
# they are placed (checked with the shipped weights before pinning it).
OUTFIT = street_photo(161)


def label_rects(page) -> list[dict]:
    return page.eval_on_selector_all(
        "#photo-boxes .box__label",
        "labels => labels.map(label => { const r = label.getBoundingClientRect();"
        " return {left: r.left, top: r.top, right: r.right, bottom: r.bottom, text: label.textContent}; })",
    )


def assert_labels_apart_and_inside(page) -> None:
    rects = label_rects(page)
    for a, b in itertools.combinations(rects, 2):
        apart = a["right"] <= b["left"] or b["right"] <= a["left"] or a["bottom"] <= b["top"] or b["bottom"] <= a["top"]
        assert apart, f"labels overlap: {a} and {b}"
    frame = page.locator("#photo-frame").bounding_box()
    for rect in rects:
        assert frame["y"] - 1 <= rect["top"] and rect["bottom"] <= frame["y"] + frame["height"] + 1, rect
        assert frame["x"] - 1 <= rect["left"] and rect["right"] <= frame["x"] + frame["width"] + 1, rect


def rows(page) -> list[dict]:
    """Rows of the look in page order: the results grid (the chosen garment) first, then #looks."""
    return page.eval_on_selector_all(
        "[data-look-row]",
        "rows => rows.map(row => ({index: Number(row.dataset.lookRow), id: row.id,"
        " title: (row.querySelector('h2, .look-row__title') || {}).textContent || '',"
        " cards: row.querySelectorAll('.card').length}))",
    )


def test_an_outfit_photo_gets_a_box_and_a_row_per_garment(page, artifacts):
    # given the home page
    page.goto("/")

    # when an outfit photo is uploaded
    body = upload(page, OUTFIT)

    # then the API was asked for every garment, and several were found
    garments = body["garments"]
    assert len(garments) >= 2, [g["label"] for g in garments]
    assert len(body["results_by_garment"]) == len(garments)
    # ... each garment is boxed, numbered like its row, the chosen (main) one pressed
    boxes = page.locator("#photo-boxes .box")
    assert boxes.count() == len(garments)
    assert boxes.nth(0).get_attribute("aria-pressed") == "true" and garments[0]["is_main"]
    for n, garment in enumerate(garments):
        assert boxes.nth(n).locator(".box__label").inner_text().startswith(f"{n + 1} {garment['label']}")
    # ... and no two labels overlap, at this size
    assert_labels_apart_and_inside(page)
    page.screenshot(path=artifacts / "11-look.png", full_page=True)

    # and there is one row per garment, the chosen one first (the full grid), each titled with its label
    shown = rows(page)
    assert [row["index"] for row in shown] == [g["index"] for g in garments]
    assert shown[0]["id"] == "results-section" and shown[0]["cards"] == K
    for row, garment in zip(shown, garments, strict=True):
        assert garment["label"] in row["title"], (row, garment)
        assert row["cards"] >= 1
    assert page.locator("#looks").is_visible()

    # when the window narrows to a phone's width, then the labels are placed again, still apart
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)  # the ResizeObserver's callback runs on the next frame
    assert_labels_apart_and_inside(page)
    page.screenshot(path=artifacts / "12-look-phone.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.wait_for_timeout(300)

    # when the header of another garment's row is clicked
    other = shown[1]["index"]
    chosen = requery(page, lambda: page.locator(f"#looks [data-look-row='{other}'] .look-row__head").click())

    # then that garment is chosen: its box is pressed, its row comes first as the full grid, and
    # every garment still has its row
    assert chosen["garment"] == other
    assert boxes.nth(other).get_attribute("aria-pressed") == "true"
    assert boxes.nth(0).get_attribute("aria-pressed") == "false"
    now = rows(page)
    assert now[0]["index"] == other and now[0]["id"] == "results-section"
    assert sorted(row["index"] for row in now) == [g["index"] for g in garments]
    assert_labels_apart_and_inside(page)

    # when a box is clicked, then its garment is chosen the same way
    before = generation(page)
    boxes.nth(0).locator(".box__label").click()  # the label: other boxes may cover its centre
    wait_settled(page, before)
    assert rows(page)[0]["index"] == 0
