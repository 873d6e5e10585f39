"""Safe image decoding, shared by catalog uploads, recommendation photos, ingest and training.

``load_image`` is the only way bytes from outside become a ``PIL.Image`` in this project: it
checks the size of the file, the pixel count and the decoded size (pixels × bytes per pixel of
the mode) from the header *before* decoding any pixel, restricts decoding to the formats and
modes a shop photo comes in, applies EXIF orientation, takes the first frame of animated images
and returns 8-bit RGB whatever the source mode. Anything it cannot turn into such an image is
refused with ``ImageRejected`` (a ``ValueError`` carrying a machine-readable ``code``), never a
crash deep inside Pillow.

The file size says little about the memory a decode costs: a 252 KB deflated float TIFF of
6300 × 6300 decoded into 1 GB, a 130 KB PNG of the same size into 300 MB. Hence the decoded-bytes
budget, which a JPEG over it meets by decoding at 1/2, 1/4 or 1/8 scale (``draft``, almost free
in libjpeg) and any other format by being refused.

Pure Python: no Django settings are read here; callers pass the limits (``get_pipeline`` reads
``FASHIONREC_MAX_UPLOAD_BYTES`` / ``FASHIONREC_MAX_IMAGE_PIXELS`` / ``FASHIONREC_MAX_DECODED_BYTES``).
It sits at the bottom layer because both the catalog (validating an upload before it is stored)
and the recommender (a shopper's photo, the vision pipeline) decode images, and the catalog must
not import the recommender; the model-input resizing stays in ``recommender.vision.preprocess``.
"""

from __future__ import annotations

import io
import sys
import warnings
from pathlib import Path
from typing import Literal

import numpy as np
import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError

# HEIC/HEIF, what phones send (issue 18): decoded by libheif through pillow-heif. Registered here,
# where every outside image is decoded, so each entry point accepts it with the same limits: the
# opener reads only the header on open (the size is known before any pixel is decoded) and
# decodes on load(), like Pillow's own formats. Thumbnails stay off: only the primary image counts.
pillow_heif.register_heif_opener(thumbnails=False)

RejectionCode = Literal[
    "empty",
    "not_an_image",
    "truncated",
    "too_many_pixels",
    "too_large",
    "decoded_too_large",
    "unsupported_format",
    "unsupported_mode",
]

# Formats a shopper's or merchant's photo arrives in. (Camera MPO files, a JPEG with preview
# frames, open through the JPEG decoder and are accepted with it.) HEIF covers .heic and .heif.
ACCEPTED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "HEIF")

# Library defaults, used when a caller passes None (settings override them in the pipeline).
DEFAULT_MAX_BYTES = 15 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000
# 100 MB of decoded pixels: a 25-megapixel RGB photo (Pillow keeps RGB in 4 bytes a pixel). The
# peak of a whole decode is about twice this (the RGB copy handed to the models).
DEFAULT_MAX_DECODED_BYTES = 100_000_000

# Bytes a pixel takes once decoded, per Pillow mode: every multi-band 8-bit mode is stored in 4
# bytes a pixel, single-band modes in their sample size. Unknown modes count as 4.
_DECODED_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}
# TIFF sample formats a camera or a phone never writes for a photo (scientific and HDR data):
# 16/32-bit integer and float samples, decoded by Pillow into wide single-band modes.
_WIDE_TIFF_MODES = ("I", "F")  # with "I;16", "I;16B", "I;32"...: any mode starting with these
# JPEG's decoder can scale by these factors while decoding (DCT scaling), at a fraction of the cost.
_JPEG_DRAFT_SCALES = (2, 4, 8)

# Documents that are sometimes uploaded as "images" and that Pillow cannot or must not open.
_DOCUMENT_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "PDF"),
    (b"%!PS", "PostScript"),
    (b"\xc5\xd0\xd3\xc6", "EPS"),
)

WHITE = (255, 255, 255)


class ImageRejected(ValueError):
    """An upload that cannot be used as an image; ``code`` is stable, ``message`` is for people."""

    def __init__(self, code: RejectionCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code: RejectionCode = code
        self.message = message


def load_image(
    data: bytes | bytearray | memoryview | Path | str,
    *,
    max_bytes: int | None = None,
    max_pixels: int | None = None,
    max_decoded_bytes: int | None = None,
) -> Image.Image:
    """Decode ``data`` (bytes or a file path) into an EXIF-oriented 8-bit RGB image.

    Raises ``ImageRejected`` with code ``empty``, ``too_large`` (file over ``max_bytes``),
    ``not_an_image``, ``unsupported_format`` (e.g. SVG, PDF, ICO), ``too_many_pixels`` (header
    announces more than ``max_pixels``: checked before decoding, so a decompression bomb never
    allocates its pixels), ``unsupported_mode`` (a TIFF of 16/32-bit or float samples),
    ``decoded_too_large`` (pixels × bytes per pixel over ``max_decoded_bytes``, also checked
    before decoding; a JPEG is decoded at a reduced scale instead where one fits, so its size
    is then smaller than the file's) or ``truncated`` (the pixel data ends early or is corrupt).
    """
    max_bytes = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
    max_pixels = DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels
    max_decoded_bytes = DEFAULT_MAX_DECODED_BYTES if max_decoded_bytes is None else max_decoded_bytes
    raw = _read_bytes(data, max_bytes)

    image = _open_header(raw)
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageRejected("not_an_image", "The image has no pixels.")
    if width * height > max_pixels:
        raise ImageRejected(
            "too_many_pixels",
            f"The image is {width}×{height} = {width * height:,} pixels; at most {max_pixels:,} are accepted.",
        )
    if image.format == "TIFF" and image.mode.startswith(_WIDE_TIFF_MODES):
        raise ImageRejected(
            "unsupported_mode",
            f"TIFF images of {image.mode} samples (16/32-bit or floating point) are not accepted; "
            "upload an 8-bit photo.",
        )
    _fit_decoded_bytes(image, max_decoded_bytes)

    try:
        # Animated GIF/WebP/APNG and multi-page TIFF: open() leaves the first frame selected.
        image.load()
    except Image.DecompressionBombError as error:
        raise ImageRejected("too_many_pixels", str(error)) from error
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageRejected("truncated", f"The image data is truncated or corrupt ({error}).") from error

    image = _exif_oriented(image)
    # A freshly decoded RGB image is ours already: no copy (it would double the peak).
    return image if image.mode == "RGB" else to_rgb(image)


# JPEG quality of stored catalog photos: visually lossless for photos (the encoder sees 224 px
# crops of them), about a third of the size of quality 100.
STORED_JPEG_QUALITY = 92


def encode_for_storage(image: Image.Image) -> bytes:
    """The bytes a photo is stored as: ``image`` (decoded by ``load_image``: EXIF-oriented RGB)
    re-encoded as a baseline JPEG carrying no metadata but its colour profile.

    Phones write the place a photo was taken (EXIF GPS), the device and its serial number, and
    sometimes a comment or XMP; none of it is needed to sell or match a garment, so none of it
    is kept. Only the ICC profile goes along (it is how the colours were meant, and says nothing
    of the person). The orientation is already applied to the pixels, so no EXIF tag is needed
    to show the photo upright. Deterministic for given pixels (same bytes every time), which the
    duplicate check by checksum relies on.
    """
    buffer = io.BytesIO()
    options = {"quality": STORED_JPEG_QUALITY, "comment": b""}
    if icc_profile := image.info.get("icc_profile"):
        options["icc_profile"] = icc_profile
    to_save = image if image.mode == "RGB" else to_rgb(image)
    to_save.save(buffer, format="JPEG", **options)
    return buffer.getvalue()


def decoded_bytes(mode: str, size: tuple[int, int]) -> int:
    """Memory the pixels of an image of ``mode`` and ``size`` take once decoded by Pillow."""
    width, height = size
    return width * height * _DECODED_BYTES_PER_PIXEL.get(mode, 4)


def _fit_decoded_bytes(image: Image.Image, max_decoded_bytes: int) -> None:
    """Refuse an image whose decoded pixels would exceed the budget; a JPEG is scaled down instead.

    Runs on the opened header, before any pixel is decoded. ``draft`` makes libjpeg decode at
    1/2, 1/4 or 1/8 scale (the smallest reduction that fits is chosen), so a 40-megapixel JPEG
    costs what a 10-megapixel one does. Other formats cannot decode at a reduced scale.
    """
    needed = decoded_bytes(image.mode, image.size)
    if needed <= max_decoded_bytes:
        return
    if image.format in ("JPEG", "MPO"):
        width, height = image.size
        for scale in _JPEG_DRAFT_SCALES:
            reduced = (-(-width // scale), -(-height // scale))  # rounded up, as libjpeg does
            if decoded_bytes(image.mode, reduced) <= max_decoded_bytes:
                image.draft(image.mode, reduced)
                if decoded_bytes(image.mode, image.size) <= max_decoded_bytes:
                    return
                break
    raise ImageRejected(
        "decoded_too_large",
        f"The image is {image.width}×{image.height} pixels of {image.mode}, {needed:,} bytes once decoded; "
        f"at most {max_decoded_bytes:,} are accepted.",
    )


def _read_bytes(data: bytes | bytearray | memoryview | Path | str, max_bytes: int) -> bytes:
    if isinstance(data, str | Path):
        path = Path(data)
        size = path.stat().st_size
        if size > max_bytes:
            raise ImageRejected("too_large", f"The file is {size:,} bytes; at most {max_bytes:,} are accepted.")
        raw = path.read_bytes()
    else:
        raw = bytes(data)
    if not raw:
        raise ImageRejected("empty", "The file is empty.")
    if len(raw) > max_bytes:
        raise ImageRejected("too_large", f"The file is {len(raw):,} bytes; at most {max_bytes:,} are accepted.")
    return raw


def _open_header(raw: bytes) -> Image.Image:
    """Parse only the header with the accepted decoders; classify what is not accepted."""
    head = raw[:1024].lstrip()
    for signature, name in _DOCUMENT_SIGNATURES:
        if head.startswith(signature):
            raise ImageRejected("unsupported_format", f"{name} documents are not accepted; upload a photo.")
    lowered = head.lower()
    if lowered.startswith((b"<?xml", b"<svg", b"<!doctype svg")) and b"<svg" in raw[:4096].lower():
        raise ImageRejected("unsupported_format", "SVG drawings are not accepted; upload a photo.")

    with warnings.catch_warnings():
        # Our own pixel limit is checked right after opening; Pillow's warning adds nothing.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            return _pillow_open()(io.BytesIO(raw), formats=ACCEPTED_FORMATS)
        except Image.DecompressionBombError as error:
            # Pillow refuses headers beyond twice its global limit even before our check.
            raise ImageRejected("too_many_pixels", str(error)) from error
        except UnidentifiedImageError:
            pass
        except (OSError, SyntaxError, ValueError, EOFError) as error:
            raise ImageRejected("truncated", f"The image header is truncated or corrupt ({error}).") from error
        # Not one of ours: is it an image format Pillow knows (ICO, PSD, TGA…) or no image at all?
        try:
            other = _pillow_open()(io.BytesIO(raw))
            name = other.format or "this"
        except Exception:
            if pillow_heif.is_supported(raw):
                # A HEIF container (its "ftyp" brand says so) whose boxes libheif cannot read: a
                # cut-off upload, like a JPEG that ends early, not some other kind of file.
                raise ImageRejected("truncated", "The HEIC/HEIF image is truncated or corrupt.") from None
            raise ImageRejected("not_an_image", "The file is not an image.") from None
    accepted = ", ".join(ACCEPTED_FORMATS)
    raise ImageRejected("unsupported_format", f"{name} images are not accepted; use {accepted}.")


def _pillow_open():
    """Pillow's own ``Image.open``.

    Importing ultralytics replaces ``PIL.Image.open`` process-wide with a wrapper that, on any
    unidentified file, runs ``check_requirements("pi-heif")`` (a pip install attempt) before
    retrying: every non-image upload would reach for the network. Bypass it.
    """
    patches = sys.modules.get("ultralytics.utils.patches")
    original = getattr(patches, "_image_open", None)
    return original if callable(original) else Image.open


def _exif_oriented(image: Image.Image) -> Image.Image:
    # In place: without it Pillow returns a copy even when there is nothing to turn (a second
    # full-size image at the peak of every decode).
    try:
        ImageOps.exif_transpose(image, in_place=True)
    except Exception:
        # A malformed EXIF block must not cost the upload: the pixels are fine, keep them as stored.
        return image
    return image


def to_rgb(image: Image.Image, background: tuple[int, int, int] = WHITE) -> Image.Image:
    """Any Pillow mode to 8-bit RGB; transparency is composited onto ``background`` (white)."""
    mode = image.mode
    if mode == "RGB":
        return image.copy()
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        mode = image.mode
    if mode in ("PA", "LA", "La", "RGBa"):
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode == "L" and "transparency" in image.info:
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode == "RGBA":
        canvas = Image.new("RGB", image.size, background)
        canvas.paste(image, mask=image.getchannel("A"))
        return canvas
    if mode.startswith("I") or mode == "F":
        return Image.fromarray(_to_uint8(np.asarray(image)), mode="L").convert("RGB")
    if mode in ("1", "L", "CMYK", "YCbCr", "RGBX"):
        # CMYK: Pillow already undoes the inverted channels that Adobe JPEGs store.
        return image.convert("RGB")
    try:
        return image.convert("RGB")
    except (ValueError, OSError) as error:
        raise ImageRejected("unsupported_format", f"Images in colour mode {mode} are not accepted.") from error


_ROWS_PER_BLOCK = 256


def _to_uint8(values: np.ndarray) -> np.ndarray:
    """Map a 16/32-bit integer or float single-channel array to 0..255 deterministically."""
    if values.dtype == np.uint16:
        # The common case (16-bit greyscale PNG), in integers: (v + 128) // 257 equals the float
        # path's rint(v / 257) for every 16-bit v (no value lies halfway), in a quarter of the memory.
        if values.size and int(values.max()) <= 255:
            return values.astype(np.uint8)
        scaled = np.empty(values.shape, dtype=np.uint8)
        for start in range(0, values.shape[0], _ROWS_PER_BLOCK):  # bounded temporaries
            block = values[start : start + _ROWS_PER_BLOCK].astype(np.uint32)
            scaled[start : start + _ROWS_PER_BLOCK] = (block + 128) // 257
        return scaled
    values = values.astype(np.float64)
    if values.size == 0:
        return values.astype(np.uint8)
    high = float(values.max())
    low = float(values.min())
    if low >= 0 and high <= 255 and np.all(values == np.floor(values)):
        return values.astype(np.uint8)
    if low >= 0 and high <= 65535:
        # 16-bit data: full-range scaling, so a mid-grey stays mid-grey whatever the image content.
        return np.clip(np.rint(values / 257.0), 0, 255).astype(np.uint8)
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.clip(np.rint((values - low) * 255.0 / (high - low)), 0, 255).astype(np.uint8)
