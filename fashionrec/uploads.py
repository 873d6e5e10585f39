"""Limits on request bodies and uploaded files, enforced while the bytes arrive.

Three layers, from the outside in (docs/security.md, "Limits"):

1. the reverse proxy's own cap (nginx ``client_max_body_size``), so a huge body never reaches us;
2. ``RequestLimitsMiddleware`` (``fashionrec.middleware``): a ``Content-Length`` over the limit is
   answered 413 before a byte of the body is read. Under WSGI a body cannot be longer than its
   ``Content-Length`` (Django reads through a stream limited to it; a chunked body without one reads
   as empty), so this bounds what any request can make us read;
3. ``CappedUploadHandler``, first of ``FILE_UPLOAD_HANDLERS``: each uploaded file is counted chunk
   by chunk (64 KiB) and the upload stops as soon as one is over ``FASHIONREC_MAX_UPLOAD_BYTES``,
   so even an admin form (whose body limit allows several photos) never spools a 60 MB "photo".
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest


class UploadTooLarge(RequestDataTooBig):
    """A request body or one uploaded file over the limits: answered 413, code ``too_large``."""

    def __init__(self, message: str, *, limit: int) -> None:
        super().__init__(message)
        self.message = message
        self.limit = limit


def request_body_limit(request: HttpRequest) -> int:
    """The most bytes a body may have on this path.

    Admin forms may carry several photos at once (the product page's image inline); everything
    else takes at most one photo plus its form fields.
    """
    if request.path.startswith("/admin/"):
        return settings.FASHIONREC_MAX_ADMIN_REQUEST_BYTES
    return settings.FASHIONREC_MAX_REQUEST_BYTES


def announced_body_length(request: HttpRequest) -> int:
    """The request's ``Content-Length``; 0 when absent or invalid, as Django then reads no body."""
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


class CappedUploadHandler(FileUploadHandler):
    """Stops a multipart upload as soon as one file is over ``FASHIONREC_MAX_UPLOAD_BYTES``.

    It passes every chunk on to the next handlers (memory, then temporary file) until the file
    crosses the limit; then it raises ``UploadTooLarge`` instead, so those handlers never see the
    rest and the rest of the body is never read.
    """

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.max_file_bytes: int = settings.FASHIONREC_MAX_UPLOAD_BYTES
        self.file_bytes = 0

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.file_bytes = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.file_bytes += len(raw_data)
        if self.file_bytes > self.max_file_bytes:
            self._discard_partial_files()
            raise UploadTooLarge(f"The file is larger than {self.max_file_bytes:,} bytes.", limit=self.max_file_bytes)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handlers build the uploaded file

    def _discard_partial_files(self) -> None:
        """Close (and so delete) what the next handlers stored of the refused file so far.

        Django closes them only when a handler stops the upload with ``StopUpload``, which would
        hand the view a form without the file (a misleading 400) instead of our 413.
        """
        for handler in getattr(self.request, "upload_handlers", ()):
            partial = getattr(handler, "file", None)
            if handler is not self and partial is not None:
                partial.close()
