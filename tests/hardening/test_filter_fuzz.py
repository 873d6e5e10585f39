"""Property: no recommend filter value, however hostile, gets a 5xx or changes anything.

Hypothesis draws the filters of ``GET /products/{id}/similar/`` (query string) and
``POST /recommendations/`` (JSON and form bodies) from a pool of hostile values: SQL
injection strings, numbers past bigint and Decimal, NaN/Infinity, negative and zero ``k``,
any Unicode (NUL, right-to-left marks, emoji), lists, nested objects and nulls. Each answer
must be a 200 or a 400 in the error format naming a field, and must leave the database as it
was. (``tests/api/test_recommendations_bad_input.py`` has the hand-picked cases.)
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from tests.hardening.conftest import FUZZ_EXAMPLES, assert_error_format, count_case, database_fingerprint

pytestmark = pytest.mark.django_db

# Cheap (one request each, about 30 ms): more cases than the per-operation schemathesis budget.
EXAMPLES = 2 * FUZZ_EXAMPLES
FILTERS = [
    "category",
    "brand",
    "season",
    "department",
    "colour",
    "price_min",
    "price_max",
    "sizes",
    "in_stock",
    "exclude",
    "k",
    "max_per_category",
]
INJECTIONS = [
    "1 OR 1=1",
    "1'; DROP TABLE catalog_product; --",
    "1); SELECT pg_sleep(30); --",
    "' UNION SELECT password FROM auth_user --",
    "%s",
    "%(k)s",
    "$1",
    "{}",
    "[1]",
    "\x00",
    "1\x00",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "red\u202e",  # right-to-left override
    "👗",
    "M,L,,,",
    ",",
    "",
]
NUMBERS_AS_TEXT = [
    "0",
    "-1",
    "-0",
    "1.5",
    "1e3",
    "1e999999",
    "-1e999999",
    "NaN",
    "nan",
    "Infinity",
    "-Infinity",
    "inf",
    str(2**63 - 1),
    str(2**63),
    str(2**64),
    str(-(2**63) - 1),
    "9" * 400,
    "0x10",
    "1_000",
    " 7 ",
    "٣",  # Arabic-Indic digit three: int() accepts it
]
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)  # no lone surrogates: not UTF-8
SCALAR_TEXT = st.sampled_from(INJECTIONS + NUMBERS_AS_TEXT) | TEXT | st.integers().map(str)
QUERY_VALUE = SCALAR_TEXT | st.lists(SCALAR_TEXT, min_size=0, max_size=4)
JSON_SCALAR = (
    SCALAR_TEXT
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.booleans()
    | st.none()
)
JSON_VALUE = st.recursive(
    JSON_SCALAR, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=2), max_leaves=6
)
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def fixed(shop, monkeypatch):
    # Anonymous, as a hostile caller would be, with the rate limit lifted: it is tested on its own
    # (test_security), and DRF binds the rates when the class is defined, so patch the class.
    from recommender.api.throttles import AnonRecommendationsThrottle

    monkeypatch.setattr(AnonRecommendationsThrottle, "THROTTLE_RATES", {"anon_recommendations": "100000/min"})
    return {"product": shop["products"][0], "before": database_fingerprint()}


def check(response, endpoint: str, technique: str, before: dict) -> None:
    count_case(endpoint, technique, response.status_code)
    assert response.status_code in (200, 400), (response.status_code, response.content[:300])
    if response.status_code == 400:
        error = assert_error_format(response, 400)
        assert error["code"] in ("invalid", "parse_error"), error
    else:
        body = response.json()
        assert len(body["results"]) <= 50
    assert database_fingerprint() == before


@FUZZ_SETTINGS
@given(params=st.dictionaries(st.sampled_from(FILTERS), QUERY_VALUE, max_size=5))
def test_similar_with_hostile_query_strings(fixed, params):
    response = APIClient().get(f"/api/v1/products/{fixed['product'].pk}/similar/", params)
    check(response, "GET /api/v1/products/{product_id}/similar/", "hypothesis filters", fixed["before"])


@FUZZ_SETTINGS
@given(body=st.dictionaries(st.sampled_from(FILTERS), JSON_VALUE, max_size=5))
def test_recommendations_with_hostile_json(fixed, body):
    body = {"product_id": fixed["product"].pk, **body}
    response = APIClient().post("/api/v1/recommendations/", json.dumps(body), content_type="application/json")
    check(response, "POST /api/v1/recommendations/", "hypothesis filters", fixed["before"])


@FUZZ_SETTINGS
@given(data=st.dictionaries(st.sampled_from([*FILTERS, "product_id", "garment"]), QUERY_VALUE, max_size=5))
def test_recommendations_with_hostile_form_fields(fixed, data):
    # product_id itself is fuzzed too: a 404 for an unknown one is the only other answer allowed
    data = {"product_id": str(fixed["product"].pk), **data}
    response = APIClient().post("/api/v1/recommendations/", data)
    if response.status_code == 404:
        count_case("POST /api/v1/recommendations/", "hypothesis filters", 404)
        assert assert_error_format(response, 404)["code"] == "not_found"
        return
    check(response, "POST /api/v1/recommendations/", "hypothesis filters", fixed["before"])


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_json_nan_and_infinity_literals_are_rejected_not_parsed(fixed, constant):
    # Python's json module would read these non-standard literals as floats; the API must not.
    raw = f'{{"product_id": {fixed["product"].pk}, "price_min": {constant}, "k": 5}}'
    assert math.isnan(json.loads(raw)["price_min"]) or math.isinf(json.loads(raw)["price_min"])
    response = APIClient().post("/api/v1/recommendations/", raw, content_type="application/json")
    count_case("POST /api/v1/recommendations/", "hypothesis filters", response.status_code)
    assert_error_format(response, 400)
