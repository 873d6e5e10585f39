import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from fashionrec.imaging import ImageRejected, load_image
from recommender.vision.preprocess import clamp_box, letterbox, resize_exact


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def noise(width: int, height: int, seed: int = 0) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels, "RGB")


def png_with_header_size(width: int, height: int) -> bytes:
    """A valid 1×1 PNG whose IHDR is rewritten to announce width×height (CRC fixed)."""
    data = bytearray(encode(Image.new("L", (1, 1)), "PNG"))
    ihdr_start = 8 + 4 + 4  # signature, chunk length, b"IHDR"
    data[ihdr_start : ihdr_start + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr_start - 4 : ihdr_start + 13]))
    data[ihdr_start + 13 : ihdr_start + 17] = struct.pack(">I", crc)
    return bytes(data)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"])
def test_every_accepted_format_decodes_to_rgb_of_the_same_size(fmt):
    # given
    data = encode(noise(64, 48), fmt)

    # when
    image = load_image(data)

    # then
    assert image.mode == "RGB"
    assert image.size == (64, 48)


def test_a_path_is_read_like_bytes(tmp_path):
    # given
    path = tmp_path / "photo.png"
    path.write_bytes(encode(noise(10, 12), "PNG"))

    # when
    image = load_image(path)

    # then
    assert image.size == (10, 12)
    assert np.array_equal(np.asarray(image), np.asarray(load_image(path.read_bytes())))


def test_empty_bytes_are_rejected_as_empty():
    with pytest.raises(ImageRejected) as rejected:
        load_image(b"")
    assert rejected.value.code == "empty"
    assert isinstance(rejected.value, ValueError)


def test_text_is_rejected_as_not_an_image():
    with pytest.raises(ImageRejected) as rejected:
        load_image(b"hello, this is certainly not a photo of a jacket")
    assert rejected.value.code == "not_an_image"


def test_non_images_are_rejected_without_ultralytics_image_open_patch(monkeypatch):
    # given: ultralytics (imported by the detector) wraps PIL.Image.open so that an unidentified
    # file triggers a pip install of pi-heif; refusing an upload must not depend on that
    import ultralytics.utils.checks
    import ultralytics.utils.patches  # applies the patch

    def no_installs(*args, **kwargs):
        raise AssertionError("a package install was attempted")

    monkeypatch.setattr(ultralytics.utils.checks, "check_requirements", no_installs)
    assert Image.open.__module__ != "PIL.Image"

    # when / then
    with pytest.raises(ImageRejected) as rejected:
        load_image(b"plain text, not an image")
    assert rejected.value.code == "not_an_image"
    assert load_image(encode(noise(8, 8), "PNG")).size == (8, 8)


def test_a_truncated_jpeg_is_rejected_as_truncated():
    # given: the second half of the entropy-coded data is missing
    data = encode(noise(256, 256), "JPEG", quality=90)
    truncated = data[: len(data) // 2]

    # when / then
    with pytest.raises(ImageRejected) as rejected:
        load_image(truncated)
    assert rejected.value.code == "truncated"


def test_a_truncated_png_is_rejected_as_truncated():
    data = encode(noise(128, 128), "PNG")
    with pytest.raises(ImageRejected) as rejected:
        load_image(data[: len(data) - 400])
    assert rejected.value.code == "truncated"


def test_a_crafted_header_bomb_is_rejected_before_any_pixel_is_decoded(monkeypatch):
    # given: a 100-byte PNG announcing 60,000 × 60,000 pixels, and Pillow's own limit switched
    # off (as ultralytics does on import), so only our header check can stop it
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    data = png_with_header_size(60_000, 60_000)
    assert len(data) < 200

    # when / then: had it been decoded it would have failed as "truncated", not this
    with pytest.raises(ImageRejected) as rejected:
        load_image(data, max_pixels=40_000_000)
    assert rejected.value.code == "too_many_pixels"


def test_a_real_compressed_bomb_is_rejected_by_the_configured_pixel_limit(monkeypatch):
    # given: 6,000 × 6,000 black pixels compress to a few tens of kB
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    data = encode(Image.new("1", (6000, 6000)), "PNG", optimize=True)
    assert len(data) < 100_000

    # when / then
    with pytest.raises(ImageRejected) as rejected:
        load_image(data, max_pixels=1_000_000)
    assert rejected.value.code == "too_many_pixels"
    assert load_image(data, max_pixels=36_000_000).size == (6000, 6000)


def test_pillows_own_bomb_error_is_also_reported_as_too_many_pixels():
    # given: Pillow refuses on open anything over twice MAX_IMAGE_PIXELS (default ~179 M)
    data = png_with_header_size(30_000, 30_000)

    with pytest.raises(ImageRejected) as rejected:
        load_image(data, max_pixels=10**12)
    assert rejected.value.code == "too_many_pixels"


def test_bytes_over_the_size_limit_are_rejected_as_too_large(tmp_path):
    data = encode(noise(64, 64), "PNG")
    path = tmp_path / "big.png"
    path.write_bytes(data)

    for source in (data, path):
        with pytest.raises(ImageRejected) as rejected:
            load_image(source, max_bytes=len(data) - 1)
        assert rejected.value.code == "too_large"
    assert load_image(data, max_bytes=len(data)).size == (64, 64)


@pytest.mark.parametrize(
    "payload",
    [
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>',
        b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="5" height="5"/></svg>',
        b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF",
    ],
    ids=["svg-with-xml-prolog", "svg", "pdf"],
)
def test_documents_are_rejected_as_unsupported_format(payload):
    with pytest.raises(ImageRejected) as rejected:
        load_image(payload)
    assert rejected.value.code == "unsupported_format"


@pytest.mark.parametrize("fmt", ["ICO", "PPM", "TGA"])
def test_image_formats_outside_the_accepted_list_are_unsupported(fmt):
    data = encode(noise(32, 32), fmt)
    with pytest.raises(ImageRejected) as rejected:
        load_image(data)
    assert rejected.value.code == "unsupported_format"
    assert fmt in rejected.value.message or "images are not accepted" in rejected.value.message


def test_exif_orientation_is_applied():
    # given: a landscape JPEG whose EXIF says "rotate 90° clockwise to display" (orientation 6)
    source = Image.new("RGB", (40, 20), (255, 0, 0))
    source.paste((0, 0, 255), (0, 0, 20, 20))  # left half blue
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(source, "JPEG", exif=exif, quality=95)

    # when
    image = load_image(data)

    # then: portrait, and the blue half is now on top
    assert image.size == (20, 40)
    top, bottom = np.asarray(image)[5, 10], np.asarray(image)[35, 10]
    assert top[2] > 200 and top[0] < 60
    assert bottom[0] > 200 and bottom[2] < 60


def test_transparent_rgba_is_composited_on_white():
    source = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    source.putpixel((0, 0), (255, 0, 0, 255))

    image = load_image(encode(source, "PNG"))

    assert image.mode == "RGB"
    assert image.getpixel((3, 3)) == (255, 255, 255)
    assert image.getpixel((0, 0)) == (255, 0, 0)


def test_palette_with_transparency_and_la_become_rgb_on_white():
    palette = Image.new("P", (4, 4), 0)
    palette.putpalette([0, 255, 0] + [10, 10, 10] * 255)
    palette.putpixel((1, 1), 1)
    la = Image.new("LA", (4, 4), (50, 0))
    la.putpixel((2, 2), (50, 255))

    from_palette = load_image(encode(palette, "PNG", transparency=0))
    from_la = load_image(encode(la, "PNG"))

    assert from_palette.getpixel((0, 0)) == (255, 255, 255)
    assert from_palette.getpixel((1, 1)) == (10, 10, 10)
    assert from_la.getpixel((0, 0)) == (255, 255, 255)
    assert from_la.getpixel((2, 2)) == (50, 50, 50)


def test_sixteen_bit_greyscale_is_scaled_to_eight_bits():
    # given: a 16-bit PNG with black, mid-grey and white
    values = np.array([[0, 32896, 65535]], dtype=np.uint16)
    source = Image.fromarray(values)  # mode I;16

    image = load_image(encode(source, "PNG"))

    assert image.mode == "RGB"
    assert [image.getpixel((x, 0)) for x in range(3)] == [(0, 0, 0), (128, 128, 128), (255, 255, 255)]


@pytest.mark.parametrize(("mode", "fmt"), [("CMYK", "JPEG"), ("L", "PNG"), ("1", "BMP"), ("CMYK", "TIFF")])
def test_other_modes_become_rgb(mode, fmt):
    source = noise(16, 16).convert(mode)

    image = load_image(encode(source, fmt))

    assert image.mode == "RGB"
    assert image.size == (16, 16)


def test_only_the_first_frame_of_an_animated_gif_is_used():
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)

    image = load_image(buffer.getvalue())

    assert image.mode == "RGB"
    red, _green, blue = image.getpixel((4, 4))
    assert red > 200 and blue < 50


def test_letterbox_keeps_aspect_and_maps_boxes_back():
    # given
    image = Image.new("RGB", (200, 100), (255, 0, 0))

    # when
    boxed, scale, (left, top) = letterbox(image, 64)

    # then
    assert boxed.size == (64, 64)
    assert scale == pytest.approx(0.32)
    assert (left, top) == (0, 16)
    assert boxed.getpixel((32, 5)) == (114, 114, 114)
    assert boxed.getpixel((32, 32)) == (255, 0, 0)
    assert np.array_equal(np.asarray(letterbox(image, 64)[0]), np.asarray(boxed))


def test_resize_exact_is_deterministic():
    image = noise(97, 131, seed=3)
    first, second = resize_exact(image, 64), resize_exact(image, 64)
    assert first.size == (64, 64)
    assert np.array_equal(np.asarray(first), np.asarray(second))


def test_clamp_box_keeps_boxes_inside_and_non_empty():
    assert clamp_box((-5, -3, 50.4, 20.6), 40, 30) == (0, 0, 40, 21)
    assert clamp_box((10, 10, 10, 10), 40, 30) == (10, 10, 11, 11)
    assert clamp_box((50, 40, 60, 70), 40, 30) == (39, 29, 40, 30)
    assert clamp_box((30, 20, 10, 5), 40, 30) == (10, 5, 30, 20)


# --- decoded bytes: a small file must not decode into a huge image --------------------------

# The shapes: 6300 × 6300 is under the pixel limit (39.7 of 40 megapixels).
HUGE = (6300, 6300)


@pytest.fixture
def decodes(monkeypatch):
    """Every ``load()`` (the pixel decoding) Pillow runs, by format: a spy, the decoders stay real."""
    from PIL import ImageFile

    calls: list[str] = []
    original = ImageFile.ImageFile.load

    def load(self):
        calls.append(self.format)
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    return calls


@pytest.mark.parametrize("mode", ["F", "I", "I;16"])
def test_a_tiff_of_wide_samples_is_refused_before_decoding(decodes, mode):
    # given: a deflated TIFF of float (or 32/16-bit) samples, small on disk, ~160 MB decoded
    data = encode(Image.new(mode, HUGE, 1), "TIFF", compression="tiff_adobe_deflate")
    assert len(data) < 1_000_000
    # when
    with pytest.raises(ImageRejected) as rejected:
        load_image(data)
    # then: a typed refusal, and no pixel was ever decoded
    assert rejected.value.code == "unsupported_mode"
    assert "8-bit" in rejected.value.message
    assert decodes == []


def test_a_png_over_the_decoded_budget_is_refused_before_decoding(decodes):
    # given: a PNG of 130 KB that decodes into 159 MB (Pillow keeps RGB in 4 bytes a pixel)
    data = encode(Image.new("RGB", HUGE, (10, 20, 30)), "PNG")
    assert len(data) < 1_000_000
    # when
    with pytest.raises(ImageRejected) as rejected:
        load_image(data)
    # then
    assert rejected.value.code == "decoded_too_large"
    assert "158,760,000 bytes" in rejected.value.message
    assert decodes == []


def test_a_png_under_the_decoded_budget_is_decoded():
    data = encode(Image.new("L", (2000, 1000), 90), "PNG")  # 2 MB decoded

    image = load_image(data, max_decoded_bytes=2_000_000)

    assert image.size == (2000, 1000)
    assert image.getpixel((0, 0)) == (90, 90, 90)


def test_a_jpeg_over_the_decoded_budget_is_decoded_at_a_reduced_scale():
    # given: a 1600 × 1200 JPEG (7.7 MB decoded) and a budget of 2 MB: 1/2 scale is 1.9 MB
    source = Image.new("RGB", (1600, 1200), (200, 30, 30))
    source.paste((30, 40, 180), (800, 0, 1600, 1200))
    data = encode(source, "JPEG", quality=95)
    # when
    image = load_image(data, max_decoded_bytes=2_000_000)
    # then: the smallest reduction that fits, the same picture
    assert image.mode == "RGB"
    assert image.size == (800, 600)
    red, _, blue = image.getpixel((200, 300))
    assert red > 180 and blue < 60
    red, _, blue = image.getpixel((600, 300))
    assert red < 60 and blue > 160


def test_a_jpeg_too_large_even_at_an_eighth_is_refused():
    data = encode(Image.new("RGB", (1600, 1200), "white"), "JPEG")  # 1/8: 200 × 150 × 4 = 120 kB

    with pytest.raises(ImageRejected) as rejected:
        load_image(data, max_decoded_bytes=100_000)

    assert rejected.value.code == "decoded_too_large"


def test_sixteen_bit_greyscale_maps_every_value_like_rounding_v_over_257():
    # given: every 16-bit value once
    values = np.arange(65536, dtype=np.uint16).reshape(256, 256)

    image = load_image(encode(Image.fromarray(values), "PNG"))

    expected = np.rint(values / 257.0).astype(np.uint8)
    assert np.array_equal(np.asarray(image)[:, :, 0], expected)
