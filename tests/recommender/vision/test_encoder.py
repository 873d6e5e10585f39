import io
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from django.conf import settings
from PIL import Image

from fashionrec.imaging import load_image
from recommender.vision.encoder import (
    AutoencoderEncoder,
    Encoder,
    TorchvisionEncoder,
    load_encoder,
    weights_sha256,
)
from recommender.vision.encoder_eval import list_split

# ae: encoder v1 (whole catalog photos), st: encoder v2 (recipe "street")
VERSION = re.compile(r"^(ae|st)128-\d{8}-[0-9a-f]{8}$")


@pytest.fixture(scope="module")
def shipped():
    return load_encoder(settings.FASHIONREC_ENCODER_WEIGHTS)


@pytest.fixture(scope="module")
def photos():
    """One real catalog photo per category of the validation split."""
    paths, labels, _ = list_split(settings.FASHIONREC_DATASET, "validation")
    first = {}
    for path, label in zip(paths, labels, strict=True):
        first.setdefault(label, path)
    return [load_image(path) for path in first.values()]


def test_the_shipped_weights_load_offline_with_a_version_naming_their_parameters(shipped):
    # then
    assert isinstance(shipped, AutoencoderEncoder)
    assert isinstance(shipped, Encoder)
    assert VERSION.match(shipped.version)
    assert shipped.version.endswith(weights_sha256(shipped.model.state_dict())[:8])
    assert shipped.dim == settings.FASHIONREC_EMBEDDING_DIM == 128
    assert len(shipped.class_names) == 10


def test_the_shipped_weights_stay_under_the_size_budget():
    # issue 16: weights small enough to commit (≤ 20 MB); v2 is 11.3 MB
    assert Path(settings.FASHIONREC_ENCODER_WEIGHTS).stat().st_size <= 20 * 1000 * 1000


def test_encode_returns_unit_norm_float32_rows(shipped, photos):
    # when
    vectors = shipped.encode(photos)

    # then
    assert vectors.dtype == np.float32
    assert vectors.shape == (len(photos), 128)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert shipped.encode([]).shape == (0, 128)


def test_the_same_image_always_gives_the_same_embedding(shipped, photos):
    # given
    photo = photos[0]

    # when
    first = shipped.encode([photo])
    again = shipped.encode([photo.copy()])
    reloaded = load_encoder(settings.FASHIONREC_ENCODER_WEIGHTS).encode([photo])
    in_a_batch = shipped.encode(photos)[0]

    # then: bit-identical alone; a batch may only reorder float sums
    assert np.array_equal(first, again)
    assert np.array_equal(first, reloaded)
    assert np.allclose(first[0], in_a_batch, atol=1e-5)


def test_different_garments_get_different_embeddings(shipped, photos):
    vectors = shipped.encode(photos)
    similarity = vectors @ vectors.T
    off_diagonal = similarity[~np.eye(len(photos), dtype=bool)]
    assert off_diagonal.max() < 0.999


def test_the_decoder_reconstructs_thumbnails_better_than_flat_grey(shipped, photos):
    if shipped.model.decoder is None:
        # encoder v2 ships without a decoder (its recipe does not train one), and says so
        with pytest.raises(ValueError, match="no decoder"):
            shipped.reconstruct(photos)
        return
    # given: what the decoder should reproduce, the 32×32 thumbnail of each photo
    targets = np.stack([np.asarray(photo.resize((32, 32), Image.Resampling.BOX)) for photo in photos]) / 255.0

    # when
    thumbnails = shipped.reconstruct(photos)

    # then
    assert thumbnails.shape == (len(photos), 32, 32, 3)
    assert thumbnails.dtype == np.uint8
    error = ((thumbnails / 255.0 - targets) ** 2).mean()
    flat_grey_error = ((0.5 - targets) ** 2).mean()
    assert error < 0.8 * flat_grey_error


def test_a_torchvision_backbone_from_a_local_file_replaces_the_encoder(tmp_path, photos):
    # given: a real (randomly initialised) torchvision network saved as a plain state_dict,
    # as a user would copy pretrained weights onto the machine
    torch.manual_seed(0)
    network = torchvision.models.get_model("mobilenet_v3_small", weights=None, num_classes=10)
    weights = tmp_path / "mobilenet_v3_small.pth"
    torch.save(network.state_dict(), weights)

    # when
    encoder = TorchvisionEncoder.from_backbone_weights("mobilenet_v3_small", weights, input_size=96)
    vectors = encoder.encode(photos[:3])
    saved = tmp_path / "encoder.pt"
    torch.save(encoder.checkpoint(), saved)
    reloaded = load_encoder(saved)

    # then
    assert isinstance(encoder, Encoder)
    assert vectors.shape == (3, 128)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert encoder.version.startswith("tv-mobilenet_v3_small-")
    assert reloaded.version == encoder.version
    assert np.allclose(reloaded.encode(photos[:3]), vectors, atol=1e-6)


def test_a_file_that_is_not_an_encoder_checkpoint_is_refused(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(ValueError, match="not a fashionrec encoder checkpoint"):
        load_encoder(path)


def test_encode_accepts_any_mode_and_size(shipped):
    crops = [Image.new("L", (13, 200), 90), Image.new("RGBA", (300, 20), (10, 200, 30, 128))]
    buffer = io.BytesIO()
    crops[0].save(buffer, "PNG")
    vectors = shipped.encode(crops)
    assert vectors.shape == (2, 128)
    assert np.isfinite(vectors).all()
