"""The seasonal rule form with its preview: the top results for a sample product, without and with the rule.

The catalog's ``SeasonalRuleAdmin`` edits rules; the preview runs the recommend query, so it is
added here, by re-registering the rule admin with the preview (the catalog never imports the
recommender).
"""

from __future__ import annotations

import datetime as dt

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseNotAllowed
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.clickjacking import xframe_options_sameorigin

from catalog.admin.rules import SeasonalRuleAdmin
from catalog.models import Product, SeasonalRule
from catalog.services.rules import seasonal_rule_next_active_day
from recommender.rule_preview import seasonal_rule_preview

PREVIEW_K = 12


class SeasonalRulePreviewAdmin(SeasonalRuleAdmin):
    change_form_template = "admin/catalog/seasonalrule/change_form.html"

    def get_urls(self):
        return [
            path("preview/", self.admin_site.admin_view(self.preview_view), name="catalog_seasonalrule_preview"),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        url = reverse("admin:catalog_seasonalrule_preview")
        context["preview_url"] = f"{url}?rule={obj.pk}" if obj is not None and obj.pk else url
        context["preview_k"] = PREVIEW_K
        context["can_preview"] = self.has_change_permission(request, obj) if obj else self.has_add_permission(request)
        return super().render_change_form(request, context, add, change, form_url, obj)

    @method_decorator(xframe_options_sameorigin)  # shown in an iframe under the rule form
    def preview_view(self, request: HttpRequest):
        """The top results for a sample product with and without the rule as it is in the form."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        rule_id = request.GET.get("rule")
        obj = self.get_object(request, rule_id) if rule_id else None
        allowed = self.has_change_permission(request, obj) if obj is not None else self.has_add_permission(request)
        if not allowed or (rule_id and obj is None):
            raise PermissionDenied
        form = self.get_form(request, obj, change=obj is not None)(request.POST, instance=obj)
        context = {**self.admin_site.each_context(request), "opts": self.opts, "form": form, "k": PREVIEW_K}
        sample = (request.POST.get("_preview_product") or "").strip()
        product = _sample_product(sample)
        if product is None:
            if "\x00" in sample:
                context["problem"] = "A SKU or id cannot contain NUL characters."
            elif sample:
                context["problem"] = f"No product with SKU or id “{sample}”."
            else:
                context["problem"] = "Give the SKU or id of a sample product."
        if form.is_valid() and product is not None:
            rule = form.instance
            on = _parse_date(request.POST.get("_preview_date")) or seasonal_rule_next_active_day(
                rule=rule, after=timezone.localdate()
            )
            context["preview"] = seasonal_rule_preview(rule=rule, product_id=product.pk, on=on, k=PREVIEW_K)
            context["on"] = on
        context["product"] = product
        return TemplateResponse(request, "admin/catalog/seasonalrule/preview.html", context)


def _sample_product(sample: str) -> Product | None:
    """The product whose id or SKU is ``sample``, or None.

    ``str.isdigit`` accepts superscripts and other scripts' digits ("²", "٣") that ``int`` refuses
    or reads differently, so only ASCII digits are an id; PostgreSQL text cannot hold NUL at all.
    """
    if not sample or "\x00" in sample:
        return None
    if sample.isascii() and sample.isdigit():
        product = Product.objects.filter(pk=int(sample)).first()
        if product is not None:
            return product
    return Product.objects.filter(sku=sample).first()


def _parse_date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


admin.site.unregister(SeasonalRule)
admin.site.register(SeasonalRule, SeasonalRulePreviewAdmin)
