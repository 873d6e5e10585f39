import pytest


@pytest.fixture
def season_summer(db):
    from catalog.models import Season

    return Season.objects.create(name="Summer", slug="summer", start_month=6, start_day=1, end_month=8, end_day=31)


@pytest.fixture
def season_winter(db):
    from catalog.models import Season

    return Season.objects.create(name="Winter", slug="winter", start_month=12, start_day=1, end_month=2, end_day=28)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counters live in the cache: without this, tests would throttle each other."""
    from django.core.cache import cache, caches

    from fashionrec.api.throttling import THROTTLE_CACHE

    for each in (cache, caches[THROTTLE_CACHE]):
        each.clear()
    yield
    for each in (cache, caches[THROTTLE_CACHE]):
        each.clear()


@pytest.fixture
def start_transaction():
    """Start a transaction in a thread of its own (``tests.concurrency.TransactionThread``)."""
    from tests.concurrency import transaction_threads

    yield from transaction_threads()
