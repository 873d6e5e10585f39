"""Products, their variants (stock) and images; categories and brands."""

from __future__ import annotations

import contextlib

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery, Sum
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from catalog.admin.overlay import Box, image_with_boxes
from catalog.admin.roles import is_merchandiser_only
from catalog.errors import ProductNotFound
from catalog.garment_kinds import kind_guess
from catalog.models import Brand, Category, Product, ProductImage, ProductVariant
from catalog.models.products import ProcessingStatus
from catalog.services.images import (
    ImageDuplicate,
    ImageRejected,
    image_validate,
    product_image_create,
    product_image_reprocess,
)
from catalog.services.products import product_delete

# Total stock at or under this is "low" in the stock filter: a size or two left.
LOW_STOCK_THRESHOLD = 5


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["__str__", "slug", "parent", "garment_kind", "effective_garment_kind"]
    list_filter = ["effective_garment_kind"]
    search_fields = ["name", "path"]
    fields = ["name", "slug", "parent", "garment_kind", "effective_garment_kind"]
    readonly_fields = ["effective_garment_kind"]
    prepopulated_fields = {"slug": ["name"]}
    list_select_related = ["parent"]

    def save_model(self, request, obj: Category, form, change: bool) -> None:
        # A new category left without a kind gets the one its name suggests, as on import and in
        # the API; "" (inherit) stays when the list knows nothing of the name.
        if not change and not obj.garment_kind:
            obj.garment_kind = kind_guess(obj.name) or ""
        super().save_model(request, obj, form, change)


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


class CategoryTreeFilter(admin.SimpleListFilter):
    """A category and everything under it (a prefix match on the tree path)."""

    title = "category"
    parameter_name = "category_path"

    def lookups(self, request, model_admin):
        return [(c.path, "\u2003" * c.path.count("/") + c.name) for c in Category.objects.order_by("path")]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        if "\x00" in self.value():
            # No path holds NUL, and PostgreSQL refuses it in a query: the admin's "bad filter" answer.
            raise IncorrectLookupParameters("A category path cannot contain NUL characters.")
        return queryset.filter(Q(category__path=self.value()) | Q(category__path__startswith=self.value() + "/"))


class StockFilter(admin.SimpleListFilter):
    title = "stock"
    parameter_name = "stock"

    def lookups(self, request, model_admin):
        return [
            ("in", "In stock"),
            ("low", f"Low (1–{LOW_STOCK_THRESHOLD} in total)"),
            ("out", "Out of stock"),
        ]

    def queryset(self, request, queryset):
        in_stock = Exists(ProductVariant.objects.filter(product=OuterRef("pk"), stock__gt=0))
        if self.value() == "in":
            return queryset.filter(in_stock)
        if self.value() == "out":
            return queryset.filter(~in_stock)
        if self.value() == "low":
            return queryset.annotate(_stock=Sum("variants__stock")).filter(
                _stock__gte=1, _stock__lte=LOW_STOCK_THRESHOLD
            )
        return queryset


class ProcessingFilter(admin.SimpleListFilter):
    title = "image processing"
    parameter_name = "processing"

    def lookups(self, request, model_admin):
        return [
            ("failed", "An image failed"),
            ("pending", "Images waiting or processing"),
            ("ready", "All images ready"),
            ("none", "No images"),
        ]

    def queryset(self, request, queryset):
        def having(*statuses):
            return Exists(ProductImage.objects.filter(product=OuterRef("pk"), status__in=statuses))

        any_image = Exists(ProductImage.objects.filter(product=OuterRef("pk")))
        match self.value():
            case "failed":
                return queryset.filter(having(ProcessingStatus.FAILED))
            case "pending":
                return queryset.filter(having(ProcessingStatus.PENDING, ProcessingStatus.PROCESSING))
            case "ready":
                not_ready = [s for s in ProcessingStatus.values if s != ProcessingStatus.READY]
                return queryset.filter(any_image).exclude(having(*not_ready))
            case "none":
                return queryset.filter(~any_image)
        return queryset


class ProductVariantInline(admin.TabularInline):
    model = ProductVariant
    extra = 0
    fields = ["sku", "size", "colour", "stock"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "stock"] if is_merchandiser_only(request.user) else fields


class ProductImageInlineForm(forms.ModelForm):
    """Validates an uploaded file the way the ingestion service will (decodable, size limits)."""

    class Meta:
        model = ProductImage
        fields = ["file", "is_primary"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # A stored file is never replaced in place (its garments and checksum would lie):
            # staff upload a new image and delete the old one.
            self.fields["file"].disabled = True

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if upload and "file" in self.changed_data:
            try:
                self.validated_image = image_validate(upload)
            except ImageRejected as rejected:
                raise ValidationError(rejected.message, code=rejected.code) from None
        return upload


class ProductImageInline(admin.TabularInline):
    """The product's images; the app that detects garments overrides ``boxes`` to draw them."""

    model = ProductImage
    form = ProductImageInlineForm
    extra = 0
    fields = ["preview", "file", "is_primary", "status", "error"]
    readonly_fields = ["preview", "status", "error"]

    def boxes(self, image: ProductImage) -> list[Box]:
        return []

    @admin.display(description="garments")
    def preview(self, image: ProductImage):
        if not image.pk:
            return "—"
        return image_with_boxes(image, self.boxes(image), width=160)


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = [
        "thumbnail",
        "sku",
        "title",
        "category",
        "brand",
        "price",
        "stock_total",
        "images_status",
        "is_active",
    ]
    list_display_links = ["thumbnail", "sku"]
    list_filter = [CategoryTreeFilter, "brand", "seasons", StockFilter, ProcessingFilter, "department", "is_active"]
    search_fields = ["sku", "title", "variants__sku"]
    list_select_related = ["category", "brand"]
    inlines = [ProductVariantInline, ProductImageInline]
    filter_horizontal = ["seasons"]
    autocomplete_fields = ["category", "brand"]
    readonly_fields = ["created_at", "updated_at"]
    list_per_page = 50
    actions = ["reprocess_images"]

    @admin.action(description="Reprocess the images of selected products", permissions=["change"])
    def reprocess_images(self, request: HttpRequest, queryset) -> None:
        images = ProductImage.objects.filter(product__in=queryset)
        for image in images:
            product_image_reprocess(image=image)
        self.message_user(request, f"{len(images)} image(s) queued for processing.", messages.SUCCESS)

    # Deletions go through the service, which locks the product first so that an image upload in
    # flight finishes (and is deleted with it) instead of failing the deletion at commit.
    def delete_model(self, request: HttpRequest, obj: Product) -> None:
        # Deleted meanwhile by someone else: the end state is the one asked for.
        with contextlib.suppress(ProductNotFound):
            product_delete(product_id=obj.pk)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        for product_id in queryset.values_list("pk", flat=True):
            self.delete_model(request, Product(pk=product_id))

    def get_queryset(self, request: HttpRequest) -> QuerySet[Product]:
        primary_file = (
            ProductImage.objects.filter(product=OuterRef("pk")).order_by("-is_primary", "id").values("file")[:1]
        )
        stock = ProductVariant.objects.filter(product=OuterRef("pk")).values("product").annotate(s=Sum("stock"))
        failed = ProductImage.objects.filter(product=OuterRef("pk"), status=ProcessingStatus.FAILED)
        waiting = ProductImage.objects.filter(
            product=OuterRef("pk"), status__in=[ProcessingStatus.PENDING, ProcessingStatus.PROCESSING]
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                _primary_file=Subquery(primary_file),
                _stock_total=Subquery(stock.values("s")),
                _has_failed=Exists(failed),
                _has_waiting=Exists(waiting),
            )
        )

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "price", "currency"] if is_merchandiser_only(request.user) else fields

    @admin.display(description="")
    def thumbnail(self, product: Product):
        name = getattr(product, "_primary_file", None)
        if not name:
            return mark_safe('<span style="display:inline-block;width:48px;color:#999">no image</span>')
        return format_html(
            '<img src="{}" alt="" loading="lazy" style="height:48px;width:48px;object-fit:cover">',
            default_storage.url(name),
        )

    @admin.display(description="stock", ordering="_stock_total")
    def stock_total(self, product: Product):
        return getattr(product, "_stock_total", None) or 0

    @admin.display(description="images")
    def images_status(self, product: Product):
        if getattr(product, "_has_failed", False):
            return mark_safe('<span style="color:#ba2121">failed</span>')
        if getattr(product, "_has_waiting", False):
            return "processing"
        return "ready" if getattr(product, "_primary_file", None) else "—"

    def save_formset(self, request, form, formset, change):
        if formset.model is not ProductImage:
            return super().save_formset(request, form, formset, change)
        # New uploads go through the ingestion service (checksum, duplicates, processing
        # enqueued on commit); edits of existing rows (primary flag) and deletions are plain.
        instances = formset.save(commit=False)
        for image in formset.deleted_objects:
            image.delete()
        for image_form in formset.forms:
            image = image_form.instance
            if image not in instances:
                continue
            if image.pk is None:
                validated = getattr(image_form, "validated_image", None) or image_validate(image.file)
                try:
                    product_image_create(product=form.instance, file=validated, is_primary=image.is_primary)
                except ImageDuplicate as duplicate:
                    messages.warning(request, f"Skipped an upload: {duplicate}")
            else:
                if image.is_primary:
                    ProductImage.objects.filter(product=image.product_id, is_primary=True).exclude(pk=image.pk).update(
                        is_primary=False
                    )
                image.save()


@admin.register(ProductVariant)
class ProductVariantAdmin(admin.ModelAdmin):
    list_display = ["sku", "product", "size", "colour", "stock"]
    list_filter = ["size", "colour"]
    search_fields = ["sku", "product__sku", "product__title"]
    list_select_related = ["product"]
    autocomplete_fields = ["product"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "stock"] if is_merchandiser_only(request.user) else fields
