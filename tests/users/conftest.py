# The API clients and the active encoder are the same as the other API tests'; declared once in
# tests/api/conftest.py and brought in here by name (pytest finds fixtures in a conftest's namespace).
from tests.api.conftest import client, encoder, shopper, shopper_client  # noqa: F401
