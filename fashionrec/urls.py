from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.static import serve

from fashionrec.health import health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("fashionrec.api.urls")),
    path("healthz", health, name="health"),
]

if settings.DEBUG:
    urlpatterns.append(
        path(f"{settings.MEDIA_URL.strip('/')}/<path:path>", serve, {"document_root": settings.MEDIA_ROOT})
    )
