import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from django.conf import settings
from django.core.management import call_command

from fashionrec.imaging import load_image
from recommender.vision import encoder_street_training as street
from recommender.vision.encoder import AutoencoderEncoder, load_encoder
from recommender.vision.encoder_eval import list_split
from recommender.vision.encoder_model import AutoencoderConfig, GarmentAutoencoder
from recommender.vision.encoder_street_training import StreetTrainSettings
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
        "--recipe=whole",
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
    assert "python manage.py train_encoder --recipe=whole --limit=10" in card or "(called from Python)" in card
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


# --- recipe "street" (encoder v2) -------------------------------------------------------------

STREET_TINY = {"limit": 6, "epochs": 2, "batch_size": 8, "image_size": 32, "eval_every": 1, "threads": 1}


def _street_settings(output, **overrides):
    return StreetTrainSettings(
        dataset=Path(settings.FASHIONREC_DATASET),
        ccp=Path(settings.FASHIONREC_CCP_DATASET),
        output=output,
        **{**STREET_TINY, **overrides},
    )


def test_a_tiny_street_run_writes_loadable_weights_its_selection_best_and_an_exportable_card(tmp_path, monkeypatch):
    # given
    monkeypatch.setenv("FASHIONREC_NO_PROGRESS", "1")
    output = tmp_path / "street"

    # when: the default recipe of the command, 6 catalog photos and the garments of 6 street photos
    call_command(
        "train_encoder",
        "--limit=6",
        "--epochs=2",
        "--batch-size=8",
        "--image-size=32",
        "--eval-every=1",
        f"--output={output}",
        "--cache=none",
        stdout=open(tmp_path / "log.txt", "w"),  # noqa: SIM115
    )
    # best.pt as the first version of this recipe wrote it: with its (untrained) decoder
    legacy = torch.load(output / street.BEST_NAME, weights_only=True)
    legacy["config"]["recon_size"] = 32
    decoder = GarmentAutoencoder(AutoencoderConfig.from_dict(legacy["config"])).decoder.state_dict()
    legacy["state_dict"].update({f"decoder.{name}": value for name, value in decoder.items()})
    torch.save(legacy, output / street.BEST_NAME)
    call_command("train_encoder", f"--output={output}", "--export=best", f"--to={tmp_path / 'shipped' / 'encoder.pt'}")

    # then
    assert not (output / street.CHECKPOINT_NAME).exists()
    encoder = load_encoder(output / "encoder.pt")
    assert re.match(r"^st128-\d{8}-[0-9a-f]{8}$", encoder.version)
    assert encoder.input_size == 32
    vectors = encoder.encode([load_image(p) for p in list_split(settings.FASHIONREC_DATASET, "validation")[0][:2]])
    assert vectors.shape == (2, 128)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    best = load_encoder(tmp_path / "shipped" / "encoder.pt")
    # shipped without the decoder this recipe does not train, and honest about it
    for weights in (output / "encoder.pt", tmp_path / "shipped" / "encoder.pt"):
        assert not any(name.startswith("decoder.") for name in torch.load(weights, weights_only=True)["state_dict"])
    with pytest.raises(ValueError, match="no decoder"):
        best.reconstruct([load_image(list_split(settings.FASHIONREC_DATASET, "validation")[0][0])])
    assert np.all(np.diff(best.calibration.probabilities) >= 0)  # fitted on the selection split
    assert best.calibration.pairs > 0
    card = (tmp_path / "shipped" / "MODEL_CARD.md").read_text()
    assert best.version in card
    for needed in ("CC0", "Apache-2.0", "multiple of 7", "Selection split", "street_p10", "## Reproduce", "## Match"):
        assert needed in card
    assert [row["epoch"] for row in json.loads((output / "metrics.json").read_text())["history"]] == [1, 2]
    # any weights file, v1 included, can be measured on the same selection split
    evaluated = io.StringIO()
    call_command("train_encoder", f"--evaluate={output / 'encoder.pt'}", "--limit=6", "--cache=none", stdout=evaluated)
    figures = json.loads(evaluated.getvalue().strip().splitlines()[-1])
    assert figures["version"] == encoder.version
    assert 0.0 <= figures["street_p10"] <= 1.0 and 0.0 <= figures["score"] <= 1.0


def test_an_interrupted_street_run_resumes_to_exactly_the_uninterrupted_weights(tmp_path, monkeypatch):
    # given
    monkeypatch.setenv("FASHIONREC_NO_PROGRESS", "1")
    straight = street.train_street(_street_settings(tmp_path / "straight"), progress=lambda m: None)

    # when: the first run stops at its time budget after epoch 1, the same settings resume it
    stopped = street.train_street(_street_settings(tmp_path / "resumed", minutes=0.0), progress=lambda m: None)
    messages = []
    resumed = street.train_street(_street_settings(tmp_path / "resumed"), progress=messages.append)

    # then
    assert stopped.weights_path is None
    assert [h["epoch"] for h in stopped.history] == [1]
    assert any(m.startswith("resuming from") for m in messages)
    assert resumed.version == straight.version
    first = torch.load(straight.weights_path, weights_only=True)["state_dict"]
    second = torch.load(resumed.weights_path, weights_only=True)["state_dict"]
    assert all(torch.equal(first[name], second[name]) for name in first)


def test_a_street_checkpoint_from_other_settings_is_not_resumed(tmp_path, monkeypatch):
    monkeypatch.setenv("FASHIONREC_NO_PROGRESS", "1")
    street.train_street(_street_settings(tmp_path, minutes=0.0), progress=lambda m: None)

    with pytest.raises(ValueError, match="other settings"):
        street.train_street(_street_settings(tmp_path, margin=0.3), progress=lambda m: None)


def test_worn_boxes_are_jittered_within_the_bound_and_flat_lay_crops_stay_inside_the_photo():
    # given two worn boxes and two flat-lay photos
    inner = torch.tensor([[-0.5, -0.5, 0.5, 0.5], [-0.7, -0.2, 0.1, 0.6], [-1, -1, 1, 1], [-1, -1, 1, 1]])
    worn = torch.tensor([True, True, False, False])
    generator = torch.Generator().manual_seed(0)

    # when
    boxes = torch.stack([street.sample_boxes(inner, worn, generator, (0.35, 1.0), 0.1) for _ in range(200)])

    # then
    size = torch.stack([inner[:, 2] - inner[:, 0], inner[:, 3] - inner[:, 1]] * 2, dim=1)
    error = (boxes[:, :2] - inner[:2]).abs() / size[:2]
    assert error.max() <= 0.1 + 1e-6 and error.max() > 0.05
    flat = boxes[:, 2:]
    assert (flat[..., :2] >= -1 - 1e-6).all() and (flat[..., 2:] <= 1 + 1e-6).all()
    area = (flat[..., 2] - flat[..., 0]) * (flat[..., 3] - flat[..., 1]) / 4
    assert area.min() >= 0.35 * 0.75 - 1e-3  # the crop's area range, up to the 3/4-4/3 aspect clamp


def test_a_background_swap_replaces_only_the_pixels_outside_the_garment_mask():
    # given a red garment on floors of four greys, no geometric or colour change
    images = torch.stack([torch.full((3, 16, 16), 250 - 40 * i, dtype=torch.uint8) for i in range(4)])
    images[:, 0, 4:12, 4:12], images[:, 1:, 4:12, 4:12] = 200, 0
    masks = torch.zeros((4, 1, 16, 16), dtype=torch.uint8)
    masks[:, :, 4:12, 4:12] = 1
    inner = torch.tensor([[-1.0, -1.0, 1.0, 1.0]] * 4)
    settings_ = _street_settings(
        Path("/nonexistent"), box_jitter=0.0, perspective=0.0, background_swap=1.0, colour_jitter=0.0
    )

    # when
    views = street.augment_views(
        images, masks, inner, torch.ones(4, dtype=torch.bool), 16, torch.Generator().manual_seed(0), settings_
    )

    # then the garment is untouched (up to a possible mirror, symmetric here), each floor replaced
    assert torch.allclose(views[:, 0, 5:11, 5:11], torch.tensor(200 / 255), atol=1e-4)
    assert torch.allclose(views[:, 1:, 5:11, 5:11], torch.tensor(0.0), atol=1e-4)
    own_floor = torch.tensor([(250 - 40 * i) / 255 for i in range(4)]).view(4, 1, 1, 1)
    assert ((views[:, :, 0:2, :] - own_floor).abs() > 0.02).any(dim=(1, 2, 3)).all()


def test_the_margin_loss_lowers_only_the_target_logit():
    embedding = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), dim=1)
    centres = torch.tensor([[1.0, 0.0], [0.0, 1.0]])

    logits = street.margin_logits(embedding, centres, torch.tensor([0, 0]), scale=10.0, margin=0.2)

    assert torch.allclose(logits, torch.tensor([[8.0, 0.0], [-2.0, 10.0]]))


def test_the_weight_average_forgets_the_random_initialisation_early():
    # the average of the first steps follows the weights closely, later ones move slowly
    assert street.ema_decay_at(0, 0.998) == pytest.approx(0.1)
    assert street.ema_decay_at(170, 0.998) == pytest.approx(0.95)
    assert street.ema_decay_at(100_000, 0.998) == 0.998
    initial_share = np.prod([street.ema_decay_at(step, 0.998) for step in range(170)])
    assert initial_share < 1e-3
