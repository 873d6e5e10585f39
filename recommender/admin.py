from django.contrib import admin

from recommender.models import EncoderVersion, Garment


@admin.register(EncoderVersion)
class EncoderVersionAdmin(admin.ModelAdmin):
    list_display = ["name", "dim", "is_active", "created_at", "activated_at"]
    readonly_fields = ["weights_sha256", "card", "created_at", "activated_at"]


@admin.register(Garment)
class GarmentAdmin(admin.ModelAdmin):
    list_display = ["id", "product", "image", "label", "confidence", "is_whole_image", "encoder_version"]
    list_filter = ["label", "encoder_version", "is_whole_image"]
    search_fields = ["product__sku"]
    list_select_related = ["product"]
    exclude = ["embedding"]
    readonly_fields = ["image", "product", "encoder_version", "label", "confidence", "is_whole_image"]
