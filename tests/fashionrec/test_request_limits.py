"""Oversized and over-parameterised requests are refused early, in the API's error format.

The bodies here are real (60 MB); each test counts how much of the body the app read, so
"refused early" means "never read", not "read, stored, then refused".
"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, FakePayload, encode_multipart

from tests.hardening.conftest import assert_error_format

pytestmark = pytest.mark.django_db

MB = 1024 * 1024
RECOMMEND = "/api/v1/recommendations/"


class CountingPayload(FakePayload):
    """A request body that records how many of its bytes the server read."""

    def __init__(self, content: bytes) -> None:
        super().__init__(content)
        self.bytes_read = 0

    def read(self, size=-1, /):
        data = super().read(size)
        self.bytes_read += len(data)
        return data

    def readline(self, size=-1, /):
        data = super().readline(size)
        self.bytes_read += len(data)
        return data


def photo_form(size: int) -> bytes:
    """A multipart body with one ``image`` of ``size`` bytes (a JPEG signature, then filler)."""
    content = b"\xff\xd8\xff\xe0" + b"\x00" * (size - 4)
    return encode_multipart(BOUNDARY, {"image": SimpleUploadedFile("big.jpg", content, "image/jpeg")})


def post_body(path: str, body: bytes, *, content_length: int | None = None, **extra):
    payload = CountingPayload(body)
    environ = {"wsgi.input": payload, "CONTENT_TYPE": MULTIPART_CONTENT, **extra}
    if content_length is not None:
        environ["CONTENT_LENGTH"] = str(content_length)
    response = Client().generic("POST", path, **environ)
    return response, payload


def test_a_body_announced_over_the_limit_is_413_before_a_byte_is_read(settings):
    # given: an anonymous 60 MB photo query (the limit is one photo plus its form fields)
    body = photo_form(60 * MB)
    # when
    response, payload = post_body(RECOMMEND, body, content_length=len(body))
    # then
    error = assert_error_format(response, 413)
    assert error["code"] == "too_large"
    assert f"at most {settings.FASHIONREC_MAX_REQUEST_BYTES:,}" in error["message"]
    assert payload.bytes_read == 0


def test_a_file_over_the_limit_stops_the_upload_where_it_crosses_it(settings, tmp_path):
    # given: a body limit that lets a 60 MB body in (as an admin form's does), temporary files in tmp_path
    settings.FASHIONREC_MAX_REQUEST_BYTES = 100 * MB
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    limit = settings.FASHIONREC_MAX_UPLOAD_BYTES
    body = photo_form(60 * MB)
    # when
    response, payload = post_body(RECOMMEND, body, content_length=len(body))
    # then: 413, having read the file only up to the limit (plus a 64 KiB chunk or two) ...
    error = assert_error_format(response, 413)
    assert error["code"] == "too_large"
    assert limit < payload.bytes_read < limit + 256 * 1024
    # ... and what had been spooled of it is already deleted
    assert list(tmp_path.iterdir()) == []


def test_a_body_longer_than_its_content_length_is_read_only_up_to_it():
    # given: a 60 MB body that announces 1 MB (the WSGI stream is cut at Content-Length)
    body = photo_form(60 * MB)
    # when
    response, payload = post_body(RECOMMEND, body, content_length=MB)
    # then: a truncated form, refused in the error format
    assert_error_format(response, 400)
    assert payload.bytes_read <= MB


def test_a_body_without_content_length_is_not_read():
    # given: a chunked-style body with no Content-Length
    body = photo_form(60 * MB)
    # when
    response, payload = post_body(RECOMMEND, body)
    # then: the form is empty ("no image or product_id"), nothing was read
    assert_error_format(response, 400)
    assert payload.bytes_read == 0


def test_a_large_body_outside_the_api_is_413_in_plain_text(settings):
    # given: the login form, which no photo ever goes to
    body = b"username=a&password=" + b"x" * (settings.FASHIONREC_MAX_REQUEST_BYTES + 1)
    # when
    response, payload = post_body("/accounts/login/", body, content_length=len(body))
    # then
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/plain")
    assert payload.bytes_read == 0


def test_admin_forms_may_carry_several_photos(settings):
    # given: a body over the API's limit but under the admin's
    assert settings.FASHIONREC_MAX_ADMIN_REQUEST_BYTES > 3 * settings.FASHIONREC_MAX_UPLOAD_BYTES
    body = b"x" * (settings.FASHIONREC_MAX_REQUEST_BYTES + 1)
    # when: an anonymous POST to the admin's login page
    response, _ = post_body("/admin/login/", body, content_length=len(body), CONTENT_TYPE="text/plain")
    # then: past the size check (the login page answers it)
    assert response.status_code == 200


def many_parameters(count: int = 1001) -> dict[str, str]:
    return {f"p{n}": "1" for n in range(count)}


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
def test_more_than_a_thousand_query_parameters_are_a_json_400(settings, debug):
    # given: DEBUG on (the debug page itself crashed on them) or off (an HTML 400)
    settings.DEBUG = debug
    # when
    response = Client(raise_request_exception=False).get("/api/v1/products/", many_parameters())
    # then
    error = assert_error_format(response, 400)
    assert error["code"] == "too_many_fields"
    assert "1,000" in error["message"]


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
def test_more_than_a_thousand_form_fields_are_a_json_400(settings, debug):
    # given
    settings.DEBUG = debug
    # when
    response = Client(raise_request_exception=False).post(RECOMMEND, many_parameters())
    # then
    error = assert_error_format(response, 400)
    assert error["code"] == "too_many_fields"
