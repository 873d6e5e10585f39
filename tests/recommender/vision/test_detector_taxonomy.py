from pathlib import Path

from django.conf import settings

from recommender.vision.detector_data import ccp_label_names
from recommender.vision.taxonomy import (
    CATALOG_FOLDER_TO_GARMENT,
    CCP_TO_GARMENT,
    GARMENT_CLASSES,
    display_label,
    garment_for_name,
)


def test_every_ccp_class_is_mapped_to_a_garment_or_explicitly_dropped():
    # given the 59 labels of the CCP annotations
    names = ccp_label_names(Path(settings.FASHIONREC_CCP_DATASET))

    # then each has a decision, and every target is a garment class
    assert len(names) == 59
    assert set(names) == set(CCP_TO_GARMENT)
    assert {g for g in CCP_TO_GARMENT.values() if g} == set(GARMENT_CLASSES)
    for not_a_garment in ("null", "skin", "hair", "sunglasses", "belt"):
        assert CCP_TO_GARMENT[not_a_garment] is None


def test_every_catalog_folder_maps_to_a_garment_class():
    # given the clothing dataset's category folders
    folders = {p.name for p in (Path(settings.FASHIONREC_DATASET) / "train").iterdir() if p.is_dir()}

    # then each one is mapped
    assert folders == set(CATALOG_FOLDER_TO_GARMENT)
    assert set(CATALOG_FOLDER_TO_GARMENT.values()) <= set(GARMENT_CLASSES)
    assert CATALOG_FOLDER_TO_GARMENT["longsleeve"] == "top"
    assert CATALOG_FOLDER_TO_GARMENT["outwear"] == "outerwear"


def test_foreign_model_names_map_through_the_taxonomy_or_keep_their_name():
    # DeepFashion2 names are normalised (spaces, case) before lookup
    assert garment_for_name("long sleeve outwear") == "outerwear"
    assert garment_for_name("Short_Sleeved_Shirt") == "top"
    assert garment_for_name("trousers") == "trousers"
    assert display_label("sneakers") == "shoes"
    # unknown classes keep their own name rather than being dropped or mislabelled
    assert garment_for_name("umbrella") is None
    assert display_label("umbrella") == "umbrella"
