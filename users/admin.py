from django.contrib import admin

from users.models import Interaction, UserPreference


@admin.register(UserPreference)
class UserPreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "price_min", "price_max", "taste_weight", "updated_at"]
    search_fields = ["user__username"]
    exclude = ["taste_vector", "dislike_vector"]
    filter_horizontal = ["categories", "brands"]


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):
    list_display = ["user", "product", "kind", "created_at"]
    list_filter = ["kind"]
    search_fields = ["user__username", "product__sku"]
    list_select_related = ["user", "product"]
