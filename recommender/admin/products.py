"""The product page with what the recommender knows: garment boxes on its images, the products
that look like it (the recommend API's own query, with the score breakdown) and the look it
completes (the complete-the-look API's own query, with compatibilities).

Added by re-registering the catalog's ``ProductAdmin`` with these parts (the catalog never
imports the recommender).
"""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from catalog.admin.overlay import Box
from catalog.admin.products import ProductAdmin, ProductImageInline, ProductVariantInline
from catalog.models import Product, ProductImage
from recommender.admin.boxes import garment_boxes
from recommender.admin.look import look_panel_context
from recommender.admin.similar import similar_panel_context


class ProductImageGarmentsInline(ProductImageInline):
    fields = [*ProductImageInline.fields, "details"]
    readonly_fields = [*ProductImageInline.readonly_fields, "details"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("garments")

    def boxes(self, image: ProductImage) -> list[Box]:
        return garment_boxes(image)

    @admin.display(description="")
    def details(self, image: ProductImage):
        if not image.pk:
            return ""
        return format_html(
            '<a href="{}">Open: boxes and crop correction</a>',
            reverse("admin:catalog_productimage_change", args=[image.pk]),
        )


class ProductWithGarmentsAdmin(ProductAdmin):
    inlines = [ProductVariantInline, ProductImageGarmentsInline]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            **similar_panel_context(request, object_id),
            **look_panel_context(request, object_id),
        }
        return super().change_view(request, object_id, form_url, extra_context)


admin.site.unregister(Product)
admin.site.register(Product, ProductWithGarmentsAdmin)
