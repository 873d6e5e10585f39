"""POST /api/v1/recommendations/ with ``garments=all``: every garment of an outfit photo, each with
its own results, through the shipped detector and encoder (issue 15, "shop the whole look")."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.conf import settings

from recommender.models import EncoderVersion, Garment
from recommender.vision.pipeline import get_pipeline
from tests.api.conftest import assert_error
from tests.api.test_recommendations_image import photo
from tests.factories import category_create, garment_create, product_create

pytestmark = pytest.mark.django_db

URL = "/api/v1/recommendations/"
# A held-out street photo (CCP 0014: a number divisible by 7, never trained on) in which the shipped
# detector finds several garments (test_recommendations_image pins it for its main garment too).
STREET = Path(settings.FASHIONREC_CCP_DATASET) / "photos" / "0014.jpg"


def street() -> io.BytesIO:
    upload = io.BytesIO(STREET.read_bytes())
    upload.name = STREET.name
    return upload


@pytest.fixture(scope="module")
def street_garments():
    """The photo's garments as the API will see them (the pipeline is deterministic), each encoded."""
    garments = get_pipeline().analyse(STREET.read_bytes(), encode="all").garments
    assert sum(not garment.is_whole_image for garment in garments) >= 2, [g.label for g in garments]
    return garments


@pytest.fixture
def look_catalog(db, street_garments):
    """Per detected garment a 'twin' product indexed with exactly its embedding, in a category of
    its own, priced 10 × (n + 1); plus a few unrelated products."""
    version = get_pipeline().encoder_version
    EncoderVersion.objects.create(name=version, is_active=True)
    twins = []
    for n, crop in enumerate(street_garments):
        twin = product_create(category=category_create(f"look/g{n}"), price=f"{10 * (n + 1)}.00", title=f"Twin {n}")
        garment = garment_create(twin, seed=100 + n, version=version)
        Garment.objects.filter(pk=garment.pk).update(embedding=crop.embedding.tolist())
        twins.append(twin)
    for n in range(4):
        garment_create(product_create(category=category_create("other/things")), seed=n, version=version)
    return twins


def test_every_garment_comes_with_its_own_results_main_first(client, look_catalog, street_garments):
    # when an outfit photo is sent with garments=all
    response = client.post(URL, {"image": street(), "garments": "all", "k": 3}, format="multipart")

    # then there is one result list per detected garment, in the order of `garments`
    assert response.status_code == 200, response.content
    body = response.json()
    looks = body["results_by_garment"]
    assert len(looks) == len(body["garments"]) == len(street_garments) >= 2
    for look, garment in zip(looks, body["garments"], strict=True):
        assert {name: look[name] for name in garment} == garment
        assert len(look["results"]) == 3
    # the main garment first, flagged, and `results` stays its results (as without garments=all)
    assert [look["is_main"] for look in looks] == [True] + [False] * (len(looks) - 1)
    assert body["garment"] == 0 and body["results"] == looks[0]["results"]
    # each list is for its own garment: its twin (indexed with the garment's embedding) comes first
    assert [look["results"][0]["product"]["title"] for look in looks] == [f"Twin {n}" for n in range(len(looks))]
    assert all(look["results"][0]["similarity"] == pytest.approx(1.0, abs=1e-4) for look in looks)


def test_the_filters_apply_to_every_garments_results(client, look_catalog):
    # when garments=all comes with a category and a price ceiling that only the second twin passes
    response = client.post(
        URL,
        {"image": street(), "garments": "all", "category": look_catalog[1].category_id, "price_max": "25"},
        format="multipart",
    )

    # then every garment's list obeys both filters (and so holds only that twin)
    assert response.status_code == 200, response.content
    looks = response.json()["results_by_garment"]
    assert len(looks) >= 2
    for look in looks:
        assert [result["product"]["id"] for result in look["results"]] == [look_catalog[1].pk]
        assert all(float(result["product"]["price"]) <= 25 for result in look["results"])


def test_the_query_count_is_fixed_per_garment(client, look_catalog, street_garments, django_assert_num_queries):
    # 1 context (active encoder, filter ids); 2 EXPLAIN estimate (same filters for every garment);
    # then 1 recommend statement per garment; last, 1 query for the product cards of all lists
    n = len(street_garments)
    with django_assert_num_queries(3 + n):
        response = client.post(URL, {"image": street(), "garments": "all", "k": 3}, format="multipart")
    assert response.status_code == 200
    assert len(response.json()["results_by_garment"]) == n


def test_a_chosen_garment_keeps_every_list_and_says_whose_results_lead(client, look_catalog):
    # when the shopper picks the second garment of the look (the demo re-sends the photo so)
    body = client.post(URL, {"image": street(), "garments": "all", "garment": 1, "k": 3}, format="multipart").json()

    # then every garment's list is still there, main first, and `results` is the chosen one's
    assert body["garment"] == 1
    assert len(body["results_by_garment"]) >= 2 and body["results_by_garment"][0]["is_main"]
    assert body["results"] == body["results_by_garment"][1]["results"]
    assert body["results"][0]["product"]["title"] == "Twin 1"


def test_without_garments_all_the_answer_is_as_before(client, look_catalog, django_assert_num_queries):
    # when the same photo is sent without garments=all, or with one garment's index
    with django_assert_num_queries(4):
        plain = client.post(URL, {"image": street(), "k": 3}, format="multipart").json()
    second = client.post(URL, {"image": street(), "k": 3, "garment": 1}, format="multipart").json()

    # then one result list, for the main garment (or the one asked for), and no per-garment lists
    assert plain["results_by_garment"] == [] and plain["garment"] == 0
    assert plain["results"][0]["product"]["title"] == "Twin 0"
    assert second["results_by_garment"] == [] and second["garment"] == 1
    assert second["results"][0]["product"]["title"] == "Twin 1"
    assert [g["is_main"] for g in plain["garments"]][:2] == [True, False]


def test_a_flat_lay_photo_keeps_one_result_list(client, look_catalog):
    # given a photo of a single garment on a plain background
    body = client.post(URL, {"image": photo(), "garments": "all", "k": 3}, format="multipart").json()

    # then its one garment (or the whole photo) gets the list it gets today
    assert len(body["garments"]) == len(body["results_by_garment"]) >= 1
    assert body["results_by_garment"][0]["results"] == body["results"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"garments": "every"}, "garments"),
        ({"garments": "2"}, "garments"),
        ({"garments": ""}, "garments"),
        ({"garments": "all", "garment": 999}, "garment"),
    ],
    ids=["unknown-word", "a-number", "empty", "garment-not-detected"],
)
def test_bad_garments_values_are_400_in_the_error_format(client, look_catalog, data, field):
    error = assert_error(client.post(URL, {"image": street(), **data}, format="multipart"), 400)
    assert field in error["details"], error


def test_garments_all_with_a_product_is_400(client, look_catalog):
    response = client.post(URL, {"product_id": look_catalog[0].pk, "garments": "all"}, format="json")
    error = assert_error(response, 400)
    assert "garments" in error["details"], error
