"""The demo on a fresh install: nothing imported yet, so the page says how to fill the catalog."""

import pytest

from storefront.views import IMPORT_COMMAND
from tests.browser.conftest import validation_photos

pytestmark = [pytest.mark.browser, pytest.mark.django_db]


def test_empty_catalog_says_which_command_fills_it(page, artifacts):
    # given no catalog at all

    # when the page opens
    page.goto("/")

    # then it says so, with the command, before anything is uploaded
    notice = page.locator("#catalog-empty")
    assert notice.is_visible()
    assert IMPORT_COMMAND in notice.inner_text()
    page.screenshot(path=artifacts / "00-empty-catalog.png", full_page=True)

    # when a photo is uploaded anyway, then the answer repeats how to fill the catalog
    with page.expect_response("**/api/v1/recommendations/") as answer:
        page.set_input_files("#photo-input", validation_photos("dress", 1)[0])
    error = page.locator("#error")
    error.wait_for(state="visible")
    assert answer.value.json()["error"]["message"] in error.inner_text()
    assert IMPORT_COMMAND in error.inner_text()
    page.screenshot(path=artifacts / "00-empty-catalog-upload.png", full_page=True)
