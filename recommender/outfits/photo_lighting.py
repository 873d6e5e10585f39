"""A photo's lighting, taken out of a garment's colours before the outfit model reads them.

Street photos are taken in every light: a white shirt under a warm street lamp has orange
pixels, and the colour harmony learned from such pixels partly learns the lamp. Normalising
each photo's lighting (``grey_world``) before its pixels feed the Lab palette raised every
colour figure on the street selection split and in train cross-validation while the
lighting-only baseline did not move. **No shipped model uses a method** (``none`` is the
default): on flat-lay catalog photos, whose mean colour is the garment's and the bed's, not the
light's, grey world moved the colours a shopper's upload is read with far from the product's
(docs/outfits.md, "Photo lighting (a second v005 attempt)"). ``train_outfits --lighting`` is
there for a deployment whose uploads are street photos.

Every method is a per-channel gain computed from the **whole photo's** mean colour
(``photo_mean``), the grey-world assumption (Buchsbaum 1980: a scene averages to grey), so it
needs nothing but the photo and is the same transform for a training garment and a shopper's
upload. The garment keeps its raw pixels and the photo's mean; the model applies its own
method (``OutfitModel.lighting``) when it reads them, so a model trained without one scores as
it always did. A catalog product has no pixels here (its colour name's palette row is used):
normalisation never touches it.

- ``none``: the pixels as photographed (models before v005).
- ``grey_world``: white balance and exposure: each channel scaled so the photo's mean is
  ``TARGET_MEAN`` in every channel.
- ``white_balance``: white balance only: each channel scaled to the mean of the three channel
  means, so the photo's brightness is kept (a white studio background stays white).
- ``white_balance_clamped``: as ``white_balance`` with each gain kept within
  ``[1 / MAX_GAIN, MAX_GAIN]``, so a photo that a single garment's colour fills is not pushed to
  its complementary colour.
"""

from __future__ import annotations

import numpy as np

NONE = "none"
GREY_WORLD = "grey_world"
WHITE_BALANCE = "white_balance"
WHITE_BALANCE_CLAMPED = "white_balance_clamped"
METHODS = (NONE, GREY_WORLD, WHITE_BALANCE, WHITE_BALANCE_CLAMPED)
# The grey-world target: a photo's mean channel value after normalisation (0..1).
TARGET_MEAN = 0.45
MAX_GAIN = 1.25
# Channel means below this (a black frame) are taken as this, so a gain stays finite.
DARKEST_MEAN = 0.02
# The photo's mean reads this many pixels at most (an even stride): a mean, not a histogram.
MEAN_SAMPLE = 20_000


def photo_mean(image: np.ndarray) -> np.ndarray:
    """Mean R, G, B (0..1) of a whole photo, (H, W, 3) or (n, 3) uint8."""
    pixels = np.asarray(image, dtype=np.uint8).reshape(-1, 3)
    if len(pixels) == 0:
        return np.full(3, 0.5)
    step = max(1, len(pixels) // MEAN_SAMPLE)
    return pixels[::step].astype(np.float64).mean(axis=0) / 255.0


def gains(mean: np.ndarray, method: str) -> np.ndarray:
    """The per-channel gains ``method`` applies to a photo whose mean colour is ``mean``."""
    if method not in METHODS:
        raise ValueError(f"unknown lighting method {method!r} (one of {', '.join(METHODS)})")
    mean = np.maximum(np.asarray(mean, dtype=np.float64).reshape(3), DARKEST_MEAN)
    if method == NONE:
        return np.ones(3)
    if method == GREY_WORLD:
        return TARGET_MEAN / mean
    balanced = mean.mean() / mean
    if method == WHITE_BALANCE_CLAMPED:
        return np.clip(balanced, 1.0 / MAX_GAIN, MAX_GAIN)
    return balanced


def normalise(pixels: np.ndarray, mean: np.ndarray | None, method: str) -> np.ndarray:
    """(n, 3) uint8 ``pixels`` of a photo whose mean colour is ``mean``, under ``method``.

    Without a mean (a garment whose photo is unknown) the pixels are returned as they are."""
    if method == NONE or mean is None:
        return pixels
    scaled = np.asarray(pixels, dtype=np.float64) * gains(mean, method)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
