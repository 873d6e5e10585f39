from django.urls import path

from recommender.api.views import RecommendationsApi, SimilarProductsApi

urlpatterns: list = [
    path("recommendations/", RecommendationsApi.as_view(), name="recommendations"),
    # <str:...>: a malformed id gets the API's 404 error body instead of Django's HTML page
    path("products/<str:product_id>/similar/", SimilarProductsApi.as_view(), name="product-similar"),
]
