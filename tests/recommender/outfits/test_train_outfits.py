"""manage.py train_outfits on a few real CCP photos: a loadable model, its card, the encoder it used."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from recommender.outfits.model import OutfitModel
from recommender.vision.encoder import load_encoder


def test_a_tiny_run_writes_a_versioned_model_with_its_card(tmp_path):
    # when
    out = io.StringIO()
    call_command("train_outfits", "--limit", "30", "--output", str(tmp_path), "--threads", "1", stdout=out)
    # then: the next free version, a model that loads, made with the configured encoder
    folder = tmp_path / "v001"
    model = OutfitModel.load(folder)
    assert model.encoder_version == load_encoder(Path(settings.FASHIONREC_ENCODER_WEIGHTS)).version
    assert len(model.index_kinds) > 0 and model.card["train_outfits"] > 0 and model.card["selection_outfits"] > 0
    assert 0.0 <= model.card["selection_fitb"] <= 1.0 and 0.0 <= model.card["selection_auc"] <= 1.0
    # the colour harmony is over a Lab palette learned from the train garments' pixels
    assert model.palette is not None and model.colour_harmony.shape == (len(model.palette), len(model.palette))
    assert model.name_palette.shape == (len(model.colour_bins), len(model.palette))
    # the hub correction is on, with its centres for every kind (and pair of kinds)
    assert model.weights.centring == 1.0
    assert model.colour_centres.shape == (len(model.kinds), len(model.palette))
    assert model.partner_centres.shape[:2] == (len(model.kinds), len(model.kinds))
    card = (folder / "MODEL_CARD.md").read_text()
    assert model.encoder_version in card and "report" in card and "Hub correction: centring 1" in card
    assert "wrote" in out.getvalue()


def test_a_missing_dataset_is_a_clear_error(tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no CCP photos"):
        call_command("train_outfits", "--ccp", str(tmp_path), "--output", str(tmp_path))
