from django.urls import path

from recommender.api.images import ProductImageDetailApi, ProductImageListCreateApi
from recommender.api.outfits import CompleteTheLookApi, OutfitScoreApi, ProductCompleteTheLookApi
from recommender.api.views import RecommendationsApi, SimilarProductsApi

urlpatterns: list = [
    path("recommendations/", RecommendationsApi.as_view(), name="recommendations"),
    # <str:...>: a malformed id gets the API's 404 error body instead of Django's HTML page
    path("products/<str:product_id>/similar/", SimilarProductsApi.as_view(), name="product-similar"),
    # uploads are stored by the catalog; the answer shows the garments found in them
    path("products/<str:product_id>/images/", ProductImageListCreateApi.as_view(), name="product-images"),
    path(
        "products/<str:product_id>/images/<str:image_id>/",
        ProductImageDetailApi.as_view(),
        name="product-image-detail",
    ),
    # complete the look and outfit scores (recommender/api/outfits.py, docs/outfits.md)
    path(
        "products/<str:product_id>/complete-the-look/",
        ProductCompleteTheLookApi.as_view(),
        name="product-complete-the-look",
    ),
    path("complete-the-look/", CompleteTheLookApi.as_view(), name="complete-the-look"),
    path("outfits/score/", OutfitScoreApi.as_view(), name="outfit-score"),
]
