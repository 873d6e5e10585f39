"""manage.py calibrate_encoder: any weights get a monotonic match calibration from the selection split."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from django.conf import settings
from django.core.management import CommandError, call_command

from recommender.models import EncoderVersion
from recommender.services.ingest import encoder_version_ensure
from recommender.vision.encoder import load_encoder, weights_sha256


@pytest.fixture
def uncalibrated(tmp_path) -> Path:
    """The shipped encoder's weights without their calibration."""
    checkpoint = torch.load(settings.FASHIONREC_ENCODER_WEIGHTS, map_location="cpu", weights_only=True)
    checkpoint.pop("calibration", None)
    path = tmp_path / "encoder.pt"
    torch.save(checkpoint, path)
    return path


def calibrate(path: Path, *options: str) -> str:
    out = io.StringIO()
    call_command(
        "calibrate_encoder", str(path), "--limit=30", "--cache=none", *options, stdout=out, stderr=io.StringIO()
    )
    return out.getvalue()


@pytest.mark.django_db
def test_calibrating_weights_stores_monotonic_knots_and_keeps_the_weights(uncalibrated):
    # given: the version is registered without a calibration
    before = torch.load(uncalibrated, map_location="cpu", weights_only=True)
    EncoderVersion.objects.create(name=before["version"], is_active=True)
    # when: a dry run, then a written one
    printed = calibrate(uncalibrated)
    assert "not written" in printed and "calibration" not in torch.load(uncalibrated, weights_only=True)
    printed = calibrate(uncalibrated, "--write")
    # then: the file holds a non-decreasing map in [0, 1] over increasing cosines
    after = torch.load(uncalibrated, map_location="cpu", weights_only=True)
    knots = after["calibration"]
    assert knots["pairs"] > 0 and "cosine → P(same kind)" in printed
    assert np.all(np.diff(knots["cosines"]) > 0)
    assert np.all(np.diff(knots["probabilities"]) >= 0)
    assert 0 <= knots["probabilities"][0] <= knots["probabilities"][-1] <= 1
    # and the weights, their digest and the version are what they were
    assert after["version"] == before["version"]
    assert weights_sha256(after["state_dict"]) == weights_sha256(before["state_dict"])
    encoder = load_encoder(uncalibrated)
    assert encoder.calibration is not None and encoder.calibration.to_dict() == knots
    grid = np.linspace(-1, 1, 201)
    assert np.all(np.diff(encoder.calibration(grid)) >= 0)
    # and queries use it at once: the version's row has it
    assert EncoderVersion.objects.get(name=before["version"]).calibration == knots


def test_missing_weights_are_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="no weights file"):
        call_command("calibrate_encoder", str(tmp_path / "nope.pt"))


@pytest.mark.django_db
def test_registering_a_version_copies_its_calibration_and_a_new_one_replaces_it():
    first = {"cosines": [0.1, 0.9], "probabilities": [0.2, 0.8], "pairs": 10}
    version = encoder_version_ensure(name="v-cal", calibration=first)
    assert EncoderVersion.objects.get(pk=version.pk).calibration == first
    assert encoder_version_ensure(name="v-cal").calibration == first  # no calibration given: kept
    second = {"cosines": [0.5, 0.95], "probabilities": [0.1, 0.9], "pairs": 20}
    encoder_version_ensure(name="v-cal", calibration=second)
    assert EncoderVersion.objects.get(pk=version.pk).calibration == second
