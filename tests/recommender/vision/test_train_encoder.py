import json
import re

import numpy as np
import pytest
import torch
from django.conf import settings
from django.core.management import call_command

from fashionrec.imaging import load_image
from recommender.vision.encoder import AutoencoderEncoder, load_encoder
from recommender.vision.encoder_eval import list_split
from recommender.vision.encoder_training import CHECKPOINT_NAME, TrainSettings, train

TINY = {"limit": 10, "epochs": 2, "batch_size": 10, "image_size": 48}


class Interrupted(Exception):
    pass


def test_a_tiny_train_encoder_run_writes_loadable_versioned_weights_and_a_card(tmp_path, monkeypatch):
    # given
    monkeypatch.setenv("FASHIONREC_NO_PROGRESS", "1")
    output = tmp_path / "encoder"

    # when: 10 images, one batch per epoch, two epochs = two optimiser steps
    call_command(
        "train_encoder",
        "--limit=10",
        "--epochs=2",
        "--batch-size=10",
        "--image-size=48",
        f"--output={output}",
        "--cache=none",
        stdout=open(tmp_path / "log.txt", "w"),  # noqa: SIM115
    )

    # then
    assert not (output / CHECKPOINT_NAME).exists()
    encoder = load_encoder(output / "encoder.pt")
    assert isinstance(encoder, AutoencoderEncoder)
    assert re.match(r"^ae128-\d{8}-[0-9a-f]{8}$", encoder.version)
    assert encoder.input_size == 48
    assert json.loads(encoder.card["metrics"])["epochs"] == 2
    paths, _, _ = list_split(settings.FASHIONREC_DATASET, "validation")
    vectors = encoder.encode([load_image(paths[0]), load_image(paths[-1])])
    assert vectors.shape == (2, 128)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    card = (output / "MODEL_CARD.md").read_text()
    assert encoder.version in card
    assert "python manage.py train_encoder --limit=10 --epochs=2" in card or "(called from Python)" in card
    assert "CC0" in card
    assert "val_precision@10" in card
    assert "whole images" in card


def test_an_interrupted_run_resumes_to_exactly_the_uninterrupted_weights(tmp_path, monkeypatch):
    # given
    monkeypatch.setenv("FASHIONREC_NO_PROGRESS", "1")
    dataset = settings.FASHIONREC_DATASET
    straight = train(TrainSettings(dataset=dataset, output=tmp_path / "straight", **TINY), progress=lambda m: None)

    def stop_after_first_epoch(message: str) -> None:
        if message.startswith("epoch=1 "):
            raise Interrupted

    interrupted_settings = TrainSettings(dataset=dataset, output=tmp_path / "interrupted", **TINY)
    with pytest.raises(Interrupted):
        train(interrupted_settings, progress=stop_after_first_epoch)
    assert (tmp_path / "interrupted" / CHECKPOINT_NAME).exists()

    # when
    messages = []
    resumed = train(interrupted_settings, progress=messages.append)

    # then: same parameters bit for bit, hence the same version
    assert any(m.startswith("resuming from") for m in messages)
    assert resumed.version == straight.version
    first = torch.load(straight.weights_path, weights_only=True)["state_dict"]
    second = torch.load(resumed.weights_path, weights_only=True)["state_dict"]
    assert all(torch.equal(first[name], second[name]) for name in first)
    assert [h["epoch"] for h in resumed.history] == [1, 2]


def test_a_checkpoint_from_other_settings_is_not_resumed(tmp_path, monkeypatch):
    monkeypatch.setenv("FASHIONREC_NO_PROGRESS", "1")
    dataset = settings.FASHIONREC_DATASET

    def stop(message: str) -> None:
        if message.startswith("epoch=1 "):
            raise Interrupted

    with pytest.raises(Interrupted):
        train(TrainSettings(dataset=dataset, output=tmp_path, **TINY), progress=stop)
    with pytest.raises(ValueError, match="other settings"):
        train(TrainSettings(dataset=dataset, output=tmp_path, **{**TINY, "seed": 1}), progress=lambda m: None)
