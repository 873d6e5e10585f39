"""The browsable API docs (Swagger UI and Redoc), served with pinned assets from our own static files.

drf-spectacular-sidecar ships the Swagger UI and Redoc bundles as static files, so the pages work
offline and cannot change under us the way the CDN's ``@latest`` could.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView


class _DocsPageOptions:
    """OPTIONS answers the allowed methods, with no body.

    DRF's default OPTIONS answer is rendered by the page's HTML template with metadata instead of
    the page's context; Swagger UI's template then includes a script template it was never given
    (a 500). A documentation page has nothing to describe beyond its methods.
    """

    allowed_methods: list[str]

    @extend_schema(exclude=True)
    def options(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return HttpResponse(status=200, headers={"Allow": ", ".join(self.allowed_methods)})


class DocsSwaggerView(_DocsPageOptions, SpectacularSwaggerView):
    pass


class DocsRedocView(_DocsPageOptions, SpectacularRedocView):
    # drf-spectacular's template also fetches Redoc's web fonts from Google; ours leaves them out
    # (Redoc falls back to the system's sans-serif fonts).
    template_name = "fashionrec/redoc.html"
