"""One place maps domain errors to the API's error format and status codes."""

from __future__ import annotations

import pytest

from catalog.errors import ImageDuplicate, ProductNotFound, UnknownFilterValue
from fashionrec.api.errors import api_exception_handler
from fashionrec.errors import Conflict, DomainError, InvalidInput, NotFound, Unavailable
from fashionrec.imaging import ImageRejected
from recommender.errors import EncoderSwitching, GarmentNotDetected, NoActiveEncoder, NotIndexed, VisionUnavailable


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (ProductNotFound(7), 404, "not_found"),
        (UnknownFilterValue({"category": 3}), 400, "invalid"),
        (GarmentNotDetected(2, 1), 400, "invalid"),
        (NotIndexed(7), 409, "not_indexed"),
        (NoActiveEncoder(), 503, "no_active_encoder"),
        (EncoderSwitching("v2", "v1"), 503, "encoder_mismatch"),
        (VisionUnavailable(), 503, "vision_unavailable"),
        (ImageRejected("too_large", "Too big."), 413, "too_large"),
        (ImageRejected("not_an_image", "Not an image."), 415, "not_an_image"),
        (ImageRejected("truncated", "Cut short."), 400, "truncated"),
    ],
)
def test_each_domain_error_has_one_status_and_the_error_format(error, status, code):
    # given a domain error raised below the API
    # when the API's exception handler answers it
    response = api_exception_handler(error, {})

    # then the status comes from its kind and the body is the one error format
    assert response.status_code == status
    assert response.data == {
        "error": {"code": code, "message": error.message, "details": getattr(error, "details", {})}
    }


def test_every_domain_error_kind_is_mapped():
    # given the four kinds of domain error
    kinds = {InvalidInput: 400, NotFound: 404, Conflict: 409, Unavailable: 503}

    # when a plain one of each is answered, then each gets its own status
    for kind, status in kinds.items():
        assert api_exception_handler(kind("x"), {}).status_code == status
    assert issubclass(ImageDuplicate, Conflict) and issubclass(ProductNotFound, DomainError)
