from django.urls import path

from catalog.api import products

# Product ids are matched as <str:...> and parsed by the views, so "abc" or an id beyond bigint
# gets the API's 404 error body instead of Django's HTML page or a database overflow.
urlpatterns: list = [
    path("products/", products.ProductListCreateApi.as_view(), name="products"),
    path("products/<str:product_id>/", products.ProductDetailApi.as_view(), name="product-detail"),
    path("products/<str:product_id>/variants/", products.VariantCreateApi.as_view(), name="product-variants"),
    path(
        "products/<str:product_id>/variants/<str:variant_id>/",
        products.VariantDetailApi.as_view(),
        name="product-variant-detail",
    ),
    path("categories/", products.CategoryListApi.as_view(), name="categories"),
    path("categories/<str:category_id>/", products.CategoryDetailApi.as_view(), name="category-detail"),
    path("seasons/", products.SeasonListApi.as_view(), name="seasons"),
]
