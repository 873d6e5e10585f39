from django.contrib import admin

from catalog.models import (
    Brand,
    Category,
    Product,
    ProductImage,
    ProductVariant,
    Season,
    SeasonalRule,
    SeasonalRuleChange,
)


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["__str__", "slug", "parent"]
    search_fields = ["name", "path"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


class ProductVariantInline(admin.TabularInline):
    model = ProductVariant
    extra = 0


class ProductImageInline(admin.TabularInline):
    model = ProductImage
    extra = 0
    fields = ["file", "is_primary", "status", "error"]
    readonly_fields = ["status", "error"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "title", "category", "brand", "price", "currency", "is_active"]
    list_filter = ["is_active", "department", "category", "brand", "seasons"]
    search_fields = ["sku", "title"]
    list_select_related = ["category", "brand"]
    inlines = [ProductVariantInline, ProductImageInline]
    filter_horizontal = ["seasons"]


@admin.register(ProductVariant)
class ProductVariantAdmin(admin.ModelAdmin):
    list_display = ["sku", "product", "size", "colour", "stock"]
    search_fields = ["sku", "product__sku"]
    list_select_related = ["product"]


@admin.register(ProductImage)
class ProductImageAdmin(admin.ModelAdmin):
    list_display = ["id", "product", "is_primary", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["product__sku", "checksum"]
    list_select_related = ["product"]
    readonly_fields = ["checksum", "width", "height", "status", "error", "encoder_version", "attempts", "processed_at"]


@admin.register(Season)
class SeasonAdmin(admin.ModelAdmin):
    list_display = ["name", "hemisphere", "start_month", "start_day", "end_month", "end_day"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(SeasonalRule)
class SeasonalRuleAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "season",
        "starts_on",
        "ends_on",
        "weight",
        "priority",
        "is_active",
        "updated_by",
        "updated_at",
    ]
    list_filter = ["is_active", "season"]
    search_fields = ["name"]
    readonly_fields = ["updated_by", "created_at", "updated_at"]


@admin.register(SeasonalRuleChange)
class SeasonalRuleChangeAdmin(admin.ModelAdmin):
    list_display = ["rule_name", "action", "changed_by", "changed_at"]
    readonly_fields = ["rule", "rule_name", "action", "changed_by", "changed_at", "changes"]
