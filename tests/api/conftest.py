import pytest
from rest_framework.test import APIClient

from recommender.models import EncoderVersion
from tests.factories import staff_user_create

VERSION = "test-v1"  # tests.factories.garment_create's default version


@pytest.fixture
def encoder(db):
    return EncoderVersion.objects.create(name=VERSION, is_active=True)


@pytest.fixture
def client():
    return APIClient()


@pytest.fixture
def shopper(db, django_user_model):
    return django_user_model.objects.create_user("shopper", password="pw-shopper-1")


@pytest.fixture
def shopper_client(shopper):
    api = APIClient()
    api.force_authenticate(shopper)
    return api


@pytest.fixture
def staff_client(db):
    staff = staff_user_create("staff")
    api = APIClient()
    api.force_authenticate(staff)
    return api


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    if code is not None:
        assert body["error"]["code"] == code
    return body["error"]
