from django.urls import path

from users.api.interactions import InteractionsApi
from users.api.preferences import PreferencesApi

urlpatterns: list = [
    path("me/preferences/", PreferencesApi.as_view(), name="me-preferences"),
    path("me/interactions/", InteractionsApi.as_view(), name="me-interactions"),
]
