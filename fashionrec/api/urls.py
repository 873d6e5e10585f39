"""Everything under /api/v1/. Each app owns its routes in ``<app>/api/urls.py``."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from fashionrec.api.docs import DocsRedocView, DocsSwaggerView

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", DocsSwaggerView.as_view(url_name="schema"), name="docs"),
    path("redoc/", DocsRedocView.as_view(url_name="schema"), name="redoc"),
    path("", include("catalog.api.urls")),
    path("", include("recommender.api.urls")),
    path("", include("users.api.urls")),
]
