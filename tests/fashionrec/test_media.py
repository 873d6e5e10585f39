import io

import pytest
from PIL import Image


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buffer, format="PNG")
    return buffer.getvalue()


def test_an_uploaded_image_is_served_with_its_sniffed_type_and_no_script_rights(client, media_root):
    # given
    (media_root / "products").mkdir()
    (media_root / "products" / "a.img").write_bytes(png_bytes())
    # when
    response = client.get("/media/products/a.img")
    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in response["Content-Security-Policy"]


@pytest.mark.parametrize(
    "payload",
    [b"<html><script>alert(1)</script></html>", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', b""],
)
def test_a_file_that_is_not_a_raster_image_is_never_served(client, media_root, payload):
    (media_root / "evil.img").write_bytes(payload)
    assert client.get("/media/evil.img").status_code == 404


@pytest.mark.parametrize("path", ["/media/../settings.py", "/media/%2e%2e/%2e%2e/etc/passwd", "/media/missing.img"])
def test_paths_outside_the_media_root_or_missing_files_are_not_found(client, media_root, path):
    assert client.get(path).status_code == 404
