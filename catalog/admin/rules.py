"""Seasons and seasonal rules (what merchandisers edit) and the rule history.

The rule preview runs the recommend query, so the app that owns it adds it to this admin."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from catalog.models import Season, SeasonalRule, SeasonalRuleChange
from catalog.models.products import Colour
from catalog.services.rules import (
    RULE_FIELDS,
    seasonal_rule_create,
    seasonal_rule_delete,
    seasonal_rule_update,
)


def active_rule_ids(on: dt.date) -> set[int]:
    # Rules are few (tens to hundreds); deciding in Python reuses SeasonalRule.is_active_on,
    # the same rule the recommend SQL implements.
    return {rule.pk for rule in SeasonalRule.objects.select_related("season") if rule.is_active_on(on)}


@admin.register(Season)
class SeasonAdmin(admin.ModelAdmin):
    list_display = ["name", "hemisphere", "window", "active_today", "rule_count"]
    list_filter = ["hemisphere"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_rules=Count("rules"))

    @admin.display(description="window")
    def window(self, season: Season):
        return f"{season.start_day:02d}/{season.start_month:02d} – {season.end_day:02d}/{season.end_month:02d}"

    @admin.display(description="active today", boolean=True)
    def active_today(self, season: Season):
        return season.contains(timezone.localdate())

    @admin.display(description="rules", ordering="_rules")
    def rule_count(self, season: Season):
        return season._rules


class ActiveTodayFilter(admin.SimpleListFilter):
    title = "active today"
    parameter_name = "active_today"

    def lookups(self, request, model_admin):
        return [("yes", "Active today"), ("no", "Not active today")]

    def queryset(self, request, queryset):
        if self.value() not in {"yes", "no"}:
            return queryset
        ids = active_rule_ids(timezone.localdate())
        return queryset.filter(pk__in=ids) if self.value() == "yes" else queryset.exclude(pk__in=ids)


class SeasonalRuleChangeInline(admin.TabularInline):
    """The rule's history on its own page: who changed what, when."""

    model = SeasonalRuleChange
    fk_name = "rule"
    extra = 0
    can_delete = False
    fields = ["changed_at", "changed_by", "action", "what_changed"]
    readonly_fields = fields
    verbose_name = "change"
    verbose_name_plural = "history (every change to this rule)"
    ordering = ["-changed_at", "-id"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("changed_by")

    @admin.display(description="what changed (old → new)")
    def what_changed(self, change: SeasonalRuleChange):
        return changes_html(change)


def changes_html(change: SeasonalRuleChange):
    """The fields of an audit record in form order (jsonb keeps its own key order), old → new.

    Fields empty before and after (an unused target of a new rule) are left out.
    """

    def show(value):
        return "—" if value in (None, "") else value

    def label(field: str) -> str:
        try:
            return SeasonalRule._meta.get_field(field).verbose_name
        except FieldDoesNotExist:
            return field

    order = {field: n for n, field in enumerate(RULE_FIELDS)}
    items = sorted(change.changes.items(), key=lambda item: order.get(item[0], len(order)))
    return format_html(
        "<ul style='margin:0;padding-left:1em'>{}</ul>",
        format_html_join(
            "",
            "<li><b>{}</b>: {} → {}</li>",
            (
                (label(field), show(values.get("old")), show(values.get("new")))
                for field, values in items
                if show(values.get("old")) != show(values.get("new"))
            ),
        ),
    )


class SeasonalRuleForm(forms.ModelForm):
    target_colour = forms.ChoiceField(choices=[("", "any colour"), *Colour.choices], required=False)

    class Meta:
        model = SeasonalRule
        fields = list(RULE_FIELDS)
        help_texts = {
            "season": "A recurring season, or leave empty and give start and end dates.",
            "target_category": "Includes its sub-categories. A product must match every target you set.",
        }


@admin.register(SeasonalRule)
class SeasonalRuleAdmin(admin.ModelAdmin):
    form = SeasonalRuleForm
    list_display = [
        "name",
        "active_today",
        "window",
        "targets",
        "weight",
        "priority",
        "is_active",
        "updated_by",
        "updated_at",
    ]
    list_filter = [ActiveTodayFilter, "is_active", "season"]
    search_fields = ["name", "target_tag"]
    list_select_related = ["season", "target_category", "target_brand", "updated_by"]
    autocomplete_fields = ["target_category", "target_brand"]
    readonly_fields = ["updated_by", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "is_active", "weight", "priority"]}),
        ("When", {"fields": ["season", "starts_on", "ends_on"]}),
        ("Which products", {"fields": ["target_category", "target_brand", "target_colour", "target_tag"]}),
        ("Last change", {"fields": ["updated_by", "created_at", "updated_at"], "classes": ["collapse"]}),
    ]
    inlines = [SeasonalRuleChangeInline]

    def changelist_view(self, request, extra_context=None):
        self._active_ids = active_rule_ids(timezone.localdate())
        return super().changelist_view(request, extra_context)

    @admin.display(description="active today", boolean=True)
    def active_today(self, rule: SeasonalRule):
        ids = getattr(self, "_active_ids", None)
        return rule.pk in ids if ids is not None else rule.is_active_on(timezone.localdate())

    @admin.display(description="when")
    def window(self, rule: SeasonalRule):
        if rule.season_id:
            return str(rule.season)
        return f"{rule.starts_on:%Y-%m-%d} → {rule.ends_on:%Y-%m-%d}"

    @admin.display(description="products")
    def targets(self, rule: SeasonalRule):
        parts = [
            str(rule.target_category) if rule.target_category_id else "",
            f"brand {rule.target_brand}" if rule.target_brand_id else "",
            f"colour {rule.target_colour}" if rule.target_colour else "",
            f"tag “{rule.target_tag}”" if rule.target_tag else "",
        ]
        return ", ".join(p for p in parts if p)

    # --- writes go through the services, which record the change -------------------------

    def save_model(self, request, obj, form, change):
        data = {field: form.cleaned_data[field] for field in RULE_FIELDS if field in form.cleaned_data}
        if change:
            saved = seasonal_rule_update(rule_id=obj.pk, user=request.user, data=data)
        else:
            saved = seasonal_rule_create(user=request.user, data=data)
        # Admin goes on with ``obj`` (messages, log entry, redirect): give it the saved row's state.
        obj.pk = saved.pk
        obj._state.adding = False
        obj.updated_by_id, obj.created_at, obj.updated_at = saved.updated_by_id, saved.created_at, saved.updated_at

    def delete_model(self, request, obj):
        seasonal_rule_delete(rule_id=obj.pk, user=request.user)

    def delete_queryset(self, request, queryset):
        for rule_id in queryset.values_list("pk", flat=True):
            seasonal_rule_delete(rule_id=rule_id, user=request.user)


@admin.register(SeasonalRuleChange)
class SeasonalRuleChangeAdmin(admin.ModelAdmin):
    """The history of every rule, including deleted ones. Nobody edits history."""

    list_display = ["changed_at", "rule_link", "action", "changed_by", "what_changed"]
    list_filter = ["action", "changed_by"]
    search_fields = ["rule_name"]
    list_select_related = ["rule", "changed_by"]
    date_hierarchy = "changed_at"
    fields = ["rule", "rule_name", "action", "changed_by", "changed_at", "what_changed"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="rule")
    def rule_link(self, change: SeasonalRuleChange):
        if change.rule_id is None:
            return f"{change.rule_name} (deleted)"
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:catalog_seasonalrule_change", args=[change.rule_id]), change.rule_name
        )

    @admin.display(description="what changed (old → new)")
    def what_changed(self, change: SeasonalRuleChange):
        return changes_html(change)
