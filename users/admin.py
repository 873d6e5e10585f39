"""Users with their preferences and recent interactions; preferences and interactions on their own.

Preferences and interactions are written by shoppers through the API: admin shows them
read-only to everyone but superusers (merchandisers and catalog staff have view permission only).
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import User
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from users.models import Interaction, UserPreference

RECENT_INTERACTIONS = 20


def preference_summary(preference: UserPreference | None):
    if preference is None:
        return "No preferences saved."
    price = (
        f"{preference.price_min or '…'} – {preference.price_max or '…'}"
        if preference.price_min is not None or preference.price_max is not None
        else "any"
    )
    rows = [
        ("categories", ", ".join(str(c) for c in preference.categories.all()) or "any"),
        ("brands", ", ".join(b.name for b in preference.brands.all()) or "any"),
        ("colours", ", ".join(preference.colours) or "any"),
        ("sizes", ", ".join(preference.sizes) or "any"),
        ("price", price),
        (
            "taste",
            f"learnt from interactions of weight {preference.taste_weight:g}"
            if preference.taste_weight
            else "none yet",
        ),
        ("dislikes", f"weight {preference.dislike_weight:g}" if preference.dislike_weight else "none yet"),
    ]
    return format_html("<table>{}</table>", format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows))


@admin.register(UserPreference)
class UserPreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "price_min", "price_max", "taste_weight", "dislike_weight", "updated_at"]
    search_fields = ["user__username", "user__email"]
    list_select_related = ["user"]
    exclude = ["taste_vector", "dislike_vector"]
    filter_horizontal = ["categories", "brands"]
    readonly_fields = ["taste_weight", "dislike_weight", "encoder_version", "updated_at"]


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):
    list_display = ["created_at", "user", "kind", "product"]
    list_filter = ["kind", "created_at"]
    search_fields = ["user__username", "product__sku"]
    list_select_related = ["user", "product"]
    date_hierarchy = "created_at"
    readonly_fields = ["user", "product", "kind", "created_at"]

    def has_add_permission(self, request):
        # Interactions are facts about what shoppers did; admin never invents them.
        return False

    def has_change_permission(self, request, obj=None):
        return False


admin.site.unregister(User)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = [*DjangoUserAdmin.list_display, "interaction_count"]
    readonly_fields = ["preferences", "recent_interactions"]
    fieldsets = [
        *DjangoUserAdmin.fieldsets,
        ("Shopping", {"fields": ["preferences", "recent_interactions"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_interactions=Count("interactions"))

    @admin.display(description="interactions", ordering="_interactions")
    def interaction_count(self, user: User):
        return getattr(user, "_interactions", None)

    @admin.display(description="preferences")
    def preferences(self, user: User):
        preference = (
            UserPreference.objects.filter(user=user).prefetch_related("categories", "brands").first()
            if user.pk
            else None
        )
        return preference_summary(preference)

    @admin.display(description=f"recent interactions (last {RECENT_INTERACTIONS})")
    def recent_interactions(self, user: User):
        if not user.pk:
            return "—"
        recent = Interaction.objects.filter(user=user).select_related("product")[:RECENT_INTERACTIONS]
        if not recent:
            return "None yet."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((f"{i.created_at:%Y-%m-%d %H:%M}", i.get_kind_display(), i.product) for i in recent),
        )
        return format_html(
            "<table><tr><th>when</th><th>what</th><th>product</th></tr>{}</table>"
            '<a href="{}?user__id__exact={}">all of them</a>',
            rows,
            reverse("admin:users_interaction_changelist"),
            user.pk,
        )
