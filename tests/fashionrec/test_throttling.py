"""Throttle counters are shared by every process through the ``throttle`` cache (Redis when configured)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from fashionrec.api.throttling import THROTTLE_CACHE
from recommender.api.throttles import AnonRecommendationsThrottle

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("FASHIONREC_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")

# Another process (another gunicorn worker) spends an anonymous caller's budget through the same
# throttle class and settings, reading the Redis URL from FASHIONREC_THROTTLE_CACHE_URL.
OTHER_WORKER = """
import sys
import django
django.setup()
from django.test import RequestFactory
from rest_framework.request import Request
from recommender.api.throttles import AnonRecommendationsThrottle
AnonRecommendationsThrottle.THROTTLE_RATES = {"anon_recommendations": "3/min"}
address = sys.argv[1]
for _ in range(3):
    request = Request(RequestFactory().get("/api/v1/recommendations/", REMOTE_ADDR=address))
    print(AnonRecommendationsThrottle().allow_request(request, None))
"""


@pytest.fixture
def redis_throttle_cache(settings):
    try:
        import redis

        redis.Redis.from_url(REDIS_URL).ping()
    except Exception as error:  # the test needs the real thing, not a stand-in
        pytest.fail(f"Redis at {REDIS_URL} is needed (FASHIONREC_TEST_REDIS_URL): {error}")
    settings.CACHES = {
        **settings.CACHES,
        THROTTLE_CACHE: {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL},
    }
    return REDIS_URL


@pytest.fixture
def tiny_anonymous_budget(monkeypatch):
    monkeypatch.setattr(AnonRecommendationsThrottle, "THROTTLE_RATES", {"anon_recommendations": "3/min"})


def test_two_processes_count_one_anonymous_budget_together(redis_throttle_cache, tiny_anonymous_budget):
    # given: a caller (an address of its own, so no other run's counters interfere) who spent
    # the whole budget of 3 in another process
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "fashionrec.settings",
        "FASHIONREC_THROTTLE_CACHE_URL": redis_throttle_cache,
        # A settings import must not start or join the embedded server: nothing here queries it.
        "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
    }
    other = subprocess.run(
        [sys.executable, "-c", OTHER_WORKER, address], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert other.returncode == 0, other.stderr
    assert other.stdout.split() == ["True", "True", "True"]
    # when: the same caller asks this process
    response = APIClient().post("/api/v1/recommendations/", {"product_id": 1}, REMOTE_ADDR=address)
    # then: this process knows the budget is spent
    assert response.status_code == 429, response.content
    assert response.json()["error"]["code"] == "throttled"
