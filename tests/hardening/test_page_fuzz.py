"""The entry points outside the OpenAPI schema: media files, demo pages, unknown API routes.

Hypothesis sends random and hostile paths and query strings (traversal, NUL, names longer than
the file system allows, any Unicode): never a 5xx; under ``/api/`` even an unknown route
answers in the API's error format.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client, RequestFactory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fashionrec.api.errors import server_error
from tests.hardening.conftest import FUZZ_EXAMPLES, assert_error_format, count_case, image_bytes

pytestmark = pytest.mark.django_db

SEGMENT = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=30) | st.sampled_from(
    ["..", ".", "%2e%2e", "%00", "\x00", "a" * 300, "x" * 5000, "~root", "%c0%af", "products", "a.img"]
)
PATH = st.lists(SEGMENT, min_size=1, max_size=5).map("/".join)
QUERY = st.dictionaries(st.text(max_size=10), st.text(st.characters(exclude_categories=("Cs",)), max_size=40))
FUZZ = settings(
    max_examples=2 * FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def served(media_root):
    (media_root / "products").mkdir()
    (media_root / "products" / "a.img").write_bytes(image_bytes("PNG"))
    return media_root


@FUZZ
@given(path=PATH)
def test_media_paths(served, path):
    response = Client().get("/media/" + path)
    count_case("GET /media/{path}", "hypothesis paths", response.status_code)
    assert response.status_code in (200, 404), (path[:80], response.status_code)
    if response.status_code == 200:  # only a real file under the media root, as an image
        assert response["Content-Type"].startswith("image/")


def test_a_media_name_longer_than_the_file_system_allows_is_404_not_500(served):
    # ENAMETOOLONG from the file system used to escape the media view as a 500.
    response = Client().get("/media/" + "a" * 5000)
    count_case("GET /media/{path}", "hypothesis paths", response.status_code)
    assert response.status_code == 404


@FUZZ
@given(product_id=st.integers(min_value=0, max_value=10**30), query=QUERY)
def test_demo_pages(shop, product_id, query):
    product_id = product_id if product_id % 2 else shop["products"][0].pk
    for path in ("/", f"/products/{product_id}/"):
        response = Client().get(path, query)
        count_case(f"GET {path if path == '/' else '/products/{id}/'} (page)", "hypothesis paths", response.status_code)
        assert response.status_code in (200, 404), (path, query, response.status_code)


@FUZZ
@given(path=PATH, method=st.sampled_from(["get", "post", "put", "patch", "delete"]))
def test_unknown_api_routes_answer_in_the_error_format(db, path, method):
    response = getattr(Client(), method)("/api/v1/zz-" + path)
    count_case("ANY /api/v1/{unknown}", "hypothesis paths", response.status_code)
    assert response.status_code in (301, 404, 405), response.status_code
    if response.status_code != 301:  # a missing trailing slash redirects, as everywhere in Django
        assert_error_format(response)


def test_an_api_server_error_answers_in_the_error_format():
    # The last resort, for an exception outside a DRF view; pages keep Django's HTML 500.
    api = server_error(RequestFactory().get("/api/v1/products/"))
    assert (api.status_code, json.loads(api.content)) == (
        500,
        {"error": {"code": "server_error", "message": "Internal server error.", "details": {}}},
    )
    assert server_error(RequestFactory().get("/"))["Content-Type"].startswith("text/html")
