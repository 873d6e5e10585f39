"""Security properties end to end: served uploads, anonymous throttling, secrets.

Already covered elsewhere, not repeated here: ``check --deploy`` with production settings and
the refusal to start without ``DJANGO_SECRET_KEY`` (``tests/test_project.py``); the media
view's sniffing on files written by hand (``tests/fashionrec/test_media.py``); CSRF and the
per-role permission matrix (``tests/hardening/test_permissions.py``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from recommender.api.throttles import AnonRecommendationsThrottle, UserRecommendationsThrottle
from tests.hardening.conftest import ROOT, assert_error_format, client_for, image_bytes

pytestmark = pytest.mark.django_db

HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"


def test_an_uploaded_image_is_stored_under_a_generated_name_and_never_served_as_html(users, shop, media_root):
    # given: a real JPEG with a script appended, sent as text/html under a traversal name
    staff = client_for("staff", users)
    product = shop["products"][0]
    data = image_bytes("JPEG") + HTML
    upload = SimpleUploadedFile("../../../static/index.html", data, content_type="text/html")
    # when
    created = staff.post(f"/api/v1/products/{product.pk}/images/", {"image": upload}, format="multipart")
    assert created.status_code == 201, created.content
    url = created.json()["url"]
    served = APIClient().get(url)
    # then: a generated name under the product's folder, served as the image it is, script-proof
    assert re.fullmatch(rf"/media/products/{product.pk}/[0-9a-f]{{32}}\.img", url), url
    assert [path.name for path in media_root.rglob("*") if path.is_file()] == [Path(url).name]
    assert served.status_code == 200
    assert served["Content-Type"] == "image/jpeg"
    assert served["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in served["Content-Security-Policy"] and "default-src 'none'" in served["Content-Security-Policy"]
    body = b"".join(served.streaming_content)
    # the photo re-encoded (catalog.services.images.image_validate): the appended script is gone
    assert body.startswith(b"\xff\xd8\xff") and HTML not in body


@pytest.fixture
def tiny_anonymous_budget(monkeypatch):
    # DRF binds the rates when the throttle class is defined, so patch the class, not settings.
    monkeypatch.setattr(AnonRecommendationsThrottle, "THROTTLE_RATES", {"anon_recommendations": "3/min"})
    monkeypatch.setattr(UserRecommendationsThrottle, "THROTTLE_RATES", {"user_recommendations": "600/min"})


def photo_upload(data: bytes | None = None) -> dict:
    return {"image": SimpleUploadedFile("q.jpg", data or image_bytes("JPEG"), content_type="image/jpeg"), "k": 2}


def test_anonymous_image_queries_are_throttled_before_the_image_is_decoded(tiny_anonymous_budget, users, shop):
    # given: an anonymous caller that spent its budget on cheap product queries
    anonymous = APIClient()
    product = shop["products"][0]
    for _ in range(3):
        assert anonymous.post("/api/v1/recommendations/", {"product_id": product.pk}).status_code == 200
    # when: an image query (even a broken one) and a product query come next
    image_query = anonymous.post("/api/v1/recommendations/", photo_upload(b"not an image"), format="multipart")
    similar = anonymous.get(f"/api/v1/products/{product.pk}/similar/")
    # then: 429 in the error format, before any decoding (a broken image would be 415)
    for response in (image_query, similar):
        assert assert_error_format(response, 429)["code"] == "throttled"
        assert int(response["Retry-After"]) > 0
    # and a signed-in shopper has a budget of their own
    assert client_for("shopper", users).post("/api/v1/recommendations/", {"product_id": product.pk}).status_code == 200


def test_a_forged_x_forwarded_for_does_not_reset_the_anonymous_budget(tiny_anonymous_budget, shop):
    # given: an anonymous caller that spent its budget
    anonymous = APIClient()
    url = f"/api/v1/products/{shop['products'][0].pk}/similar/"
    for _ in range(3):
        assert anonymous.get(url).status_code == 200
    # when: it claims to be someone else in a header any client can set
    forged = [anonymous.get(url, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}") for n in range(3)]
    # then: still the same caller (no proxy in front of gunicorn by default: FASHIONREC_NUM_PROXIES=0)
    assert [response.status_code for response in forged] == [429, 429, 429]


def test_secrets_come_only_from_the_environment():
    # No credential-looking literal in the settings modules (the dev key is named as such).
    sources = "".join((ROOT / "fashionrec" / name).read_text() for name in ("settings.py", "settings_production.py"))
    literals = re.findall(r"(?i)(?:password|secret|token|api_key)\w*\s*=\s*[\"']([^\"']+)[\"']", sources)
    assert all(value.startswith("dev-only-insecure") for value in literals), literals
    assert 'os.environ["DJANGO_SECRET_KEY"]' in (ROOT / "fashionrec" / "settings_production.py").read_text()
