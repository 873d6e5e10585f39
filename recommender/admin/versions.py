"""Encoder versions, garments (read-only: written by ingestion and crop correction) and corrections."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from recommender.models import EncoderVersion, Garment, GarmentCorrection


@admin.register(EncoderVersion)
class EncoderVersionAdmin(admin.ModelAdmin):
    list_display = ["name", "dim", "is_active", "garment_count", "created_at", "activated_at"]
    readonly_fields = ["name", "dim", "weights_sha256", "is_active", "card", "created_at", "activated_at"]

    def has_add_permission(self, request):
        # Versions are created by ingestion from the loaded weights, and activated by it once
        # they cover the catalog (an admin toggle could activate a version with no embeddings).
        return False

    @admin.display(description="garments")
    def garment_count(self, version: EncoderVersion):
        return Garment.objects.filter(encoder_version=version.name).count()


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Garment)
class GarmentAdmin(ReadOnlyAdmin):
    list_display = ["id", "product", "image_link", "label", "confidence", "box", "is_whole_image", "encoder_version"]
    list_filter = ["label", "is_whole_image", "encoder_version"]
    search_fields = ["product__sku"]
    list_select_related = ["product"]
    exclude = ["embedding"]

    @admin.display(description="box")
    def box(self, garment: Garment):
        return f"{garment.box_x1}, {garment.box_y1}, {garment.box_x2}, {garment.box_y2}"

    @admin.display(description="image")
    def image_link(self, garment: Garment):
        return format_html(
            '<a href="{}">image {}</a>',
            reverse("admin:catalog_productimage_change", args=[garment.image_id]),
            garment.image_id,
        )


@admin.register(GarmentCorrection)
class GarmentCorrectionAdmin(ReadOnlyAdmin):
    """Corrections are made on the image page (they re-encode the garment); here they are listed."""

    list_display = ["created_at", "image_link", "label", "box_text", "previous", "corrected_by", "encoder_version"]
    list_filter = ["label", "corrected_by"]
    list_select_related = ["corrected_by"]
    search_fields = ["image__product__sku"]

    @admin.display(description="box")
    def box_text(self, correction: GarmentCorrection):
        return ", ".join(str(v) for v in correction.box)

    @admin.display(description="was")
    def previous(self, correction: GarmentCorrection):
        if not correction.previous_box:
            return "added"
        return f"{correction.previous_label} at {', '.join(str(v) for v in correction.previous_box)}"

    @admin.display(description="image")
    def image_link(self, correction: GarmentCorrection):
        return format_html(
            '<a href="{}">image {}</a>',
            reverse("admin:catalog_productimage_change", args=[correction.image_id]),
            correction.image_id,
        )
