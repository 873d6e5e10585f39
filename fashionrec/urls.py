from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from fashionrec.health import health
from fashionrec.media import serve_media

urlpatterns = [
    # The apps' routes are included by name, so this root module imports none of them.
    path("", include("storefront.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("fashionrec.api.urls")),
    path("healthz", health, name="health"),
    # Served by the app in every environment: the view only ever answers with a sniffed raster
    # image type (see fashionrec/media.py). A CDN or proxy cache can sit in front of it.
    path(f"{settings.MEDIA_URL.strip('/')}/<path:path>", serve_media, name="media"),
]

handler400 = "fashionrec.api.errors.bad_request"
handler404 = "fashionrec.api.errors.page_not_found"
handler500 = "fashionrec.api.errors.server_error"
