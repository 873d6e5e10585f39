"""Fixtures of the hardening tests: users per role, a small indexed catalog, state fingerprints,
and the count of fuzz cases tried per endpoint (written to ``test-artifacts/fuzz.md`` by every run;
``bench/reports/fuzz.md`` is the committed snapshot quoted in docs/security.md).
"""

from __future__ import annotations

import datetime as dt
import io
import os
from collections import Counter
from pathlib import Path

import pytest
from django.apps import apps
from django.db import connection
from PIL import Image
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from recommender.models import EncoderVersion
from tests.factories import (
    brand_create,
    category_create,
    garment_create,
    outfit_model_create,
    product_create,
    staff_user_create,
)

ROOT = Path(__file__).resolve().parents[2]
# Outside the tracked tree: a test run must not leave the checkout modified.
FUZZ_REPORT = ROOT / "test-artifacts" / "fuzz.md"
# "staff" is in the Catalog staff group; a merchandiser has staff status but view-only catalog rights.
ROLES = ("anonymous", "shopper", "merchandiser", "staff", "superuser")
# Random cases per fuzz test (schemathesis: per operation, on top of its boundary cases).
# Raise it for a deeper run: FASHIONREC_FUZZ_EXAMPLES=500 pytest tests/hardening
FUZZ_EXAMPLES = int(os.environ.get("FASHIONREC_FUZZ_EXAMPLES", 30))

# (endpoint, technique) -> cases sent, and (endpoint, "2xx" | "4xx" | ...) -> answers; filled by
# the fuzz tests, written once at the end of the session.
FUZZ_CASES: Counter[tuple[str, str]] = Counter()
FUZZ_ANSWERS: Counter[tuple[str, str]] = Counter()


def count_case(endpoint: str, technique: str, status: int) -> None:
    FUZZ_CASES[(endpoint, technique)] += 1
    FUZZ_ANSWERS[(endpoint, f"{status // 100}xx")] += 1


@pytest.fixture(scope="session", autouse=True)
def _fuzz_report():
    yield
    if not FUZZ_CASES:
        return
    techniques = sorted({technique for _, technique in FUZZ_CASES})
    answers = sorted({answer for _, answer in FUZZ_ANSWERS})
    endpoints = sorted({endpoint for endpoint, _ in FUZZ_CASES})
    lines = [
        "# Fuzz cases per endpoint",
        "",
        f"Written by `pytest tests/hardening` on {dt.date.today().isoformat()} (counts of the tests that ran;",
        "a partial run writes partial counts). Every case checked: no 5xx, every 4xx in the error",
        "format `{error: {code, message, details}}`, and no database or media change on a 4xx.",
        "The last columns say how the cases were answered (2xx: the fuzzer got past validation).",
        "",
        "| endpoint | " + " | ".join(techniques) + " | total | " + " | ".join(answers) + " |",
        "|---|" + "---:|" * (len(techniques) + 1 + len(answers)),
    ]
    for endpoint in [*endpoints, None]:
        selected = endpoints if endpoint is None else [endpoint]
        counts = [sum(FUZZ_CASES.get((e, t), 0) for e in selected) for t in techniques]
        by_answer = [sum(FUZZ_ANSWERS.get((e, a), 0) for e in selected) for a in answers]
        name = "**all**" if endpoint is None else f"`{endpoint}`"
        cells = [name, *map(str, counts), str(sum(counts)), *map(str, by_answer)]
        lines.append("| " + " | ".join(cells) + " |")
    FUZZ_REPORT.parent.mkdir(parents=True, exist_ok=True)
    FUZZ_REPORT.write_text("\n".join(lines) + "\n")
    print("\n" + "\n".join(lines))  # shown with -s; the file is the record


# --- state --------------------------------------------------------------------------------

_APP_LABELS = ("catalog", "recommender", "users", "auth", "authtoken")


def _state_tables() -> list[str]:
    return sorted(
        model._meta.db_table
        for label in _APP_LABELS
        for model in apps.get_app_config(label).get_models()
        if not model._meta.proxy
    )


def database_fingerprint() -> dict[str, str]:
    """One md5 per application table over all its rows: any insert, update or delete changes it.

    The fuzzing catalog is tiny, so hashing every row after each rejected request stays cheap.
    """
    tables = _state_tables()
    row_hash = "md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
    parts = ", ".join(f"(SELECT {row_hash} FROM {connection.ops.quote_name(name)} t)" for name in tables)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {parts}")
        return dict(zip(tables, cursor.fetchone(), strict=True))


def media_files(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


def assert_error_format(response, status: int | None = None) -> dict:
    """Every 4xx/5xx body is exactly ``{"error": {"code", "message", "details"}}``."""
    if status is not None:
        assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json"), (response.status_code, response["Content-Type"])
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["code"], body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    assert isinstance(body["error"]["details"], dict), body
    return body["error"]


# --- users and data -----------------------------------------------------------------------


@pytest.fixture
def media_root(settings, tmp_path) -> Path:
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root
    return root


@pytest.fixture
def users(db, django_user_model) -> dict:
    # No passwords: hashing one costs about a second on this machine; clients authenticate otherwise.
    return {
        "anonymous": None,
        "shopper": django_user_model.objects.create_user("shopper", password=None),
        "merchandiser": staff_user_create("merch", group="Merchandiser"),
        "staff": staff_user_create("staff"),
        "superuser": django_user_model.objects.create_user("root", password=None, is_staff=True, is_superuser=True),
    }


@pytest.fixture
def tokens(users) -> dict[str, str]:
    return {role: Token.objects.create(user=user).key for role, user in users.items() if user is not None}


def client_for(role: str, users: dict) -> APIClient:
    client = APIClient()
    if users[role] is not None:
        client.force_authenticate(users[role])
    return client


@pytest.fixture
def shop(db, season_summer, settings, tmp_path) -> dict:
    """A tiny indexed catalog: 4 products with one garment each, an active encoder version (and an
    outfit model trained for it, so complete-the-look answers instead of a 503 version mismatch)."""
    from recommender.outfits.catalog import reset_outfit_model

    EncoderVersion.objects.create(name="test-v1", is_active=True)
    outfit_model_create(tmp_path / "outfits", encoder_version="test-v1")
    settings.FASHIONREC_OUTFIT_MODEL = str(tmp_path / "outfits")
    reset_outfit_model()
    tops, shoes = category_create("women/tops"), category_create("men/shoes")
    brand = brand_create("Acme")
    products = [
        product_create(
            category=[tops, shoes][i % 2],
            brand=brand if i % 2 else None,
            price=str(10 + 15 * i),
            sizes={"M": i, "L": 1},
            seasons=[season_summer] if i % 2 else [],
        )
        for i in range(4)
    ]
    for i, product in enumerate(products):
        garment_create(product, seed=i)
    return {"products": products, "categories": [tops, shoes], "brand": brand, "season": season_summer}


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (64, 80), colour: str = "navy") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format=fmt)
    return buffer.getvalue()
