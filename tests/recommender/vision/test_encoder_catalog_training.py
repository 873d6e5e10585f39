"""Catalog training without Django: plain photos in, resumable seeded runs, a card from what was used."""

from pathlib import Path

import pytest
import torch
from django.conf import settings

from recommender.vision.encoder_catalog_data import CatalogPhoto, catalog_training_set
from recommender.vision.encoder_catalog_training import CatalogSpec, train_from_catalog
from recommender.vision.encoder_street_training import CHECKPOINT_NAME, StreetTrainSettings

TRAIN = Path(settings.FASHIONREC_DATASET) / "train"
SPEC = CatalogSpec(level=None, min_per_class=3, seed=0)


class Interrupted(Exception):
    pass


def tiny_set(seed: int = 0):
    # Two photos per product, so the by-product split has something to keep together.
    photos = [
        CatalogPhoto(path, f"{folder}-{index // 2}", category)
        for folder, category in (("hat", "store/hats"), ("skirt", "store/skirts"))
        for index, path in enumerate(sorted((TRAIN / folder).glob("*.jpg"))[:8])
    ]
    return catalog_training_set(photos, min_per_class=SPEC.min_per_class, seed=seed)


def tiny_settings(output: Path) -> StreetTrainSettings:
    return StreetTrainSettings(
        dataset=None, ccp=None, output=output, epochs=2, batch_size=8, image_size=32, widths=(8, 16), eval_every=1
    )


def test_an_interrupted_catalog_run_resumes_to_the_uninterrupted_weights(tmp_path, monkeypatch):
    # given
    monkeypatch.setenv("FASHIONREC_NO_PROGRESS", "1")
    straight = train_from_catalog(tiny_set(), SPEC, tiny_settings(tmp_path / "straight"), progress=lambda m: None)

    def stop_after_first_epoch(message: str) -> None:
        if message.startswith("epoch=1 "):
            raise Interrupted

    with pytest.raises(Interrupted):
        train_from_catalog(tiny_set(), SPEC, tiny_settings(tmp_path / "resumed"), progress=stop_after_first_epoch)
    assert (tmp_path / "resumed" / CHECKPOINT_NAME).exists()

    # when
    messages: list[str] = []
    resumed = train_from_catalog(tiny_set(), SPEC, tiny_settings(tmp_path / "resumed"), progress=messages.append)

    # then: the same weights bit for bit, and the progress lines say what happened
    assert any(m.startswith("resuming from") for m in messages)
    assert resumed.version == straight.version
    first = torch.load(straight.weights_path, weights_only=True)["state_dict"]
    second = torch.load(resumed.weights_path, weights_only=True)["state_dict"]
    assert all(torch.equal(first[name], second[name]) for name in first)
    assert "  store/hats: 4 train, 2 selection, 2 report photos" in messages
    assert resumed.report["queries"] == 4 and resumed.report["catalog"] == 12


def test_a_checkpoint_of_another_training_set_is_not_resumed(tmp_path, monkeypatch):
    monkeypatch.setenv("FASHIONREC_NO_PROGRESS", "1")

    def stop(message: str) -> None:
        if message.startswith("epoch=1 "):
            raise Interrupted

    with pytest.raises(Interrupted):
        train_from_catalog(tiny_set(seed=0), SPEC, tiny_settings(tmp_path), progress=stop)
    with pytest.raises(ValueError, match="other settings"):
        train_from_catalog(tiny_set(seed=1), SPEC, tiny_settings(tmp_path), progress=lambda m: None)
