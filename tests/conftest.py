import pytest


@pytest.fixture
def season_summer(db):
    from catalog.models import Season

    return Season.objects.create(name="Summer", slug="summer", start_month=6, start_day=1, end_month=8, end_day=31)


@pytest.fixture
def season_winter(db):
    from catalog.models import Season

    return Season.objects.create(name="Winter", slug="winter", start_month=12, start_day=1, end_month=2, end_day=28)
