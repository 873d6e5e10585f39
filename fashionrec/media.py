"""Serve uploaded images safely.

Uploaded files are stored under generated names with a neutral ``.img`` suffix, so the web
server cannot guess a type from the name. This view sniffs the first bytes and serves only
known raster image types, with ``nosniff`` and a CSP that forbids scripts: a file that
claims to be an image but holds HTML or SVG is answered 404, never rendered.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest
from django.utils._os import safe_join

_SIGNATURES: list[tuple[bytes, str]] = [
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
]


def sniff_image_type(head: bytes) -> str | None:
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    for signature, content_type in _SIGNATURES:
        if head.startswith(signature):
            return content_type
    return None


def serve_media(request: HttpRequest, path: str) -> FileResponse:
    try:
        full_path = Path(safe_join(settings.MEDIA_ROOT, path))
    except Exception as exc:  # SuspiciousFileOperation on "../" and absolute paths
        raise Http404("Not found.") from exc
    try:
        is_file = full_path.is_file()
    except (OSError, ValueError):  # a name longer than the file system allows (ENAMETOOLONG), a NUL byte
        is_file = False
    if not is_file:
        raise Http404("Not found.")
    handle = full_path.open("rb")
    content_type = sniff_image_type(handle.read(16))
    if content_type is None:
        handle.close()
        raise Http404("Not found.")
    handle.seek(0)
    response = FileResponse(handle, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "public, max-age=86400"
    return response
