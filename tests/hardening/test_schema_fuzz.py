"""Every operation of the OpenAPI schema, fuzzed by schemathesis in-process (no network server).

Schemathesis reads ``/api/v1/schema/`` from the Django WSGI application and generates valid
and invalid requests for each operation (explicit examples, boundary "coverage" cases, then
random ones), sent as staff with a token so every serializer and service is reached. For each
case: no 5xx; the status code, content type and body are the ones the schema documents for
the operation (schemathesis' conformance checks, so the schema and the serializers cannot drift
apart); any 4xx in the one error format; and a rejected request leaves the database (every
application table, hashed) and the media folder exactly as they were.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.hardening.conftest import FUZZ_EXAMPLES, count_case, database_fingerprint, media_files

pytestmark = pytest.mark.django_db

# Each operation gets the explicit examples and boundary cases, plus this many random cases.
MAX_EXAMPLES = FUZZ_EXAMPLES


class _InProcessApp:
    """Django's WSGI handler, minus the per-request connection closing that would end the test's transaction.

    Django's own test client does the same (``ClientHandler``): the requests run on the test's
    connection, inside its transaction, so each test starts from and rolls back to a known state.
    """

    def __init__(self) -> None:
        self.handler = WSGIHandler()

    def __call__(self, environ, start_response):
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            return self.handler(environ, start_response)
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)


schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", _InProcessApp())

# Ids that exist in this test's catalog. Path parameters and id fields of bodies use them half
# of the time, so generated requests get past "unknown id" and reach the writes behind it.
_KNOWN: dict[str, list[int]] = {"product_id": [], "variant_id": [], "image_id": []}
_KNOWN_IN_BODY: dict[str, list[int]] = {}
_LIST_FIELDS = {"seasons": "season", "categories": "category", "brands": "brand", "exclude": "product_id"}
# drf-spectacular's decimal pattern admits "" and negative prices, which the serializers refuse:
# offer valid ones too, or almost no generated product write would be accepted.
_VALID_VALUES = {"price": ["0", "9.90", "99999999.99"], "price_min": ["0", "10"], "price_max": ["50", "1000.5"]}


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    if not path_parameters:
        return st.just(path_parameters)
    choices = {
        name: st.sampled_from(_KNOWN[name]) | st.just(value)
        for name, value in path_parameters.items()
        if _KNOWN.get(name)
    }
    if not choices:
        return st.just(path_parameters)
    return st.fixed_dictionaries(choices).map(lambda known: {**path_parameters, **known})


@schema.hook
def flatmap_body(context, body):
    if not isinstance(body, dict):
        return st.just(body)
    choices = {}
    for name, value in body.items():
        if name in _VALID_VALUES:
            choices[name] = st.sampled_from(_VALID_VALUES[name]) | st.just(value)
        elif _KNOWN_IN_BODY.get(name):
            choices[name] = st.sampled_from(_KNOWN_IN_BODY[name]) | st.just(value)
        elif name in _LIST_FIELDS and _KNOWN_IN_BODY.get(_LIST_FIELDS[name]):
            known = st.lists(st.sampled_from(_KNOWN_IN_BODY[_LIST_FIELDS[name]]), max_size=2)
            choices[name] = known | st.just(value)
    if not choices:
        return st.just(body)
    return st.fixed_dictionaries(choices).map(lambda known: {**body, **known})


@pytest.fixture
def fuzz_context(shop, tokens, media_root):
    _KNOWN["product_id"] = [p.pk for p in shop["products"]]
    _KNOWN["variant_id"] = [v.pk for p in shop["products"] for v in p.variants.all()]
    _KNOWN["image_id"] = [i.pk for p in shop["products"] for i in p.images.all()]
    _KNOWN_IN_BODY.update(
        product_id=_KNOWN["product_id"],
        category=[c.pk for c in shop["categories"]],
        brand=[shop["brand"].pk],
        season=[shop["season"].pk],
    )
    # The state after the last accepted request: a rejected one must leave it exactly so.
    yield {"token": tokens["staff"], "media_root": media_root, "state": None}
    _KNOWN["product_id"], _KNOWN["variant_id"], _KNOWN["image_id"] = [], [], []
    _KNOWN_IN_BODY.clear()


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,  # the same cases on every run (CI stays reproducible); the seed is in hypothesis' DB too
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_5xx_and_rejections_change_nothing(case, fuzz_context):
    # given
    if fuzz_context["state"] is None:
        fuzz_context["state"] = (database_fingerprint(), media_files(fuzz_context["media_root"]))
    before, files_before = fuzz_context["state"]
    # when
    response = case.call(headers={"Authorization": f"Token {fuzz_context['token']}"})
    phase = str(case.meta.phase.name) if case.meta else "explicit"
    count_case(case.operation.label, f"schemathesis {phase}", response.status_code)
    # then
    assert response.status_code < 500, (response.status_code, response.text[:500], case.as_curl_command())
    # The answer is the one the schema documents: a status it lists, its content type, a body
    # that validates against its response schema (raises with the mismatch otherwise).
    case.validate_response(
        response, checks=[status_code_conformance, content_type_conformance, response_schema_conformance]
    )
    if response.status_code >= 400:
        content_type = {name.lower(): values for name, values in response.headers.items()}.get("content-type", [""])
        assert content_type[0].startswith("application/json"), (response.status_code, response.headers)
        body = response.json()
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
        assert isinstance(body["error"]["details"], dict), body
        assert database_fingerprint() == before, f"a rejected {case.method} {case.path} changed the database"
        assert media_files(fuzz_context["media_root"]) == files_before
    else:
        fuzz_context["state"] = None  # accepted: it may have written; read the new state next time
